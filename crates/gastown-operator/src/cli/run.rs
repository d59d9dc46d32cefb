//! `gastown-operator run`: the controllers, against whatever cluster
//! KUBECONFIG or the in-cluster configuration names.
//!
//! Settings come from flags, then environment variables, then defaults (seed
//! 001's configuration table, plus the namespaces to watch, the metrics
//! address and leader election). One deliberate difference from the seed:
//! `BD_DAEMON_HOST` has no default, because any value makes every town use
//! that daemon instead of its own — it is meant for an operator running
//! outside the cluster.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{ArgAction, Args, ValueEnum};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio_util::sync::CancellationToken;

use gastown_operator::cache::Scope;
use gastown_operator::context::Settings;
use gastown_operator::runtime::{self, LeaderElection, RuntimeConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The operator's own namespace; the Lease lives here unless --lease-namespace says otherwise.
    #[arg(long, env = "NAMESPACE", default_value = "gastown")]
    pub namespace: String,

    /// Namespaces whose towns to manage, comma-separated; empty manages every namespace.
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// Kubeconfig file(s), `:`-separated; the in-cluster configuration when unset.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<String>,

    /// Log level or tracing filter (`info`, `debug`, `gastown_operator=debug,kube=info`).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Use this bd daemon for every town instead of each town's own (an operator
    /// running outside the cluster): a host (then HTTP on --daemon-port, the daemon's
    /// only listener since February 2026) or a URL (`http://host:9080`, or `tcp://host:9876`
    /// for an older daemon).
    #[arg(long, env = "BD_DAEMON_HOST")]
    pub daemon_host: Option<String>,

    /// HTTP port of the --daemon-host daemon, when it is a bare host.
    #[arg(long, env = "BD_DAEMON_PORT", default_value_t = 9080)]
    pub daemon_port: u16,

    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,

    /// Run the controllers only while holding the Lease. Default: on in a cluster (no
    /// kubeconfig), off when run from a kubeconfig — a developer's machine, where the Lease's
    /// namespace may not exist; `--leader-election=true` asks for it there too.
    #[arg(long, env = "LEADER_ELECTION", action = ArgAction::Set)]
    pub leader_election: Option<bool>,

    #[arg(long, env = "LEASE_NAME", default_value = "gastown-operator")]
    pub lease_name: String,

    /// Namespace of the Lease (default: --namespace).
    #[arg(long, env = "LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// This replica's identity in the Lease (default: the pod name, else random).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Reconciles of one kind running at once.
    #[arg(long, env = "RECONCILE_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,
}

impl RunArgs {
    /// The daemon URL every town uses instead of its own, if any.
    pub fn daemon_override(&self) -> Option<String> {
        let host = self.daemon_host.as_deref()?.trim();
        if host.is_empty() {
            None
        } else if host.contains("://") {
            Some(host.to_string())
        } else {
            Some(format!("http://{host}:{}", self.daemon_port))
        }
    }

    /// Whether to elect a leader: as asked, else only in a cluster.
    pub fn leader_election(&self) -> bool {
        self.leader_election.unwrap_or(self.kubeconfig.is_none())
    }

    /// One scope per listed namespace, or every namespace.
    pub fn scopes(&self) -> Vec<Scope> {
        let mut namespaces: Vec<&str> = self
            .namespaces
            .iter()
            .map(|namespace| namespace.trim())
            .filter(|namespace| !namespace.is_empty())
            .collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        if namespaces.is_empty() {
            vec![Scope::All]
        } else {
            namespaces
                .into_iter()
                .map(|namespace| Scope::Namespace(namespace.to_string()))
                .collect()
        }
    }

    pub fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            scopes: self.scopes(),
            settings: Settings {
                daemon_override: self.daemon_override(),
                ..Settings::default()
            },
            metrics_addr: Some(self.metrics_addr),
            leader_election: self.leader_election().then(|| LeaderElection {
                identity: self.identity.clone(),
                ..LeaderElection::new(
                    &self.lease_name,
                    self.lease_namespace.as_deref().unwrap_or(&self.namespace),
                )
            }),
            concurrency: self.concurrency.max(1),
        }
    }

    /// Installs the global tracing subscriber with this command's level and
    /// format. Fails when one is installed already.
    pub fn init_logging(&self) -> anyhow::Result<()> {
        let filter = tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .with_context(|| format!("invalid --log-level {:?}", self.log_level))?;
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        let installed = match self.log_format {
            LogFormat::Text => builder.try_init(),
            LogFormat::Json => builder.json().try_init(),
        };
        installed.map_err(|error| anyhow::anyhow!("cannot install the logger: {error}"))
    }
}

/// A client for the cluster `kubeconfig` names, else the in-cluster one.
pub async fn kube_client(kubeconfig: Option<&str>) -> anyhow::Result<Client> {
    let paths: Vec<PathBuf> = kubeconfig
        .unwrap_or_default()
        .split(':')
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .collect();
    let config = match paths.split_first() {
        None => Config::incluster().context("no KUBECONFIG and not running in a cluster")?,
        Some((first, rest)) => {
            let mut merged = Kubeconfig::read_from(first)
                .with_context(|| format!("cannot read kubeconfig {}", first.display()))?;
            for path in rest {
                let next = Kubeconfig::read_from(path)
                    .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
                merged = merged.merge(next)?;
            }
            Config::from_custom_kubeconfig(merged, &KubeConfigOptions::default())
                .await
                .context("cannot use the kubeconfig")?
        }
    };
    Client::try_from(config).context("cannot build a Kubernetes client")
}

/// Cancels the returned token on the first SIGTERM or SIGINT.
pub fn cancel_on_signal() -> anyhow::Result<CancellationToken> {
    let token = CancellationToken::new();
    let cancel = token.clone();
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        #[cfg(unix)]
        let signal = tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        #[cfg(not(unix))]
        let signal = {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        };
        tracing::info!(signal, "shutting down: letting running reconciles finish");
        cancel.cancel();
    });
    Ok(token)
}

pub async fn run(args: &RunArgs) -> anyhow::Result<()> {
    if let Err(error) = args.init_logging() {
        // The binary may have installed a default logger already.
        tracing::debug!(%error, "keeping the existing logger");
    }
    let client = kube_client(args.kubeconfig.as_deref()).await?;
    let config = args.runtime_config();
    tracing::info!(
        scopes = ?config.scopes,
        daemon_override = config.settings.daemon_override.as_deref().unwrap_or("none"),
        leader_election = config.leader_election.is_some(),
        "starting the operator"
    );
    let shutdown = cancel_on_signal()?;
    runtime::run(client, config, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(flags: &[&str]) -> RunArgs {
        let argv = std::iter::once("run").chain(flags.iter().copied());
        Wrapper::try_parse_from(argv).expect("parses").args
    }

    #[test]
    fn flags_build_the_runtime_config() {
        let args = parse(&[
            "--namespaces",
            "b,a,,a",
            "--daemon-host",
            "bd.example",
            "--daemon-port",
            "7000",
            "--lease-name",
            "op",
            "--namespace",
            "ops",
            "--metrics-addr",
            "127.0.0.1:9090",
        ]);
        let config = args.runtime_config();
        assert_eq!(
            config.scopes,
            vec![Scope::Namespace("a".into()), Scope::Namespace("b".into())]
        );
        assert_eq!(
            config.settings.daemon_override.as_deref(),
            Some("http://bd.example:7000")
        );
        let election = config.leader_election.expect("on by default");
        assert_eq!(
            (
                election.lease_name.as_str(),
                election.lease_namespace.as_str()
            ),
            ("op", "ops")
        );
        assert_eq!(config.metrics_addr, Some("127.0.0.1:9090".parse().unwrap()));
    }

    #[test]
    fn defaults_watch_everything_with_each_towns_own_daemon() {
        let args = parse(&["--leader-election=false"]);
        let config = args.runtime_config();
        assert_eq!(config.scopes, vec![Scope::All]);
        assert_eq!(config.settings.daemon_override, None);
        assert!(config.leader_election.is_none());
    }

    #[test]
    fn leader_election_is_on_in_a_cluster_and_off_from_a_kubeconfig_unless_asked() {
        // In a cluster there is no kubeconfig (and the chart says it anyway).
        assert!(parse(&[]).leader_election());
        let local = ["--kubeconfig", "/tmp/kubeconfig"];
        assert!(!parse(&local).leader_election());
        assert!(parse(&[&local[..], &["--leader-election", "true"]].concat()).leader_election());
        assert!(!parse(&["--leader-election=false"]).leader_election());
    }

    #[test]
    fn a_daemon_url_is_used_as_given() {
        let args = parse(&["--daemon-host", "http://127.0.0.1:9080"]);
        assert_eq!(
            args.daemon_override().as_deref(),
            Some("http://127.0.0.1:9080")
        );
        assert_eq!(parse(&["--daemon-host", " "]).daemon_override(), None);
    }
}

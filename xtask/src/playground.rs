//! `cargo xtask playground`: a whole Gas Town on a laptop, no cluster needed.
//!
//! The embedded API server (with workload simulation, so pods run and
//! deployments become ready), the test bd daemon seeded with a small town's
//! beads, the CRDs, the minimal example town (with the seeded rig), and the
//! operator in-process. It prints the kubeconfig path and a status table that
//! refreshes until Ctrl-C, so `kubectl --kubeconfig … get gastown` shows the
//! town Running with counts that come from beads.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use beads_testd::{AgentStyle, Personality, TestDaemon, TestDaemonConfig, TownShape, seed_town};
use embedded_apiserver::{Config as ServerConfig, EmbeddedApiServer};
use gastown_api::{AgentPool, GasTown, Phase, Rig};
use gastown_operator::context::Settings;
use gastown_operator::runtime::{Runtime, RuntimeConfig};
use gastown_operator::town_view;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams};
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

/// The rigs seeded in beads and declared in the example town.
const RIGS: [&str; 1] = ["gastown"];
/// How long `--once` waits for the town to be Running.
const ONCE_TIMEOUT: Duration = Duration::from_secs(90);
const REFRESH: Duration = Duration::from_secs(3);
const FIELD_MANAGER: &str = "xtask-playground";

/// How long the playground runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunFor {
    /// Until Ctrl-C.
    UntilInterrupted,
    /// Until the town is Running: print the table once and stop (a smoke test).
    Once,
    /// For this long, then stop.
    For(Duration),
}

/// Which beads server the playground's test server plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BeadsServer {
    /// The bd daemon (its RPC).
    Daemon,
    /// `bd serve`, beads' HTTP API v0.
    Serve,
}

pub struct Options {
    pub kubeconfig: Option<PathBuf>,
    pub port: Option<u16>,
    pub run: RunFor,
    pub beads: BeadsServer,
}

pub fn run(options: Options) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(playground(options))
}

async fn playground(options: Options) -> anyhow::Result<()> {
    // The table goes to stdout; the operator only speaks up when something is wrong.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .try_init();

    let server = EmbeddedApiServer::start(ServerConfig {
        simulate_workloads: true,
        // The example towns' node selectors (examples/gastown-full.yaml).
        simulated_node_labels: [("node-pool", "agents"), ("node-type", "agent-burst")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        port: options.port,
        ..ServerConfig::default()
    })
    .await?;
    let kubeconfig = options
        .kubeconfig
        .unwrap_or_else(|| crate::repo_root().join("target/playground/kubeconfig"));
    if let Some(dir) = kubeconfig.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    server
        .write_kubeconfig(&kubeconfig)
        .with_context(|| format!("cannot write the kubeconfig to {}", kubeconfig.display()))?;

    let (personality, style, server_name) = match options.beads {
        BeadsServer::Daemon => (Personality::Daemon, AgentStyle::Columns, "bd daemon"),
        BeadsServer::Serve => (Personality::Serve, AgentStyle::GasTownToday, "bd serve"),
    };
    let testd = TestDaemon::start(TestDaemonConfig {
        personality,
        ..TestDaemonConfig::default()
    })
    .await?;
    seed_town(
        testd.store(),
        &RIGS,
        &TownShape {
            style,
            ..TownShape::default()
        },
    );
    if personality == Personality::Serve {
        testd.store().mark_agents_for_kubernetes();
    }

    let client = server.client()?;
    install(&client, testd.token()).await?;
    let mut town = example_town(&crate::repo_root().join("examples/gastown-minimal.yaml"))?;
    if personality == Personality::Serve {
        town.spec.daemon.protocol = Some(gastown_api::gastown::BeadsProtocol::Serve);
    }
    let namespace = town.namespace().unwrap_or_default();
    apply(
        &Api::<GasTown>::namespaced(client.clone(), &namespace),
        &town,
    )
    .await?;

    let operator = Runtime::new(RuntimeConfig {
        settings: Settings {
            daemon_override: Some(testd.http_url()),
            ..Settings::default()
        },
        ..RuntimeConfig::default()
    });
    let stop = CancellationToken::new();
    let operator_task = tokio::spawn(operator.run(client.clone(), stop.clone()));

    let header = header(
        &server.url(),
        server_name,
        &testd.http_url(),
        &kubeconfig,
        &namespace,
    );
    let screen = Screen {
        terminal: std::io::stdout().is_terminal() && options.run != RunFor::Once,
        header,
    };
    if !screen.terminal {
        print!("{}", screen.header);
    }

    let outcome = watch(&client, &namespace, options.run, &screen).await;
    stop.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(30), operator_task).await;
    server.shutdown().await;
    testd.shutdown().await;
    outcome?;
    match stopped {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(error))) => Err(error).context("the operator failed"),
        Ok(Err(panic)) => bail!("the operator panicked: {panic}"),
        Err(_) => bail!("the operator did not stop within 30 s"),
    }
}

/// What the playground says first: where everything is, what to type, and
/// how to stop it.
fn header(
    server_url: &str,
    server_name: &str,
    beads_url: &str,
    kubeconfig: &Path,
    namespace: &str,
) -> String {
    let kubeconfig = kubeconfig.display();
    format!(
        "Gas Town playground\n\
         \x20 API server:  {server_url}\n\
         \x20 {:<12} {beads_url} (seeded with rig(s) {})\n\
         \x20 kubeconfig:  {kubeconfig}\n\
         \n\
         \x20 kubectl --kubeconfig {kubeconfig} get gastown,rig,agentpool -A\n\
         \x20 kubectl --kubeconfig {kubeconfig} get pods -n {namespace}\n\
         \n\
         Ctrl-C stops the playground: the operator, the API server and the beads server end with it.\n\
         \n",
        format!("{server_name}:"),
        RIGS.join(", ")
    )
}

/// Where the status goes: redrawn in place on a terminal, appended as plain
/// lines anywhere else (a log, a pipe, CI).
struct Screen {
    terminal: bool,
    header: String,
}

impl Screen {
    /// One refresh of the status.
    fn frame(&self, elapsed: Duration, status: &str) -> String {
        if self.terminal {
            // Cursor home, clear the screen: the same place every time.
            format!("\x1b[H\x1b[2J{}— {:.0?} —\n{status}", self.header, elapsed)
        } else {
            format!("— {elapsed:.0?} —\n{status}")
        }
    }
}

/// Prints the status every few seconds until the run ends.
async fn watch(
    client: &Client,
    namespace: &str,
    run: RunFor,
    screen: &Screen,
) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let (table, running) = status_table(client, namespace).await?;
        match run {
            RunFor::Once if running => {
                print!("{table}");
                return Ok(());
            }
            RunFor::Once if started.elapsed() > ONCE_TIMEOUT => {
                print!("{table}");
                bail!("the town did not reach Running within {ONCE_TIMEOUT:?}");
            }
            RunFor::Once => {}
            _ => {
                print!("{}", screen.frame(started.elapsed(), &table));
                std::io::stdout().flush()?;
            }
        }
        if let RunFor::For(limit) = run
            && started.elapsed() >= limit
        {
            return Ok(());
        }
        tokio::select! {
            result = &mut interrupted => {
                result?;
                println!("stopping");
                return Ok(());
            }
            () = tokio::time::sleep(REFRESH) => {}
        }
    }
}

/// The towns of `namespace` as a table, each town's rigs and agents as a tree,
/// and whether every town is Running.
async fn status_table(client: &Client, namespace: &str) -> anyhow::Result<(String, bool)> {
    let towns = Api::<GasTown>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?;
    let rigs = Api::<Rig>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?;
    let number = |n: Option<i32>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
    let mut rows = vec![vec![
        "GASTOWN".to_string(),
        "PHASE".into(),
        "RIGS".into(),
        "AGENTS".into(),
        "DAEMON".into(),
        "MAYOR".into(),
    ]];
    let mut all_running = !towns.items.is_empty();
    for town in &towns.items {
        let status = town.status.clone().unwrap_or_default();
        all_running &= status.phase == Some(Phase::Running);
        rows.push(vec![
            town.name_any(),
            status
                .phase
                .map_or_else(|| "-".into(), |p| format!("{p:?}")),
            number(status.rig_count),
            number(status.agent_count),
            status.daemon.and_then(|d| d.connected).map_or_else(
                || "-".into(),
                |c| if c { "connected".into() } else { "down".into() },
            ),
            status
                .mayor
                .and_then(|m| m.state)
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut table = render(&rows);
    // Town → rigs → agents, each with its pod's phase, its state in beads and
    // its hooked work: what `kubectl gastown status` prints.
    let pools = Api::<AgentPool>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?;
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(gastown_api::labels::TOWN))
        .await?;
    for town in &towns.items {
        let view = town_view::assemble(town, &rigs.items, &pools.items, &pods.items);
        table.push('\n');
        table.push_str(&town_view::render::town_tree(&view));
    }
    table.push('\n');
    Ok((table, all_running))
}

/// Left-aligned columns, two spaces apart.
fn render(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The minimal example with the seeded rigs declared, so that the operator
/// has a rig to run and beads has something to say about it.
fn example_town(path: &Path) -> anyhow::Result<GasTown> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut town: GasTown = serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not a GasTown", path.display()))?;
    let rigs = RIGS
        .iter()
        .map(|rig| {
            serde_json::from_value(serde_json::json!({
                "name": rig,
                "gitURL": format!("https://git.example.com/{rig}.git"),
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    town.spec.rigs = Some(rigs);
    // Refresh from beads often, so that changes show up in the table quickly.
    town.spec.sync_interval = Some("10s".parse()?);
    Ok(town)
}

/// CRDs, the example's namespace and the Secrets it references (the daemon
/// token is the test daemon's; the API key is a placeholder).
async fn install(client: &Client, daemon_token: &str) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in gastown_api::crds() {
        apply(&crds, &crd).await?;
    }
    let towns: Api<GasTown> = Api::all(client.clone());
    let served = async {
        while towns.list(&ListParams::default()).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .context("the GasTown CRD was not served within 10 s")?;

    let namespace = "gastown";
    apply(
        &Api::<Namespace>::all(client.clone()),
        &Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        },
    )
    .await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for (name, key, value) in [
        ("bd-daemon-token", "token", daemon_token),
        ("anthropic-api-key", "api-key", "sk-playground-placeholder"),
    ] {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            data: Some([(key.to_string(), ByteString(value.as_bytes().to_vec()))].into()),
            ..Secret::default()
        };
        apply(&secrets, &secret).await?;
    }
    Ok(())
}

async fn apply<K>(api: &Api<K>, object: &K) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let mut object = serde_json::to_value(object)?;
    // Server-side apply wants apiVersion and kind in the body.
    object["apiVersion"] = K::api_version(&()).into();
    object["kind"] = K::kind(&()).into();
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .with_context(|| format!("cannot apply {} {name}", K::kind(&())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_is_redrawn_in_place_and_anything_else_gets_plain_lines() {
        let header = header(
            "http://127.0.0.1:1",
            "bd daemon",
            "http://127.0.0.1:2",
            Path::new("/tmp/kubeconfig"),
            "gastown",
        );
        assert!(header.contains("Ctrl-C stops the playground"), "{header}");
        assert!(
            header.contains("kubectl --kubeconfig /tmp/kubeconfig get pods -n gastown"),
            "{header}"
        );
        let terminal = Screen {
            terminal: true,
            header: header.clone(),
        };
        let frame = terminal.frame(Duration::from_secs(3), "TABLE\n");
        assert!(frame.starts_with("\x1b[H\x1b[2J"), "{frame:?}");
        assert!(
            frame.contains(&header) && frame.ends_with("TABLE\n"),
            "{frame:?}"
        );
        let plain = Screen {
            terminal: false,
            header,
        };
        let frame = plain.frame(Duration::from_secs(3), "TABLE\n");
        assert_eq!(frame, "— 3s —\nTABLE\n");
    }

    #[test]
    fn columns_line_up() {
        let table = render(&[
            vec!["NAME".into(), "PHASE".into()],
            vec!["minimal".into(), "Running".into()],
        ]);
        assert_eq!(table, "NAME     PHASE\nminimal  Running\n");
    }

    #[test]
    fn the_example_town_declares_the_seeded_rigs() {
        let town = example_town(&crate::repo_root().join("examples/gastown-minimal.yaml")).unwrap();
        let rigs: Vec<&str> = town.spec.rigs().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(rigs, RIGS);
        assert_eq!(town.spec.sync_interval(), Duration::from_secs(10));
    }

    /// The whole playground, non-interactively: it must get the town Running,
    /// on either beads server.
    #[test]
    fn the_playground_runs_the_town() {
        for beads in [BeadsServer::Daemon, BeadsServer::Serve] {
            let dir = tempfile::tempdir().unwrap();
            let kubeconfig = dir.path().join("kubeconfig");
            run(Options {
                kubeconfig: Some(kubeconfig.clone()),
                port: None,
                run: RunFor::Once,
                beads,
            })
            .unwrap_or_else(|e| panic!("the playground gets the town Running on {beads:?}: {e}"));
            let written = std::fs::read_to_string(kubeconfig).unwrap();
            assert!(written.contains("server: http://127.0.0.1:"), "{written}");
        }
    }
}

//! The server's lifecycle: bind, serve, hand out clients and kubeconfigs, shut down.

use crate::authz::{AllowAll, Authorizer};
use crate::cluster::Cluster;
use crate::faults::{FaultState, Faults, RequestCounts, RequestLog};
use crate::workloads;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How to start the server.
#[derive(Clone)]
pub struct Config {
    /// Run the workload simulation (pods become Running, PVCs Bound, ...).
    pub simulate_workloads: bool,
    /// Port on 127.0.0.1; `None` picks a free one.
    pub port: Option<u16>,
    /// Events kept per resource for watches from an older resourceVersion.
    pub history_limit: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// The authorization step every resource request passes.
    pub authorizer: Arc<dyn Authorizer>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            simulate_workloads: false,
            port: None,
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(1),
            authorizer: Arc::new(AllowAll),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build a client for {url}: {source}")]
    Build { url: String, source: kube::Error },
}

/// State shared by every request handler and background task.
pub(crate) struct AppState {
    pub(crate) cluster: Mutex<Cluster>,
    pub(crate) faults: Arc<FaultState>,
    pub(crate) requests: RequestLog,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    /// Bumped to end every open watch.
    pub(crate) close_watches: Arc<watch::Sender<u64>>,
    pub(crate) bookmark_interval: Duration,
    /// `host:port`, for discovery's `serverAddressByClientCIDRs`.
    pub(crate) address: String,
}

/// A running embedded API server. Dropping it without [`shutdown`](Self::shutdown)
/// aborts its tasks.
pub struct EmbeddedApiServer {
    pub(crate) app: Arc<AppState>,
    address: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl EmbeddedApiServer {
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let port = config.port.unwrap_or(0);
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| StartError::Bind { port, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartError::Bind { port, source })?;
        let app = Arc::new(AppState {
            cluster: Mutex::new(Cluster::new(config.history_limit)),
            faults: Arc::new(FaultState::default()),
            requests: RequestLog::default(),
            authorizer: config.authorizer,
            close_watches: Arc::new(watch::channel(0).0),
            bookmark_interval: config.bookmark_interval,
            address: address.to_string(),
        });
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let router = crate::http::router(Arc::clone(&app));
        let mut serve_stopped = stopped.clone();
        let close_watches = Arc::clone(&app.close_watches);
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = serve_stopped.wait_for(|s| *s).await;
                // Open watches would hold graceful shutdown forever.
                close_watches.send_modify(|generation| *generation += 1);
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "embedded apiserver stopped serving");
            }
        }));
        if config.simulate_workloads {
            tasks.push(workloads::spawn(Arc::clone(&app), stopped));
        }
        tracing::debug!(%address, "embedded apiserver started");
        Ok(EmbeddedApiServer {
            app,
            address,
            stop,
            tasks,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// A client talking to this server, default namespace `default`.
    pub fn client(&self) -> Result<kube::Client, ClientError> {
        let url = self.url();
        let uri = url.parse().expect("server URLs are valid URIs");
        let config = kube::Config::new(uri);
        kube::Client::try_from(config).map_err(|source| ClientError::Build { url, source })
    }

    /// A kubeconfig whose current context points at this server.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: embedded\n  cluster:\n    server: {url}\ncontexts:\n- name: embedded\n  context:\n    cluster: embedded\n    user: embedded\n    namespace: default\ncurrent-context: embedded\nusers:\n- name: embedded\n  user: {{}}\n",
            url = self.url()
        )
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// The handle tests use to inject failures.
    pub fn faults(&self) -> Faults {
        let app = Arc::clone(&self.app);
        Faults {
            state: Arc::clone(&self.app.faults),
            close_watches: Arc::clone(&self.app.close_watches),
            compact: Arc::new(move || app.cluster.lock().store.compact()),
        }
    }

    /// Requests served so far, by verb and resource.
    pub fn requests(&self) -> RequestCounts {
        self.app.requests.snapshot()
    }

    pub fn reset_requests(&self) {
        self.app.requests.reset();
    }

    /// The store's current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.app.cluster.lock().store.current_rv()
    }

    /// Stops serving: open watches end, background tasks stop, the port closes.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for EmbeddedApiServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

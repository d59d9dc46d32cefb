//! The server's lifecycle: bind, serve, hand out clients and kubeconfigs, shut down.

use crate::authz::{AllowAll, Authorizer};
use crate::cluster::Cluster;
use crate::faults::{FaultState, Faults, RequestCounts, RequestLog};
use crate::rbac::{self, Policy, Rbac, UserInfo};
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
    /// Nodes the simulation registers and schedules pods onto (at least one
    /// is sensible): `embedded-node`, `embedded-node-2`, ...
    pub simulated_nodes: usize,
    /// Labels every simulated node carries besides the kubelet's own
    /// (`kubernetes.io/hostname`, `kubernetes.io/os`, ...): what the pods'
    /// node selectors and required affinities are to find.
    pub simulated_node_labels: std::collections::BTreeMap<String, String>,
    /// Port on 127.0.0.1; `None` picks a free one.
    pub port: Option<u16>,
    /// Events kept per resource for watches from an older resourceVersion.
    pub history_limit: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// The authorization step every request passes (after RBAC, when on).
    pub authorizer: Arc<dyn Authorizer>,
    /// Authenticate by bearer token and authorize by RBAC ([`crate::rbac`]).
    /// [`client`](EmbeddedApiServer::client) and the kubeconfig are then an admin's.
    pub rbac: bool,
    /// With [`rbac`](Self::rbac): run the OwnerReferencesPermissionEnforcement
    /// admission plugin (off in kube-apiserver by default, on in OpenShift).
    pub owner_references_permission_enforcement: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            simulate_workloads: false,
            simulated_nodes: 1,
            simulated_node_labels: Default::default(),
            port: None,
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(1),
            authorizer: Arc::new(AllowAll),
            rbac: false,
            owner_references_permission_enforcement: false,
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
    /// Tokens and policy when RBAC is on.
    pub(crate) rbac: Option<Rbac>,
    /// Bumped to end every open watch.
    pub(crate) close_watches: Arc<watch::Sender<u64>>,
    pub(crate) bookmark_interval: Duration,
    /// `host:port`, for discovery's `serverAddressByClientCIDRs`.
    pub(crate) address: String,
    /// ServiceAccount tokens from TokenRequests.
    pub(crate) service_account_tokens: crate::tokens::IssuedTokens,
    /// What tests told the simulated Job and CronJob controllers.
    pub(crate) batch: workloads::batch::BatchControls,
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
        let mut cluster = Cluster::new(config.history_limit);
        if config.rbac {
            rbac::bootstrap(&mut cluster);
        }
        crate::bootstrap::install(&mut cluster, address.port());
        let app = Arc::new(AppState {
            cluster: Mutex::new(cluster),
            faults: Arc::new(FaultState::default()),
            requests: RequestLog::default(),
            authorizer: config.authorizer,
            rbac: config
                .rbac
                .then(|| Rbac::new(config.owner_references_permission_enforcement)),
            close_watches: Arc::new(watch::channel(0).0),
            bookmark_interval: config.bookmark_interval,
            address: address.to_string(),
            service_account_tokens: Default::default(),
            batch: Default::default(),
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
            tasks.push(workloads::spawn(
                Arc::clone(&app),
                workloads::SimulatedNodes {
                    count: config.simulated_nodes,
                    labels: config.simulated_node_labels,
                },
                stopped,
            ));
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

    /// The admin's token when RBAC is on.
    fn admin_token(&self) -> Option<&str> {
        self.app.rbac.as_ref().map(Rbac::admin_token)
    }

    /// A client talking to this server, default namespace `default`; an
    /// admin's when RBAC is on.
    pub fn client(&self) -> Result<kube::Client, ClientError> {
        self.client_with(self.admin_token())
    }

    /// A client that authenticates with `token` (see [`service_account_token`](Self::service_account_token)).
    pub fn client_for_token(&self, token: &str) -> Result<kube::Client, ClientError> {
        self.client_with(Some(token))
    }

    fn client_with(&self, token: Option<&str>) -> Result<kube::Client, ClientError> {
        let url = self.url();
        let uri = url.parse().expect("server URLs are valid URIs");
        let mut config = kube::Config::new(uri);
        config.auth_info.token = token.map(|t| secrecy::SecretString::from(t.to_owned()));
        kube::Client::try_from(config).map_err(|source| ClientError::Build { url, source })
    }

    /// Mints a token for the ServiceAccount `namespace/name` (RBAC mode). The
    /// ServiceAccount object need not exist; what it may do is what its
    /// bindings grant.
    ///
    /// # Panics
    /// When the server was started without [`Config::rbac`].
    pub fn service_account_token(&self, namespace: &str, name: &str) -> String {
        let rbac = self
            .app
            .rbac
            .as_ref()
            .expect("tokens need Config { rbac: true, .. }");
        rbac.mint(UserInfo::service_account(namespace, name))
    }

    /// A kubeconfig whose current context points at this server (as the admin
    /// when RBAC is on).
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_yaml_with(self.admin_token())
    }

    /// A kubeconfig that authenticates with `token`.
    pub fn kubeconfig_yaml_for_token(&self, token: &str) -> String {
        self.kubeconfig_yaml_with(Some(token))
    }

    fn kubeconfig_yaml_with(&self, token: Option<&str>) -> String {
        let user = match token {
            Some(token) => format!("\n    token: {token}"),
            None => " {}".to_owned(),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: embedded\n  cluster:\n    server: {url}\ncontexts:\n- name: embedded\n  context:\n    cluster: embedded\n    user: embedded\n    namespace: default\ncurrent-context: embedded\nusers:\n- name: embedded\n  user:{user}\n",
            url = self.url()
        )
    }

    /// The messages of every 403 answered so far (RBAC mode; empty otherwise),
    /// e.g. `pods "x" is forbidden: User "..." cannot get resource "pods" ...`.
    pub fn forbidden(&self) -> Vec<String> {
        self.app
            .rbac
            .as_ref()
            .map(Rbac::refusals)
            .unwrap_or_default()
    }

    /// Every request RBAC decided so far for users outside `system:masters`
    /// (RBAC mode; empty otherwise): what a minimal policy must allow.
    pub fn rbac_checks(&self) -> Vec<rbac::Checked> {
        self.app
            .rbac
            .as_ref()
            .map(Rbac::checked)
            .unwrap_or_default()
    }

    /// The Roles, ClusterRoles and bindings stored now.
    pub fn rbac_policy(&self) -> Policy {
        Policy::from_store(&self.app.cluster.lock().store)
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

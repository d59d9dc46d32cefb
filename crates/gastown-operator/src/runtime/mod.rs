//! The running operator: watch caches, the three controllers, beads mutation
//! streams, the HTTP endpoints and leader election, wired together.
//!
//! ```text
//! run ─┬─ HTTP: /metrics /healthz /readyz
//!      └─ leadership (always, or while holding the Lease)
//!           └─ per scope (all namespaces, or one per listed namespace)
//!                cache → wait until synced → Context
//!                ├─ GasTown controller  ← rigs, infra, pods, Secrets, beads views
//!                ├─ Rig controller      ← pools, pods, claims, its town, beads views
//!                ├─ AgentPool controller ← its pods, its rig, beads views
//!                └─ beads mutation stream per town: each burst read → beads view
//! ```
//!
//! Periodic resync is each reconcile's own `Action::requeue(syncInterval)`.

pub mod beads_events;
mod bursts;
pub mod http;
mod leader;
mod scope;
pub mod triggers;

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Client;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use http::{Health, Readiness};

use crate::cache::Scope;
use crate::context::Settings;
use crate::metrics::Metrics;

/// Leader election on a `coordination.k8s.io/v1` Lease.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    pub lease_name: String,
    pub lease_namespace: String,
    /// This replica's identity in the Lease; a random one when unset.
    pub identity: Option<String>,
    /// Seconds a lease stays valid after its last renewal.
    pub lease_duration_secs: u64,
    /// Seconds before expiry at which the holder renews.
    pub renew_grace_secs: u64,
}

impl LeaderElection {
    pub fn new(lease_name: impl Into<String>, lease_namespace: impl Into<String>) -> Self {
        Self {
            lease_name: lease_name.into(),
            lease_namespace: lease_namespace.into(),
            identity: None,
            lease_duration_secs: 15,
            renew_grace_secs: 5,
        }
    }
}

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// The namespaces served: `[Scope::All]`, or one scope per namespace.
    pub scopes: Vec<Scope>,
    pub settings: Settings,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`; `None` serves nothing.
    pub metrics_addr: Option<SocketAddr>,
    /// `None`: this replica always runs the controllers.
    pub leader_election: Option<LeaderElection>,
    /// Reconciles of one kind running at once.
    pub concurrency: u16,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            scopes: vec![Scope::All],
            settings: Settings::default(),
            metrics_addr: None,
            leader_election: None,
            concurrency: 4,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("a watch cache stopped before it had its first full list")]
    CacheStopped,
    #[error("a controller task panicked: {0}")]
    Panicked(String),
    #[error("leader election on Lease {namespace}/{name} failed: {source}")]
    LeaderElection {
        namespace: String,
        name: String,
        #[source]
        source: kube_lease_manager::LeaseManagerError,
    },
    #[error("the leader election task stopped on its own")]
    LeaderElectionStopped,
    #[error("cannot serve /metrics on {address}: {source}")]
    Http {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What every scope of a term shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub concurrency: u16,
}

/// The operator, before and while it runs; its metrics and readiness can be
/// read from outside (tests, the playground).
pub struct Runtime {
    config: RuntimeConfig,
    metrics: Arc<Metrics>,
    health: Health,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Self {
        Self {
            config,
            metrics: Arc::new(Metrics::new()),
            health: Health::default(),
        }
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Runs until `shutdown` is cancelled, then stops the controllers
    /// gracefully (running reconciles finish) and releases the Lease.
    pub async fn run(
        self,
        client: Client,
        shutdown: CancellationToken,
    ) -> Result<(), RuntimeError> {
        let Runtime {
            config,
            metrics,
            health,
        } = self;
        let mut http = JoinSet::new();
        if let Some(address) = config.metrics_addr {
            let (metrics, health, stop) = (metrics.clone(), health.clone(), shutdown.clone());
            // Bind before anything else so that a taken port fails fast.
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|source| RuntimeError::Http { address, source })?;
            http.spawn(async move {
                if let Err(error) = http::serve(listener, metrics, health, stop).await {
                    tracing::error!(%error, "the metrics endpoint stopped");
                }
            });
        }
        let shared = Shared {
            settings: config.settings,
            metrics,
            concurrency: config.concurrency,
        };
        let result = match config.leader_election {
            None => lead(&client, &config.scopes, &shared, &health, shutdown.clone()).await,
            Some(election) => {
                leader::run_elected(
                    &client,
                    &election,
                    &config.scopes,
                    &shared,
                    &health,
                    &shutdown,
                )
                .await
            }
        };
        health.set(Readiness::ShuttingDown);
        shutdown.cancel();
        while http.join_next().await.is_some() {}
        result
    }
}

/// Runs the operator with `config` until `shutdown` is cancelled.
pub async fn run(
    client: Client,
    config: RuntimeConfig,
    shutdown: CancellationToken,
) -> Result<(), RuntimeError> {
    Runtime::new(config).run(client, shutdown).await
}

/// One leadership term: every scope until `stop` is cancelled or one fails
/// (which stops the others).
async fn lead(
    client: &Client,
    scopes: &[Scope],
    shared: &Shared,
    health: &Health,
    stop: CancellationToken,
) -> Result<(), RuntimeError> {
    health.leading(scopes.len());
    let mut running = JoinSet::new();
    for scope in scopes {
        let task = scope::run(
            client.clone(),
            scope.clone(),
            shared.clone(),
            health.clone(),
            stop.clone(),
        );
        running.spawn(task);
    }
    let mut outcome = Ok(());
    while let Some(joined) = running.join_next().await {
        let failure = match joined {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error,
            Err(join) => RuntimeError::Panicked(join.to_string()),
        };
        tracing::error!(error = %failure, "stopping the operator");
        stop.cancel();
        if outcome.is_ok() {
            outcome = Err(failure);
        }
    }
    outcome
}

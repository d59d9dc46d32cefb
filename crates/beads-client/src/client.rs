//! `BeadsClient`: typed operations over either transport, with timeouts and
//! read-only retries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::endpoint::Endpoint;
use crate::error::BeadsError;
use crate::model::{
    AgentPodDeregistered, AgentPodInfo, AgentPodList, AgentPodRegistered, AgentPodRegistration,
    AgentPodStatusChanged, HealthReport, HealthStatus, Issue, ListQuery, Liveness, MutationEvent,
    PodStatus, Positioned, Readiness, Stats,
};
use crate::mutations;
use crate::token::Token;
use crate::transport::{HttpTransport, Operation, TcpTransport, Transport, TransportSettings};

/// How the client behaves; the defaults suit an operator's sync loop.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Upper bound of one request, connection included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Further attempts of a failed read (writes are never retried).
    pub read_retries: usize,
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Sent as `actor` / `X-BD-Actor`.
    pub actor: String,
    /// Kept-alive connections held for reuse.
    pub max_idle_connections: usize,
    pub mutations: MutationStreamConfig,
}

/// How [`BeadsClient::mutations`] reconnects and polls.
#[derive(Debug, Clone)]
pub struct MutationStreamConfig {
    pub reconnect_min_delay: Duration,
    pub reconnect_max_delay: Duration,
    /// Interval of `get_mutations` polls where SSE is not available.
    pub poll_interval: Duration,
    /// Reconnect when the SSE stream is silent this long; the daemon sends a
    /// keepalive every 15 s, `bd serve` a heartbeat after ~20 s idle.
    pub idle_timeout: Duration,
    /// Interval of [`crate::Change::Relist`] ticks while the change feed cannot be
    /// had (e.g. `bd serve` with its events journal off).
    pub relist_interval: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            read_retries: 3,
            retry_min_delay: Duration::from_millis(100),
            retry_max_delay: Duration::from_secs(2),
            actor: "gastown-operator".to_owned(),
            max_idle_connections: 4,
            mutations: MutationStreamConfig::default(),
        }
    }
}

impl Default for MutationStreamConfig {
    fn default() -> Self {
        Self {
            reconnect_min_delay: Duration::from_millis(250),
            reconnect_max_delay: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(45),
            relist_interval: Duration::from_secs(30),
        }
    }
}

/// A client of one bd daemon. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct BeadsClient {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub transport: Transport,
    pub config: ClientConfig,
}

impl fmt::Debug for BeadsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The transports hold the token; it prints as `***` through `Token`'s Debug.
        f.debug_struct("BeadsClient")
            .field("endpoint", &self.endpoint().to_string())
            .field("transport", &self.inner.transport)
            .finish()
    }
}

impl BeadsClient {
    /// A client with the default configuration.
    pub fn new(endpoint: Endpoint, token: Option<Token>) -> Result<Self, BeadsError> {
        Self::with_config(endpoint, token, ClientConfig::default())
    }

    /// Parses `http://host:port` or `tcp://host:port` and builds a client.
    pub fn connect(endpoint: &str, token: Option<Token>) -> Result<Self, BeadsError> {
        Self::new(endpoint.parse()?, token)
    }

    pub fn with_config(
        endpoint: Endpoint,
        token: Option<Token>,
        config: ClientConfig,
    ) -> Result<Self, BeadsError> {
        let settings = TransportSettings {
            request_timeout: config.request_timeout,
            connect_timeout: config.connect_timeout,
            actor: config.actor.clone(),
            max_idle_connections: config.max_idle_connections,
        };
        let transport = match &endpoint {
            Endpoint::Http { .. } => {
                Transport::Http(HttpTransport::new(endpoint, token, settings)?)
            }
            Endpoint::Tcp { authority } => {
                let authority = authority.clone();
                Transport::Tcp(TcpTransport::new(endpoint, authority, token, settings))
            }
        };
        Ok(Self {
            inner: Arc::new(Inner { transport, config }),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        self.inner.transport.endpoint()
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// `health`: the daemon's full health report.
    pub async fn health(&self) -> Result<HealthReport, BeadsError> {
        self.call(Operation::Health, &serde_json::json!({})).await
    }

    /// Liveness: `GET /healthz` on HTTP; the `health` operation on TCP.
    pub async fn liveness(&self) -> Result<Liveness, BeadsError> {
        match &self.inner.transport {
            Transport::Http(http) => self.retry_read(|| http.liveness()).await,
            Transport::Tcp(_) => {
                let health = self.health().await?;
                Ok(Liveness {
                    status: health.status,
                    version: health.version,
                    uptime: Some(format!("{:.0}s", health.uptime_seconds)),
                    error: health.error,
                })
            }
        }
    }

    /// Readiness: `GET /readyz` on HTTP; on TCP, ready when `health` says healthy.
    pub async fn readiness(&self) -> Result<Readiness, BeadsError> {
        match &self.inner.transport {
            Transport::Http(http) => self.retry_read(|| http.readiness()).await,
            Transport::Tcp(_) => {
                let health = self.health().await?;
                let ready = health.status == HealthStatus::Healthy;
                Ok(Readiness {
                    ready,
                    reason: (!ready)
                        .then(|| health.error.unwrap_or_else(|| health.status.to_string())),
                })
            }
        }
    }

    pub async fn stats(&self) -> Result<Stats, BeadsError> {
        self.call(Operation::Stats, &serde_json::json!({})).await
    }

    /// `list`; a `null` answer is an empty list.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Issue>, BeadsError> {
        let issues: Option<Vec<Issue>> = self.call(Operation::List, query).await?;
        Ok(issues.unwrap_or_default())
    }

    /// `agent_pod_list`, optionally for one rig.
    pub async fn agent_pod_list(&self, rig: Option<&str>) -> Result<Vec<AgentPodInfo>, BeadsError> {
        #[derive(Serialize)]
        struct Args<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            rig: Option<&'a str>,
        }
        let list: Option<AgentPodList> = self.call(Operation::AgentPodList, &Args { rig }).await?;
        Ok(list.unwrap_or_default().agents)
    }

    /// `agent_pod_register`: records the pod running an agent on its bead.
    pub async fn agent_pod_register(
        &self,
        registration: &AgentPodRegistration,
    ) -> Result<AgentPodRegistered, BeadsError> {
        self.call(Operation::AgentPodRegister, registration).await
    }

    /// `agent_pod_status`: updates the pod status on an agent bead.
    pub async fn agent_pod_status(
        &self,
        agent_id: &str,
        pod_status: PodStatus,
    ) -> Result<AgentPodStatusChanged, BeadsError> {
        let args = serde_json::json!({"agent_id": agent_id, "pod_status": pod_status});
        self.call(Operation::AgentPodStatus, &args).await
    }

    /// `agent_pod_deregister`: clears the pod fields of an agent bead.
    pub async fn agent_pod_deregister(
        &self,
        agent_id: &str,
    ) -> Result<AgentPodDeregistered, BeadsError> {
        let args = serde_json::json!({"agent_id": agent_id});
        self.call(Operation::AgentPodDeregister, &args).await
    }

    /// `get_mutations`: the daemon's buffered events newer than `since` (unix ms).
    pub async fn get_mutations(&self, since: u64) -> Result<Vec<MutationEvent>, BeadsError> {
        let raw = self.get_mutations_raw(since).await?;
        Ok(raw.into_iter().map(|positioned| positioned.event).collect())
    }

    pub(crate) async fn get_mutations_raw(
        &self,
        since: u64,
    ) -> Result<Vec<Positioned>, BeadsError> {
        let data: serde_json::Value = self
            .call(
                Operation::GetMutations,
                &serde_json::json!({"since": since}),
            )
            .await?;
        match data {
            serde_json::Value::Null => Ok(Vec::new()),
            serde_json::Value::Array(items) => Ok(items
                .iter()
                .filter_map(|item| {
                    let positioned = Positioned::decode(item, None);
                    if positioned.is_none() {
                        tracing::warn!(endpoint = %self.endpoint(), "skipping an undecodable mutation event");
                    }
                    positioned
                })
                .collect()),
            other => Err(BeadsError::Protocol {
                endpoint: self.inner.transport.endpoint_name(),
                operation: Operation::GetMutations.wire_name(),
                detail: format!("expected an array of events, got {}", json_kind(&other)),
            }),
        }
    }

    /// Every change in the bead store from `since` (unix ms, exclusive) on, or from
    /// now when `None`: SSE on `GET /events`, or polling `get_mutations` on TCP and
    /// where `/events` answers 404.
    ///
    /// The stream never ends on its own (drop it to stop). Failed (re)connections
    /// and polls are yielded as `Err` items and retried with backoff; after any
    /// reconnect it resumes after the last event delivered, repeating and losing
    /// none; keepalives, unknown event types, unknown fields and garbage lines are
    /// skipped.
    pub fn mutations(
        &self,
        since: Option<u64>,
    ) -> impl Stream<Item = Result<MutationEvent, BeadsError>> + Send + 'static {
        mutations::stream(self.clone(), since)
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// Calls an operation and decodes its `data`; reads are retried on transient errors.
    async fn call<A, R>(&self, operation: Operation, args: &A) -> Result<R, BeadsError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let args = serde_json::to_value(args).map_err(|error| BeadsError::Protocol {
            endpoint: self.inner.transport.endpoint_name(),
            operation: operation.wire_name(),
            detail: format!("cannot encode the arguments: {error}"),
        })?;
        let transport = &self.inner.transport;
        let data = if operation.is_read() {
            self.retry_read(|| transport.call(operation, &args)).await?
        } else {
            transport.call(operation, &args).await?
        };
        serde_json::from_value(data).map_err(|error| BeadsError::Protocol {
            endpoint: self.inner.transport.endpoint_name(),
            operation: operation.wire_name(),
            detail: format!("unexpected answer shape: {error}"),
        })
    }

    async fn retry_read<T, F, Fut>(&self, attempt: F) -> Result<T, BeadsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BeadsError>>,
    {
        let config = &self.inner.config;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(config.retry_min_delay)
            .with_max_delay(config.retry_max_delay)
            .with_max_times(config.read_retries)
            .with_jitter();
        attempt
            .retry(backoff)
            .when(BeadsError::is_transient)
            .notify(|error, delay| tracing::debug!(%error, ?delay, "retrying a bd daemon read"))
            .await
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

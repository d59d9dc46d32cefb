//! `ServeClient`: the beads HTTP API v0 served by `bd serve`
//! (`/work/shared/reference/bd-serve-v0.md`, cited as "bd-serve-v0.md §n").
//!
//! - Capabilities first: `GET /v0/beads/context` once per client (cached; asked
//!   again after an answer that suggests the server changed). `issues.list` and
//!   `issues.update` are required by the operations that use them; `events.list`
//!   and `events.watch` are used only when listed (§3.3, §5).
//! - Only §3 query parameters are ever sent (an unknown one is a 400, §2).
//! - Reads are retried on transient failures with backoff, waiting `Retry-After`
//!   when a 503 gives one (§2); writes are never retried.
//! - Every write carries `actor` = [`ClientConfig::actor`] (§3.7).

mod changes;
mod http;
mod snapshot;
mod wire;
#[cfg(test)]
mod wire_tests;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use backon::{BackoffBuilder, ExponentialBuilder};
use futures::Stream;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend::Change;
use crate::client::ClientConfig;
use crate::error::BeadsError;
use crate::model::{AgentPodRegistration, Issue, PodFields, PodStatus, Readiness};
use crate::projection::TownSnapshot;
use crate::token::{REDACTED, Token};
use http::{Failure, Query, ServeHttp};
pub use wire::{
    EventRecord, EventsPage, POD_METADATA_KEY, Problem, ServerContext, pod_from_metadata,
};
use wire::{IssuePage, Pager, decode_issue};

/// Capability tokens this client uses (bd-serve-v0.md §3.3).
pub mod capability {
    pub const READY_LIST: &str = "ready.list";
    pub const ISSUES_LIST: &str = "issues.list";
    pub const ISSUES_UPDATE: &str = "issues.update";
    pub const EVENTS_LIST: &str = "events.list";
    pub const EVENTS_WATCH: &str = "events.watch";
}

/// Page size of issue listings (bd-serve-v0.md §5 "agents of a town": `limit=200`;
/// `limit=0` is refused on non-loopback binds, §1).
pub const PAGE_SIZE: u32 = 200;

/// The label of Gas Town's merge requests (bd-serve-v0.md §4).
const MERGE_REQUEST_LABEL: &str = "gt:merge-request";

/// Filters of `GET /v0/beads/issues` (bd-serve-v0.md §3.4), limited to the ones this
/// client needs. Empty filters are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueQuery {
    /// `status` (repeatable); replaces the default exclusion of closed beads.
    pub status: Vec<String>,
    /// `type` (an unknown type is a 400).
    pub issue_type: Option<String>,
    /// `assignee`, exact.
    pub assignee: Option<String>,
    /// `label`, repeatable, all must match.
    pub label: Vec<String>,
    /// `include_infra=true`: infra types (agent, …) and the ephemeral plane.
    pub include_infra: bool,
    /// `include_ephemeral=true`: the wisp tier.
    pub include_ephemeral: bool,
}

impl IssueQuery {
    /// The query string of one page; identical on every page but for `cursor`
    /// (§3.4 "keep `sort` and filters identical").
    pub(crate) fn pairs(&self, cursor: Option<&str>) -> Query {
        let mut pairs: Query = Vec::new();
        pairs.extend(self.label.iter().map(|label| ("label", label.clone())));
        pairs.extend(self.status.iter().map(|status| ("status", status.clone())));
        if let Some(issue_type) = &self.issue_type {
            pairs.push(("type", issue_type.clone()));
        }
        if let Some(assignee) = &self.assignee {
            pairs.push(("assignee", assignee.clone()));
        }
        if self.include_infra {
            pairs.push(("include_infra", "true".into()));
        }
        if self.include_ephemeral {
            pairs.push(("include_ephemeral", "true".into()));
        }
        pairs.push(("limit", PAGE_SIZE.to_string()));
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor.to_owned()));
        }
        pairs
    }
}

/// A client of one `bd serve`. Cheap to clone; clones share connections and the
/// cached capabilities.
#[derive(Clone)]
pub struct ServeClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: ServeHttp,
    config: ClientConfig,
    context: Mutex<Option<Arc<ServerContext>>>,
}

impl fmt::Debug for ServeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeClient")
            .field("endpoint", &self.endpoint())
            .field("token", &self.inner.http.has_token().then_some(REDACTED))
            .finish()
    }
}

impl ServeClient {
    /// A client of the `bd serve` at `url` (`http://host:port[/prefix]`).
    pub fn new(url: &str, token: Option<Token>, config: ClientConfig) -> Result<Self, BeadsError> {
        let http = ServeHttp::new(
            url,
            token,
            config.request_timeout,
            config.connect_timeout,
            config.max_idle_connections,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                context: Mutex::new(None),
            }),
        })
    }

    /// The base URL, for logs (never the token).
    pub fn endpoint(&self) -> &str {
        self.inner.http.name_str()
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// `GET /v0/beads/context` (bd-serve-v0.md §3.3), asked once and cached.
    pub async fn context(&self) -> Result<Arc<ServerContext>, BeadsError> {
        if let Some(context) = self.cached_context() {
            return Ok(context);
        }
        let value = self
            .read("context", &["v0", "beads", "context"], Vec::new())
            .await?;
        let context = ServerContext::from_value(&value).ok_or_else(|| {
            self.inner.http.protocol(
                "context",
                "not a v0 context (no api_version, no capabilities)",
            )
        })?;
        let context = Arc::new(context);
        *self.lock_context() = Some(context.clone());
        Ok(context)
    }

    /// Drops the cached capabilities; the next operation asks again.
    pub fn forget_context(&self) {
        *self.lock_context() = None;
    }

    /// The context, if it lists `capability`; else [`BeadsError::MissingCapability`].
    pub async fn require(
        &self,
        capability: &str,
        operation: &'static str,
    ) -> Result<Arc<ServerContext>, BeadsError> {
        let context = self.context().await?;
        if context.has(capability) {
            return Ok(context);
        }
        Err(BeadsError::MissingCapability {
            endpoint: self.inner.http.name(),
            operation,
            capability: capability.to_owned(),
        })
    }

    /// Readiness: `GET /v0/beads/ready?limit=1` (bd-serve-v0.md §3.2): 200 ready;
    /// 503 (or any 5xx problem) not ready, with the problem's detail. Only
    /// connection failures are retried: a 503 here is an answer.
    pub async fn readiness(&self) -> Result<Readiness, BeadsError> {
        let url = self
            .inner
            .http
            .url(&["v0", "beads", "ready"], &vec![("limit", "1".to_owned())]);
        let answer = self
            .with_retries("ready", || async {
                match self
                    .inner
                    .http
                    .call("ready", Method::GET, url.clone(), None)
                    .await
                {
                    Ok(_) => Ok(Readiness {
                        ready: true,
                        reason: None,
                    }),
                    Err(Failure {
                        error: BeadsError::Problem { status, detail, .. },
                        ..
                    }) if status >= 500 => Ok(Readiness {
                        ready: false,
                        reason: Some(detail),
                    }),
                    Err(failure) => Err(failure),
                }
            })
            .await;
        answer.map_err(BeadsError::from)
    }

    /// Every issue `query` matches, following `next_cursor` (bd-serve-v0.md §3.4).
    pub async fn list_issues(&self, query: &IssueQuery) -> Result<Vec<Issue>, BeadsError> {
        self.require(capability::ISSUES_LIST, "list issues").await?;
        let mut issues = Vec::new();
        let mut pager = Pager::default();
        let mut cursor: Option<String> = None;
        loop {
            let value = self
                .read(
                    "list issues",
                    &["v0", "beads", "issues"],
                    query.pairs(cursor.as_deref()),
                )
                .await?;
            let page = IssuePage::from_value(&value)
                .map_err(|detail| self.inner.http.protocol("list issues", detail))?;
            for item in &page.items {
                issues.push(
                    decode_issue(item)
                        .map_err(|detail| self.inner.http.protocol("list issues", detail))?,
                );
            }
            match pager
                .next_cursor(&page)
                .map_err(|detail| self.inner.http.protocol("list issues", detail))?
            {
                Some(next) => cursor = Some(next),
                None => return Ok(issues),
            }
        }
    }

    /// The merge requests not yet closed: Gas Town keeps them as ephemeral
    /// `gt:merge-request` beads in each rig's own database, so this is asked
    /// of a rig's server (bd-serve-v0.md §4, §5 "MRs waiting in a rig";
    /// `include_infra` admits the wisp tier).
    pub async fn open_merge_requests(&self) -> Result<Vec<Issue>, BeadsError> {
        self.list_issues(&IssueQuery {
            label: vec![MERGE_REQUEST_LABEL.to_owned()],
            status: vec!["open".to_owned(), "in_progress".to_owned()],
            include_infra: true,
            ..IssueQuery::default()
        })
        .await
    }

    /// `GET /v0/beads/events?since=…[&limit=…]` (bd-serve-v0.md §3.9).
    pub async fn events(&self, since: u64, limit: Option<u32>) -> Result<EventsPage, BeadsError> {
        self.events_raw(since, limit)
            .await
            .map_err(BeadsError::from)
    }

    pub(crate) async fn events_raw(
        &self,
        since: u64,
        limit: Option<u32>,
    ) -> Result<EventsPage, Failure> {
        let mut query: Query = vec![("since", since.to_string())];
        if let Some(limit) = limit {
            query.push(("limit", limit.clamp(1, 10_000).to_string()));
        }
        let value = self
            .read_raw("events", &["v0", "beads", "events"], query)
            .await?;
        EventsPage::from_value(&value)
            .map_err(|detail| self.inner.http.protocol("events", detail).into())
    }

    /// Sets (`Some`) or removes (`None`) one top-level metadata key of an issue:
    /// `PATCH /v0/beads/issues/{id}` with `metadata.set` / `metadata.unset`
    /// (bd-serve-v0.md §3.7); untouched keys survive. Never retried.
    pub async fn patch_metadata_key(
        &self,
        id: &str,
        key: &str,
        value: Option<Value>,
    ) -> Result<(), BeadsError> {
        let operation = "patch metadata";
        self.require(capability::ISSUES_UPDATE, operation).await?;
        let metadata = match value {
            Some(value) => json!({ "set": { key: value } }),
            None => json!({ "unset": [key] }),
        };
        let body = json!({ "actor": self.inner.config.actor, "patch": { "metadata": metadata } });
        let url = self
            .inner
            .http
            .url(&["v0", "beads", "issues", id], &Vec::new());
        self.inner
            .http
            .call(operation, Method::PATCH, url, Some(&body))
            .await
            .map(drop)
            .map_err(BeadsError::from)
    }

    /// Agents, their hooked work and the server's readiness, in four requests for a
    /// town of up to [`PAGE_SIZE`] agents (see [`snapshot`]).
    pub async fn snapshot(&self) -> Result<TownSnapshot, BeadsError> {
        snapshot::snapshot(self).await
    }

    /// Records the pod of an agent under metadata key [`POD_METADATA_KEY`].
    /// `description` (Gas Town's) is never touched.
    pub async fn register_pod(
        &self,
        registration: &AgentPodRegistration,
    ) -> Result<(), BeadsError> {
        let pod = PodFields {
            name: Some(registration.pod_name.clone()),
            ip: registration.pod_ip.clone(),
            node: registration.pod_node.clone(),
            status: registration
                .pod_status
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            screen_session: registration.screen_session.clone(),
        };
        self.write_pod(&registration.agent_id, Some(&pod)).await
    }

    /// Rewrites the recorded pod with `current`'s fields and the new status.
    pub async fn pod_status(
        &self,
        agent_id: &str,
        status: PodStatus,
        current: &PodFields,
    ) -> Result<(), BeadsError> {
        let pod = PodFields {
            status: Some(status.as_str().to_owned()),
            ..current.clone()
        };
        self.write_pod(agent_id, Some(&pod)).await
    }

    /// Removes the recorded pod.
    pub async fn deregister_pod(&self, agent_id: &str) -> Result<(), BeadsError> {
        self.write_pod(agent_id, None).await
    }

    async fn write_pod(&self, agent_id: &str, pod: Option<&PodFields>) -> Result<(), BeadsError> {
        self.patch_metadata_key(agent_id, POD_METADATA_KEY, pod.map(wire::pod_metadata))
            .await
    }

    /// The change feed (see [`crate::Beads::changes`]): `events:watch`, else polling
    /// `events`, else relisting.
    pub fn changes(
        &self,
        after: Option<u64>,
    ) -> impl Stream<Item = Result<Change, BeadsError>> + Send + 'static {
        changes::stream(self.clone(), after)
    }

    /// Whether the server at this address answers `GET /v0/beads/context` as
    /// `bd serve` does: a v0 context (cached), or any problem+json answer (e.g. the
    /// 401 of a wrong token). Connection failures are errors.
    pub(crate) async fn answers_as_serve(&self) -> Result<bool, BeadsError> {
        let path = ["v0", "beads", "context"];
        match self.read_raw("context", &path, Vec::new()).await {
            Ok(value) => match ServerContext::from_value(&value) {
                Some(context) => {
                    *self.lock_context() = Some(Arc::new(context));
                    Ok(true)
                }
                None => Ok(false),
            },
            Err(Failure {
                problem: Some(_), ..
            }) => Ok(true),
            Err(Failure {
                error: error @ (BeadsError::Unreachable { .. } | BeadsError::TimedOut { .. }),
                ..
            }) => Err(error),
            Err(_) => Ok(false),
        }
    }

    /// A read with retries; a failure that suggests a changed server (unknown
    /// route, unknown parameter, no connection) drops the cached capabilities.
    async fn read(
        &self,
        operation: &'static str,
        path: &[&str],
        query: Query,
    ) -> Result<Value, BeadsError> {
        self.read_raw(operation, path, query)
            .await
            .map_err(BeadsError::from)
    }

    async fn read_raw(
        &self,
        operation: &'static str,
        path: &[&str],
        query: Query,
    ) -> Result<Value, Failure> {
        let url = self.inner.http.url(path, &query);
        let result = self
            .with_retries(operation, || {
                self.inner
                    .http
                    .call(operation, Method::GET, url.clone(), None)
            })
            .await;
        if let Err(failure) = &result
            && suggests_a_changed_server(&failure.error)
        {
            self.forget_context();
        }
        result
    }

    /// Retries `attempt` while it fails transiently, `config.read_retries` times,
    /// waiting `Retry-After` when the server gave one (bd-serve-v0.md §2: 503 `busy`,
    /// `db_unavailable`, `events_watch_saturated`), else an exponential backoff.
    async fn with_retries<T, F, Fut>(
        &self,
        operation: &'static str,
        mut attempt: F,
    ) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let config = &self.inner.config;
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(config.retry_min_delay)
            .with_max_delay(config.retry_max_delay)
            .with_max_times(config.read_retries)
            .with_jitter()
            .build();
        loop {
            match attempt().await {
                Err(failure) if failure.error.is_transient() => {
                    let Some(backoff) = delays.next() else {
                        return Err(failure);
                    };
                    let delay = failure.error.retry_after().unwrap_or(backoff);
                    tracing::debug!(error = %failure.error, ?delay, operation, "retrying a bd serve read");
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    fn cached_context(&self) -> Option<Arc<ServerContext>> {
        self.lock_context().clone()
    }

    fn lock_context(&self) -> std::sync::MutexGuard<'_, Option<Arc<ServerContext>>> {
        self.inner
            .context
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn http(&self) -> &ServeHttp {
        &self.inner.http
    }
}

/// 404 on a route, 400 for an unknown parameter, or no connection at all: the
/// server may have been replaced by another version (bd-serve-v0.md §2).
pub(crate) fn suggests_a_changed_server(error: &BeadsError) -> bool {
    match error {
        BeadsError::Problem { status: 404, .. } | BeadsError::Unreachable { .. } => true,
        BeadsError::Problem {
            status: 400,
            body: Some(problem),
            ..
        } => problem.reason.as_deref() == Some("unknown_parameter"),
        _ => false,
    }
}

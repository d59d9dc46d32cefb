//! Faults a test can switch on while the daemon runs.
//!
//! One-shot faults (`fail_next`, `drop_next`, `malform_next`) are consumed by the requests they match,
//! in the order they were armed. A [`Scope`] without an operation matches every RPC operation on its
//! transports, but not the probe and stream endpoints (`healthz`, `readyz`, `metrics`, `events`): those
//! are matched only when named, so a client's health check does not eat a fault meant for its `list`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::requests::Transport;
use crate::store::{BeadStore, StreamItem};

/// Names of the non-RPC HTTP endpoints as scopes and the request log see them.
pub mod endpoint {
    pub const HEALTHZ: &str = "healthz";
    pub const READYZ: &str = "readyz";
    pub const METRICS: &str = "metrics";
    pub const EVENTS: &str = "events";

    pub(crate) fn is_rpc(operation: &str) -> bool {
        use crate::serve::op;
        ![
            HEALTHZ,
            READYZ,
            METRICS,
            EVENTS,
            op::HEALTHZ,
            op::READY,
            op::EVENTS,
            op::WATCH,
        ]
        .contains(&operation)
    }
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    transport: Option<Transport>,
    operation: Option<String>,
}

impl Scope {
    /// Every RPC operation on both transports.
    pub fn any() -> Scope {
        Scope::default()
    }

    /// One operation (`"list"`, `"agent_pod_register"`, `"healthz"`, `"events"`, ...) on both transports.
    pub fn operation(operation: &str) -> Scope {
        Scope::any().and_operation(operation)
    }

    /// Every RPC operation on one transport.
    pub fn transport(transport: Transport) -> Scope {
        Scope::any().on(transport)
    }

    pub fn on(mut self, transport: Transport) -> Scope {
        self.transport = Some(transport);
        self
    }

    pub fn and_operation(mut self, operation: &str) -> Scope {
        self.operation = Some(operation.to_owned());
        self
    }

    pub fn matches(&self, transport: Transport, operation: &str) -> bool {
        self.transport.is_none_or(|t| t == transport)
            && match &self.operation {
                Some(wanted) => wanted == operation,
                None => endpoint::is_rpc(operation),
            }
    }
}

/// What the daemon reports about its own health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HealthFault {
    #[default]
    Healthy,
    /// `status: degraded` (still 200 on `/healthz`, 503 on `/readyz`), with this `error`.
    Degraded(String),
    /// `status: unhealthy`: 503 on `/healthz`, and the `health` operation fails with this error.
    Unhealthy(String),
}

/// What a matched one-shot fault does to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FaultAction {
    /// HTTP 500 `{"error": …}`; TCP `{"success":false,"error":…}`.
    Fail(String),
    /// Close the connection without answering.
    Drop,
    /// Answer with a body / line that is not JSON.
    Malformed,
}

#[derive(Debug)]
struct Armed {
    scope: Scope,
    action: FaultAction,
    remaining: usize,
}

#[derive(Debug, Default)]
struct FaultState {
    armed: Vec<Armed>,
    latency: Vec<(Scope, Duration)>,
    reject_tokens: bool,
    health: HealthFault,
    not_ready: Option<String>,
    // bd serve personality.
    journal_disabled: bool,
    /// (requests left, `Retry-After` seconds).
    busy: Option<(usize, u64)>,
    watch_saturated: bool,
    capabilities_without: Vec<String>,
}

/// The switchboard of faults of one daemon; cheap to clone, changes apply to the next request.
#[derive(Clone)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
    store: BeadStore,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("state", &*self.state())
            .finish()
    }
}

impl Faults {
    pub(crate) fn new(store: BeadStore) -> Faults {
        Faults {
            state: Arc::default(),
            store,
        }
    }

    /// The next `count` requests in `scope` fail with `message` (HTTP 500 / TCP `success: false`).
    pub fn fail_next(&self, scope: Scope, count: usize, message: &str) {
        self.arm(scope, count, FaultAction::Fail(message.to_owned()));
    }

    /// The next `count` requests in `scope` get their connection closed without an answer.
    pub fn drop_next(&self, scope: Scope, count: usize) {
        self.arm(scope, count, FaultAction::Drop);
    }

    /// The next `count` requests in `scope` get an answer that is not JSON (on `events`: a stream that
    /// starts with a garbage line).
    pub fn malform_next(&self, scope: Scope, count: usize) {
        self.arm(scope, count, FaultAction::Malformed);
    }

    /// Every request in `scope` waits `delay` before it is answered (the latest setting for a scope
    /// wins; `Duration::ZERO` turns it off).
    pub fn set_latency(&self, scope: Scope, delay: Duration) {
        let mut state = self.state();
        state.latency.retain(|(s, _)| s != &scope);
        state.latency.push((scope, delay));
    }

    /// Wrong-token mode: every authenticated request is refused with 401, whatever token it carries.
    pub fn set_reject_tokens(&self, reject: bool) {
        self.state().reject_tokens = reject;
    }

    pub fn set_health(&self, health: HealthFault) {
        self.state().health = health;
    }

    /// `Some(reason)`: `/readyz` answers 503 `{"status":"not ready","reason":…}`.
    pub fn set_not_ready(&self, reason: Option<&str>) {
        self.state().not_ready = reason.map(str::to_owned);
    }

    /// Writes `raw` verbatim into every open event stream (garbage lines, unknown event types, ...).
    pub fn inject_into_event_streams(&self, raw: &str) {
        self.store.broadcast(StreamItem::Raw(raw.to_owned()));
    }

    /// Ends every open event stream; clients must reconnect and resume from their last id.
    pub fn cut_event_streams(&self) {
        self.store.broadcast(StreamItem::Disconnect);
    }

    /// bd serve: the events journal is off, so `GET /v0/beads/events` and `events:watch` answer
    /// 409 `events_journal_disabled` (the store keeps journaling regardless).
    pub fn journal_disabled(&self, disabled: bool) {
        self.state().journal_disabled = disabled;
    }

    /// bd serve: the journal pruner removed every record with `seq <= through` (irreversible, and
    /// not undone by [`Faults::clear`]). Polls from before the floor get 410
    /// `events_journal_truncated`; open watches that fall behind get `event: truncated`.
    pub fn prune_journal_through(&self, through: i64) {
        self.store.prune_journal_through(through);
    }

    /// bd serve: the next `n_requests` requests that need the database (every route but
    /// `/healthz` and `/v0/beads/context`) get 503 `busy` with `Retry-After: retry_after_secs`.
    pub fn busy(&self, n_requests: usize, retry_after_secs: u64) {
        self.state().busy = (n_requests > 0).then_some((n_requests, retry_after_secs));
    }

    /// bd serve: `events:watch` answers 503 `events_watch_saturated` (as with 48 open streams).
    pub fn watch_saturated(&self, saturated: bool) {
        self.state().watch_saturated = saturated;
    }

    /// bd serve: these tokens are left out of `/v0/beads/context` `capabilities` (replaces the
    /// previous setting; `&[]` restores the full list).
    pub fn capabilities_without(&self, tokens: &[&str]) {
        self.state().capabilities_without = tokens.iter().map(|t| (*t).to_owned()).collect();
    }

    /// Back to a healthy, well-behaved daemon.
    pub fn clear(&self) {
        *self.state() = FaultState::default();
    }

    pub(crate) fn latency(&self, transport: Transport, operation: &str) -> Option<Duration> {
        let state = self.state();
        state
            .latency
            .iter()
            .rev()
            .find(|(scope, _)| scope.matches(transport, operation))
            .map(|(_, d)| *d)
    }

    /// Consumes the first armed fault matching this request.
    pub(crate) fn take(&self, transport: Transport, operation: &str) -> Option<FaultAction> {
        let mut state = self.state();
        let index = state
            .armed
            .iter()
            .position(|a| a.scope.matches(transport, operation))?;
        let armed = &mut state.armed[index];
        let action = armed.action.clone();
        armed.remaining -= 1;
        if armed.remaining == 0 {
            state.armed.remove(index);
        }
        Some(action)
    }

    pub(crate) fn journal_is_disabled(&self) -> bool {
        self.state().journal_disabled
    }

    /// Consumes one `busy` request: `Some(retry_after_secs)` while the fault lasts.
    pub(crate) fn take_busy(&self) -> Option<u64> {
        let mut state = self.state();
        let (left, retry_after) = state.busy?;
        state.busy = (left > 1).then_some((left - 1, retry_after));
        Some(retry_after)
    }

    pub(crate) fn watch_is_saturated(&self) -> bool {
        self.state().watch_saturated
    }

    pub(crate) fn removed_capabilities(&self) -> Vec<String> {
        self.state().capabilities_without.clone()
    }

    pub(crate) fn rejects_tokens(&self) -> bool {
        self.state().reject_tokens
    }

    pub(crate) fn health(&self) -> HealthFault {
        self.state().health.clone()
    }

    pub(crate) fn not_ready(&self) -> Option<String> {
        self.state().not_ready.clone()
    }

    fn arm(&self, scope: Scope, count: usize, action: FaultAction) {
        if count > 0 {
            self.state().armed.push(Armed {
                scope,
                action,
                remaining: count,
            });
        }
    }

    fn state(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults() -> Faults {
        Faults::new(BeadStore::default())
    }

    #[test]
    fn scopes_without_operation_skip_probes_and_streams() {
        let any = Scope::any();
        assert!(any.matches(Transport::Http, "list"));
        assert!(any.matches(Transport::Tcp, "agent_pod_list"));
        assert!(!any.matches(Transport::Http, "healthz"));
        assert!(!any.matches(Transport::Http, "events"));
        assert!(Scope::operation("healthz").matches(Transport::Http, "healthz"));
        let tcp_list = Scope::transport(Transport::Tcp).and_operation("list");
        assert!(tcp_list.matches(Transport::Tcp, "list"));
        assert!(!tcp_list.matches(Transport::Http, "list"));
        assert!(!tcp_list.matches(Transport::Tcp, "stats"));
    }

    #[test]
    fn one_shot_faults_are_consumed_in_order() {
        let faults = faults();
        faults.fail_next(Scope::operation("list"), 2, "boom");
        faults.drop_next(Scope::any(), 1);
        assert_eq!(
            faults.take(Transport::Http, "stats"),
            Some(FaultAction::Drop)
        );
        assert_eq!(faults.take(Transport::Http, "stats"), None);
        assert_eq!(
            faults.take(Transport::Tcp, "list"),
            Some(FaultAction::Fail("boom".into()))
        );
        assert_eq!(
            faults.take(Transport::Http, "list"),
            Some(FaultAction::Fail("boom".into()))
        );
        assert_eq!(faults.take(Transport::Http, "list"), None);
    }

    #[test]
    fn latency_per_scope_and_clear() {
        let faults = faults();
        faults.set_latency(Scope::transport(Transport::Tcp), Duration::from_millis(5));
        faults.set_latency(Scope::transport(Transport::Tcp), Duration::from_millis(7));
        assert_eq!(
            faults.latency(Transport::Tcp, "list"),
            Some(Duration::from_millis(7))
        );
        assert_eq!(faults.latency(Transport::Http, "list"), None);
        faults.set_reject_tokens(true);
        faults.set_health(HealthFault::Degraded("slow".into()));
        faults.clear();
        assert_eq!(faults.latency(Transport::Tcp, "list"), None);
        assert!(!faults.rejects_tokens());
        assert_eq!(faults.health(), HealthFault::Healthy);
    }
}

//! Fault injection and request accounting for tests.

use crate::errors::{ApiError, QualifiedResource};
use http::StatusCode;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// One planned failure: the next `remaining` requests matching verb and resource fail with `code`.
#[derive(Clone, Debug)]
struct Rule {
    verb: String,
    resource: String,
    code: StatusCode,
    retry_after: Duration,
    remaining: usize,
}

impl Rule {
    fn matches(&self, verb: &str, resource: &str) -> bool {
        (self.verb == "*" || self.verb == verb)
            && (self.resource == "*" || self.resource == resource)
    }
}

#[derive(Default)]
pub(crate) struct FaultState {
    rules: Mutex<Vec<Rule>>,
    latency: Mutex<Duration>,
}

impl FaultState {
    /// The injected error for this request, if a rule still has failures left.
    pub(crate) fn take(
        &self,
        verb: &str,
        resource: &str,
        target: &QualifiedResource,
        name: &str,
    ) -> Option<ApiError> {
        let mut rules = self.rules.lock();
        let index = rules
            .iter()
            .position(|r| r.remaining > 0 && r.matches(verb, resource))?;
        let rule = &mut rules[index];
        rule.remaining -= 1;
        let rule = rule.clone();
        rules.retain(|r| r.remaining > 0);
        Some(match rule.code.as_u16() {
            409 => ApiError::stale(target.clone(), name),
            429 => ApiError::TooManyRequests {
                message: "Too many requests, please try again later.".into(),
                retry_after: rule.retry_after,
            },
            403 => ApiError::Forbidden {
                resource: target.clone(),
                name: name.to_owned(),
                reason: "injected fault".into(),
            },
            500 => ApiError::Internal("injected fault".into()),
            _ => ApiError::Other {
                code: rule.code,
                message: "injected fault".into(),
            },
        })
    }

    pub(crate) fn latency(&self) -> Duration {
        *self.latency.lock()
    }
}

/// A test's handle on the server's failure modes. Cheap to clone.
#[derive(Clone)]
pub struct Faults {
    pub(crate) state: Arc<FaultState>,
    pub(crate) close_watches: Arc<watch::Sender<u64>>,
    pub(crate) compact: Arc<dyn Fn() + Send + Sync>,
}

impl Faults {
    /// Fails the next `times` requests for `verb` on `resource` (`pods`,
    /// `pods/status`; `*` matches any) with `code` (500, 409, 403, ...).
    pub fn fail(&self, verb: &str, resource: &str, code: u16, times: usize) {
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.push(Rule {
            verb: verb.into(),
            resource: resource.into(),
            code,
            retry_after: Duration::from_secs(1),
            remaining: times,
        });
    }

    /// Answers the next `times` matching requests with 429 and `Retry-After`.
    pub fn throttle(&self, verb: &str, resource: &str, retry_after: Duration, times: usize) {
        let code = StatusCode::TOO_MANY_REQUESTS;
        self.push(Rule {
            verb: verb.into(),
            resource: resource.into(),
            code,
            retry_after,
            remaining: times,
        });
    }

    fn push(&self, rule: Rule) {
        self.state.rules.lock().push(rule);
    }

    /// Delays every request by `latency` (zero turns it off).
    pub fn set_latency(&self, latency: Duration) {
        *self.state.latency.lock() = latency;
    }

    /// Drops every pending injected failure and the latency.
    pub fn clear(&self) {
        self.state.rules.lock().clear();
        self.set_latency(Duration::ZERO);
    }

    /// Ends every open watch (clients see the stream close and must re-watch).
    pub fn close_watches(&self) {
        self.close_watches
            .send_modify(|generation| *generation += 1);
    }

    /// Forgets all watch history: the next watch from an older resourceVersion gets 410 Gone.
    pub fn compact_history(&self) {
        (self.compact)();
    }
}

/// Requests served so far, by verb and resource (`pods`, `pods/status`, `widgets`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    counts: BTreeMap<(String, String), u64>,
}

const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

impl RequestCounts {
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        self.counts
            .get(&(verb.to_owned(), resource.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// All write requests (create, update, patch, delete, deletecollection).
    pub fn writes(&self) -> u64 {
        self.counts
            .iter()
            .filter(|((verb, _), _)| WRITE_VERBS.contains(&verb.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// `((verb, resource), count)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&(String, String), &u64)> {
        self.counts.iter()
    }
}

#[derive(Default)]
pub(crate) struct RequestLog {
    counts: Mutex<RequestCounts>,
}

impl RequestLog {
    pub(crate) fn record(&self, verb: &str, resource: &str) {
        *self
            .counts
            .lock()
            .counts
            .entry((verb.to_owned(), resource.to_owned()))
            .or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> RequestCounts {
        self.counts.lock().clone()
    }

    pub(crate) fn reset(&self) {
        self.counts.lock().counts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fail_a_bounded_number_of_matching_requests() {
        let state = FaultState::default();
        state.rules.lock().push(Rule {
            verb: "create".into(),
            resource: "pods".into(),
            code: StatusCode::INTERNAL_SERVER_ERROR,
            retry_after: Duration::from_secs(1),
            remaining: 2,
        });
        let pods = QualifiedResource::new("", "pods");
        assert!(state.take("get", "pods", &pods, "p").is_none());
        assert!(state.take("create", "configmaps", &pods, "p").is_none());
        assert_eq!(
            state.take("create", "pods", &pods, "p").unwrap().code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert!(state.take("create", "pods", &pods, "p").is_some());
        assert!(state.take("create", "pods", &pods, "p").is_none());
    }

    #[test]
    fn counts_writes_separately() {
        let log = RequestLog::default();
        log.record("list", "pods");
        log.record("patch", "pods/status");
        log.record("create", "configmaps");
        let counts = log.snapshot();
        assert_eq!(
            (
                counts.count("patch", "pods/status"),
                counts.writes(),
                counts.total()
            ),
            (1, 2, 3)
        );
        log.reset();
        assert_eq!(log.snapshot().total(), 0);
    }
}

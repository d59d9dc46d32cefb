//! Counting what clients asked for, so tests can assert e.g. "one batched `list` per sync".

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    Http,
    Tcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Http => "http",
            Transport::Tcp => "tcp",
        })
    }
}

/// Requests and failed answers for one operation on one transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub requests: u64,
    pub failures: u64,
}

/// A snapshot of every request the daemon received, keyed by transport and operation (RPC operation
/// names such as `list`, or `healthz`, `readyz`, `metrics`, `events`). Unauthorized, faulted and
/// unknown requests count too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestLog {
    tallies: BTreeMap<(Transport, String), Tally>,
}

impl RequestLog {
    /// Requests for `operation` on both transports.
    pub fn count(&self, operation: &str) -> u64 {
        self.tallies
            .iter()
            .filter(|((_, op), _)| op == operation)
            .map(|(_, t)| t.requests)
            .sum()
    }

    /// Requests for `operation` on one transport.
    pub fn count_on(&self, transport: Transport, operation: &str) -> u64 {
        self.tallies
            .get(&(transport, operation.to_owned()))
            .map_or(0, |t| t.requests)
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.tallies.values().map(|t| t.requests).sum()
    }

    /// Every (transport, operation) seen, with its tally.
    pub fn tallies(&self) -> impl Iterator<Item = (Transport, &str, Tally)> {
        self.tallies
            .iter()
            .map(|((transport, op), tally)| (*transport, op.as_str(), *tally))
    }

    /// Per-operation totals over both transports.
    pub fn by_operation(&self) -> BTreeMap<String, Tally> {
        let mut out: BTreeMap<String, Tally> = BTreeMap::new();
        for ((_, op), tally) in &self.tallies {
            let entry = out.entry(op.clone()).or_default();
            entry.requests += tally.requests;
            entry.failures += tally.failures;
        }
        out
    }
}

/// The requests of several logs together, e.g. of every tenant of a daemon.
impl std::iter::Sum for RequestLog {
    fn sum<I: Iterator<Item = RequestLog>>(logs: I) -> RequestLog {
        let mut total = RequestLog::default();
        for log in logs {
            for (key, tally) in log.tallies {
                let entry = total.tallies.entry(key).or_default();
                entry.requests += tally.requests;
                entry.failures += tally.failures;
            }
        }
        total
    }
}

/// The live, shared recorder behind [`RequestLog`] snapshots.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestRecorder {
    log: Arc<Mutex<RequestLog>>,
}

impl RequestRecorder {
    pub fn request(&self, transport: Transport, operation: &str) {
        self.update(transport, operation, |tally| tally.requests += 1);
    }

    pub fn failure(&self, transport: Transport, operation: &str) {
        self.update(transport, operation, |tally| tally.failures += 1);
    }

    pub fn snapshot(&self) -> RequestLog {
        self.lock().clone()
    }

    pub fn reset(&self) {
        *self.lock() = RequestLog::default();
    }

    fn update(&self, transport: Transport, operation: &str, change: impl FnOnce(&mut Tally)) {
        change(
            self.lock()
                .tallies
                .entry((transport, operation.to_owned()))
                .or_default(),
        );
    }

    fn lock(&self) -> MutexGuard<'_, RequestLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_operation_and_transport() {
        let recorder = RequestRecorder::default();
        recorder.request(Transport::Http, "list");
        recorder.request(Transport::Tcp, "list");
        recorder.request(Transport::Tcp, "list");
        recorder.failure(Transport::Tcp, "list");
        recorder.request(Transport::Http, "healthz");
        let log = recorder.snapshot();
        assert_eq!(log.count("list"), 3);
        assert_eq!(log.count_on(Transport::Tcp, "list"), 2);
        assert_eq!(log.count_on(Transport::Http, "stats"), 0);
        assert_eq!(log.total(), 4);
        assert_eq!(
            log.by_operation()["list"],
            Tally {
                requests: 3,
                failures: 1
            }
        );
        let other = RequestRecorder::default();
        other.request(Transport::Tcp, "list");
        other.failure(Transport::Tcp, "list");
        other.request(Transport::Http, "show");
        let both: RequestLog = [log.clone(), other.snapshot()].into_iter().sum();
        assert_eq!(both.count("list"), 4);
        assert_eq!(both.count("show"), 1);
        assert_eq!(both.by_operation()["list"].failures, 2);
        recorder.reset();
        assert_eq!(recorder.snapshot().total(), 0);
        assert_eq!(log.total(), 4, "snapshots do not change");
    }
}

//! The arithmetic of the figures: write accounting, the minimum writes a
//! converged fleet needs, percentiles. Pure, so that the definitions in
//! docs/benchmarks.md are tested here.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Verbs that change the cluster (as the embedded API server counts them).
pub const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// Requests by `(verb, resource)`, as the API server counted them.
pub type Requests = BTreeMap<(String, String), u64>;

/// The operator's writes, split into what the minimum counts and Events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Writes {
    /// Every write except Events.
    pub objects: u64,
    /// Event creations and updates (reported, not part of the ratio).
    pub events: u64,
    /// Writes by `verb resource`, Events included, for the findings.
    pub by_request: BTreeMap<String, u64>,
}

impl Writes {
    /// The writes in `requests` minus `harness` (the benchmark's own writes,
    /// by `(verb, resource)`).
    pub fn of(requests: &Requests, harness: &Requests) -> Writes {
        let mut writes = Writes::default();
        for ((verb, resource), count) in requests {
            if !WRITE_VERBS.contains(&verb.as_str()) {
                continue;
            }
            let ours = harness
                .get(&(verb.clone(), resource.clone()))
                .copied()
                .unwrap_or(0);
            let count = count.saturating_sub(ours);
            if count == 0 {
                continue;
            }
            if resource == "events" {
                writes.events += count;
            } else {
                writes.objects += count;
            }
            writes
                .by_request
                .insert(format!("{verb} {resource}"), count);
        }
        writes
    }
}

/// The fewest writes that can take a fleet from nothing to converged: one per
/// object the operator made, one status write per custom resource, one
/// metadata write per finalizer the operator added to an object it did not
/// create (the towns, which users create).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MinimumWrites {
    pub objects_created: u64,
    pub status_updates: u64,
    pub finalizers_added: u64,
}

impl MinimumWrites {
    pub fn total(&self) -> u64 {
        self.objects_created + self.status_updates + self.finalizers_added
    }

    /// Writes performed ÷ this minimum (`None` when nothing was needed).
    pub fn ratio(&self, performed: u64) -> Option<f64> {
        (self.total() > 0).then(|| performed as f64 / self.total() as f64)
    }
}

/// Requests by verb, summed over resources.
pub fn by_verb(requests: &Requests) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for ((verb, _), count) in requests {
        *out.entry(verb.clone()).or_default() += count;
    }
    out
}

/// GETs, and LISTs beyond one per watch started, in an idle window: reads a
/// cache should have served. `watches` is the number of WATCH requests.
pub fn extra_reads(requests: &Requests) -> u64 {
    let verbs = by_verb(requests);
    let get = |v: &str| verbs.get(v).copied().unwrap_or(0);
    get("get") + get("list").saturating_sub(get("watch"))
}

/// Whether a beads server operation is a long-lived change stream (or, for
/// `bd serve`, a read of its event journal, which a follower polls when it
/// cannot watch) rather than a request a sync makes: the bd daemon's
/// `events`, bd serve's `GET /v0/beads/events:watch` and `GET /v0/beads/events`.
pub fn is_beads_stream(operation: &str) -> bool {
    operation == "events"
        || operation == beads_testd::serve_op::WATCH
        || operation == beads_testd::serve_op::EVENTS
}

/// Beads server requests, the streams excluded ([`is_beads_stream`]), per
/// town per sync (`syncs` of 0 counts as 1).
pub fn beads_per_town_per_sync(
    by_operation: &BTreeMap<String, u64>,
    towns: usize,
    syncs: u32,
) -> f64 {
    let requests: u64 = by_operation
        .iter()
        .filter(|(op, _)| !is_beads_stream(op))
        .map(|(_, n)| n)
        .sum();
    requests as f64 / (towns as f64 * f64::from(syncs.max(1)))
}

/// CPU milliseconds per town per sync: `cpu_seconds` spent over an idle
/// window of `syncs` sync intervals of `towns` towns (`syncs` of 0 counts as 1).
pub fn cpu_ms_per_town_per_sync(cpu_seconds: f64, towns: usize, syncs: u32) -> f64 {
    cpu_seconds * 1000.0 / (towns.max(1) as f64 * f64::from(syncs.max(1)))
}

/// `value ÷ towns` (0 towns count as 1): a figure per town.
pub fn per_town(value: f64, towns: usize) -> f64 {
    value / towns.max(1) as f64
}

/// The `q`-quantile (0 ≤ q ≤ 1) of `samples` by the nearest-rank method.
pub fn percentile(samples: &[Duration], q: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.saturating_sub(1).min(sorted.len() - 1)])
}

/// Milliseconds, for reports.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(entries: &[(&str, &str, u64)]) -> Requests {
        entries
            .iter()
            .map(|(v, r, n)| ((v.to_string(), r.to_string()), *n))
            .collect()
    }

    #[test]
    fn writes_leave_out_reads_the_harness_and_count_events_apart() {
        let seen = requests(&[
            ("create", "gastowns", 3),
            ("patch", "deployments", 4),
            ("patch", "gastowns/status", 6),
            ("create", "events", 5),
            ("get", "secrets", 9),
            ("watch", "pods", 2),
        ]);
        let harness = requests(&[("create", "gastowns", 3)]);
        let writes = Writes::of(&seen, &harness);
        assert_eq!((writes.objects, writes.events), (10, 5));
        assert!(!writes.by_request.contains_key("create gastowns"));
        assert_eq!(writes.by_request["patch gastowns/status"], 6);
    }

    #[test]
    fn the_ratio_is_performed_over_the_minimum() {
        let minimum = MinimumWrites {
            objects_created: 8,
            status_updates: 1,
            finalizers_added: 1,
        };
        assert_eq!(minimum.total(), 10);
        assert_eq!(minimum.ratio(11), Some(1.1));
        assert_eq!(MinimumWrites::default().ratio(3), None);
    }

    #[test]
    fn extra_reads_are_gets_and_lists_beyond_the_watches() {
        let idle = requests(&[
            ("list", "pods", 3),
            ("watch", "pods", 2),
            ("get", "secrets", 4),
        ]);
        assert_eq!(extra_reads(&idle), 5);
        assert_eq!(by_verb(&idle)["list"], 3);
        assert_eq!(extra_reads(&requests(&[("watch", "pods", 7)])), 0);
    }

    #[test]
    fn beads_requests_per_town_per_sync_leave_out_the_streams_of_both_servers() {
        let daemon: BTreeMap<String, u64> = [("health", 20), ("list", 60), ("events", 7)]
            .into_iter()
            .map(|(op, n)| (op.to_string(), n))
            .collect();
        assert_eq!(beads_per_town_per_sync(&daemon, 2, 10), 4.0);
        let serve: BTreeMap<String, u64> = [
            ("GET /v0/beads/ready", 10),
            ("GET /v0/beads/issues", 30),
            ("GET /v0/beads/context", 1),
            ("GET /v0/beads/events:watch", 3),
            ("GET /v0/beads/events", 9),
        ]
        .into_iter()
        .map(|(op, n)| (op.to_string(), n))
        .collect();
        assert_eq!(beads_per_town_per_sync(&serve, 1, 10), 4.1);
        assert!(!is_beads_stream("GET /v0/beads/issues"));
        assert!(!is_beads_stream("list"));
        assert_eq!(beads_per_town_per_sync(&BTreeMap::new(), 1, 0), 0.0);
    }

    #[test]
    fn idle_cpu_is_milliseconds_per_town_per_sync() {
        // 100 towns, 10 syncs, 0.5 CPU s: half a millisecond per town per sync.
        assert_eq!(cpu_ms_per_town_per_sync(0.5, 100, 10), 0.5);
        assert_eq!(cpu_ms_per_town_per_sync(0.125, 1, 5), 25.0);
        assert_eq!(cpu_ms_per_town_per_sync(0.25, 0, 0), 250.0);
        assert_eq!(per_town(30.0, 100), 0.3);
        assert_eq!(per_town(4.0, 0), 4.0);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&samples, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(
            percentile(&[Duration::from_millis(7)], 0.99),
            Some(Duration::from_millis(7))
        );
        assert_eq!(percentile(&[], 0.5), None);
    }
}

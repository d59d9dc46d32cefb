//! Prometheus metrics of the operator, served as text at `/metrics`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every metric the operator exports, registered in its own registry.
pub struct Metrics {
    registry: Registry,
    pub reconciliations: IntCounterVec,
    pub reconcile_errors: IntCounterVec,
    pub reconcile_duration: HistogramVec,
    pub agents: IntGaugeVec,
    pub active_polecats: IntGaugeVec,
    pub pod_restarts: IntGaugeVec,
    pub beads_events: IntCounter,
    pub beads_request_duration: HistogramVec,
    pub beads_request_errors: IntCounterVec,
    pub backup_last_success: IntGaugeVec,
}

/// What one reconcile of an agent pool observed, in plain values: the
/// metrics know nothing of the controllers that measure them.
#[derive(Clone, Debug, Default)]
pub struct PoolSample<'a> {
    pub namespace: &'a str,
    pub town: &'a str,
    /// The beads rig name.
    pub rig: &'a str,
    pub role: &'a str,
    /// Agents of the rig and role by beads `agent_state`; `None` when beads
    /// did not answer, which leaves the last counts as they were.
    pub agents_by_state: Option<BTreeMap<&'a str, i64>>,
    /// Polecat pods of the rig not yet finished; `None` for other roles.
    pub active_polecats: Option<i64>,
    /// Container restarts of the pool's pods, by agent.
    pub restarts: Vec<(&'a str, i64)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let metrics = Metrics {
            reconciliations: IntCounterVec::new(
                Opts::new(
                    "gastown_reconciliations_total",
                    "Reconciles run, by controller",
                ),
                &["controller"],
            )
            .expect("valid metric"),
            reconcile_errors: IntCounterVec::new(
                Opts::new(
                    "gastown_reconcile_errors_total",
                    "Reconciles that failed, by controller and error kind",
                ),
                &["controller", "error"],
            )
            .expect("valid metric"),
            reconcile_duration: HistogramVec::new(
                HistogramOpts::new(
                    "gastown_reconcile_duration_seconds",
                    "Duration of reconciles, by controller",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["controller"],
            )
            .expect("valid metric"),
            agents: IntGaugeVec::new(
                Opts::new(
                    "gastown_agents",
                    "Agents by rig, role and beads agent_state",
                ),
                &["namespace", "town", "rig", "role", "state"],
            )
            .expect("valid metric"),
            active_polecats: IntGaugeVec::new(
                Opts::new(
                    "gastown_polecats_active",
                    "Polecat pods not yet finished, by rig",
                ),
                &["namespace", "rig"],
            )
            .expect("valid metric"),
            pod_restarts: IntGaugeVec::new(
                Opts::new(
                    "gastown_pod_restarts",
                    "Container restarts of agent pods, by rig and agent",
                ),
                &["namespace", "rig", "agent"],
            )
            .expect("valid metric"),
            beads_events: IntCounter::new(
                "gastown_beads_events_processed_total",
                "Mutation events received from bd daemons",
            )
            .expect("valid metric"),
            beads_request_duration: HistogramVec::new(
                HistogramOpts::new(
                    "gastown_beads_request_duration_seconds",
                    "bd daemon request latency, by operation",
                )
                .buckets(vec![
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                ]),
                &["operation"],
            )
            .expect("valid metric"),
            beads_request_errors: IntCounterVec::new(
                Opts::new(
                    "gastown_beads_request_errors_total",
                    "bd daemon requests that failed, by operation",
                ),
                &["operation"],
            )
            .expect("valid metric"),
            backup_last_success: IntGaugeVec::new(
                Opts::new(
                    "gastown_backup_last_success_timestamp_seconds",
                    "When the town's latest dolt backup succeeded (Unix seconds); absent until one has",
                ),
                &["namespace", "town"],
            )
            .expect("valid metric"),
            registry,
        };
        for collector in [
            Box::new(metrics.reconciliations.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.reconcile_errors.clone()),
            Box::new(metrics.reconcile_duration.clone()),
            Box::new(metrics.agents.clone()),
            Box::new(metrics.active_polecats.clone()),
            Box::new(metrics.pod_restarts.clone()),
            Box::new(metrics.beads_events.clone()),
            Box::new(metrics.beads_request_duration.clone()),
            Box::new(metrics.beads_request_errors.clone()),
            Box::new(metrics.backup_last_success.clone()),
        ] {
            metrics
                .registry
                .register(collector)
                .expect("metric names are unique");
        }
        metrics
    }

    /// Records one finished reconcile.
    pub fn reconciled(&self, controller: &str, duration: Duration, error: Option<&str>) {
        self.reconciliations.with_label_values(&[controller]).inc();
        self.reconcile_duration
            .with_label_values(&[controller])
            .observe(duration.as_secs_f64());
        if let Some(error) = error {
            self.reconcile_errors
                .with_label_values(&[controller, error])
                .inc();
        }
    }

    /// Records one bd daemon request.
    pub fn beads_request(&self, operation: &str, duration: Duration, failed: bool) {
        self.beads_request_duration
            .with_label_values(&[operation])
            .observe(duration.as_secs_f64());
        if failed {
            self.beads_request_errors
                .with_label_values(&[operation])
                .inc();
        }
    }

    /// Records what one reconcile of an agent pool observed: agents by state,
    /// active polecats and pod restarts.
    pub fn record_pool(&self, sample: &PoolSample<'_>) {
        let PoolSample {
            namespace,
            town,
            rig,
            role,
            ..
        } = *sample;
        if let Some(by_state) = &sample.agents_by_state {
            // States no agent is in any more drop out rather than keep a stale count.
            let stale: BTreeSet<String> = Collector::collect(&self.agents)
                .iter()
                .flat_map(|family| family.get_metric())
                .filter_map(|metric| {
                    let labels: BTreeMap<&str, &str> = metric
                        .get_label()
                        .iter()
                        .map(|l| (l.name(), l.value()))
                        .collect();
                    let ours = labels.get("namespace") == Some(&namespace)
                        && labels.get("town") == Some(&town)
                        && labels.get("rig") == Some(&rig)
                        && labels.get("role") == Some(&role);
                    let state = labels.get("state")?;
                    (ours && !by_state.contains_key(state)).then(|| state.to_string())
                })
                .collect();
            for state in &stale {
                let _ = self
                    .agents
                    .remove_label_values(&[namespace, town, rig, role, state]);
            }
            for (&state, &n) in by_state {
                self.agents
                    .with_label_values(&[namespace, town, rig, role, state])
                    .set(n);
            }
        }
        if let Some(active) = sample.active_polecats {
            self.active_polecats
                .with_label_values(&[namespace, rig])
                .set(active);
        }
        for &(agent, restarts) in &sample.restarts {
            self.pod_restarts
                .with_label_values(&[namespace, rig, agent])
                .set(restarts);
        }
    }

    /// Records when the town's latest backup succeeded; `None` (no backup
    /// configured, none succeeded yet, the town is gone) removes the series
    /// rather than invent a time.
    pub fn record_backup(&self, namespace: &str, town: &str, last_success: Option<i64>) {
        match last_success {
            Some(seconds) => self
                .backup_last_success
                .with_label_values(&[namespace, town])
                .set(seconds),
            None => {
                let _ = self
                    .backup_last_success
                    .remove_label_values(&[namespace, town]);
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding of gathered metrics cannot fail");
        String::from_utf8(buffer).expect("the text encoder writes UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_recorded_reconciles_and_errors() {
        let metrics = Metrics::new();
        metrics.reconciled("rig", Duration::from_millis(20), None);
        metrics.reconciled("rig", Duration::from_millis(30), Some("kube"));
        metrics.beads_request("list", Duration::from_millis(3), true);
        let text = metrics.render();
        assert!(
            text.contains("gastown_reconciliations_total{controller=\"rig\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("gastown_reconcile_errors_total{controller=\"rig\",error=\"kube\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gastown_beads_request_errors_total{operation=\"list\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gastown_reconcile_duration_seconds_count{controller=\"rig\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn a_state_no_agent_is_in_any_more_drops_out_of_the_agent_counts() {
        let metrics = Metrics::new();
        let sample = |rig, by_state: &[(&'static str, i64)]| PoolSample {
            namespace: "ns",
            town: "prod",
            rig,
            role: "polecat",
            agents_by_state: Some(by_state.iter().copied().collect()),
            ..PoolSample::default()
        };
        metrics.record_pool(&sample("gastown", &[("working", 2), ("done", 1)]));
        metrics.record_pool(&sample("other", &[("working", 4)]));
        let working = "gastown_agents{namespace=\"ns\",rig=\"gastown\",role=\"polecat\",state=\"working\",town=\"prod\"} 2";
        assert!(metrics.render().contains(working), "{}", metrics.render());

        metrics.record_pool(&sample("gastown", &[("done", 3)]));
        let text = metrics.render();
        assert!(
            !text.contains("rig=\"gastown\",role=\"polecat\",state=\"working\""),
            "{text}"
        );
        assert!(
            text.contains("gastown_agents{namespace=\"ns\",rig=\"gastown\",role=\"polecat\",state=\"done\",town=\"prod\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("gastown_agents{namespace=\"ns\",rig=\"other\",role=\"polecat\",state=\"working\",town=\"prod\"} 4"),
            "another rig's counts are not its to prune: {text}"
        );

        // Without an answer from beads the last counts stay.
        metrics.record_pool(&PoolSample {
            agents_by_state: None,
            ..sample("gastown", &[])
        });
        assert!(metrics.render().contains("state=\"done\",town=\"prod\"} 3"));
    }
}

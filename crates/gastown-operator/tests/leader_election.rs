//! Two replicas with leader election: only the Lease holder reconciles; the
//! other stands by (and is ready); when the leader stops, it hands over.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CONVERGE, Harness, NAMESPACE, eventually, minimal_town, running_town};
use gastown_api::GasTown;
use gastown_operator::context::Settings;
use gastown_operator::metrics::Metrics;
use gastown_operator::runtime::{
    Health, LeaderElection, Readiness, Runtime, RuntimeConfig, RuntimeError,
};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const LEASE: &str = "gastown-operator";

struct Replica {
    health: Health,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    task: JoinHandle<Result<(), RuntimeError>>,
}

impl Replica {
    fn start(harness: &Harness, identity: &str) -> Replica {
        let runtime = Runtime::new(RuntimeConfig {
            settings: Settings {
                daemon_override: Some(harness.testd.http_url()),
                ..Settings::default()
            },
            leader_election: Some(LeaderElection {
                identity: Some(identity.to_string()),
                lease_duration_secs: 4,
                renew_grace_secs: 1,
                ..LeaderElection::new(LEASE, NAMESPACE)
            }),
            ..RuntimeConfig::default()
        });
        let (health, metrics) = (runtime.health(), runtime.metrics());
        let stop = CancellationToken::new();
        let task = tokio::spawn(runtime.run(harness.client.clone(), stop.clone()));
        Replica {
            health,
            metrics,
            stop,
            task,
        }
    }

    fn reconciles(&self) -> u64 {
        ["gastown", "rig", "agentpool"]
            .iter()
            .map(|c| self.metrics.reconciliations.with_label_values(&[c]).get())
            .sum()
    }

    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the replica stops within 30 s")
            .expect("no panic")
            .expect("a clean stop");
    }
}

async fn holder(harness: &Harness) -> Option<String> {
    let leases: Api<Lease> = harness.api();
    leases.get_opt(LEASE).await.ok()??.spec?.holder_identity
}

async fn leading_and_ready(replica: &Replica, name: &str) {
    eventually(&format!("{name} leads with synced caches"), CONVERGE, || async {
        matches!(replica.health.get(), Readiness::Leading { .. } if replica.health.get().check().is_ok())
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_reconciles_and_it_hands_over_on_stop() {
    let harness = Harness::start().await;
    let a = Replica::start(&harness, "replica-a");
    leading_and_ready(&a, "replica-a").await;
    let b = Replica::start(&harness, "replica-b");
    eventually("replica-b stands by", CONVERGE, || async {
        (b.health.get() == Readiness::StandingBy).then_some(())
    })
    .await;
    assert!(b.health.get().check().is_ok(), "a standby replica is ready");
    assert_eq!(holder(&harness).await.as_deref(), Some("replica-a"));

    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &minimal_town())
        .await
        .expect("the town is created");
    running_town(&harness).await;
    assert!(a.reconciles() > 0, "the leader reconciled the town");
    assert_eq!(b.reconciles(), 0, "the standby reconciled nothing");
    assert_eq!(b.health.get(), Readiness::StandingBy);

    // The leader stops and releases the Lease: the standby takes over and reconciles.
    a.stop().await;
    leading_and_ready(&b, "replica-b").await;
    assert_eq!(holder(&harness).await.as_deref(), Some("replica-b"));
    eventually("replica-b reconciles", CONVERGE, || async {
        (b.reconciles() > 0).then_some(())
    })
    .await;

    b.stop().await;
    harness.shutdown().await;
}

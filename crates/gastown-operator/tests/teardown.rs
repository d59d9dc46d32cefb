//! Deleting a town drains it in order — rig agents, then the Rig, then the
//! town agents, then the infrastructure, then the town — asserted from the
//! sequence of deletions a watch observes; also across an operator restart
//! and under a foreground cascade.

mod common;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{CONVERGE, Harness, RIG, TOWN, converged_town, eventually};
use futures::StreamExt;
use gastown_api::{GasTown, Rig};
use gastown_operator::naming;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::task::JoinSet;

/// Deletions as `Kind/name`, in the order the API server made them: by the
/// resourceVersion of each deletion (one counter across kinds), not by arrival
/// — separate watches may deliver close events in either order.
#[derive(Clone, Default)]
struct Deletions(Arc<Mutex<Vec<(u64, String)>>>);

impl Deletions {
    fn record<K>(&self, api: Api<K>, tasks: &mut JoinSet<()>)
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
    {
        let log = self.0.clone();
        tasks.spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).boxed();
            while let Some(event) = events.next().await {
                if let Ok(watcher::Event::Delete(object)) = event {
                    let version = object
                        .resource_version()
                        .and_then(|v| v.parse().ok())
                        .expect("a deleted object carries the deletion's resourceVersion");
                    let entry = format!("{}/{}", K::kind(&()), object.name_any());
                    log.lock().unwrap().push((version, entry));
                }
            }
        });
    }

    fn snapshot(&self) -> Vec<String> {
        let mut deletions = self.0.lock().unwrap().clone();
        deletions.sort();
        deletions.into_iter().map(|(_, entry)| entry).collect()
    }
}

fn watch_deletions(harness: &Harness) -> (Deletions, JoinSet<()>) {
    let deletions = Deletions::default();
    let mut tasks = JoinSet::new();
    deletions.record(harness.api::<Pod>(), &mut tasks);
    deletions.record(harness.api::<StatefulSet>(), &mut tasks);
    deletions.record(harness.api::<Deployment>(), &mut tasks);
    deletions.record(harness.api::<Rig>(), &mut tasks);
    deletions.record(harness.api::<GasTown>(), &mut tasks);
    (deletions, tasks)
}

fn position(order: &[String], entry: &str) -> usize {
    order
        .iter()
        .position(|e| e == entry)
        .unwrap_or_else(|| panic!("{entry} was never deleted; deletions: {order:?}"))
}

/// The drain order of docs/architecture.md, over what the minimal town runs.
fn assert_drain_order(order: &[String]) {
    let rig_agents = [
        position(order, &format!("Pod/gt-{RIG}-witness")),
        position(order, &format!("Pod/gt-{RIG}-refinery")),
    ];
    let rig = position(order, &format!("Rig/{}", naming::rig_object(TOWN, RIG)));
    let town_agents = [
        position(order, &format!("Pod/gt-{TOWN}-mayor")),
        position(order, &format!("Pod/gt-{TOWN}-deacon")),
    ];
    let infrastructure = [
        position(order, &format!("Deployment/{}", naming::bd_daemon(TOWN))),
        position(order, &format!("StatefulSet/{}", naming::dolt(TOWN))),
    ];
    let town = position(order, &format!("GasTown/{TOWN}"));
    let max = |p: &[usize]| *p.iter().max().unwrap();
    let min = |p: &[usize]| *p.iter().min().unwrap();
    assert!(
        max(&rig_agents) < rig,
        "rig agents before the Rig: {order:?}"
    );
    assert!(
        rig < min(&town_agents),
        "the Rig before the town agents: {order:?}"
    );
    assert!(
        max(&town_agents) < min(&infrastructure),
        "town agents before the infrastructure: {order:?}"
    );
    assert!(max(&infrastructure) < town, "the town last: {order:?}");
}

async fn town_gone(harness: &Harness) {
    let towns: Api<GasTown> = harness.api();
    eventually("the town is gone", CONVERGE, || async {
        towns.get_opt(TOWN).await.ok()?.is_none().then_some(())
    })
    .await;
}

/// A finalizer of the test's own on the mayor's pod holds the teardown at
/// "stop the town agents", so the operator can be restarted exactly there.
const HOLD: &str = "test.gastown.io/hold";

async fn set_pod_finalizers(pods: &Api<Pod>, name: &str, finalizers: &[&str]) {
    pods.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
    )
    .await
    .expect("the pod's finalizers are set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_town_drains_in_order_across_an_operator_restart() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    converged_town(&harness).await;
    let pods: Api<Pod> = harness.api();
    let mayor = format!("gt-{TOWN}-mayor");
    set_pod_finalizers(&pods, &mayor, &[HOLD]).await;
    let (deletions, mut watches) = watch_deletions(&harness);

    let towns: Api<GasTown> = harness.api();
    towns
        .delete(TOWN, &DeleteParams::background())
        .await
        .expect("the delete is accepted");
    eventually("the teardown reaches the town agents", CONVERGE, || async {
        let pod = pods.get_opt(&mayor).await.ok()??;
        pod.metadata.deletion_timestamp.map(|_| ())
    })
    .await;

    // Restart the operator while the mayor's pod is still terminating.
    harness.stop_operator().await;
    harness.start_operator();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deployments: Api<Deployment> = harness.api();
    let daemon = deployments
        .get_opt(&naming::bd_daemon(TOWN))
        .await
        .expect("a deployment read");
    assert!(
        daemon.is_some_and(|d| d.metadata.deletion_timestamp.is_none()),
        "the bd daemon stays while a town agent is still terminating; deletions: {:?}",
        deletions.snapshot()
    );
    assert!(
        towns.get_opt(TOWN).await.unwrap().is_some(),
        "the town waits"
    );

    // The mayor's pod goes: the restarted operator finishes the teardown.
    set_pod_finalizers(&pods, &mayor, &[]).await;
    town_gone(&harness).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_drain_order(&deletions.snapshot());

    watches.abort_all();
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreground_cascade_keeps_the_drain_order() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    converged_town(&harness).await;
    let (deletions, mut watches) = watch_deletions(&harness);

    let towns: Api<GasTown> = harness.api();
    towns
        .delete(TOWN, &DeleteParams::foreground())
        .await
        .expect("the delete is accepted");
    town_gone(&harness).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_drain_order(&deletions.snapshot());

    watches.abort_all();
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rig_being_deleted_shows_draining_and_not_ready_until_it_is_gone() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    converged_town(&harness).await;
    let pods: Api<Pod> = harness.api();
    let witness = format!("gt-{RIG}-witness");
    set_pod_finalizers(&pods, &witness, &[HOLD]).await;

    let rigs: Api<Rig> = harness.api();
    let rig = naming::rig_object(TOWN, RIG);
    rigs.delete(&rig, &DeleteParams::background())
        .await
        .expect("the delete is accepted");
    // The held witness pod keeps the rig's teardown waiting.
    let condition = |rig: &Rig, type_: &str| {
        let conditions = rig.status.as_ref()?.conditions.as_ref()?;
        let found = conditions.iter().find(|c| c.type_ == type_)?;
        Some((found.status.clone(), found.reason.clone()))
    };
    let draining = eventually("the rig shows its drain", CONVERGE, || async {
        let rig = rigs.get_opt(&rig).await.ok()??;
        let phase = rig.status.as_ref()?.phase;
        (phase == Some(gastown_api::Phase::Draining)).then_some(rig)
    })
    .await;
    assert_eq!(
        condition(&draining, "Ready"),
        Some(("False".into(), "Draining".into()))
    );
    assert_eq!(
        condition(&draining, "Draining"),
        Some(("True".into(), "Draining".into()))
    );

    set_pod_finalizers(&pods, &witness, &[]).await;
    eventually("the rig's own teardown ends", CONVERGE, || async {
        let rig = rigs.get_opt(&rig).await.ok()?;
        rig.is_none_or(|r| r.metadata.deletion_timestamp.is_none())
            .then_some(())
    })
    .await;
    harness.shutdown().await;
}

/// A Rig applied on its own with the town's label belongs to the town: it is
/// counted in the town's status, and deleting the town drains it and deletes
/// it with the town's own rigs, before the town agents and the bd daemon its
/// agents talk to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rig_applied_on_its_own_counts_and_drains_with_its_town() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    converged_town(&harness).await;
    let rigs: Api<Rig> = harness.api();
    let standalone: Rig = serde_json::from_value(json!({
        "apiVersion": "gastown.io/v1alpha1", "kind": "Rig",
        "metadata": {"name": "tools", "namespace": common::NAMESPACE,
                     "labels": {"gastown.io/town": TOWN}},
        "spec": {"name": "tools", "gitURL": "https://git.example.com/tools.git"}
    }))
    .unwrap();
    rigs.create(&Default::default(), &standalone)
        .await
        .expect("the rig is applied");
    let towns: Api<GasTown> = harness.api();
    eventually("the town counts both rigs", CONVERGE, || async {
        let town = towns.get(TOWN).await.ok()?;
        (town.status?.rig_count == Some(2)).then_some(())
    })
    .await;
    let pods: Api<Pod> = harness.api();
    eventually("the standalone rig's witness runs", CONVERGE, || async {
        pods.get_opt("gt-tools-witness").await.ok()?.map(|_| ())
    })
    .await;

    let (deletions, mut watches) = watch_deletions(&harness);
    towns
        .delete(TOWN, &DeleteParams::background())
        .await
        .expect("the delete is accepted");
    town_gone(&harness).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let order = deletions.snapshot();
    assert_drain_order(&order);
    let tools = position(&order, "Rig/tools");
    assert!(
        position(&order, "Pod/gt-tools-witness") < tools,
        "its agents before the Rig: {order:?}"
    );
    assert!(
        tools < position(&order, &format!("Pod/gt-{TOWN}-mayor")),
        "the Rig before the town agents: {order:?}"
    );
    assert!(rigs.get_opt("tools").await.unwrap().is_none());

    watches.abort_all();
    harness.shutdown().await;
}

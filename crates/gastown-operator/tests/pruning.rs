//! Pruning: what an owner stops wanting is deleted on its next reconcile,
//! and nothing the drain-order teardown keeps for a finalizer is touched —
//! workloads, the pools' polecats, retained claims, dolt's data claim.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{CONVERGE, Harness, NAMESPACE, RIG, TOWN, eventually, minimal_town, quiet_window};
use gastown_api::{GasTown, labels};
use gastown_operator::naming;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn uids(pods: &Api<Pod>, selector: &str) -> BTreeMap<String, String> {
    pods.list(&ListParams::default().labels(selector))
        .await
        .expect("pods are listed")
        .items
        .into_iter()
        .map(|pod| (pod.name_any(), pod.uid().unwrap_or_default()))
        .collect()
}

async fn exists<K>(api: &Api<K>, name: &str) -> bool
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.expect("a read").is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_an_owner_stops_wanting_is_pruned_and_nothing_the_teardown_keeps_is_touched() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    let mut town = minimal_town();
    town.spec.rigs = Some(vec![
        serde_json::from_value(json!({
            "name": RIG,
            "gitURL": format!("https://git.example.com/{RIG}.git"),
            "crew": [{"name": "max"}],
        }))
        .unwrap(),
    ]);
    let towns: Api<GasTown> = harness.api();
    towns
        .create(&PostParams::default(), &town)
        .await
        .expect("the town is created");
    let pods: Api<Pod> = harness.api();
    let crew_pod = format!("gt-{RIG}-crew-max");
    let mayor_pod = format!("gt-{TOWN}-mayor");
    eventually("the crew member and the mayor run", CONVERGE, || async {
        (exists(&pods, &crew_pod).await && exists(&pods, &mayor_pod).await).then_some(())
    })
    .await;

    // dolt's data claim as the StatefulSet controller makes it: labelled
    // with the StatefulSet's selector, so the town's labels.
    let statefulsets: Api<StatefulSet> = harness.api();
    let dolt = statefulsets
        .get(&naming::dolt(TOWN))
        .await
        .expect("dolt's StatefulSet");
    let selector = dolt.spec.as_ref().unwrap().selector.match_labels.clone();
    let claims: Api<PersistentVolumeClaim> = harness.api();
    let dolt_claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": format!("data-{}-0", naming::dolt(TOWN)), "namespace": NAMESPACE,
                     "labels": selector},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }))
    .unwrap();
    claims
        .create(&PostParams::default(), &dolt_claim)
        .await
        .expect("dolt's claim is created");
    quiet_window(&harness, Duration::from_secs(3)).await;

    let polecats = format!("{}={TOWN},{}=polecat", labels::TOWN, labels::ROLE);
    let polecats_before = uids(&pods, &polecats).await;
    assert!(!polecats_before.is_empty(), "the seeded town has polecats");
    let deployments: Api<Deployment> = harness.api();
    let daemon_uid = deployments
        .get(&naming::bd_daemon(TOWN))
        .await
        .expect("the bd daemon")
        .uid();
    let rig_object = naming::rig_object(TOWN, RIG);
    let crew_claim = naming::crew_workspace(&rig_object, "max");
    assert!(exists(&claims, &crew_claim).await);

    // The crew member leaves the rig and the mayor is turned off.
    harness.server.reset_requests();
    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {
                "rigs": [{"name": RIG, "gitURL": format!("https://git.example.com/{RIG}.git")}],
                "mayor": {"enabled": false},
            }})),
        )
        .await
        .expect("the town is edited");
    eventually("the crew and mayor pods are pruned", CONVERGE, || async {
        let gone = |pod: Option<Pod>| pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some());
        (gone(pods.get_opt(&crew_pod).await.ok()?) && gone(pods.get_opt(&mayor_pod).await.ok()?))
            .then_some(())
    })
    .await;
    // Let the operator finish what the edit started; every request since the edit.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let counts = harness.server.requests();

    assert_eq!(
        counts.count("delete", "pods"),
        2,
        "only the crew and mayor pods are deleted"
    );
    for kind in ["statefulsets", "deployments", "persistentvolumeclaims"] {
        assert_eq!(common::writes_to(&counts, kind), 0, "{kind} written");
    }
    assert_eq!(
        uids(&pods, &polecats).await,
        polecats_before,
        "polecats untouched"
    );
    assert_eq!(
        deployments
            .get(&naming::bd_daemon(TOWN))
            .await
            .unwrap()
            .uid(),
        daemon_uid
    );
    // reclaimPolicy Retain (the default): the crew member's claim stays.
    assert!(
        exists(&claims, &crew_claim).await,
        "{crew_claim} is retained"
    );
    assert!(exists(&claims, &naming::rig_workspace(&rig_object)).await);
    assert!(
        exists(&claims, &dolt_claim.name_any()).await,
        "dolt's claim stays"
    );

    harness.shutdown().await;
}

//! Edits of a running town's spec are followed, and touch nothing else:
//! the request accounting of the API server shows which kinds were written.

mod common;

use std::time::Duration;

use common::{
    CONVERGE, Harness, RIG, TOWN, converged_town, eventually, quiet_window, writes_by_resource,
    writes_to,
};
use embedded_apiserver::RequestCounts;
use gastown_api::{AgentPool, GasTown};
use gastown_operator::naming;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ResourceQuota};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

/// Kinds that no edit below concerns (the rig edits also leave the town's infrastructure alone).
const INFRASTRUCTURE: [&str; 5] = [
    "statefulsets",
    "deployments",
    "services",
    "configmaps",
    "priorityclasses",
];

/// Replaces the town's only rig entry with `rig` (a JSON merge patch
/// replaces lists whole).
async fn edit_rig(harness: &Harness, rig: Value) {
    let towns: Api<GasTown> = harness.api();
    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"rigs": [rig]}})),
        )
        .await
        .expect("the town is edited");
}

fn rig_entry(extra: Value) -> Value {
    let mut rig = json!({"name": RIG, "gitURL": format!("https://git.example.com/{RIG}.git")});
    rig.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    rig
}

async fn pod_uid(pods: &Api<Pod>, name: &str) -> Option<String> {
    pods.get_opt(name)
        .await
        .expect("a pod read")
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .and_then(|pod| pod.uid())
}

/// Lets the operator finish what the edit started, then returns every
/// request since the last reset.
async fn settled_requests(harness: &Harness) -> RequestCounts {
    tokio::time::sleep(Duration::from_secs(2)).await;
    harness.server.requests()
}

fn assert_untouched(counts: &RequestCounts, kinds: &[&str], edit: &str) {
    for kind in kinds {
        assert_eq!(
            writes_to(counts, kind),
            0,
            "{edit} wrote {kind}: {:?}",
            writes_by_resource(counts)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_edits_are_followed_and_touch_nothing_else() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    converged_town(&harness).await;
    let pods: Api<Pod> = harness.api();
    let witness = format!("gt-{RIG}-witness");
    let refinery = format!("gt-{RIG}-refinery");
    let mayor = format!("gt-{TOWN}-mayor");
    let refinery_uid = pod_uid(&pods, &refinery).await.expect("a refinery");
    let mayor_uid = pod_uid(&pods, &mayor).await.expect("a mayor");
    assert!(pod_uid(&pods, &witness).await.is_some(), "a witness");
    let rig_object = naming::rig_object(TOWN, RIG);

    // 1. A crew member joins: its pod and its own claim appear.
    harness.server.reset_requests();
    edit_rig(&harness, rig_entry(json!({"crew": [{"name": "max"}]}))).await;
    let crew_pod = format!("gt-{RIG}-crew-max");
    eventually("the crew pod exists", CONVERGE, || async {
        pod_uid(&pods, &crew_pod).await
    })
    .await;
    let claims: Api<PersistentVolumeClaim> = harness.api();
    let crew_claim = naming::crew_workspace(&rig_object, "max");
    assert!(
        claims.get_opt(&crew_claim).await.unwrap().is_some(),
        "{crew_claim}"
    );
    let counts = settled_requests(&harness).await;
    assert_untouched(&counts, &INFRASTRUCTURE, "adding crew");
    assert_eq!(
        counts.count("delete", "pods"),
        0,
        "adding crew deletes no pod"
    );
    let crew_uid = pod_uid(&pods, &crew_pod).await.expect("the crew pod");
    quiet_window(&harness, Duration::from_secs(3)).await;

    // 2. dolt's image changes: its StatefulSet follows; no pod and no other workload is written.
    harness.server.reset_requests();
    let towns: Api<GasTown> = harness.api();
    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"dolt": {"image": "dolthub/dolt-sql-server:1.44.0"}}})),
        )
        .await
        .expect("the town is edited");
    let statefulsets: Api<StatefulSet> = harness.api();
    eventually("dolt runs the new image", CONVERGE, || async {
        let sts = statefulsets.get(&naming::dolt(TOWN)).await.ok()?;
        let image = sts.spec?.template.spec?.containers.first()?.image.clone()?;
        (image == "dolthub/dolt-sql-server:1.44.0").then_some(())
    })
    .await;
    let counts = settled_requests(&harness).await;
    assert_untouched(
        &counts,
        &[
            "deployments",
            "pods",
            "rigs",
            "resourcequotas",
            "agentpools",
        ],
        "changing dolt's image",
    );
    assert_eq!(
        counts.count("patch", "statefulsets"),
        1,
        "{:?}",
        writes_by_resource(&counts)
    );
    quiet_window(&harness, Duration::from_secs(3)).await;

    // 3. The polecat ceiling rises: the quota and the pool follow.
    harness.server.reset_requests();
    edit_rig(
        &harness,
        rig_entry(json!({
            "crew": [{"name": "max"}],
            "polecats": {"maxCount": 7},
        })),
    )
    .await;
    let quotas: Api<ResourceQuota> = harness.api();
    let quota_name = naming::polecat_quota(&rig_object);
    eventually("the quota allows 7 polecat pods", CONVERGE, || async {
        let quota = quotas.get(&quota_name).await.ok()?;
        let pods = quota.spec?.hard?.get("pods")?.0.clone();
        (pods == "7").then_some(())
    })
    .await;
    let pools: Api<AgentPool> = harness.api();
    eventually("the polecat pool allows 7", CONVERGE, || async {
        let pool = pools.get(&naming::polecat_pool(&rig_object)).await.ok()?;
        (pool.spec.max_count == Some(7)).then_some(())
    })
    .await;
    let counts = settled_requests(&harness).await;
    assert_untouched(&counts, &INFRASTRUCTURE, "raising maxCount");
    assert_eq!(counts.count("delete", "pods"), 0);
    assert_eq!(
        pod_uid(&pods, &refinery).await.as_ref(),
        Some(&refinery_uid)
    );
    quiet_window(&harness, Duration::from_secs(3)).await;

    // 4. The witness is disabled: its pod goes, every other pod stays.
    harness.server.reset_requests();
    edit_rig(
        &harness,
        rig_entry(json!({
            "crew": [{"name": "max"}],
            "polecats": {"maxCount": 7},
            "witness": {"enabled": false},
        })),
    )
    .await;
    eventually("the witness pod is gone", CONVERGE, || async {
        pod_uid(&pods, &witness).await.is_none().then_some(())
    })
    .await;
    let counts = settled_requests(&harness).await;
    assert_untouched(&counts, &INFRASTRUCTURE, "disabling the witness");
    assert_eq!(
        counts.count("delete", "pods"),
        1,
        "{:?}",
        writes_by_resource(&counts)
    );
    assert_eq!(
        pod_uid(&pods, &refinery).await.as_ref(),
        Some(&refinery_uid)
    );
    assert_eq!(pod_uid(&pods, &crew_pod).await.as_ref(), Some(&crew_uid));
    assert_eq!(pod_uid(&pods, &mayor).await.as_ref(), Some(&mayor_uid));
    quiet_window(&harness, Duration::from_secs(3)).await;

    // 5. The workspace grows: its claim's request follows. Then it is asked to
    //    shrink and change class, which no claim may: the claim stays as it is
    //    and the rig stays quiet instead of retrying a refused write.
    let rig_with_workspace = |workspace: Value| {
        rig_entry(json!({
            "crew": [{"name": "max"}],
            "polecats": {"maxCount": 7},
            "witness": {"enabled": false},
            "workspace": workspace,
        }))
    };
    let workspace_claim = naming::rig_workspace(&rig_object);
    let requested = async || {
        let claim = claims.get(&workspace_claim).await.ok()?;
        let spec = claim.spec?;
        let size = spec.resources?.requests?.get("storage")?.0.clone();
        Some((size, spec.storage_class_name))
    };
    harness.server.reset_requests();
    edit_rig(&harness, rig_with_workspace(json!({"size": "20Gi"}))).await;
    eventually("the workspace claim asks for 20Gi", CONVERGE, || async {
        (requested().await? == ("20Gi".to_string(), None)).then_some(())
    })
    .await;
    let counts = settled_requests(&harness).await;
    assert_untouched(&counts, &INFRASTRUCTURE, "growing the workspace");
    assert_eq!(counts.count("delete", "pods"), 0);
    quiet_window(&harness, Duration::from_secs(3)).await;

    let rig_errors = harness.reconcile_errors("rig");
    edit_rig(
        &harness,
        rig_with_workspace(json!({"size": "5Gi", "storageClassName": "other"})),
    )
    .await;
    quiet_window(&harness, Duration::from_secs(3)).await;
    assert_eq!(requested().await, Some(("20Gi".to_string(), None)));
    assert_eq!(
        harness.reconcile_errors("rig"),
        rig_errors,
        "no rig reconcile failed over the claim"
    );

    // 6. dolt's NetworkPolicy is turned off: it goes, and nothing else is written.
    let policies: Api<k8s_openapi::api::networking::v1::NetworkPolicy> = harness.api();
    let dolt_policy = naming::dolt(TOWN);
    assert!(policies.get_opt(&dolt_policy).await.unwrap().is_some());
    harness.server.reset_requests();
    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"dolt": {"networkPolicy": {"enabled": false}}}})),
        )
        .await
        .expect("the town is edited");
    eventually("dolt's NetworkPolicy is gone", CONVERGE, || async {
        policies
            .get_opt(&dolt_policy)
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    let counts = settled_requests(&harness).await;
    assert_untouched(&counts, &INFRASTRUCTURE, "turning dolt's NetworkPolicy off");
    assert_eq!(counts.count("delete", "pods"), 0);

    harness.shutdown().await;
}

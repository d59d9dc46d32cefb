//! The API server misbehaves while the operator works — 500s, 409s, 429s,
//! closed watches, and a compacted history (410 Gone on re-watch) — and the
//! town still converges, with nothing created twice.

mod common;

use std::time::Duration;

use common::{CONVERGE, Harness, RIG, TOWN, eventually, minimal_town, quiet_window, running_town};
use gastown_api::GasTown;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn names<K>(api: &Api<K>) -> Vec<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .expect("a list")
        .iter()
        .map(|o| o.name_any())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_during_reconcile_still_converge_without_duplicates() {
    let mut harness = Harness::start().await;
    let faults = harness.server.faults();
    faults.fail("patch", "statefulsets", 500, 2);
    faults.fail("patch", "deployments", 409, 1);
    faults.throttle("patch", "services", Duration::from_secs(1), 2);
    faults.fail("patch", "pods", 500, 1);
    harness.start_operator();
    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &minimal_town())
        .await
        .expect("the town is created");
    running_town(&harness).await;
    let errors: u64 = harness
        .metrics()
        .reconcile_errors
        .with_label_values(&["gastown", "kube"])
        .get();
    assert!(errors > 0, "the injected failures reached the reconciles");

    // Every watch ends and the history is gone: re-watching from the last
    // resourceVersion gets 410 Gone, so the caches must list again.
    faults.close_watches();
    faults.compact_history();
    let towns: Api<GasTown> = harness.api();
    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"rigs": [{
                "name": RIG,
                "gitURL": format!("https://git.example.com/{RIG}.git"),
                "crew": [{"name": "max"}],
            }]}})),
        )
        .await
        .expect("the town is edited");
    let pods: Api<Pod> = harness.api();
    eventually(
        "the crew pod exists after the re-list",
        CONVERGE,
        || async { pods.get_opt(&format!("gt-{RIG}-crew-max")).await.ok()? },
    )
    .await;

    // Nothing twice: exactly the objects of one town.
    assert_eq!(
        names(&harness.api::<StatefulSet>()).await,
        [format!("{TOWN}-dolt")]
    );
    assert_eq!(
        names(&harness.api::<Deployment>()).await,
        [format!("{TOWN}-bd-daemon")]
    );
    let pod_names = names(&pods).await;
    for agent in [
        format!("gt-{TOWN}-mayor"),
        format!("gt-{TOWN}-deacon"),
        format!("gt-{RIG}-witness"),
        format!("gt-{RIG}-refinery"),
        format!("gt-{RIG}-crew-max"),
    ] {
        assert_eq!(
            pod_names.iter().filter(|name| **name == agent).count(),
            1,
            "{agent} in {pod_names:?}"
        );
    }
    quiet_window(&harness, Duration::from_secs(3)).await;
    harness.shutdown().await;
}

//! beads drives the cluster through the whole operator: a bead change reaches
//! the AgentPool through the town's mutation stream and beads view, well
//! before any periodic resync (the sync interval here is five minutes).

mod common;

use std::time::Duration;

use common::{Harness, RIG, TOWN, eventually, minimal_town, running_town};
use gastown_api::GasTown;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};

/// Far below the five-minute sync interval: only the mutation stream can
/// make the operator act this soon.
const TRIGGERED: Duration = Duration::from_secs(20);

fn pod_name(agent: &str) -> String {
    format!("gt-{RIG}-polecat-{agent}")
}

async fn live_pod(pods: &Api<Pod>, name: &str) -> Option<Pod> {
    pods.get_opt(name)
        .await
        .expect("a pod read")
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polecat_comes_and_goes_as_beads_says() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    let mut town = minimal_town();
    town.spec.sync_interval = Some("5m".parse().expect("a Go duration"));
    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &town)
        .await
        .expect("the town is created");
    running_town(&harness).await;
    let pods: Api<Pod> = harness.api();
    assert!(live_pod(&pods, &pod_name("rictus")).await.is_none());
    let events_before = harness.metrics().beads_events.get();

    // beads spawns a polecat: its pod appears.
    harness
        .testd
        .store()
        .insert(common::agent_bead(Some(RIG), "polecat", "rictus", "spawning"));
    let pod = eventually("rictus's pod exists", TRIGGERED, || async {
        live_pod(&pods, &pod_name("rictus")).await
    })
    .await;
    let labels = pod.metadata.labels.unwrap_or_default();
    assert_eq!(labels["gastown.io/town"], TOWN);
    assert_eq!(labels["gastown.io/role"], "polecat");
    assert_eq!(labels["gastown.io/agent"], "rictus");
    // The pod may come from a town sync already under way (beads is read
    // afresh on each); the stream counts the change within its coalescing window.
    eventually(
        "the mutation stream counted the change",
        TRIGGERED,
        || async { (harness.metrics().beads_events.get() > events_before).then_some(()) },
    )
    .await;

    // beads says it is done: the pod goes.
    harness
        .testd
        .store()
        .set_agent_state(&format!("gt-{RIG}-polecat-rictus"), "done");
    eventually("rictus's pod is gone", TRIGGERED, || async {
        live_pod(&pods, &pod_name("rictus"))
            .await
            .is_none()
            .then_some(())
    })
    .await;

    harness.shutdown().await;
}

//! beads drives the cluster through the whole operator: a bead change reaches
//! the AgentPool through the town's mutation stream and beads view, well
//! before any periodic resync (the sync interval here is five minutes).

mod common;

use std::time::Duration;

use beads_testd::Personality;
use common::{Harness, RIG, TOWN, eventually, minimal_town, running_town};
use gastown_api::GasTown;
use gastown_api::gastown::BeadsProtocol;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};

/// Far below the five-minute sync interval: only the mutation stream can
/// make the operator act this soon.
const TRIGGERED: Duration = Duration::from_secs(20);

/// The relisting interval of a town without an events journal, shortened
/// (default 30 s) so that the test stays short.
const RELIST: Duration = Duration::from_secs(3);

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
    let spawned = std::time::Instant::now();
    harness.testd.store().insert(common::agent_bead(
        Some(RIG),
        "polecat",
        "rictus",
        "spawning",
    ));
    let pod = eventually("rictus's pod exists", TRIGGERED, || async {
        live_pod(&pods, &pod_name("rictus")).await
    })
    .await;
    // Seen here, not asserted (figures belong to the bench): how soon.
    eprintln!("rictus's pod {:?} after its bead", spawned.elapsed());
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
    let done = std::time::Instant::now();
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
    eprintln!("rictus's pod deleted {:?} after done", done.elapsed());

    harness.shutdown().await;
}

/// A town on `bd serve` whose events journal is off: the status says how
/// the operator learns of changes instead, and beads still drives the pods
/// (by relisting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_events_journal_bd_serve_towns_say_so_and_still_follow() {
    let mut harness = Harness::start_as(Personality::Serve).await;
    harness.testd.faults().journal_disabled(true);
    harness.start_operator_with(|settings| {
        settings.beads_client.mutations.relist_interval = RELIST;
    });
    let mut town = minimal_town();
    town.spec.daemon.protocol = Some(BeadsProtocol::Serve);
    town.spec.sync_interval = Some("5m".parse().expect("a Go duration"));
    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &town)
        .await
        .expect("the town is created");
    running_town(&harness).await;
    let towns: Api<GasTown> = harness.api();
    let feed = eventually("the town says its change feed", TRIGGERED, || async {
        let town = towns.get(TOWN).await.ok()?;
        town.status?.daemon?.change_feed
    })
    .await;
    assert!(feed.contains("journal"), "{feed}");
    assert_eq!(
        towns
            .get(TOWN)
            .await
            .unwrap()
            .status
            .unwrap()
            .daemon
            .unwrap()
            .protocol
            .as_deref(),
        Some("serve")
    );

    // Relisting (not the five-minute sync) still brings the pod.
    harness.testd.store().insert(common::agent_bead_as(
        Personality::Serve,
        Some(RIG),
        "polecat",
        "rictus",
        "spawning",
    ));
    let pods: Api<Pod> = harness.api();
    eventually("rictus's pod exists", TRIGGERED, || async {
        live_pod(&pods, &pod_name("rictus")).await
    })
    .await;

    // The journal comes back: the status says the stream works again.
    harness.testd.faults().journal_disabled(false);
    eventually("the change feed is a stream again", TRIGGERED, || async {
        let town = towns.get(TOWN).await.ok()?;
        (town.status?.daemon?.change_feed.as_deref() == Some("stream")).then_some(())
    })
    .await;
    harness.shutdown().await;
}

/// A town that names an existing `bd serve` by URL (no override, no Dolt of
/// its own): it converges to Running from beads as current Gas Town writes
/// them, says which server it reads, reads its rig's merge queue from the
/// rig's own server, and beads drives its polecats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_town_on_an_external_bd_serve_url_runs_from_beads() {
    let mut harness = Harness::start_as(Personality::Serve).await;
    harness.start_operator_with(|settings| settings.daemon_override = None);
    let url = harness.testd.http_url();
    let mut town = minimal_town();
    town.spec.dolt = None;
    town.spec.daemon = serde_json::from_value(serde_json::json!({
        "protocol": "serve",
        "external": {"url": url},
        "tokenSecretRef": {"name": "bd-daemon-token", "key": "token"},
        // The rig's own database holds its merge requests; here the same
        // test server plays it.
        "rigServers": [{"rig": RIG, "url": url}],
    }))
    .expect("a daemon spec");
    town.spec.sync_interval = Some("5m".parse().expect("a Go duration"));
    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &town)
        .await
        .expect("the town is created");
    let town = running_town(&harness).await;
    let daemon = town
        .status
        .and_then(|s| s.daemon)
        .expect("the daemon's status");
    assert_eq!(daemon.protocol.as_deref(), Some("serve"));
    assert_eq!(
        daemon.endpoint.as_deref(),
        Some(url.trim_start_matches("http://"))
    );
    assert_eq!(daemon.connected, Some(true));
    // The rig's queue comes from its own server: the seed's two queued and
    // one processing merge requests (unknown without `rigServers`).
    let towns: Api<GasTown> = harness.api();
    eventually("the rig's merge queue is known", TRIGGERED, || async {
        let town = towns.get(TOWN).await.ok()?;
        let rig = town.status?.rigs?.into_iter().find(|r| r.name == RIG)?;
        (rig.merge_queue_depth == Some(3)).then_some(())
    })
    .await;

    harness.testd.store().insert(common::agent_bead_as(
        Personality::Serve,
        Some(RIG),
        "polecat",
        "rictus",
        "spawning",
    ));
    let pods: Api<Pod> = harness.api();
    eventually("rictus's pod exists", TRIGGERED, || async {
        live_pod(&pods, &pod_name("rictus")).await
    })
    .await;
    // Its pod is recorded on its bead, in the metadata key of ours.
    eventually("the pod is recorded on the bead", TRIGGERED, || async {
        let bead = harness
            .testd
            .store()
            .get(&format!("gt-{RIG}-polecat-rictus"))?;
        (bead.metadata["k8s_pod"]["name"] == pod_name("rictus")).then_some(())
    })
    .await;
    harness.shutdown().await;
}

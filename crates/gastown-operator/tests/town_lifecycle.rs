//! A town from the minimal example, end to end: it converges, then rests
//! without writes; a daemon outage is reported without deleting anything.

mod common;

use std::time::Duration;

use beads_client::{Beads, project};
use beads_testd::Personality;
use beads_testd::Scope as BeadsScope;
use common::{
    CONVERGE, Harness, RIG, TOWN, condition, controller_owner, eventually, minimal_town,
    quiet_window, running_town, writes_by_resource,
};
use gastown_api::{GasTown, Rig};
use gastown_operator::naming;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::api::{Api, PostParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_town_converges_with_beads_counts_and_then_writes_nothing() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    let towns: Api<GasTown> = harness.api();
    let town = towns
        .create(&PostParams::default(), &minimal_town())
        .await
        .expect("the town is created");
    let town_uid = town.uid().expect("stored");

    let town = running_town(&harness).await;
    let status = town.status.clone().expect("status");

    // Infrastructure: workloads carry labels but no owner reference (a
    // foreground cascade must not remove them early); services are owned.
    let sts: StatefulSet = harness.api().get(&naming::dolt(TOWN)).await.expect("dolt");
    assert_eq!(sts.labels()["gastown.io/town"], TOWN);
    let dolt_policy: k8s_openapi::api::networking::v1::NetworkPolicy = harness
        .api()
        .get(&naming::dolt(TOWN))
        .await
        .expect("only the daemon may reach dolt");
    assert_eq!(
        controller_owner(&dolt_policy).map(|o| o.uid.as_str()),
        Some(town_uid.as_str())
    );
    assert_eq!(
        sts.labels()["app.kubernetes.io/managed-by"],
        "gastown-operator"
    );
    assert!(
        sts.owner_references().is_empty(),
        "{:?}",
        sts.owner_references()
    );
    let dolt_image = sts
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone();
    assert_eq!(
        dolt_image.as_deref(),
        Some("dolthub/dolt-sql-server:1.81.6")
    );
    let daemon: Deployment = harness
        .api()
        .get(&naming::bd_daemon(TOWN))
        .await
        .expect("bd daemon");
    assert!(daemon.owner_references().is_empty());
    let daemon_image = daemon
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone();
    assert_eq!(
        daemon_image.as_deref(),
        Some("ghcr.io/groblegark/beads:0.60.0")
    );
    for service in [naming::dolt(TOWN), naming::bd_daemon(TOWN)] {
        let service: Service = harness.api().get(&service).await.expect("service");
        let owner = controller_owner(&service).expect("owned by the town");
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("GasTown", town_uid.as_str())
        );
    }

    // The rig, owned by the town and labelled with it.
    let rig: Rig = harness
        .api()
        .get(&naming::rig_object(TOWN, RIG))
        .await
        .expect("the rig object");
    assert_eq!(rig.spec.name, RIG);
    assert_eq!(rig.labels()["gastown.io/town"], TOWN);
    assert_eq!(
        controller_owner(&rig).map(|o| o.uid.as_str()),
        Some(town_uid.as_str())
    );

    // Town agents: bare pods that restart in place.
    let pods: Api<Pod> = harness.api();
    for role in ["mayor", "deacon"] {
        let pod = pods
            .get(&format!("gt-{TOWN}-{role}"))
            .await
            .unwrap_or_else(|e| panic!("the {role} pod: {e}"));
        assert_eq!(pod.labels()["gastown.io/role"], role);
        assert_eq!(
            pod.spec.as_ref().unwrap().restart_policy.as_deref(),
            Some("Always")
        );
    }

    // Status from beads: the operator's numbers are beads' numbers.
    let beads = Beads::detect(
        &harness.testd.http_url(),
        Some(beads_client::Token::new(harness.testd.token()).unwrap()),
        beads_client::ClientConfig::default(),
    )
    .await
    .expect("a beads client");
    let snapshot = beads.snapshot().await.expect("a snapshot");
    let expected = project(
        &snapshot,
        beads_client::jiff::Timestamp::now(),
        Duration::from_secs(600),
    );
    let from_beads = expected.rig(RIG).expect("beads knows the rig");
    assert_eq!(status.rig_count, Some(1));
    let summary = &status.rigs.as_ref().expect("rig summaries")[0];
    assert_eq!(summary.name, RIG);
    assert_eq!(summary.polecat_count, Some(from_beads.polecat_count as i32));
    assert_eq!(summary.crew_count, Some(from_beads.crew_count as i32));
    assert_eq!(
        summary.merge_queue_depth,
        from_beads.merge_queue_depth.map(|n| n as i32)
    );
    match common::beads_personality() {
        // The seed queues merge requests.
        Personality::Daemon => assert!(summary.merge_queue_depth.unwrap() > 0),
        // A town's bd serve holds none of its rigs' merge requests.
        Personality::Serve => assert_eq!(summary.merge_queue_depth, None),
    }
    assert_eq!(
        status.daemon.as_ref().and_then(|d| d.protocol.as_deref()),
        Some(beads.protocol().as_str())
    );
    assert_eq!(
        status.mayor.as_ref().and_then(|m| m.state.as_deref()),
        Some("working")
    );
    assert_eq!(status.daemon.as_ref().and_then(|d| d.connected), Some(true));
    assert_eq!(
        status.daemon.as_ref().and_then(|d| d.version.as_deref()),
        Some("0.60.0")
    );
    assert_eq!(
        condition(&town, "DaemonReady").map(|c| c.0).as_deref(),
        Some("True")
    );

    // At rest: periodic resyncs (every 2 s) run and write nothing.
    let resyncs = quiet_window(&harness, Duration::from_secs(5)).await;
    assert!(
        resyncs >= 2,
        "only {resyncs} town reconciles in a 5 s window with a 2 s syncInterval"
    );

    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_outage_is_reported_deletes_nothing_and_recovers() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    let towns: Api<GasTown> = harness.api();
    towns
        .create(&PostParams::default(), &minimal_town())
        .await
        .expect("the town is created");
    running_town(&harness).await;
    quiet_window(&harness, Duration::from_secs(3)).await;
    let pods: Api<Pod> = harness.api();
    let pods_before: Vec<String> = pods
        .list(&Default::default())
        .await
        .expect("pods")
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert!(
        pods_before.contains(&format!("gt-{TOWN}-mayor")),
        "{pods_before:?}"
    );

    // Every request to the daemon now has its connection dropped.
    harness.server.reset_requests();
    harness
        .testd
        .faults()
        .drop_next(BeadsScope::any(), 1_000_000);
    harness
        .testd
        .faults()
        .set_health(beads_testd::HealthFault::Unhealthy("dolt is gone".into()));
    let message = eventually("DaemonReady turns False", CONVERGE, || async {
        let town = towns.get(TOWN).await.ok()?;
        condition(&town, "DaemonReady").filter(|(status, _)| status == "False")
    })
    .await
    .1;
    assert!(!message.is_empty(), "DaemonReady False says why");
    // Several resyncs while the daemon is down.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let counts = harness.server.requests();
    assert_eq!(
        counts.count("delete", "pods"),
        0,
        "{:?}",
        writes_by_resource(&counts)
    );
    assert_eq!(counts.count("deletecollection", "pods"), 0);
    let pods_during: Vec<String> = pods
        .list(&Default::default())
        .await
        .expect("pods")
        .iter()
        .map(|p| p.name_any())
        .collect();
    for pod in &pods_before {
        assert!(
            pods_during.contains(pod),
            "{pod} was removed during the outage"
        );
    }

    // The daemon is back: the town recovers on its own.
    harness.testd.faults().clear();
    harness
        .testd
        .faults()
        .set_health(beads_testd::HealthFault::Healthy);
    eventually("DaemonReady turns True again", CONVERGE, || async {
        let town = towns.get(TOWN).await.ok()?;
        condition(&town, "DaemonReady").filter(|(status, _)| status == "True")
    })
    .await;
    let town = running_town(&harness).await;
    let status = town.status.expect("status");
    assert_eq!(
        status.mayor.and_then(|m| m.state).as_deref(),
        Some("working")
    );
    assert_eq!(status.daemon.and_then(|d| d.connected), Some(true));
    harness.shutdown().await;
}

/// A write the API server refuses as invalid is the owner's to fix: it shows as
/// one Warning Event on the town quoting the API server, not only in the
/// operator's log, and retries do not repeat it. A town name that starts with
/// a digit passes the CRD's rules but makes Service names that are no DNS-1035
/// labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_becomes_one_warning_event_on_the_town() {
    use k8s_openapi::api::events::v1::Event;
    let mut harness = Harness::start().await;
    harness.start_operator();
    let towns: Api<GasTown> = harness.api();
    let mut town = minimal_town();
    town.metadata.name = Some("9lives".into());
    towns
        .create(&PostParams::default(), &town)
        .await
        .expect("the CRD's rules admit the name");

    let events: Api<Event> = harness.api();
    let refusals = async || {
        events
            .list(&Default::default())
            .await
            .expect("events are listed")
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("9lives")
                    && e.reason.as_deref() == Some("ReconcileFailed")
            })
            .collect::<Vec<_>>()
    };
    let event = eventually("a ReconcileFailed event", CONVERGE, || async {
        refusals().await.into_iter().next()
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    let note = event.note.unwrap_or_default();
    assert!(note.contains("9lives-"), "{note}");
    assert!(note.contains("DNS-1035 label"), "{note}");
    // The first retries come after 5 and 10 s: both fail the same way and
    // tell nobody anything new.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(harness.reconcile_errors("gastown") >= 2);
    let told = refusals().await;
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0].series.as_ref().map(|s| s.count), None, "no repeats");

    harness.shutdown().await;
}

/// Two towns in one namespace that declare a rig of the same name: agent pods
/// are `gt-<rig>-<role>-<agent>`, so the later town's Rig waits, saying why,
/// and the first town's rig pods are never replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_town_with_the_same_rig_name_in_a_namespace_waits() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    let towns: Api<GasTown> = harness.api();
    towns
        .create(&PostParams::default(), &minimal_town())
        .await
        .expect("the first town is created");
    running_town(&harness).await;
    let pods: Api<Pod> = harness.api();
    let witness = format!("gt-{RIG}-witness");
    let witness_uid = pods.get(&witness).await.expect("a witness").uid();

    let mut second = minimal_town();
    second.metadata.name = Some("second".into());
    towns
        .create(&PostParams::default(), &second)
        .await
        .expect("the second town is created");
    let rigs: Api<Rig> = harness.api();
    let second_rig = naming::rig_object("second", RIG);
    let message = eventually(
        "the second town's rig says why it waits",
        CONVERGE,
        || async {
            let rig = rigs.get(&second_rig).await.ok()?;
            let ready = rig
                .status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == gastown_api::rig::condition::READY)?;
            (ready.status == "False").then_some(ready.message)
        },
    )
    .await;
    assert!(
        message.contains(&format!(
            "Rig {} of town {TOWN} already uses spec.name {RIG}",
            naming::rig_object(TOWN, RIG)
        )),
        "{message}"
    );
    quiet_window(&harness, Duration::from_secs(3)).await;
    assert_eq!(
        pods.get(&witness).await.expect("the witness stays").uid(),
        witness_uid,
        "the first town's witness was never replaced"
    );
    let second_town_rig_pods = pods
        .list(&kube::api::ListParams::default().labels("gastown.io/town=second,gastown.io/rig"))
        .await
        .unwrap();
    assert!(
        second_town_rig_pods.items.is_empty(),
        "{:?}",
        second_town_rig_pods
            .items
            .iter()
            .map(|p| p.name_any())
            .collect::<Vec<_>>()
    );

    harness.shutdown().await;
}

//! What converging a town costs the API server: the operator creates every
//! Rig and AgentPool with one write (their finalizer is part of the apply
//! that creates them), and the town's status is written per change of phase
//! or condition, its progress at most once per interval.

mod common;

use std::time::Duration;

use beads_testd::{TownShape, seed_town};
use common::{CONVERGE, Harness, RIG, minimal_town, running_town, writes_by_resource, writes_to};
use embedded_apiserver::RequestCounts;
use gastown_api::{AgentPool, GasTown, Rig};
use gastown_operator::controllers::town_status::PROGRESS_INTERVAL;
use gastown_operator::naming;
use kube::ResourceExt;
use kube::api::{ListParams, PostParams};

/// 1 town × 10 rigs × 3 crew, the benchmark's mid-sized fleet.
const RIGS: usize = 10;
const CREW: usize = 3;
/// Moments at which the town's conditions change while it comes up (first
/// status; dolt and daemon ready; mayor and deacon healthy; rigs reconciled
/// and Ready), with room for them to fall into separate reconciles.
const TRANSITION_WRITES: u64 = 8;

fn rig_names() -> Vec<String> {
    std::iter::once(RIG.to_string())
        .chain((1..RIGS).map(|n| format!("rig{n}")))
        .collect()
}

fn ten_rig_town() -> GasTown {
    let mut town = minimal_town();
    let crew: Vec<_> = (0..CREW)
        .map(|c| serde_json::json!({"name": format!("c{c}")}))
        .collect();
    town.spec.rigs = Some(
        rig_names()
            .iter()
            .map(|name| {
                serde_json::from_value(serde_json::json!({"name": name, "crew": crew}))
                    .expect("a rig entry")
            })
            .collect(),
    );
    // Only the spec's changes and the pods' progress should cause writes.
    town.spec.sync_interval = Some("60s".parse().expect("a Go duration"));
    town
}

/// Waits until the server has counted no new write for `window` (without
/// resetting its counts) and returns them.
async fn settled(harness: &Harness, window: Duration) -> RequestCounts {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    let mut last = harness.server.requests();
    loop {
        tokio::time::sleep(window).await;
        let now = harness.server.requests();
        if now.writes() == last.writes() {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the operator never stopped writing: {:?}",
            writes_by_resource(&now)
        );
        last = now;
    }
}

/// Counts every write of one convergence, from creating the town until the
/// operator rests, and prints them by verb and resource (a debug-build view
/// of the benchmark's 1 × 10 × 3 convergence row).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_town_writes_each_rig_and_pool_once() {
    let mut harness = Harness::start().await;
    let others: Vec<String> = rig_names().into_iter().skip(1).collect();
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    seed_town(
        harness.testd.store(),
        &others,
        &TownShape {
            polecats_per_rig: 0,
            crew_per_rig: CREW,
            ..TownShape::default()
        },
    );
    harness.start_operator();
    harness.server.reset_requests();
    let started = std::time::Instant::now();
    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &ten_rig_town())
        .await
        .expect("the town is created");
    running_town(&harness).await;
    let converged_within = started.elapsed();
    let counts = settled(&harness, Duration::from_secs(3)).await;
    let writes = writes_by_resource(&counts);
    eprintln!("writes from creating the town until rest: {writes:#?}");

    let rigs = harness
        .api::<Rig>()
        .list(&ListParams::default())
        .await
        .expect("rigs");
    let pools = harness
        .api::<AgentPool>()
        .list(&ListParams::default())
        .await
        .expect("pools");
    assert_eq!((rigs.items.len(), pools.items.len()), (RIGS, RIGS));
    for rig in &rigs.items {
        assert_eq!(
            rig.finalizers(),
            [naming::RIG_FINALIZER],
            "{}",
            rig.name_any()
        );
    }
    for pool in &pools.items {
        assert_eq!(
            pool.finalizers(),
            [naming::POOL_FINALIZER],
            "{}",
            pool.name_any()
        );
    }
    // One apply each, finalizer included; status goes to the subresource.
    assert_eq!(writes_to(&counts, "rigs"), RIGS as u64, "{writes:#?}");
    assert_eq!(writes_to(&counts, "agentpools"), RIGS as u64, "{writes:#?}");
    // The town's status: once per change of phase or condition (a handful),
    // and progress (pods running, rigs settling) at most once per interval —
    // not once per pod or rig step (that was 25 writes here).
    let progress_writes = converged_within.as_secs() / PROGRESS_INTERVAL.as_secs() + 1;
    assert!(
        counts.count("patch", "gastowns/status") <= TRANSITION_WRITES + progress_writes,
        "{writes:#?} within {converged_within:?}"
    );
    harness.shutdown().await;
}

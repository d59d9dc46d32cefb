//! Safe rollouts: a new agent image reaches every persistent agent one at a
//! time per scope, a busy crew member waits for idle, and running polecats
//! keep the spec they started with.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{CONVERGE, Harness, RIG, TOWN, eventually, minimal_town, running_town};
use gastown_api::{AgentPool, GasTown};
use gastown_operator::naming;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;

const NEW_IMAGE: &str = "ghcr.io/groblegark/gastown/gastown-agent:2026.1205.1";

fn image(pod: &Pod) -> Option<String> {
    pod.spec.as_ref()?.containers.first()?.image.clone()
}

fn ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The rig's persistent agents' pods, by name.
async fn rig_agents(pods: &Api<Pod>) -> BTreeMap<String, Pod> {
    let selector = format!("gastown.io/rig={RIG},gastown.io/role in (witness,refinery,crew)");
    pods.list(&ListParams::default().labels(&selector))
        .await
        .map(|list| list.items.into_iter().map(|p| (p.name_any(), p)).collect())
        .unwrap_or_default()
}

/// Samples, every 25 ms until aborted, how many of `declared` are missing
/// or not Ready; the most seen is in the counter.
fn sample_down(pods: &Api<Pod>, declared: &[String]) -> (Arc<AtomicUsize>, JoinHandle<()>) {
    let worst = Arc::new(AtomicUsize::new(0));
    let (pods, seen, declared) = (pods.clone(), worst.clone(), declared.to_vec());
    let sampler = tokio::spawn(async move {
        loop {
            let agents = rig_agents(&pods).await;
            let down = declared
                .iter()
                .filter(|name| !agents.get(*name).is_some_and(ready))
                .count();
            seen.fetch_max(down, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
    (worst, sampler)
}

fn condition(town: &GasTown, type_: &str) -> Option<(String, String, String)> {
    town.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_agent_image_rolls_one_agent_at_a_time_and_waits_for_busy_crew() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    let mut town = minimal_town();
    town.spec.rigs = Some(vec![
        serde_json::from_value(json!({
            "name": RIG,
            "gitURL": format!("https://git.example.com/{RIG}.git"),
            "crew": [{"name": "ann"}, {"name": "bob"}, {"name": "cid"}],
        }))
        .unwrap(),
    ]);
    let towns: Api<GasTown> = harness.api();
    towns.create(&PostParams::default(), &town).await.unwrap();
    running_town(&harness).await;
    let pods: Api<Pod> = harness.api();
    let declared = [
        format!("gt-{RIG}-witness"),
        format!("gt-{RIG}-refinery"),
        format!("gt-{RIG}-crew-ann"),
        format!("gt-{RIG}-crew-bob"),
        format!("gt-{RIG}-crew-cid"),
    ];
    eventually("the rig's five agents run", CONVERGE, || async {
        let agents = rig_agents(&pods).await;
        declared
            .iter()
            .all(|name| agents.get(name).is_some_and(ready))
            .then_some(())
    })
    .await;
    // Bob is at work in beads; the polecats run the old spec.
    harness
        .testd
        .store()
        .insert(common::agent_bead(Some(RIG), "crew", "bob", "working"));
    let polecats = ListParams::default().labels("gastown.io/role=polecat");
    let polecats_before: BTreeMap<String, (String, Option<String>)> = pods
        .list(&polecats)
        .await
        .unwrap()
        .items
        .iter()
        .filter(|p| ready(p))
        .map(|p| (p.name_any(), (p.uid().unwrap_or_default(), image(p))))
        .collect();
    assert!(!polecats_before.is_empty(), "the seeded town runs polecats");
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Sample, all along, how many of the rig's agents are missing or not Ready.
    let (worst, sampler) = sample_down(&pods, &declared);

    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"defaults": {"image": NEW_IMAGE}}})),
        )
        .await
        .unwrap();
    let bob = format!("gt-{RIG}-crew-bob");
    eventually(
        "everyone but busy bob runs the new image",
        CONVERGE,
        || async {
            let agents = rig_agents(&pods).await;
            declared
                .iter()
                .filter(|name| **name != bob)
                .all(|name| {
                    agents
                        .get(name)
                        .is_some_and(|p| ready(p) && image(p).as_deref() == Some(NEW_IMAGE))
                })
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let agents = rig_agents(&pods).await;
    assert_ne!(
        image(&agents[&bob]).as_deref(),
        Some(NEW_IMAGE),
        "a working crew member is not interrupted"
    );
    let waiting = eventually("the town says whom it waits for", CONVERGE, || async {
        let town = towns.get(TOWN).await.ok()?;
        condition(&town, "AgentsUpToDate").filter(|(_, reason, _)| reason == "WaitingForIdle")
    })
    .await;
    assert_eq!(waiting.0, "False");
    assert!(waiting.2.contains(&bob), "{}", waiting.2);

    // Bob goes idle: his pod follows, and the town is up to date.
    harness
        .testd
        .store()
        .set_agent_state(&format!("gt-{RIG}-crew-bob"), "idle");
    let town = eventually("every agent runs the new spec", CONVERGE, || async {
        let agents = rig_agents(&pods).await;
        let all_new = declared.iter().all(|name| {
            agents
                .get(name)
                .is_some_and(|p| ready(p) && image(p).as_deref() == Some(NEW_IMAGE))
        });
        let town = towns.get(TOWN).await.ok()?;
        let up_to_date =
            condition(&town, "AgentsUpToDate").is_some_and(|(status, ..)| status == "True");
        (all_new && up_to_date).then_some(town)
    })
    .await;
    sampler.abort();
    assert!(
        worst.load(Ordering::Relaxed) <= 1,
        "at most one of the rig's agents was down at a time, saw {}",
        worst.load(Ordering::Relaxed)
    );
    drop(town);
    // The counts are progress, written within a few seconds.
    eventually(
        "the town counts 7 of 7 agents updated",
        CONVERGE,
        || async {
            let status = towns.get(TOWN).await.ok()?.status?;
            // Mayor, deacon and the rig's five.
            (status.declared_agents == Some(7) && status.updated_agents == Some(7)).then_some(())
        },
    )
    .await;

    // The polecats that were running keep their pods and their spec, and
    // their pool says so; the next polecat gets the new spec.
    for (name, (uid, old_image)) in &polecats_before {
        if let Some(pod) = pods.get_opt(name).await.unwrap() {
            assert_eq!(pod.uid().as_ref(), Some(uid), "{name} was not replaced");
            assert_eq!(&image(&pod), old_image, "{name} keeps its spec");
        }
    }
    let pools: Api<AgentPool> = harness.api();
    let pool_name = naming::polecat_pool(&naming::rig_object(TOWN, RIG));
    eventually(
        "the pool counts its polecats on the older spec",
        CONVERGE,
        || async {
            let pool = pools.get(&pool_name).await.ok()?;
            (pool.status?.older_spec == Some(polecats_before.len() as i32)).then_some(())
        },
    )
    .await;
    harness.testd.store().insert(common::agent_bead(
        Some(RIG),
        "polecat",
        "newcomer",
        "spawning",
    ));
    let newcomer = eventually("a new polecat starts", CONVERGE, || async {
        pods.get_opt(&format!("gt-{RIG}-polecat-newcomer"))
            .await
            .ok()?
    })
    .await;
    assert_eq!(image(&newcomer).as_deref(), Some(NEW_IMAGE));
    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_crew_go_when_forced_or_after_max_wait_and_a_restart_keeps_the_pace() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    let mut town = minimal_town();
    town.spec.rigs = Some(vec![
        serde_json::from_value(json!({
            "name": RIG,
            "gitURL": format!("https://git.example.com/{RIG}.git"),
            "crew": [{"name": "ann"}, {"name": "bob"}],
        }))
        .unwrap(),
    ]);
    town.spec.rollout = Some(serde_json::from_value(json!({"maxWaitForIdle": "4s"})).unwrap());
    let towns: Api<GasTown> = harness.api();
    towns.create(&PostParams::default(), &town).await.unwrap();
    running_town(&harness).await;
    let pods: Api<Pod> = harness.api();
    let (ann, bob) = (format!("gt-{RIG}-crew-ann"), format!("gt-{RIG}-crew-bob"));
    eventually("the crew runs", CONVERGE, || async {
        let agents = rig_agents(&pods).await;
        [&ann, &bob]
            .iter()
            .all(|name| agents.get(*name).is_some_and(ready))
            .then_some(())
    })
    .await;
    for name in ["ann", "bob"] {
        harness
            .testd
            .store()
            .insert(common::agent_bead(Some(RIG), "crew", name, "working"));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"defaults": {"image": NEW_IMAGE}}})),
        )
        .await
        .unwrap();

    // Ann is forced at once, busy or not.
    pods.patch(
        &ann,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"gastown.io/replace-now": "true"}}})),
    )
    .await
    .unwrap();
    let forced_at = tokio::time::Instant::now();
    eventually("ann runs the new image", CONVERGE, || async {
        let pod = pods.get_opt(&ann).await.ok()??;
        (ready(&pod) && image(&pod).as_deref() == Some(NEW_IMAGE)).then_some(())
    })
    .await;
    let bob_pod = pods.get(&bob).await.unwrap();
    assert_ne!(
        image(&bob_pod).as_deref(),
        Some(NEW_IMAGE),
        "bob still works"
    );
    assert!(
        bob_pod
            .annotations()
            .contains_key("gastown.io/waiting-for-idle-since"),
        "bob's wait is recorded on his pod"
    );

    // The operator restarts during bob's wait: the recorded start holds, and
    // bob is replaced once maxWaitForIdle has passed — not before.
    harness.stop_operator().await;
    harness.start_operator();
    eventually(
        "bob runs the new image after the wait",
        CONVERGE,
        || async {
            let pod = pods.get_opt(&bob).await.ok()??;
            (ready(&pod) && image(&pod).as_deref() == Some(NEW_IMAGE)).then_some(())
        },
    )
    .await;
    assert!(
        forced_at.elapsed() >= Duration::from_secs(3),
        "bob waited for maxWaitForIdle"
    );
    harness.shutdown().await;
}

/// Crew a pool runs for beads roll with the rig's own agents, one at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crew_a_pool_runs_roll_one_at_a_time_with_the_rigs_own_agents() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    let towns: Api<GasTown> = harness.api();
    towns
        .create(&PostParams::default(), &minimal_town())
        .await
        .unwrap();
    running_town(&harness).await;
    for name in ["dee", "eve"] {
        harness
            .testd
            .store()
            .insert(common::agent_bead(Some(RIG), "crew", name, "idle"));
    }
    let pools: Api<AgentPool> = harness.api();
    let pool: AgentPool = serde_json::from_value(json!({
        "apiVersion": "gastown.io/v1alpha1", "kind": "AgentPool",
        "metadata": {"name": "crew", "namespace": common::NAMESPACE,
                     "labels": {"gastown.io/town": TOWN}},
        "spec": {"rig": RIG, "role": "crew"}
    }))
    .unwrap();
    pools.create(&PostParams::default(), &pool).await.unwrap();
    let pods: Api<Pod> = harness.api();
    let declared = [
        format!("gt-{RIG}-witness"),
        format!("gt-{RIG}-refinery"),
        format!("gt-{RIG}-crew-dee"),
        format!("gt-{RIG}-crew-eve"),
    ];
    eventually(
        "the pool's crew and the rig's agents run",
        CONVERGE,
        || async {
            let agents = rig_agents(&pods).await;
            declared
                .iter()
                .all(|name| agents.get(name).is_some_and(ready))
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (worst, sampler) = sample_down(&pods, &declared);
    // Every agent of the town gets the new image.
    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"defaults": {"image": NEW_IMAGE}}})),
        )
        .await
        .unwrap();
    eventually("all four run the new image", CONVERGE, || async {
        let agents = rig_agents(&pods).await;
        declared
            .iter()
            .all(|name| {
                agents
                    .get(name)
                    .is_some_and(|p| ready(p) && image(p).as_deref() == Some(NEW_IMAGE))
            })
            .then_some(())
    })
    .await;
    sampler.abort();
    let worst = worst.load(Ordering::Relaxed);
    assert!(
        worst <= 1,
        "at most one of the rig's agents down at a time, saw {worst}"
    );
    harness.shutdown().await;
}

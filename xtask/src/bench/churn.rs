//! Polecat churn driven from beads: polecat beads appear (`spawning`), their
//! pods must appear; the beads turn `done`, their pods must go. Latencies run
//! from the bead change to the pod's creation or deletion as a pod watch sees it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use beads_testd::Issue;
use futures::StreamExt;
use gastown_api::AgentRole;
use gastown_operator::naming;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::watcher;
use serde::Serialize;
use tokio::sync::mpsc;

use super::env::{Env, NAMESPACE, TownSpec, rig_name, town_name};
use super::operator::Operator;
use super::plan::{ChurnPlan, FleetShape, Plan};
use super::stats::{millis, percentile};

/// Longest wait for one wave's pods to appear or go.
const WAVE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Serialize)]
pub struct ChurnResult {
    pub plan: ChurnPlan,
    pub pods_created: usize,
    pub pods_deleted: usize,
    pub create_p50_ms: Option<f64>,
    pub create_p99_ms: Option<f64>,
    pub delete_p50_ms: Option<f64>,
    pub delete_p99_ms: Option<f64>,
    pub seconds: f64,
    /// Waits that ended by [`WAVE_TIMEOUT`] rather than by every pod.
    pub timeouts: usize,
}

#[derive(Debug)]
enum Seen {
    Created(String),
    Deleted(String),
}

/// One polecat of the run: its rig, bead and pod.
struct Polecat {
    rig: String,
    name: String,
}

impl Polecat {
    fn bead_id(&self) -> String {
        Issue::agent(Some(&self.rig), "polecat", &self.name, "spawning").id
    }

    fn pod_name(&self) -> String {
        naming::agent_pod(
            &town_name(0),
            Some(&self.rig),
            AgentRole::Polecat,
            &self.name,
        )
    }
}

pub async fn run(plan: &Plan) -> anyhow::Result<ChurnResult> {
    let churn = plan.churn;
    let shape = FleetShape::new(1, churn.rigs, 0);
    // Churn drives agent beads in the daemon era's columns: the bd daemon.
    let pods = super::env::fleet_pods(shape) + churn.wave_size();
    let env = Env::start(beads_testd::Personality::Daemon, pods).await?;
    if let Err(error) = env.seed(shape).await {
        env.shutdown().await;
        return Err(error);
    }
    let operator = Operator::in_process(env.client.clone(), env.testd.http_url());
    let outcome = drive(plan, shape, &env).await;
    let stopped = operator.stop().await;
    env.shutdown().await;
    let result = outcome?;
    stopped?;
    Ok(result)
}

async fn drive(plan: &Plan, shape: FleetShape, env: &Env) -> anyhow::Result<ChurnResult> {
    let churn = plan.churn;
    tokio::time::sleep(super::fleet::OPERATOR_STARTUP).await;
    let spec = TownSpec {
        sync_interval: plan.sync_interval,
        max_polecats: i32::try_from(churn.per_rig)?,
        // Polecats clone the rig's repository first (an init container
        // that the rig's polecat quota charges like the agent).
        git_url: true,
    };
    env.apply_towns(shape, &spec).await?;
    env.wait_running(1, Duration::from_secs(120)).await?;

    let (seen, mut sightings) = mpsc::unbounded_channel();
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), NAMESPACE);
    let config =
        watcher::Config::default().labels(&format!("{}=polecat", gastown_api::labels::ROLE));
    let watch = tokio::spawn(async move {
        let mut events = std::pin::pin!(watcher(pods, config));
        while let Some(event) = events.next().await {
            let sighting = match event {
                Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => {
                    Seen::Created(pod.name_any())
                }
                Ok(watcher::Event::Delete(pod)) => Seen::Deleted(pod.name_any()),
                _ => continue,
            };
            if seen.send(sighting).is_err() {
                return;
            }
        }
    });

    let beads = env.town_beads(0)?;
    let started = Instant::now();
    let (mut created, mut deleted) = (Vec::new(), Vec::new());
    let mut timeouts = 0;
    for (wave, size) in churn.waves().into_iter().enumerate() {
        let polecats: Vec<Polecat> = (0..size)
            .map(|n| Polecat {
                rig: rig_name(0, n % churn.rigs),
                name: format!("w{wave}p{n}"),
            })
            .collect();
        let mut changed = HashMap::new();
        for polecat in &polecats {
            beads.insert(Issue::agent(
                Some(&polecat.rig),
                "polecat",
                &polecat.name,
                "spawning",
            ));
            changed.insert(polecat.pod_name(), Instant::now());
        }
        let (latencies, timed_out) = wait_for(&mut sightings, changed, true).await;
        let none_appeared = latencies.is_empty();
        created.extend(latencies);
        timeouts += usize::from(timed_out);
        if none_appeared {
            // The operator makes no polecats at all: more waves say nothing new.
            break;
        }

        let mut changed = HashMap::new();
        for polecat in &polecats {
            beads.update(&polecat.bead_id(), |bead| {
                bead.agent_state = Some("done".into());
            });
            changed.insert(polecat.pod_name(), Instant::now());
        }
        let (latencies, timed_out) = wait_for(&mut sightings, changed, false).await;
        deleted.extend(latencies);
        timeouts += usize::from(timed_out);
    }
    watch.abort();
    let ms = |samples: &[Duration], q| percentile(samples, q).map(millis);
    Ok(ChurnResult {
        plan: churn,
        pods_created: created.len(),
        pods_deleted: deleted.len(),
        create_p50_ms: ms(&created, 0.5),
        create_p99_ms: ms(&created, 0.99),
        delete_p50_ms: ms(&deleted, 0.5),
        delete_p99_ms: ms(&deleted, 0.99),
        seconds: started.elapsed().as_secs_f64(),
        timeouts,
    })
}

/// Waits until every pod of `changed` (pod → when its bead changed) was seen
/// created (or deleted); the latencies, and whether the wait timed out.
async fn wait_for(
    sightings: &mut mpsc::UnboundedReceiver<Seen>,
    mut changed: HashMap<String, Instant>,
    creation: bool,
) -> (Vec<Duration>, bool) {
    let deadline = tokio::time::Instant::now() + WAVE_TIMEOUT;
    let mut latencies = Vec::with_capacity(changed.len());
    let mut done = HashSet::new();
    while !changed.is_empty() {
        let sighting = match tokio::time::timeout_at(deadline, sightings.recv()).await {
            Ok(Some(sighting)) => sighting,
            Ok(None) | Err(_) => return (latencies, true),
        };
        let name = match (sighting, creation) {
            (Seen::Created(name), true) | (Seen::Deleted(name), false) => name,
            _ => continue,
        };
        if done.insert(name.clone())
            && let Some(at) = changed.remove(&name)
        {
            latencies.push(at.elapsed());
        }
    }
    (latencies, false)
}

//! The workload simulation loop: after every change to a pod, StatefulSet,
//! Deployment or PVC (and once a second, for time-based steps), apply
//! `simulation::next_status` as the system would.

use crate::cluster::now;
use crate::registry::ResourceKey;
use crate::server::AppState;
use crate::simulation;
use crate::store::{EventType, ObjectKey};
use futures::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::BroadcastStream;

pub(crate) mod batch;
mod disruption;
mod nodes;

/// The simulated kinds: (group, plural, kind).
const SIMULATED: [(&str, &str, &str); 8] = [
    ("", "nodes", "Node"),
    ("", "pods", "Pod"),
    ("apps", "statefulsets", "StatefulSet"),
    ("apps", "deployments", "Deployment"),
    ("", "persistentvolumeclaims", "PersistentVolumeClaim"),
    ("batch", "jobs", "Job"),
    ("batch", "cronjobs", "CronJob"),
    ("policy", "poddisruptionbudgets", "PodDisruptionBudget"),
];

const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

fn key(group: &str, plural: &str) -> ResourceKey {
    ResourceKey {
        group: group.to_owned(),
        plural: plural.to_owned(),
    }
}

/// The nodes the simulation registers.
pub(crate) struct SimulatedNodes {
    pub count: usize,
    pub labels: std::collections::BTreeMap<String, String>,
}

pub(crate) fn spawn(
    app: Arc<AppState>,
    nodes: SimulatedNodes,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let streams: Vec<_> = {
            let mut cluster = app.cluster.lock();
            nodes::register(&mut cluster, &nodes);
            SIMULATED
                .iter()
                .filter_map(|(group, plural, kind)| {
                    let receiver = cluster.store.resubscribe(&key(group, plural))?;
                    Some(
                        BroadcastStream::new(receiver)
                            .map(move |event| (*kind, *group, *plural, event)),
                    )
                })
                .collect()
        };
        let mut changes = futures::stream::select_all(streams);
        let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
        let mut charges = nodes::NodeCharges::default();
        loop {
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => return,
                _ = sweep.tick() => sweep_all(&app, &mut charges),
                Some((kind, group, plural, event)) = changes.next() => match event {
                    Ok(event) => {
                        let gone = event.event_type == EventType::Deleted;
                        if kind == "Pod" {
                            charges.observe(&event.object, gone);
                        }
                        if !gone {
                            step(&app, &mut charges, kind, &key(group, plural), &event.object);
                        }
                    }
                    // Missed some changes: look at everything.
                    Err(_) => sweep_all(&app, &mut charges),
                },
            }
        }
    })
}

fn sweep_all(app: &AppState, charges: &mut nodes::NodeCharges) {
    for (group, plural, kind) in SIMULATED {
        let key = key(group, plural);
        let objects: Vec<Arc<Value>> = app
            .cluster
            .lock()
            .store
            .range(&key, None, None)
            .map(|(_, o)| Arc::clone(o))
            .collect();
        if kind == "Pod" {
            charges.resync(objects.iter().map(AsRef::as_ref));
        }
        for object in objects {
            step(app, charges, kind, &key, &object);
        }
    }
}

/// Moves one object a step along, if the simulation says it should move.
fn step(
    app: &AppState,
    charges: &mut nodes::NodeCharges,
    kind: &str,
    key: &ResourceKey,
    object: &Value,
) {
    let at = || {
        let meta = |field: &str| {
            object
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
        };
        (
            meta("namespace").unwrap_or_default().to_owned(),
            meta("name").unwrap_or_default().to_owned(),
        )
    };
    if matches!(kind, "Pod" | "PodDisruptionBudget") {
        disruption::sync_namespace(app, &at().0);
    }
    match kind {
        "PodDisruptionBudget" => return,
        "Job" => return batch::job_changed(app, object),
        "CronJob" => return batch::sync_cron_job(app, &at()),
        "Node" => return nodes::node_changed(app, object),
        "Pod" if nodes::needs_scheduling(object) => {
            return nodes::schedule(app, charges, object);
        }
        _ => {}
    }
    let Some(status) = simulation::next_status(kind, object, &now()) else {
        if kind == "Pod" {
            batch::pod_changed(app, object);
        }
        return;
    };
    let meta = |field: &str| {
        object
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let at: ObjectKey = (meta("namespace").to_owned(), meta("name").to_owned());
    let rv = meta("resourceVersion").to_owned();
    let bind_volume = kind == "PersistentVolumeClaim" && status["phase"] == "Bound";
    let volume = format!("pvc-{}", meta("uid"));
    app.cluster.lock().write_as_system(key, &at, &rv, |object| {
        object["status"] = status;
        // The volume binder names the claim's volume as it binds it.
        if bind_volume && object.pointer("/spec/volumeName").is_none() {
            object["spec"]["volumeName"] = Value::String(volume);
        }
    });
}

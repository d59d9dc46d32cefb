//! Workload simulation: what kubelets, the scheduler and controllers would do
//! to pods, StatefulSets, Deployments and PVCs, as pure status transitions.
//!
//! [`next_status`] is meant to be applied over and over: it moves an object
//! one step towards where a real cluster would leave it and returns `None`
//! once it is there, so a steady state causes no writes. The other
//! functions are the events tests cause on purpose: a pod finishing, or its
//! node going away.
//!
//! Containers of known images are held to those images' contracts
//! ([`contracts`]): a pod built wrong fails as it would on a real cluster.
//! - `dolthub/dolt-sql-server`: the entrypoint's own `--config` and
//!   `--host/--port` clash with repeated flags; a non-root user without a
//!   writable home cannot write dolt's global config; the server listens
//!   on 3306 (MySQL, not HTTP), on `localhost` unless told otherwise.
//! - `…/beads`: `bd daemon start` (the image's default command, removed
//!   TCP flags, `--local`, `--foreground`, server-mode env, client env on a
//!   daemon, its HTTP routes) and `bd serve` (bind address, auth posture,
//!   token file, routes, bearer-protected readiness).
//! - `…/gastown-agent`: the entrypoint needs a writable home (uid 1000's)
//!   and a writable `/home/agent/gt`; it does not run as root.
//!
//! Other images run and become Ready, as before.
//!
//! Beyond single pods: the [`scheduler`] binds pods to the simulated nodes
//! (node selectors, required node affinity, taints, cordons, cpu/memory/pod
//! capacity) or leaves them Pending with its message; [`jobs`] and
//! [`cron_jobs`] play the Job and CronJob controllers (a running Job pod's
//! containers exit 0 unless a test says otherwise); [`disruption`] keeps
//! PodDisruptionBudget status; [`logs`] is what containers write.
//!
//! What the simulation does not do: it creates no pods for Deployments and
//! StatefulSets (their status is derived from the pod template); a crashing
//! container is reported after exactly one restart and stays so (a real
//! kubelet keeps restarting and counting); a container the entrypoint would
//! keep alive for a while before giving up (dolt's 300 s start-up wait) is
//! reported as failed at once; failing liveness and startup probes are
//! reported as never ready rather than as kill-and-restart cycles; time
//! limits such as a Deployment's progress deadline never pass; contents of
//! ConfigMaps and Secrets (dolt's YAML, token files) are not looked at; a
//! Job's failed pods are replaced at once (no back-off), a Job pod told to
//! fail ends `Failed` even under `restartPolicy: OnFailure`, an Indexed Job's
//! failures are not kept per index, pod failure and success policies are not
//! played; a CronJob runs only its latest missed schedule and
//! [`EmbeddedApiServer::run_cron_job_now`](crate::EmbeddedApiServer::run_cron_job_now)
//! stands in for waiting; the scheduler takes the first node that fits (no
//! scoring, pod affinity, topology spread, volume or port checks,
//! preemption); nodes never go NotReady on their own.
//! Probes run as exec or gRPC commands are assumed to pass.

use serde_json::{Map, Value, json};

/// The node every simulated pod runs on.
pub const NODE_NAME: &str = "embedded-node";
/// The simulated node's address.
pub const HOST_IP: &str = "10.0.0.10";

/// The address of the simulated node `name`: `embedded-node` is
/// [`HOST_IP`], `embedded-node-N` the N-1th address after it.
pub fn host_ip(node: &str) -> String {
    let index = node
        .strip_prefix(NODE_NAME)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|n| n.parse::<u32>().ok())
        .map_or(0, |n| n.saturating_sub(1));
    format!("10.0.0.{}", 10 + index)
}

/// How a pod ends when a test finishes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodOutcome {
    /// Every container exited 0.
    Succeeded,
    /// A container exited non-zero.
    Failed,
}

/// The status an object of `kind` should move to next, or `None` when it is
/// already where a real cluster would leave it. `now` is an RFC 3339 time.
pub fn next_status(kind: &str, object: &Value, now: &str) -> Option<Value> {
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    let is = |expected: &str| api_version.is_none_or(|v| v == expected);
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        // Objects on their way out are left to the garbage collector.
        return None;
    }
    let target = match kind {
        "Pod" if is("v1") => next_pod_status(object, now)?,
        "PersistentVolumeClaim" if is("v1") => next_claim_status(object)?,
        "Deployment" if is("apps/v1") => deployment_status(object, now),
        "StatefulSet" if is("apps/v1") => stateful_set_status(object),
        _ => return None,
    };
    let current = object.get("status").unwrap_or(&Value::Null);
    let target = keep_condition_times(target, current);
    (target != *current).then_some(target)
}

/// The status of a pod whose containers have all exited, with `outcome`.
pub fn finish_pod(object: &Value, outcome: PodOutcome, now: &str) -> Value {
    let (phase, exit_code, reason, ready_reason) = match outcome {
        PodOutcome::Succeeded => ("Succeeded", 0, "Completed", "PodCompleted"),
        PodOutcome::Failed => ("Failed", 1, "Error", "ContainersNotReady"),
    };
    let terminated = |container: &Value| {
        json!({ "terminated": {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": started_at(object, container, now),
            "finishedAt": now,
        }})
    };
    let mut status = stopped_status(object, phase, ready_reason, now, terminated);
    if outcome == PodOutcome::Failed {
        let unready = container_names(object, "containers").join(" ");
        let message = format!("containers with unready status: [{unready}]");
        for condition in ["Ready", "ContainersReady"] {
            set_condition_message(&mut status, condition, &message);
        }
    }
    status
}

/// The status of a pod whose node stopped answering and which the control
/// plane therefore failed: phase `Failed`, reason `NodeLost`.
pub fn lose_node(object: &Value, now: &str) -> Value {
    let node = object
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or(NODE_NAME);
    let pod = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let unknown = |_: &Value| {
        json!({ "terminated": {
            "exitCode": 137,
            "reason": "ContainerStatusUnknown",
            "message": "The container could not be located when the pod was terminated",
            "finishedAt": now,
        }})
    };
    let mut status = stopped_status(object, "Failed", "NodeLost", now, unknown);
    status["reason"] = json!("NodeLost");
    status["message"] = json!(format!(
        "Node {node} which was running pod {pod} is unresponsive"
    ));
    status["conditions"]
        .as_array_mut()
        .expect("stopped_status sets conditions")
        .insert(
            0,
            condition(
                "DisruptionTarget",
                true,
                Some("DeletionByPodGC"),
                Some("PodGC: node no longer exists"),
                now,
            ),
        );
    status
}

// ---------------------------------------------------------------- pods

fn next_pod_status(pod: &Value, now: &str) -> Option<Value> {
    let status = pod
        .get("status")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let phase = status
        .get("phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    if phase == "Running" {
        // Running pods stay running until a test finishes them, but start
        // the ephemeral containers added to them (`kubectl debug`).
        return ephemeral_container_statuses(pod, status, now);
    }
    if phase != "Pending" {
        // Finished pods are left alone.
        return None;
    }
    if !has_true_condition(&status, "PodScheduled") {
        return Some(scheduled_status(status, now));
    }
    // A pod an init container holds in Pending is recomputed on every sweep;
    // its times are those of its start, so an unchanged pod compares equal.
    let started = status
        .get("startTime")
        .and_then(Value::as_str)
        .unwrap_or(now)
        .to_owned();
    Some(kubelet::started_status(pod, status, &started))
}

/// A running pod's status with a running status for each ephemeral
/// container that has none yet; `None` when every one has.
fn ephemeral_container_statuses(
    pod: &Value,
    mut status: Map<String, Value>,
    now: &str,
) -> Option<Value> {
    let known = status
        .get("ephemeralContainerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let added: Vec<Value> = containers(pod, "ephemeralContainers")
        .filter(|c| !known.iter().any(|s| s["name"] == c["name"]))
        .map(|c| {
            let mut started =
                container_status(pod, c, json!({ "running": { "startedAt": now } }), false);
            // Ephemeral containers are never ready and have no restart count to speak of.
            started
                .as_object_mut()
                .expect("a status is an object")
                .remove("started");
            started
        })
        .collect();
    if added.is_empty() {
        return None;
    }
    status.insert(
        "ephemeralContainerStatuses".into(),
        Value::Array(known.into_iter().chain(added).collect()),
    );
    Some(Value::Object(status))
}

/// Pending, bound to the node: what the scheduler leaves behind.
fn scheduled_status(mut status: Map<String, Value>, now: &str) -> Value {
    status.insert("phase".into(), json!("Pending"));
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    if let Some(conditions) = conditions.as_array_mut() {
        conditions.retain(|c| c["type"] != "PodScheduled");
        conditions.push(condition("PodScheduled", true, None, None, now));
    }
    Value::Object(status)
}

/// A finished pod: containers stopped as `state_of` says, nothing ready.
fn stopped_status(
    pod: &Value,
    phase: &str,
    ready_reason: &str,
    now: &str,
    state_of: impl Fn(&Value) -> Value,
) -> Value {
    let mut status = pod
        .get("status")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let scheduled = status
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|all| all.iter().find(|c| c["type"] == "PodScheduled"))
        .cloned()
        .unwrap_or_else(|| condition("PodScheduled", true, None, None, now));
    status.insert("phase".into(), json!(phase));
    status.insert(
        "conditions".into(),
        json!([
            condition("PodReadyToStartContainers", false, None, None, now),
            condition("Initialized", true, None, None, now),
            condition("Ready", false, Some(ready_reason), None, now),
            condition("ContainersReady", false, Some(ready_reason), None, now),
            scheduled,
        ]),
    );
    status.entry("startTime").or_insert_with(|| json!(now));
    let statuses = containers(pod, "containers").map(|c| {
        let mut stopped = container_status(pod, c, state_of(c), false);
        stopped["started"] = json!(false);
        stopped
    });
    status.insert("containerStatuses".into(), Value::Array(statuses.collect()));
    Value::Object(status)
}

fn set_condition_message(status: &mut Value, kind: &str, message: &str) {
    if let Some(found) = status["conditions"]
        .as_array_mut()
        .and_then(|all| all.iter_mut().find(|c| c["type"] == kind))
    {
        found["message"] = json!(message);
    }
}

fn containers<'a>(pod: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    pod.get("spec")
        .and_then(|s| s.get(field))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn container_names(pod: &Value, field: &str) -> Vec<String> {
    containers(pod, field)
        .filter_map(|c| c["name"].as_str())
        .map(str::to_owned)
        .collect()
}

fn is_sidecar(container: &Value) -> bool {
    container["restartPolicy"] == "Always"
}

fn container_status(pod: &Value, container: &Value, state: Value, ready: bool) -> Value {
    let name = container["name"].as_str().unwrap_or_default();
    let image = container["image"].as_str().unwrap_or_default();
    let pod_uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    json!({
        "name": name,
        "image": image,
        "imageID": image,
        "containerID": format!("embedded://{pod_uid}/{name}"),
        "ready": ready,
        "started": state.get("running").is_some(),
        "restartCount": 0,
        "state": state,
    })
}

/// When the container started running, if the pod's status says so.
fn started_at(pod: &Value, container: &Value, now: &str) -> Value {
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array);
    statuses
        .into_iter()
        .flatten()
        .find(|s| s["name"] == container["name"])
        .and_then(|s| s.pointer("/state/running/startedAt"))
        .cloned()
        .unwrap_or_else(|| json!(now))
}

/// A stable address in 10.244.0.0/16 derived from the pod's namespace and name.
fn pod_ip(pod: &Value) -> String {
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let hash = fnv1a32(format!("{namespace}/{name}").as_bytes());
    format!("10.244.{}.{}", (hash >> 8) % 256, hash % 254 + 1)
}

// ------------------------------------------------------ workloads, claims

fn replicas(object: &Value) -> i64 {
    object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// Whether the object's pod template makes pods that become ready.
fn template_ready(object: &Value) -> bool {
    object
        .pointer("/spec/template")
        .is_none_or(kubelet::template_becomes_ready)
}

/// Every replica updated, ready and available, as the Deployment controller
/// reports once its newest ReplicaSet has rolled out. When the template's
/// pods can never become ready, every replica is created and none is
/// available: the rollout keeps progressing (its deadline never passes
/// here) and `readyReplicas`/`availableReplicas` are left out, as the
/// controller leaves out zeros.
fn deployment_status(deployment: &Value, now: &str) -> Value {
    let replicas = replicas(deployment);
    let name = deployment
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let replica_set = format!("{name}-{}", template_hash(deployment));
    let ready = template_ready(deployment);
    let mut status = json!({ "observedGeneration": generation(deployment) });
    if replicas > 0 {
        let fields: &[&str] = if ready {
            &[
                "replicas",
                "updatedReplicas",
                "readyReplicas",
                "availableReplicas",
            ]
        } else {
            &["replicas", "updatedReplicas", "unavailableReplicas"]
        };
        for field in fields {
            status[*field] = json!(replicas);
        }
    }
    let (mut available, mut progressing) = if ready || replicas == 0 {
        let progressed = format!("ReplicaSet \"{replica_set}\" has successfully progressed.");
        (
            condition(
                "Available",
                true,
                Some("MinimumReplicasAvailable"),
                Some("Deployment has minimum availability."),
                now,
            ),
            condition(
                "Progressing",
                true,
                Some("NewReplicaSetAvailable"),
                Some(&progressed),
                now,
            ),
        )
    } else {
        // Available once `replicas - maxUnavailable` pods are; none is.
        let available = if max_unavailable(deployment, replicas) >= replicas {
            condition(
                "Available",
                true,
                Some("MinimumReplicasAvailable"),
                Some("Deployment has minimum availability."),
                now,
            )
        } else {
            condition(
                "Available",
                false,
                Some("MinimumReplicasUnavailable"),
                Some("Deployment does not have minimum availability."),
                now,
            )
        };
        let progressing = format!("ReplicaSet \"{replica_set}\" is progressing.");
        (
            available,
            condition(
                "Progressing",
                true,
                Some("ReplicaSetUpdated"),
                Some(&progressing),
                now,
            ),
        )
    };
    for deployment_condition in [&mut available, &mut progressing] {
        deployment_condition["lastUpdateTime"] = json!(now);
        deployment_condition
            .as_object_mut()
            .expect("a condition is an object")
            .remove("lastProbeTime");
    }
    status["conditions"] = json!([available, progressing]);
    status
}

/// The Deployment controller's `MaxUnavailable`: none for `Recreate`; for a
/// rolling update `maxUnavailable` (default 25%, rounded down), one when
/// `maxSurge` resolves to zero too, at most `replicas`.
fn max_unavailable(deployment: &Value, replicas: i64) -> i64 {
    let strategy = deployment.pointer("/spec/strategy");
    if strategy.is_some_and(|s| s["type"] == "Recreate") {
        return 0;
    }
    let resolve = |field: &str, round_up: bool| {
        let value = strategy.and_then(|s| s.pointer(&format!("/rollingUpdate/{field}")));
        match value {
            Some(Value::Number(number)) => number.as_i64().unwrap_or(0),
            other => {
                let percent = other
                    .and_then(Value::as_str)
                    .unwrap_or("25%")
                    .trim_end_matches('%')
                    .parse::<i64>()
                    .unwrap_or(25);
                let scaled = replicas * percent;
                if round_up {
                    (scaled + 99) / 100
                } else {
                    scaled / 100
                }
            }
        }
    };
    let surge = resolve("maxSurge", true);
    let mut unavailable = resolve("maxUnavailable", false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    unavailable.min(replicas)
}

/// Every replica created from the current revision and ready. When the
/// template's pods never become ready, `OrderedReady` (the default) stops
/// after the first pod and `Parallel` creates them all; none is ready
/// (`readyReplicas` left out; `availableReplicas` is always reported).
fn stateful_set_status(stateful_set: &Value) -> Value {
    let replicas = replicas(stateful_set);
    let name = stateful_set
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let revision = format!("{name}-{}", template_hash(stateful_set));
    let ready = template_ready(stateful_set);
    let parallel = stateful_set
        .pointer("/spec/podManagementPolicy")
        .is_some_and(|p| p == "Parallel");
    let created = if ready || parallel {
        replicas
    } else {
        replicas.min(1)
    };
    let mut status = json!({
        "observedGeneration": generation(stateful_set),
        "replicas": created,
        "availableReplicas": if ready { replicas } else { 0 },
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
    if created > 0 {
        let fields: &[&str] = if ready {
            &["readyReplicas", "currentReplicas", "updatedReplicas"]
        } else {
            &["currentReplicas", "updatedReplicas"]
        };
        for field in fields {
            status[*field] = json!(created);
        }
    }
    status
}

/// A pending claim becomes Bound with the capacity it asked for.
fn next_claim_status(claim: &Value) -> Option<Value> {
    let phase = claim
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    if phase != "Pending" {
        return None;
    }
    let mut status = json!({ "phase": "Bound" });
    if let Some(modes) = claim.pointer("/spec/accessModes") {
        status["accessModes"] = modes.clone();
    }
    if let Some(storage) = claim.pointer("/spec/resources/requests/storage") {
        status["capacity"] = json!({ "storage": storage });
    }
    Some(status)
}

// ----------------------------------------------------------- conditions

fn condition(
    kind: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<&str>,
    now: &str,
) -> Value {
    let mut condition = json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    if let Some(reason) = reason {
        condition["reason"] = json!(reason);
    }
    if let Some(message) = message {
        condition["message"] = json!(message);
    }
    condition
}

fn has_true_condition(status: &Map<String, Value>, kind: &str) -> bool {
    let conditions = status.get("conditions").and_then(Value::as_array);
    conditions
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

/// Controllers move `lastTransitionTime` only when a condition's status
/// changes, and `lastUpdateTime` only when anything about it changes; keep
/// the current times otherwise, so an unchanged status compares equal.
fn keep_condition_times(mut target: Value, current: &Value) -> Value {
    let Some(current_conditions) = current.get("conditions").and_then(Value::as_array) else {
        return target;
    };
    let Some(conditions) = target.get_mut("conditions").and_then(Value::as_array_mut) else {
        return target;
    };
    for condition in conditions {
        let Some(previous) = current_conditions
            .iter()
            .find(|c| c["type"] == condition["type"])
        else {
            continue;
        };
        if previous["status"] != condition["status"] {
            continue;
        }
        copy_field(condition, previous, "lastTransitionTime");
        if previous["reason"] == condition["reason"] && previous["message"] == condition["message"]
        {
            copy_field(condition, previous, "lastUpdateTime");
        }
    }
    target
}

fn copy_field(to: &mut Value, from: &Value, field: &str) {
    if let (Some(to), Some(value)) = (to.as_object_mut(), from.get(field))
        && to.contains_key(field)
    {
        to.insert(field.to_owned(), value.clone());
    }
}

// ---------------------------------------------------------------- hashes

/// A short, stable name suffix for the object's pod template, shaped like
/// upstream's `pod-template-hash` (FNV-1a, then "safe" alphanumerics).
fn template_hash(object: &Value) -> String {
    let template = object
        .pointer("/spec/template")
        .map(Value::to_string)
        .unwrap_or_default();
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    fnv1a32(template.as_bytes())
        .to_string()
        .bytes()
        .map(|digit| char::from(SAFE[usize::from(digit) % SAFE.len()]))
        .collect()
}

fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

pub mod contracts;
pub mod cron_jobs;
pub mod disruption;
pub mod jobs;
mod kubelet;
pub mod logs;
pub mod scheduler;

#[cfg(test)]
mod tests;

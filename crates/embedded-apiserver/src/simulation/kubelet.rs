//! What the kubelet reports once it has started a pod's containers, given
//! what each container's program does with its spec ([`contracts`]).
//!
//! A crashing container is reported the way a real kubelet reports it after
//! its first restart: `CrashLoopBackOff`, the exit in `lastState`,
//! `restartCount: 1`. A real kubelet keeps restarting it and counting; the
//! simulation stops at the first restart so that the status reaches a
//! steady state and repeated sweeps write nothing.

use super::contracts::{self, Verdict};
use super::{NODE_NAME, condition, container_status, containers, host_ip, is_sidecar, pod_ip};
use serde_json::{Map, Value, json};

/// The kubelet keeps this much of the log tail as a termination message
/// (`FallbackToLogsOnError`: the last 2048 bytes or 80 lines).
const MAX_LOG_MESSAGE: usize = 2048;

/// How one container ends up.
enum Outcome {
    /// Running; ready or not.
    Running { ready: bool },
    /// An init container that ran to completion.
    Completed,
    /// Exited and restarting: `CrashLoopBackOff`.
    BackingOff { exit_code: i32, message: String },
    /// Exited for good (restart policy).
    Exited { exit_code: i32, message: String },
    /// Not started: an init container is still in the way.
    Initializing,
}

impl Outcome {
    fn ready(&self) -> bool {
        matches!(self, Outcome::Running { ready: true } | Outcome::Completed)
    }
}

/// The status of a scheduled pod once the kubelet has started it: every
/// init container run in order, then the containers, each as its program
/// fares. `now` is when the pod started.
pub(super) fn started_status(pod: &Value, mut status: Map<String, Value>, now: &str) -> Value {
    let spec = &pod["spec"];
    let restart_policy = spec["restartPolicy"].as_str().unwrap_or("Always");
    let restarts = |exit_code: i32| match restart_policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    };

    // Init containers run one at a time; the first that does not finish
    // (or, for a sidecar, start) holds the rest.
    let mut init = Vec::new();
    let mut holding: Option<usize> = None;
    let mut init_failed = false;
    for (index, container) in containers(pod, "initContainers").enumerate() {
        if holding.is_some() {
            init.push((container, Outcome::Initializing));
            continue;
        }
        let outcome = match contracts::verdict(container, spec) {
            Verdict::Runs if is_sidecar(container) => Outcome::Running { ready: true },
            Verdict::NeverReady { .. } if is_sidecar(container) => {
                Outcome::Running { ready: false }
            }
            // A sidecar restarts whatever the pod's policy.
            Verdict::Crashes { exit_code, message } if is_sidecar(container) => {
                Outcome::BackingOff { exit_code, message }
            }
            Verdict::Runs | Verdict::Crashes { exit_code: 0, .. } => Outcome::Completed,
            // Never exits: the pod never initializes.
            Verdict::NeverReady { .. } => Outcome::Running { ready: false },
            Verdict::Crashes { exit_code, message } if restarts(exit_code) => {
                Outcome::BackingOff { exit_code, message }
            }
            Verdict::Crashes { exit_code, message } => {
                init_failed = true;
                Outcome::Exited { exit_code, message }
            }
        };
        let holds = match &outcome {
            Outcome::Running { .. } => !is_sidecar(container),
            Outcome::BackingOff { .. } | Outcome::Exited { .. } => true,
            Outcome::Completed | Outcome::Initializing => false,
        };
        if holds {
            holding = Some(index);
        }
        init.push((container, outcome));
    }

    let main: Vec<(&Value, Outcome)> = containers(pod, "containers")
        .map(|container| {
            let outcome = if holding.is_some() {
                Outcome::Initializing
            } else {
                match contracts::verdict(container, spec) {
                    Verdict::Runs => Outcome::Running { ready: true },
                    Verdict::NeverReady { .. } => Outcome::Running { ready: false },
                    Verdict::Crashes { exit_code, message } if restarts(exit_code) => {
                        Outcome::BackingOff { exit_code, message }
                    }
                    Verdict::Crashes { exit_code, message } => {
                        Outcome::Exited { exit_code, message }
                    }
                }
            };
            (container, outcome)
        })
        .collect();

    let all_exited = !main.is_empty()
        && main
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Exited { .. }));
    let phase = if init_failed {
        "Failed"
    } else if holding.is_some() {
        "Pending"
    } else if all_exited {
        let failed = main
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Exited { exit_code, .. } if *exit_code != 0));
        if failed { "Failed" } else { "Succeeded" }
    } else {
        "Running"
    };

    let scheduled = status
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|all| all.iter().find(|c| c["type"] == "PodScheduled"))
        .cloned()
        .unwrap_or_else(|| condition("PodScheduled", true, None, None, now));
    let ip = pod_ip(pod);
    let host = host_ip(spec["nodeName"].as_str().unwrap_or(NODE_NAME));
    status.insert("phase".into(), json!(phase));
    status.insert("hostIP".into(), json!(host));
    status.insert("hostIPs".into(), json!([{ "ip": host }]));
    status.insert("podIP".into(), json!(ip));
    status.insert("podIPs".into(), json!([{ "ip": ip }]));
    status.insert("startTime".into(), json!(now));

    let name = |c: &Value| c["name"].as_str().unwrap_or_default().to_owned();
    let incomplete: Vec<String> = holding
        .map(|at| init[at..].iter().map(|(c, _)| name(c)).collect())
        .unwrap_or_default();
    let unready: Vec<String> = init
        .iter()
        .filter(|(c, _)| is_sidecar(c))
        .chain(&main)
        .filter(|(_, o)| !o.ready())
        .map(|(c, _)| name(c))
        .collect();
    let finished = matches!(phase, "Failed" | "Succeeded");
    let not_ready = |reason: &str| {
        let message = format!("containers with unready status: [{}]", unready.join(" "));
        let message = (reason != "PodCompleted").then_some(message.as_str());
        [
            condition("Ready", false, Some(reason), message, now),
            condition("ContainersReady", false, Some(reason), message, now),
        ]
    };
    let [ready, containers_ready] = match phase {
        _ if unready.is_empty() && !finished => [
            condition("Ready", true, None, None, now),
            condition("ContainersReady", true, None, None, now),
        ],
        "Succeeded" => not_ready("PodCompleted"),
        _ => not_ready("ContainersNotReady"),
    };
    let initialized = if incomplete.is_empty() {
        condition("Initialized", true, None, None, now)
    } else {
        let message = format!(
            "containers with incomplete status: [{}]",
            incomplete.join(" ")
        );
        condition(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(&message),
            now,
        )
    };
    status.insert(
        "conditions".into(),
        json!([
            // The sandbox is gone once the pod has finished.
            condition("PodReadyToStartContainers", !finished, None, None, now),
            initialized,
            ready,
            containers_ready,
            scheduled,
        ]),
    );

    let report =
        |(container, outcome): &(&Value, Outcome)| container_report(pod, container, outcome, now);
    if !init.is_empty() {
        let statuses = init.iter().map(report).collect();
        status.insert("initContainerStatuses".into(), Value::Array(statuses));
    }
    let statuses = main.iter().map(report).collect();
    status.insert("containerStatuses".into(), Value::Array(statuses));
    Value::Object(status)
}

fn container_report(pod: &Value, container: &Value, outcome: &Outcome, now: &str) -> Value {
    match outcome {
        Outcome::Running { ready } => container_status(
            pod,
            container,
            json!({ "running": { "startedAt": now } }),
            *ready,
        ),
        Outcome::Completed => {
            let completed = json!({ "terminated": {
                "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now,
            }});
            container_status(pod, container, completed, true)
        }
        Outcome::Initializing => container_status(
            pod,
            container,
            json!({ "waiting": { "reason": "PodInitializing" } }),
            false,
        ),
        Outcome::Exited { exit_code, message } => {
            let state = json!({ "terminated": terminated(container, *exit_code, message, now) });
            container_status(pod, container, state, false)
        }
        Outcome::BackingOff { exit_code, message } => {
            let meta = |field: &str| {
                pod.pointer(&format!("/metadata/{field}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            };
            let back_off = format!(
                "back-off 10s restarting failed container={} pod={}_{}({})",
                container["name"].as_str().unwrap_or_default(),
                meta("name"),
                meta("namespace"),
                meta("uid"),
            );
            let waiting =
                json!({ "waiting": { "reason": "CrashLoopBackOff", "message": back_off } });
            let mut status = container_status(pod, container, waiting, false);
            status["lastState"] =
                json!({ "terminated": terminated(container, *exit_code, message, now) });
            // Fixed at one restart, so the status settles (see the module doc).
            status["restartCount"] = json!(1);
            status
        }
    }
}

/// A `terminated` state. Its message is the log tail only with
/// `terminationMessagePolicy: FallbackToLogsOnError` and a non-zero exit:
/// under the default `File` policy nothing writes /dev/termination-log.
fn terminated(container: &Value, exit_code: i32, message: &str, now: &str) -> Value {
    let mut state = json!({
        "exitCode": exit_code,
        "reason": if exit_code == 0 { "Completed" } else { "Error" },
        "startedAt": now,
        "finishedAt": now,
    });
    if container["terminationMessagePolicy"] == "FallbackToLogsOnError" && exit_code != 0 {
        state["message"] = json!(log_tail(message));
    }
    state
}

fn log_tail(log: &str) -> &str {
    let mut start = log.len().saturating_sub(MAX_LOG_MESSAGE);
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}

/// Whether pods from `template` (a pod template: metadata and spec) would
/// ever become ready: every init container finishes, every sidecar and
/// container runs and passes its probes.
pub(super) fn template_becomes_ready(template: &Value) -> bool {
    let spec = &template["spec"];
    let all = |field: &str| {
        spec[field]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| (c, contracts::verdict(c, spec)))
            .collect::<Vec<_>>()
    };
    all("initContainers")
        .iter()
        .all(|(container, verdict)| match verdict {
            Verdict::Runs => true,
            Verdict::Crashes { exit_code: 0, .. } => !is_sidecar(container),
            _ => false,
        })
        && all("containers").iter().all(|(_, v)| *v == Verdict::Runs)
}

#[cfg(test)]
mod tests;

//! The Job controller (`pkg/controller/job/job_controller.go`), as pure
//! steps: from a Job and the pods it owns, the pods to create or delete and
//! the status to write.
//!
//! What it does as upstream does: pods are made from the template
//! (`generateName: <job>-`, the Job as controller owner), up to
//! `parallelism` at a time until `completions` have succeeded; a Job
//! succeeds with `SuccessCriteriaMet` then `Complete` (reason
//! `CompletionsReached`), and fails with `FailureTarget` then `Failed` when
//! more than `backoffLimit` pods failed (`BackoffLimitExceeded`) or it ran
//! past `activeDeadlineSeconds` (`DeadlineExceeded`), its active pods then
//! deleted. A suspended Job has no pods and a `Suspended` condition.
//!
//! Where it is simpler: failed pods are replaced at once (upstream waits an
//! exponential back-off, 10 s doubling); with `restartPolicy: OnFailure` a
//! pod whose container crash-loops counts as past the back-off limit at once
//! (upstream counts restarts up to it); an Indexed Job's failures count for
//! the Job, not per index (no `backoffLimitPerIndex`, no `failedIndexes`);
//! pod failure policies, success policies and the
//! `batch.kubernetes.io/job-tracking` finalizer are not played. Indexed Jobs
//! otherwise get a pod per completion index and `completedIndexes`.

use super::condition;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The annotation (and label) of an Indexed Job pod's completion index.
const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
const COMPLETIONS_REACHED: &str = "Reached expected number of succeeded pods";
const BACKOFF_LIMIT_EXCEEDED: &str = "Job has reached the specified backoff limit";
const DEADLINE_EXCEEDED: &str = "Job was active longer than specified deadline";

/// What the Job controller does next for one Job.
#[derive(Debug, Default, PartialEq)]
pub struct JobStep {
    /// The pods to create from the template: one entry each, with its
    /// completion index for an Indexed Job.
    pub create: Vec<Option<i64>>,
    /// Names of active pods to delete.
    pub delete: Vec<String>,
    /// The Job's status after this step.
    pub status: Value,
}

fn count(spec: &Value, field: &str) -> Option<i64> {
    spec.get(field).and_then(Value::as_i64)
}

fn has_true(status: &Value, kind: &str) -> bool {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

/// Whether the Job has finished (`Complete` or `Failed`).
pub fn finished(job: &Value) -> bool {
    let status = job.get("status").unwrap_or(&Value::Null);
    has_true(status, "Complete") || has_true(status, "Failed")
}

fn job_condition(kind: &str, reason: &str, message: &str, now: &str) -> Value {
    let mut condition = condition(kind, true, Some(reason), Some(message), now);
    condition["lastProbeTime"] = json!(now);
    condition
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

fn crash_looping(pod: &Value) -> bool {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| s.pointer("/state/waiting/reason") == Some(&json!("CrashLoopBackOff")))
}

fn ready(pod: &Value) -> bool {
    has_true(pod.get("status").unwrap_or(&Value::Null), "Ready")
}

/// The next step for `job` given the pods it owns; `None` once it has
/// finished (nothing more to do). `now` is an RFC 3339 time.
pub fn step(job: &Value, pods: &[&Value], now: &str) -> Option<JobStep> {
    let mut step = next_step(job, pods, now)?;
    // A condition the controller sets again unchanged keeps its times.
    let current = job.pointer("/status/conditions").and_then(Value::as_array);
    if let (Some(current), Some(conditions)) = (
        current,
        step.status
            .get_mut("conditions")
            .and_then(Value::as_array_mut),
    ) {
        for condition in conditions {
            let same = |c: &&Value| {
                ["type", "status", "reason", "message"]
                    .iter()
                    .all(|field| c[*field] == condition[*field])
            };
            if let Some(previous) = current.iter().find(same) {
                *condition = previous.clone();
            }
        }
    }
    Some(step)
}

fn next_step(job: &Value, pods: &[&Value], now: &str) -> Option<JobStep> {
    if finished(job) || job.pointer("/metadata/deletionTimestamp").is_some() {
        return None;
    }
    let spec = job.get("spec").unwrap_or(&Value::Null);
    let current = job.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut conditions: Vec<Value> = current["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let active: Vec<&Value> = pods
        .iter()
        .copied()
        .filter(|p| {
            !matches!(phase(p), "Succeeded" | "Failed")
                && p.pointer("/metadata/deletionTimestamp").is_none()
        })
        .collect();
    let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
    let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
    let names = |pods: &[&Value]| -> Vec<String> {
        pods.iter()
            .filter_map(|p| p.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    };

    let mut status = json!({
        "ready": active.iter().filter(|p| ready(p)).count(),
        "terminating": 0,
        "uncountedTerminatedPods": {},
    });
    let set_counts = |status: &mut Value, active: i64, succeeded: i64, failed: i64| {
        for (field, value) in [
            ("active", active),
            ("succeeded", succeeded),
            ("failed", failed),
        ] {
            if value > 0 {
                status[field] = json!(value);
            }
        }
    };

    if spec["suspend"] == true {
        // Suspending deletes the active pods and forgets the start time.
        conditions.retain(|c| c["type"] != "Suspended");
        conditions.push(job_condition(
            "Suspended",
            "JobSuspended",
            "Job suspended",
            now,
        ));
        status["conditions"] = json!(conditions);
        status["ready"] = json!(0);
        set_counts(&mut status, 0, succeeded, failed + active.len() as i64);
        return Some(JobStep {
            create: Vec::new(),
            delete: names(&active),
            status,
        });
    }
    if let Some(suspended) = conditions
        .iter_mut()
        .find(|c| c["type"] == "Suspended" && c["status"] == "True")
    {
        *suspended = condition(
            "Suspended",
            false,
            Some("JobResumed"),
            Some("Job resumed"),
            now,
        );
        suspended["lastProbeTime"] = json!(now);
    }
    let start_time = current
        .get("startTime")
        .and_then(Value::as_str)
        .unwrap_or(now)
        .to_owned();
    status["startTime"] = json!(start_time);

    let backoff_limit = count(spec, "backoffLimit").unwrap_or(6);
    let restart_on_failure =
        spec.pointer("/template/spec/restartPolicy") == Some(&json!("OnFailure"));
    let past_deadline = count(spec, "activeDeadlineSeconds").is_some_and(|deadline| {
        let elapsed = match (
            start_time.parse::<jiff::Timestamp>(),
            now.parse::<jiff::Timestamp>(),
        ) {
            (Ok(start), Ok(now)) => now.duration_since(start).as_secs(),
            _ => 0,
        };
        elapsed >= deadline
    });
    let failure = if failed > backoff_limit
        || (restart_on_failure && active.iter().any(|p| crash_looping(p)))
    {
        Some(("BackoffLimitExceeded", BACKOFF_LIMIT_EXCEEDED))
    } else if past_deadline {
        Some(("DeadlineExceeded", DEADLINE_EXCEEDED))
    } else {
        None
    };
    if let Some((reason, message)) = failure {
        // Active pods are terminated and count as failed.
        conditions.push(job_condition("FailureTarget", reason, message, now));
        conditions.push(job_condition("Failed", reason, message, now));
        status["conditions"] = json!(conditions);
        status["ready"] = json!(0);
        set_counts(&mut status, 0, succeeded, failed + active.len() as i64);
        return Some(JobStep {
            create: Vec::new(),
            delete: names(&active),
            status,
        });
    }

    let completions = count(spec, "completions");
    let parallelism = count(spec, "parallelism").unwrap_or(1).max(0);
    // Indexed Jobs count each completion index once.
    let indexed = spec["completionMode"] == "Indexed";
    let succeeded_indexes: BTreeSet<i64> = pods
        .iter()
        .filter(|p| phase(p) == "Succeeded")
        .filter_map(|p| completion_index(p))
        .collect();
    let succeeded = if indexed {
        succeeded_indexes.len() as i64
    } else {
        succeeded
    };
    if indexed && !succeeded_indexes.is_empty() {
        status["completedIndexes"] = json!(index_ranges(&succeeded_indexes));
    }
    let complete = match completions {
        Some(completions) => succeeded >= completions,
        // A work queue: done once one pod succeeded and none runs.
        None => succeeded > 0 && active.is_empty(),
    };
    if complete {
        conditions.push(job_condition(
            "SuccessCriteriaMet",
            "CompletionsReached",
            COMPLETIONS_REACHED,
            now,
        ));
        conditions.push(job_condition(
            "Complete",
            "CompletionsReached",
            COMPLETIONS_REACHED,
            now,
        ));
        status["conditions"] = json!(conditions);
        status["completionTime"] = json!(now);
        status["ready"] = json!(0);
        set_counts(&mut status, 0, succeeded, failed);
        return Some(JobStep {
            create: Vec::new(),
            delete: names(&active),
            status,
        });
    }

    let wanted = match completions {
        Some(completions) => parallelism.min(completions - succeeded),
        None if succeeded > 0 => 0,
        None => parallelism,
    };
    let missing = usize::try_from(wanted - active.len() as i64).unwrap_or(0);
    let create: Vec<Option<i64>> = if indexed {
        let running: BTreeSet<i64> = active.iter().filter_map(|p| completion_index(p)).collect();
        (0..completions.unwrap_or(0))
            .filter(|i| !succeeded_indexes.contains(i) && !running.contains(i))
            .take(missing)
            .map(Some)
            .collect()
    } else {
        vec![None; missing]
    };
    if !conditions.is_empty() {
        status["conditions"] = json!(conditions);
    }
    set_counts(
        &mut status,
        (active.len() + create.len()) as i64,
        succeeded,
        failed,
    );
    Some(JobStep {
        create,
        delete: Vec::new(),
        status,
    })
}

/// Whether the TTL-after-finished controller deletes `job` at `now`
/// (`pkg/controller/ttlafterfinished`): it has finished, and
/// `ttlSecondsAfterFinished` have passed since (its completion time, or
/// when its finishing condition turned true).
pub fn ttl_expired(job: &Value, now: jiff::Timestamp) -> bool {
    let Some(ttl) = job
        .pointer("/spec/ttlSecondsAfterFinished")
        .and_then(Value::as_i64)
    else {
        return false;
    };
    let finished_at = job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            matches!(c["type"].as_str(), Some("Complete" | "Failed")) && c["status"] == "True"
        })
        .filter_map(|c| c["lastTransitionTime"].as_str())
        .chain(
            job.pointer("/status/completionTime")
                .and_then(Value::as_str),
        )
        .filter_map(|t| t.parse::<jiff::Timestamp>().ok())
        .min();
    finished_at.is_some_and(|at| now.duration_since(at).as_secs() >= ttl)
}

/// The pod's completion index (`batch.kubernetes.io/job-completion-index`).
fn completion_index(pod: &Value) -> Option<i64> {
    pod.pointer("/metadata/annotations")?
        .get(COMPLETION_INDEX)?
        .as_str()?
        .parse()
        .ok()
}

/// `0-2,4`: sorted indexes as `status.completedIndexes` writes them.
fn index_ranges(indexes: &BTreeSet<i64>) -> String {
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for &index in indexes {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == index => *end = index,
            _ => ranges.push((index, index)),
        }
    }
    ranges
        .iter()
        .map(|(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A pod for `job`, from its template, owned by it (what `podControl.CreatePodsWithGenerateName` sends).
/// An Indexed Job's pod carries its `index` as annotation, label,
/// `JOB_COMPLETION_INDEX` and hostname (`job_controller.go`,
/// `addCompletionIndexEnvVariables` and friends).
pub fn pod_from_template(job: &Value, index: Option<i64>) -> Value {
    let meta = |field: &str| job.pointer(&format!("/metadata/{field}")).cloned();
    let template = job.pointer("/spec/template").cloned().unwrap_or_default();
    let name = meta("name")
        .and_then(|n| n.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut metadata = json!({
        "generateName": format!("{name}-"),
        "ownerReferences": [{
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": name,
            "uid": meta("uid").unwrap_or(Value::Null),
            "controller": true,
            "blockOwnerDeletion": true,
        }],
    });
    for field in ["labels", "annotations"] {
        if let Some(value) = template.pointer(&format!("/metadata/{field}")) {
            metadata[field] = value.clone();
        }
    }
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Some(index) = index {
        metadata["generateName"] = json!(format!("{name}-{index}-"));
        for field in ["annotations", "labels"] {
            if !metadata[field].is_object() {
                metadata[field] = json!({});
            }
            metadata[field][COMPLETION_INDEX] = json!(index.to_string());
        }
        if spec.get("hostname").is_none() {
            spec["hostname"] = json!(format!("{name}-{index}"));
        }
        for list in ["initContainers", "containers"] {
            for container in spec[list].as_array_mut().into_iter().flatten() {
                let env = container
                    .as_object_mut()
                    .and_then(|c| c.entry("env").or_insert_with(|| json!([])).as_array_mut());
                if let Some(env) =
                    env.filter(|e| !e.iter().any(|v| v["name"] == "JOB_COMPLETION_INDEX"))
                {
                    env.push(
                        json!({ "name": "JOB_COMPLETION_INDEX", "valueFrom": { "fieldRef": {
                        "fieldPath": format!("metadata.annotations['{COMPLETION_INDEX}']"),
                    } } }),
                    );
                }
            }
        }
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
    })
}

/// The name and uid of the object's controlling owner of `kind`, if any.
pub fn controller_of<'a>(object: &'a Value, kind: &str) -> Option<(&'a str, &'a str)> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r["kind"] == kind && r["controller"] == true)
        .and_then(|r| Some((r["name"].as_str()?, r["uid"].as_str()?)))
}

#[cfg(test)]
mod tests;

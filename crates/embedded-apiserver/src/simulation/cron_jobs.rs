//! The CronJob controller (`pkg/controller/cronjob/cronjob_controllerv2.go`
//! and `utils.go`), as a pure step: from a CronJob, the Jobs it owns and the
//! time, the Job to create, the Jobs to delete and the status to write.
//!
//! As upstream: the most recent scheduled time after `lastScheduleTime` (or
//! the CronJob's creation) that has passed runs, unless `suspend` is set, it
//! is older than `startingDeadlineSeconds`, or `concurrencyPolicy: Forbid`
//! and a Job is still active (the run then waits; `Replace` deletes the
//! active Jobs first). The Job is named `<cronjob>-<scheduled minutes since
//! the epoch>`, carries the template's labels and annotations plus
//! `batch.kubernetes.io/cronjob-scheduled-timestamp`, and the CronJob as
//! controller owner. `status.active` lists unfinished Jobs,
//! `lastSuccessfulTime` the latest completion, and finished Jobs beyond
//! `successfulJobsHistoryLimit`/`failedJobsHistoryLimit` are deleted, oldest
//! first. Missed runs are not counted (upstream gives up after 100 missed
//! schedules); only the latest one runs, as upstream does.

use super::jobs::finished;
use crate::batch::SCHEDULED_TIMESTAMP_ANNOTATION;
use crate::batch::schedule::Schedule;
use jiff::Timestamp;
use serde_json::{Value, json};

/// What the CronJob controller does next for one CronJob.
#[derive(Debug, Default, PartialEq)]
pub struct CronJobStep {
    /// The Job to create, complete but for defaults.
    pub create: Option<Value>,
    /// Names of Jobs to delete (replaced, or beyond the history limits).
    pub delete: Vec<String>,
    /// The status to write.
    pub status: Value,
}

fn time_of(value: Option<&Value>) -> Option<Timestamp> {
    value?.as_str()?.parse().ok()
}

fn format(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn has_true(job: &Value, kind: &str) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

fn name_of(job: &Value) -> &str {
    job.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn reference(job: &Value) -> Value {
    let meta = |field: &str| job.pointer(&format!("/metadata/{field}")).cloned();
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta("name"),
        "namespace": meta("namespace"),
        "uid": meta("uid"),
        "resourceVersion": meta("resourceVersion"),
    })
}

/// The next step for `cron_job` owning `jobs` at `now`. `next_run_due`
/// makes the next scheduled time count as come (a test's shortcut through
/// time). `None` when the schedule cannot be parsed.
pub fn step(
    cron_job: &Value,
    jobs: &[&Value],
    now: Timestamp,
    next_run_due: bool,
) -> Option<CronJobStep> {
    if cron_job.pointer("/metadata/deletionTimestamp").is_some() {
        return None;
    }
    let spec = cron_job.get("spec")?;
    let schedule = Schedule::parse(
        spec.get("schedule")?.as_str()?,
        spec.get("timeZone").and_then(Value::as_str),
    )
    .ok()?;
    let current = cron_job.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut status = json!({});
    for field in ["lastScheduleTime", "lastSuccessfulTime"] {
        if let Some(value) = current.get(field) {
            status[field] = value.clone();
        }
    }

    // Finished Jobs leave `active`; the latest completion is remembered.
    let mut active: Vec<&Value> = jobs.iter().copied().filter(|j| !finished(j)).collect();
    let last_success = jobs
        .iter()
        .filter(|j| has_true(j, "Complete"))
        .filter_map(|j| time_of(j.pointer("/status/completionTime")))
        .chain(time_of(current.get("lastSuccessfulTime")))
        .max();
    if let Some(time) = last_success {
        status["lastSuccessfulTime"] = json!(format(time));
    }

    // History limits, oldest (by start, then creation) first.
    let mut delete = Vec::new();
    for (condition, limit_field, default) in [
        ("Complete", "successfulJobsHistoryLimit", 3),
        ("Failed", "failedJobsHistoryLimit", 1),
    ] {
        let limit = spec
            .get(limit_field)
            .and_then(Value::as_i64)
            .unwrap_or(default);
        let mut done: Vec<&Value> = jobs
            .iter()
            .copied()
            .filter(|j| has_true(j, condition))
            .collect();
        done.sort_by_key(|j| {
            (
                time_of(j.pointer("/status/startTime")),
                time_of(j.pointer("/metadata/creationTimestamp")),
            )
        });
        let excess = done
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        delete.extend(done[..excess].iter().map(|j| name_of(j).to_owned()));
    }

    let mut create = None;
    let earliest = time_of(current.get("lastScheduleTime"))
        .or_else(|| time_of(cron_job.pointer("/metadata/creationTimestamp")))
        .unwrap_or(now);
    let now = match next_run_due
        .then(|| schedule.next_after(earliest))
        .flatten()
    {
        Some(next) if next > now => next,
        _ => now,
    };
    let due = schedule.most_recent(earliest, now);
    let too_late = |scheduled: Timestamp| {
        spec.get("startingDeadlineSeconds")
            .and_then(Value::as_i64)
            .is_some_and(|deadline| now.duration_since(scheduled).as_secs() > deadline)
    };
    let policy = spec
        .get("concurrencyPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Allow");
    match due {
        _ if spec["suspend"] == true => {}
        None => {}
        Some(scheduled) if too_late(scheduled) => {
            // Missed for good: upstream records nothing and waits for the next.
        }
        Some(_) if policy == "Forbid" && !active.is_empty() => {}
        Some(scheduled) => {
            if policy == "Replace" {
                delete.extend(active.iter().map(|j| name_of(j).to_owned()));
                active.clear();
            }
            create = Some(job_from_template(cron_job, &schedule, scheduled));
            status["lastScheduleTime"] = json!(format(scheduled));
        }
    }
    if !active.is_empty() {
        // References are written once, when the Job is created or found.
        let known = current["active"].as_array().cloned().unwrap_or_default();
        let references: Vec<Value> = active
            .iter()
            .map(|job| {
                let uid = job.pointer("/metadata/uid");
                known
                    .iter()
                    .find(|r| r.get("uid") == uid)
                    .cloned()
                    .unwrap_or_else(|| reference(job))
            })
            .collect();
        status["active"] = json!(references);
    }
    Some(CronJobStep {
        create,
        delete,
        status,
    })
}

/// `getJobFromTemplate2`: the Job for the run scheduled at `scheduled`.
fn job_from_template(cron_job: &Value, schedule: &Schedule, scheduled: Timestamp) -> Value {
    let meta = |field: &str| cron_job.pointer(&format!("/metadata/{field}")).cloned();
    let name = meta("name")
        .and_then(|n| n.as_str().map(str::to_owned))
        .unwrap_or_default();
    let template = cron_job
        .pointer("/spec/jobTemplate")
        .cloned()
        .unwrap_or_default();
    let mut annotations = template
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or_else(|| json!({}));
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = json!(schedule.format_in_zone(scheduled));
    let mut metadata = json!({
        "name": format!("{name}-{}", scheduled.as_second().div_euclid(60)),
        "annotations": annotations,
        "ownerReferences": [{
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": name,
            "uid": meta("uid"),
            "controller": true,
            "blockOwnerDeletion": true,
        }],
    });
    if let Some(labels) = template.pointer("/metadata/labels") {
        metadata["labels"] = labels.clone();
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
    })
}

#[cfg(test)]
mod tests;

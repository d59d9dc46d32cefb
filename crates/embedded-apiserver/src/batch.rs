//! `batch/v1` Jobs and CronJobs: what kube-apiserver's registry does to them
//! on a write, beyond typed decoding. Defaults follow
//! `pkg/apis/batch/v1/defaults.go`, the generated selector
//! `pkg/registry/batch/job/strategy.go` (`generateSelector`), and the checks
//! `pkg/apis/batch/validation/validation.go`, with its messages.
//!
//! The Job and CronJob controllers are played by the workload simulation
//! (`simulation::jobs`, `simulation::cron_jobs`).

pub mod schedule;

use crate::errors::FieldError;
use serde_json::{Map, Value, json};

/// `batch.kubernetes.io/job-name` and its legacy unprefixed form.
pub const JOB_NAME_LABELS: [&str; 2] = ["job-name", "batch.kubernetes.io/job-name"];
/// `batch.kubernetes.io/controller-uid` and its legacy unprefixed form.
pub const CONTROLLER_UID_LABELS: [&str; 2] =
    ["controller-uid", "batch.kubernetes.io/controller-uid"];
/// The CronJob controller's annotation on the Jobs it creates.
pub const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

fn default(object: &mut Map<String, Value>, key: &str, value: Value) {
    if object.get(key).is_none_or(Value::is_null) {
        object.insert(key.to_owned(), value);
    }
}

/// `SetDefaults_Job` (1.33, its feature gates at their defaults): the spec's
/// counters and modes, and the template's labels as the Job's labels when it
/// has none. Runs on every write, as upstream's decoding does — including
/// on the object read back after create, which is why a Job created without
/// labels shows the generated `controller-uid`/`job-name` labels too.
pub fn default_job(job: &mut Value) {
    let template_labels = job.pointer("/spec/template/metadata/labels").cloned();
    if let Some(spec) = job.get_mut("spec").and_then(Value::as_object_mut) {
        job_spec_defaults(spec);
    }
    let has_labels = job
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .is_some_and(|l| !l.is_empty());
    if let (Some(labels), false) = (template_labels.filter(Value::is_object), has_labels)
        && let Some(meta) = job.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.insert("labels".into(), labels);
    }
}

fn job_spec_defaults(spec: &mut Map<String, Value>) {
    let unset = |spec: &Map<String, Value>, key: &str| spec.get(key).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    default(spec, "parallelism", json!(1));
    let backoff = if unset(spec, "backoffLimitPerIndex") {
        json!(6)
    } else {
        json!(i32::MAX)
    };
    default(spec, "backoffLimit", backoff);
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    let replacement = if unset(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    default(spec, "podReplacementPolicy", json!(replacement));
    default(spec, "manualSelector", json!(false));
}

/// `SetDefaults_CronJob`. The Job template's spec is not a Job, so
/// `SetDefaults_Job` does not run on it (only its pod template's defaults do):
/// the Jobs the controller creates are defaulted when they are created.
pub fn default_cron_job(cron_job: &mut Value) {
    if let Some(spec) = cron_job.get_mut("spec").and_then(Value::as_object_mut) {
        default(spec, "concurrencyPolicy", json!("Allow"));
        default(spec, "suspend", json!(false));
        default(spec, "successfulJobsHistoryLimit", json!(3));
        default(spec, "failedJobsHistoryLimit", json!(1));
    }
}

/// `generateSelector`, run on create once the Job has its uid: unless
/// `manualSelector` is true, the template gets the `job-name` and
/// `controller-uid` labels (both spellings) and the selector matches
/// `batch.kubernetes.io/controller-uid`.
pub fn generate_selector(job: &mut Value) {
    if job.pointer("/spec/manualSelector") == Some(&Value::Bool(true)) {
        return;
    }
    let meta = |field: &str| {
        job.pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (name, uid) = (meta("name"), meta("uid"));
    let Some(spec) = job.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let template = spec.entry("template").or_insert_with(|| json!({}));
    if let Some(template) = template.as_object_mut() {
        let metadata = template.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            let labels = metadata.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                for key in JOB_NAME_LABELS {
                    labels.entry(key).or_insert_with(|| json!(name));
                }
                for key in CONTROLLER_UID_LABELS {
                    labels.entry(key).or_insert_with(|| json!(uid));
                }
            }
        }
    }
    let selector = spec.entry("selector").or_insert_with(|| json!({}));
    if let Some(selector) = selector.as_object_mut() {
        let match_labels = selector.entry("matchLabels").or_insert_with(|| json!({}));
        if let Some(match_labels) = match_labels.as_object_mut() {
            match_labels
                .entry(CONTROLLER_UID_LABELS[1])
                .or_insert_with(|| json!(uid));
        }
    }
}

/// The field errors of a Job or CronJob write (`old` on update).
pub fn validate(kind: &str, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
    match kind {
        "Job" => validate_job(object, old),
        "CronJob" => validate_cron_job(object, old),
        _ => Vec::new(),
    }
}

fn nonnegative(spec: &Value, path: &str, fields: &[&str], errors: &mut Vec<FieldError>) {
    for field in fields {
        if let Some(value) = spec.get(*field).and_then(Value::as_i64)
            && value < 0
        {
            errors.push(FieldError::invalid(
                format!("{path}.{field}"),
                value,
                "must be greater than or equal to 0",
            ));
        }
    }
}

/// `validateJobSpec`: counters, completion mode, and the template's restart policy.
fn validate_job_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    nonnegative(
        spec,
        path,
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "ttlSecondsAfterFinished",
        ],
        &mut errors,
    );
    if let Some(mode) = spec.get("completionMode").and_then(Value::as_str) {
        if !matches!(mode, "NonIndexed" | "Indexed") {
            errors.push(FieldError::not_supported(
                format!("{path}.completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        } else if mode == "Indexed" && spec.get("completions").is_none_or(Value::is_null) {
            errors.push(FieldError::required(
                format!("{path}.completions"),
                Some("when completion mode is Indexed"),
            ));
        }
    }
    // The pod defaults make an unset policy `Always`: both are refused.
    let restart = format!("{path}.template.spec.restartPolicy");
    match spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
    {
        None | Some("" | "Always") => errors.push(FieldError::required(
            restart,
            Some("valid values: \"OnFailure\", \"Never\""),
        )),
        Some("OnFailure" | "Never") => {}
        Some(other) => errors.push(FieldError::not_supported(
            restart,
            other,
            &["OnFailure", "Never"],
        )),
    }
    errors
}

fn validate_job(job: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let spec = job.get("spec").unwrap_or(&Value::Null);
    let mut errors = validate_job_spec(spec, "spec");
    let selector = spec.get("selector").filter(|s| !s.is_null());
    match selector {
        None => errors.push(FieldError::required("spec.selector", None)),
        Some(selector) => {
            let labels = spec
                .pointer("/template/metadata/labels")
                .and_then(Value::as_object);
            if !crate::label_selector::matches(Some(selector), labels) {
                errors.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    labels.cloned().map_or(Value::Null, Value::Object),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    if let Some(old) = old {
        let old_spec = old.get("spec").unwrap_or(&Value::Null);
        let mut immutable = vec!["selector", "template", "completionMode", "podFailurePolicy"];
        if spec.get("completionMode").and_then(Value::as_str) != Some("Indexed") {
            immutable.push("completions");
        }
        for field in immutable {
            if spec.get(field) != old_spec.get(field) {
                let value = spec.get(field).cloned().unwrap_or(Value::Null);
                errors.push(FieldError::invalid(
                    format!("spec.{field}"),
                    value,
                    "field is immutable",
                ));
            }
        }
    }
    errors
}

fn validate_cron_job(cron_job: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let spec = cron_job.get("spec").unwrap_or(&Value::Null);
    let mut errors = Vec::new();
    let time_zone = spec.get("timeZone").and_then(Value::as_str);
    match spec.get("schedule").and_then(Value::as_str) {
        None | Some("") => errors.push(FieldError::required("spec.schedule", None)),
        Some(schedule) => {
            if let Err(problem) = schedule::Schedule::parse(schedule, None) {
                errors.push(FieldError::invalid("spec.schedule", schedule, problem));
            }
            let old_had_tz = old
                .and_then(|o| o.pointer("/spec/schedule"))
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains("TZ"));
            if schedule.contains("TZ") && !old_had_tz {
                errors.push(FieldError::invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            }
        }
    }
    if let Some(zone) = time_zone
        && old.and_then(|o| o.pointer("/spec/timeZone")) != spec.get("timeZone")
        && schedule::Schedule::parse("* * * * *", Some(zone)).is_err()
    {
        let detail = if zone.is_empty() {
            "timeZone must be nil or non-empty string".to_owned()
        } else {
            format!("unknown time zone {zone}")
        };
        errors.push(FieldError::invalid("spec.timeZone", zone, detail));
    }
    match spec.get("concurrencyPolicy").and_then(Value::as_str) {
        Some("Allow" | "Forbid" | "Replace") => {}
        None | Some("") => errors.push(FieldError::required("spec.concurrencyPolicy", None)),
        Some(other) => errors.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    nonnegative(
        spec,
        "spec",
        &[
            "startingDeadlineSeconds",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        ],
        &mut errors,
    );
    let job_spec = spec.pointer("/jobTemplate/spec").unwrap_or(&Value::Null);
    errors.extend(validate_job_spec(job_spec, "spec.jobTemplate.spec"));
    if let Some(selector) = job_spec.get("selector").filter(|s| !s.is_null()) {
        errors.push(FieldError::invalid(
            "spec.jobTemplate.spec.selector",
            selector.clone(),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.get("manualSelector") == Some(&Value::Bool(true)) {
        errors.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    // The controller names its Jobs `<name>-<11 characters>`, which must fit 63.
    let name = cron_job
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if old.is_none() && name.len() > 52 {
        errors.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    errors
}

#[cfg(test)]
mod tests;

use super::*;
use serde_json::json;

fn job() -> Value {
    json!({
        "metadata": { "name": "backup", "uid": "u-1" },
        "spec": { "template": { "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "c", "image": "busybox" }],
        } } },
    })
}

#[test]
fn jobs_get_upstream_defaults_and_a_generated_selector() {
    let mut job = job();
    generate_selector(&mut job);
    default_job(&mut job);
    let spec = &job["spec"];
    assert_eq!(spec["completions"], 1);
    assert_eq!(spec["parallelism"], 1);
    assert_eq!(spec["backoffLimit"], 6);
    assert_eq!(spec["completionMode"], "NonIndexed");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["manualSelector"], false);
    assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
    assert_eq!(
        spec["selector"],
        json!({ "matchLabels": { "batch.kubernetes.io/controller-uid": "u-1" } })
    );
    let labels = &spec["template"]["metadata"]["labels"];
    assert_eq!(labels["job-name"], "backup");
    assert_eq!(labels["batch.kubernetes.io/job-name"], "backup");
    assert_eq!(labels["controller-uid"], "u-1");
    assert_eq!(
        job["metadata"]["labels"], *labels,
        "a Job without labels takes its template's"
    );
    assert!(validate("Job", &job, None).is_empty());
}

#[test]
fn parallelism_alone_leaves_completions_unset() {
    let mut job = json!({ "spec": { "parallelism": 3 } });
    default_job(&mut job);
    assert!(job["spec"].get("completions").is_none());
}

#[test]
fn restart_policy_must_be_never_or_on_failure() {
    let mut job = job();
    job["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    generate_selector(&mut job);
    let errors = validate("Job", &job, None);
    assert_eq!(
        errors[0].to_string(),
        "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
    job["spec"]["template"]["spec"]["restartPolicy"] = json!("Sometimes");
    assert_eq!(
        validate("Job", &job, None)[0].to_string(),
        "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\""
    );
}

#[test]
fn manual_selectors_must_match_and_specs_are_immutable() {
    let mut job = job();
    job["spec"]["manualSelector"] = json!(true);
    assert_eq!(
        validate("Job", &job, None)[0].to_string(),
        "spec.selector: Required value"
    );
    job["spec"]["selector"] = json!({ "matchLabels": { "app": "x" } });
    assert!(
        validate("Job", &job, None)[0]
            .to_string()
            .ends_with("`selector` does not match template `labels`")
    );
    job["spec"]["template"]["metadata"] = json!({ "labels": { "app": "x" } });
    assert!(validate("Job", &job, None).is_empty());
    let old = job.clone();
    job["spec"]["template"]["spec"]["containers"][0]["image"] = json!("alpine");
    assert_eq!(
        validate("Job", &job, Some(&old))[0].field,
        "spec.template",
        "a Job's template cannot change"
    );
}

fn cron_job(schedule: &str) -> Value {
    let mut cron_job = json!({
        "metadata": { "name": "nightly" },
        "spec": {
            "schedule": schedule,
            "jobTemplate": { "spec": { "template": { "spec": {
                "restartPolicy": "OnFailure",
                "containers": [{ "name": "c", "image": "busybox" }],
            } } } },
        },
    });
    default_cron_job(&mut cron_job);
    cron_job
}

#[test]
fn cron_jobs_get_defaults_and_their_schedule_checked() {
    let good = cron_job("0 3 * * *");
    assert_eq!(good["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(good["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(good["spec"]["failedJobsHistoryLimit"], 1);
    assert_eq!(good["spec"]["suspend"], false);
    assert!(validate("CronJob", &good, None).is_empty());

    let errors = validate("CronJob", &cron_job("every night"), None);
    assert_eq!(
        errors[0].to_string(),
        "spec.schedule: Invalid value: \"every night\": expected exactly 5 fields, found 2: [every night]"
    );
    let errors = validate("CronJob", &cron_job("CRON_TZ=UTC 0 3 * * *"), None);
    assert!(errors.iter().any(|e| {
        e.to_string()
            .ends_with("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    }));
    let mut policy = cron_job("@daily");
    policy["spec"]["concurrencyPolicy"] = json!("Sometimes");
    assert_eq!(
        validate("CronJob", &policy, None)[0].to_string(),
        "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\""
    );
    let mut long = cron_job("@daily");
    long["metadata"]["name"] = json!("n".repeat(53));
    assert_eq!(
        validate("CronJob", &long, None)[0].body(),
        format!(
            "Invalid value: \"{}\": must be no more than 52 characters",
            "n".repeat(53)
        )
    );
}

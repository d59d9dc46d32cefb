use super::*;

const NOW: &str = "2026-01-01T10:00:00Z";

fn job(spec: Value) -> Value {
    let mut job = json!({
        "metadata": { "name": "backup", "namespace": "ns", "uid": "job-uid" },
        "spec": {
            "completions": 1, "parallelism": 1, "backoffLimit": 6,
            "template": { "spec": { "restartPolicy": "Never", "containers": [{ "name": "c" }] } },
        },
    });
    for (key, value) in spec.as_object().unwrap() {
        job["spec"][key] = value.clone();
    }
    job
}

fn pod(phase: &str) -> Value {
    json!({ "metadata": { "name": format!("backup-{phase}") }, "status": { "phase": phase } })
}

fn types(status: &Value) -> Vec<&str> {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["type"].as_str())
        .collect()
}

#[test]
fn a_new_job_starts_one_pod() {
    let step = step(&job(json!({})), &[], NOW).unwrap();
    assert_eq!(step.create, [None]);
    assert_eq!(step.status["active"], 1);
    assert_eq!(step.status["startTime"], NOW);
    assert_eq!(step.status["ready"], 0);
    assert!(step.status.get("conditions").is_none());
}

#[test]
fn a_succeeded_pod_completes_the_job() {
    let succeeded = pod("Succeeded");
    let step = step(&job(json!({})), &[&succeeded], NOW).unwrap();
    assert!(step.create.is_empty());
    assert_eq!(types(&step.status), ["SuccessCriteriaMet", "Complete"]);
    assert_eq!(step.status["conditions"][1]["reason"], "CompletionsReached");
    assert_eq!(step.status["succeeded"], 1);
    assert_eq!(step.status["completionTime"], NOW);
    assert!(step.status.get("active").is_none());
    let mut done = job(json!({}));
    done["status"] = step.status;
    assert_eq!(
        super::step(&done, &[&succeeded], NOW),
        None,
        "finished Jobs rest"
    );
}

#[test]
fn failures_past_the_backoff_limit_fail_the_job() {
    let failed = pod("Failed");
    let replaced = step(&job(json!({ "backoffLimit": 1 })), &[&failed], NOW).unwrap();
    assert_eq!(replaced.create, [None], "one failure is retried");
    assert_eq!(replaced.status["failed"], 1);
    let step = step(&job(json!({ "backoffLimit": 1 })), &[&failed, &failed], NOW).unwrap();
    assert_eq!(types(&step.status), ["FailureTarget", "Failed"]);
    assert_eq!(
        step.status["conditions"][1]["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(
        step.status["conditions"][1]["message"],
        "Job has reached the specified backoff limit"
    );
    assert_eq!(step.status["failed"], 2);
    assert!(step.status.get("completionTime").is_none());
}

#[test]
fn deadlines_and_suspension() {
    let mut late = job(json!({ "activeDeadlineSeconds": 60 }));
    late["status"] = json!({ "startTime": "2026-01-01T09:00:00Z" });
    let running = pod("Running");
    let step = step(&late, &[&running], NOW).unwrap();
    assert_eq!(step.status["conditions"][1]["reason"], "DeadlineExceeded");
    assert_eq!(step.delete, ["backup-Running"]);

    let suspended = super::step(&job(json!({ "suspend": true })), &[&running], NOW).unwrap();
    assert_eq!(types(&suspended.status), ["Suspended"]);
    assert_eq!(suspended.delete, ["backup-Running"]);
    assert!(suspended.status.get("startTime").is_none());
}

#[test]
fn finished_jobs_expire_after_their_ttl() {
    let mut job = job(json!({ "ttlSecondsAfterFinished": 60 }));
    let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap();
    assert!(!ttl_expired(&job, at(NOW)), "not finished");
    job["status"] = json!({ "completionTime": "2026-01-01T10:00:00Z", "conditions": [
        { "type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T10:00:00Z" }
    ] });
    assert!(!ttl_expired(&job, at("2026-01-01T10:00:59Z")));
    assert!(ttl_expired(&job, at("2026-01-01T10:01:00Z")));
}

#[test]
fn pods_come_from_the_template_owned_by_the_job() {
    let mut job = job(json!({}));
    job["spec"]["template"]["metadata"] = json!({ "labels": { "job-name": "backup" } });
    let pod = pod_from_template(&job, None);
    assert_eq!(pod["metadata"]["generateName"], "backup-");
    assert_eq!(pod["metadata"]["labels"]["job-name"], "backup");
    assert_eq!(controller_of(&pod, "Job"), Some(("backup", "job-uid")));
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
}

#[test]
fn indexed_jobs_run_each_index_once() {
    let indexed = job(json!({ "completionMode": "Indexed", "completions": 3, "parallelism": 2 }));
    let first = step(&indexed, &[], NOW).unwrap();
    assert_eq!(first.create, [Some(0), Some(1)]);
    let pod = pod_from_template(&indexed, Some(1));
    assert_eq!(pod["metadata"]["generateName"], "backup-1-");
    assert_eq!(
        pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"],
        "1"
    );
    assert_eq!(
        pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"],
        "1"
    );
    assert_eq!(pod["spec"]["hostname"], "backup-1");
    assert_eq!(
        pod["spec"]["containers"][0]["env"][0]["name"],
        "JOB_COMPLETION_INDEX"
    );

    let with_index = |phase: &str, index: i64| {
        json!({ "metadata": { "name": format!("p{index}"), "annotations": {
            "batch.kubernetes.io/job-completion-index": index.to_string() } },
            "status": { "phase": phase } })
    };
    let (done0, running1) = (with_index("Succeeded", 0), with_index("Running", 1));
    let next = step(&indexed, &[&done0, &running1], NOW).unwrap();
    assert_eq!(next.create, [Some(2)], "index 0 is done, 1 runs");
    assert_eq!(next.status["completedIndexes"], "0");
    let (done1, done2) = (with_index("Succeeded", 1), with_index("Succeeded", 2));
    let last = step(&indexed, &[&done0, &done1, &done2], NOW).unwrap();
    assert_eq!(last.status["completedIndexes"], "0-2");
    assert_eq!(last.status["succeeded"], 3);
    assert!(last.status["conditions"][1]["type"] == "Complete");
}

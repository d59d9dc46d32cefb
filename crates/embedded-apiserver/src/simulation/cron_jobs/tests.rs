use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn cron_job(spec: Value) -> Value {
    let mut cron_job = json!({
        "metadata": { "name": "nightly", "namespace": "ns", "uid": "cj-uid",
                      "creationTimestamp": "2026-01-01T00:00:00Z" },
        "spec": {
            "schedule": "0 3 * * *",
            "concurrencyPolicy": "Allow",
            "suspend": false,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": { "labels": { "app": "backup" } },
                "spec": { "template": { "spec": { "containers": [] } } },
            },
        },
    });
    for (key, value) in spec.as_object().unwrap() {
        cron_job["spec"][key] = value.clone();
    }
    cron_job
}

fn job(name: &str, condition: Option<&str>, start: &str) -> Value {
    let mut job = json!({
        "metadata": { "name": name, "namespace": "ns", "uid": format!("{name}-uid") },
        "status": { "startTime": start },
    });
    if let Some(kind) = condition {
        job["status"]["conditions"] = json!([{ "type": kind, "status": "True" }]);
        job["status"]["completionTime"] = json!(start);
    }
    job
}

#[test]
fn a_passed_schedule_makes_its_job() {
    let step = step(&cron_job(json!({})), &[], at("2026-01-01T03:00:30Z"), false).unwrap();
    let job = step.create.expect("03:00 has passed");
    let minutes = at("2026-01-01T03:00:00Z").as_second() / 60;
    assert_eq!(job["metadata"]["name"], format!("nightly-{minutes}"));
    assert_eq!(job["metadata"]["labels"]["app"], "backup");
    assert_eq!(
        job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION],
        "2026-01-01T03:00:00Z"
    );
    assert_eq!(step.status["lastScheduleTime"], "2026-01-01T03:00:00Z");
    let early = super::step(&cron_job(json!({})), &[], at("2026-01-01T02:59:00Z"), false).unwrap();
    assert!(early.create.is_none());
}

#[test]
fn suspend_forbid_and_deadlines_hold_runs_back() {
    let now = at("2026-01-01T03:00:30Z");
    let suspended = step(&cron_job(json!({ "suspend": true })), &[], now, false).unwrap();
    assert!(suspended.create.is_none());
    let running = job("nightly-1", None, "2026-01-01T02:00:00Z");
    let forbid = step(
        &cron_job(json!({ "concurrencyPolicy": "Forbid" })),
        &[&running],
        now,
        false,
    )
    .unwrap();
    assert!(forbid.create.is_none());
    assert_eq!(forbid.status["active"][0]["name"], "nightly-1");
    let replace = step(
        &cron_job(json!({ "concurrencyPolicy": "Replace" })),
        &[&running],
        now,
        false,
    )
    .unwrap();
    assert!(replace.create.is_some());
    assert_eq!(replace.delete, ["nightly-1"]);
    let late = step(
        &cron_job(json!({ "startingDeadlineSeconds": 10 })),
        &[],
        now,
        false,
    )
    .unwrap();
    assert!(late.create.is_none(), "30 s late is past a 10 s deadline");
}

#[test]
fn a_due_run_comes_before_its_time_when_asked() {
    let now = at("2026-01-01T00:00:10Z");
    assert!(
        step(&cron_job(json!({})), &[], now, false)
            .unwrap()
            .create
            .is_none()
    );
    let due = step(&cron_job(json!({})), &[], now, true).unwrap();
    assert_eq!(due.status["lastScheduleTime"], "2026-01-01T03:00:00Z");
}

#[test]
fn history_beyond_the_limits_is_deleted_oldest_first() {
    let jobs = [
        job("ok-1", Some("Complete"), "2026-01-01T01:00:00Z"),
        job("ok-2", Some("Complete"), "2026-01-02T01:00:00Z"),
        job("ok-3", Some("Complete"), "2026-01-03T01:00:00Z"),
        job("ok-4", Some("Complete"), "2026-01-04T01:00:00Z"),
        job("bad-1", Some("Failed"), "2026-01-01T02:00:00Z"),
        job("bad-2", Some("Failed"), "2026-01-02T02:00:00Z"),
    ];
    let refs: Vec<&Value> = jobs.iter().collect();
    let step = step(
        &cron_job(json!({})),
        &refs,
        at("2026-01-04T02:00:00Z"),
        false,
    )
    .unwrap();
    assert_eq!(step.delete, ["ok-1", "bad-1"]);
    assert_eq!(step.status["lastSuccessfulTime"], "2026-01-04T01:00:00Z");
    assert!(step.status.get("active").is_none());
}

use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn ok(job: &str, finished: &str) -> Run {
    Run {
        job: job.into(),
        finished: at(finished),
        outcome: Ok(()),
    }
}

fn failed(job: &str, finished: &str) -> Run {
    Run {
        job: job.into(),
        finished: at(finished),
        outcome: Err("BackoffLimitExceeded: Job has reached the specified backoff limit".into()),
    }
}

fn observe<'a>(
    runs: Vec<Run>,
    previous: Option<&'a BackupStatus>,
    now: &str,
) -> BackupObservation<'a> {
    BackupObservation {
        schedule: "0 3 * * *",
        since: Some(at("2026-12-01T00:00:00Z")),
        runs,
        cron_last_success: None,
        manual_token: None,
        previous,
        now: at(now),
    }
}

#[test]
fn the_interval_is_the_schedules() {
    let day = schedule_interval("0 3 * * *", at("2026-12-01T00:00:00Z")).unwrap();
    assert_eq!(day.as_secs(), 86_400);
    let hour = schedule_interval("@hourly", at("2026-12-01T00:30:00Z")).unwrap();
    assert_eq!(hour.as_secs(), 3_600);
    assert!(schedule_interval("not a schedule", at("2026-12-01T00:00:00Z")).is_none());
}

#[test]
fn before_any_run_the_health_is_unknown_and_silent() {
    let projection = backup_status(&observe(vec![], None, "2026-12-01T10:00:00Z"));
    assert!(projection.condition.unknown);
    assert_eq!(projection.condition.reason, "Pending");
    assert_eq!(projection.status, BackupStatus::default());
    assert!(projection.new_failure.is_none());
}

#[test]
fn a_success_is_healthy_and_remembered_after_its_job_is_gone() {
    let projection = backup_status(&observe(
        vec![ok("prod-dolt-backup-1", "2026-12-02T03:01:00Z")],
        None,
        "2026-12-02T04:00:00Z",
    ));
    assert!(projection.condition.status);
    assert_eq!(projection.condition.reason, "BackupSucceeded");
    let success = projection.status.last_successful_time.clone().unwrap();
    assert_eq!(success.0, at("2026-12-02T03:01:00Z"));

    // The CronJob pruned the Job: the time stays.
    let later = backup_status(&observe(
        vec![],
        Some(&projection.status),
        "2026-12-02T05:00:00Z",
    ));
    assert_eq!(later.status.last_successful_time, Some(success));
    assert!(later.condition.status);
}

#[test]
fn a_failure_is_unhealthy_told_once_and_kept_after_a_success() {
    let first = backup_status(&observe(
        vec![
            ok("prod-dolt-backup-1", "2026-12-02T03:01:00Z"),
            failed("prod-dolt-backup-2", "2026-12-03T03:02:00Z"),
        ],
        None,
        "2026-12-03T04:00:00Z",
    ));
    assert!(!first.condition.status);
    assert_eq!(first.condition.reason, BACKUP_FAILED);
    assert!(first.condition.message.contains("prod-dolt-backup-2"));
    assert!(first.condition.message.contains("BackoffLimitExceeded"));
    let failure = first.new_failure.clone().unwrap();
    assert_eq!(failure.job, "prod-dolt-backup-2");
    assert_eq!(first.status.last_failure, Some(failure.clone()));

    // Seen again with the status written: not new any more.
    let again = backup_status(&observe(
        vec![failed("prod-dolt-backup-2", "2026-12-03T03:02:00Z")],
        Some(&first.status),
        "2026-12-03T04:01:00Z",
    ));
    assert!(again.new_failure.is_none());
    assert!(!again.condition.status);

    // A second failure is new.
    let second = backup_status(&observe(
        vec![
            failed("prod-dolt-backup-2", "2026-12-03T03:02:00Z"),
            failed("prod-dolt-backup-3", "2026-12-04T03:02:00Z"),
        ],
        Some(&first.status),
        "2026-12-04T04:00:00Z",
    ));
    assert_eq!(second.new_failure.unwrap().job, "prod-dolt-backup-3");

    // A success after it: healthy, and the failure is still there to read.
    let recovered = backup_status(&observe(
        vec![ok("prod-dolt-backup-4", "2026-12-05T03:01:00Z")],
        Some(&second.status),
        "2026-12-05T04:00:00Z",
    ));
    assert!(recovered.condition.status);
    assert_eq!(
        recovered.status.last_failure.unwrap().job,
        "prod-dolt-backup-3"
    );
}

#[test]
fn no_success_for_twice_the_interval_is_overdue() {
    let success = ok("prod-dolt-backup-1", "2026-12-02T03:01:00Z");
    let within = backup_status(&observe(
        vec![success.clone()],
        None,
        "2026-12-04T03:00:00Z",
    ));
    assert!(within.condition.status, "{:?}", within.condition);
    let overdue = backup_status(&observe(vec![success], None, "2026-12-04T03:02:00Z"));
    assert!(!overdue.condition.status);
    assert_eq!(overdue.condition.reason, BACKUP_OVERDUE);

    // Never a success, scheduled for more than two days: overdue as well.
    let never = backup_status(&observe(vec![], None, "2026-12-03T00:00:01Z"));
    assert!(!never.condition.status && !never.condition.unknown);
    assert_eq!(never.condition.reason, BACKUP_OVERDUE);
}

#[test]
fn the_on_demand_token_is_recorded_once_its_job_exists() {
    let mut o = observe(vec![], None, "2026-12-01T10:00:00Z");
    o.manual_token = Some("now-1".into());
    let started = backup_status(&o);
    assert_eq!(started.status.last_manual_token.as_deref(), Some("now-1"));
    // Kept when nothing new is started.
    let kept = backup_status(&observe(
        vec![],
        Some(&started.status),
        "2026-12-01T10:01:00Z",
    ));
    assert_eq!(kept.status.last_manual_token.as_deref(), Some("now-1"));
}

//! The town's backup status, derived purely from its backup Jobs: when the
//! latest backup succeeded, the latest failure, and the `BackupHealthy`
//! condition (False when the latest run failed, or when no backup succeeded
//! for longer than twice the schedule's interval; Unknown before any run).

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use gastown_api::backup::{BackupFailure, BackupStatus};
use gastown_api::gastown::condition::BACKUP_HEALTHY;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp, tz::TimeZone};

use crate::conditions::Observed;

/// Reason of a BackupHealthy that is False because the latest run failed.
pub const BACKUP_FAILED: &str = "BackupFailed";
/// Reason of a BackupHealthy that is False because no backup is recent.
pub const BACKUP_OVERDUE: &str = "BackupOverdue";

/// One finished backup Job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub job: String,
    pub finished: Timestamp,
    /// `Err` with the Job's own words when it failed.
    pub outcome: Result<(), String>,
}

/// What the backup status is computed from.
#[derive(Clone, Debug)]
pub struct BackupObservation<'a> {
    /// The CronJob's schedule (UTC).
    pub schedule: &'a str,
    /// Since when backups are scheduled (the CronJob's creation); `None`
    /// before the CronJob exists.
    pub since: Option<Timestamp>,
    /// The finished Jobs still kept (the CronJob prunes its history).
    pub runs: Vec<Run>,
    /// The CronJob's own `status.lastSuccessfulTime`.
    pub cron_last_success: Option<Timestamp>,
    /// The on-demand token whose Job exists, if any.
    pub manual_token: Option<String>,
    /// The status as last written.
    pub previous: Option<&'a BackupStatus>,
    pub now: Timestamp,
}

/// The interval of `schedule` at `after`: the time between the two
/// scheduled runs that follow it. `None` when it does not parse.
pub fn schedule_interval(schedule: &str, after: Timestamp) -> Option<SignedDuration> {
    let pattern = match schedule.trim() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    // The CronJob controller's parser: five fields (robfig/cron ParseStandard).
    let cron: Cron = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build()
        .parse(pattern)
        .ok()?;
    let start = after.to_zoned(TimeZone::UTC);
    let first = cron.find_next_occurrence(&start, false).ok()?;
    let second = cron.find_next_occurrence(&first, false).ok()?;
    Some(second.timestamp().duration_since(first.timestamp()))
}

fn time(time: Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The projection of a town's backups.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupProjection {
    pub status: BackupStatus,
    pub condition: Observed,
    /// A failure newer than the status as last written: told as an Event.
    pub new_failure: Option<BackupFailure>,
}

/// The new backup status, its condition, and the failure that is new since
/// the status as last written, if any.
pub fn backup_status(o: &BackupObservation<'_>) -> BackupProjection {
    let previous = o.previous.cloned().unwrap_or_default();
    // A success is remembered past the Jobs the CronJob prunes.
    let last_success = o
        .runs
        .iter()
        .filter(|r| r.outcome.is_ok())
        .map(|r| r.finished)
        .chain(o.cron_last_success)
        .chain(previous.last_successful_time.as_ref().map(|t| t.0))
        .max();
    let latest_failed = o
        .runs
        .iter()
        .filter_map(|r| r.outcome.as_ref().err().map(|message| (r, message)))
        .max_by_key(|(r, _)| r.finished);
    let new_failure = latest_failed
        .filter(|(r, _)| {
            previous
                .last_failure
                .as_ref()
                .is_none_or(|f| f.time.0 < r.finished)
        })
        .map(|(r, message)| BackupFailure {
            time: Time(r.finished),
            job: r.job.clone(),
            message: message.clone(),
        });
    let last_failure = new_failure.clone().or(previous.last_failure);
    let status = BackupStatus {
        last_successful_time: last_success.map(Time),
        last_failure: last_failure.clone(),
        last_manual_token: o.manual_token.clone().or(previous.last_manual_token),
    };

    let failed_last = last_failure
        .as_ref()
        .filter(|f| last_success.is_none_or(|success| f.time.0 > success));
    let overdue = |since: Timestamp| {
        let interval = schedule_interval(o.schedule, since)?;
        let limit = interval.checked_mul(2)?;
        (o.now.duration_since(since) > limit).then_some(interval)
    };
    let condition = if let Some(failure) = failed_last {
        Observed::new(
            BACKUP_HEALTHY,
            false,
            BACKUP_FAILED,
            format!(
                "the backup Job {} failed at {}: {}",
                failure.job,
                time(failure.time.0),
                failure.message
            ),
        )
    } else if let Some(success) = last_success {
        match overdue(success) {
            Some(interval) => Observed::new(
                BACKUP_HEALTHY,
                false,
                BACKUP_OVERDUE,
                format!(
                    "no backup succeeded since {}: more than twice the schedule's interval ({}s)",
                    time(success),
                    interval.as_secs()
                ),
            ),
            None => Observed::new(
                BACKUP_HEALTHY,
                true,
                "BackupSucceeded",
                format!("the latest backup completed at {}", time(success)),
            ),
        }
    } else {
        match o.since.and_then(|since| overdue(since).map(|i| (since, i))) {
            Some((since, interval)) => Observed::new(
                BACKUP_HEALTHY,
                false,
                BACKUP_OVERDUE,
                format!(
                    "no backup has succeeded since backups were scheduled at {}: more than twice the schedule's interval ({}s)",
                    time(since),
                    interval.as_secs()
                ),
            ),
            // Nothing known yet: unknown, and silent (a progress reason).
            None => Observed::unknown(BACKUP_HEALTHY, "Pending", "no backup has run yet"),
        }
    };
    BackupProjection {
        status,
        condition,
        new_failure,
    }
}

#[cfg(test)]
mod tests;

//! CronJob schedules: the five-field cron syntax and `@hourly`-style
//! descriptors of `github.com/robfig/cron/v3`'s `ParseStandard`, which both
//! kube-apiserver's validation and the CronJob controller use, evaluated in
//! the CronJob's `timeZone` (UTC when unset, as kube-controller-manager runs
//! in UTC).
//!
//! Parsing is croner's; it is configured to the standard parser's shape
//! (exactly five fields, `5/10` meaning `5-59/10`). croner also accepts a few
//! extensions robfig refuses (`L`, `W`, `#`): those are let through.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// A parsed schedule in its time zone.
pub struct Schedule {
    cron: Cron,
    zone: TimeZone,
}

/// robfig's descriptors, as `ParseStandard` expands them.
fn expand_descriptor(schedule: &str) -> Option<&'static str> {
    Some(match schedule {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

impl Schedule {
    /// Parses `schedule`; the error is the text upstream's validation puts
    /// after `spec.schedule: Invalid value: "…": `.
    pub fn parse(schedule: &str, time_zone: Option<&str>) -> Result<Self, String> {
        let schedule = schedule.trim();
        let pattern = match expand_descriptor(schedule) {
            Some(expanded) => expanded,
            None if schedule.starts_with('@') => {
                return Err(format!("unrecognized descriptor: {schedule}"));
            }
            None => {
                let fields: Vec<&str> = schedule.split_whitespace().collect();
                if fields.len() != 5 {
                    // robfig/cron's parser.go wording.
                    return Err(format!(
                        "expected exactly 5 fields, found {}: [{}]",
                        fields.len(),
                        fields.join(" ")
                    ));
                }
                schedule
            }
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .sloppy_ranges(true)
            .build()
            .parse(pattern)
            .map_err(|error| error.to_string())?;
        let zone = match time_zone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|_| format!("unknown time zone {name}"))?,
        };
        Ok(Schedule { cron, zone })
    }

    /// The first scheduled time strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let start = after.to_zoned(self.zone.clone());
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|next: Zoned| next.timestamp())
    }

    /// The latest scheduled time in `(after, until]`, if any.
    pub fn most_recent(&self, after: Timestamp, until: Timestamp) -> Option<Timestamp> {
        let latest = until.to_zoned(self.zone.clone());
        let previous: Zoned = self.cron.find_previous_occurrence(&latest, true).ok()?;
        (previous.timestamp() > after).then(|| previous.timestamp())
    }

    /// `time` as RFC 3339 in the schedule's zone, as the controller writes
    /// `batch.kubernetes.io/cronjob-scheduled-timestamp`.
    pub fn format_in_zone(&self, time: Timestamp) -> String {
        time.to_zoned(self.zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
            .replace("+00:00", "Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn standard_fields_and_descriptors() {
        let every_five = Schedule::parse("*/5 * * * *", None).unwrap();
        assert_eq!(
            every_five.next_after(at("2026-01-01T10:02:00Z")),
            Some(at("2026-01-01T10:05:00Z"))
        );
        assert_eq!(
            every_five.most_recent(at("2026-01-01T09:00:00Z"), at("2026-01-01T10:07:30Z")),
            Some(at("2026-01-01T10:05:00Z"))
        );
        assert_eq!(
            every_five.most_recent(at("2026-01-01T10:05:00Z"), at("2026-01-01T10:07:30Z")),
            None,
            "nothing after the last run"
        );
        let hourly = Schedule::parse("@hourly", None).unwrap();
        assert_eq!(
            hourly.next_after(at("2026-01-01T10:00:00Z")),
            Some(at("2026-01-01T11:00:00Z"))
        );
    }

    #[test]
    fn refuses_what_parse_standard_refuses() {
        let error = Schedule::parse("0 0 0 * * *", None).err().unwrap();
        assert_eq!(error, "expected exactly 5 fields, found 6: [0 0 0 * * *]");
        assert!(Schedule::parse("bad", None).is_err());
        assert!(Schedule::parse("61 * * * *", None).is_err());
        assert!(Schedule::parse("@fortnightly", None).is_err());
        assert!(Schedule::parse("* * * * *", Some("Mars/Olympus")).is_err());
    }

    #[test]
    fn time_zones_shift_the_schedule() {
        let schedule = Schedule::parse("0 9 * * *", Some("Europe/Paris")).unwrap();
        let next = schedule.next_after(at("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(next, at("2026-01-01T08:00:00Z"));
        assert_eq!(schedule.format_in_zone(next), "2026-01-01T09:00:00+01:00");
    }
}

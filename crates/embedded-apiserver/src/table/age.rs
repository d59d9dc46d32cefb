//! Ages as `kubectl get` shows them: kube-apiserver's `HumanDuration`.

use jiff::{SignedDuration, Timestamp};

/// The age of `timestamp` at `now`, or `<unknown>` when there is no
/// timestamp (kube-apiserver's `translateTimestampSince`).
pub(super) fn since(timestamp: Option<Timestamp>, now: Timestamp) -> String {
    match timestamp {
        Some(timestamp) => human_duration(now.duration_since(timestamp)),
        None => "<unknown>".to_owned(),
    }
}

/// An RFC 3339 timestamp from an object field.
pub(super) fn parse(value: Option<&str>) -> Option<Timestamp> {
    value?.parse().ok()
}

/// A duration rounded the way kube-apiserver rounds ages: seconds up to two
/// minutes, then minutes, hours, days and years with one finer unit while the
/// coarse one is small. Up to a second into the future counts as now.
pub(super) fn human_duration(duration: SignedDuration) -> String {
    let seconds = duration.as_secs();
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> String {
        human_duration(SignedDuration::from_secs(s))
    }

    #[test]
    fn rounds_like_kube_apiserver() {
        assert_eq!(secs(-5), "<invalid>");
        assert_eq!(human_duration(SignedDuration::from_millis(-1500)), "0s");
        assert_eq!(secs(0), "0s");
        assert_eq!(secs(119), "119s");
        assert_eq!(secs(120), "2m");
        assert_eq!(secs(5 * 60 + 7), "5m7s");
        assert_eq!(secs(10 * 60 + 7), "10m");
        assert_eq!(secs(179 * 60), "179m");
        assert_eq!(secs(3 * 3600), "3h");
        assert_eq!(secs(7 * 3600 + 59 * 60), "7h59m");
        assert_eq!(secs(47 * 3600), "47h");
        assert_eq!(secs(3 * 86400 + 5 * 3600), "3d5h");
        assert_eq!(secs(8 * 86400), "8d");
        assert_eq!(secs(729 * 86400), "729d");
        assert_eq!(secs(3 * 365 * 86400 + 10 * 86400), "3y10d");
        assert_eq!(secs(9 * 365 * 86400), "9y");
    }

    #[test]
    fn missing_timestamps_are_unknown() {
        let now: Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        assert_eq!(since(None, now), "<unknown>");
        assert_eq!(since(parse(Some("2026-01-01T00:00:00Z")), now), "10m");
        assert_eq!(parse(Some("yesterday")), None);
    }
}

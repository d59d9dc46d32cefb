//! Tolerant field decoders: the daemon is Go, so absent values arrive as missing
//! keys, `null`, empty strings or zero times depending on version.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer};

/// `null` or a missing key becomes the type's default.
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `null`, an empty string or only whitespace becomes `None`.
pub(crate) fn non_empty_string<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Option::<String>::deserialize(deserializer)?.and_then(|text| non_empty(&text)))
}

/// An RFC 3339 time; anything unreadable, and Go's zero time, becomes `None`
/// instead of failing the whole answer.
pub(crate) fn timestamp<'de, D>(deserializer: D) -> Result<Option<Timestamp>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(parse_timestamp))
}

/// Parses an RFC 3339 time as found in a field or a description line.
pub(crate) fn parse_timestamp(text: &str) -> Option<Timestamp> {
    /// Go marshals an unset `time.Time` as 0001-01-01T00:00:00Z (-62135596800 s);
    /// anything before year 2 is taken as unset.
    const GO_ZERO_TIME_CUTOFF_SECONDS: i64 = -62_100_000_000;
    let parsed: Timestamp = text.trim().parse().ok()?;
    (parsed.as_second() > GO_ZERO_TIME_CUTOFF_SECONDS).then_some(parsed)
}

pub(crate) fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty() && trimmed != "null").then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_zero_time_and_garbage_are_none() {
        assert_eq!(parse_timestamp("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(
            parse_timestamp("2026-02-06T22:00:00.123456789Z").map(|t| t.as_millisecond()),
            Some(1_770_415_200_123)
        );
        assert!(parse_timestamp(" 2026-02-06T22:00:00+01:00 ").is_some());
    }
}

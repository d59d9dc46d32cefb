//! Go-style duration strings (`90s`, `10m`, `1h30m`), as Kubernetes users write them.
//!
//! The text is kept exactly as written, so that what the operator applies back (server-side
//! apply) equals what the user wrote; the parsed value is available through [`GoDuration::get`].
//! The accepted grammar is the one [`DURATION_PATTERN`] puts into the CRD schema, so the API
//! server and this parser agree on what is valid.
//!
//! The parser is written here on purpose: `humantime` reads a different syntax (`1h 30m`,
//! no `us`), and `kube::core::Duration`, which reads Go's, computes through `f64` and panics
//! on overflow — a user could write `maxRuntime: 99999999999999999999h` and crash whoever
//! deserializes the object.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::{borrow::Cow, fmt, str::FromStr, time::Duration};

/// The pattern every duration field carries in the CRD schema: one or more
/// `<number><unit>` pairs, units `ns`, `us`, `ms`, `s`, `m`, `h` (Go's `time.ParseDuration`
/// without signs, bare `0` or the `µs` spelling).
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$";

/// The longest duration text the schema accepts (bounds CEL cost estimates, too).
pub const DURATION_MAX_LENGTH: usize = 32;

/// Why a duration text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text does not follow `<number><unit>` pairs (see [`DURATION_PATTERN`]).
    #[error(
        "invalid duration {text:?}: expected <number><unit> pairs such as 90s, 10m or 1h30m (units ns, us, ms, s, m, h)"
    )]
    Syntax {
        /// The refused text.
        text: String,
    },
    /// The duration exceeds what Go's `time.Duration` holds (about 292 years).
    #[error("invalid duration {text:?}: longer than about 292 years")]
    OutOfRange {
        /// The refused text.
        text: String,
    },
    /// The text is longer than [`DURATION_MAX_LENGTH`].
    #[error("invalid duration {text:?}: longer than {DURATION_MAX_LENGTH} characters")]
    TooLong {
        /// The refused text.
        text: String,
    },
}

/// A non-negative duration written the Go way, e.g. `2h`, `5m`, `1h30m`, `1.5s`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct GoDuration {
    text: String,
    value: Duration,
}

impl GoDuration {
    /// The duration as written, e.g. `"1h30m"`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed duration.
    pub fn get(&self) -> Duration {
        self.value
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() > DURATION_MAX_LENGTH {
            return Err(DurationError::TooLong { text: text.into() });
        }
        let nanos = total_nanos(text).map_err(|problem| match problem {
            Problem::Syntax => DurationError::Syntax { text: text.into() },
            Problem::Overflow => DurationError::OutOfRange { text: text.into() },
        })?;
        let value = Duration::new(
            (nanos / NANOS_PER_SECOND) as u64,
            (nanos % NANOS_PER_SECOND) as u32,
        );
        Ok(Self {
            text: text.into(),
            value,
        })
    }
}

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Go's `time.Duration` is an `int64` of nanoseconds; longer durations are refused, as Go does.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Units with their length in nanoseconds; `ms` before `m` so the longer unit is tried first.
const UNITS: [(&str, u128); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", NANOS_PER_SECOND),
    ("m", 60 * NANOS_PER_SECOND),
    ("h", 3600 * NANOS_PER_SECOND),
];

enum Problem {
    Syntax,
    Overflow,
}

/// The nanoseconds `text` denotes, reading `([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+` exactly
/// (see [`DURATION_PATTERN`]) with integer arithmetic, so nothing is rounded through floats
/// and nothing can overflow.
fn total_nanos(text: &str) -> Result<u128, Problem> {
    if text.is_empty() {
        return Err(Problem::Syntax);
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, after_whole) = split_digits(rest).ok_or(Problem::Syntax)?;
        let (fraction, after_number) = match after_whole.strip_prefix('.') {
            Some(after_dot) => split_digits(after_dot).ok_or(Problem::Syntax)?,
            None => ("", after_whole),
        };
        let (unit_nanos, after_unit) = UNITS
            .iter()
            .find_map(|(unit, nanos)| after_number.strip_prefix(unit).map(|rest| (*nanos, rest)))
            .ok_or(Problem::Syntax)?;
        total = whole_nanos(whole, unit_nanos)
            .and_then(|nanos| nanos.checked_add(fraction_nanos(fraction, unit_nanos)?))
            .and_then(|nanos| total.checked_add(nanos))
            .filter(|total| *total <= MAX_NANOS)
            .ok_or(Problem::Overflow)?;
        rest = after_unit;
    }
    Ok(total)
}

/// Splits a non-empty run of ASCII digits off the front of `text`.
fn split_digits(text: &str) -> Option<(&str, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0).then(|| text.split_at(digits))
}

fn whole_nanos(digits: &str, unit_nanos: u128) -> Option<u128> {
    digits.parse::<u128>().ok()?.checked_mul(unit_nanos)
}

/// `0.<digits>` of a unit, truncated to whole nanoseconds (as Go does).
fn fraction_nanos(digits: &str, unit_nanos: u128) -> Option<u128> {
    if digits.is_empty() {
        return Some(0);
    }
    let scale = 10u128.checked_pow(u32::try_from(digits.len()).ok()?)?;
    Some(digits.parse::<u128>().ok()?.checked_mul(unit_nanos)? / scale)
}

impl TryFrom<String> for GoDuration {
    type Error = DurationError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<GoDuration> for String {
    fn from(duration: GoDuration) -> Self {
        duration.text
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoDuration({:?})", self.text)
    }
}

impl JsonSchema for GoDuration {
    fn schema_name() -> Cow<'static, str> {
        "GoDuration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "maxLength": DURATION_MAX_LENGTH,
        })
    }
}

/// A duration literal known to be valid, for defaults declared in this crate.
pub(crate) fn known_valid(text: &str) -> GoDuration {
    text.parse()
        .unwrap_or_else(|err| panic!("built-in default duration is invalid: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_durations() {
        let cases = [
            ("90s", Duration::from_secs(90)),
            ("10m", Duration::from_secs(600)),
            ("2h", Duration::from_secs(7200)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5s", Duration::from_millis(1500)),
            ("250ms", Duration::from_millis(250)),
            ("3us", Duration::from_micros(3)),
            ("7ns", Duration::from_nanos(7)),
            ("1h1m1s", Duration::from_secs(3661)),
            ("0s", Duration::ZERO),
            ("1.25h", Duration::from_secs(4500)),
            ("0.000000001s", Duration::from_nanos(1)),
        ];
        for (text, expected) in cases {
            let parsed: GoDuration = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.get(), expected, "{text}");
            assert_eq!(parsed.as_str(), text);
        }
    }

    #[test]
    fn refuses_what_the_schema_pattern_refuses() {
        for text in [
            "", "0", "10", "m", "-5s", "+5s", "1.s", ".5s", "5 s", "5sec", "5d", "1h-3m", "5µs",
        ] {
            assert!(
                matches!(
                    text.parse::<GoDuration>(),
                    Err(DurationError::Syntax { .. })
                ),
                "{text:?} should be refused"
            );
        }
        let long = "1s".repeat(17);
        assert!(matches!(
            long.parse::<GoDuration>(),
            Err(DurationError::TooLong { .. })
        ));
    }

    #[test]
    fn refuses_durations_go_cannot_hold_instead_of_overflowing() {
        for text in [
            "9999999999999999999999999999h",
            "2562048h",
            "99999999999999999999s",
        ] {
            assert!(
                matches!(
                    text.parse::<GoDuration>(),
                    Err(DurationError::OutOfRange { .. })
                ),
                "{text:?} should be out of range"
            );
        }
        // Go's longest duration, 2562047h47m16.854775807s, still parses.
        let max: GoDuration = "2562047h47m16.854775807s".parse().unwrap();
        assert_eq!(max.get(), Duration::from_nanos(i64::MAX as u64));
    }

    #[test]
    fn serde_keeps_the_text_and_validates() {
        let d: GoDuration = serde_json::from_value(serde_json::json!("1h30m")).unwrap();
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!("1h30m")
        );
        let err = serde_json::from_value::<GoDuration>(serde_json::json!("soon")).unwrap_err();
        assert!(
            err.to_string().contains("invalid duration \"soon\""),
            "{err}"
        );
    }
}

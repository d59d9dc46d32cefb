//! Go-style duration strings (`90s`, `10m`, `1h30m`), as Kubernetes users write them.
//!
//! The text is kept exactly as written, so that what the operator applies back (server-side
//! apply) equals what the user wrote; the parsed value is available through [`GoDuration::get`].
//! The accepted grammar is the one [`DURATION_PATTERN`] puts into the CRD schema, so the API
//! server and this parser agree on what is valid.

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
        if !follows_grammar(text) {
            return Err(DurationError::Syntax { text: text.into() });
        }
        // The grammar check above is stricter than kube's Go-compatible parser, so any text
        // that reaches this point parses; the error arm is kept for safety, not expected.
        let value = kube::core::Duration::from_str(text)
            .map_err(|_| DurationError::Syntax { text: text.into() })?;
        Ok(Self {
            text: text.into(),
            value: value.into(),
        })
    }
}

/// Whether `text` matches [`DURATION_PATTERN`]: `([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+`.
fn follows_grammar(text: &str) -> bool {
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some(after_number) = strip_number(rest) else {
            return false;
        };
        // Longest unit first, so that `ms` is not read as `m` followed by garbage.
        let Some(after_unit) = ["ns", "us", "ms", "s", "m", "h"]
            .iter()
            .find_map(|unit| after_number.strip_prefix(unit))
        else {
            return false;
        };
        rest = after_unit;
    }
    true
}

/// Strips `[0-9]+(\.[0-9]+)?` from the front of `text`.
fn strip_number(text: &str) -> Option<&str> {
    fn strip_digits(s: &str) -> Option<&str> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0).then(|| &s[digits..])
    }
    let rest = strip_digits(text)?;
    match rest.strip_prefix('.') {
        Some(fraction) => strip_digits(fraction),
        None => Some(rest),
    }
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

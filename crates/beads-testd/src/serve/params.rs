//! Query strings and JSON bodies of bd serve requests, with its refusals: an unknown query
//! parameter or body member is a 400, as is a body without `Content-Type: application/json`.

use axum::http::{HeaderMap, header};
use jiff::Timestamp;
use serde_json::{Map, Value};

use super::problem::Problem;

/// The decoded `key=value` pairs of a query string, in order (keys may repeat).
#[derive(Debug, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(key), decode(value))
            })
            .collect();
        Params { pairs }
    }

    /// The first parameter not in `allowed` → 400 `unknown_parameter`.
    // bd-serve-v0.md §2: unknown query parameter on any route → 400.
    pub fn check(&self, allowed: &[&str]) -> Result<(), Problem> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            Some((key, _)) => Err(Problem::unknown_parameter(key)),
            None => Ok(()),
        }
    }

    /// The first value of `key`.
    pub fn one(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every value of `key`, repeated or comma-separated, trimmed, empties dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.all(key)
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn bool(&self, key: &str) -> Result<bool, Problem> {
        match self.one(key) {
            None => Ok(false),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(invalid_value(key, other)),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, Problem> {
        self.one(key)
            .map(|v| v.parse::<i64>().map_err(|_| invalid_value(key, v)))
            .transpose()
    }

    pub fn time(&self, key: &str) -> Result<Option<Timestamp>, Problem> {
        self.one(key)
            .map(|v| v.parse::<Timestamp>().map_err(|_| invalid_value(key, v)))
            .transpose()
    }

    /// `metadata_field=key=value` filters (top-level equality); a bad key → 400.
    // bd-serve-v0.md §3.4 (`metadata_field`: `key=value`, repeat; bad key → 400)
    pub fn metadata_fields(&self) -> Result<Vec<(String, String)>, Problem> {
        self.all("metadata_field")
            .into_iter()
            .map(|field| match field.split_once('=') {
                Some((key, value)) if valid_metadata_key(key) => {
                    Ok((key.to_owned(), value.to_owned()))
                }
                _ => Err(invalid_value("metadata_field", &field)),
            })
            .collect()
    }
}

pub(crate) fn invalid_value(param: &str, value: &str) -> Problem {
    Problem::invalid(
        param,
        "invalid_value",
        format!("invalid value {value:?} for {param}"),
    )
}

/// A metadata key: a letter or `_`, then letters, digits, `_`, `.`, `/`; at most 255 bytes.
// bd-serve-v0.md §3.8 (`key` syntax)
pub(crate) fn valid_metadata_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 255
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/'))
}

/// Whether a stored metadata value equals the text of a `metadata_field` filter: strings by their
/// content, other JSON by its compact text.
pub(crate) fn metadata_matches(stored: Option<&Value>, wanted: &str) -> bool {
    match stored {
        Some(Value::String(s)) => s == wanted,
        Some(other) => serde_json::to_string(other).is_ok_and(|text| text == wanted),
        None => false,
    }
}

/// A write body: `Content-Type: application/json`, a JSON object, only `allowed` members.
// bd-serve-v0.md §2: bodies need `Content-Type: application/json`; unknown members are 400.
pub(crate) fn json_body(
    headers: &HeaderMap,
    body: &[u8],
    allowed: &[&str],
) -> Result<Map<String, Value>, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(Problem::invalid(
            "Content-Type",
            "invalid_value",
            "the request body must be application/json",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        Problem::invalid("body", "invalid_value", format!("malformed JSON: {error}"))
    })?;
    let Value::Object(object) = value else {
        return Err(Problem::invalid(
            "body",
            "invalid_value",
            "the body must be a JSON object",
        ));
    };
    if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        // The `reason` for an unknown member is our choice; the reference only says 400.
        return Err(Problem::invalid(
            unknown,
            "unknown_field",
            format!("unknown body member {unknown:?}"),
        ));
    }
    Ok(object)
}

/// The `actor` of a write body: a required string, trimmed, ≤256 bytes, no control characters.
// bd-serve-v0.md §3.7 (`actor`)
pub(crate) fn actor(body: &Map<String, Value>) -> Result<String, Problem> {
    let actor = match body.get("actor") {
        Some(Value::String(actor)) => actor.trim(),
        _ => {
            return Err(Problem::invalid(
                "actor",
                "invalid_value",
                "actor is required",
            ));
        }
    };
    if actor.is_empty() || actor.len() > 256 || actor.chars().any(char::is_control) {
        return Err(invalid_value("actor", actor));
    }
    Ok(actor.to_owned())
}

/// Percent-decoding of one query component (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-decoding of a path segment (no `+` rule).
pub(crate) fn decode_path(text: &str) -> String {
    decode(&text.replace('+', "%2B"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parsing_repeats_commas_and_decoding() {
        let params = Params::parse(Some(
            "status=open,hooked&status=closed&label=gt%3Aagent&a+b=c",
        ));
        assert_eq!(params.list("status"), ["open", "hooked", "closed"]);
        assert_eq!(params.one("label"), Some("gt:agent"));
        assert_eq!(params.one("a b"), Some("c"));
        assert!(params.check(&["status", "label", "a b"]).is_ok());
        let refused = params.check(&["status"]).unwrap_err();
        assert_eq!(refused.body["param"], "label");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode_path("a+b%2Fc"), "a+b/c");
    }

    #[test]
    fn metadata_keys() {
        for good in ["k8s_pod", "_x", "a.b/c", "A1"] {
            assert!(valid_metadata_key(good), "{good}");
        }
        for bad in ["", "1a", "a-b", "a b", ".x"] {
            assert!(!valid_metadata_key(bad), "{bad}");
        }
    }
}

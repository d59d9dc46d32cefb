//! Kubernetes JSONPath (the dialect of `additionalPrinterColumns` and
//! `kubectl -o jsonpath`) evaluated with `serde_json_path` (RFC 9535).
//!
//! The dialects differ mostly in spelling: Kubernetes writes `.status.phase`
//! (optionally inside `{…}`, with `\.` escaping a dot inside a key such as
//! `.metadata.labels.app\.kubernetes\.io/name`), RFC 9535 wants `$` first and
//! bracket notation for keys that are not plain identifiers. Bracketed parts —
//! indices, slices, `*`, filters like `[?(@.type=="Ready")]` — are the same in both.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A JSONPath the RFC 9535 parser rejected after translation.
#[derive(Debug, thiserror::Error)]
#[error("unsupported JSONPath {path:?}: {reason}")]
pub struct JsonPathError {
    path: String,
    reason: String,
}

/// A parsed Kubernetes JSONPath.
#[derive(Debug, Clone)]
pub struct KubeJsonPath(JsonPath);

impl KubeJsonPath {
    pub fn parse(path: &str) -> Result<Self, JsonPathError> {
        let translated = translate(path);
        JsonPath::parse(&translated)
            .map(KubeJsonPath)
            .map_err(|error| JsonPathError {
                path: path.to_owned(),
                reason: error.to_string(),
            })
    }

    /// The first value the path selects, as kube-apiserver's table convertor takes it.
    pub fn first<'a>(&self, object: &'a Value) -> Option<&'a Value> {
        self.0.query(object).first()
    }
}

/// Rewrites a Kubernetes JSONPath in RFC 9535 syntax.
fn translate(path: &str) -> String {
    let path = path.trim();
    let path = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path)
        .trim();
    let path = path.strip_prefix('$').unwrap_or(path);
    let mut out = String::from("$");
    let mut chars = path.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '.' => {
                chars.next();
                if chars.peek() == Some(&'.') {
                    chars.next();
                    out.push_str("..");
                } else {
                    // A single dot only separates; `..` above is the descendant segment.
                }
                match chars.peek() {
                    Some('*') => {
                        chars.next();
                        out.push_str("[*]");
                    }
                    Some('[') | None => {}
                    Some(_) => push_member(&mut out, &mut chars),
                }
            }
            '[' => copy_bracket(&mut out, &mut chars),
            _ => push_member(&mut out, &mut chars),
        }
    }
    out
}

/// Reads a member name up to the next unescaped `.` or `[` and writes it in
/// bracket notation, which accepts any key.
fn push_member(out: &mut String, chars: &mut std::iter::Peekable<std::str::Chars>) {
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        match c {
            '.' | '[' => break,
            '\\' => {
                chars.next();
                if let Some(escaped) = chars.next() {
                    name.push(escaped);
                }
            }
            _ => {
                name.push(c);
                chars.next();
            }
        }
    }
    out.push_str("['");
    for c in name.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("']");
}

/// Copies a bracketed selector verbatim, minding quotes and nested brackets.
fn copy_bracket(out: &mut String, chars: &mut std::iter::Peekable<std::str::Chars>) {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in chars.by_ref() {
        out.push(c);
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn first(path: &str, object: &Value) -> Option<Value> {
        KubeJsonPath::parse(path)
            .expect(path)
            .first(object)
            .cloned()
    }

    #[test]
    fn translates_kubernetes_spelling() {
        assert_eq!(translate(".status.phase"), "$['status']['phase']");
        assert_eq!(translate("{.spec.replicas}"), "$['spec']['replicas']");
        assert_eq!(
            translate(".metadata.labels.app\\.kubernetes\\.io/name"),
            "$['metadata']['labels']['app.kubernetes.io/name']"
        );
        assert_eq!(
            translate(".spec.containers[0].image"),
            "$['spec']['containers'][0]['image']"
        );
        assert_eq!(
            translate(".status.conditions[?(@.type==\"Ready\")].status"),
            "$['status']['conditions'][?(@.type==\"Ready\")]['status']"
        );
        assert_eq!(translate("..name"), "$..['name']");
        assert_eq!(translate(".items.*"), "$['items'][*]");
    }

    #[test]
    fn evaluates_against_objects() {
        let object = json!({
            "metadata": { "labels": { "app.kubernetes.io/name": "town" } },
            "spec": { "ready-replicas": 2, "containers": [{ "image": "a" }, { "image": "b" }] },
            "status": { "conditions": [
                { "type": "Progressing", "status": "True" },
                { "type": "Ready", "status": "False", "reason": "Waiting" },
            ] },
        });
        assert_eq!(
            first(".metadata.labels.app\\.kubernetes\\.io/name", &object),
            Some(json!("town"))
        );
        assert_eq!(first(".spec.ready-replicas", &object), Some(json!(2)));
        assert_eq!(
            first(".spec.containers[1].image", &object),
            Some(json!("b"))
        );
        assert_eq!(
            first(".status.conditions[?(@.type==\"Ready\")].reason", &object),
            Some(json!("Waiting"))
        );
        assert_eq!(
            first(".status.conditions[?(@.type=='Ready')].status", &object),
            Some(json!("False"))
        );
        assert_eq!(first(".status.missing", &object), None);
    }

    #[test]
    fn rejects_what_neither_dialect_knows() {
        assert!(KubeJsonPath::parse(".spec[?(@.x ===)]").is_err());
    }
}

//! Label selectors (equality- and set-based) and field selectors, parsed from
//! the `labelSelector` / `fieldSelector` query parameters.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorParseError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Exists,
    DoesNotExist,
    In(Vec<String>),
    NotIn(Vec<String>),
    GreaterThan(i64),
    LessThan(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&input[start..]);
    parts
}

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, SelectorParseError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| SelectorParseError(whole.to_owned()))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn parse_requirement(raw: &str) -> Result<Requirement, SelectorParseError> {
    let text = raw.trim();
    let err = || SelectorParseError(text.to_owned());
    if let Some(key) = text.strip_prefix('!') {
        let key = key.trim();
        return if valid_key(key) {
            Ok(Requirement {
                key: key.to_owned(),
                op: Op::DoesNotExist,
            })
        } else {
            Err(err())
        };
    }
    for (token, is_in) in [(" notin ", false), (" in ", true)] {
        if let Some(pos) = text.find(token) {
            let key = text[..pos].trim();
            let values = parse_set(&text[pos + token.len()..], text)?;
            if !valid_key(key) {
                return Err(err());
            }
            let op = if is_in {
                Op::In(values)
            } else {
                Op::NotIn(values)
            };
            return Ok(Requirement {
                key: key.to_owned(),
                op,
            });
        }
    }
    for (token, builder) in [
        (
            "!=",
            (|v: String| Ok(Op::NotIn(vec![v]))) as fn(String) -> Result<Op, ()>,
        ),
        ("==", |v| Ok(Op::In(vec![v]))),
        ("=", |v| Ok(Op::In(vec![v]))),
        (">", |v| v.parse().map(Op::GreaterThan).map_err(|_| ())),
        ("<", |v| v.parse().map(Op::LessThan).map_err(|_| ())),
    ] {
        if let Some(pos) = text.find(token) {
            let key = text[..pos].trim();
            let value = text[pos + token.len()..].trim().to_owned();
            if !valid_key(key) {
                return Err(err());
            }
            let op = builder(value).map_err(|()| err())?;
            return Ok(Requirement {
                key: key.to_owned(),
                op,
            });
        }
    }
    if valid_key(text) {
        Ok(Requirement {
            key: text.to_owned(),
            op: Op::Exists,
        })
    } else {
        Err(err())
    }
}

impl LabelSelector {
    pub fn parse(input: &str) -> Result<Self, SelectorParseError> {
        if input.trim().is_empty() {
            return Ok(Self::default());
        }
        let requirements = split_top_level(input)
            .into_iter()
            .map(parse_requirement)
            .collect::<Result<_, _>>()?;
        Ok(Self { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        self.requirements.iter().all(|req| {
            let value = labels.and_then(|l| l.get(&req.key)).and_then(Value::as_str);
            match (&req.op, value) {
                (Op::Exists, v) => v.is_some(),
                (Op::DoesNotExist, v) => v.is_none(),
                (Op::In(values), Some(v)) => values.iter().any(|x| x == v),
                (Op::In(_), None) => false,
                (Op::NotIn(values), v) => v.is_none_or(|v| !values.iter().any(|x| x == v)),
                (Op::GreaterThan(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v > *n),
                (Op::LessThan(n), Some(v)) => v.parse::<i64>().is_ok_and(|v| v < *n),
                (Op::GreaterThan(_) | Op::LessThan(_), None) => false,
            }
        })
    }

    pub fn matches_object(&self, object: &Value) -> bool {
        self.is_empty()
            || self.matches(
                object
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object),
            )
    }
}

/// A parsed field selector: `field=value`, `field==value`, `field!=value`, comma-joined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, String, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldSelectorError {
    #[error("invalid selector: '{0}'; can't understand '{0}'")]
    Syntax(String),
    #[error("field label not supported: {0}")]
    Unsupported(String),
}

impl FieldSelector {
    /// Parses `input`, refusing fields the kind does not support (as upstream does).
    pub fn parse(
        input: &str,
        supported: &dyn Fn(&str) -> bool,
    ) -> Result<Self, FieldSelectorError> {
        let mut terms = Vec::new();
        for raw in input.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, value, equal) = if let Some((f, v)) = raw.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = raw.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = raw.split_once('=') {
                (f, v, true)
            } else {
                return Err(FieldSelectorError::Syntax(raw.to_owned()));
            };
            let field = field.trim();
            if !supported(field) {
                return Err(FieldSelectorError::Unsupported(field.to_owned()));
            }
            terms.push((field.to_owned(), value.trim().to_owned(), equal));
        }
        Ok(Self { terms })
    }

    pub fn matches_object(&self, object: &Value) -> bool {
        self.terms.iter().all(|(field, want, equal)| {
            let actual = field_value(object, field);
            (actual == *want) == *equal
        })
    }
}

/// A selectable field's value as a string; missing fields read as "".
fn field_value(object: &Value, field: &str) -> String {
    // Events select on `source` meaning `source.component`.
    let path = if field == "source" {
        "source.component"
    } else {
        field
    };
    let pointer = format!("/{}", path.replace('.', "/"));
    match object.pointer(&pointer) {
        Some(Value::String(s)) => s.clone(),
        // Booleans upstream formats with `strconv.FormatBool`, unset as false
        // (`NodeToSelectableFields`, `PodToSelectableFields`).
        Some(Value::Null) | None if matches!(path, "spec.unschedulable" | "spec.hostNetwork") => {
            "false".to_owned()
        }
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Value {
        json!({ "metadata": { "labels": v } })
    }

    #[test]
    fn equality_and_set_based_requirements() {
        let obj = labels(json!({ "app": "web", "tier": "front", "replicas": "3" }));
        for (selector, expected) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("app in (web, api)", true),
            ("tier notin (front)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("replicas>2", true),
            ("replicas<2", false),
            ("app in (web),!missing,tier", true),
        ] {
            let parsed = LabelSelector::parse(selector).unwrap();
            assert_eq!(parsed.matches_object(&obj), expected, "{selector}");
        }
    }

    #[test]
    fn malformed_label_selectors_are_refused() {
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("a b").is_err());
        assert!(LabelSelector::parse("x>y").is_err());
    }

    #[test]
    fn field_selectors_match_and_refuse_unsupported_fields() {
        let pod = json!({ "metadata": { "name": "p", "namespace": "ns" }, "status": { "phase": "Running" } });
        let any = |_: &str| true;
        assert!(
            FieldSelector::parse("status.phase=Running,metadata.name=p", &any)
                .unwrap()
                .matches_object(&pod)
        );
        assert!(
            !FieldSelector::parse("status.phase!=Running", &any)
                .unwrap()
                .matches_object(&pod)
        );
        assert!(
            FieldSelector::parse("spec.nodeName=", &any)
                .unwrap()
                .matches_object(&pod)
        );
        let only_meta = |f: &str| f.starts_with("metadata.");
        assert_eq!(
            FieldSelector::parse("spec.x=1", &only_meta),
            Err(FieldSelectorError::Unsupported("spec.x".into()))
        );
    }

    #[test]
    fn unset_booleans_select_as_false() {
        let any = |_: &str| true;
        let schedulable = FieldSelector::parse("spec.unschedulable=false", &any).unwrap();
        assert!(schedulable.matches_object(&json!({ "spec": {} })));
        assert!(!schedulable.matches_object(&json!({ "spec": { "unschedulable": true } })));
    }
}

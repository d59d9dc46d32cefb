//! `x-kubernetes-validations` (CEL) rules, compiled once per schema node
//! with `kube-cel` and evaluated the way apiextensions-apiserver's
//! `schema/cel/validation.go` does: node by node, with `oldSelf` bound only
//! where the stored object has a correlated value, and failures reported as
//! `field.Invalid(path, <schema type>, message)` (or the rule's `reason`).

use serde_json::{Value, json};

use crate::correlation;
use crate::field::{ErrorType, FieldError};
use crate::model::Node;
use crate::path;

/// What the apiserver accepts as a rule's `reason`.
const REASONS: [&str; 4] = [
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];

/// One rule as written in the schema, with its `fieldPath` normalized.
#[derive(Debug)]
struct RuleSpec {
    rule: String,
    /// The rule text kube-cel compiled (differs for `optionalOldSelf`).
    compiled_rule: String,
    message: Option<String>,
    has_message_expression: bool,
    reason: Option<ErrorType>,
    /// `fieldPath` as a field-path string relative to the node.
    field_path: Option<String>,
    uses_old_self: bool,
}

impl RuleSpec {
    /// `ruleErrorString`: the trimmed message, or else the trimmed rule.
    fn error_string(&self) -> String {
        match self.message.as_deref().map(str::trim) {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => self.rule.trim().to_string(),
        }
    }

    /// `ruleMessageOrDefault`.
    fn message_or_default(&self) -> String {
        match self.message.as_deref().map(str::trim) {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => format!("failed rule: {}", self.rule.trim()),
        }
    }
}

/// The compiled rules of one schema node.
pub(crate) struct NodeRules {
    specs: Vec<RuleSpec>,
    /// The node's subtree with only this node's rules left in it (and no
    /// defaults), so kube-cel converts values with the right formats and
    /// field-name escaping but evaluates nothing twice.
    compiled: kube_cel::CompiledSchema,
}

impl std::fmt::Debug for NodeRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRules")
            .field("specs", &self.specs)
            .finish_non_exhaustive()
    }
}

impl NodeRules {
    /// Compiles the rules of `schema` (whose parsed form is `node`);
    /// `at` is the path of its `x-kubernetes-validations` for errors.
    pub fn compile(
        schema: &Value,
        rules: &Value,
        node: &Node,
        at: &str,
    ) -> Result<Option<Self>, Vec<FieldError>> {
        let Some(raw_rules) = rules.as_array() else {
            return Err(vec![FieldError::invalid(
                at,
                rules.clone(),
                "must be a list of validation rules",
            )]);
        };
        if raw_rules.is_empty() {
            return Ok(None);
        }
        let mut errors = Vec::new();
        let mut specs = Vec::new();
        for (i, raw) in raw_rules.iter().enumerate() {
            let rule_at = path::index(at, i);
            match parse_rule(raw, node, &rule_at) {
                Ok(spec) => specs.push(spec),
                Err(e) => errors.extend(e),
            }
        }

        let mut stripped = strip_schema(schema, true);
        if errors.is_empty() {
            // Hand kube-cel the rule texts as we rewrote them.
            let rewritten: Vec<Value> = raw_rules
                .iter()
                .zip(&specs)
                .map(|(raw, spec)| {
                    let mut raw = raw.clone();
                    raw["rule"] = json!(spec.compiled_rule);
                    raw
                })
                .collect();
            stripped["x-kubernetes-validations"] = Value::Array(rewritten);
        }
        let compiled = kube_cel::compile_schema(&stripped);
        for (i, result) in compiled.validations.iter().enumerate() {
            if let Err(e) = result {
                let rule_at = path::index(at, i);
                let (field, value) = match e {
                    kube_cel::CompilationError::MessageExpressionParse {
                        message_expression,
                        ..
                    } => (
                        path::child(&rule_at, "messageExpression"),
                        json!(message_expression),
                    ),
                    _ => (
                        path::child(&rule_at, "rule"),
                        raw_rules[i].get("rule").cloned().unwrap_or(Value::Null),
                    ),
                };
                errors.push(FieldError::invalid(
                    field,
                    value,
                    format!("compilation failed: {e}"),
                ));
            }
        }
        for (spec, result) in specs.iter_mut().zip(&compiled.validations) {
            if let Ok(c) = result {
                spec.uses_old_self = c.is_transition_rule;
            }
        }
        if errors.is_empty() {
            Ok(Some(Self { specs, compiled }))
        } else {
            Err(errors)
        }
    }

    /// Evaluates the rules against `value` at field path `at`. `old` is the
    /// correlated old value (binds `oldSelf`); `unchanged` says the value is
    /// equal to its stored counterpart, so plain (non-transition) rule
    /// failures are ratcheted away.
    fn evaluate(
        &self,
        type_name: &str,
        value: &Value,
        old: Option<&Value>,
        at: &str,
        unchanged: bool,
    ) -> Vec<FieldError> {
        let Err(failures) = kube_cel::validate_compiled(&self.compiled, value, old) else {
            return Vec::new();
        };
        let node_path = if at.is_empty() { "<nil>" } else { at };
        let bad_value = json!(type_name);
        let mut errors = Vec::new();
        let mut cursor = 0;
        for failure in failures.iter() {
            // kube-cel reports failures in rule order; find the rule.
            let Some(offset) = self.specs[cursor..]
                .iter()
                .position(|s| s.compiled_rule == failure.rule)
            else {
                errors.push(FieldError::invalid(
                    node_path,
                    bad_value.clone(),
                    failure.message.clone(),
                ));
                continue;
            };
            let spec = &self.specs[cursor + offset];
            cursor += offset + 1;
            let error = match failure.kind {
                kube_cel::ErrorKind::ValidationFailure => {
                    if !spec.uses_old_self && unchanged {
                        continue;
                    }
                    let message = if spec.has_message_expression {
                        let trimmed = failure.message.trim();
                        if trimmed.is_empty() || trimmed.contains('\n') {
                            spec.message_or_default()
                        } else {
                            trimmed.to_string()
                        }
                    } else {
                        spec.message_or_default()
                    };
                    let field = match &spec.field_path {
                        Some(fp) if at.is_empty() => fp.clone(),
                        Some(fp) => path::child(at, fp),
                        None => node_path.to_string(),
                    };
                    error_for_reason(spec.reason, field, bad_value.clone(), message)
                }
                kube_cel::ErrorKind::EvaluationError => {
                    let cause = failure
                        .message
                        .strip_prefix("rule evaluation error: ")
                        .unwrap_or(&failure.message);
                    let detail = format!("{cause} evaluating rule: {}", spec.error_string());
                    FieldError::invalid(node_path, bad_value.clone(), detail)
                }
                _ => FieldError::invalid(node_path, bad_value.clone(), failure.message.clone()),
            };
            errors.push(error);
        }
        errors
    }
}

/// `fieldErrorForReason`.
fn error_for_reason(
    reason: Option<ErrorType>,
    field: String,
    bad_value: Value,
    detail: String,
) -> FieldError {
    match reason {
        Some(ErrorType::Forbidden) => FieldError::forbidden(field, detail),
        Some(ErrorType::Required) => FieldError::required(field, detail),
        Some(ErrorType::Duplicate) => FieldError::duplicate(field, bad_value),
        _ => FieldError::invalid(field, bad_value, detail),
    }
}

fn parse_rule(raw: &Value, node: &Node, at: &str) -> Result<RuleSpec, Vec<FieldError>> {
    let mut errors = Vec::new();
    let text = |key: &str| raw.get(key).and_then(Value::as_str).map(String::from);
    let rule = text("rule").unwrap_or_default();
    if rule.trim().is_empty() {
        errors.push(FieldError::required(path::child(at, "rule"), ""));
    }
    let reason = match text("reason").as_deref() {
        None => None,
        Some("FieldValueInvalid") => Some(ErrorType::Invalid),
        Some("FieldValueForbidden") => Some(ErrorType::Forbidden),
        Some("FieldValueRequired") => Some(ErrorType::Required),
        Some("FieldValueDuplicate") => Some(ErrorType::Duplicate),
        Some(other) => {
            let supported: Vec<String> = REASONS.iter().map(|r| r.to_string()).collect();
            errors.push(FieldError::not_supported(
                path::child(at, "reason"),
                json!(other),
                &supported,
            ));
            None
        }
    };
    let field_path = match text("fieldPath") {
        None => None,
        Some(fp) => match normalize_field_path(&fp, node) {
            Ok(normalized) => Some(normalized),
            Err(e) => {
                errors.push(FieldError::invalid(
                    path::child(at, "fieldPath"),
                    json!(fp),
                    format!("fieldPath must be a valid path: {e}"),
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let optional_old_self = raw
        .get("optionalOldSelf")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let compiled_rule = if optional_old_self {
        wrap_optional_old_self(&rule)
    } else {
        rule.clone()
    };
    Ok(RuleSpec {
        rule,
        compiled_rule,
        message: text("message"),
        has_message_expression: text("messageExpression").is_some(),
        reason,
        field_path,
        uses_old_self: false,
    })
}

/// With `optionalOldSelf`, the apiserver binds `oldSelf` as a CEL optional
/// (`optional.none()` on create). kube-cel binds `null` instead, so every
/// `oldSelf` identifier in the rule is rewritten into that optional.
fn wrap_optional_old_self(rule: &str) -> String {
    const OPTIONAL: &str = "(oldSelf == null ? optional.none() : optional.of(oldSelf))";
    let chars: Vec<char> = rule.chars().collect();
    let mut out = String::with_capacity(rule.len() + 64);
    let mut i = 0;
    let mut last_significant = ' ';
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            // Copy a string literal verbatim (raw prefixes need no care: the
            // closing quote is found the same way, escapes only skip a char).
            let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
            let quote_len = if triple { 3 } else { 1 };
            let start = i;
            i += quote_len;
            while i < chars.len() {
                if chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == c
                    && (!triple || (chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c)))
                {
                    i += quote_len;
                    break;
                }
                i += 1;
            }
            out.extend(&chars[start..i.min(chars.len())]);
            last_significant = c;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            if ident == "oldSelf" && last_significant != '.' {
                out.push_str(OPTIONAL);
            } else {
                out.push_str(&ident);
            }
            last_significant = 'a';
            continue;
        }
        if !c.is_whitespace() {
            last_significant = c;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Resolves a rule's `fieldPath` (`.a.b`, `.map['key']`) against the node's
/// schema into a field-path string (`a.b`, `map[key]`), like upstream's
/// `ValidFieldPath`.
fn normalize_field_path(json_path: &str, node: &Node) -> Result<String, String> {
    let tokens = tokenize(json_path);
    let mut out = String::new();
    let mut schema = node;
    let mut i = 0;
    while i < tokens.len() {
        let name = match tokens[i].as_str() {
            "." => {
                i += 1;
                tokens
                    .get(i)
                    .cloned()
                    .ok_or("unexpected end of JSON path")?
            }
            "[" => {
                i += 1;
                let quoted = tokens.get(i).ok_or("unexpected end of JSON path")?;
                if quoted.len() < 2 || !quoted.starts_with('\'') || !quoted.ends_with('\'') {
                    return Err(format!("expected single quoted string but got {quoted}"));
                }
                let unescaped = quoted[1..quoted.len() - 1]
                    .replace("\\'", "'")
                    .replace("\\\\", "\\");
                i += 1;
                if tokens.get(i).map(String::as_str) != Some("]") {
                    return Err(format!(
                        "expected ] but got {}",
                        tokens.get(i).map(String::as_str).unwrap_or("")
                    ));
                }
                unescaped
            }
            other => return Err(format!("expected [ or . but got: {other}")),
        };
        if let Some(prop) = schema.properties.get(&name) {
            out = path::child(&out, &name);
            schema = prop;
        } else if !schema.properties.is_empty() {
            return Err("does not refer to a valid field".to_string());
        } else if let Some(additional) = schema.additional_schema() {
            out = path::key(&out, &name);
            schema = additional;
        } else {
            return Err("does not refer to a valid field".to_string());
        }
        i += 1;
    }
    Ok(out)
}

/// Splits a JSON path into `.`, `[`, `]`, quoted strings and names.
fn tokenize(s: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '.' | '[' | ']' => {
                tokens.push(c.to_string());
                chars.next();
            }
            '\'' => {
                let mut quoted = String::from(chars.next().unwrap_or('\''));
                let mut prev = '\0';
                for n in chars.by_ref() {
                    quoted.push(n);
                    if n == '\'' && prev != '\\' {
                        break;
                    }
                    prev = n;
                }
                tokens.push(quoted);
            }
            _ => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if matches!(n, '.' | '[' | ']') {
                        break;
                    }
                    name.push(n);
                    chars.next();
                }
                tokens.push(name);
            }
        }
    }
    tokens
}

/// A copy of a schema subtree without `default`s and, below the top node
/// (or everywhere when `keep_top_rules` is false), without rules.
fn strip_schema(schema: &Value, keep_top_rules: bool) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = serde_json::Map::new();
    for (k, v) in obj {
        let stripped = match k.as_str() {
            "default" => continue,
            "x-kubernetes-validations" if !keep_top_rules => continue,
            "properties" => match v.as_object() {
                Some(props) => Value::Object(
                    props
                        .iter()
                        .map(|(name, sub)| (name.clone(), strip_schema(sub, false)))
                        .collect(),
                ),
                None => v.clone(),
            },
            "items" | "not" => strip_schema(v, false),
            "additionalProperties" if v.is_object() => strip_schema(v, false),
            "allOf" | "anyOf" | "oneOf" => match v.as_array() {
                Some(branches) => {
                    Value::Array(branches.iter().map(|b| strip_schema(b, false)).collect())
                }
                None => v.clone(),
            },
            _ => v.clone(),
        };
        out.insert(k.clone(), stripped);
    }
    Value::Object(out)
}

/// Evaluates every rule in the schema against `obj` (the resource root).
pub(crate) fn validate(schema: &Node, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let unchanged = old == Some(obj);
    walk(schema, obj, old, "", unchanged, &mut errors);
    errors
}

fn walk(
    s: &Node,
    value: &Value,
    old: Option<&Value>,
    at: &str,
    unchanged: bool,
    errors: &mut Vec<FieldError>,
) {
    if value.is_null() {
        return;
    }
    let old = old.filter(|o| !o.is_null());
    if let Some(rules) = &s.rules {
        errors.extend(rules.evaluate(&s.type_name, value, old, at, unchanged));
    }
    match value {
        Value::Array(items) => {
            let Some(item_schema) = s.items.as_deref() else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let old_item = correlation::old_map_list_item(s, item, old);
                let item_unchanged = match correlation::old_item(s, item, old) {
                    Some(o) => o == item,
                    None => unchanged,
                };
                walk(
                    item_schema,
                    item,
                    old_item,
                    &path::index(at, i),
                    item_unchanged,
                    errors,
                );
            }
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let child_unchanged = |k: &str| match correlation::old_field(k, old) {
                Some(o) => Some(o) == map.get(k),
                None => false,
            };
            if let Some(additional) = s.additional_schema() {
                for k in &keys {
                    let old_v = correlation::old_field(k, old);
                    walk(
                        additional,
                        &map[k.as_str()],
                        old_v,
                        &path::key(at, k),
                        child_unchanged(k),
                        errors,
                    );
                }
            }
            for k in &keys {
                if let Some(prop) = s.properties.get(k.as_str()) {
                    let old_v = correlation::old_field(k, old);
                    walk(
                        prop,
                        &map[k.as_str()],
                        old_v,
                        &path::child(at, k),
                        child_unchanged(k),
                        errors,
                    );
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_old_self_rewrite_skips_strings_and_selections() {
        assert_eq!(
            wrap_optional_old_self(
                "oldSelf.hasValue() && self.oldSelf == 'oldSelf' && \"oldSelf\" != ''"
            ),
            "(oldSelf == null ? optional.none() : optional.of(oldSelf)).hasValue() && self.oldSelf == 'oldSelf' && \"oldSelf\" != ''"
        );
        assert_eq!(wrap_optional_old_self("oldSelfish"), "oldSelfish");
    }

    #[test]
    fn json_paths_tokenize_quoted_keys() {
        assert_eq!(
            tokenize(".a['b.c'].d"),
            vec![".", "a", "[", "'b.c'", "]", ".", "d"]
        );
    }
}

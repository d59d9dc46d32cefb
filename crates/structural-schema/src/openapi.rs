//! OpenAPI value validation with kube-openapi's semantics and messages
//! (`k8s.io/kube-openapi/pkg/validation/validate`, as vendored by
//! Kubernetes 1.33), converted to field errors the way
//! apiextensions-apiserver's `kubeOpenAPIResultToFieldErrors` does.
//!
//! Paths inside messages follow kube-openapi: properties joined with `.`
//! (map keys too), list items as `[i]`, all followed by ` in body`.

use serde_json::{Value, json};

use crate::correlation;
use crate::field::FieldError;
use crate::gofmt;
use crate::model::{Additional, Node};

/// The outcome of validating one value: errors (deduplicated by message,
/// like `validate.Result`) and kube-openapi's "match count", which picks the
/// closest `anyOf`/`oneOf` branch to report when none matches.
#[derive(Default)]
struct Outcome {
    errors: Vec<FieldError>,
    match_count: usize,
}

impl Outcome {
    fn add(&mut self, error: FieldError) {
        let message = error.to_string();
        if !self.errors.iter().any(|e| e.to_string() == message) {
            self.errors.push(error);
        }
    }

    fn merge(&mut self, other: Outcome) {
        for e in other.errors {
            self.add(e);
        }
        self.match_count += other.match_count;
    }

    fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Validates `obj` against `schema`; with `old`, errors in values left
/// unchanged since `old` are dropped (CRD validation ratcheting).
pub(crate) fn validate(schema: &Node, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    validate_value(schema, obj, "", old).errors
}

/// JSON type name kube-openapi infers from a decoded value.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The field path of an error whose kube-openapi name is `name`.
fn field_of(name: &str) -> String {
    if name.is_empty() || name == "." {
        "<nil>".to_string()
    } else {
        name.trim_start_matches('.').to_string()
    }
}

/// The error kube-openapi reports for everything that is not a more
/// specific kind: `field.Invalid(path, value, message)`.
fn invalid(name: &str, value: Value, message: String) -> FieldError {
    FieldError::invalid(field_of(name), value, message)
}

/// `errors.InvalidType`, converted to `field.TypeInvalid`.
fn invalid_type(name: &str, type_name: &str, value: &str) -> FieldError {
    let message = format!(
        "{name} in body must be of type {type_name}: {}",
        gofmt::quote(value)
    );
    FieldError::type_invalid(field_of(name), json!(value), message)
}

/// Errors that are not `*errors.Validation` (the composite `anyOf`/`oneOf`/
/// `allOf`/`not` messages) lose their path: `field.Invalid(nil, "", msg)`.
fn composite(message: String) -> FieldError {
    FieldError::invalid("<nil>", json!(""), message)
}

fn child_name(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn validate_value(s: &Node, data: &Value, path: &str, old: Option<&Value>) -> Outcome {
    let mut result = validate_unratcheted(s, data, path, old);
    if !result.is_valid() && old == Some(data) {
        // Unchanged since the stored object: ratcheted into warnings.
        result.errors.clear();
    }
    result
}

fn validate_unratcheted(s: &Node, data: &Value, path: &str, old: Option<&Value>) -> Outcome {
    let mut result = Outcome::default();
    let types = s.accepted_types();
    let type_applies = !types.is_empty() || s.format.is_some();

    if data.is_null() {
        if type_applies {
            result.merge(check_type(s, &types, data, path));
        }
        result.merge(check_enum(s, data, path));
        return result;
    }

    if type_applies {
        result.merge(check_type(s, &types, data, path));
        result.match_count += 1;
    }
    // The schema-props validator applies to every value.
    result.merge(check_composition(s, data, path, old));
    result.match_count += 1;
    if let Value::String(text) = data {
        result.merge(check_string(s, text, path));
        result.match_count += 1;
        if let Some(format) = s.format {
            if !format.is_valid(text) {
                result.add(invalid_type(path, format.name(), text));
            }
            result.match_count += 1;
        }
    }
    if let Value::Number(n) = data {
        result.merge(check_number(s, n, path));
        result.match_count += 1;
    }
    if let Value::Array(items) = data {
        result.merge(check_array(s, items, path, old));
        result.match_count += 1;
    }
    result.merge(check_enum(s, data, path));
    result.match_count += 1;
    if let Value::Object(map) = data {
        result.merge(check_object(s, map, path, old));
        result.match_count += 1;
    }
    result.match_count += 1;
    result
}

fn check_type(s: &Node, types: &[&str], data: &Value, path: &str) -> Outcome {
    let mut result = Outcome::default();
    let joined = types.join(",");
    if data.is_null() {
        if !types.is_empty() && !s.nullable {
            result.add(invalid_type(path, &joined, "null"));
        } else {
            result.match_count += 1;
        }
        return result;
    }
    let data_type = json_type(data);
    let contains = |t: &str| types.contains(&t);
    let is_float_int = data_type == "number"
        && data
            .as_f64()
            .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
        && contains("integer");
    let is_int_float = data_type == "integer" && contains("number");
    let is_string_or_array = matches!(data, Value::String(_) | Value::Array(_));
    if let Some(format) = s.format
        && !is_string_or_array
        && !(contains(data_type) || is_float_int || is_int_float)
    {
        // A string format on a non-string value: kube-openapi names the
        // format, and the Go format it inferred from the value.
        let inferred = match data_type {
            "integer" => "int64",
            "number" => "float64",
            _ => "",
        };
        result.add(invalid_type(path, format.name(), inferred));
        return result;
    }
    if !(contains("number") || contains("integer")) && s.format.is_some() && is_string_or_array {
        result.match_count += 1;
        return result;
    }
    if !(contains(data_type) || is_float_int || is_int_float) {
        result.add(invalid_type(path, &joined, data_type));
        return result;
    }
    result.match_count += 1;
    result
}

fn check_string(s: &Node, text: &str, path: &str) -> Outcome {
    let mut result = Outcome::default();
    let runes = text.chars().count() as i64;
    if let Some(max) = s.max_length
        && runes > max
    {
        result.add(FieldError::too_long(field_of(path), max));
    } else if let Some(min) = s.min_length
        && runes < min
    {
        result.add(invalid(
            path,
            json!(text),
            format!("{path} in body should be at least {min} chars long"),
        ));
    } else if let Some(pattern) = &s.pattern
        && !pattern.is_match(text)
    {
        result.add(invalid(
            path,
            json!(text),
            format!("{path} in body should match '{}'", pattern.source()),
        ));
    }
    result
}

/// swag's `IsFloat64AJSONInteger`, with its relative tolerance.
fn is_json_integer(f: f64) -> bool {
    if !f.is_finite() {
        return false;
    }
    let rounded = f.round();
    if f == rounded {
        return true;
    }
    let diff = (f - rounded).abs();
    diff / (f.abs() + rounded.abs()) < 1e-9
}

fn check_number(s: &Node, n: &serde_json::Number, path: &str) -> Outcome {
    let mut multiple = Outcome::default();
    let mut minimum = Outcome::default();
    let mut maximum = Outcome::default();
    let value = json!(n);

    if let Some(factor) = s.multiple_of {
        match n.as_i64() {
            Some(i) => {
                let factor = factor as i64;
                if factor <= 0 {
                    multiple.add(invalid(
                        path,
                        json!(factor),
                        format!("factor MultipleOf declared for {path} must be positive: {factor}"),
                    ));
                } else if i % factor != 0 {
                    multiple.add(invalid(
                        path,
                        value.clone(),
                        format!("{path} in body should be a multiple of {factor}"),
                    ));
                }
            }
            None => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if factor <= 0.0 {
                    multiple.add(invalid(
                        path,
                        json!(factor),
                        format!(
                            "factor MultipleOf declared for {path} must be positive: {}",
                            gofmt::float(factor)
                        ),
                    ));
                } else {
                    let quotient = if factor < 1.0 {
                        1.0 / factor * f
                    } else {
                        f / factor
                    };
                    if !is_json_integer(quotient) {
                        multiple.add(invalid(
                            path,
                            value.clone(),
                            format!(
                                "{path} in body should be a multiple of {}",
                                gofmt::float(factor)
                            ),
                        ));
                    }
                }
            }
        }
    }

    if let Some(max) = s.maximum {
        let exclusive = s.exclusive_maximum;
        let (exceeds, shown) = match n.as_i64() {
            Some(i) => {
                let max = max as i64;
                (if exclusive { i >= max } else { i > max }, max.to_string())
            }
            None => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                (
                    if exclusive { f >= max } else { f > max },
                    gofmt::float(max),
                )
            }
        };
        if exceeds {
            let relation = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            maximum.add(invalid(
                path,
                value.clone(),
                format!("{path} in body should be {relation} {shown}"),
            ));
        }
    }

    if let Some(min) = s.minimum {
        let exclusive = s.exclusive_minimum;
        let (below, shown) = match n.as_i64() {
            Some(i) => {
                let min = min as i64;
                (if exclusive { i <= min } else { i < min }, min.to_string())
            }
            None => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                (
                    if exclusive { f <= min } else { f < min },
                    gofmt::float(min),
                )
            }
        };
        if below {
            let relation = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            minimum.add(invalid(
                path,
                value.clone(),
                format!("{path} in body should be {relation} {shown}"),
            ));
        }
    }

    let mut result = Outcome::default();
    result.merge(multiple);
    result.merge(minimum);
    result.merge(maximum);
    result.match_count += 1;
    result
}

fn check_array(s: &Node, items: &[Value], path: &str, old: Option<&Value>) -> Outcome {
    let mut result = Outcome::default();
    if let Some(item_schema) = s.items.as_deref() {
        for (i, item) in items.iter().enumerate() {
            let old_item = correlation::old_item(s, item, old);
            result.merge(validate_value(
                item_schema,
                item,
                &format!("{path}[{i}]"),
                old_item,
            ));
        }
    }
    let size = items.len() as i64;
    if let Some(min) = s.min_items
        && size < min
    {
        result.add(invalid(
            path,
            json!(size),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = s.max_items
        && size > max
    {
        result.add(FieldError::too_many(field_of(path), size, max));
    }
    if s.unique_items
        && items
            .iter()
            .enumerate()
            .any(|(i, v)| items[..i].contains(v))
    {
        result.add(invalid(
            path,
            json!(""),
            format!("{path} in body shouldn't contain duplicates"),
        ));
    }
    result.match_count += 1;
    result
}

fn check_enum(s: &Node, data: &Value, path: &str) -> Outcome {
    let mut result = Outcome::default();
    let Some(allowed) = &s.enum_values else {
        return result;
    };
    // A null value never matches, not even a `null` member: kube-openapi
    // cannot convert it to any member's Go type.
    if allowed.is_empty() || (!data.is_null() && allowed.iter().any(|a| enum_equal(a, data))) {
        return result;
    }
    let supported: Vec<String> = allowed
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    result.add(FieldError::not_supported(
        field_of(path),
        data.clone(),
        &supported,
    ));
    result
}

/// Enum membership as kube-openapi decides it: deep equality after
/// converting the value to the enum member's Go type, so `1` (int64) matches
/// an enum member `1.0` (float64) and vice versa.
fn enum_equal(member: &Value, data: &Value) -> bool {
    match (member, data) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => member == data,
    }
}

fn check_object(
    s: &Node,
    map: &serde_json::Map<String, Value>,
    path: &str,
    old: Option<&Value>,
) -> Outcome {
    let mut result = Outcome::default();
    let size = map.len() as i64;
    if let Some(min) = s.min_properties
        && size < min
    {
        result.add(invalid(
            path,
            json!(size),
            format!("{path} in body should have at least {min} properties"),
        ));
    }
    if let Some(max) = s.max_properties
        && size > max
    {
        result.add(FieldError::too_many(field_of(path), size, max));
    }

    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    match &s.additional {
        Additional::Allowed(false) => {
            for key in keys
                .iter()
                .filter(|k| !s.properties.contains_key(k.as_str()))
            {
                let message = format!("{path}.{key} in body is a forbidden property");
                result.add(invalid(path, json!(key), message));
            }
        }
        Additional::Schema(additional) => {
            for key in keys
                .iter()
                .filter(|k| !s.properties.contains_key(k.as_str()))
            {
                let old_value = correlation::old_field(key, old);
                result.merge(validate_value(
                    additional,
                    &map[key.as_str()],
                    &format!("{path}.{key}"),
                    old_value,
                ));
            }
        }
        Additional::Absent | Additional::Allowed(true) => {}
    }

    for (name, prop) in &s.properties {
        if let Some(v) = map.get(name) {
            let old_value = correlation::old_field(name, old);
            result.merge(validate_value(prop, v, &child_name(path, name), old_value));
        }
    }

    for name in &s.required {
        if !map.contains_key(name) {
            result.add(FieldError::required(
                field_of(&format!("{path}.{name}")),
                "",
            ));
        }
    }
    result
}

fn check_composition(s: &Node, data: &Value, path: &str, old: Option<&Value>) -> Outcome {
    let mut main = Outcome::default();
    let quoted_path = gofmt::quote(path);

    if !s.any_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first_success: Option<Outcome> = None;
        for branch in &s.any_of {
            let r = validate_value(branch, data, path, old);
            if r.is_valid() {
                best = None;
                first_success = Some(r);
                break;
            }
            if best.as_ref().is_none_or(|b| r.match_count > b.match_count) {
                best = Some(r);
            }
        }
        if first_success.is_none() {
            main.add(composite(format!(
                "{quoted_path} must validate at least one schema (anyOf)"
            )));
        }
        if let Some(b) = best.or(first_success) {
            main.merge(b);
        }
    }

    if !s.one_of.is_empty() {
        let mut best: Option<Outcome> = None;
        let mut first_success: Option<Outcome> = None;
        let mut validated = 0;
        for branch in &s.one_of {
            let r = validate_value(branch, data, path, old);
            if r.is_valid() {
                validated += 1;
                best = None;
                if first_success.is_none() {
                    first_success = Some(r);
                }
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| r.match_count > b.match_count) {
                best = Some(r);
            }
        }
        if validated != 1 {
            let detail = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            main.add(composite(format!(
                "{quoted_path} must validate one and only one schema (oneOf). {detail}"
            )));
            if let Some(b) = best {
                main.merge(b);
            }
        } else if let Some(success) = first_success {
            main.merge(success);
        }
    }

    if !s.all_of.is_empty() {
        let mut validated = 0;
        for branch in &s.all_of {
            let r = validate_value(branch, data, path, old);
            if r.is_valid() {
                validated += 1;
            }
            main.merge(r);
        }
        if validated != s.all_of.len() {
            let detail = if validated == 0 {
                ". None validated"
            } else {
                ""
            };
            main.add(composite(format!(
                "{quoted_path} must validate all the schemas (allOf){detail}"
            )));
        }
    }

    if let Some(not) = &s.not
        && validate_value(not, data, path, old).is_valid()
    {
        main.add(composite(format!(
            "{quoted_path} must not validate the schema (not)"
        )));
    }

    main.match_count += 1;
    main
}

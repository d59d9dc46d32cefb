//! Type-meta checks of nested `x-kubernetes-embedded-resource` objects
//! (apiextensions-apiserver `schema/objectmeta/validation.go`). The root's
//! own apiVersion, kind and metadata are the apiserver's business.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

use crate::field::FieldError;
use crate::model::Node;
use crate::path;

static DNS1035_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[a-z]([-a-z0-9]*[a-z0-9])?$").expect("DNS-1035 pattern compiles")
});

const DNS1035_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', \
start with an alphabetic character, and end with an alphanumeric character \
(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

pub(crate) fn validate(schema: &Node, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    // The root is checked as a plain object: its type meta is validated
    // elsewhere, so only nested embedded resources matter here.
    if let Value::Object(map) = obj {
        walk_children(schema, map, "", &mut errors);
    }
    errors
}

fn walk(s: &Node, v: &Value, at: &str, errors: &mut Vec<FieldError>) {
    match v {
        Value::Object(map) => {
            if s.embedded_resource {
                check_type_meta(map, at, errors);
            }
            walk_children(s, map, at, errors);
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for (i, item) in items.iter().enumerate() {
                    walk(item_schema, item, &path::index(at, i), errors);
                }
            }
        }
        _ => {}
    }
}

fn walk_children(s: &Node, map: &Map<String, Value>, at: &str, errors: &mut Vec<FieldError>) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        if let Some(prop) = s.properties.get(k) {
            walk(prop, &map[k], &path::child(at, k), errors);
        } else if let Some(additional) = s.additional_schema() {
            walk(additional, &map[k], &path::key(at, k), errors);
        }
    }
}

fn check_type_meta(map: &Map<String, Value>, at: &str, errors: &mut Vec<FieldError>) {
    let api_version_path = path::child(at, "apiVersion");
    let kind_path = path::child(at, "kind");
    if !map.contains_key("apiVersion") {
        errors.push(FieldError::required(&api_version_path, "must not be empty"));
    }
    if !map.contains_key("kind") {
        errors.push(FieldError::required(&kind_path, "must not be empty"));
    }
    match map.get("apiVersion") {
        None => {}
        Some(Value::String(v)) if v.is_empty() => {
            errors.push(FieldError::invalid(
                &api_version_path,
                json!(v),
                "must not be empty",
            ));
        }
        Some(Value::String(v)) if v != "/" && v.matches('/').count() > 1 => {
            errors.push(FieldError::invalid(
                &api_version_path,
                json!(v),
                format!("unexpected GroupVersion string: {v}"),
            ));
        }
        Some(Value::String(_)) => {}
        Some(other) => errors.push(FieldError::invalid(
            &api_version_path,
            other.clone(),
            "must be a string",
        )),
    }
    match map.get("kind") {
        None => {}
        Some(Value::String(k)) if k.is_empty() => {
            errors.push(FieldError::invalid(
                &kind_path,
                json!(k),
                "must not be empty",
            ));
        }
        Some(Value::String(k)) => {
            let lower = k.to_lowercase();
            let mut problems = Vec::new();
            if lower.len() > 63 {
                problems.push("must be no more than 63 characters".to_string());
            }
            if !DNS1035_LABEL.is_match(&lower) {
                problems.push(DNS1035_MESSAGE.to_string());
            }
            if !problems.is_empty() {
                errors.push(FieldError::invalid(
                    &kind_path,
                    json!(k),
                    format!(
                        "may have mixed case, but should otherwise match: {}",
                        problems.join(",")
                    ),
                ));
            }
        }
        Some(other) => errors.push(FieldError::invalid(
            &kind_path,
            other.clone(),
            "must be a string",
        )),
    }
}

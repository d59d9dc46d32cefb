//! Uniqueness of `x-kubernetes-list-type: set` items and `map` item keys
//! (apiextensions-apiserver `schema/listtype/validation.go`).

use serde_json::{Map, Value};

use crate::field::FieldError;
use crate::model::{ListType, Node};
use crate::path;

/// Checks every set and map list in `obj` (the resource root).
pub(crate) fn validate(schema: &Node, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Value::Object(map) = obj {
        walk_object(schema, map, "", &mut errors);
    }
    errors
}

fn walk_object(s: &Node, obj: &Map<String, Value>, at: &str, errors: &mut Vec<FieldError>) {
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    if let Some(additional) = s.additional_schema() {
        for k in &keys {
            walk(additional, &obj[k.as_str()], &path::key(at, k), errors);
        }
    }
    for k in &keys {
        if let Some(prop) = s.properties.get(k.as_str()) {
            walk(prop, &obj[k.as_str()], &path::child(at, k), errors);
        }
    }
}

fn walk(s: &Node, v: &Value, at: &str, errors: &mut Vec<FieldError>) {
    match v {
        Value::Array(items) => {
            match s.list_type {
                Some(ListType::Set) => {
                    for i in second_occurrences(items) {
                        errors.push(FieldError::duplicate(path::index(at, i), items[i].clone()));
                    }
                }
                Some(ListType::Map) => errors.extend(validate_map_list(s, items, at)),
                _ => {}
            }
            if let Some(item_schema) = s.items.as_deref() {
                for (i, item) in items.iter().enumerate() {
                    walk(item_schema, item, &path::index(at, i), errors);
                }
            }
        }
        Value::Object(map) => walk_object(s, map, at, errors),
        _ => {}
    }
}

/// Indexes of values seen for the second time (later repeats are not
/// reported again, like upstream).
fn second_occurrences(values: &[Value]) -> Vec<usize> {
    let mut reported = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let earlier = values[..i].iter().filter(|e| *e == v).count();
        if earlier == 1 {
            reported.push(i);
        }
    }
    reported
}

fn validate_map_list(s: &Node, items: &[Value], at: &str) -> Vec<FieldError> {
    for (i, item) in items.iter().enumerate() {
        if !item.is_null() && !item.is_object() {
            return vec![FieldError::invalid(
                path::index(at, i),
                item.clone(),
                "must be an object for an array of list-type map",
            )];
        }
    }
    if items.len() <= 1 {
        return Vec::new();
    }
    // The key of each item: the key fields it sets (absent ones omitted).
    let keys: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut key = Map::new();
            if let Some(obj) = item.as_object() {
                for field in &s.list_map_keys {
                    if let Some(k) = obj.get(field) {
                        key.insert(field.clone(), k.clone());
                    }
                }
            }
            Value::Object(key)
        })
        .collect();
    second_occurrences(&keys)
        .into_iter()
        .map(|i| FieldError::duplicate(path::index(at, i), keys[i].clone()))
        .collect()
}

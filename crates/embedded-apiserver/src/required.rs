//! Required-field checks for built-in kinds. k8s-openapi fills missing
//! required fields with defaults when decoding, so the `required` lists of
//! its JSON schemas (the `schemars` feature) are walked instead.

use crate::errors::FieldError;
use serde_json::Value;

/// Resolves `{"$ref": "#/$defs/X"}` against the root schema.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            root.pointer(pointer).unwrap_or(&Value::Null)
        }
        None => schema,
    }
}

/// Every required field missing (or null) in `value`, as `Required value` errors.
pub fn missing(root: &Value, value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(root, root, value, "", &mut errors);
    errors
}

fn walk(root: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let schema = resolve(root, schema);
    // `allOf: [{$ref}]` wraps referenced types that carry a description.
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            walk(root, part, value, path, errors);
        }
    }
    match value {
        Value::Object(object) => {
            let join = |key: &str| {
                if path.is_empty() {
                    key.to_owned()
                } else {
                    format!("{path}.{key}")
                }
            };
            for key in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                // The server fills in type meta and metadata itself.
                let server_filled =
                    path.is_empty() && matches!(key, "apiVersion" | "kind" | "metadata");
                if !server_filled && object.get(key).is_none_or(Value::is_null) {
                    errors.push(FieldError::required(join(key), None));
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in object {
                let child_schema = properties.and_then(|p| p.get(key)).or(additional);
                if let Some(child_schema) = child_schema {
                    walk(root, child_schema, child, &join(key), errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(root, item_schema, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(k8s_openapi::api::core::v1::Pod)).unwrap()
    }

    #[test]
    fn finds_missing_fields_at_any_depth() {
        let schema = pod_schema();
        let pod = json!({ "metadata": { "name": "p" }, "spec": { "containers": [{ "image": "x" }, { "name": "ok" }] } });
        let errors = missing(&schema, &pod);
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["spec.containers[0].name: Required value"]
        );
        assert_eq!(
            missing(&schema, &json!({ "spec": {} }))[0].field,
            "spec.containers"
        );
        assert!(missing(&schema, &json!({ "metadata": {} })).is_empty());
    }
}

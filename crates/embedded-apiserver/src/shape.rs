//! Required and unknown fields of built-in kinds. k8s-openapi fills missing
//! required fields with defaults and skips unknown ones when decoding, so the
//! JSON schemas of its types (the `schemars` feature) are walked instead.

use crate::errors::FieldError;
use serde_json::Value;

/// What a walk over an object found.
#[derive(Debug, Default)]
pub struct Shape {
    /// Required fields that are absent or null, as `Required value` errors.
    pub missing: Vec<FieldError>,
    /// Paths of fields the type does not declare (`spec.colour`).
    pub unknown: Vec<String>,
}

/// Resolves `{"$ref": "#/$defs/X"}` against the root schema.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => root
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or(&Value::Null),
        None => schema,
    }
}

pub fn check(root: &Value, value: &Value) -> Shape {
    let mut shape = Shape::default();
    walk(root, root, value, "", &mut shape);
    shape
}

/// Whether `path` lies under the top-level `status`. Status types list their
/// counters as required only because Go always serializes them; upstream
/// reads a missing one as zero, so they are not enforced there.
fn in_status(path: &str) -> bool {
    path == "status" || path.starts_with("status.") || path.starts_with("status[")
}

/// Whether a schema accepts any object (no declared properties).
fn is_free_form(schema: &Value) -> bool {
    schema.get("properties").is_none() && schema.get("allOf").is_none()
}

fn walk(root: &Value, schema: &Value, value: &Value, path: &str, shape: &mut Shape) {
    let schema = resolve(root, schema);
    // `allOf: [{$ref}]` wraps referenced types that carry a description.
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            walk(root, part, value, path, shape);
        }
        return;
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
                if !server_filled && !in_status(path) && object.get(key).is_none_or(Value::is_null)
                {
                    shape.missing.push(FieldError::required(join(key), None));
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in object {
                match properties.and_then(|p| p.get(key)).or(additional) {
                    Some(child_schema) => walk(root, child_schema, child, &join(key), shape),
                    None if properties.is_some() && !is_free_form(schema) => {
                        shape.unknown.push(join(key))
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(root, item_schema, item, &format!("{path}[{i}]"), shape);
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
        let missing: Vec<String> = check(&schema, &pod)
            .missing
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(missing, vec!["spec.containers[0].name: Required value"]);
        assert_eq!(
            check(&schema, &json!({ "spec": {} })).missing[0].field,
            "spec.containers"
        );
        assert!(
            check(&schema, &json!({ "metadata": {} }))
                .missing
                .is_empty()
        );
        let status = json!({ "spec": { "containers": [] }, "status": { "conditions": [{}] } });
        assert!(
            check(&schema, &status).missing.is_empty(),
            "status fields are not enforced"
        );
    }

    #[test]
    fn finds_unknown_fields_but_not_in_free_form_maps() {
        let schema = pod_schema();
        let pod = json!({
            "metadata": { "name": "p", "labels": { "any": "thing" }, "colour": 1 },
            "spec": { "containers": [{ "name": "a", "imagee": "x" }], "nodeSelector": { "k": "v" } }
        });
        assert_eq!(
            check(&schema, &pod).unknown,
            vec!["metadata.colour", "spec.containers[0].imagee"]
        );
    }
}

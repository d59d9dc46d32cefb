//! Shared helpers for the table-driven tests.
#![allow(dead_code)]

use serde_json::{Value, json};
use structural_schema::StructuralSchema;

/// A root object schema with `spec` described by `spec_schema`.
pub fn with_spec(spec_schema: Value) -> StructuralSchema {
    let root = json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
        },
    });
    StructuralSchema::new(&root).unwrap_or_else(|e| panic!("test schema must be valid: {e}"))
}

/// A resource whose spec is `spec`.
pub fn object(spec: Value) -> Value {
    json!({"apiVersion": "gastown.io/v1alpha1", "kind": "GasTown", "metadata": {"name": "x"}, "spec": spec})
}

/// The rendered messages of validating `obj` (no old object).
pub fn messages(schema: &StructuralSchema, obj: &Value) -> Vec<String> {
    schema
        .validate(obj, None)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The rendered messages of validating an update from `old` to `obj`.
pub fn update_messages(schema: &StructuralSchema, obj: &Value, old: &Value) -> Vec<String> {
    schema
        .validate(obj, Some(old))
        .iter()
        .map(ToString::to_string)
        .collect()
}

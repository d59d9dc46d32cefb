//! Schemas kube-apiserver refuses as non-structural, with its messages.

use serde_json::{Value, json};
use structural_schema::StructuralSchema;

fn rejection(schema: Value) -> Vec<String> {
    match StructuralSchema::new(&schema) {
        Ok(_) => Vec::new(),
        Err(e) => e.field_errors().iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn structural_rules_table() {
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("minimal", json!({"type": "object"}), vec![]),
        (
            "root type missing",
            json!({"properties": {}}),
            vec!["openAPIV3Schema.type: Required value: must not be empty at the root"],
        ),
        (
            "root not object",
            json!({"type": "string"}),
            vec![r#"openAPIV3Schema.type: Invalid value: "string": must be object at the root"#],
        ),
        (
            "field type missing",
            json!({"type": "object", "properties": {"spec": {"properties": {}}}}),
            vec![
                "openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
            ],
        ),
        (
            "item type missing",
            json!({"type": "object", "properties": {"l": {"type": "array", "items": {}}}}),
            vec![
                "openAPIV3Schema.properties[l].items.type: Required value: must not be empty for specified array items",
            ],
        ),
        (
            "array without items",
            json!({"type": "object", "properties": {"l": {"type": "array"}}}),
            vec!["openAPIV3Schema.properties[l].items: Required value: must be specified"],
        ),
        (
            "preserve-unknown-fields may omit the type",
            json!({"type": "object", "properties": {"free": {"x-kubernetes-preserve-unknown-fields": true}}}),
            vec![],
        ),
        (
            "type inside a value validation",
            json!({"type": "object", "properties": {"n": {"type": "integer", "allOf": [{"type": "integer", "minimum": 1}]}}}),
            vec![
                "openAPIV3Schema.properties[n].allOf[0].type: Forbidden: must be empty to be structural",
            ],
        ),
        (
            "default inside a value validation",
            json!({"type": "object", "properties": {"n": {"type": "integer", "anyOf": [{"default": 1}]}}}),
            vec![
                "openAPIV3Schema.properties[n].anyOf[0].default: Forbidden: must be undefined to be structural",
            ],
        ),
        (
            "additionalProperties at the root",
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            vec!["openAPIV3Schema.additionalProperties: Forbidden: must not be used at the root"],
        ),
        (
            "invalid pattern",
            json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "(["}}}),
            vec![],
        ),
        (
            "list-type map without keys",
            json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "map",
                "items": {"type": "object"}}}}),
            vec![
                "openAPIV3Schema.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map",
            ],
        ),
        (
            "embedded resource must be object",
            json!({"type": "object", "properties": {"e": {"type": "string", "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true}}}),
            vec![
                r#"openAPIV3Schema.properties[e].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true"#,
            ],
        ),
    ];
    for (name, schema, want) in cases {
        let got = rejection(schema);
        if name == "invalid pattern" {
            assert_eq!(got.len(), 1, "case {name}: {got:?}");
            assert!(
                got[0].starts_with(r#"openAPIV3Schema.properties[s].pattern: Invalid value: "([": must be a valid regular expression, but isn't: "#),
                "case {name}: {got:?}"
            );
            continue;
        }
        assert_eq!(got, want, "case {name}");
    }
}

#[test]
fn all_problems_are_reported_sorted_by_message() {
    let got = rejection(json!({"type": "object", "properties": {"b": {}, "a": {"type": "array"}}}));
    assert_eq!(
        got,
        vec![
            "openAPIV3Schema.properties[a].items: Required value: must be specified",
            "openAPIV3Schema.properties[b].type: Required value: must not be empty for specified object fields",
        ]
    );
}

#[test]
fn base_path_is_configurable() {
    let err = StructuralSchema::new_at(
        &json!({"type": "string"}),
        "spec.versions[0].schema.openAPIV3Schema",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid openAPIV3Schema: spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be object at the root"#
    );
}

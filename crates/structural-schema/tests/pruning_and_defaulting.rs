//! Pruning unknown fields and applying defaults.

mod common;

use common::with_spec;
use serde_json::{Value, json};
use structural_schema::StructuralSchema;

struct Case {
    name: &'static str,
    spec_schema: Value,
    spec: Value,
    want: Value,
}

fn prune_spec(schema: &StructuralSchema, spec: Value) -> (Value, Vec<String>) {
    let mut obj = json!({"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "x", "labels": {"a": "b"}}, "spec": spec});
    let unknown = schema.prune_reporting_unknown(&mut obj);
    assert_eq!(
        obj["metadata"],
        json!({"name": "x", "labels": {"a": "b"}}),
        "root metadata is kept whole"
    );
    assert_eq!(obj["apiVersion"], "g/v1");
    (obj["spec"].clone(), unknown)
}

#[test]
fn pruning_table() {
    let cases = vec![
        Case {
            name: "unknown field dropped",
            spec_schema: json!({"type": "object", "properties": {"a": {"type": "string"}}}),
            spec: json!({"a": "x", "b": "y"}),
            want: json!({"a": "x"}),
        },
        Case {
            name: "nested unknown fields in list items dropped",
            spec_schema: json!({"type": "object", "properties": {"l": {"type": "array", "items": {
                "type": "object", "properties": {"k": {"type": "string"}}}}}}),
            spec: json!({"l": [{"k": "1", "z": 1}, {"k": "2"}]}),
            want: json!({"l": [{"k": "1"}, {"k": "2"}]}),
        },
        Case {
            name: "additionalProperties schema keeps keys, prunes inside values",
            spec_schema: json!({"type": "object", "properties": {"m": {"type": "object", "additionalProperties": {
                "type": "object", "properties": {"v": {"type": "integer"}}}}}}),
            spec: json!({"m": {"one": {"v": 1, "w": 2}}}),
            want: json!({"m": {"one": {"v": 1}}}),
        },
        Case {
            name: "preserve-unknown-fields keeps unknown, still prunes specified",
            spec_schema: json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
                "known": {"type": "object", "properties": {"a": {"type": "string"}}}}}),
            spec: json!({"free": {"any": [1, 2]}, "known": {"a": "x", "b": "y"}}),
            want: json!({"free": {"any": [1, 2]}, "known": {"a": "x"}}),
        },
        Case {
            name: "embedded resource keeps apiVersion/kind/metadata",
            spec_schema: json!({"type": "object", "properties": {"template": {
                "type": "object", "x-kubernetes-embedded-resource": true,
                "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}}}),
            spec: json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"replicas": 1, "junk": true}, "junk": 1}}),
            want: json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"replicas": 1}}}),
        },
        Case {
            name: "meta fields are unknown below the root",
            spec_schema: json!({"type": "object", "properties": {"a": {"type": "string"}}}),
            spec: json!({"a": "x", "kind": "K"}),
            want: json!({"a": "x"}),
        },
        Case {
            name: "non-nullable null without default dropped, nullable kept",
            spec_schema: json!({"type": "object", "properties": {
                "a": {"type": "string"}, "b": {"type": "string", "nullable": true}}}),
            spec: json!({"a": null, "b": null}),
            want: json!({"b": null}),
        },
    ];
    for case in cases {
        let schema = with_spec(case.spec_schema);
        let (got, _) = prune_spec(&schema, case.spec);
        assert_eq!(got, case.want, "case {}", case.name);
    }
}

#[test]
fn pruning_reports_unknown_field_paths_sorted() {
    let schema = with_spec(
        json!({"type": "object", "properties": {"l": {"type": "array", "items": {
        "type": "object", "properties": {"k": {"type": "string"}}}}}}),
    );
    let mut obj = json!({"apiVersion": "g/v1", "kind": "K", "metadata": {}, "status": {"x": 1},
        "spec": {"zeta": 1, "l": [{"k": "a", "bad": 1}]}});
    let unknown = schema.prune_reporting_unknown(&mut obj);
    assert_eq!(unknown, vec!["spec.l[0].bad", "spec.zeta", "status"]);
}

#[test]
fn defaulting_table() {
    let cases = vec![
        Case {
            name: "missing field defaulted",
            spec_schema: json!({"type": "object", "properties": {"port": {"type": "integer", "default": 7777}}}),
            spec: json!({}),
            want: json!({"port": 7777}),
        },
        Case {
            name: "present field untouched",
            spec_schema: json!({"type": "object", "properties": {"port": {"type": "integer", "default": 7777}}}),
            spec: json!({"port": 1}),
            want: json!({"port": 1}),
        },
        Case {
            name: "non-nullable null replaced by default",
            spec_schema: json!({"type": "object", "properties": {"mode": {"type": "string", "default": "auto"}}}),
            spec: json!({"mode": null}),
            want: json!({"mode": "auto"}),
        },
        Case {
            name: "defaults inside a defaulted object",
            spec_schema: json!({"type": "object", "properties": {"daemon": {"type": "object", "default": {},
                "properties": {"port": {"type": "integer", "default": 7777}, "host": {"type": "string"}}}}}),
            spec: json!({}),
            want: json!({"daemon": {"port": 7777}}),
        },
        Case {
            name: "defaults inside an existing nested object, not inside a missing one",
            spec_schema: json!({"type": "object", "properties": {
                "a": {"type": "object", "properties": {"x": {"type": "integer", "default": 1}}},
                "b": {"type": "object", "properties": {"y": {"type": "integer", "default": 2}}}}}),
            spec: json!({"a": {}}),
            want: json!({"a": {"x": 1}}),
        },
        Case {
            name: "defaults in list items and map values",
            spec_schema: json!({"type": "object", "properties": {
                "l": {"type": "array", "items": {"type": "object", "properties": {"w": {"type": "integer", "default": 3}}}},
                "m": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "boolean", "default": true}}}}}}),
            spec: json!({"l": [{}, {"w": 1}], "m": {"k": {}}}),
            want: json!({"l": [{"w": 3}, {"w": 1}], "m": {"k": {"v": true}}}),
        },
    ];
    for case in cases {
        let schema = with_spec(case.spec_schema);
        let mut obj = json!({"spec": case.spec});
        schema.default(&mut obj);
        assert_eq!(obj["spec"], case.want, "case {}", case.name);
    }
}

#[test]
fn admit_prunes_then_defaults_then_validates() {
    let schema = with_spec(
        json!({"type": "object", "required": ["replicas"], "properties": {
        "replicas": {"type": "integer", "minimum": 0, "default": 1},
        "mode": {"type": "string", "enum": ["a", "b"]}}}),
    );
    let mut obj = json!({"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "x"}, "spec": {"unknown": true}});
    schema
        .admit(&mut obj, None)
        .expect("pruned and defaulted object is valid");
    assert_eq!(obj["spec"], json!({"replicas": 1}));

    let mut bad = json!({"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "x"}, "spec": {"mode": "c"}});
    let errors = schema.admit(&mut bad, None).unwrap_err();
    assert_eq!(
        errors.to_string(),
        r#"spec.mode: Unsupported value: "c": supported values: "a", "b""#
    );
}

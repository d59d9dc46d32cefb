//! OpenAPI value validation: one row per keyword, with kube-apiserver's text.

mod common;

use common::{messages, object, with_spec};
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    schema: Value,
    value: Value,
    want: &'static [&'static str],
}

fn run(cases: Vec<Case>) {
    for case in cases {
        let schema = with_spec(json!({"type": "object", "properties": {"f": case.schema}}));
        let got = messages(&schema, &object(json!({"f": case.value})));
        let want: Vec<String> = case.want.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "case {}", case.name);
    }
}

#[test]
fn types_and_nullable() {
    run(vec![
        Case {
            name: "integer ok",
            schema: json!({"type": "integer"}),
            value: json!(3),
            want: &[],
        },
        Case {
            name: "string for integer",
            schema: json!({"type": "integer"}),
            value: json!("3"),
            want: &[
                r#"spec.f: Invalid value: "string": spec.f in body must be of type integer: "string""#,
            ],
        },
        Case {
            name: "fraction for integer",
            schema: json!({"type": "integer"}),
            value: json!(1.5),
            want: &[
                r#"spec.f: Invalid value: "number": spec.f in body must be of type integer: "number""#,
            ],
        },
        Case {
            name: "whole float for integer",
            schema: json!({"type": "integer"}),
            value: json!(2.0),
            want: &[],
        },
        Case {
            name: "integer for number",
            schema: json!({"type": "number"}),
            value: json!(2),
            want: &[],
        },
        Case {
            name: "object for array",
            schema: json!({"type": "array", "items": {"type": "string"}}),
            value: json!({}),
            want: &[
                r#"spec.f: Invalid value: "object": spec.f in body must be of type array: "object""#,
            ],
        },
        Case {
            name: "number for boolean",
            schema: json!({"type": "boolean"}),
            value: json!(1),
            want: &[
                r#"spec.f: Invalid value: "integer": spec.f in body must be of type boolean: "integer""#,
            ],
        },
        Case {
            name: "null for non-nullable (in a list, where pruning keeps it)",
            schema: json!({"type": "array", "items": {"type": "string"}}),
            value: json!(["a", null]),
            want: &[
                r#"spec.f[1]: Invalid value: "null": spec.f[1] in body must be of type string: "null""#,
            ],
        },
        Case {
            name: "null for nullable",
            schema: json!({"type": "array", "items": {"type": "string", "nullable": true}}),
            value: json!([null]),
            want: &[],
        },
        Case {
            name: "int-or-string accepts both",
            schema: json!({"x-kubernetes-int-or-string": true}),
            value: json!("50%"),
            want: &[],
        },
        Case {
            name: "int-or-string rejects boolean",
            schema: json!({"x-kubernetes-int-or-string": true}),
            value: json!(true),
            want: &[
                r#"spec.f: Invalid value: "boolean": spec.f in body must be of type integer,string: "boolean""#,
            ],
        },
    ]);
}

#[test]
fn numbers() {
    run(vec![
        Case {
            name: "maximum",
            schema: json!({"type": "integer", "maximum": 65535}),
            value: json!(70000),
            want: &[
                "spec.f: Invalid value: 70000: spec.f in body should be less than or equal to 65535",
            ],
        },
        Case {
            name: "exclusive maximum",
            schema: json!({"type": "integer", "maximum": 10, "exclusiveMaximum": true}),
            value: json!(10),
            want: &["spec.f: Invalid value: 10: spec.f in body should be less than 10"],
        },
        Case {
            name: "minimum",
            schema: json!({"type": "integer", "minimum": 1}),
            value: json!(0),
            want: &[
                "spec.f: Invalid value: 0: spec.f in body should be greater than or equal to 1",
            ],
        },
        Case {
            name: "exclusive minimum with float data",
            schema: json!({"type": "number", "minimum": 0.5, "exclusiveMinimum": true}),
            value: json!(0.5),
            want: &["spec.f: Invalid value: 0.5: spec.f in body should be greater than 0.5"],
        },
        Case {
            name: "large float bound prints like Go",
            schema: json!({"type": "number", "maximum": 1000000.0}),
            value: json!(2000000.5),
            want: &[
                "spec.f: Invalid value: 2.0000005e+06: spec.f in body should be less than or equal to 1e+06",
            ],
        },
        Case {
            name: "multipleOf integer",
            schema: json!({"type": "integer", "multipleOf": 5}),
            value: json!(12),
            want: &["spec.f: Invalid value: 12: spec.f in body should be a multiple of 5"],
        },
        Case {
            name: "multipleOf float",
            schema: json!({"type": "number", "multipleOf": 0.25}),
            value: json!(0.3),
            want: &["spec.f: Invalid value: 0.3: spec.f in body should be a multiple of 0.25"],
        },
        Case {
            name: "multipleOf ok",
            schema: json!({"type": "number", "multipleOf": 0.25}),
            value: json!(0.75),
            want: &[],
        },
        Case {
            name: "int32 format is not checked by the apiserver",
            schema: json!({"type": "integer", "format": "int32"}),
            value: json!(1_099_511_627_776_i64),
            want: &[],
        },
    ]);
}

#[test]
fn strings() {
    run(vec![
        Case {
            name: "pattern",
            schema: json!({"type": "string", "pattern": "^[a-z][a-z0-9_-]*$"}),
            value: json!("Bad"),
            want: &[
                r#"spec.f: Invalid value: "Bad": spec.f in body should match '^[a-z][a-z0-9_-]*$'"#,
            ],
        },
        Case {
            name: "maxLength counts runes",
            schema: json!({"type": "string", "maxLength": 3}),
            value: json!("äöü"),
            want: &[],
        },
        Case {
            name: "maxLength",
            schema: json!({"type": "string", "maxLength": 3}),
            value: json!("abcd"),
            want: &["spec.f: Too long: may not be more than 3 bytes"],
        },
        Case {
            name: "minLength",
            schema: json!({"type": "string", "minLength": 2}),
            value: json!("a"),
            want: &[
                r#"spec.f: Invalid value: "a": spec.f in body should be at least 2 chars long"#,
            ],
        },
        Case {
            name: "only the first string failure is reported",
            schema: json!({"type": "string", "minLength": 5, "pattern": "^x"}),
            value: json!("a"),
            want: &[
                r#"spec.f: Invalid value: "a": spec.f in body should be at least 5 chars long"#,
            ],
        },
        Case {
            name: "enum",
            schema: json!({"type": "string", "enum": ["polecat", "crew"]}),
            value: json!("foo"),
            want: &[r#"spec.f: Unsupported value: "foo": supported values: "polecat", "crew""#],
        },
        Case {
            name: "numeric enum",
            schema: json!({"type": "integer", "enum": [1, 2]}),
            value: json!(3),
            want: &[r#"spec.f: Unsupported value: 3: supported values: "1", "2""#],
        },
        Case {
            name: "null never matches an enum",
            schema: json!({"type": "array", "items": {"type": "string", "nullable": true, "enum": ["a", null]}}),
            value: json!([null]),
            want: &[r#"spec.f[0]: Unsupported value: "null": supported values: "a", "null""#],
        },
        Case {
            name: "format uuid",
            schema: json!({"type": "string", "format": "uuid"}),
            value: json!("abc"),
            want: &[r#"spec.f: Invalid value: "abc": spec.f in body must be of type uuid: "abc""#],
        },
        Case {
            name: "format date-time",
            schema: json!({"type": "string", "format": "date-time"}),
            value: json!("yesterday"),
            want: &[
                r#"spec.f: Invalid value: "yesterday": spec.f in body must be of type datetime: "yesterday""#,
            ],
        },
        Case {
            name: "format hostname ok",
            schema: json!({"type": "string", "format": "hostname"}),
            value: json!("beads.gastown.svc"),
            want: &[],
        },
        Case {
            name: "unknown format ignored",
            schema: json!({"type": "string", "format": "k8s-quantity"}),
            value: json!("anything"),
            want: &[],
        },
    ]);
}

#[test]
fn arrays_and_objects() {
    run(vec![
        Case {
            name: "maxItems",
            schema: json!({"type": "array", "items": {"type": "integer"}, "maxItems": 2}),
            value: json!([1, 2, 3]),
            want: &["spec.f: Too many: 3: must have at most 2 items"],
        },
        Case {
            name: "minItems",
            schema: json!({"type": "array", "items": {"type": "integer"}, "minItems": 1}),
            value: json!([]),
            want: &["spec.f: Invalid value: 0: spec.f in body should have at least 1 items"],
        },
        Case {
            name: "item errors carry the index",
            schema: json!({"type": "array", "items": {"type": "integer", "minimum": 0}}),
            value: json!([1, -1]),
            want: &[
                "spec.f[1]: Invalid value: -1: spec.f[1] in body should be greater than or equal to 0",
            ],
        },
        Case {
            name: "required",
            schema: json!({"type": "object", "required": ["gitURL"], "properties": {"gitURL": {"type": "string"}}}),
            value: json!({}),
            want: &["spec.f.gitURL: Required value"],
        },
        Case {
            name: "maxProperties",
            schema: json!({"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}}),
            value: json!({"a": "1", "b": "2"}),
            want: &["spec.f: Too many: 2: must have at most 1 items"],
        },
        Case {
            name: "minProperties",
            schema: json!({"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}),
            value: json!({}),
            want: &["spec.f: Invalid value: 0: spec.f in body should have at least 1 properties"],
        },
        Case {
            name: "additionalProperties schema uses dotted keys in messages",
            schema: json!({"type": "object", "additionalProperties": {"type": "integer"}}),
            value: json!({"a.b": "x"}),
            want: &[
                r#"spec.f.a.b: Invalid value: "string": spec.f.a.b in body must be of type integer: "string""#,
            ],
        },
    ]);
}

#[test]
fn value_validation_composition() {
    run(vec![
        Case {
            name: "anyOf none matches",
            schema: json!({"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}),
            value: json!("c"),
            want: &[
                r#"<nil>: Invalid value: "": "spec.f" must validate at least one schema (anyOf)"#,
                r#"spec.f: Invalid value: "c": spec.f in body should match '^a'"#,
            ],
        },
        Case {
            name: "anyOf one matches",
            schema: json!({"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}),
            value: json!("b"),
            want: &[],
        },
        Case {
            name: "oneOf two match",
            schema: json!({"type": "integer", "oneOf": [{"minimum": 0}, {"maximum": 10}]}),
            value: json!(5),
            want: &[
                r#"<nil>: Invalid value: "": "spec.f" must validate one and only one schema (oneOf). Found 2 valid alternatives"#,
            ],
        },
        Case {
            name: "allOf one fails",
            schema: json!({"type": "integer", "allOf": [{"minimum": 0}, {"maximum": 10}]}),
            value: json!(11),
            want: &[
                "spec.f: Invalid value: 11: spec.f in body should be less than or equal to 10",
                r#"<nil>: Invalid value: "": "spec.f" must validate all the schemas (allOf)"#,
            ],
        },
        Case {
            name: "not",
            schema: json!({"type": "string", "not": {"enum": ["forbidden"]}}),
            value: json!("forbidden"),
            want: &[r#"<nil>: Invalid value: "": "spec.f" must not validate the schema (not)"#],
        },
        Case {
            name: "int-or-string anyOf idiom",
            schema: json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}),
            value: json!(8080),
            want: &[],
        },
    ]);
}

#[test]
fn ratcheting_ignores_unchanged_invalid_values() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "port": {"type": "integer", "maximum": 100},
        "name": {"type": "string", "maxLength": 3},
    }}));
    let old = object(json!({"port": 500, "name": "abc"}));
    let unchanged_port = object(json!({"port": 500, "name": "abcd"}));
    assert_eq!(
        common::update_messages(&schema, &unchanged_port, &old),
        vec!["spec.name: Too long: may not be more than 3 bytes"]
    );
    let changed_port = object(json!({"port": 501, "name": "abc"}));
    assert_eq!(
        common::update_messages(&schema, &changed_port, &old),
        vec![
            "spec.port: Invalid value: 501: spec.port in body should be less than or equal to 100"
        ]
    );
}

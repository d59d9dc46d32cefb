//! `x-kubernetes-list-type` set and map uniqueness, and embedded resources.

mod common;

use common::{messages, object, update_messages, with_spec};
use serde_json::json;

fn lists_schema() -> structural_schema::StructuralSchema {
    with_spec(json!({"type": "object", "properties": {
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}},
        "rigs": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "repo": {"type": "string"}}}},
        "free": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string"}},
    }}))
}

#[test]
fn duplicates_table() {
    let schema = lists_schema();
    let cases = vec![
        ("distinct set", json!({"tags": ["a", "b"]}), vec![]),
        (
            "set repeat reported once per value",
            json!({"tags": ["a", "b", "a", "a"]}),
            vec![r#"spec.tags[2]: Duplicate value: "a""#],
        ),
        (
            "atomic lists may repeat",
            json!({"free": ["a", "a"]}),
            vec![],
        ),
        (
            "map list single key",
            json!({"rigs": [{"name": "x", "repo": "1"}, {"name": "x", "repo": "2"}]}),
            vec![r#"spec.rigs[1]: Duplicate value: map[string]interface {}{"name":"x"}"#],
        ),
        (
            "map list missing keys count as one key",
            json!({"rigs": [{"repo": "1"}, {"repo": "2"}]}),
            vec![r#"spec.rigs[1]: Duplicate value: map[string]interface {}{}"#],
        ),
        (
            "map list compound key",
            json!({"ports": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}]}),
            vec![
                r#"spec.ports[2]: Duplicate value: map[string]interface {}{"port":80, "protocol":"TCP"}"#,
            ],
        ),
    ];
    for (name, spec, want) in cases {
        assert_eq!(messages(&schema, &object(spec)), want, "case {name}");
    }
}

#[test]
fn duplicates_in_the_stored_object_are_ratcheted() {
    let schema = lists_schema();
    let old = object(json!({"tags": ["a", "a"]}));
    assert!(
        update_messages(
            &schema,
            &object(json!({"tags": ["a", "a", "b", "b"]})),
            &old
        )
        .is_empty()
    );
    let clean_old = object(json!({"tags": ["a"]}));
    assert_eq!(
        update_messages(&schema, &object(json!({"tags": ["a", "a"]})), &clean_old),
        vec![r#"spec.tags[1]: Duplicate value: "a""#]
    );
}

#[test]
fn nested_embedded_resources_need_type_meta() {
    let schema = with_spec(json!({"type": "object", "properties": {"template": {
        "type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}}));
    assert!(
        messages(
            &schema,
            &object(json!({"template": {"apiVersion": "v1", "kind": "Pod"}}))
        )
        .is_empty()
    );
    assert_eq!(
        messages(&schema, &object(json!({"template": {}}))),
        vec![
            "spec.template.apiVersion: Required value: must not be empty",
            "spec.template.kind: Required value: must not be empty"
        ]
    );
    assert_eq!(
        messages(
            &schema,
            &object(json!({"template": {"apiVersion": "a/b/c", "kind": "Not_A_Kind"}}))
        ),
        vec![
            r#"spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c"#,
            r#"spec.template.kind: Invalid value: "Not_A_Kind": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
        ]
    );
}

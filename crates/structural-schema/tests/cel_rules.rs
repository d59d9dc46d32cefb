//! `x-kubernetes-validations` (CEL) rules: messages, fieldPath, reason,
//! messageExpression, transition rules and the apiserver's ordering.

mod common;

use common::{messages, object, update_messages, with_spec};
use serde_json::{Value, json};
use structural_schema::{ErrorType, StructuralSchema};

fn spec_with_rules(properties: Value, rules: Value) -> StructuralSchema {
    with_spec(
        json!({"type": "object", "properties": properties, "x-kubernetes-validations": rules}),
    )
}

#[test]
fn failing_rule_reports_schema_type_and_message() {
    let schema = spec_with_rules(
        json!({"min": {"type": "integer"}, "max": {"type": "integer"}}),
        json!([{"rule": "self.min <= self.max", "message": "min must not exceed max"}]),
    );
    assert_eq!(
        messages(&schema, &object(json!({"min": 1, "max": 2}))),
        Vec::<String>::new()
    );
    assert_eq!(
        messages(&schema, &object(json!({"min": 3, "max": 2}))),
        vec![r#"spec: Invalid value: "object": min must not exceed max"#]
    );
}

#[test]
fn rule_without_message_uses_failed_rule_text() {
    let schema = spec_with_rules(
        json!({"n": {"type": "integer"}}),
        json!([{"rule": "  self.n > 0 "}]),
    );
    assert_eq!(
        messages(&schema, &object(json!({"n": 0}))),
        vec![r#"spec: Invalid value: "object": failed rule: self.n > 0"#]
    );
}

#[test]
fn rules_on_scalars_lists_and_map_values() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('gt-')", "message": "must start with gt-"}]},
        "tags": {"type": "array", "items": {"type": "string",
            "x-kubernetes-validations": [{"rule": "self.size() <= 3", "message": "tag too long"}]}},
        "labels": {"type": "object", "additionalProperties": {"type": "string",
            "x-kubernetes-validations": [{"rule": "self != ''", "message": "empty label"}]}},
    }}));
    let got = messages(
        &schema,
        &object(json!({"name": "x", "tags": ["ok", "toolong"], "labels": {"a": ""}})),
    );
    assert_eq!(
        got,
        vec![
            r#"spec.labels[a]: Invalid value: "string": empty label"#,
            r#"spec.name: Invalid value: "string": must start with gt-"#,
            r#"spec.tags[1]: Invalid value: "string": tag too long"#,
        ]
    );
}

#[test]
fn root_rule_errors_have_nil_path() {
    let root = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "x-kubernetes-validations": [{"rule": "has(self.spec.a)", "message": "spec.a is required"}]});
    let schema = StructuralSchema::new(&root).unwrap();
    assert_eq!(
        messages(&schema, &object(json!({}))),
        vec![r#"<nil>: Invalid value: "object": spec.a is required"#]
    );
}

#[test]
fn field_path_and_reason_are_honoured() {
    let schema = spec_with_rules(
        json!({"replicas": {"type": "integer"}, "paused": {"type": "boolean"},
               "limits": {"type": "object", "additionalProperties": {"type": "string"}}}),
        json!([
            {"rule": "!self.paused || self.replicas == 0", "message": "paused towns run no replicas",
             "fieldPath": ".replicas", "reason": "FieldValueForbidden"},
            {"rule": "has(self.limits) && 'cpu' in self.limits", "message": "cpu limit needed",
             "fieldPath": ".limits['cpu']", "reason": "FieldValueRequired"},
        ]),
    );
    let errors = schema.validate(&object(json!({"paused": true, "replicas": 2})), None);
    let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        vec![
            "spec.replicas: Forbidden: paused towns run no replicas",
            "spec.limits[cpu]: Required value: cpu limit needed"
        ]
    );
    assert_eq!(errors[0].error_type, ErrorType::Forbidden);
    assert_eq!(errors[1].error_type, ErrorType::Required);
}

#[test]
fn message_expression_is_used_and_trimmed() {
    let schema = spec_with_rules(
        json!({"n": {"type": "integer"}}),
        json!([{"rule": "self.n < 10", "message": "static",
                "messageExpression": "'  n is ' + string(self.n) + ', want < 10  '"}]),
    );
    assert_eq!(
        messages(&schema, &object(json!({"n": 12}))),
        vec![r#"spec: Invalid value: "object": n is 12, want < 10"#]
    );
}

#[test]
fn empty_message_expression_falls_back_to_message() {
    let schema = spec_with_rules(
        json!({"n": {"type": "integer"}}),
        json!([{"rule": "self.n < 10", "message": "static", "messageExpression": "'  '"}]),
    );
    assert_eq!(
        messages(&schema, &object(json!({"n": 12}))),
        vec![r#"spec: Invalid value: "object": static"#]
    );
}

#[test]
fn transition_rules_run_only_on_update_when_old_value_exists() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "storage": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "storage is immutable"}]},
    }}));
    let old = object(json!({"storage": "10Gi"}));
    assert!(messages(&schema, &old).is_empty(), "no oldSelf on create");
    assert!(update_messages(&schema, &object(json!({"storage": "10Gi"})), &old).is_empty());
    assert_eq!(
        update_messages(&schema, &object(json!({"storage": "20Gi"})), &old),
        vec![r#"spec.storage: Invalid value: "string": storage is immutable"#]
    );
    // The field is new in this update: there is no oldSelf, so no check.
    let old_without = object(json!({}));
    assert!(update_messages(&schema, &object(json!({"storage": "20Gi"})), &old_without).is_empty());
}

#[test]
fn transition_rules_in_map_lists_correlate_by_key() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "rigs": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"}, "repo": {"type": "string"}},
                "x-kubernetes-validations": [{"rule": "self.repo == oldSelf.repo", "message": "repo is immutable"}]}},
    }}));
    let old = object(json!({"rigs": [{"name": "a", "repo": "r1"}, {"name": "b", "repo": "r2"}]}));
    // Reordered, unchanged: fine. Index-based correlation would fail here.
    let reordered =
        object(json!({"rigs": [{"name": "b", "repo": "r2"}, {"name": "a", "repo": "r1"}]}));
    assert!(update_messages(&schema, &reordered, &old).is_empty());
    let changed =
        object(json!({"rigs": [{"name": "b", "repo": "other"}, {"name": "c", "repo": "new"}]}));
    assert_eq!(
        update_messages(&schema, &changed, &old),
        vec![r#"spec.rigs[0]: Invalid value: "object": repo is immutable"#]
    );
}

#[test]
fn unchanged_values_ratchet_plain_rules_but_not_transition_rules() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "a": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 3", "message": "a too long"}]},
        "b": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 3", "message": "b too long"}]},
    }}));
    let old = object(json!({"a": "long", "b": "ok"}));
    let new = object(json!({"a": "long", "b": "long"}));
    assert_eq!(
        update_messages(&schema, &new, &old),
        vec![r#"spec.b: Invalid value: "string": b too long"#]
    );
}

#[test]
fn blocking_openapi_errors_skip_cel() {
    let schema = with_spec(
        json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.n > 0", "message": "n positive"}]}),
    );
    assert_eq!(
        messages(&schema, &object(json!({}))),
        vec![
            "spec.n: Required value",
            r#"<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#,
        ]
    );
}

#[test]
fn non_blocking_openapi_errors_still_run_cel() {
    let schema = with_spec(
        json!({"type": "object", "properties": {"n": {"type": "integer", "maximum": 5}},
        "x-kubernetes-validations": [{"rule": "self.n > 3", "message": "n above 3"}]}),
    );
    assert_eq!(
        messages(&schema, &object(json!({"n": 2}))),
        vec![r#"spec: Invalid value: "object": n above 3"#]
    );
    assert_eq!(
        messages(&schema, &object(json!({"n": 9}))),
        vec!["spec.n: Invalid value: 9: spec.n in body should be less than or equal to 5"]
    );
}

#[test]
fn runtime_errors_name_the_rule() {
    let schema = spec_with_rules(
        json!({"m": {"type": "object", "additionalProperties": {"type": "string"}}}),
        json!([{"rule": "self.m['missing'] == 'x'"}]),
    );
    let got = messages(&schema, &object(json!({"m": {}})));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with(r#"spec: Invalid value: "object": "#),
        "{}",
        got[0]
    );
    assert!(
        got[0].ends_with(" evaluating rule: self.m['missing'] == 'x'"),
        "{}",
        got[0]
    );
}

#[test]
fn kubernetes_cel_libraries_and_formats_are_available() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "cpu": {"type": "string", "x-kubernetes-validations": [
            {"rule": "quantity(self).isLessThan(quantity('4'))", "message": "at most 4 CPUs"}]},
        "since": {"type": "string", "format": "date-time", "x-kubernetes-validations": [
            {"rule": "self > timestamp('2020-01-01T00:00:00Z')", "message": "too old"}]},
        "url": {"type": "string", "x-kubernetes-validations": [
            {"rule": "isURL(self) && url(self).getScheme() == 'https'", "message": "https only"}]},
    }}));
    assert!(
        messages(
            &schema,
            &object(json!({"cpu": "500m", "since": "2024-01-01T00:00:00Z", "url": "https://x"}))
        )
        .is_empty()
    );
    assert_eq!(
        messages(
            &schema,
            &object(json!({"cpu": "8", "since": "2019-01-01T00:00:00Z", "url": "http://x"}))
        ),
        vec![
            r#"spec.cpu: Invalid value: "string": at most 4 CPUs"#,
            r#"spec.since: Invalid value: "string": too old"#,
            r#"spec.url: Invalid value: "string": https only"#,
        ]
    );
}

#[test]
fn rules_compile_once_and_bad_rules_reject_the_schema() {
    let bad = json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [{"rule": "self.a >"}]}}});
    let err = StructuralSchema::new(&bad).unwrap_err();
    let errors: Vec<String> = err.field_errors().iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(
            r#"openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "self.a >": compilation failed"#
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn invalid_field_path_and_reason_reject_the_schema() {
    let bad = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}},
        "x-kubernetes-validations": [{"rule": "true", "fieldPath": ".nope", "reason": "Sideways"}]}}});
    let err = StructuralSchema::new(&bad).unwrap_err();
    let errors: Vec<String> = err.field_errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        vec![
            r#"openAPIV3Schema.properties[spec].x-kubernetes-validations[0].fieldPath: Invalid value: ".nope": fieldPath must be a valid path: does not refer to a valid field"#,
            r#"openAPIV3Schema.properties[spec].x-kubernetes-validations[0].reason: Unsupported value: "Sideways": supported values: "FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate""#,
        ]
    );
}

#[test]
fn optional_old_self_rules_also_run_on_create() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "tier": {"type": "string", "x-kubernetes-validations": [
            {"rule": "oldSelf.hasValue() ? self == oldSelf.value() : self == 'basic'", "optionalOldSelf": true,
             "message": "tier starts basic and never changes"}]},
    }}));
    assert_eq!(
        messages(&schema, &object(json!({"tier": "gold"}))),
        vec![r#"spec.tier: Invalid value: "string": tier starts basic and never changes"#]
    );
    assert!(messages(&schema, &object(json!({"tier": "basic"}))).is_empty());
    let old = object(json!({"tier": "basic"}));
    assert_eq!(
        update_messages(&schema, &object(json!({"tier": "gold"})), &old).len(),
        1
    );
}

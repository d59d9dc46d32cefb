//! A realistic hand-written CRD, taken through admission end to end the way
//! the embedded apiserver uses this crate.

use serde_json::{Value, json};
use structural_schema::StructuralSchema;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: rigs.gastown.io
spec:
  group: gastown.io
  names: {kind: Rig, plural: rigs}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            required: [gitURL, townRef]
            x-kubernetes-validations:
            - rule: "self.maxPolecats >= self.minPolecats"
              message: maxPolecats must be at least minPolecats
              fieldPath: .maxPolecats
            properties:
              townRef: {type: string, minLength: 1, maxLength: 63}
              gitURL:
                type: string
                pattern: '^(https://|git@)\S+$'
                x-kubernetes-validations:
                - rule: self == oldSelf
                  message: gitURL is immutable
              branch: {type: string, default: main}
              minPolecats: {type: integer, format: int32, minimum: 0, default: 0}
              maxPolecats: {type: integer, format: int32, minimum: 0, maximum: 50, default: 4}
              role:
                type: string
                enum: [polecat, crew]
                default: polecat
              daemon:
                type: object
                default: {}
                properties:
                  port: {type: integer, minimum: 1, maximum: 65535, default: 7777}
                  idleTimeout: {type: string, default: 15m}
              resources:
                type: object
                x-kubernetes-preserve-unknown-fields: true
              agents:
                type: array
                maxItems: 8
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string, pattern: '^[a-z][a-z0-9_-]*$'}
                    model: {type: string}
                    replicas: {x-kubernetes-int-or-string: true}
          status:
            type: object
            properties:
              phase: {type: string}
"#;

fn rig_schema() -> StructuralSchema {
    let crd: Value = serde_yaml::from_str(CRD).expect("fixture is valid YAML");
    StructuralSchema::new_at(
        &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
        "spec.versions[0].schema.openAPIV3Schema",
    )
    .expect("fixture schema is structural")
}

fn rig(spec: Value) -> Value {
    json!({"apiVersion": "gastown.io/v1alpha1", "kind": "Rig", "metadata": {"name": "r", "namespace": "t"}, "spec": spec})
}

#[test]
fn example_object_is_admitted_with_defaults_and_without_unknown_fields() {
    let schema = rig_schema();
    let mut obj = rig(json!({
        "townRef": "town", "gitURL": "https://github.com/x/y", "typo": true,
        "resources": {"cpu": "2", "extra": {"kept": 1}},
        "agents": [{"name": "mayor", "model": "opus", "replicas": "50%", "junk": 1}],
    }));
    schema.admit(&mut obj, None).expect("example is valid");
    assert_eq!(
        obj["spec"],
        json!({
            "townRef": "town", "gitURL": "https://github.com/x/y", "branch": "main",
            "minPolecats": 0, "maxPolecats": 4, "role": "polecat",
            "daemon": {"port": 7777, "idleTimeout": "15m"},
            "resources": {"cpu": "2", "extra": {"kept": 1}},
            "agents": [{"name": "mayor", "model": "opus", "replicas": "50%"}],
        })
    );
}

#[test]
fn bad_object_is_rejected_with_kube_apiserver_messages() {
    let schema = rig_schema();
    let mut obj = rig(json!({
        "gitURL": "ftp://nope", "role": "foo", "daemon": {"port": 70000},
        "agents": [{"name": "Bad"}, {"name": "Bad"}],
    }));
    let errors = schema.admit(&mut obj, None).unwrap_err();
    let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        vec![
            r#"spec.agents[0].name: Invalid value: "Bad": spec.agents[0].name in body should match '^[a-z][a-z0-9_-]*$'"#,
            r#"spec.agents[1].name: Invalid value: "Bad": spec.agents[1].name in body should match '^[a-z][a-z0-9_-]*$'"#,
            "spec.daemon.port: Invalid value: 70000: spec.daemon.port in body should be less than or equal to 65535",
            r#"spec.gitURL: Invalid value: "ftp://nope": spec.gitURL in body should match '^(https://|git@)\S+$'"#,
            r#"spec.role: Unsupported value: "foo": supported values: "polecat", "crew""#,
            "spec.townRef: Required value",
            r#"spec.agents[1]: Duplicate value: map[string]interface {}{"name":"Bad"}"#,
            r#"<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#,
        ]
    );
    assert_eq!(
        errors
            .invalid_message("Rig.gastown.io", "r")
            .split(": [")
            .next(),
        Some(r#"Rig.gastown.io "r" is invalid"#)
    );
    assert_eq!(
        errors.status_causes()[5],
        json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.townRef"})
    );
}

#[test]
fn missing_spec_is_required_at_the_root() {
    let schema = rig_schema();
    let mut obj =
        json!({"apiVersion": "gastown.io/v1alpha1", "kind": "Rig", "metadata": {"name": "r"}});
    let errors = schema.admit(&mut obj, None).unwrap_err();
    assert_eq!(errors[0].to_string(), "spec: Required value");
}

#[test]
fn cel_rules_run_once_openapi_validation_passes() {
    let schema = rig_schema();
    let mut obj = rig(
        json!({"townRef": "t", "gitURL": "git@github.com:x/y", "minPolecats": 5, "maxPolecats": 2}),
    );
    let errors = schema.admit(&mut obj, None).unwrap_err();
    assert_eq!(
        errors.invalid_message("Rig.gastown.io", "r"),
        r#"Rig.gastown.io "r" is invalid: spec.maxPolecats: Invalid value: "object": maxPolecats must be at least minPolecats"#
    );
}

#[test]
fn updates_check_transition_rules_and_ratchet_old_problems() {
    let schema = rig_schema();
    let mut old = rig(json!({"townRef": "t", "gitURL": "https://a/b"}));
    schema.admit(&mut old, None).expect("old object is valid");

    let mut moved = old.clone();
    moved["spec"]["gitURL"] = json!("https://c/d");
    let errors = schema.admit(&mut moved, Some(&old)).unwrap_err();
    assert_eq!(
        errors.to_string(),
        r#"spec.gitURL: Invalid value: "string": gitURL is immutable"#
    );

    // A stored object that predates a tighter maximum stays updatable.
    let mut stored = old.clone();
    stored["spec"]["maxPolecats"] = json!(80);
    let mut relabelled = stored.clone();
    relabelled["metadata"]["labels"] = json!({"a": "b"});
    schema
        .admit(&mut relabelled, Some(&stored))
        .expect("unchanged invalid field is ratcheted");
}

#[test]
fn status_updates_validate_status_with_relative_message_paths() {
    let schema = StructuralSchema::new(&json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"replicas": {"type": "integer", "maximum": 3}}},
        "status": {"type": "object", "required": ["phase"], "properties": {
            "phase": {"type": "string", "enum": ["Pending", "Ready"]},
            "readyReplicas": {"type": "integer", "minimum": 0}}},
    }}))
    .unwrap();
    // spec is not re-validated through the status subresource.
    let old = rig(json!({"replicas": 9}));
    let mut new = old.clone();
    new["status"] = json!({"phase": "Ready", "readyReplicas": -1});
    let got: Vec<String> = schema
        .validate_status_update(&new, &old)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        vec![
            "status.readyReplicas: Invalid value: -1: readyReplicas in body should be greater than or equal to 0"
        ]
    );
    new["status"] = json!({});
    let got: Vec<String> = schema
        .validate_status_update(&new, &old)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, vec!["status.phase: Required value"]);
}

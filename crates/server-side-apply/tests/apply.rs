//! Server-side apply and managedFields bookkeeping.

use serde_json::{Value, json};
use server_side_apply::{ApplyError, BuiltinTypes, SchemaTypes, TypeInfo, apply, record_update};

const T0: &str = "2026-01-01T00:00:00Z";
const T1: &str = "2026-01-01T00:01:00Z";
const T2: &str = "2026-01-01T00:02:00Z";

fn deployment_types() -> BuiltinTypes {
    BuiltinTypes::for_kind("apps/v1", "Deployment")
}

fn deployment(spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec
    })
}

fn containers(list: Value) -> Value {
    deployment(json!({"template": {"spec": {"containers": list}}}))
}

fn entries(object: &Value) -> Vec<Value> {
    object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn entry<'a>(object: &'a Value, manager: &str) -> Option<&'a Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager)
}

fn managers(object: &Value) -> Vec<String> {
    entries(object)
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["manager"].as_str().unwrap(),
                e["operation"].as_str().unwrap()
            )
        })
        .collect()
}

fn apply_ok(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    types: &dyn TypeInfo,
    now: &str,
) -> Value {
    apply(live, config, manager, false, None, types, now)
        .unwrap_or_else(|e| panic!("apply by {manager} failed: {e}"))
}

#[test]
fn apply_creates_the_object_and_records_the_applier() {
    let config = deployment(json!({
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}
        }
    }));
    let created = apply_ok(None, &config, "kubectl", &deployment_types(), T0);

    assert_eq!(created["spec"], config["spec"]);
    assert_eq!(
        entries(&created),
        [json!({
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:name": {}
                    }}}
                }
            }}
        })]
    );
}

#[test]
fn apply_rejects_managed_fields_and_bad_configs() {
    let types = deployment_types();
    let mut with_managed = deployment(json!({}));
    with_managed["metadata"]["managedFields"] = json!([]);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "managedFields in the config",
            with_managed,
            "metadata.managedFields must be nil",
        ),
        (
            "not an object",
            json!([1]),
            "invalid apply configuration: the body must be a JSON or YAML object",
        ),
        (
            "no apiVersion",
            json!({"kind": "Deployment"}),
            "invalid apply configuration: apiVersion must be set",
        ),
        (
            "duplicate map-list keys",
            containers(json!([{"name": "a"}, {"name": "a"}])),
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): \
             .spec.template.spec.containers: duplicate entries for key [name=\"a\"]",
        ),
        (
            "map-list element without its key",
            containers(json!([{"image": "x"}])),
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): \
             .spec.template.spec.containers: element 0: associative list with keys has an element \
             that omits all key fields [\"name\"] (and doesn't have default values for any key fields)",
        ),
    ];
    for (name, config, message) in cases {
        let err = apply(None, &config, "m", false, None, &types, T0).unwrap_err();
        assert_eq!(err.to_string(), message, "{name}");
    }
}

/// One step of a multi-manager scenario.
enum Step {
    Apply {
        manager: &'static str,
        config: Value,
        force: bool,
    },
    Update {
        manager: &'static str,
        object: Value,
    },
}

struct Scenario {
    name: &'static str,
    steps: Vec<Step>,
    /// The outcome of the last step: the object's spec, or the error message.
    expected: Result<Value, &'static str>,
    /// Managers (`name/operation`) left in managedFields after the last step, if it succeeded.
    expected_managers: Vec<&'static str>,
}

fn run(scenario: Scenario, types: &dyn TypeInfo) {
    let mut live: Option<Value> = None;
    let last = scenario.steps.len() - 1;
    for (i, step) in scenario.steps.into_iter().enumerate() {
        let now = format!("2026-01-01T00:00:{i:02}Z");
        let result = match step {
            Step::Apply {
                manager,
                config,
                force,
            } => apply(live.as_ref(), &config, manager, force, None, types, &now),
            Step::Update {
                manager,
                mut object,
            } => {
                if let Some(managed) = live
                    .as_ref()
                    .and_then(|l| l["metadata"].get("managedFields"))
                {
                    object["metadata"]["managedFields"] = managed.clone();
                }
                record_update(
                    live.as_ref(),
                    &mut object,
                    manager,
                    "Update",
                    None,
                    types,
                    &now,
                );
                Ok(object)
            }
        };
        match (result, i == last) {
            (Ok(object), false) => live = Some(object),
            (Err(e), false) => panic!("{}: step {i} failed: {e}", scenario.name),
            (Ok(object), true) => {
                assert_eq!(
                    Ok(object["spec"].clone()),
                    scenario.expected.clone().map_err(|_| ""),
                    "{}",
                    scenario.name
                );
                let expected: Vec<String> = scenario
                    .expected_managers
                    .iter()
                    .map(|m| m.to_string())
                    .collect();
                let mut actual = managers(&object);
                actual.sort();
                let mut expected_sorted = expected.clone();
                expected_sorted.sort();
                assert_eq!(actual, expected_sorted, "{}: managers", scenario.name);
            }
            (Err(e), true) => {
                assert_eq!(
                    Err(e.to_string().as_str()),
                    scenario.expected.clone().map(|_| ""),
                    "{}",
                    scenario.name
                )
            }
        }
    }
}

#[test]
fn multi_manager_apply_scenarios() {
    let scenarios = vec![
        Scenario {
            name: "a field the applier no longer sets is removed",
            steps: vec![
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"replicas": 1, "paused": true})),
                    force: false,
                },
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"replicas": 1})),
                    force: false,
                },
            ],
            expected: Ok(json!({"replicas": 1})),
            expected_managers: vec!["a/Apply"],
        },
        Scenario {
            name: "a dropped field another applier also owns is kept",
            steps: vec![
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"replicas": 1, "paused": true})),
                    force: false,
                },
                Step::Apply {
                    manager: "b",
                    config: deployment(json!({"paused": true})),
                    force: false,
                },
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"replicas": 1})),
                    force: false,
                },
            ],
            expected: Ok(json!({"replicas": 1, "paused": true})),
            expected_managers: vec!["a/Apply", "b/Apply"],
        },
        Scenario {
            name: "two appliers keep their own containers",
            steps: vec![
                Step::Apply {
                    manager: "a",
                    config: containers(json!([{"name": "app", "image": "app:1"}])),
                    force: false,
                },
                Step::Apply {
                    manager: "b",
                    config: containers(json!([{"name": "sidecar", "image": "s:1"}])),
                    force: false,
                },
                Step::Apply {
                    manager: "a",
                    config: containers(json!([{"name": "app", "image": "app:2"}])),
                    force: false,
                },
            ],
            expected: Ok(json!({"template": {"spec": {"containers": [
                {"name": "app", "image": "app:2"},
                {"name": "sidecar", "image": "s:1"}
            ]}}})),
            expected_managers: vec!["a/Apply", "b/Apply"],
        },
        Scenario {
            name: "an applier dropping its container removes only that one",
            steps: vec![
                Step::Apply {
                    manager: "a",
                    config: containers(json!([{"name": "app", "image": "app:1"}])),
                    force: false,
                },
                Step::Apply {
                    manager: "b",
                    config: containers(json!([{"name": "sidecar", "image": "s:1"}])),
                    force: false,
                },
                Step::Apply {
                    manager: "b",
                    config: deployment(json!({"replicas": 3})),
                    force: false,
                },
            ],
            expected: Ok(json!({"replicas": 3, "template": {"spec": {"containers": [
                {"name": "app", "image": "app:1"}
            ]}}})),
            expected_managers: vec!["a/Apply", "b/Apply"],
        },
        Scenario {
            name: "equal values are shared without conflict",
            steps: vec![
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"replicas": 2})),
                    force: false,
                },
                Step::Apply {
                    manager: "b",
                    config: deployment(json!({"replicas": 2})),
                    force: false,
                },
            ],
            expected: Ok(json!({"replicas": 2})),
            expected_managers: vec!["a/Apply", "b/Apply"],
        },
        Scenario {
            name: "a different value owned by another applier conflicts",
            steps: vec![
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"replicas": 2})),
                    force: false,
                },
                Step::Apply {
                    manager: "b",
                    config: deployment(json!({"replicas": 5})),
                    force: false,
                },
            ],
            expected: Err("Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"),
            expected_managers: vec![],
        },
        Scenario {
            name: "force takes the field over",
            steps: vec![
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"replicas": 2, "paused": false})),
                    force: false,
                },
                Step::Apply {
                    manager: "b",
                    config: deployment(json!({"replicas": 5})),
                    force: true,
                },
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"paused": false})),
                    force: false,
                },
            ],
            // a no longer owns replicas, so dropping it from a's config leaves b's value.
            expected: Ok(json!({"replicas": 5, "paused": false})),
            expected_managers: vec!["a/Apply", "b/Apply"],
        },
        Scenario {
            name: "a field changed by an update conflicts with its updater",
            steps: vec![
                Step::Update {
                    manager: "kubectl-client-side-apply",
                    object: deployment(json!({"replicas": 1})),
                },
                Step::Apply {
                    manager: "my-operator",
                    config: deployment(json!({"replicas": 3})),
                    force: false,
                },
            ],
            expected: Err(
                "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas",
            ),
            expected_managers: vec![],
        },
        Scenario {
            name: "several conflicts are grouped by manager",
            steps: vec![
                Step::Apply {
                    manager: "b",
                    config: deployment(json!({"paused": true, "replicas": 1})),
                    force: false,
                },
                Step::Update {
                    manager: "a",
                    object: deployment(
                        json!({"paused": true, "replicas": 1, "minReadySeconds": 5}),
                    ),
                },
                Step::Apply {
                    manager: "c",
                    config: deployment(
                        json!({"paused": false, "replicas": 2, "minReadySeconds": 6}),
                    ),
                    force: false,
                },
            ],
            expected: Err(
                "Apply failed with 3 conflicts: conflicts with \"a\" using apps/v1:\n- .spec.minReadySeconds\n\
                 conflicts with \"b\":\n- .spec.paused\n- .spec.replicas",
            ),
            expected_managers: vec![],
        },
        Scenario {
            name: "an update takes fields from the applier, who then cannot drop them",
            steps: vec![
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"replicas": 1, "paused": true})),
                    force: false,
                },
                Step::Update {
                    manager: "hpa",
                    object: deployment(json!({"replicas": 4, "paused": true})),
                },
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"paused": true})),
                    force: false,
                },
            ],
            expected: Ok(json!({"replicas": 4, "paused": true})),
            expected_managers: vec!["a/Apply", "hpa/Update"],
        },
        Scenario {
            name: "an update that removes a field takes it from its owner",
            steps: vec![
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"paused": true})),
                    force: false,
                },
                Step::Update {
                    manager: "editor",
                    object: deployment(json!({"replicas": 1})),
                },
                Step::Apply {
                    manager: "a",
                    config: deployment(json!({"minReadySeconds": 1})),
                    force: false,
                },
            ],
            expected: Ok(json!({"replicas": 1, "minReadySeconds": 1})),
            expected_managers: vec!["a/Apply", "editor/Update"],
        },
    ];
    let types = deployment_types();
    for scenario in scenarios {
        run(scenario, &types);
    }
}

#[test]
fn conflicts_become_status_causes() {
    let types = deployment_types();
    let live = apply_ok(None, &deployment(json!({"replicas": 2})), "a", &types, T0);
    let mut updated = live.clone();
    updated["spec"]["paused"] = json!(true);
    record_update(
        Some(&live),
        &mut updated,
        "editor",
        "Update",
        None,
        &types,
        T1,
    );

    let err = apply(
        Some(&updated),
        &deployment(json!({"replicas": 3, "paused": false})),
        "b",
        false,
        None,
        &types,
        T2,
    )
    .unwrap_err();
    assert!(matches!(err, ApplyError::Conflicts(ref c) if c.len() == 2));
    assert_eq!(
        err.status_causes(),
        [
            json!({"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".spec.replicas"}),
            json!({"reason": "FieldManagerConflict", "message": "conflict with \"editor\" using apps/v1", "field": ".spec.paused"}),
        ]
    );
}

#[test]
fn an_unchanged_apply_keeps_the_time() {
    let types = deployment_types();
    let config = deployment(json!({"replicas": 2}));
    let first = apply_ok(None, &config, "a", &types, T0);
    let second = apply_ok(Some(&first), &config, "a", &types, T1);
    assert_eq!(second, first);
    let third = apply_ok(
        Some(&second),
        &deployment(json!({"replicas": 3})),
        "a",
        &types,
        T2,
    );
    assert_eq!(entry(&third, "a").unwrap()["time"], T2);
}

#[test]
fn objects_created_without_tracking_are_owned_before_first_apply() {
    let types = BuiltinTypes::for_kind("v1", "ConfigMap");
    let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "old"}});
    let err = apply(Some(&live), &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "new"}}), "m", false, None, &types, T0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.k"
    );
}

#[test]
fn kubectl_takes_over_what_client_side_apply_set() {
    let types = deployment_types();
    let mut object = deployment(json!({"replicas": 1}));
    object["metadata"]["annotations"] = json!({
        "kubectl.kubernetes.io/last-applied-configuration":
            deployment(json!({"replicas": 1})).to_string()
    });
    record_update(
        None,
        &mut object,
        "kubectl-client-side-apply",
        "Update",
        None,
        &types,
        T0,
    );

    let config = deployment(json!({"replicas": 2}));
    // Another manager would conflict ...
    assert!(apply(Some(&object), &config, "other", false, None, &types, T1).is_err());
    // ... but kubectl may take over what its client-side apply set, and refreshes the annotation.
    let applied = apply_ok(Some(&object), &config, "kubectl", &types, T1);
    assert_eq!(applied["spec"]["replicas"], 2);
    assert_eq!(
        applied["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        config.to_string()
    );
    let client_side = entry(&applied, "kubectl-client-side-apply").unwrap();
    assert_eq!(
        client_side["fieldsV1"]["f:spec"].get("f:replicas"),
        None,
        "replicas moved to kubectl"
    );
}

#[test]
fn status_subresource_entries_are_marked_and_own_only_status() {
    let schema = json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
        "status": {"type": "object", "properties": {
            "phase": {"type": "string"},
            "conditions": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {"type": "object", "properties": {"type": {"type": "string"}, "status": {"type": "string"}}}}
        }}
    }});
    let types = SchemaTypes::new(&schema);
    let widget = |rest: Value| {
        let mut object =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
        object
            .as_object_mut()
            .unwrap()
            .extend(rest.as_object().unwrap().clone());
        object
    };
    let live = apply_ok(
        None,
        &widget(json!({"spec": {"size": 1}})),
        "user",
        &types,
        T0,
    );

    let status = widget(
        json!({"status": {"phase": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    let applied = apply(
        Some(&live),
        &status,
        "controller",
        true,
        Some("status"),
        &types,
        T1,
    )
    .unwrap();
    let controller = entry(&applied, "controller").unwrap();
    assert_eq!(controller["subresource"], "status");
    assert_eq!(
        controller["fieldsV1"],
        json!({"f:status": {"f:phase": {}, "f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}}})
    );

    let mut updated = applied.clone();
    updated["status"]["phase"] = json!("Degraded");
    record_update(
        Some(&applied),
        &mut updated,
        "operator",
        "Update",
        Some("status"),
        &types,
        T2,
    );
    let operator = entry(&updated, "operator").unwrap();
    assert_eq!(operator["subresource"], "status");
    assert_eq!(operator["fieldsV1"], json!({"f:status": {"f:phase": {}}}));
    assert_eq!(
        entry(&updated, "controller").unwrap()["fieldsV1"]["f:status"].get("f:phase"),
        None,
        "the updater took .status.phase"
    );
}

#[test]
fn record_update_tracks_creates_and_leaves_untracked_objects_alone() {
    let types = BuiltinTypes::for_kind("v1", "ConfigMap");
    let configmap = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app": "x"}}, "data": data});

    let mut created = configmap(json!({"a": "1"}));
    record_update(None, &mut created, "", "Update", None, &types, T0);
    assert_eq!(
        entries(&created),
        [json!({
            "manager": "unknown", "operation": "Update", "apiVersion": "v1", "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
        })]
    );

    // A later update by someone else with a stale (absent) managedFields keeps the stored ones.
    let mut updated = configmap(json!({"a": "1", "b": "2"}));
    record_update(
        Some(&created),
        &mut updated,
        "editor",
        "Update",
        None,
        &types,
        T1,
    );
    assert_eq!(managers(&updated), ["unknown/Update", "editor/Update"]);
    assert_eq!(
        entry(&updated, "editor").unwrap()["fieldsV1"],
        json!({"f:data": {"f:b": {}}})
    );

    // An empty managedFields list in the request clears tracking.
    let mut reset = updated.clone();
    reset["metadata"]["managedFields"] = json!([]);
    record_update(
        Some(&updated),
        &mut reset,
        "editor",
        "Update",
        None,
        &types,
        T2,
    );
    assert!(reset["metadata"].get("managedFields").is_none());

    // And an object without managedFields stays untracked on update.
    let mut again = configmap(json!({"a": "2"}));
    record_update(
        Some(&reset),
        &mut again,
        "editor",
        "Update",
        None,
        &types,
        T2,
    );
    assert!(again["metadata"].get("managedFields").is_none());
}

#[test]
fn at_most_ten_update_managers_are_kept() {
    let types = BuiltinTypes::for_kind("v1", "ConfigMap");
    let mut object =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    record_update(
        None,
        &mut object,
        "creator",
        "Update",
        None,
        &types,
        "2026-01-01T00:00:00Z",
    );
    for i in 0..12 {
        let mut next = object.clone();
        next["data"][format!("k{i}")] = json!("v");
        let now = format!("2026-01-01T00:01:{i:02}Z");
        record_update(
            Some(&object),
            &mut next,
            &format!("writer-{i:02}"),
            "Update",
            None,
            &types,
            &now,
        );
        object = next;
    }
    let names = managers(&object);
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(
        names.contains(&"ancient-changes/Update".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"writer-11/Update".to_owned()));
    assert!(!names.contains(&"writer-00/Update".to_owned()));
}

#[test]
fn custom_resources_with_unknown_shape_merge_maps_and_replace_lists() {
    let types =
        SchemaTypes::new(&json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    let cr = |spec: Value| json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec});
    let live = apply_ok(
        None,
        &cr(json!({"a": {"x": 1}, "list": [1, 2]})),
        "one",
        &types,
        T0,
    );
    let merged = apply_ok(Some(&live), &cr(json!({"a": {"y": 2}})), "two", &types, T1);
    assert_eq!(
        merged["spec"],
        json!({"a": {"x": 1, "y": 2}, "list": [1, 2]})
    );
    let err = apply(
        Some(&merged),
        &cr(json!({"list": [3]})),
        "two",
        false,
        None,
        &types,
        T2,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"one\": .spec.list"
    );
    assert_eq!(
        entry(&merged, "two").unwrap()["fieldsV1"],
        json!({"f:spec": {".": {}, "f:a": {".": {}, "f:y": {}}}}),
        "untyped maps own their entries"
    );
}

#[test]
fn a_null_in_the_config_clears_the_field_and_conflicts_like_a_change() {
    let types = deployment_types();
    let live = apply_ok(
        None,
        &deployment(json!({"replicas": 2, "paused": true})),
        "a",
        &types,
        T0,
    );
    let cleared = deployment(json!({"replicas": null}));
    let err = apply(Some(&live), &cleared, "b", false, None, &types, T1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
    );

    let forced = apply(Some(&live), &cleared, "b", true, None, &types, T1).unwrap();
    assert_eq!(forced["spec"], json!({"paused": true}));
    assert_eq!(
        entry(&forced, "b").unwrap()["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
}

#[test]
fn updaters_of_builtin_kinds_own_what_the_real_server_records() {
    // Built-in objects are Go structs upstream: structs held by value and fields without
    // omitempty are always there, so they never show up as added containers (no "." marker),
    // while maps, pointers and new list elements do.
    let types = deployment_types();
    let mut object = deployment(json!({
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{
                "name": "nginx",
                "image": "nginx",
                "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": "1"}}
            }]}
        }
    }));
    object["metadata"]["labels"] = json!({"app": "web"});
    record_update(
        None,
        &mut object,
        "kubectl-create",
        "Update",
        None,
        &types,
        T0,
    );
    assert_eq!(
        entry(&object, "kubectl-create").unwrap()["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}, "f:type": {}},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {
                            ".": {},
                            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}
                        },
                        "f:resources": {".": {}, "f:limits": {".": {}, "f:cpu": {}}}
                    }}}
                }
            }
        })
    );
}

#[test]
fn appliers_own_their_own_set_elements() {
    let types = deployment_types();
    let bare = || {
        let mut object = deployment(json!({}));
        object.as_object_mut().unwrap().remove("spec");
        object
    };
    let with_finalizers = |finalizers: Value| {
        let mut object = bare();
        object["metadata"]["finalizers"] = finalizers;
        object
    };
    let live = apply_ok(
        None,
        &with_finalizers(json!(["a.example/x"])),
        "a",
        &types,
        T0,
    );
    let live = apply_ok(
        Some(&live),
        &with_finalizers(json!(["b.example/y"])),
        "b",
        &types,
        T1,
    );
    assert_eq!(
        live["metadata"]["finalizers"],
        json!(["a.example/x", "b.example/y"])
    );
    assert_eq!(
        entry(&live, "b").unwrap()["fieldsV1"],
        json!({"f:metadata": {"f:finalizers": {"v:\"b.example/y\"": {}}}})
    );
    let live = apply_ok(Some(&live), &bare(), "a", &types, T2);
    assert_eq!(live["metadata"]["finalizers"], json!(["b.example/y"]));
    assert_eq!(managers(&live), ["b/Apply"], "a owns nothing any more");
}

#[test]
fn managers_default_to_the_user_agent_prefix() {
    use server_side_apply::manager_or_user_agent;
    let cases = [
        (Some("helm"), "Helm/3.15.0", "helm"),
        (
            None,
            "kubectl/v1.33.0 (linux/amd64) kubernetes/abcdef",
            "kubectl",
        ),
        (Some(""), "kube-rs/1.0", "kube-rs"),
        (None, "", ""),
    ];
    for (field_manager, user_agent, expected) in cases {
        assert_eq!(manager_or_user_agent(field_manager, user_agent), expected);
    }
    assert_eq!(manager_or_user_agent(None, &"x".repeat(300)).len(), 128);
}

#[test]
fn unreadable_managed_fields_fail_apply_but_not_updates() {
    let types = BuiltinTypes::for_kind("v1", "ConfigMap");
    let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    live["metadata"]["managedFields"] = json!([{"manager": "m", "operation": "Sideways", "apiVersion": "v1", "fieldsType": "FieldsV1"}]);
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
    let err = apply(Some(&live), &config, "m", false, None, &types, T0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to decode managed fields: operation must be `Apply` or `Update`"
    );

    let mut updated = live.clone();
    updated["data"]["a"] = json!("3");
    record_update(
        Some(&live),
        &mut updated,
        "editor",
        "Update",
        None,
        &types,
        T1,
    );
    assert!(
        updated["metadata"].get("managedFields").is_none(),
        "untracked from now on"
    );
}

/// A custom resource shaped like the operator's: map-lists keyed by `name` in spec and
/// status, conditions keyed by `type`, and a plain object in status.
fn pool_types() -> SchemaTypes {
    let named = json!({"type": "array", "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "phase": {"type": "string"}}}});
    SchemaTypes::new(&json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "maxCount": {"type": "integer"},
            "members": named,
            "limits": {"type": "object", "properties": {"cpu": {"type": "string"}}}
        }},
        "status": {"type": "object", "properties": {
            "agents": named,
            "conditions": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {"type": "object", "required": ["type"], "properties": {
                    "type": {"type": "string"}, "status": {"type": "string"}}}},
            "summary": {"type": "object", "properties": {
                "ready": {"type": "integer"}, "waiting": {"type": "integer"}}}
        }}
    }}))
}

fn pool(rest: Value) -> Value {
    let mut object = json!({"apiVersion": "gastown.io/v1alpha1", "kind": "AgentPool",
        "metadata": {"name": "p", "namespace": "gt"}});
    object
        .as_object_mut()
        .unwrap()
        .extend(rest.as_object().unwrap().clone());
    object
}

/// The pool as a user creates it (a plain create, as kube-rs `Api::create` does).
fn created_pool(types: &dyn TypeInfo) -> Value {
    let mut object = pool(json!({"spec": {"maxCount": 2}}));
    record_update(None, &mut object, "kube-rs", "Update", None, types, T0);
    object
}

fn apply_status(live: &Value, status: Value, types: &dyn TypeInfo, now: &str) -> Value {
    let config = pool(json!({ "status": status }));
    apply(
        Some(live),
        &config,
        "gastown-operator",
        true,
        Some("status"),
        types,
        now,
    )
    .unwrap_or_else(|e| panic!("status apply failed: {e}"))
}

#[test]
fn applying_less_status_removes_what_the_applier_no_longer_sends() {
    let types = pool_types();
    let live = created_pool(&types);
    let first = apply_status(
        &live,
        json!({
            "agents": [{"name": "a", "phase": "Running"}, {"name": "b", "phase": "Running"}],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Scaling", "status": "True"}],
            "summary": {"ready": 2, "waiting": 0}
        }),
        &types,
        T1,
    );
    let second = apply_status(
        &first,
        json!({
            "agents": [{"name": "b", "phase": "Running"}],
            "conditions": [{"type": "Ready", "status": "True"}]
        }),
        &types,
        T2,
    );
    assert_eq!(
        second["status"],
        json!({
            "agents": [{"name": "b", "phase": "Running"}],
            "conditions": [{"type": "Ready", "status": "True"}]
        })
    );
    assert_eq!(second["spec"], json!({"maxCount": 2}), "spec is untouched");
    let operator = entry(&second, "gastown-operator").unwrap();
    assert_eq!(operator["subresource"], "status");
    assert_eq!(operator["time"], T2);
    assert_eq!(
        operator["fieldsV1"],
        json!({"f:status": {
            "f:agents": {"k:{\"name\":\"b\"}": {".": {}, "f:name": {}, "f:phase": {}}},
            "f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}
        }})
    );
    assert_eq!(
        managers(&second),
        ["gastown-operator/Apply", "kube-rs/Update"],
        "one entry per manager, the creator's untouched"
    );

    let third = apply_status(
        &second,
        second["status"].clone(),
        &types,
        "2026-01-01T00:03:00Z",
    );
    assert_eq!(
        third, second,
        "the shrunk status applied again changes nothing"
    );
}

#[test]
fn applying_less_spec_removes_what_the_applier_no_longer_sends() {
    let types = pool_types();
    let apply_spec = |live: Option<&Value>, spec: Value, now: &str| {
        apply(
            live,
            &pool(json!({ "spec": spec })),
            "gastown-operator",
            true,
            None,
            &types,
            now,
        )
        .unwrap()
    };
    let first = apply_spec(
        None,
        json!({"maxCount": 2, "members": [{"name": "a"}, {"name": "b"}], "limits": {"cpu": "1"}}),
        T0,
    );
    let second = apply_spec(Some(&first), json!({"members": [{"name": "b"}]}), T1);
    assert_eq!(second["spec"], json!({"members": [{"name": "b"}]}));
    assert_eq!(
        entry(&second, "gastown-operator").unwrap()["fieldsV1"],
        json!({"f:spec": {"f:members": {"k:{\"name\":\"b\"}": {".": {}, "f:name": {}}}}})
    );
}

#[test]
fn a_controller_applying_the_same_status_changes_nothing() {
    let types = pool_types();
    let status = json!({
        "agents": [{"name": "a", "phase": "Running"}],
        "conditions": [{"type": "Ready", "status": "True"}],
        "summary": {"ready": 1, "waiting": 0}
    });
    let first = apply_status(&created_pool(&types), status.clone(), &types, T1);
    let second = apply_status(&first, status.clone(), &types, T2);
    assert_eq!(
        second, first,
        "nothing to write, managedFields time included"
    );
    assert_eq!(entry(&second, "gastown-operator").unwrap()["time"], T1);
}

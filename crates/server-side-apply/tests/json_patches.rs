//! JSON merge patch and JSON patch, as the API server exposes them.

use serde_json::{Value, json};
use server_side_apply::{PatchError, json_merge_patch, json_patch};

#[test]
fn json_merge_patch_follows_rfc_7386() {
    let cases = [
        (
            json!({"a": 1, "b": {"c": 2}}),
            json!({"b": {"c": null, "d": 3}}),
            json!({"a": 1, "b": {"d": 3}}),
        ),
        (
            json!({"list": [1, 2]}),
            json!({"list": [3]}),
            json!({"list": [3]}),
        ),
        (json!({"a": 1}), json!({"a": null}), json!({})),
    ];
    for (mut target, patch, expected) in cases {
        json_merge_patch(&mut target, &patch);
        assert_eq!(target, expected);
    }
}

#[test]
fn json_patch_applies_all_or_nothing() {
    let mut target = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}});
    json_patch(
        &mut target,
        &json!([
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "test", "path": "/metadata/labels/a", "value": "1"}
        ]),
    )
    .unwrap();
    assert_eq!(
        target,
        json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 3}})
    );

    let before = target.clone();
    let failing = json!([
        {"op": "replace", "path": "/spec/replicas", "value": 9},
        {"op": "test", "path": "/spec/replicas", "value": 1}
    ]);
    let err = json_patch(&mut target, &failing).unwrap_err();
    assert!(matches!(err, PatchError::JsonPatchApply(_)), "{err:?}");
    assert_eq!((err.http_status(), err.reason()), (422, "Invalid"));
    assert_eq!(target, before, "a failed patch changes nothing");
}

#[test]
fn malformed_json_patches_are_bad_requests() {
    let cases: [Value; 3] = [
        json!({"op": "add"}),
        json!([{"op": "explode", "path": "/a"}]),
        json!([{"path": "/a"}]),
    ];
    for patch in cases {
        let err = json_patch(&mut json!({}), &patch).unwrap_err();
        assert!(
            matches!(err, PatchError::JsonPatchDecode(_)),
            "{patch}: {err:?}"
        );
        assert_eq!(err.http_status(), 400);
    }
    let too_many: Vec<Value> = (0..10_001)
        .map(|_| json!({"op": "test", "path": "", "value": {}}))
        .collect();
    let err = json_patch(&mut json!({}), &Value::Array(too_many)).unwrap_err();
    assert_eq!(err, PatchError::TooManyOperations(10_001));
    assert_eq!(err.http_status(), 413);
}

/// kube-runtime's `finalizer()` adds the first finalizer with exactly this patch.
fn kube_runtime_first_finalizer_patch() -> Value {
    json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["gastown.io/cleanup"]}
    ])
}

#[test]
fn kube_runtime_adds_the_first_finalizer() {
    let mut object = json!({"metadata": {"name": "town", "namespace": "gt"}});
    json_patch(&mut object, &kube_runtime_first_finalizer_patch()).unwrap();
    assert_eq!(
        object,
        json!({"metadata": {"name": "town", "namespace": "gt", "finalizers": ["gastown.io/cleanup"]}})
    );

    // Someone else added a finalizer in between: the guard must fail, as upstream's does.
    let mut object = json!({"metadata": {"name": "town", "finalizers": ["other"]}});
    let before = object.clone();
    let err = json_patch(&mut object, &kube_runtime_first_finalizer_patch()).unwrap_err();
    assert_eq!((err.http_status(), err.reason()), (422, "Invalid"), "{err}");
    assert_eq!(object, before);
}

/// `test` as kube-apiserver runs it (evanphx/json-patch v4): an absent member of an existing
/// object reads as `null`; everything else is plain RFC 6902.
#[test]
fn test_operation_reads_an_absent_object_member_as_null() {
    let document = json!({"metadata": {"labels": {"a": "1"}, "note": null}, "items": [1, null]});
    let passes = [
        json!({"op": "test", "path": "/metadata/finalizers", "value": null}),
        json!({"op": "test", "path": "/metadata/labels/b", "value": null}),
        json!({"op": "test", "path": "/spec", "value": null}),
        json!({"op": "test", "path": "/metadata/note", "value": null}),
        json!({"op": "test", "path": "/items/1", "value": null}),
        json!({"op": "test", "path": "/metadata/labels/a", "value": "1"}),
        json!({"op": "test", "path": "/metadata/labels", "value": {"a": "1"}}),
    ];
    for operation in passes {
        let mut target = document.clone();
        json_patch(&mut target, &json!([operation])).unwrap_or_else(|e| panic!("{operation}: {e}"));
        assert_eq!(target, document);
    }
    let failures = [
        // Absent is null only: it equals nothing else.
        json!({"op": "test", "path": "/metadata/finalizers", "value": []}),
        json!({"op": "test", "path": "/metadata/labels/b", "value": ""}),
        // A present value is not null.
        json!({"op": "test", "path": "/metadata/labels/a", "value": null}),
        json!({"op": "test", "path": "/metadata/labels", "value": null}),
        // The parent must exist and be an object.
        json!({"op": "test", "path": "/spec/replicas", "value": null}),
        json!({"op": "test", "path": "/metadata/labels/a/deeper", "value": null}),
        // Array indexes past the end stay invalid.
        json!({"op": "test", "path": "/items/2", "value": null}),
        json!({"op": "test", "path": "/items/-", "value": null}),
        // The whole document is never null.
        json!({"op": "test", "path": "", "value": null}),
    ];
    for operation in failures {
        let mut target = document.clone();
        let err = json_patch(&mut target, &json!([operation])).unwrap_err();
        assert!(
            matches!(err, PatchError::JsonPatchApply(_)),
            "{operation}: {err:?}"
        );
        assert_eq!(target, document, "{operation}");
    }
}

#[test]
fn test_operations_see_what_earlier_operations_did() {
    let mut target = json!({"spec": {"a": 1, "b": 2}});
    json_patch(
        &mut target,
        &json!([
            {"op": "remove", "path": "/spec/a"},
            {"op": "test", "path": "/spec/a", "value": null},
            {"op": "add", "path": "/spec/c", "value": 3},
            {"op": "test", "path": "/spec/c", "value": 3}
        ]),
    )
    .unwrap();
    assert_eq!(target, json!({"spec": {"b": 2, "c": 3}}));

    let before = target.clone();
    let err = json_patch(
        &mut target,
        &json!([
            {"op": "add", "path": "/spec/a", "value": 1},
            {"op": "test", "path": "/spec/a", "value": null}
        ]),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "operation '/1' failed at path '/spec/a': value did not match"
    );
    assert_eq!(target, before, "the add before the failed test is undone");
}

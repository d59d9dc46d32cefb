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

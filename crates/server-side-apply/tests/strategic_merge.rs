//! Strategic merge patch on built-in kinds, table-driven.

use serde_json::{Value, json};
use server_side_apply::{
    BuiltinTypes, PatchError, SchemaTypes, strategic_merge_patch, strategic_merge_supported,
};

struct Case {
    name: &'static str,
    api_version: &'static str,
    kind: &'static str,
    original: Value,
    patch: Value,
    expected: Value,
}

fn pod_spec(spec: Value) -> Value {
    json!({"spec": {"template": {"spec": spec}}})
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "containers merge by name, other containers stay",
            api_version: "apps/v1",
            kind: "Deployment",
            original: pod_spec(json!({"containers": [
                {"name": "app", "image": "app:1"},
                {"name": "sidecar", "image": "sidecar:1"}
            ]})),
            patch: pod_spec(json!({"containers": [{"name": "app", "image": "app:2"}]})),
            expected: pod_spec(json!({"containers": [
                {"name": "app", "image": "app:2"},
                {"name": "sidecar", "image": "sidecar:1"}
            ]})),
        },
        Case {
            name: "a new container goes first, as upstream orders patch items without an order directive",
            api_version: "apps/v1",
            kind: "Deployment",
            original: pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]})),
            patch: pod_spec(json!({"containers": [{"name": "c"}]})),
            expected: pod_spec(
                json!({"containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}),
            ),
        },
        Case {
            name: "$setElementOrder orders the merged list",
            api_version: "apps/v1",
            kind: "Deployment",
            original: pod_spec(
                json!({"containers": [{"name": "a", "image": "a:1"}, {"name": "b"}]}),
            ),
            patch: pod_spec(json!({
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}, {"name": "c"}],
                "containers": [{"name": "a", "image": "a:2"}, {"name": "c"}]
            })),
            expected: pod_spec(json!({"containers": [
                {"name": "b"}, {"name": "a", "image": "a:2"}, {"name": "c"}
            ]})),
        },
        Case {
            name: "env merges by name inside a container; $patch: delete removes an element",
            api_version: "apps/v1",
            kind: "Deployment",
            original: pod_spec(json!({"containers": [{"name": "app", "env": [
                {"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}
            ]}]})),
            patch: pod_spec(json!({"containers": [{"name": "app", "env": [
                {"name": "B", "value": "20"}, {"name": "C", "$patch": "delete"}
            ]}]})),
            expected: pod_spec(json!({"containers": [{"name": "app", "env": [
                {"name": "A", "value": "1"}, {"name": "B", "value": "20"}
            ]}]})),
        },
        Case {
            name: "ports merge by containerPort",
            api_version: "v1",
            kind: "Pod",
            original: json!({"spec": {"containers": [{"name": "app", "ports": [
                {"containerPort": 80, "name": "http"}, {"containerPort": 443}
            ]}]}}),
            patch: json!({"spec": {"containers": [{"name": "app", "ports": [
                {"containerPort": 443, "name": "https"}
            ]}]}}),
            expected: json!({"spec": {"containers": [{"name": "app", "ports": [
                {"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}
            ]}]}}),
        },
        Case {
            name: "volumes by name and volumeMounts by mountPath",
            api_version: "apps/v1",
            kind: "StatefulSet",
            original: pod_spec(json!({
                "volumes": [{"name": "data", "emptyDir": {}}],
                "containers": [{"name": "app", "volumeMounts": [{"mountPath": "/data", "name": "data"}]}]
            })),
            patch: pod_spec(json!({
                "volumes": [{"name": "config", "configMap": {"name": "cfg"}}],
                "containers": [{"name": "app", "volumeMounts": [
                    {"mountPath": "/data", "readOnly": true}, {"mountPath": "/etc/cfg", "name": "config"}
                ]}]
            })),
            expected: pod_spec(json!({
                "volumes": [{"name": "config", "configMap": {"name": "cfg"}}, {"name": "data", "emptyDir": {}}],
                "containers": [{"name": "app", "volumeMounts": [
                    {"mountPath": "/data", "name": "data", "readOnly": true},
                    {"mountPath": "/etc/cfg", "name": "config"}
                ]}]
            })),
        },
        Case {
            name: "atomic lists (args) are replaced",
            api_version: "apps/v1",
            kind: "Deployment",
            original: pod_spec(json!({"containers": [{"name": "app", "args": ["a", "b"]}]})),
            patch: pod_spec(json!({"containers": [{"name": "app", "args": ["c"]}]})),
            expected: pod_spec(json!({"containers": [{"name": "app", "args": ["c"]}]})),
        },
        Case {
            name: "finalizers merge as a set",
            api_version: "v1",
            kind: "ConfigMap",
            original: json!({"metadata": {"finalizers": ["a", "b"]}}),
            patch: json!({"metadata": {"finalizers": ["b", "c"]}}),
            expected: json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
        },
        Case {
            name: "$deleteFromPrimitiveList removes set elements",
            api_version: "v1",
            kind: "ConfigMap",
            original: json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            patch: json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "c"]}}),
            expected: json!({"metadata": {"finalizers": ["b"]}}),
        },
        Case {
            name: "null deletes a key; nulls inside new values are dropped",
            api_version: "v1",
            kind: "ConfigMap",
            original: json!({"metadata": {"labels": {"app": "x", "tier": "web"}}, "data": {"k": "v"}}),
            patch: json!({"metadata": {"labels": {"app": null, "missing": null}}, "binaryData": {"b": null, "c": "Yw=="}}),
            expected: json!({"metadata": {"labels": {"tier": "web"}}, "data": {"k": "v"}, "binaryData": {"c": "Yw=="}}),
        },
        Case {
            name: "$patch: replace on a map replaces it",
            api_version: "v1",
            kind: "ConfigMap",
            original: json!({"data": {"a": "1", "b": "2"}}),
            patch: json!({"data": {"$patch": "replace", "c": "3"}}),
            expected: json!({"data": {"c": "3"}}),
        },
        Case {
            name: "$patch: delete on a map empties it",
            api_version: "v1",
            kind: "ConfigMap",
            original: json!({"data": {"a": "1"}, "immutable": false}),
            patch: json!({"data": {"$patch": "delete"}}),
            expected: json!({"data": {}, "immutable": false}),
        },
        Case {
            name: "$patch: replace in a list replaces the list",
            api_version: "apps/v1",
            kind: "Deployment",
            original: pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]})),
            patch: pod_spec(
                json!({"containers": [{"name": "c", "image": "c"}, {"$patch": "replace"}]}),
            ),
            expected: pod_spec(json!({"containers": [{"name": "c", "image": "c"}]})),
        },
        Case {
            name: "$retainKeys clears the keys it does not list",
            api_version: "apps/v1",
            kind: "Deployment",
            original: json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}),
            patch: json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            expected: json!({"spec": {"strategy": {"type": "Recreate"}}}),
        },
        Case {
            name: "service ports merge by port",
            api_version: "v1",
            kind: "Service",
            original: json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
            patch: json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
            expected: json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}),
        },
        Case {
            name: "ownerReferences merge by uid",
            api_version: "v1",
            kind: "Secret",
            original: json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}}),
            patch: json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}}),
            expected: json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}, {"uid": "1", "name": "a"}]}}),
        },
        Case {
            name: "rbac subjects are atomic",
            api_version: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            original: json!({"subjects": [{"kind": "User", "name": "a"}]}),
            patch: json!({"subjects": [{"kind": "User", "name": "b"}]}),
            expected: json!({"subjects": [{"kind": "User", "name": "b"}]}),
        },
        Case {
            name: "a list appearing for the first time is taken without directives",
            api_version: "apps/v1",
            kind: "Deployment",
            original: pod_spec(json!({})),
            patch: pod_spec(
                json!({"initContainers": [{"name": "init"}, {"name": "gone", "$patch": "delete"}]}),
            ),
            expected: pod_spec(json!({"initContainers": [{"name": "init"}]})),
        },
    ]
}

#[test]
fn strategic_merge_patch_table() {
    for case in cases() {
        let types = BuiltinTypes::for_kind(case.api_version, case.kind);
        let result = strategic_merge_patch(&case.original, &case.patch, &types)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(result, case.expected, "{}", case.name);
    }
}

#[test]
fn strategic_merge_errors_carry_upstream_messages() {
    let deployment = BuiltinTypes::for_kind("apps/v1", "Deployment");
    let cases: Vec<(&str, Value, Value, PatchError)> = vec![
        (
            "merge key missing",
            pod_spec(json!({"containers": [{"name": "a"}]})),
            pod_spec(json!({"containers": [{"image": "x"}]})),
            PatchError::StrategicMerge(
                "map: map[image:x] does not contain declared merge key: name".into(),
            ),
        ),
        (
            "unknown directive",
            json!({"spec": {}}),
            json!({"spec": {"$patch": "explode"}}),
            PatchError::StrategicMerge(
                "unknown patch type: explode in map: map[$patch:explode]".into(),
            ),
        ),
        (
            "retainKeys that do not cover the patch",
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
            PatchError::BadPatchFormatForRetainKeys,
        ),
        (
            "lists of lists",
            pod_spec(json!({"containers": [{"name": "a", "ports": [[1]]}]})),
            pod_spec(json!({"containers": [{"name": "a", "ports": [[2]]}]})),
            PatchError::NoListOfLists,
        ),
        (
            "a patch that is not an object",
            json!({}),
            json!([1]),
            PatchError::InvalidDocument,
        ),
    ];
    for (name, original, patch, expected) in cases {
        let err = strategic_merge_patch(&original, &patch, &deployment).unwrap_err();
        assert_eq!(err, expected, "{name}");
    }
    assert_eq!(PatchError::BadPatchFormatForRetainKeys.http_status(), 400);
}

#[test]
fn custom_resources_refuse_strategic_merge_with_415() {
    let types = SchemaTypes::new(&json!({"type": "object"}));
    assert!(!strategic_merge_supported(&types));
    let err = strategic_merge_patch(&json!({}), &json!({}), &types).unwrap_err();
    assert_eq!(err, PatchError::StrategicMergeUnsupported);
    assert_eq!(
        (err.http_status(), err.reason()),
        (415, "UnsupportedMediaType")
    );
    assert!(strategic_merge_supported(&BuiltinTypes::for_kind(
        "apps/v1",
        "Deployment"
    )));
}

/// The shape of upstream's strategic-merge test type: `mergingList` merges by `name`,
/// `mergingIntList` is a merged primitive list.
struct MergeItem;

impl server_side_apply::TypeInfo for MergeItem {
    fn list_type(&self, path: &[&str]) -> server_side_apply::ListType {
        match path.last() {
            Some(&"mergingList") => server_side_apply::ListType::Map(vec!["name".into()]),
            Some(&"mergingIntList") => server_side_apply::ListType::Set,
            _ => server_side_apply::ListType::Atomic,
        }
    }

    fn supports_strategic_merge(&self) -> bool {
        true
    }
}

#[test]
fn element_order_directives_match_upstream_vectors() {
    // (current, three-way patch, result) from the apimachinery strategic-merge test suite.
    let cases = [
        (
            json!({"mergingIntList": [1, 4, 2]}),
            json!({"$setElementOrder/mergingIntList": [3, 1, 2], "mergingIntList": [3]}),
            json!({"mergingIntList": [3, 1, 4, 2]}),
        ),
        (
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"$setElementOrder/mergingIntList": [2, 1], "$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [2, 1]}),
        ),
        (
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 3}, {"name": 1}, {"name": 2}],
                "mergingList": [{"name": 3, "value": 3}]
            }),
            json!({"mergingList": [
                {"name": 3, "value": 3}, {"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}
            ]}),
        ),
        (
            json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
            json!({
                "$setElementOrder/mergingList": [{"name": 1}, {"name": 4}, {"name": 2}, {"name": 3}],
                "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}]
            }),
            json!({"mergingList": [
                {"name": 1, "other": "a"}, {"name": 4, "value": 4},
                {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3}
            ]}),
        ),
    ];
    for (current, patch, expected) in cases {
        let result = strategic_merge_patch(&current, &patch, &MergeItem).unwrap();
        assert_eq!(result, expected, "{patch}");
    }
}

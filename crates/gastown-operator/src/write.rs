//! Writes to the API server, each skipped when it would change nothing.
//!
//! Every object is applied with server-side apply under the operator's one
//! field manager, but only after the cached observed object has been compared
//! with the desired one ([`crate::drift::is_subset`]); deletions skip objects
//! that are gone or already terminating. A reconcile that finds everything
//! right therefore sends no write.

use std::fmt::Debug;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::drift;
use crate::error::{Error, Result};
use crate::naming::FIELD_MANAGER;
use crate::status_ledger::StatusLedger;

/// What [`apply`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Applied,
    /// The object is being deleted and was left alone: its replacement is
    /// applied once it is gone (the deletion's watch event brings the
    /// reconcile that does it).
    Terminating,
}

fn describe<K: Resource<DynamicType = ()>>(object: &K) -> String {
    let kind = K::kind(&());
    match object.meta().namespace.as_deref() {
        Some(namespace) => format!("{kind} {namespace}/{}", object.name_any()),
        None => format!("{kind} {}", object.name_any()),
    }
}

/// Annotation carrying a hash of the configuration the operator last applied
/// to an object. A field the operator stops setting (an optional field
/// removed from the spec: the last crew member of a rig, say) leaves the
/// observed object a superset of the desired one, which comparing fields
/// alone cannot tell from "in sync"; the hash can.
pub const APPLIED_HASH_ANNOTATION: &str = "gastown.io/applied-hash";

/// FNV-1a over `bytes`, as 16 hex digits: stable across runs and builds.
fn fnv_hex(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf29ce484222325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x100000001b3)
    });
    format!("{hash:016x}")
}

/// `desired` carrying the hash of itself in [`APPLIED_HASH_ANNOTATION`].
pub fn stamped<K: Resource + Serialize + Clone>(desired: &K) -> K {
    let mut stamped = desired.clone();
    stamped.annotations_mut().remove(APPLIED_HASH_ANNOTATION);
    let json = serde_json::to_vec(&stamped).unwrap_or_default();
    stamped
        .annotations_mut()
        .insert(APPLIED_HASH_ANNOTATION.to_string(), fnv_hex(&json));
    stamped
}

/// Whether `observed` already holds everything `stamped` (a [`stamped`]
/// desired object) sets, its applied hash included (finalizers read as a set).
fn holds<K: Serialize>(stamped: &K, observed: &K) -> bool {
    match (
        serde_json::to_value(stamped),
        serde_json::to_value(observed),
    ) {
        (Ok(desired), Ok(observed)) => drift::object_is_subset(&desired, &observed),
        _ => false,
    }
}

/// Whether `observed` is `desired` as the operator last applied it, and
/// still holds everything it sets.
pub fn in_sync<K: Resource + Serialize + Clone>(desired: &K, observed: &K) -> bool {
    holds(&stamped(desired), observed)
}

/// Server-side applies `desired` through `api` (namespaced for namespaced
/// kinds) unless `observed` already matches it or is being deleted.
///
/// An object being deleted is never applied to: it is going away, and the
/// Rigs and AgentPools the operator creates name their controller's finalizer
/// in the applied configuration. Once that controller's update has removed
/// the finalizer, no manager owns it any more (an update drops the fields it
/// removes from every manager), so a later apply naming it would add it
/// anew, which the API server refuses on an object being deleted.
pub async fn apply<K>(api: &Api<K>, observed: Option<&K>, desired: &K) -> Result<Outcome>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    if observed.is_some_and(|observed| observed.meta().deletion_timestamp.is_some()) {
        return Ok(Outcome::Terminating);
    }
    let desired = stamped(desired);
    if observed.is_some_and(|observed| holds(&desired, observed)) {
        return Ok(Outcome::Unchanged);
    }
    api.patch(
        &desired.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&desired),
    )
    .await
    .map_err(|e| Error::kube(format!("apply {}", describe(&desired)), e))?;
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

/// Writes `status` to the object's status subresource unless it equals
/// `current` (the status as [`StatusLedger::current`] tells it), and notes
/// the write in `ledger`.
pub async fn patch_status<K, S>(
    api: &Api<K>,
    ledger: &StatusLedger,
    object: &K,
    current: Option<&S>,
    status: &S,
) -> Result<Outcome>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    S: Serialize + PartialEq + Clone + Send + Sync + 'static,
{
    if current == Some(status) {
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
    ledger.record(object, status);
    Ok(Outcome::Applied)
}

/// Annotation carrying a hash of the pod spec the operator built, so a change
/// of the desired pod is noticed without comparing fields the API server
/// fills in (pods are mostly immutable, so a change means a new pod).
pub const POD_SPEC_HASH_ANNOTATION: &str = "gastown.io/spec-hash";

/// What [`ensure_pod`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodOutcome {
    /// The pod exists and matches.
    Unchanged,
    Created,
    /// The pod was outdated or had failed and was deleted; the next reconcile
    /// (triggered by the deletion) creates its replacement.
    Replaced,
    /// The pod is terminating; its replacement comes once it is gone.
    WaitingForDeletion,
}

/// A stable hash of `pod`'s spec (FNV-1a over its canonical JSON).
pub fn pod_spec_hash(pod: &k8s_openapi::api::core::v1::Pod) -> String {
    fnv_hex(&serde_json::to_vec(&pod.spec).expect("pod specs serialise"))
}

/// Makes the agent pod `desired` exist: creates it when absent, replaces it
/// when its spec changed or it failed (bare pods are never recreated by
/// anything else), leaves it alone otherwise.
pub async fn ensure_pod(
    api: &Api<k8s_openapi::api::core::v1::Pod>,
    observed: Option<&k8s_openapi::api::core::v1::Pod>,
    mut desired: k8s_openapi::api::core::v1::Pod,
) -> Result<PodOutcome> {
    // An agent slot stamps the hash when it builds the pod; hash only once.
    let hash = match desired.annotations().get(POD_SPEC_HASH_ANNOTATION) {
        Some(hash) => hash.clone(),
        None => pod_spec_hash(&desired),
    };
    if let Some(pod) = observed {
        if pod.metadata.deletion_timestamp.is_some() {
            return Ok(PodOutcome::WaitingForDeletion);
        }
        let failed = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed");
        let current = pod.annotations().get(POD_SPEC_HASH_ANNOTATION) == Some(&hash);
        if current && !failed {
            return Ok(PodOutcome::Unchanged);
        }
        delete(api, Some(pod)).await?;
        return Ok(PodOutcome::Replaced);
    }
    desired
        .annotations_mut()
        .insert(POD_SPEC_HASH_ANNOTATION.to_string(), hash);
    apply(api, None, &desired).await?;
    Ok(PodOutcome::Created)
}

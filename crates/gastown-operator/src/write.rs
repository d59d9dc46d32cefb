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
use crate::in_sync_memo::{self, ContentHash, HashWriter};
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

/// The hash of `desired` without its [`APPLIED_HASH_ANNOTATION`]: the
/// annotation's value (FNV-1a, 16 hex digits) and the content hash the
/// [`in_sync_memo`] knows it by. Hashed as serde_json writes it, without a
/// copy of the object unless it carries the annotation already.
fn applied_hash<K: Resource + Serialize + Clone>(desired: &K) -> (String, ContentHash) {
    let mut writer = HashWriter::default();
    let written = if desired.annotations().contains_key(APPLIED_HASH_ANNOTATION) {
        let mut bare = desired.clone();
        bare.annotations_mut().remove(APPLIED_HASH_ANNOTATION);
        serde_json::to_writer(&mut writer, &bare)
    } else {
        serde_json::to_writer(&mut writer, desired)
    };
    // Kubernetes objects always serialise; an error would only hash less.
    let _ = written;
    (format!("{:016x}", writer.fnv()), writer.finish())
}

fn with_hash<K: Resource + Clone>(desired: &K, hash: String) -> K {
    let mut stamped = desired.clone();
    stamped
        .annotations_mut()
        .insert(APPLIED_HASH_ANNOTATION.to_string(), hash);
    stamped
}

/// `desired` carrying the hash of itself in [`APPLIED_HASH_ANNOTATION`].
pub fn stamped<K: Resource + Serialize + Clone>(desired: &K) -> K {
    with_hash(desired, applied_hash(desired).0)
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

/// [`holds`] for `desired` of `hash`, answered from the [`in_sync_memo`]
/// when `observed` is the version last found in sync with it.
fn holds_remembered<K: Resource + Serialize + Clone>(
    desired: &K,
    (annotation, hash): &(String, ContentHash),
    observed: &K,
) -> bool {
    if observed.annotations().get(APPLIED_HASH_ANNOTATION) != Some(annotation) {
        return false;
    }
    let meta = observed.meta();
    let identity = meta.uid.as_deref().zip(meta.resource_version.as_deref());
    if let Some((uid, version)) = identity
        && in_sync_memo::known_in_sync(uid, version, *hash)
    {
        return true;
    }
    let in_sync = holds(&with_hash(desired, annotation.clone()), observed);
    if in_sync && let Some((uid, version)) = identity {
        in_sync_memo::record_in_sync(uid, version, *hash);
    }
    in_sync
}

/// Whether `observed` is `desired` as the operator last applied it, and
/// still holds everything it sets.
pub fn in_sync<K: Resource + Serialize + Clone>(desired: &K, observed: &K) -> bool {
    holds_remembered(desired, &applied_hash(desired), observed)
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
    let hash = applied_hash(desired);
    if observed.is_some_and(|observed| holds_remembered(desired, &hash, observed)) {
        return Ok(Outcome::Unchanged);
    }
    let desired = with_hash(desired, hash.0);
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
    let mut writer = HashWriter::default();
    serde_json::to_writer(&mut writer, &pod.spec).expect("pod specs serialise");
    format!("{:016x}", writer.fnv())
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

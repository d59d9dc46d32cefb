//! The finalizer of every kind: kube-runtime's `finalizer()` helper
//! removes the finalizer as soon as its cleanup returns `Ok`, whatever the
//! `Action`; a teardown that waits across reconciles (for polecats to finish,
//! for rigs to go) needs to say "not yet" without failing, hence
//! [`with_finalizer`] and [`Teardown`].
//!
//! Guarantees, as kube-runtime's states them for its own helper: the
//! finalizer is added before anything is made (so nothing outlives the
//! object), never added to an object being deleted, and removed only once
//! the cleanup reports [`Teardown::Done`].

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use crate::error::Error;
use crate::status_ledger::StatusLedger;

/// What one step of a multi-step teardown concluded.
pub enum Teardown {
    /// More to do or to wait for: look again as the action says.
    Continue(Action),
    /// Everything is gone: the finalizer may go.
    Done,
}

/// Runs `live` while `object` lives and `cleanup` once it is being deleted,
/// keeping `finalizer` on it until `cleanup` reports [`Teardown::Done`].
/// The finalizer is added before anything else, so nothing the object makes
/// can outlive it. Rigs and AgentPools the operator creates carry it from
/// their first apply (see [`crate::builders::rig`]); this adds it to the
/// ones users create, and never to an object being deleted.
pub async fn with_finalizer<K, L, LF, C, CF>(
    api: &kube::Api<K>,
    statuses: &StatusLedger,
    object: Arc<K>,
    finalizer: &str,
    live: L,
    cleanup: C,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    L: FnOnce(Arc<K>) -> LF,
    LF: Future<Output = Result<Action, Error>>,
    C: FnOnce(Arc<K>) -> CF,
    CF: Future<Output = Result<Teardown, Error>>,
{
    let deleting = object.meta().deletion_timestamp.is_some();
    let finalized = object.finalizers().iter().any(|f| f == finalizer);
    match (deleting, finalized) {
        // Our teardown is complete; other finalizers are not ours to wait for.
        (true, false) => {
            statuses.forget(object.as_ref());
            Ok(Action::await_change())
        }
        (true, true) => match cleanup(object.clone()).await? {
            Teardown::Continue(action) => Ok(action),
            Teardown::Done => {
                remove_finalizer(api, object.as_ref(), finalizer).await?;
                statuses.forget(object.as_ref());
                Ok(Action::await_change())
            }
        },
        // The write itself triggers the next reconcile.
        (false, false) => {
            add_finalizer(api, object.as_ref(), finalizer).await?;
            Ok(Action::await_change())
        }
        (false, true) => live(object).await,
    }
}

/// Adds `finalizer`, guarded by the object's resourceVersion (a concurrent
/// change makes this fail with 409 and the reconcile retry).
async fn add_finalizer<K>(api: &kube::Api<K>, object: &K, finalizer: &str) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut finalizers = object.finalizers().to_vec();
    finalizers.push(finalizer.to_string());
    patch_finalizers(api, object, finalizers, "add the finalizer to").await
}

/// Removes `finalizer`, guarded by the object's resourceVersion.
async fn remove_finalizer<K>(api: &kube::Api<K>, object: &K, finalizer: &str) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let finalizers: Vec<String> = object
        .finalizers()
        .iter()
        .filter(|f| f.as_str() != finalizer)
        .cloned()
        .collect();
    match patch_finalizers(api, object, finalizers, "remove the finalizer from").await {
        // Gone already: nothing left to hold.
        Err(Error::Kube {
            source: kube::Error::Api(status),
            ..
        }) if status.code == 404 => Ok(()),
        other => other,
    }
}

async fn patch_finalizers<K>(
    api: &kube::Api<K>,
    object: &K,
    finalizers: Vec<String>,
    what: &str,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = serde_json::json!({
        "metadata": { "finalizers": finalizers, "resourceVersion": object.resource_version() }
    });
    api.patch(
        &object.name_any(),
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .map_err(|e| Error::kube(format!("{what} {} {}", K::kind(&()), object.name_any()), e))?;
    Ok(())
}

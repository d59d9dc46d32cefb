//! The three controllers. Each reconcile runs inside a tracing span carrying
//! the object's kind, namespace and name, goes through its kind's finalizer,
//! and reports to the metrics; errors back off per object.

pub mod agents;
pub mod draining;
pub mod pool;
pub mod pool_status;
pub mod retry;
pub mod rig;
pub mod rig_status;
pub mod town;
pub mod town_status;

use std::sync::Arc;
use std::time::Instant;

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::Instrument;

use crate::context::Context;
use crate::error::Error;
use crate::status_ledger::StatusLedger;

/// Logs a failed reconcile and schedules a retry: soon after a conflict (the
/// cache was behind a write of ours), otherwise after a delay that doubles
/// with each consecutive failure of the object ([`retry::retry_delay`]).
pub fn error_policy<K>(object: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    let failures = ctx.failures.current(object.as_ref());
    let conflict =
        matches!(error, Error::Kube { source: kube::Error::Api(status), .. } if status.code == 409);
    let delay = if conflict {
        retry::CONFLICT_RETRY
    } else {
        retry::retry_delay(failures)
    };
    tracing::warn!(
        kind = %K::kind(&()),
        namespace = object.namespace().unwrap_or_default(),
        name = %object.name_any(),
        error = %error,
        consecutive_failures = failures,
        retry_in_seconds = delay.as_secs(),
        "reconcile failed; retrying"
    );
    Action::requeue(delay)
}

/// One reconcile of `object` by `controller`: traced with the object's kind,
/// namespace and name, measured, run through `finalizer` (`apply` while the
/// object lives, `cleanup` once it is being deleted), and counted towards the
/// object's consecutive failures.
pub async fn reconcile_with<K, A, AF, C, CF>(
    controller: &str,
    finalizer: &str,
    object: Arc<K>,
    ctx: &Context,
    apply: A,
    cleanup: C,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    A: FnOnce(Arc<K>) -> AF,
    AF: Future<Output = Result<Action, Error>>,
    C: FnOnce(Arc<K>) -> CF,
    CF: Future<Output = Result<Teardown, Error>>,
{
    let namespace = object.namespace().unwrap_or_default();
    let span = tracing::info_span!(
        "reconcile",
        kind = %K::kind(&()),
        namespace = %namespace,
        name = %object.name_any()
    );
    let attempt = async {
        let api: kube::Api<K> = ctx.api(&namespace);
        let result = measured(
            ctx,
            controller,
            with_finalizer(
                &api,
                &ctx.statuses,
                object.clone(),
                finalizer,
                apply,
                cleanup,
            ),
        )
        .await;
        ctx.failures.record(object.as_ref(), result.is_ok());
        // What the owner must fix (a write the API server refused, an object
        // that cannot be built) becomes a Warning Event on the object, once
        // per streak of failures; the log has every retry.
        if let Err(error) = &result
            && error.needs_attention()
            && ctx.failures.first_telling(object.as_ref())
        {
            publish(
                ctx,
                object.as_ref(),
                "ReconcileFailed",
                false,
                &event_note(error),
            )
            .await;
        }
        result
    };
    attempt.instrument(span).await
}

/// An Event's note: the error's text within the 1 KiB the API allows.
fn event_note(error: &Error) -> String {
    const MAX: usize = 1024;
    let text = error.to_string();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Runs `reconcile` with its metrics recorded under `controller`.
pub async fn measured<F>(ctx: &Context, controller: &str, reconcile: F) -> Result<Action, Error>
where
    F: Future<Output = Result<Action, Error>>,
{
    let started = Instant::now();
    let result = reconcile.await;
    let error = result.as_ref().err().map(Error::metric_label);
    ctx.metrics.reconciled(controller, started.elapsed(), error);
    result
}

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;

/// Cached pods in `namespace` carrying every label in `selector`.
pub fn pods_of<'a>(
    pods: &Store<Pod>,
    namespace: &'a str,
    selector: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = Arc<Pod>> + 'a {
    pods.state().into_iter().filter(move |pod| {
        pod.namespace().as_deref() == Some(namespace)
            && selector
                .iter()
                .all(|(key, value)| pod.labels().get(*key).map(String::as_str) == Some(*value))
    })
}

/// The pod's Ready condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// The pod ended (Succeeded or Failed).
pub fn pod_finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The cached object `namespace/name`, if any.
pub fn get<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    store.get(&kube::runtime::reflector::ObjectRef::new(name).within(namespace))
}

/// Records a Kubernetes Event on `object`; a failure to record is logged, not
/// fatal (the reconcile's real work must not fail over an Event).
pub async fn publish<K>(ctx: &Context, object: &K, reason: &str, normal: bool, note: &str)
where
    K: Resource<DynamicType = ()>,
{
    use kube::runtime::events::{Event, EventType};
    let event = Event {
        type_: if normal {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: reason.to_string(),
        note: Some(note.to_string()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &object.object_ref(&())).await {
        tracing::warn!(%error, "could not record event");
    }
}

/// Records one Event per condition that changed, as "Type: message" with the
/// condition's reason (Warning when it turned False).
pub async fn publish_transitions<K>(
    ctx: &Context,
    object: &K,
    transitions: Vec<town_status::Transition>,
) where
    K: Resource<DynamicType = ()>,
{
    for transition in transitions {
        publish(
            ctx,
            object,
            &transition.reason,
            transition.status,
            &format!("{}: {}", transition.type_, transition.message),
        )
        .await;
    }
}

/// What one step of a multi-step teardown concluded.
///
/// kube-runtime's `finalizer()` helper removes the finalizer as soon as its
/// cleanup returns `Ok`, whatever the `Action`; a teardown that waits across
/// reconciles (for polecats to finish, for rigs to go) needs to say "not yet"
/// without failing, hence [`with_finalizer`].
pub enum Teardown {
    /// More to do or to wait for: look again as the action says.
    Continue(Action),
    /// Everything is gone: the finalizer may go.
    Done,
}

/// Runs `apply` while `object` lives and `cleanup` once it is being deleted,
/// keeping `finalizer` on it until `cleanup` reports [`Teardown::Done`].
/// The finalizer is added before anything else, so nothing the object makes
/// can outlive it. Rigs and AgentPools the operator creates carry it from
/// their first apply (see [`crate::builders::rig`]); this adds it to the
/// ones users create, and never to an object being deleted.
pub async fn with_finalizer<K, A, AF, C, CF>(
    api: &kube::Api<K>,
    statuses: &StatusLedger,
    object: Arc<K>,
    finalizer: &str,
    apply: A,
    cleanup: C,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    A: FnOnce(Arc<K>) -> AF,
    AF: Future<Output = Result<Action, Error>>,
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
        (false, true) => apply(object).await,
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

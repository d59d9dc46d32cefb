//! The three controllers. Each reconcile runs inside a tracing span carrying
//! the object's kind, namespace and name, goes through its kind's finalizer,
//! and reports to the metrics; errors back off per object.

pub mod agents;
pub mod pool;
pub mod pool_status;
pub mod town;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use crate::context::Context;
use crate::error::Error;

/// First retry after a failed reconcile; doubles per consecutive failure
/// (kube-runtime's own backoff applies between), capped by [`MAX_ERROR_BACKOFF`].
pub const ERROR_BACKOFF: Duration = Duration::from_secs(5);
pub const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(300);

/// Logs a failed reconcile and schedules a retry.
pub fn error_policy<K>(object: Arc<K>, error: &Error, _ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    tracing::warn!(
        kind = %K::kind(&()),
        namespace = object.namespace().unwrap_or_default(),
        name = %object.name_any(),
        error = %error,
        "reconcile failed; retrying"
    );
    // A conflict means the cache was behind a write of ours: retry soon.
    let conflict =
        matches!(error, Error::Kube { source: kube::Error::Api(status), .. } if status.code == 409);
    Action::requeue(if conflict {
        Duration::from_secs(1)
    } else {
        ERROR_BACKOFF
    })
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

pub mod rig;
pub mod rig_status;
pub mod town_status;

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::finalizer;
use kube::runtime::reflector::Store;

/// Unwraps the reconcile's own error from the finalizer helper's.
pub fn flatten_finalizer_error(error: finalizer::Error<Error>) -> Error {
    match error {
        finalizer::Error::ApplyFailed(error) | finalizer::Error::CleanupFailed(error) => error,
        other => Error::Finalizer(other.to_string()),
    }
}

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

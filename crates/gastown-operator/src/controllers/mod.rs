//! The three controllers. Each reconcile runs inside a tracing span carrying
//! the object's kind, namespace and name, goes through its kind's finalizer,
//! and reports to the metrics; errors back off per object.

pub mod agents;
pub mod backup_status;
pub mod pool;
pub mod pool_status;
pub mod retry;
pub mod rig;
pub mod rig_status;
pub mod rollout_step;
pub mod town;
pub mod town_status;

use std::sync::Arc;
use std::time::Instant;

use gastown_api::labels;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::Instrument;

use crate::cache::Indexed;
use crate::conditions::Transition;
use crate::context::Context;
use crate::error::Error;
use crate::reconcile::finalizer::{Teardown, with_finalizer};

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
/// namespace and name, measured, run through `finalizer` (`live` while the
/// object lives, `cleanup` once it is being deleted), and counted towards the
/// object's consecutive failures.
pub async fn reconcile_with<K, L, LF, C, CF>(
    controller: &str,
    finalizer: &str,
    object: Arc<K>,
    ctx: &Context,
    live: L,
    cleanup: C,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    L: FnOnce(Arc<K>) -> LF,
    LF: Future<Output = Result<Action, Error>>,
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
                live,
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

/// Cached pods in `namespace` carrying every label in `selector`.
pub fn pods_of<'a>(
    pods: &Indexed<Pod>,
    namespace: &'a str,
    selector: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = Arc<Pod>> + 'a {
    // A selector naming the town reads the town's pods only (the index);
    // any other scans the store.
    let candidates = match selector.iter().find(|(key, _)| *key == labels::TOWN) {
        Some((_, town)) => pods.of_town(namespace, town),
        None => pods.state(),
    };
    candidates.into_iter().filter(move |pod| {
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

/// Why the pod's containers keep failing, when one is in `CrashLoopBackOff`:
/// the container, its last exit code, and what it said when it ended (its
/// termination message: the tail of its log under `FallbackToLogsOnError`),
/// cut to a readable length.
pub fn pod_crash(pod: &Pod) -> Option<String> {
    const MAX: usize = 300;
    let status = pod.status.as_ref()?;
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    containers.into_iter().find_map(|container| {
        let waiting = container.state.as_ref()?.waiting.as_ref()?;
        if waiting.reason.as_deref() != Some("CrashLoopBackOff") {
            return None;
        }
        let ended = container
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref());
        let code = ended.map_or_else(String::new, |t| format!(" (exit code {})", t.exit_code));
        let said = ended
            .and_then(|t| t.message.as_deref())
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| {
                let mut end = m.len().min(MAX);
                while !m.is_char_boundary(end) {
                    end -= 1;
                }
                let cut = if end < m.len() { "…" } else { "" };
                format!(": {}{cut}", &m[..end])
            })
            .unwrap_or_default();
        Some(format!(
            "container {} is in CrashLoopBackOff{code}{said}",
            container.name
        ))
    })
}

/// The pod ended (Succeeded or Failed).
pub fn pod_finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
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

/// Records the Events a status write's condition transitions are worth
/// ([`crate::conditions::telling`]): few, and `Warning` only for what someone
/// may need to act on.
pub async fn publish_transitions<K>(ctx: &Context, object: &K, transitions: Vec<Transition>)
where
    K: Resource<DynamicType = ()>,
{
    for telling in crate::conditions::telling::tellings(&transitions) {
        publish(
            ctx,
            object,
            &telling.reason,
            !telling.warning,
            &telling.note,
        )
        .await;
    }
}

/// Writes `status` to `object`'s status subresource unless it equals
/// `previous` (the status as [`crate::status_ledger::StatusLedger::current`]
/// tells it), then tells each transition as an Event.
pub async fn write_status<K, S>(
    ctx: &Context,
    object: &K,
    previous: Option<&S>,
    status: &S,
    transitions: Vec<Transition>,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    S: serde::Serialize + PartialEq + Clone + Send + Sync + 'static,
{
    let api: kube::Api<K> = ctx.api(&object.namespace().unwrap_or_default());
    crate::write::patch_status(&api, &ctx.statuses, object, previous, status).await?;
    publish_transitions(ctx, object, transitions).await;
    Ok(())
}

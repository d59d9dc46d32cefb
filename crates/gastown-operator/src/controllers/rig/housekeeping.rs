//! Polecat housekeeping, the one thing the Rig does to pods it did not make:
//! ended polecat pods are deleted `cleanupAfter` after they ended (they are
//! kept that long for their logs), and those running past `maxRuntime` are
//! flagged, never killed (the witness decides).

use std::time::Duration;

use gastown_api::{Rig, labels};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};

use crate::builders::rig::RigRef;
use crate::context::Context;
use crate::controllers::{pod_finished, pods_of};
use crate::error::{Error, Result};
use crate::naming;
use crate::write;

pub struct Housekeeping {
    pub overtime: Vec<String>,
    /// When the next finished pod becomes due for cleanup, or overtime starts.
    pub recheck: Option<Duration>,
}

pub(crate) fn finished_at(pod: &Pod) -> Option<Timestamp> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses
        .iter()
        .filter_map(|s| {
            s.state
                .as_ref()?
                .terminated
                .as_ref()?
                .finished_at
                .as_ref()
                .map(|t| t.0)
        })
        .max()
}

/// Deletes polecat pods `cleanupAfter` after they ended and flags those
/// running past `maxRuntime` (never killing them: the witness decides).
pub async fn polecats(rig: &Rig, rig_ref: &RigRef, ctx: &Context) -> Result<Housekeeping> {
    let ns = &rig_ref.namespace;
    let api: Api<Pod> = ctx.api(ns);
    let policy = rig.spec.polecats();
    let cleanup_after =
        SignedDuration::try_from(policy.cleanup_after()).unwrap_or(SignedDuration::MAX);
    let max_runtime = SignedDuration::try_from(policy.max_runtime()).unwrap_or(SignedDuration::MAX);
    let now = Timestamp::now();
    let mut overtime = Vec::new();
    let mut recheck: Option<Duration> = None;
    let mut sooner = |due: Timestamp| {
        let wait = now
            .duration_until(due)
            .unsigned_abs()
            .max(Duration::from_secs(1));
        recheck = Some(recheck.map_or(wait, |r| r.min(wait)));
    };
    let selector = [
        (labels::TOWN, rig_ref.town.as_str()),
        (labels::RIG, rig_ref.name.as_str()),
        (labels::ROLE, "polecat"),
    ];
    for pod in pods_of(&ctx.cache.pods, ns, &selector) {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if pod_finished(&pod) {
            let ended = finished_at(&pod)
                .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
                .unwrap_or(now);
            let due = ended.checked_add(cleanup_after).unwrap_or(Timestamp::MAX);
            if now >= due {
                write::delete(&api, Some(pod.as_ref())).await?;
            } else {
                sooner(due);
            }
            continue;
        }
        let Some(started) = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0)
        else {
            continue;
        };
        let due = started.checked_add(max_runtime).unwrap_or(Timestamp::MAX);
        if now < due {
            sooner(due);
            continue;
        }
        overtime.push(pod.name_any());
        if !pod.annotations().contains_key(naming::OVERTIME_ANNOTATION) {
            // A merge patch of one annotation: the pod's other fields stay as they are.
            let patch = serde_json::json!({"metadata": {"annotations": {naming::OVERTIME_ANNOTATION: "true"}}});
            api.patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| {
                Error::kube(
                    format!("annotate Pod {ns}/{} as overtime", pod.name_any()),
                    e,
                )
            })?;
        }
    }
    overtime.sort();
    Ok(Housekeeping { overtime, recheck })
}

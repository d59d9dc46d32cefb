//! The rollout step the town and the rig share: pace their declared agents
//! ([`crate::reconcile::rollout`]) before the applier runs, and afterwards
//! tell each replacement and mark busy crew whose wait for idle began.

use beads_client::{AgentState, RigSummary};
use gastown_api::{AgentRole, GasTown, labels};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::publish;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::reconcile::agent_slot::{AgentSlot, Want};
use crate::reconcile::desired::Objects;
use crate::reconcile::kinds::{Managed, cached};
use crate::reconcile::rollout::{self, Pace, Policy, SlotView, WAITING_SINCE_ANNOTATION};

/// The town's rollout settings.
pub fn policy(town: &GasTown) -> Policy {
    let spec = town.spec.rollout.clone().unwrap_or_default();
    Policy {
        max_unavailable: spec.max_unavailable(),
        max_wait_for_idle: spec.max_wait_for_idle(),
    }
}

/// Why a crew member must not be interrupted now, from beads' view of its
/// rig: work on its hook, `working`, or beads unknown. Other roles: never.
pub fn crew_busy(slot: &AgentSlot, beads: &Result<Option<&RigSummary>, String>) -> Option<String> {
    if slot.role != AgentRole::Crew {
        return None;
    }
    let Want::Pod(pod) = &slot.want else {
        return None;
    };
    let name = pod.labels().get(labels::AGENT)?;
    let rig = match beads {
        Err(error) => return Some(format!("beads cannot say whether it is busy: {error}")),
        Ok(rig) => (*rig)?,
    };
    let agent = rig
        .agents
        .iter()
        .find(|a| &a.name == name && a.role.as_ref().is_some_and(|r| r.as_str() == "crew"))?;
    busy_reason(agent.hook_bead.as_deref(), agent.state.as_ref())
}

/// Why an agent with `hook` and `state` in beads is busy, if it is: work on
/// its hook, or `working`. One rule for the crew a Rig declares and those a
/// pool runs.
pub fn busy_reason(hook: Option<&str>, state: Option<&AgentState>) -> Option<String> {
    if let Some(hook) = hook {
        return Some(format!("{hook} is on its hook"));
    }
    (state == Some(&AgentState::Working)).then(|| "it is working".to_string())
}

/// The persistent agents' pods of a rig that `runs_them` does not match and
/// that are missing their Ready condition or going away: they count against
/// the same `maxUnavailable` as those it runs.
pub fn down_beside(
    ctx: &Context,
    namespace: &str,
    town: &str,
    rig: &str,
    runs_them: impl Fn(&Pod) -> bool,
) -> Vec<String> {
    let selector = [(labels::TOWN, town), (labels::RIG, rig)];
    let mut down: Vec<String> = super::pods_of(&ctx.cache.pods, namespace, &selector)
        .filter(|pod| {
            pod.labels()
                .get(labels::ROLE)
                .is_some_and(|role| matches!(role.as_str(), "witness" | "refinery" | "crew"))
        })
        .filter(|pod| !runs_them(pod))
        .filter(|pod| pod.metadata.deletion_timestamp.is_some() || !super::pod_ready(pod))
        .map(|pod| pod.name_any())
        .collect();
    down.sort();
    down
}

/// Paces `slots` (beside the pods `down_beside` names) and holds the pods
/// whose turn has not come.
pub fn pace(
    ctx: &Context,
    namespace: &str,
    slots: &[&AgentSlot],
    down_beside: &[String],
    busy: impl Fn(&AgentSlot) -> Option<String>,
    policy: Policy,
    pods: &mut Objects<Pod>,
) -> Pace {
    let observed: Vec<Option<std::sync::Arc<Pod>>> = slots
        .iter()
        .map(|slot| cached::<Pod>(ctx, namespace, &slot.pod_name))
        .collect();
    let views: Vec<SlotView> = slots
        .iter()
        .zip(&observed)
        .map(|(slot, pod)| SlotView {
            slot,
            observed: pod.as_deref(),
            busy: busy(slot),
        })
        .collect();
    let paced = rollout::pace_beside(&views, down_beside, policy, Timestamp::now());
    paced.hold_deferred(pods);
    paced
}

/// After the applier: one Event per replacement on `owner`, and the start of
/// each busy crew member's wait recorded on its pod.
pub async fn tell<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    owner: &K,
    namespace: &str,
    paced: &Pace,
) -> Result<()> {
    for pod in paced.replacing() {
        publish(
            ctx,
            owner,
            "AgentReplaced",
            true,
            &format!("replacing pod {pod}: its spec changed"),
        )
        .await;
    }
    let api = Pod::api(&ctx.client, namespace);
    for pod in &paced.start_waiting {
        let patch = serde_json::json!({"metadata": {"annotations": {
            WAITING_SINCE_ANNOTATION: Timestamp::now().to_string(),
        }}});
        match api
            .patch(pod, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            // Gone meanwhile: nothing to wait for.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => {
                return Err(Error::kube(
                    format!("mark Pod {namespace}/{pod} waiting"),
                    e,
                ));
            }
        }
    }
    Ok(())
}

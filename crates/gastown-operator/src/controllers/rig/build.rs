//! The rig's build step, pure: every object the rig wants — its workspace
//! and crew claims, RBAC, NetworkPolicy, polecat ceiling and default pool —
//! and its declared agents (witness, refinery, crew).

use gastown_api::template::PodTemplate;
use gastown_api::{AgentRole, GasTown, Rig};

use crate::builders::rig::{self as build, BeadsPeer, RigRef};
use crate::controllers::agents::{RigAgents, bead_id};
use crate::error::{Error, Result};
use crate::naming;
use crate::reconcile::agent_slot::AgentSlot;
use crate::reconcile::desired::Desired;

/// The rig's build.
pub struct RigBuild {
    pub desired: Desired,
    pub witness: AgentSlot,
    pub refinery: AgentSlot,
    pub crew: Vec<AgentSlot>,
}

pub fn build(rig: &Rig, rig_ref: &RigRef, town: &GasTown, agents: &RigAgents) -> Result<RigBuild> {
    let mut desired = Desired::default();
    desired
        .claims
        .want(build::workspace_claim(rig_ref, &rig.spec));
    let (account, role, binding) = build::agent_rbac(rig_ref);
    desired.service_accounts.want(account);
    desired.roles.want(role);
    desired.role_bindings.want(binding);
    if let Some(policy) = build::network_policy(rig_ref, &rig.spec, &BeadsPeer::of(town)) {
        desired.network_policies.want(policy);
    }
    desired
        .priority_classes
        .want(build::polecat_priority_class(rig_ref));
    desired.quotas.want(
        build::polecat_quota(rig_ref, &rig.spec).map_err(|e| Error::Build {
            what: format!("the polecat ResourceQuota of rig {}", rig_ref.name),
            reason: e.to_string(),
        })?,
    );
    desired.pools.want(build::polecat_pool(rig_ref, &rig.spec));

    let witness = singleton(agents, AgentRole::Witness);
    let refinery = singleton(agents, AgentRole::Refinery);
    witness.add_to(&mut desired.pods);
    refinery.add_to(&mut desired.pods);
    let crew = crew(agents, &mut desired);
    Ok(RigBuild {
        desired,
        witness,
        refinery,
        crew,
    })
}

/// The witness's or the refinery's slot.
fn singleton(agents: &RigAgents, role: AgentRole) -> AgentSlot {
    let spec = match role {
        AgentRole::Witness => agents.rig.spec.witness(),
        _ => agents.rig.spec.refinery(),
    };
    let rig_ref = &agents.rig_ref;
    let pod_name = naming::agent_pod(&rig_ref.town, Some(&rig_ref.name), role, role.as_str());
    if !spec.enabled() {
        return AgentSlot::disabled(role, pod_name);
    }
    if let Some(reason) = agents.blocked() {
        return AgentSlot::blocked(role, pod_name, reason);
    }
    let template = agents.template(role, None, Some(&PodTemplate::from(&spec)));
    match agents.pod(
        role,
        role.as_str(),
        &bead_id(&rig_ref.name, role, role.as_str()),
        &template,
    ) {
        Ok(pod) => AgentSlot::running(role, pod),
        Err(error) => AgentSlot::blocked(role, pod_name, error.to_string()),
    }
}

/// One slot per crew member, and their own claims. A member removed from the
/// spec loses its pod (pruned) and its claim follows `reclaimPolicy`; a
/// member's claim stays while the member does.
fn crew(agents: &RigAgents, desired: &mut Desired) -> Vec<AgentSlot> {
    let rig_ref = &agents.rig_ref;
    let mut slots = Vec::new();
    for member in agents.rig.spec.crew() {
        let role = AgentRole::Crew;
        desired
            .claims
            .hold(naming::crew_workspace(&rig_ref.object_name, &member.name));
        let template = agents.template(role, None, Some(&member.as_layer()));
        if let Some(claim) = build::crew_claim(rig_ref, member, &template.workspace_volume(role)) {
            desired.claims.want(claim);
        }
        let pod_name = naming::agent_pod(&rig_ref.town, Some(&rig_ref.name), role, &member.name);
        let slot = match agents.blocked() {
            Some(reason) => AgentSlot::blocked(role, pod_name, reason),
            None => match agents.pod(
                role,
                &member.name,
                &bead_id(&rig_ref.name, role, &member.name),
                &template,
            ) {
                Ok(pod) => AgentSlot::running(role, pod),
                Err(error) => AgentSlot::blocked(role, pod_name, error.to_string()),
            },
        };
        slot.add_to(&mut desired.pods);
        slots.push(slot);
    }
    slots
}

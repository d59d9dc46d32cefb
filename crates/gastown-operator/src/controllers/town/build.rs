//! The town's build step, pure: from the spec and the missing Secrets, every
//! object the town wants (its infrastructure, its Rigs, its Mayor and
//! Deacon), and what each workload is waiting for.

use gastown_api::backup::DoltRestore;
use gastown_api::gastown::{BeadsProtocol, DoltSpec};
use gastown_api::template::{PodTemplate, merge};
use gastown_api::{AgentRole, GasTown};

use crate::builders::agent_pod::{AgentPodInput, DaemonConnection, agent_pod};
use crate::builders::rig::rig_object;
use crate::builders::town::{self as infra, TownRef, backup};
use crate::naming;
use crate::reconcile::agent_slot::AgentSlot;
use crate::reconcile::desired::Desired;
use crate::reconcile::secrets::{MissingSecrets, SecretNames};
use crate::relations::drain_requested;

/// What the town's build decided about one of its infrastructure workloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkloadPlan {
    /// Not run by this operator (the bd daemon is external).
    External,
    /// Kept as it is, with the reason (e.g. a missing Secret).
    Blocked(String),
    /// Applied under this name.
    Wanted(String),
}

/// What the build needs to know of dolt as it is (from the cache).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DoltObserved {
    /// dolt's StatefulSet exists: `Some(true)` when its pods restore
    /// (they have the restore init container).
    pub statefulset_restores: Option<bool>,
    /// dolt's data claim exists.
    pub claim_exists: bool,
}

/// Whether dolt's pods restore `spec.dolt.restoreFrom`, or why dolt must
/// wait. A restore is only ever made part of a StatefulSet about to be
/// created on no claim: a claim that exists may hold data, and is never
/// restored into (the init container refuses a volume with data as well).
/// A StatefulSet that restores keeps doing so (its init container does
/// nothing once restored); one that does not is not changed to.
pub fn restore_plan<'a>(
    dolt: &'a DoltSpec,
    observed: DoltObserved,
    claim: &str,
) -> Result<Option<&'a DoltRestore>, String> {
    let Some(restore) = dolt.restore_from.as_ref() else {
        return Ok(None);
    };
    match observed.statefulset_restores {
        Some(restores) => Ok(restores.then_some(restore)),
        None if observed.claim_exists => Err(format!(
            "spec.dolt.restoreFrom: refusing to restore {} into the volume {claim}, which already exists and may hold data; nothing was restored or deleted. Remove spec.dolt.restoreFrom to serve the data it holds, or restore into a new town",
            restore.url
        )),
        None => Ok(Some(restore)),
    }
}

/// The town's build.
pub struct TownBuild {
    pub desired: Desired,
    pub dolt: WorkloadPlan,
    pub daemon: WorkloadPlan,
    pub mayor: AgentSlot,
    pub deacon: AgentSlot,
}

pub fn build(
    town: &GasTown,
    town_ref: &TownRef,
    missing: &MissingSecrets,
    observed: DoltObserved,
) -> TownBuild {
    let spec = &town.spec;
    let secrets = SecretNames::of(spec);
    let mut desired = Desired::default();

    // dolt, unless the daemon is external (it brings its own database).
    let dolt = match (&spec.dolt, spec.daemon.in_cluster()) {
        (Some(dolt), true) => {
            desired.config_maps.want(infra::dolt_config(town_ref, dolt));
            desired.services.want(infra::dolt_service(town_ref));
            if dolt.network_policy_enabled() {
                desired.network_policies.want(infra::dolt_network_policy(
                    town_ref,
                    spec.daemon.protocol(),
                    dolt.backup.is_some(),
                ));
            }
            let name = naming::dolt(&town_ref.name);
            let blocked = missing
                .blocking([
                    secrets.dolt_root_password,
                    secrets.backup_credentials,
                    secrets.restore_credentials,
                ])
                .or_else(|| infra::dolt_image_refusal(dolt));
            let restore = restore_plan(dolt, observed, &naming::dolt_data_claim(&town_ref.name));
            let backup = naming::dolt_backup(&town_ref.name);
            match (blocked, restore) {
                (Some(reason), _) | (None, Err(reason)) => {
                    desired.stateful_sets.hold(name);
                    if dolt.backup.is_some() {
                        desired.cron_jobs.hold(backup);
                    }
                    WorkloadPlan::Blocked(reason)
                }
                (None, Ok(restore)) => {
                    desired
                        .stateful_sets
                        .want(infra::dolt_statefulset(town_ref, dolt, restore));
                    if let Some(backup) = &dolt.backup {
                        desired
                            .cron_jobs
                            .want(backup::backup_cron_job(town_ref, dolt, backup));
                    }
                    WorkloadPlan::Wanted(name)
                }
            }
        }
        _ => WorkloadPlan::External,
    };

    // The beads server: the bd daemon, or bd serve with its workspace.
    let deployment = match spec.daemon.protocol() {
        BeadsProtocol::Daemon => {
            infra::bd_daemon_deployment(town_ref, &spec.daemon, spec.dolt.as_ref())
        }
        BeadsProtocol::Serve => {
            let deployment = infra::bd_serve_deployment(town_ref, &spec.daemon, spec.dolt.as_ref());
            if deployment.is_some() {
                desired.config_maps.want(infra::bd_serve_config(town_ref));
            }
            deployment
        }
    };
    let daemon = match (deployment, infra::bd_daemon_service(town_ref, &spec.daemon)) {
        (Some(deployment), Some(service)) => {
            desired.services.want(service);
            let name = naming::bd_daemon(&town_ref.name);
            match missing.blocking([secrets.daemon_token, secrets.dolt_root_password]) {
                Some(reason) => {
                    desired.deployments.hold(name);
                    WorkloadPlan::Blocked(reason)
                }
                None => {
                    desired.deployments.want(deployment);
                    WorkloadPlan::Wanted(name)
                }
            }
        }
        _ => WorkloadPlan::External,
    };

    // The RPC server, when enabled.
    if let Some((deployment, service)) =
        infra::rpc_server(town_ref, &spec.rpc_server(), &spec.daemon)
    {
        if missing.blocking([secrets.daemon_token]).is_some() {
            desired
                .deployments
                .hold(deployment.metadata.name.unwrap_or_default());
            desired
                .services
                .hold(service.metadata.name.unwrap_or_default());
        } else {
            desired.deployments.want(deployment);
            desired.services.want(service);
        }
    }

    // One Rig per declared rig; a rig no longer declared is pruned and
    // drains through its own finalizer. A drained town marks its rigs as a
    // town being deleted does; resuming applies them without the mark, which
    // server-side apply then removes (the operator's field manager owns it).
    let drained = drain_requested(town).is_some();
    for rig in spec.rigs() {
        desired.rigs.want(rig_object(
            &town_ref.name,
            &town_ref.namespace,
            &town_ref.owner,
            rig,
            drained,
        ));
    }

    let mayor = town_agent(town, town_ref, AgentRole::Mayor, missing);
    let deacon = town_agent(town, town_ref, AgentRole::Deacon, missing);
    mayor.add_to(&mut desired.pods);
    deacon.add_to(&mut desired.pods);
    TownBuild {
        desired,
        dolt,
        daemon,
        mayor,
        deacon,
    }
}

/// The Mayor's or the Deacon's slot.
fn town_agent(
    town: &GasTown,
    town_ref: &TownRef,
    role: AgentRole,
    missing: &MissingSecrets,
) -> AgentSlot {
    let spec = match role {
        AgentRole::Mayor => town.spec.mayor(),
        _ => town.spec.deacon(),
    };
    let pod_name = naming::agent_pod(&town_ref.name, None, role, role.as_str());
    if !spec.enabled() {
        return AgentSlot::disabled(role, pod_name);
    }
    let secrets = SecretNames::of(&town.spec);
    if let Some(reason) = missing.blocking([
        secrets.agents_beads,
        secrets.anthropic_api_key,
        secrets.claude_credentials,
    ]) {
        return AgentSlot::blocked(role, pod_name, reason);
    }
    let defaults = town.spec.defaults.clone().unwrap_or_default();
    let template = merge([&defaults, &PodTemplate::from(&spec)]);
    let bead_id = format!("gt-{}", role.as_str());
    let input = AgentPodInput {
        namespace: &town_ref.namespace,
        town: &town_ref.name,
        role,
        agent: role.as_str(),
        bead_id: &bead_id,
        rig: None,
        template: &template,
        daemon: DaemonConnection::of(&town.spec, &town_ref.name),
        anthropic_api_key: town
            .spec
            .secrets
            .as_ref()
            .and_then(|s| s.anthropic_api_key_secret_ref.as_ref()),
        claude_credentials: town
            .spec
            .secrets
            .as_ref()
            .and_then(|s| s.claude_credentials_secret_ref.as_ref()),
    };
    match agent_pod(&input) {
        Ok(pod) => AgentSlot::running(role, pod),
        Err(error) => AgentSlot::blocked(role, pod_name, error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dolt(restore: bool) -> DoltSpec {
        let mut spec = serde_json::json!({"image": "dolthub/dolt-sql-server:1.81.6"});
        if restore {
            spec["restoreFrom"] =
                serde_json::json!({"url": "gs://backups/prod", "databases": ["beads"]});
        }
        serde_json::from_value(spec).unwrap()
    }

    #[test]
    fn a_restore_is_planned_only_onto_no_volume_and_never_added_later() {
        let observed = |statefulset_restores, claim_exists| DoltObserved {
            statefulset_restores,
            claim_exists,
        };
        let claim = "data-prod-dolt-0";
        let restoring = dolt(true);
        // A new town: no StatefulSet, no claim.
        assert!(matches!(
            restore_plan(&restoring, observed(None, false), claim),
            Ok(Some(_))
        ));
        // A claim left by an earlier town may hold data: refused, with why.
        let refused = restore_plan(&restoring, observed(None, true), claim).unwrap_err();
        assert!(refused.contains("data-prod-dolt-0"), "{refused}");
        assert!(
            refused.contains("nothing was restored or deleted"),
            "{refused}"
        );
        // A StatefulSet that restores keeps restoring (its claim exists by then).
        assert!(matches!(
            restore_plan(&restoring, observed(Some(true), true), claim),
            Ok(Some(_))
        ));
        // One made without a restore is not given one.
        assert!(matches!(
            restore_plan(&restoring, observed(Some(false), true), claim),
            Ok(None)
        ));
        // No restoreFrom: nothing to plan.
        assert!(matches!(
            restore_plan(&dolt(false), observed(None, true), claim),
            Ok(None)
        ));
    }
}

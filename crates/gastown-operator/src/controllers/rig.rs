//! The Rig controller: the rig's workspace, RBAC, NetworkPolicy, polecat
//! ceiling and default polecat pool, its witness, refinery and crew pods,
//! polecat housekeeping (cleanup after `cleanupAfter`, overtime flags), status
//! from beads and pods, and its own drain-first teardown.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use gastown_api::rig::{ReclaimPolicy, condition};
use gastown_api::{AgentPool, AgentRole, GasTown, Rig, labels};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ResourceQuota, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::agents::{RigAgents, bead_id};
use super::draining::{delete_tracked, show_draining};
use super::rig_status::{RigObservation, SingletonObservation, rig_status};
use super::{
    Teardown, get, pod_finished, pod_ready, pods_of, publish, publish_transitions, reconcile_with,
};
use crate::apply::{self, PodOutcome};
use crate::builders::rig::{self as build, RigRef};
use crate::conditions::Observed;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::naming;
use crate::teardown::{self, Stage, Tracked};

pub const CONTROLLER: &str = "rig";

/// How long an unresolved rig (no town yet) waits before looking again.
const UNRESOLVED_RECHECK: Duration = Duration::from_secs(30);

pub async fn reconcile(rig: Arc<Rig>, ctx: Arc<Context>) -> Result<Action> {
    let context: &Context = &ctx;
    reconcile_with(
        CONTROLLER,
        naming::RIG_FINALIZER,
        rig,
        context,
        |rig| async move { apply_rig(rig, context).await },
        |rig| async move { cleanup_rig(rig, context).await },
    )
    .await
}

/// The rig's identity and town, or why they cannot be resolved.
fn resolve(rig: &Rig, ctx: &Context) -> std::result::Result<(RigRef, Arc<GasTown>), String> {
    let rig_ref = RigRef::new(rig).ok_or_else(|| {
        format!(
            "the Rig has no {} label naming its GasTown (or is not stored yet)",
            labels::TOWN
        )
    })?;
    if let Some(reason) = name_taken(ctx, rig) {
        return Err(reason);
    }
    let town = get(&ctx.cache.towns, &rig_ref.namespace, &rig_ref.town).ok_or_else(|| {
        format!(
            "GasTown {}/{} does not exist",
            rig_ref.namespace, rig_ref.town
        )
    })?;
    Ok((rig_ref, town))
}

/// Why `rig` may not run agents: another town's Rig of the same `spec.name`
/// came first in this namespace. Agent pods are named `gt-<rig>-<role>-<agent>`
/// (Gas Town's convention, without the town), so two towns' rigs of one name
/// in one namespace would replace each other's pods.
pub fn name_taken(ctx: &Context, rig: &Rig) -> Option<String> {
    let rigs = ctx.cache.rigs.state();
    let first = older_namesake(rig, rigs.iter().map(Arc::as_ref))?;
    Some(format!(
        "Rig {} of town {} already uses spec.name {} in namespace {}: agent pods are named gt-<rig>-<role>-<agent>, so two towns cannot share a rig name in one namespace; use another namespace or rig name",
        first.name_any(),
        first.town().unwrap_or_default(),
        rig.spec.name,
        rig.namespace().unwrap_or_default(),
    ))
}

/// The Rig among `others` that holds `rig`'s `spec.name` in its namespace for
/// another town, if any: the earliest created (then the first by name) of
/// those not being deleted. A rig that came later waits until it is gone.
pub fn older_namesake<'a>(rig: &Rig, others: impl Iterator<Item = &'a Rig>) -> Option<&'a Rig> {
    let order = |r: &Rig| (r.metadata.creation_timestamp.clone(), r.name_any());
    others
        .filter(|other| other.namespace() == rig.namespace())
        .filter(|other| other.spec.name == rig.spec.name)
        .filter(|other| other.town() != rig.town())
        .filter(|other| other.metadata.deletion_timestamp.is_none())
        .filter(|other| order(other) < order(rig))
        .min_by_key(|other| order(other))
}

/// Whether the rig must stop taking new work.
pub fn is_draining(rig: &Rig) -> bool {
    rig.metadata.deletion_timestamp.is_some()
        || rig.annotations().contains_key(naming::DRAINING_ANNOTATION)
}

async fn apply_rig(rig: Arc<Rig>, ctx: &Context) -> Result<Action> {
    let (rig_ref, town) = match resolve(&rig, ctx) {
        Ok(resolved) => resolved,
        Err(reason) => {
            write_unresolved_status(&rig, ctx, reason).await?;
            return Ok(Action::requeue(UNRESOLVED_RECHECK));
        }
    };
    let agents = RigAgents::new(ctx, town.clone(), rig.clone(), rig_ref.clone());
    reconcile_rig_objects(&rig, &rig_ref, &town, ctx).await?;
    let witness = reconcile_singleton(&agents, AgentRole::Witness, ctx).await?;
    let refinery = reconcile_singleton(&agents, AgentRole::Refinery, ctx).await?;
    let crew = reconcile_crew(&agents, ctx).await?;
    let housekeeping = polecat_housekeeping(&rig, &rig_ref, ctx).await?;

    let view = ctx.beads_views.get(&rig_ref.namespace, &rig_ref.town);
    let beads = match view.as_deref().map(|v| &v.result) {
        Some(Ok((_, summary))) => Ok(summary.rig(&rig_ref.name)),
        Some(Err(error)) => Err(error.clone()),
        None => Err("beads has not been read for this town yet".to_string()),
    };
    let draining = rig
        .annotations()
        .contains_key(naming::DRAINING_ANNOTATION)
        .then(|| "the town is being deleted: no new polecats".to_string());
    let previous = ctx.statuses.current(rig.as_ref(), rig.status.as_ref());
    let observation = RigObservation {
        previous: previous.as_ref(),
        generation: rig.metadata.generation,
        now: Timestamp::now(),
        draining,
        unresolved: None,
        beads,
        witness,
        refinery,
        crew_declared: crew.declared,
        crew_ready: crew.ready,
        crew_blocked: crew.blocked,
        quota_applied: get(
            &ctx.cache.quotas,
            &rig_ref.namespace,
            &naming::polecat_quota(&rig_ref.object_name),
        )
        .is_some(),
        overtime: housekeeping.overtime,
    };
    let (status, transitions) = rig_status(&observation);
    apply::patch_status(
        &ctx.api::<Rig>(&rig_ref.namespace),
        &ctx.statuses,
        rig.as_ref(),
        previous.as_ref(),
        &status,
    )
    .await?;
    publish_transitions(ctx, rig.as_ref(), transitions).await;
    Ok(Action::requeue(
        housekeeping
            .recheck
            .unwrap_or(town.spec.sync_interval())
            .min(town.spec.sync_interval()),
    ))
}

async fn write_unresolved_status(rig: &Rig, ctx: &Context, reason: String) -> Result<()> {
    tracing::warn!(%reason, "rig cannot be reconciled yet");
    let previous = ctx.statuses.current(rig, rig.status.as_ref());
    let observation = RigObservation {
        previous: previous.as_ref(),
        generation: rig.metadata.generation,
        now: Timestamp::now(),
        draining: None,
        unresolved: Some(reason),
        beads: Err("unresolved".into()),
        witness: SingletonObservation {
            enabled: false,
            pod_name: None,
            ready: false,
            blocked: None,
        },
        refinery: SingletonObservation {
            enabled: false,
            pod_name: None,
            ready: false,
            blocked: None,
        },
        crew_declared: 0,
        crew_ready: 0,
        crew_blocked: None,
        quota_applied: false,
        overtime: vec![],
    };
    let (status, transitions) = rig_status(&observation);
    let namespace = rig.namespace().unwrap_or_default();
    apply::patch_status(
        &ctx.api::<Rig>(&namespace),
        &ctx.statuses,
        rig,
        previous.as_ref(),
        &status,
    )
    .await?;
    for transition in transitions.iter().filter(|t| !t.status) {
        publish(ctx, rig, &transition.reason, false, &transition.message).await;
    }
    Ok(())
}

/// The rig's own objects, in dependency order.
async fn reconcile_rig_objects(
    rig: &Rig,
    rig_ref: &RigRef,
    town: &GasTown,
    ctx: &Context,
) -> Result<()> {
    let ns = &rig_ref.namespace;
    let cache = &ctx.cache;
    apply_claim(ctx, ns, build::workspace_claim(rig_ref, &rig.spec)).await?;

    let (account, role, binding) = build::agent_rbac(rig_ref);
    let rbac_name = naming::rig_agents(&rig_ref.object_name);
    apply::apply(
        &ctx.api::<ServiceAccount>(ns),
        get(&cache.service_accounts, ns, &rbac_name).as_deref(),
        &account,
    )
    .await?;
    apply::apply(
        &ctx.api::<Role>(ns),
        get(&cache.roles, ns, &rbac_name).as_deref(),
        &role,
    )
    .await?;
    apply::apply(
        &ctx.api::<RoleBinding>(ns),
        get(&cache.role_bindings, ns, &rbac_name).as_deref(),
        &binding,
    )
    .await?;

    let endpoint = town
        .spec
        .daemon
        .endpoint(&naming::bd_daemon(&town.name_any()));
    let policies = ctx.api::<NetworkPolicy>(ns);
    let observed_policy = get(&cache.network_policies, ns, &rbac_name);
    match build::network_policy(
        rig_ref,
        &rig.spec,
        [endpoint.port, endpoint.http_port],
        town.spec.daemon.in_cluster(),
    ) {
        Some(policy) => apply::apply(&policies, observed_policy.as_deref(), &policy)
            .await
            .map(|_| ())?,
        None => apply::delete(&policies, observed_policy.as_deref())
            .await
            .map(|_| ())?,
    }

    let class = build::polecat_priority_class(rig_ref);
    let classes: Api<PriorityClass> = Api::all(ctx.client.clone());
    let observed_class = cache
        .priority_classes
        .get(&ObjectRef::new(&rig_ref.priority_class()));
    apply::apply(&classes, observed_class.as_deref(), &class).await?;
    let quota = build::polecat_quota(rig_ref, &rig.spec).map_err(|e| Error::Build {
        what: format!("the polecat ResourceQuota of rig {}", rig_ref.name),
        reason: e.to_string(),
    })?;
    apply::apply(
        &ctx.api::<ResourceQuota>(ns),
        get(&cache.quotas, ns, &quota.name_any()).as_deref(),
        &quota,
    )
    .await?;

    let pool = build::polecat_pool(rig_ref, &rig.spec);
    apply::apply(
        &ctx.api::<AgentPool>(ns),
        get(&cache.pools, ns, &pool.name_any()).as_deref(),
        &pool,
    )
    .await?;
    Ok(())
}

async fn reconcile_singleton(
    agents: &RigAgents,
    role: AgentRole,
    ctx: &Context,
) -> Result<SingletonObservation> {
    let spec = match role {
        AgentRole::Witness => agents.rig.spec.witness(),
        _ => agents.rig.spec.refinery(),
    };
    let ns = &agents.rig_ref.namespace;
    let api: Api<Pod> = ctx.api(ns);
    let pod_name = naming::agent_pod(
        &agents.rig_ref.town,
        Some(&agents.rig_ref.name),
        role,
        role.as_str(),
    );
    let observed = get(&ctx.cache.pods, ns, &pod_name);
    if !spec.enabled() {
        apply::delete(&api, observed.as_deref()).await?;
        return Ok(SingletonObservation {
            enabled: false,
            pod_name: None,
            ready: false,
            blocked: None,
        });
    }
    if let Some(reason) = agents.blocked() {
        return Ok(SingletonObservation {
            enabled: true,
            pod_name: None,
            ready: false,
            blocked: Some(reason.to_string()),
        });
    }
    let template = agents.template(
        role,
        None,
        Some(&gastown_api::template::PodTemplate::from(&spec)),
    );
    let desired = match agents.pod(
        role,
        role.as_str(),
        &bead_id(&agents.rig_ref.name, role, role.as_str()),
        &template,
    ) {
        Ok(pod) => pod,
        Err(error) => {
            return Ok(SingletonObservation {
                enabled: true,
                pod_name: None,
                ready: false,
                blocked: Some(error.to_string()),
            });
        }
    };
    let outcome = apply::ensure_pod(&api, observed.as_deref(), desired).await?;
    Ok(SingletonObservation {
        enabled: true,
        pod_name: Some(pod_name),
        ready: outcome == PodOutcome::Unchanged && observed.as_deref().is_some_and(pod_ready),
        blocked: None,
    })
}

struct CrewObservation {
    declared: usize,
    ready: usize,
    blocked: Option<String>,
}

/// Applies one of the rig's claims, within what the API server lets change
/// on an existing claim ([`build::claim_over`]); what the spec asks that
/// cannot be applied is logged with the claim's name.
async fn apply_claim(ctx: &Context, ns: &str, desired: PersistentVolumeClaim) -> Result<()> {
    let observed = get(&ctx.cache.claims, ns, &desired.name_any());
    let (claim, not_applied) = build::claim_over(desired, observed.as_deref());
    if let Some(not_applied) = not_applied {
        tracing::warn!(
            claim = %claim.name_any(),
            "the spec asks for what an existing claim cannot change: {not_applied}"
        );
    }
    apply::apply(&ctx.api(ns), observed.as_deref(), &claim).await?;
    Ok(())
}

async fn reconcile_crew(agents: &RigAgents, ctx: &Context) -> Result<CrewObservation> {
    let rig_ref = &agents.rig_ref;
    let ns = &rig_ref.namespace;
    let pods: Api<Pod> = ctx.api(ns);
    let claims: Api<PersistentVolumeClaim> = ctx.api(ns);
    let declared = agents.rig.spec.crew();
    let mut ready = 0;
    let mut blocked = agents.blocked().map(str::to_string);
    for member in declared {
        let template = agents.template(AgentRole::Crew, None, Some(&member.as_layer()));
        if let Some(claim) =
            build::crew_claim(rig_ref, member, &template.workspace_volume(AgentRole::Crew))
        {
            apply_claim(ctx, ns, claim).await?;
        }
        if blocked.is_some() {
            continue;
        }
        let pod_name = naming::agent_pod(
            &rig_ref.town,
            Some(&rig_ref.name),
            AgentRole::Crew,
            &member.name,
        );
        let observed = get(&ctx.cache.pods, ns, &pod_name);
        match agents.pod(
            AgentRole::Crew,
            &member.name,
            &bead_id(&rig_ref.name, AgentRole::Crew, &member.name),
            &template,
        ) {
            Ok(desired) => {
                let outcome = apply::ensure_pod(&pods, observed.as_deref(), desired).await?;
                if outcome == PodOutcome::Unchanged && observed.as_deref().is_some_and(pod_ready) {
                    ready += 1;
                }
            }
            Err(error) => blocked = Some(error.to_string()),
        }
    }
    // Crew members removed from the spec lose their pod; their claim follows reclaimPolicy.
    let names: BTreeSet<&str> = declared.iter().map(|m| m.name.as_str()).collect();
    let selector = [
        (labels::TOWN, rig_ref.town.as_str()),
        (labels::RIG, rig_ref.name.as_str()),
        (labels::ROLE, "crew"),
    ];
    // Crew pods a pool made for beads-spawned crew are the pool's to manage.
    for pod in
        pods_of(&ctx.cache.pods, ns, &selector).filter(|p| !p.labels().contains_key(labels::POOL))
    {
        let member = pod.labels().get(labels::AGENT).cloned().unwrap_or_default();
        if names.contains(member.as_str()) {
            continue;
        }
        apply::delete(&pods, Some(pod.as_ref())).await?;
        if agents.rig.spec.workspace().reclaim_policy() == ReclaimPolicy::Delete {
            let claim = get(
                &ctx.cache.claims,
                ns,
                &naming::crew_workspace(&rig_ref.object_name, &member),
            );
            apply::delete(&claims, claim.as_deref()).await?;
        }
    }
    Ok(CrewObservation {
        declared: declared.len(),
        ready,
        blocked,
    })
}

struct Housekeeping {
    overtime: Vec<String>,
    /// When the next finished pod becomes due for cleanup, or overtime starts.
    recheck: Option<Duration>,
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
async fn polecat_housekeeping(rig: &Rig, rig_ref: &RigRef, ctx: &Context) -> Result<Housekeeping> {
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
                apply::delete(&api, Some(pod.as_ref())).await?;
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

/// The rig's drain-first teardown, one step per reconcile.
async fn cleanup_rig(rig: Arc<Rig>, ctx: &Context) -> Result<Teardown> {
    let ns = rig.namespace().unwrap_or_default();
    let Some(rig_ref) = RigRef::new(&rig) else {
        // Never resolved: it made nothing that needs an ordered teardown.
        return Ok(Teardown::Done);
    };
    let cache = &ctx.cache;
    let town = get(&cache.towns, &ns, &rig_ref.town);
    let grace = town.as_ref().map_or(Duration::from_secs(600), |t| {
        t.spec.termination_grace_period()
    });
    let started = rig
        .metadata
        .deletion_timestamp
        .as_ref()
        .map_or_else(Timestamp::now, |t| t.0);
    let deadline = started
        .checked_add(SignedDuration::try_from(grace).unwrap_or_default())
        .unwrap_or(started);

    let rig_pods: Vec<Arc<Pod>> = pods_of(
        &cache.pods,
        &ns,
        &[
            (labels::TOWN, rig_ref.town.as_str()),
            (labels::RIG, rig_ref.name.as_str()),
        ],
    )
    .collect();
    let of_roles = |roles: &[AgentRole], running_only: bool| -> Vec<Tracked> {
        rig_pods
            .iter()
            .filter(|p| {
                p.labels()
                    .get(labels::ROLE)
                    .is_some_and(|r| roles.iter().any(|role| role.as_str() == r))
            })
            .filter(|p| !running_only || !pod_finished(p))
            .map(|p| Tracked::new("Pod", p.name_any(), p.metadata.deletion_timestamp.is_some()))
            .collect()
    };
    let pools: Vec<Tracked> = cache
        .pools
        .state()
        .iter()
        .filter(|p| {
            p.namespace().as_deref() == Some(&ns) && p.spec.rig.as_deref() == Some(&rig_ref.name)
        })
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|o| Some(&o.uid) == rig.uid().as_ref())
        })
        .map(|p| {
            Tracked::new(
                "AgentPool",
                p.name_any(),
                p.metadata.deletion_timestamp.is_some(),
            )
        })
        .collect();
    let reclaim = rig.spec.workspace().reclaim_policy() == ReclaimPolicy::Delete;
    let claims: Vec<Tracked> = if reclaim {
        cache
            .claims
            .state()
            .iter()
            .filter(|c| c.namespace().as_deref() == Some(&ns))
            .filter(|c| {
                c.labels().get(labels::TOWN) == Some(&rig_ref.town)
                    && c.labels().get(labels::RIG) == Some(&rig_ref.name)
            })
            .map(|c| {
                Tracked::new(
                    "PersistentVolumeClaim",
                    c.name_any(),
                    c.metadata.deletion_timestamp.is_some(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let class = cache
        .priority_classes
        .get(&ObjectRef::new(&rig_ref.priority_class()))
        .map(|c| {
            vec![Tracked::new(
                "PriorityClass",
                c.name_any(),
                c.metadata.deletion_timestamp.is_some(),
            )]
        })
        .unwrap_or_default();
    let stages = vec![
        Stage::Drain {
            active: of_roles(&[AgentRole::Polecat], true),
            deadline,
        },
        Stage::Remove {
            what: "finished polecat pods",
            remaining: of_roles(&[AgentRole::Polecat], false),
        },
        Stage::Remove {
            what: "agent pools",
            remaining: pools,
        },
        Stage::Remove {
            what: "witness, refinery and crew pods",
            remaining: of_roles(
                &[AgentRole::Witness, AgentRole::Refinery, AgentRole::Crew],
                false,
            ),
        },
        Stage::Remove {
            what: "workspace claims (reclaimPolicy: Delete)",
            remaining: claims,
        },
        Stage::Remove {
            what: "priority classes",
            remaining: class,
        },
    ];
    let action = teardown::next_action(&stages, Timestamp::now());
    tracing::info!(?action, "rig teardown");
    match action {
        teardown::Action::StopNewWork(_) => unreachable!(
            "the rig teardown has no stop-new-work stage: deletion itself stops new polecats"
        ),
        teardown::Action::Wait {
            progress,
            recheck_after,
        } => {
            set_draining(&rig, ctx, &progress).await?;
            Ok(Teardown::Continue(Action::requeue(recheck_after)))
        }
        teardown::Action::Delete(objects) => {
            for object in &objects {
                delete_tracked(ctx, &ns, object).await?;
            }
            let names: Vec<String> = objects
                .iter()
                .map(|o| format!("{} {}", o.kind, o.name))
                .collect();
            set_draining(&rig, ctx, &format!("deleting {}", names.join(", "))).await?;
            Ok(Teardown::Continue(Action::requeue(
                teardown::REMOVAL_RECHECK,
            )))
        }
        teardown::Action::Done => Ok(Teardown::Done),
    }
}

/// Shows teardown progress in status: phase Draining, Draining True and Ready
/// False, both saying why.
async fn set_draining(rig: &Rig, ctx: &Context, progress: &str) -> Result<()> {
    let observed = vec![
        Observed::new(condition::DRAINING, true, "Draining", progress),
        Observed::new(condition::READY, false, "Draining", progress),
    ];
    show_draining(ctx, rig, rig.status.as_ref(), observed).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::api::ObjectMeta;

    fn rig(object: &str, town: &str, rig_name: &str, created_second: i64) -> Rig {
        let mut rig = Rig::new(
            object,
            serde_json::from_value(serde_json::json!({"name": rig_name})).unwrap(),
        );
        rig.metadata = ObjectMeta {
            name: Some(object.into()),
            namespace: Some("ns".into()),
            labels: Some([(labels::TOWN.to_string(), town.to_string())].into()),
            creation_timestamp: Some(Time(
                Timestamp::from_second(1_700_000_000 + created_second).unwrap(),
            )),
            ..ObjectMeta::default()
        };
        rig
    }

    #[test]
    fn the_first_town_to_use_a_rig_name_in_a_namespace_keeps_it() {
        let first = rig("a-gastown", "a", "gastown", 1);
        let second = rig("b-gastown", "b", "gastown", 2);
        let same_town_other_object = rig("a-gastown-2", "a", "gastown", 0);
        let other_name = rig("c-beads", "c", "beads", 0);
        let mut other_namespace = rig("d-gastown", "d", "gastown", 0);
        other_namespace.metadata.namespace = Some("elsewhere".into());
        let all = [
            first.clone(),
            second.clone(),
            same_town_other_object,
            other_name,
            other_namespace,
        ];
        // Town a's earliest Rig of that name holds it against town b ...
        assert_eq!(
            older_namesake(&second, all.iter()).map(|r| r.name_any()),
            Some("a-gastown-2".to_string())
        );
        // ... and a town's own Rigs never block each other.
        assert!(older_namesake(&first, all.iter()).is_none());

        // Created in the same second: the first by name wins.
        let twin = rig("0-gastown", "z", "gastown", 1);
        let both = [first.clone(), twin.clone()];
        assert!(older_namesake(&twin, both.iter()).is_none());
        assert_eq!(
            older_namesake(&first, both.iter()).map(|r| r.name_any()),
            Some("0-gastown".to_string())
        );

        // A first user being deleted lets the next one in.
        let mut leaving = first.clone();
        leaving.metadata.deletion_timestamp = first.metadata.creation_timestamp.clone();
        assert!(older_namesake(&second, [leaving].iter()).is_none());
    }
}

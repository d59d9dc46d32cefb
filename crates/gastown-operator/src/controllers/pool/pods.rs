//! Acting on the pool's pods as the plan says: deletions, creations and
//! replacements, and what the API server's refusals mean for the agents'
//! rows. The only writes to pods the pool makes while it lives; separate from
//! the decision, which stays pure, and from the reports to beads, which
//! depend on what was actually deleted here.

use beads_client::AgentBead;
use gastown_api::agentpool::AgentPhase;
use gastown_api::{AgentPool, AgentRole};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;

use super::POOL_LABEL;
use super::plan::{Plan, Report};
use crate::context::Context;
use crate::controllers::agents::RigAgents;
use crate::controllers::pool_status::{AgentRow, Disposition, Waiting};
use crate::controllers::rollout_step;
use crate::error::{Error, Result};
use crate::reconcile::agent_slot::{AgentSlot, Want};
use crate::reconcile::desired::Objects;
use crate::reconcile::kinds::cached;
use crate::write;

/// Why a pod could not be created.
#[derive(Debug, PartialEq)]
enum CreateRefused {
    Quota(String),
    Build(String),
}

/// What a refused creation means for its agent alone: a 403 "exceeded quota"
/// (the agent waits for room), or a 422 for a pod the API server finds invalid
/// — say, an agent name from beads that is no valid pod name or label value —
/// which blocks that agent with the server's message while the pool's other
/// agents go on. Anything else fails the reconcile.
fn creation_refusal(error: &Error) -> Option<CreateRefused> {
    match error {
        Error::Kube {
            source: kube::Error::Api(status),
            ..
        } => match status.code {
            403 if status.message.contains("exceeded quota") => {
                Some(CreateRefused::Quota(status.message.clone()))
            }
            422 => Some(CreateRefused::Build(format!(
                "the API server refused the pod: {}",
                status.message
            ))),
            _ => None,
        },
        _ => None,
    }
}

/// The pod of `bead`, labelled as this pool's.
fn build_pod(agents: &RigAgents, pool: &AgentPool, bead: &AgentBead) -> Result<Pod, CreateRefused> {
    let role = pool.spec.role;
    // Layer 5 (per-agent values from beads): beads carries none the pod
    // template could use today.
    let template = agents.template(role, pool.spec.template.as_ref(), None);
    let mut pod = agents
        .pod(role, &bead.name, &bead.id, &template)
        .map_err(|e| CreateRefused::Build(e.to_string()))?;
    pod.labels_mut()
        .insert(POOL_LABEL.to_string(), pool.name_any());
    Ok(pod)
}

async fn create_pod(
    api: &Api<Pod>,
    agents: &RigAgents,
    pool: &AgentPool,
    bead: &AgentBead,
) -> Result<Result<(), CreateRefused>> {
    let pod = match build_pod(agents, pool, bead) {
        Ok(pod) => pod,
        Err(refused) => return Ok(Err(refused)),
    };
    match write::ensure_pod(api, None, pod).await {
        Ok(_) => Ok(Ok(())),
        Err(error) => match creation_refusal(&error) {
            Some(refused) => Ok(Err(refused)),
            None => Err(error),
        },
    }
}

/// What acting on the plan left to report and show.
pub(super) struct Acted {
    /// The plan's reports, then the deregisters of beads whose pods were
    /// deleted here.
    pub reports: Vec<Report>,
    /// The plan's rows, with agents whose creation was refused now waiting.
    pub rows: Vec<AgentRow>,
    /// Creations left for the next pass (`spec.spawnBurst`).
    pub deferred_creations: usize,
}

/// Does what `plan` says to the pods of `pool` in the rig of `agents`:
/// deletions first (they free room), then creations, then replacements.
pub(super) async fn act(
    ctx: &Context,
    agents: &RigAgents,
    pool: &AgentPool,
    plan: &Plan,
) -> Result<Acted> {
    let namespace = agents.rig_ref.namespace.as_str();
    let api: Api<Pod> = ctx.api(namespace);
    let mut reports = plan.reports.clone();
    for deletion in &plan.delete {
        let observed = cached::<Pod>(ctx, namespace, &deletion.pod);
        if write::delete(&api, observed.as_deref()).await? {
            tracing::info!(pod = %deletion.pod, why = %deletion.why, "deleted agent pod");
            if let Some(agent_id) = &deletion.deregister {
                reports.push(Report::Deregister {
                    agent_id: agent_id.clone(),
                });
            }
        }
    }
    let mut rows = plan.rows.clone();
    let mut quota_refusal_seen: Option<String> = None;
    // At most spawnBurst creations a pass; the rest follow on the next.
    let burst = pool.spec.spawn_burst();
    let deferred_creations = plan.create.len().saturating_sub(burst);
    for bead in plan.create.iter().take(burst) {
        let refused = match &quota_refusal_seen {
            // Once the quota refused one pod, the next would be refused too.
            Some(message) => Some(Waiting::Quota(message.clone())),
            None => match create_pod(&api, agents, pool, bead).await? {
                Ok(()) => {
                    tracing::info!(agent = %bead.name, bead = %bead.id, "created agent pod");
                    None
                }
                Err(CreateRefused::Quota(message)) => {
                    quota_refusal_seen = Some(message.clone());
                    Some(Waiting::Quota(message))
                }
                Err(CreateRefused::Build(reason)) => {
                    tracing::warn!(agent = %bead.name, bead = %bead.id, %reason, "cannot create agent pod");
                    Some(Waiting::Blocked(reason))
                }
            },
        };
        if let Some(waiting) = refused
            && let Some(row) = rows.iter_mut().find(|r| r.name == bead.name)
        {
            row.pod_name = None;
            row.phase = Some(AgentPhase::Pending);
            row.disposition = Disposition::Waiting(waiting);
        }
    }
    keep_current(ctx, agents, pool, plan).await?;
    Ok(Acted {
        reports,
        rows,
        deferred_creations,
    })
}

/// Keeps the pool's restarting agents (not polecats) on their current spec:
/// a failed pod is replaced at once, an outdated one as the rollout paces it
/// — one at a time with the rig's own agents, a busy crew member once idle
/// ([`crate::reconcile::rollout`]).
async fn keep_current(
    ctx: &Context,
    agents: &RigAgents,
    pool: &AgentPool,
    plan: &Plan,
) -> Result<()> {
    if plan.keep_current.is_empty() {
        return Ok(());
    }
    let rig_ref = &agents.rig_ref;
    let namespace = rig_ref.namespace.as_str();
    let role = pool.spec.role;
    // A pod that can no longer be built (say, its image was removed from
    // the templates) keeps running rather than being replaced by nothing.
    let built: Vec<(&AgentBead, AgentSlot)> = plan
        .keep_current
        .iter()
        .filter_map(|bead| {
            Some((
                bead,
                AgentSlot::running(role, build_pod(agents, pool, bead).ok()?),
            ))
        })
        .collect();
    let slots: Vec<&AgentSlot> = built.iter().map(|(_, slot)| slot).collect();
    let pool_name = pool.name_any();
    let mut beside =
        rollout_step::down_beside(ctx, namespace, &rig_ref.town, &rig_ref.name, |pod| {
            pod.labels().get(POOL_LABEL) == Some(&pool_name)
        });
    // The rig's own agents roll first: while one of them is not settled, the
    // Rig controller may be replacing it at this very moment.
    beside.extend(rig_agents_unsettled(ctx, agents));
    let busy = |slot: &AgentSlot| {
        let (bead, _) = built.iter().find(|(_, s)| s.pod_name == slot.pod_name)?;
        if role != AgentRole::Crew {
            return None;
        }
        rollout_step::busy_reason(bead.hook_bead.as_deref(), bead.state.as_ref())
    };
    let mut pods = Objects::default();
    for slot in &slots {
        slot.add_to(&mut pods);
    }
    let paced = rollout_step::pace(
        ctx,
        namespace,
        &slots,
        &beside,
        busy,
        rollout_step::policy(&agents.town),
        &mut pods,
    );
    let api: Api<Pod> = ctx.api(namespace);
    for desired in pods.wanted {
        let pod_name = desired.name_any();
        let observed = cached::<Pod>(ctx, namespace, &pod_name);
        let outcome = write::ensure_pod(&api, observed.as_deref(), desired).await?;
        if outcome == write::PodOutcome::Replaced {
            tracing::info!(pod = %pod_name, "replaced a failed or outdated agent pod");
        }
    }
    rollout_step::tell(ctx, pool, namespace, &paced).await
}

/// The rig's own persistent agents (Witness, Refinery, declared crew) that
/// are not settled on the spec the Rig's pure build wants now: outdated,
/// missing (being replaced), going away or not Ready. While any is, the Rig
/// controller may be replacing one, so the pool replaces none of its own.
fn rig_agents_unsettled(ctx: &Context, agents: &RigAgents) -> Vec<String> {
    let Ok(built) =
        crate::controllers::rig::build::build(&agents.rig, &agents.rig_ref, &agents.town, agents)
    else {
        return Vec::new();
    };
    let namespace = agents.rig_ref.namespace.as_str();
    [&built.witness, &built.refinery]
        .into_iter()
        .chain(&built.crew)
        .filter_map(|slot| {
            let Want::Pod(wanted) = &slot.want else {
                return None;
            };
            let hash = |pod: &Pod| {
                pod.annotations()
                    .get(write::POD_SPEC_HASH_ANNOTATION)
                    .cloned()
            };
            let settled = cached::<Pod>(ctx, namespace, &slot.pod_name).is_some_and(|observed| {
                observed.metadata.deletion_timestamp.is_none()
                    && crate::controllers::pod_ready(&observed)
                    && hash(&observed) == hash(wanted)
            });
            (!settled).then(|| slot.pod_name.clone())
        })
        .collect()
}

/// How many of the pool's running polecats run a spec older than the one a
/// polecat would get now. They are never replaced (they end on their own);
/// status says so.
pub(super) fn polecats_on_an_older_spec(
    ctx: &Context,
    agents: &RigAgents,
    pool: &AgentPool,
    known: &[AgentBead],
) -> usize {
    super::dereference::pool_pods(ctx, pool)
        .iter()
        .filter(|pod| {
            pod.metadata.deletion_timestamp.is_none() && !crate::controllers::pod_finished(pod)
        })
        .filter(|pod| {
            let bead_id = pod
                .annotations()
                .get(gastown_api::labels::BEAD_ID_ANNOTATION);
            let Some(bead) = known.iter().find(|b| Some(&b.id) == bead_id) else {
                return false;
            };
            let Ok(now) = build_pod(agents, pool, bead) else {
                return false;
            };
            pod.annotations().get(write::POD_SPEC_HASH_ANNOTATION)
                != Some(&write::pod_spec_hash(&now))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exceeded_quota_or_an_invalid_pod_concerns_one_agent_and_nothing_else_does() {
        let api_error = |code: u16, message: &str| Error::Kube {
            action: "apply Pod ns/x".into(),
            source: kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: message.into(),
                ..Default::default()
            })),
        };
        assert_eq!(
            creation_refusal(&api_error(
                403,
                "pods \"x\" is forbidden: exceeded quota: polecats"
            )),
            Some(CreateRefused::Quota(
                "pods \"x\" is forbidden: exceeded quota: polecats".into()
            ))
        );
        assert_eq!(
            creation_refusal(&api_error(422, "Pod \"gt-r-polecat-Nux\" is invalid")),
            Some(CreateRefused::Build(
                "the API server refused the pod: Pod \"gt-r-polecat-Nux\" is invalid".into()
            ))
        );
        assert_eq!(creation_refusal(&api_error(403, "forbidden by RBAC")), None);
        assert_eq!(creation_refusal(&api_error(500, "exceeded quota")), None);
        assert_eq!(creation_refusal(&api_error(409, "conflict")), None);
    }
}

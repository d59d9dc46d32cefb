//! The AgentPool controller — beads decides, the operator does.
//!
//! A pool belongs to the Rig whose `spec.name` is its `spec.rig` (in its
//! namespace) and to that rig's town. Each reconcile reads beads' view of the
//! town (fetched once per sync by the GasTown controller, never queried here),
//! decides with the pure [`plan`] what to create, delete and report, does it,
//! and writes the status. The rules, all derived afresh on every reconcile:
//!
//! - **Desired agents** are the non-closed agent beads of the rig and role that
//!   carry every `beadSelector` label and whose state is in the live family.
//!   Each gets a pod named `gt-<rig>-<role>-<agent>`, created in bead-id order,
//!   labelled [`POOL_LABEL`]`=<pool>`. A pool acts only on pods carrying its
//!   own label; an agent whose pod name is taken by another pool or
//!   controller, or that the Rig declares itself (an enabled witness or
//!   refinery, a `spec.crew` member), is left to them.
//! - **Deletion**: a pod is deleted only when its bead is finished (`done`,
//!   `nuked`, `stopping`, `stopped`, `failed`, `dead`, or closed) or has
//!   vanished from beads' answer. A bead that is live but no longer selected,
//!   or in a state this operator does not know, keeps its pod. A polecat pod
//!   that has already ended is kept for its logs: the Rig deletes it
//!   `cleanupAfter` after it ended.
//! - **Safety**: when beads could not be read (or has not been read yet),
//!   nothing is created, deleted or reported. When beads answers but the answer
//!   is suspicious — the daemon calls itself unhealthy, or it lists no agent
//!   bead at all for the whole town while the pool has pods — pods may be
//!   created but none is deleted. Both show in the `BeadsUnavailable` condition.
//! - **Recreation only when beads asks**: a polecat's pod that ended (or
//!   vanished) is not recreated while its bead stays live; beads is told
//!   `terminated` and the witness decides. beads asks for a new polecat pod by
//!   clearing the pod record of a live bead (`agent_pod_deregister`, as a new
//!   sling does); a polecat pod is created only for a live bead without a pod
//!   record. Pods of other roles restart in place (`restartPolicy: Always`) and
//!   a failed or outdated one is replaced ([`crate::write::ensure_pod`]).
//! - **Limits**: at most `min(pool.maxCount, rig polecats.maxCount)` polecat
//!   pods not yet finished (other roles: `maxCount` when set). An agent over
//!   the limit, or refused by the ResourceQuota (403 "exceeded quota"), is
//!   `Pending` with the reason; the pool looks again after [`LIMIT_RETRY`].
//! - **Blocked**: while a Secret the pods need is missing, or (polecats) the
//!   rig's PriorityClass does not exist yet, agents wait with that reason.
//! - **Draining** (the Rig carries [`naming::DRAINING_ANNOTATION`] or is being
//!   deleted): no new polecat pods.
//! - **Reports to beads**, compared with the pod fields beads already keeps on
//!   the agent bead so that a steady state sends nothing: `agent_pod_register`
//!   when a pod's name, IP or node is new to beads, else `agent_pod_status`
//!   when its status changed (Pending → `pending`, Running → `running`,
//!   deletionTimestamp → `terminating`, Succeeded/Failed → `terminated`; a pod
//!   that has ended stays `terminated` while it is removed), and
//!   `agent_pod_deregister` once a finished bead's pod is gone.
//! - **Deletion of the pool** (finalizer): no new pods; polecats may finish
//!   until the town's `terminationGracePeriod` after the deletion began (the
//!   Rig and town teardowns may remove them sooner), then the remaining active
//!   ones and every pod of other roles are deleted. Ended polecat pods are left
//!   to the Rig's `cleanupAfter`.
//!
//! The code follows the reconcile: `dereference` reads what the decision is
//! made from, `plan` decides (pure, and where most tests are), `pods` acts on
//! the pool's pods and `report` tells beads; this module strings them
//! together, records the metrics and writes the status.

mod cleanup;
mod dereference;
mod plan;
mod pods;
mod report;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use beads_client::AgentBead;
use gastown_api::{AgentPool, AgentRole, labels};
use kube::ResourceExt;
use kube::runtime::controller::Action;

use self::dereference::{
    Unresolved, agent_beads, agents_elsewhere, missing_priority_class, observed_pods, pod_limit,
    resolve,
};
use self::pods::{Acted, act};
use self::report::send_reports;
use super::agents::RigAgents;
use super::pool_status::{
    AgentRow, BeadsHealth, Disposition, PoolObservation, Waiting, pool_status,
};
use super::{pod_finished, pods_of, reconcile_with, write_status};
use crate::builders::rig::RigRef;
use crate::conditions::Baseline;
use crate::context::Context;
use crate::error::Result;
use crate::metrics::PoolSample;
use crate::naming;
use crate::reconcile::secrets::MissingSecrets;
use crate::relations::{drain_requested, rig_draining};

pub use self::plan::{BeadsAnswer, Deletion, ObservedPod, Plan, PlanInput, Report, distrust, plan};

pub const CONTROLLER: &str = "agentpool";

/// Label on every pod a pool creates, naming the pool.
pub use gastown_api::labels::POOL as POOL_LABEL;

/// How soon a pool with agents waiting for room (maxCount, quota) looks again.
pub const LIMIT_RETRY: Duration = Duration::from_secs(30);
/// How soon a pool looks again after one of its pods ended (the seed's
/// "5 s after an agent pod ends": beads usually updates the agent by then).
pub const POD_ENDED_RECHECK: Duration = Duration::from_secs(5);
/// How soon a pool that created a burst of pods creates the next.
pub const SPAWN_BURST_RECHECK: Duration = Duration::from_millis(200);
/// How soon a pool that cannot be resolved (no rig, no town) looks again;
/// the rig and town watches usually trigger it sooner.
pub const UNRESOLVED_RETRY: Duration = Duration::from_secs(60);

pub async fn reconcile(pool: Arc<AgentPool>, ctx: Arc<Context>) -> Result<Action> {
    let context: &Context = &ctx;
    reconcile_with(
        CONTROLLER,
        naming::POOL_FINALIZER,
        pool,
        context,
        |pool| async move { converge(&pool, context).await },
        |pool| async move { cleanup::cleanup(&pool, context).await },
    )
    .await
}

/// One reconcile of a living pool: dereference, decide, act on the pods,
/// report to beads, record the metrics, write the status, and say when to
/// look again.
async fn converge(pool: &AgentPool, ctx: &Context) -> Result<Action> {
    let role = pool.spec.role;
    let resolved = match resolve(ctx, pool) {
        Ok(resolved) => resolved,
        Err(unresolved) => {
            // Only an edit of the pool changes its role.
            let retry = !matches!(unresolved, Unresolved::TownRole(_));
            write_unresolved(pool, ctx, unresolved).await?;
            return Ok(if retry {
                Action::requeue(UNRESOLVED_RETRY)
            } else {
                Action::await_change()
            });
        }
    };
    let rig_name = resolved.rig_ref.name.as_str();

    // Dereference: everything the decision is made from.
    let pods = observed_pods(ctx, pool, rig_name);
    let selector = pool.spec.bead_selector();
    let beads = agent_beads(
        ctx,
        &resolved.rig_ref,
        rig_name,
        role,
        &selector,
        pods.len(),
    );
    let elsewhere = agents_elsewhere(
        ctx,
        &resolved,
        rig_name,
        role,
        &pool.name_any(),
        &beads.known,
    );
    let missing = MissingSecrets::of(&resolved.town.spec, |name| {
        ctx.secret_exists(&resolved.rig_ref.namespace, name)
    });
    let agents = RigAgents::new(
        resolved.town.clone(),
        resolved.rig.clone(),
        resolved.rig_ref.clone(),
        &missing,
    );
    // A Rig applied on its own carries no mark while its town is drained by
    // request: the town's annotation stops its polecats too.
    let drained = drain_requested(&resolved.town).is_some();
    let draining = rig_draining(&resolved.rig) || drained;
    let missing_class = missing_priority_class(ctx, &resolved.rig_ref, role);

    // Decide.
    let decided = plan(&PlanInput {
        town: &resolved.rig_ref.town,
        rig: rig_name,
        role,
        selector: &selector,
        pods: &pods,
        beads: beads.answer(),
        elsewhere: &elsewhere,
        limit: pod_limit(pool, &resolved.rig),
        draining,
        blocked: agents.blocked().or(missing_class.as_deref()),
    });

    // Act, then tell beads and the metrics what is.
    let acted = act(ctx, &agents, pool, &decided).await?;
    send_reports(ctx, &resolved.town, &acted.reports).await;
    record_metrics(
        ctx,
        &resolved.rig_ref,
        role,
        beads.known_if_answered(),
        &pods,
    );

    // Status, then when to look again.
    let draining_reason = draining.then(|| {
        let why = if drained && resolved.town.metadata.deletion_timestamp.is_none() {
            " (its town is drained by request)"
        } else {
            ""
        };
        format!(
            "Rig {} is draining{why}: no new polecats start",
            resolved.rig.name_any()
        )
    });
    let older = (role == AgentRole::Polecat && beads.known_if_answered().is_some())
        .then(|| pods::polecats_on_an_older_spec(ctx, &agents, pool, &beads.known));
    show_agents(
        pool,
        ctx,
        draining_reason,
        decided.beads.clone(),
        &acted.rows,
        older,
    )
    .await?;
    Ok(Action::requeue(requeue_after(
        &decided,
        &acted,
        resolved.town.spec.sync_interval(),
    )))
}

/// Agents by beads state, active polecats and pod restarts, counted here so
/// that [`crate::metrics`] needs no controller types. `known` is `None` when
/// beads did not answer: the agent counts then stay as they were.
fn record_metrics(
    ctx: &Context,
    rig_ref: &RigRef,
    role: AgentRole,
    known: Option<&[AgentBead]>,
    pods: &[ObservedPod],
) {
    let namespace = rig_ref.namespace.as_str();
    let town = rig_ref.town.as_str();
    let rig = rig_ref.name.as_str();
    let agents_by_state = known.map(|known| {
        let mut by_state: BTreeMap<&str, i64> = BTreeMap::new();
        for bead in known {
            let state = bead.state.as_ref().map_or("unknown", |s| s.as_str());
            *by_state.entry(state).or_default() += 1;
        }
        by_state
    });
    let active_polecats = (role == AgentRole::Polecat).then(|| {
        let active = pods_of(
            &ctx.cache.pods,
            namespace,
            &[
                (labels::TOWN, town),
                (labels::RIG, rig),
                (labels::ROLE, role.as_str()),
            ],
        )
        .filter(|pod| !pod_finished(pod))
        .count();
        i64::try_from(active).unwrap_or(i64::MAX)
    });
    ctx.metrics.record_pool(&PoolSample {
        namespace,
        town,
        rig,
        role: role.as_str(),
        agents_by_state,
        active_polecats,
        restarts: pods
            .iter()
            .map(|pod| (pod.agent.as_str(), pod.restarts))
            .collect(),
    });
}

/// Writes the status of a resolved pool: its agents' rows as acting left
/// them, beads' health and whether the rig is draining.
async fn show_agents(
    pool: &AgentPool,
    ctx: &Context,
    draining: Option<String>,
    beads: BeadsHealth,
    rows: &[AgentRow],
    older_spec: Option<usize>,
) -> Result<()> {
    let previous = ctx.statuses.current(pool, pool.status.as_ref());
    let observation = PoolObservation {
        base: Baseline::of(pool, previous.as_ref()),
        unresolved: None,
        draining,
        beads,
        agents: rows.to_vec(),
        older_spec,
    };
    let (status, transitions) = pool_status(&observation);
    write_status(ctx, pool, previous.as_ref(), &status, transitions).await
}

/// When the pool looks again: soon after one of its pods ended (beads
/// updates the agent meanwhile), sooner than the town's sync interval while
/// agents wait for room, else at that interval.
fn requeue_after(decided: &Plan, acted: &Acted, interval: Duration) -> Duration {
    let pod_ended =
        !decided.delete.is_empty() || acted.reports.iter().any(Report::tells_termination);
    let waiting_for_room = acted.rows.iter().any(|row| {
        matches!(
            row.disposition,
            Disposition::Waiting(Waiting::MaxCount(_) | Waiting::Quota(_))
        )
    });
    if acted.deferred_creations > 0 {
        SPAWN_BURST_RECHECK
    } else if pod_ended {
        POD_ENDED_RECHECK
    } else if waiting_for_room {
        LIMIT_RETRY.min(interval)
    } else {
        interval
    }
}

/// Writes the status of a pool that cannot be reconciled, saying why.
async fn write_unresolved(pool: &AgentPool, ctx: &Context, unresolved: Unresolved) -> Result<()> {
    tracing::warn!(reason = %unresolved, "cannot reconcile the pool");
    let previous = ctx.statuses.current(pool, pool.status.as_ref());
    let observation = PoolObservation {
        base: Baseline::of(pool, previous.as_ref()),
        unresolved: Some(unresolved.to_string()),
        draining: None,
        beads: BeadsHealth::Answered,
        agents: Vec::new(),
        older_spec: None,
    };
    let (status, transitions) = pool_status(&observation);
    write_status(ctx, pool, previous.as_ref(), &status, transitions).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Controllers run reconciles on a multi-threaded runtime.
    #[allow(dead_code)]
    fn reconcile_is_send(pool: Arc<AgentPool>, ctx: Arc<Context>) -> impl Send {
        reconcile(pool, ctx)
    }
}

//! The Rig controller: the rig's workspace, RBAC, NetworkPolicy, polecat
//! ceiling and default polecat pool, its witness, refinery and crew pods,
//! polecat [`housekeeping`], status from beads and pods, and its own
//! drain-first [`cleanup`].
//!
//! A live rig goes through the shared pipeline: [`dereference`] (its town,
//! or a typed reason it has none) → validate (the missing Secrets block its
//! agents) → [`build`] (pure) → apply ([`crate::reconcile::applier`]) →
//! status.

pub mod build;
pub mod cleanup;
pub mod dereference;
pub mod housekeeping;

use std::sync::Arc;
use std::time::Duration;

use gastown_api::Rig;
use k8s_openapi::api::core::v1::{Pod, ResourceQuota};
use kube::ResourceExt;
use kube::runtime::controller::Action;

use self::dereference::Unresolved;
use super::agents::RigAgents;
use super::reconcile_with;
use super::rig_status::{RigObservation, rig_status};
use super::{rollout_step, write_status};
use crate::beads_view::BeadsView;
use crate::conditions::Baseline;
use crate::context::Context;
use crate::error::Result;
use crate::naming;
use crate::reconcile::agent_slot::{AgentObservation, AgentSlot};
use crate::reconcile::applier;
use crate::reconcile::kinds::cached;
use crate::reconcile::secrets::MissingSecrets;
use crate::relations::rig_drain_reason;

pub use self::dereference::{name_taken, older_namesake};

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
        |rig| async move { converge(rig, context).await },
        |rig| async move { cleanup::cleanup(rig, context).await },
    )
    .await
}

/// One pass over a live rig.
async fn converge(rig: Arc<Rig>, ctx: &Context) -> Result<Action> {
    let (rig_ref, town) = match dereference::resolve(&rig, ctx) {
        Ok(resolved) => resolved,
        Err(unresolved) => {
            write_unresolved(&rig, ctx, unresolved).await?;
            return Ok(Action::requeue(UNRESOLVED_RECHECK));
        }
    };
    let ns = rig_ref.namespace.clone();
    let missing = MissingSecrets::of(&town.spec, |name| ctx.secret_exists(&ns, name));
    let agents = RigAgents::new(town.clone(), rig.clone(), rig_ref.clone(), &missing);
    let mut built = build::build(&rig, &rig_ref, &town, &agents)?;
    let view = ctx.beads_views.get(&ns, &rig_ref.town);
    let beads = match view.as_deref().map(|v| &v.result) {
        Some(Ok((_, summary))) => Ok(summary.rig(&rig_ref.name)),
        Some(Err(error)) => Err(error.clone()),
        None => Err("beads has not been read for this town yet".to_string()),
    };
    let merge_requests_known = view
        .as_deref()
        .and_then(BeadsView::snapshot)
        .is_some_and(|snapshot| snapshot.merge_requests.is_some());
    // Persistent agents roll one at a time (crew wait for idle).
    let slots: Vec<&AgentSlot> = [&built.witness, &built.refinery]
        .into_iter()
        .chain(&built.crew)
        .collect();
    // Agents of the rig its pools run share the budget.
    let pooled = rollout_step::down_beside(ctx, &ns, &rig_ref.town, &rig_ref.name, |pod| {
        !pod.labels().contains_key(gastown_api::labels::POOL)
    });
    let paced = rollout_step::pace(
        ctx,
        &ns,
        &slots,
        &pooled,
        |slot| rollout_step::crew_busy(slot, &beads),
        rollout_step::policy(&town),
        &mut built.desired.pods,
    );
    applier::apply(ctx, &dereference::owner(&rig, &rig_ref), &built.desired).await?;
    rollout_step::tell(ctx, rig.as_ref(), &ns, &paced).await?;
    let housekeeping = housekeeping::polecats(&rig, &rig_ref, ctx).await?;

    // Status.
    let observe =
        |slot: &AgentSlot| slot.observe(cached::<Pod>(ctx, &ns, &slot.pod_name).as_deref());
    let crew: Vec<AgentObservation> = built.crew.iter().map(observe).collect();
    let draining = rig_drain_reason(&rig, &town);
    let previous = ctx.statuses.current(rig.as_ref(), rig.status.as_ref());
    let observation = RigObservation {
        base: Baseline::of(rig.as_ref(), previous.as_ref()),
        draining,
        unresolved: None,
        beads,
        merge_requests_known,
        witness: observe(&built.witness),
        refinery: observe(&built.refinery),
        crew_declared: crew.len(),
        crew_ready: crew.iter().filter(|c| c.ready).count(),
        crew_blocked: crew
            .iter()
            .rev()
            .find_map(|c| c.blocked.clone())
            .or_else(|| agents.blocked().map(str::to_string)),
        quota_applied: cached::<ResourceQuota>(
            ctx,
            &ns,
            &naming::polecat_quota(&rig_ref.object_name),
        )
        .is_some(),
        overtime: housekeeping.overtime,
        agents: Some(paced.progress()),
    };
    let (status, transitions) = rig_status(&observation);
    write_status(ctx, rig.as_ref(), previous.as_ref(), &status, transitions).await?;
    let interval = town.spec.sync_interval();
    Ok(Action::requeue(
        housekeeping.recheck.unwrap_or(interval).min(interval),
    ))
}

/// Shows why the rig cannot be reconciled.
async fn write_unresolved(rig: &Rig, ctx: &Context, unresolved: Unresolved) -> Result<()> {
    tracing::warn!(reason = %unresolved, "rig cannot be reconciled yet");
    let previous = ctx.statuses.current(rig, rig.status.as_ref());
    let observation = RigObservation {
        base: Baseline::of(rig, previous.as_ref()),
        draining: None,
        unresolved: Some(unresolved.to_string()),
        beads: Err("unresolved".into()),
        merge_requests_known: false,
        witness: AgentObservation::default(),
        refinery: AgentObservation::default(),
        crew_declared: 0,
        crew_ready: 0,
        crew_blocked: None,
        quota_applied: false,
        overtime: vec![],
        agents: None,
    };
    let (status, transitions) = rig_status(&observation);
    write_status(ctx, rig, previous.as_ref(), &status, transitions).await
}

//! The GasTown controller: infrastructure, one Rig per declared rig, the
//! town agents, status from beads, and the drain-order teardown.
//!
//! A reconcile of a live town runs the pipeline every controller shares:
//! [`dereference`] (identity, missing Secrets, Rigs, beads' view) →
//! validate (nothing the schema cannot say: a missing Secret blocks what
//! needs it) → [`build`] (pure) → apply ([`crate::reconcile::applier`], then
//! the optional [`external_secrets`]) → status. A town being deleted goes
//! through [`cleanup`] instead.

pub mod backup;
pub mod build;
pub mod cleanup;
pub mod dereference;
pub mod external_secrets;

use std::sync::Arc;

use gastown_api::gastown::GasTownStatus;
use gastown_api::{GasTown, Rig, labels};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use self::build::{TownBuild, WorkloadPlan};
use self::dereference::Dereferenced;
use super::town_status::{
    StatusWrite, TownObservation, TownRig, Workload, town_status, when_to_write,
};
use super::{pod_crash, pods_of, publish_transitions, reconcile_with, rollout_step};
use crate::beads_view::BeadsView;
use crate::conditions::{Baseline, Observed};
use crate::context::Context;
use crate::controllers::backup_status::{BackupObservation, BackupProjection, backup_status};
use crate::error::Result;
use crate::naming;
use crate::reconcile::applier;
use crate::reconcile::kinds::{Managed, cached};
use crate::reconcile::rollout::{self, Progress};
use crate::relations::{drain_requested, drained_message, town_owns};
use crate::write;

pub const CONTROLLER: &str = "gastown";

pub async fn reconcile(town: Arc<GasTown>, ctx: Arc<Context>) -> Result<Action> {
    let context: &Context = &ctx;
    reconcile_with(
        CONTROLLER,
        naming::TOWN_FINALIZER,
        town,
        context,
        |town| async move { converge(&town, context).await },
        |town| async move { cleanup::cleanup(&town, context).await },
    )
    .await
}

/// One pass over a live town.
async fn converge(town: &GasTown, ctx: &Context) -> Result<Action> {
    let found = dereference::dereference(town, ctx)?;
    let beads = dereference::refresh_beads(town, ctx).await;
    let mut built = build::build(town, &found.town_ref, &found.missing, found.dolt);
    // The Mayor and the Deacon roll one at a time (neither waits for idle).
    let ns = found.town_ref.namespace.clone();
    let paced = rollout_step::pace(
        ctx,
        &ns,
        &[&built.mayor, &built.deacon],
        &[],
        |_| None,
        rollout_step::policy(town),
        &mut built.desired.pods,
    );
    applier::apply(
        ctx,
        &dereference::owner(town, &found.town_ref),
        &built.desired,
    )
    .await?;
    rollout_step::tell(ctx, town, &ns, &paced).await?;
    let external_secrets = external_secrets::reconcile(town, &found.town_ref, ctx).await?;
    let agents = paced
        .progress()
        .with(found.rigs.iter().map(|rig| rig_progress(rig)));
    let next_sync =
        write_status(town, ctx, &found, &built, &beads, external_secrets, agents).await?;
    for (secret, what) in found.missing.iter() {
        tracing::warn!(secret = %secret, "missing Secret needed for {what}");
    }
    Ok(Action::requeue(next_sync))
}

/// A rig's agents on the current spec, as its status reports them.
fn rig_progress(rig: &Rig) -> Progress {
    let status = rig.status.as_ref();
    let count = |n: Option<i32>| n.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let reported = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == rollout::AGENTS_UP_TO_DATE));
    let condition = match reported {
        Some(c) => Observed::new(
            rollout::AGENTS_UP_TO_DATE,
            c.status == "True",
            c.reason.clone(),
            format!("rig {}: {}", rig.spec.name, c.message),
        ),
        // A rig that has not reported yet has nothing outdated to roll.
        None => Observed::new(
            rollout::AGENTS_UP_TO_DATE,
            true,
            "UpToDate",
            format!("rig {} has not reported its agents yet", rig.spec.name),
        ),
    };
    Progress {
        declared: count(status.and_then(|s| s.declared_agents)),
        updated: count(status.and_then(|s| s.updated_agents)),
        condition,
    }
}

/// A workload's readiness: what the build decided, and what the cache shows
/// of it and of its pods (a crash-looping pod says why it is not ready).
fn workload<K: Managed>(
    ctx: &Context,
    namespace: &str,
    plan: &WorkloadPlan,
    ready_replicas: impl Fn(&K) -> Option<i32>,
    pod_selector: impl Fn(&K) -> Option<&std::collections::BTreeMap<String, String>>,
) -> Workload {
    let name = match plan {
        WorkloadPlan::External => return Workload::External,
        WorkloadPlan::Blocked(reason) => return Workload::Blocked(reason.clone()),
        WorkloadPlan::Wanted(name) => name,
    };
    let Some(object) = cached::<K>(ctx, namespace, name) else {
        return Workload::NotReady;
    };
    if ready_replicas(&object).unwrap_or(0) >= 1 {
        return Workload::Ready;
    }
    let crash = pod_selector(&object).and_then(|selector| {
        let selector: Vec<(&str, &str)> = selector
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pods_of(&ctx.cache.pods, namespace, &selector).find_map(|pod| pod_crash(&pod))
    });
    crash.map_or(Workload::NotReady, Workload::CrashLooping)
}

/// Each of the town's Rigs as its status shows it: the declared ones (in
/// sync with what the town wants, and seen by the Rig controller), then those
/// applied on their own.
fn observe_rigs(town: &GasTown, found: &Dereferenced, built: &TownBuild) -> Vec<TownRig> {
    let mut rigs: Vec<TownRig> = built
        .desired
        .rigs
        .wanted
        .iter()
        .map(|desired| {
            let observed = found
                .rigs
                .iter()
                .find(|r| r.name_any() == desired.name_any() && town_owns(town, r));
            let status = observed.and_then(|r| r.status.as_ref());
            TownRig {
                name: desired.spec.name.clone(),
                phase: status.and_then(|s| s.phase),
                reconciled: observed.is_some_and(|r| {
                    status.and_then(|s| s.observed_generation) == r.metadata.generation
                        && write::in_sync(desired, r.as_ref())
                }),
            }
        })
        .collect();
    rigs.extend(
        found
            .rigs
            .iter()
            .filter(|r| !town_owns(town, r) && r.metadata.deletion_timestamp.is_none())
            .map(|rig| {
                let status = rig.status.as_ref();
                TownRig {
                    name: rig.spec.name.clone(),
                    phase: status.and_then(|s| s.phase),
                    reconciled: status.and_then(|s| s.observed_generation)
                        == rig.metadata.generation,
                }
            }),
    );
    rigs
}

/// The town's backups: starts the on-demand one asked for, then projects
/// what their Jobs say. `None` without `spec.dolt.backup`.
async fn observe_backup(
    town: &GasTown,
    ctx: &Context,
    previous: Option<&GasTownStatus>,
) -> Result<Option<BackupProjection>> {
    let Some(spec) = town.spec.dolt.as_ref().and_then(|d| d.backup.as_ref()) else {
        return Ok(None);
    };
    let cron_job = backup::cron_job(ctx, town);
    let manual_token = match &cron_job {
        Some(cron_job) => backup::start_on_demand(ctx, town, previous, cron_job).await?,
        None => None,
    };
    let observation = BackupObservation {
        schedule: &spec.schedule,
        since: cron_job.as_deref().and_then(backup::since),
        runs: cron_job
            .as_deref()
            .map(|c| backup::runs(ctx, town, c))
            .unwrap_or_default(),
        cron_last_success: cron_job
            .as_ref()
            .and_then(|c| c.status.as_ref()?.last_successful_time.as_ref())
            .map(|t| t.0),
        manual_token,
        previous: previous.and_then(|s| s.backup.as_ref()),
        now: k8s_openapi::jiff::Timestamp::now(),
    };
    Ok(Some(backup_status(&observation)))
}

/// Projects the status and writes it when it should be; returns when to
/// look again.
async fn write_status(
    town: &GasTown,
    ctx: &Context,
    found: &Dereferenced,
    built: &TownBuild,
    beads: &BeadsView,
    external_secrets: Option<Observed>,
    agents: Progress,
) -> Result<std::time::Duration> {
    let ns = found.town_ref.namespace.as_str();
    let running_agent_pods = pods_of(&ctx.cache.pods, ns, &[(labels::TOWN, &found.town_ref.name)])
        .filter(|pod| pod.labels().contains_key(labels::ROLE))
        .filter(|pod| pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count();
    let agent_pod = |name: &str| cached::<Pod>(ctx, ns, name);
    let previous = ctx.statuses.current(town, town.status.as_ref());
    let backup = observe_backup(town, ctx, previous.as_ref()).await?;
    ctx.metrics.record_backup(
        ns,
        &found.town_ref.name,
        backup
            .as_ref()
            .and_then(|b| b.status.last_successful_time.as_ref())
            .map(|t| t.0.as_second()),
    );
    let observation = TownObservation {
        base: Baseline::of(town, previous.as_ref()),
        draining: drain_requested(town).map(drained_message),
        dolt: workload::<StatefulSet>(
            ctx,
            ns,
            &built.dolt,
            |s| s.status.as_ref().and_then(|s| s.ready_replicas),
            |s| s.spec.as_ref()?.selector.match_labels.as_ref(),
        ),
        daemon: workload::<Deployment>(
            ctx,
            ns,
            &built.daemon,
            |d| d.status.as_ref().and_then(|s| s.ready_replicas),
            |d| d.spec.as_ref()?.selector.match_labels.as_ref(),
        ),
        daemon_endpoint: dereference::daemon_endpoint(town, ctx),
        beads_protocol: town.spec.daemon.protocol(),
        change_feed: ctx.beads_feeds.get(ns, &town.name_any()),
        merge_requests_known: beads
            .snapshot()
            .is_some_and(|snapshot| snapshot.merge_requests.is_some()),
        beads: beads
            .result
            .as_ref()
            .map(|(_, summary)| summary)
            .map_err(Clone::clone),
        mayor: built
            .mayor
            .observe(agent_pod(&built.mayor.pod_name).as_deref()),
        deacon: built
            .deacon
            .observe(agent_pod(&built.deacon.pod_name).as_deref()),
        rigs: observe_rigs(town, found, built),
        running_agent_pods: i32::try_from(running_agent_pods).unwrap_or(i32::MAX),
        external_secrets,
        agents,
        backup,
    };
    let (status, transitions) = town_status(&observation);
    let mut next_sync = town.spec.sync_interval();
    match when_to_write(previous.as_ref(), &status, observation.base.now) {
        StatusWrite::Unchanged => {}
        StatusWrite::Now => {
            let api: Api<GasTown> = ctx.api(ns);
            write::patch_status(&api, &ctx.statuses, town, previous.as_ref(), &status).await?;
            // Transitions are against the status as last written, so a
            // deferred one is found again, and told, when it is written.
            publish_transitions(ctx, town, transitions).await;
        }
        StatusWrite::After(wait) => next_sync = next_sync.min(wait),
    }
    Ok(next_sync)
}

//! The town's drain-order teardown (docs/architecture.md): the stages,
//! derived from what is left on every reconcile, run by the shared executor.

use std::sync::Arc;

use gastown_api::{AgentRole, GasTown, labels};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::dereference::town_rigs;
use crate::builders::rig::rig_object;
use crate::builders::town::TownRef;
use crate::context::Context;
use crate::controllers::{pod_finished, pods_of};
use crate::error::{Error, Result};
use crate::naming;
use crate::reconcile::finalizer::Teardown;
use crate::reconcile::kinds::cached;
use crate::reconcile::teardown::{Mark, Stage, Tracked, drain_deadline, executor};
use crate::relations::town_owns;

/// One step of the town's teardown.
pub async fn cleanup(town: &GasTown, ctx: &Context) -> Result<Teardown> {
    let town_ref = TownRef::new(town).ok_or_else(|| Error::NotStored {
        kind: "GasTown",
        name: town.name_any(),
    })?;
    let stages = stages(town, &town_ref, ctx);
    let step = executor::run(ctx, town, &stages).await?;
    if let Teardown::Done = step {
        // Services and the ConfigMap go with the town through their owner
        // references; claims follow dolt's retention policy.
        ctx.beads.forget(&town_ref.namespace, &town_ref.name);
        ctx.beads_views.forget(&town_ref.namespace, &town_ref.name);
        ctx.beads_feeds.forget(&town_ref.namespace, &town_ref.name);
        ctx.metrics
            .record_backup(&town_ref.namespace, &town_ref.name, None);
    }
    Ok(step)
}

/// Stop new work on every rig, let polecats finish within the grace period,
/// then remove the rigs, the town agents and the infrastructure workloads.
fn stages(town: &GasTown, town_ref: &TownRef, ctx: &Context) -> Vec<Stage> {
    let ns = town_ref.namespace.as_str();
    let rigs = town_rigs(ctx, town);
    let declared = |name: &str| {
        town.spec
            .rigs()
            .iter()
            .find(|spec| naming::rig_object(&town_ref.name, &spec.name) == name)
    };
    let unmarked: Vec<Mark> = rigs
        .iter()
        .filter(|r| {
            r.metadata.deletion_timestamp.is_none()
                && !r.annotations().contains_key(naming::DRAINING_ANNOTATION)
        })
        .map(|rig| match declared(&rig.name_any()) {
            Some(spec) => Mark::Apply(Box::new(rig_object(
                &town_ref.name,
                ns,
                &town_ref.owner,
                spec,
                true,
            ))),
            None if town_owns(town, rig) => Mark::Delete(rig.name_any()),
            None => Mark::Annotate(rig.name_any()),
        })
        .collect();
    let town_pods: Vec<Arc<Pod>> =
        pods_of(&ctx.cache.pods, ns, &[(labels::TOWN, &town_ref.name)]).collect();
    let pods_with_role = |roles: &[AgentRole]| -> Vec<Tracked> {
        town_pods
            .iter()
            .filter(|p| {
                p.labels()
                    .get(labels::ROLE)
                    .is_some_and(|r| roles.iter().any(|role| role.as_str() == r))
            })
            .filter(|p| !pod_finished(p))
            .map(|p| Tracked::of(p.as_ref()))
            .collect()
    };
    let mut infrastructure: Vec<Tracked> = [
        naming::rpc_server(&town_ref.name),
        naming::bd_daemon(&town_ref.name),
    ]
    .iter()
    .filter_map(|name| cached::<Deployment>(ctx, ns, name))
    .map(|d| Tracked::of(d.as_ref()))
    .collect();
    infrastructure.extend(
        cached::<StatefulSet>(ctx, ns, &naming::dolt(&town_ref.name))
            .map(|s| Tracked::of(s.as_ref())),
    );
    vec![
        Stage::StopNewWork { unmarked },
        Stage::Drain {
            active: pods_with_role(&[AgentRole::Polecat]),
            deadline: drain_deadline(
                town.metadata.deletion_timestamp.as_ref(),
                town.spec.termination_grace_period(),
            ),
        },
        Stage::Remove {
            what: "rigs",
            remaining: rigs.iter().map(|r| Tracked::of(r.as_ref())).collect(),
        },
        Stage::Remove {
            what: "town agents",
            remaining: pods_with_role(&[AgentRole::Mayor, AgentRole::Deacon]),
        },
        Stage::Remove {
            what: "infrastructure workloads",
            remaining: infrastructure,
        },
        // Backups may run while the town drains: their CronJob goes only
        // once dolt is gone (its Jobs with it). The backups themselves, in
        // their storage, are never the operator's to delete.
        Stage::Remove {
            what: "backup CronJob",
            remaining: cached::<CronJob>(ctx, ns, &naming::dolt_backup(&town_ref.name))
                .map(|c| Tracked::of(c.as_ref()))
                .into_iter()
                .collect(),
        },
    ]
}

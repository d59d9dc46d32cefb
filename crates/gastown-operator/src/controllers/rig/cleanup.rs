//! The rig's drain-first teardown: its deletion itself stops new polecats;
//! active ones may finish within the town's grace period, then the pools,
//! the rig's own agents, its claims (per `reclaimPolicy`) and its
//! PriorityClass go, run by the shared executor.

use std::sync::Arc;
use std::time::Duration;

use gastown_api::rig::ReclaimPolicy;
use gastown_api::{AgentRole, GasTown, Rig, labels};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::ResourceExt;

use crate::builders::rig::RigRef;
use crate::context::Context;
use crate::controllers::{pod_finished, pods_of};
use crate::error::Result;
use crate::reconcile::finalizer::Teardown;
use crate::reconcile::kinds::cached;
use crate::reconcile::teardown::{Stage, Tracked, drain_deadline, executor};

/// The grace period when the town is gone already.
const ORPHAN_GRACE: Duration = Duration::from_secs(600);

/// One step of the rig's teardown.
pub async fn cleanup(rig: Arc<Rig>, ctx: &Context) -> Result<Teardown> {
    let Some(rig_ref) = RigRef::new(&rig) else {
        // Never resolved: it made nothing that needs an ordered teardown.
        return Ok(Teardown::Done);
    };
    let stages = stages(&rig, &rig_ref, ctx);
    executor::run(ctx, rig.as_ref(), &stages).await
}

fn stages(rig: &Rig, rig_ref: &RigRef, ctx: &Context) -> Vec<Stage> {
    let ns = rig_ref.namespace.as_str();
    let grace = cached::<GasTown>(ctx, ns, &rig_ref.town)
        .map_or(ORPHAN_GRACE, |t| t.spec.termination_grace_period());
    let rig_pods: Vec<Arc<Pod>> = pods_of(
        &ctx.cache.pods,
        ns,
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
            .map(|p| Tracked::of(p.as_ref()))
            .collect()
    };
    let rig_uid = rig.uid();
    let pools: Vec<Tracked> = ctx
        .cache
        .pools
        .state()
        .iter()
        .filter(|p| {
            p.namespace().as_deref() == Some(ns) && p.spec.rig.as_deref() == Some(&rig_ref.name)
        })
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|o| Some(&o.uid) == rig_uid.as_ref())
        })
        .map(|p| Tracked::of(p.as_ref()))
        .collect();
    let claims: Vec<Tracked> = if rig.spec.workspace().reclaim_policy() == ReclaimPolicy::Delete {
        ctx.cache
            .claims
            .state()
            .iter()
            .filter(|c| c.namespace().as_deref() == Some(ns))
            .filter(|c| {
                c.labels().get(labels::TOWN) == Some(&rig_ref.town)
                    && c.labels().get(labels::RIG) == Some(&rig_ref.name)
            })
            .map(|c| Tracked::of(c.as_ref()))
            .collect()
    } else {
        Vec::new()
    };
    let class: Vec<Tracked> = cached::<PriorityClass>(ctx, ns, &rig_ref.priority_class())
        .map(|c| Tracked::of(c.as_ref()))
        .into_iter()
        .collect();
    vec![
        Stage::Drain {
            active: of_roles(&[AgentRole::Polecat], true),
            deadline: drain_deadline(rig.metadata.deletion_timestamp.as_ref(), grace),
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
    ]
}

//! The pool's teardown (see the module docs): its deletion stops new pods;
//! polecats may finish until the town's grace period ends, then the
//! remaining active ones and every pod of other roles are deleted. Ended
//! polecat pods are left to the Rig's `cleanupAfter`.

use gastown_api::{AgentPool, AgentRole, labels};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::dereference::{pool_pods, resolve};
use crate::context::Context;
use crate::controllers::pod_finished;
use crate::error::Result;
use crate::reconcile::finalizer::Teardown;
use crate::reconcile::teardown::{Stage, Tracked, drain_deadline, executor};

/// One step of the pool's teardown.
pub(super) async fn cleanup(pool: &AgentPool, ctx: &Context) -> Result<Teardown> {
    executor::run(ctx, pool, &stages(pool, ctx)).await
}

fn stages(pool: &AgentPool, ctx: &Context) -> Vec<Stage> {
    // Without its rig or town there is nobody to wait for: no grace period.
    let grace = resolve(ctx, pool)
        .map(|resolved| resolved.town.spec.termination_grace_period())
        .unwrap_or_default();
    let pods = pool_pods(ctx, pool);
    let is_polecat = |pod: &Pod| {
        pod.labels().get(labels::ROLE).map(String::as_str) == Some(AgentRole::Polecat.as_str())
    };
    vec![
        Stage::Drain {
            active: pods
                .iter()
                .filter(|p| is_polecat(p) && !pod_finished(p))
                .map(|p| Tracked::of(p.as_ref()))
                .collect(),
            deadline: drain_deadline(pool.metadata.deletion_timestamp.as_ref(), grace),
        },
        Stage::Remove {
            what: "agent pods",
            remaining: pods
                .iter()
                .filter(|p| !is_polecat(p))
                .map(|p| Tracked::of(p.as_ref()))
                .collect(),
        },
    ]
}

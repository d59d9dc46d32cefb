//! What the town's and the rig's teardowns share: deleting the objects the
//! stage planner ([`crate::teardown`]) tracks, and showing progress in status.

use std::fmt::Debug;

use gastown_api::{AgentPool, GasTownStatus, Phase, Rig, RigStatus};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::get;
use crate::apply;
use crate::conditions::{self, Observed};
use crate::context::Context;
use crate::error::Result;
use crate::teardown::Tracked;

/// Deletes `object` if the cache still holds it and it is not already going.
pub async fn delete_tracked(ctx: &Context, ns: &str, object: &Tracked) -> Result<()> {
    let cache = &ctx.cache;
    let name = object.name.as_str();
    match object.kind {
        "Pod" => apply::delete(&ctx.api::<Pod>(ns), get(&cache.pods, ns, name).as_deref()).await?,
        "Rig" => apply::delete(&ctx.api::<Rig>(ns), get(&cache.rigs, ns, name).as_deref()).await?,
        "AgentPool" => {
            let pool = get(&cache.pools, ns, name);
            apply::delete(&ctx.api::<AgentPool>(ns), pool.as_deref()).await?
        }
        "Deployment" => {
            let deployment = get(&cache.deployments, ns, name);
            apply::delete(&ctx.api::<Deployment>(ns), deployment.as_deref()).await?
        }
        "StatefulSet" => {
            let set = get(&cache.stateful_sets, ns, name);
            apply::delete(&ctx.api::<StatefulSet>(ns), set.as_deref()).await?
        }
        "PersistentVolumeClaim" => {
            let claim = get(&cache.claims, ns, name);
            apply::delete(&ctx.api::<PersistentVolumeClaim>(ns), claim.as_deref()).await?
        }
        "PriorityClass" => {
            let class = cache.priority_classes.get(&ObjectRef::new(name));
            let api = Api::<PriorityClass>::all(ctx.client.clone());
            apply::delete(&api, class.as_deref()).await?
        }
        other => unreachable!("no teardown tracks a {other}"),
    };
    Ok(())
}

/// A status that shows a teardown: a phase and conditions.
pub trait DrainingStatus: Clone + Default + PartialEq + Serialize + Send + Sync + 'static {
    fn set_draining_phase(&mut self);
    fn conditions_mut(&mut self) -> &mut Option<Vec<Condition>>;
}

impl DrainingStatus for GasTownStatus {
    fn set_draining_phase(&mut self) {
        self.phase = Some(Phase::Draining);
    }
    fn conditions_mut(&mut self) -> &mut Option<Vec<Condition>> {
        &mut self.conditions
    }
}

impl DrainingStatus for RigStatus {
    fn set_draining_phase(&mut self) {
        self.phase = Some(Phase::Draining);
    }
    fn conditions_mut(&mut self) -> &mut Option<Vec<Condition>> {
        &mut self.conditions
    }
}

/// Writes phase Draining and the `observed` conditions to `object`'s status
/// (`cached`: its status as the cache has it), if that changes anything.
pub async fn show_draining<K, S>(
    ctx: &Context,
    object: &K,
    cached: Option<&S>,
    observed: Vec<Observed>,
) -> Result<()>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + DeserializeOwned
        + Clone
        + Debug,
    S: DrainingStatus,
{
    let previous = ctx.statuses.current(object, cached);
    let mut status = previous.clone().unwrap_or_default();
    status.set_draining_phase();
    let mut list = status.conditions_mut().take().unwrap_or_default();
    let now = Timestamp::now();
    for condition in observed {
        conditions::set(&mut list, condition, object.meta().generation, now);
    }
    *status.conditions_mut() = Some(list);
    let api: Api<K> = ctx.api(&object.namespace().unwrap_or_default());
    apply::patch_status(&api, &ctx.statuses, object, previous.as_ref(), &status).await?;
    Ok(())
}

//! Carries out a teardown step for any owner — town, rig or pool — and shows
//! its progress in the owner's status (phase Draining where the kind has a
//! phase, and the owner's draining conditions).

use std::fmt::Debug;
use std::time::Duration;

use gastown_api::{AgentPool, AgentPoolStatus, GasTown, GasTownStatus, Phase, Rig, RigStatus};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Mark, Stage, Step, next_step};
use crate::conditions::{self, Observed};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::naming;
use crate::reconcile::finalizer::Teardown;
use crate::reconcile::kinds::{self, Managed};
use crate::write;

/// How soon a teardown looks again after marking rigs draining.
const MARKED_RECHECK: Duration = Duration::from_secs(1);

/// A status that shows a teardown: conditions, and a phase where it has one.
pub trait DrainingStatus: Clone + Default + PartialEq + Serialize + Send + Sync + 'static {
    fn set_draining_phase(&mut self);
    fn conditions_mut(&mut self) -> &mut Option<Vec<Condition>>;
}

/// An owner whose finalizer drains it.
pub trait Drains:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + Debug
{
    type Status: DrainingStatus;
    fn cached_status(&self) -> Option<&Self::Status>;
    /// The conditions that say the owner is draining, and why.
    fn draining_conditions(progress: &str) -> Vec<Observed>;
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

impl DrainingStatus for AgentPoolStatus {
    /// A pool's status has no phase: its Ready condition tells.
    fn set_draining_phase(&mut self) {}
    fn conditions_mut(&mut self) -> &mut Option<Vec<Condition>> {
        &mut self.conditions
    }
}

impl Drains for GasTown {
    type Status = GasTownStatus;
    fn cached_status(&self) -> Option<&GasTownStatus> {
        self.status.as_ref()
    }
    fn draining_conditions(progress: &str) -> Vec<Observed> {
        use gastown_api::gastown::condition;
        vec![
            Observed::new(condition::DRAINING, true, "Draining", progress),
            Observed::new(condition::READY, false, "Draining", progress),
        ]
    }
}

impl Drains for Rig {
    type Status = RigStatus;
    fn cached_status(&self) -> Option<&RigStatus> {
        self.status.as_ref()
    }
    fn draining_conditions(progress: &str) -> Vec<Observed> {
        use gastown_api::rig::condition;
        vec![
            Observed::new(condition::DRAINING, true, "Draining", progress),
            Observed::new(condition::READY, false, "Draining", progress),
        ]
    }
}

impl Drains for AgentPool {
    type Status = AgentPoolStatus;
    fn cached_status(&self) -> Option<&AgentPoolStatus> {
        self.status.as_ref()
    }
    fn draining_conditions(progress: &str) -> Vec<Observed> {
        use crate::controllers::pool_status::condition;
        vec![Observed::new(condition::READY, false, "Draining", progress)]
    }
}

/// Runs the next step of `stages` for `owner`: marks rigs draining, waits, or
/// deletes, showing progress in status; or reports that everything is gone.
pub async fn run<K: Drains>(ctx: &Context, owner: &K, stages: &[Stage]) -> Result<Teardown> {
    let namespace = owner.namespace().unwrap_or_default();
    let step = next_step(stages, Timestamp::now());
    tracing::info!(?step, "teardown");
    let (progress, recheck) = match step {
        Step::Done => return Ok(Teardown::Done),
        Step::StopNewWork(marks) => {
            for mark in &marks {
                mark_draining(ctx, &namespace, mark).await?;
            }
            (
                "stopping new work: rigs marked draining".to_string(),
                MARKED_RECHECK,
            )
        }
        Step::Wait {
            progress,
            recheck_after,
        } => (progress, recheck_after),
        Step::Delete(objects) => {
            for object in &objects {
                kinds::delete_of_kind(ctx, object.kind, &namespace, &object.name).await?;
            }
            let names: Vec<String> = objects
                .iter()
                .map(|o| format!("{} {}", o.kind, o.name))
                .collect();
            (
                format!("deleting {}", names.join(", ")),
                super::REMOVAL_RECHECK,
            )
        }
    };
    show_draining(ctx, owner, &progress).await?;
    Ok(Teardown::Continue(Action::requeue(recheck)))
}

async fn mark_draining(ctx: &Context, namespace: &str, mark: &Mark) -> Result<()> {
    let api = Rig::api(&ctx.client, namespace);
    match mark {
        Mark::Apply(rig) => {
            write::apply(&api, None, rig.as_ref()).await?;
        }
        Mark::Delete(name) => {
            kinds::delete_cached::<Rig>(ctx, namespace, name).await?;
        }
        Mark::Annotate(name) => {
            // A server-side apply of the annotation alone: the Rig's owner
            // keeps every other field.
            let mark = serde_json::json!({
                "apiVersion": Rig::api_version(&()),
                "kind": Rig::kind(&()),
                "metadata": {
                    "name": name,
                    "annotations": {naming::DRAINING_ANNOTATION: "true"},
                },
            });
            api.patch(
                name,
                &PatchParams::apply(naming::FIELD_MANAGER).force(),
                &Patch::Apply(&mark),
            )
            .await
            .map_err(|e| Error::kube(format!("mark Rig {name} draining"), e))?;
        }
    }
    Ok(())
}

/// `previous` as it shows a teardown: the draining phase (where the kind has
/// one) and the owner's draining conditions saying `progress`; everything
/// else is kept.
pub fn draining_status<K: Drains>(
    previous: Option<&K::Status>,
    generation: Option<i64>,
    now: Timestamp,
    progress: &str,
) -> K::Status {
    let mut status = previous.cloned().unwrap_or_default();
    status.set_draining_phase();
    let mut list = status.conditions_mut().take().unwrap_or_default();
    for condition in K::draining_conditions(progress) {
        conditions::set(&mut list, condition, generation, now);
    }
    *status.conditions_mut() = Some(list);
    status
}

/// Writes the draining status to `owner`, if that changes anything.
async fn show_draining<K: Drains>(ctx: &Context, owner: &K, progress: &str) -> Result<()> {
    let previous = ctx.statuses.current(owner, owner.cached_status());
    let status = draining_status::<K>(
        previous.as_ref(),
        owner.meta().generation,
        Timestamp::now(),
        progress,
    );
    let api: Api<K> = ctx.api(&owner.namespace().unwrap_or_default());
    write::patch_status(&api, &ctx.statuses, owner, previous.as_ref(), &status).await?;
    Ok(())
}

//! Dereferencing: everything the decision is made from, read from the cache
//! and from beads' view of the town — the pool's rig and town, its own pods,
//! beads' answer about its agents, who else runs any of them, and what keeps
//! pods from being created. Reads only; nothing here writes to the cluster or
//! to beads, so [`super::converge`] can gather first and act afterwards.

use std::collections::BTreeMap;
use std::sync::Arc;

use beads_client::{AgentBead, desired_agents};
use gastown_api::{AgentPool, AgentRole, GasTown, Rig, labels};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::POOL_LABEL;
use super::plan::{BeadsAnswer, ObservedPod, distrust};
use crate::builders::rig::RigRef;
use crate::context::Context;
use crate::controllers::pods_of;
use crate::naming;
use crate::reconcile::kinds::cached;

/// Why a pool cannot be reconciled (yet).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    #[error(
        "pools of town roles ({0}) are not supported yet: the GasTown controller runs the mayor and deacon from its spec.mayor and spec.deacon"
    )]
    TownRole(AgentRole),
    #[error("no Rig with spec.name {rig} in namespace {namespace}")]
    NoRig { rig: String, namespace: String },
    #[error(
        "{count} Rigs have spec.name {rig} in namespace {namespace}; label the pool with {label} to choose the town",
        label = labels::TOWN
    )]
    SeveralRigs {
        count: usize,
        rig: String,
        namespace: String,
    },
    #[error(transparent)]
    Rig(#[from] crate::controllers::rig::dereference::Unresolved),
    #[error("Rig {0} has no {label} label naming its town, or is not stored yet", label = labels::TOWN)]
    RigWithoutTown(String),
    #[error("GasTown {town} of Rig {rig} does not exist")]
    TownMissing { town: String, rig: String },
}

/// The pool's rig and town, from the cache.
pub(super) struct Resolved {
    pub town: Arc<GasTown>,
    pub rig: Arc<Rig>,
    pub rig_ref: RigRef,
}

/// The Rig named by `spec.rig` (preferring the pool's own town label when
/// several towns in the namespace have a rig of that name) and its town.
pub(super) fn resolve(ctx: &Context, pool: &AgentPool) -> Result<Resolved, Unresolved> {
    let Some(rig_name) = pool.spec.rig.as_deref() else {
        return Err(Unresolved::TownRole(pool.spec.role));
    };
    let namespace = pool.namespace().unwrap_or_default();
    let pool_town = pool.town();
    // A pool labelled with its town looks among that town's rigs only.
    let rigs = match pool_town {
        Some(town) => ctx.cache.rigs.of_town(&namespace, town),
        None => ctx.cache.rigs.state(),
    };
    let candidates: Vec<Arc<Rig>> = rigs
        .into_iter()
        .filter(|r| r.spec.name == rig_name)
        .filter(|r| r.metadata.namespace.as_deref() == Some(namespace.as_str()))
        .filter(|r| pool_town.is_none_or(|town| r.town() == Some(town)))
        .collect();
    let rig = match candidates.as_slice() {
        [] => {
            return Err(Unresolved::NoRig {
                rig: rig_name.to_string(),
                namespace,
            });
        }
        [rig] => rig.clone(),
        several => {
            return Err(Unresolved::SeveralRigs {
                count: several.len(),
                rig: rig_name.to_string(),
                namespace,
            });
        }
    };
    if let Some(taken) = crate::controllers::rig::name_taken(ctx, &rig) {
        return Err(taken.into());
    }
    let rig_ref = RigRef::new(&rig).ok_or_else(|| Unresolved::RigWithoutTown(rig.name_any()))?;
    let town = cached::<GasTown>(ctx, &namespace, &rig_ref.town).ok_or_else(|| {
        Unresolved::TownMissing {
            town: rig_ref.town.clone(),
            rig: rig.name_any(),
        }
    })?;
    Ok(Resolved { town, rig, rig_ref })
}

/// Most pods of the pool not yet finished.
pub(super) fn pod_limit(pool: &AgentPool, rig: &Rig) -> Option<usize> {
    let to_usize = |n: i32| usize::try_from(n).unwrap_or(0);
    let pool_max = pool.spec.max_count.map(to_usize);
    match pool.spec.role {
        AgentRole::Polecat => {
            let rig_max = to_usize(rig.spec.polecats().max_count());
            Some(pool_max.map_or(rig_max, |max| max.min(rig_max)))
        }
        _ => pool_max,
    }
}

/// Who runs agent `name` instead of this pool, if anyone: the Rig controller
/// for the agents the Rig declares, or whoever made a pod of that name.
fn runs_elsewhere(
    rig: &Rig,
    role: AgentRole,
    name: &str,
    existing_pod: Option<&Pod>,
    pool: &str,
) -> Option<String> {
    let declared = match role {
        AgentRole::Witness => rig.spec.witness().enabled(),
        AgentRole::Refinery => rig.spec.refinery().enabled(),
        AgentRole::Crew => rig.spec.crew().iter().any(|c| c.name == name),
        _ => false,
    };
    if declared {
        return Some(format!(
            "declared in Rig {}; the Rig controller runs it",
            rig.name_any()
        ));
    }
    let pod = existing_pod?;
    match pod.labels().get(POOL_LABEL) {
        Some(owner) if owner == pool => None,
        Some(owner) => Some(format!(
            "its pod {} belongs to AgentPool {owner}",
            pod.name_any()
        )),
        None => Some(format!(
            "its pod {} was not made by an AgentPool",
            pod.name_any()
        )),
    }
}

/// The pool's own pods, from the cache.
pub(super) fn pool_pods(ctx: &Context, pool: &AgentPool) -> Vec<Arc<Pod>> {
    let namespace = pool.namespace().unwrap_or_default();
    let name = pool.name_any();
    let mut selector = vec![
        (POOL_LABEL, name.as_str()),
        (labels::ROLE, pool.spec.role.as_str()),
    ];
    // Its pods carry the town of its rig, which a rig's pool is labelled
    // with too: then only that town's pods are looked at.
    if let Some(town) = pool.labels().get(labels::TOWN) {
        selector.push((labels::TOWN, town.as_str()));
    }
    pods_of(&ctx.cache.pods, &namespace, &selector).collect()
}

/// The pool's own pods of its rig, as the decision sees them.
pub(super) fn observed_pods(ctx: &Context, pool: &AgentPool, rig_name: &str) -> Vec<ObservedPod> {
    pool_pods(ctx, pool)
        .iter()
        .filter(|pod| pod.labels().get(labels::RIG).map(String::as_str) == Some(rig_name))
        .map(|pod| ObservedPod::from_pod(pod))
        .collect()
}

/// beads' answer about the pool's rig and role, owned here so that the
/// [`BeadsAnswer`] the plan borrows ([`AgentBeads::answer`]) can outlive the
/// view it was read from.
pub(super) struct AgentBeads {
    /// Every agent bead of the rig and role; empty when beads did not answer.
    pub known: Vec<AgentBead>,
    /// The agents beads wants running ([`desired_agents`]).
    pub desired: Vec<AgentBead>,
    /// Why there is no usable answer, if so.
    pub unavailable: Option<String>,
    /// Why the answer is not trusted enough to delete pods, if so ([`distrust`]).
    pub distrusted: Option<String>,
}

impl AgentBeads {
    /// The answer as the plan takes it.
    pub fn answer(&self) -> BeadsAnswer<'_> {
        match &self.unavailable {
            Some(reason) => BeadsAnswer::Unavailable(reason.clone()),
            None => BeadsAnswer::Answered {
                known: &self.known,
                desired: &self.desired,
                distrust: self.distrusted.clone(),
            },
        }
    }

    /// The agent beads, when beads answered at all.
    pub fn known_if_answered(&self) -> Option<&[AgentBead]> {
        self.unavailable.is_none().then_some(self.known.as_slice())
    }
}

/// beads' answer about the agents of `rig_name` and `role`, from the view of
/// the town the GasTown controller keeps (never queried here). `pool_pods`,
/// the number of the pool's pods, tells an empty answer from a suspicious one.
pub(super) fn agent_beads(
    ctx: &Context,
    rig_ref: &RigRef,
    rig_name: &str,
    role: AgentRole,
    selector: &[String],
    pool_pods: usize,
) -> AgentBeads {
    let town_name = &rig_ref.town;
    let view = ctx.beads_views.get(&rig_ref.namespace, town_name);
    let beads_role = beads_client::Role::from(role.as_str());
    let (known, desired, unavailable, distrusted) = match view.as_deref().map(|v| &v.result) {
        None => (
            Vec::new(),
            Vec::new(),
            Some(format!(
                "beads' view of town {town_name} has not been read yet"
            )),
            None,
        ),
        Some(Err(error)) => (
            Vec::new(),
            Vec::new(),
            Some(format!(
                "the bd daemon of town {town_name} could not be read: {error}"
            )),
            None,
        ),
        Some(Ok((snapshot, _))) => {
            let known: Vec<AgentBead> = snapshot
                .agent_beads()
                .filter(|b| {
                    b.rig.as_deref() == Some(rig_name) && b.role.as_ref() == Some(&beads_role)
                })
                .collect();
            let desired = desired_agents(snapshot, Some(rig_name), &beads_role, selector);
            let distrusted = distrust(snapshot, town_name, pool_pods);
            (known, desired, None, distrusted)
        }
    };
    AgentBeads {
        known,
        desired,
        unavailable,
        distrusted,
    }
}

/// Who runs each of `known` instead of this pool ([`runs_elsewhere`]), by
/// agent name; agents run by nobody else are absent.
pub(super) fn agents_elsewhere(
    ctx: &Context,
    resolved: &Resolved,
    rig_name: &str,
    role: AgentRole,
    pool_name: &str,
    known: &[AgentBead],
) -> BTreeMap<String, String> {
    let namespace = &resolved.rig_ref.namespace;
    let town_name = &resolved.rig_ref.town;
    known
        .iter()
        .filter_map(|bead| {
            let pod_name = naming::agent_pod(town_name, Some(rig_name), role, &bead.name);
            let existing = cached::<Pod>(ctx, namespace, &pod_name);
            runs_elsewhere(
                &resolved.rig,
                role,
                &bead.name,
                existing.as_deref(),
                pool_name,
            )
            .map(|who| (bead.name.clone(), who))
        })
        .collect()
}

/// Why no polecat pod can be created yet, if so: polecat pods name the rig's
/// PriorityClass, and until the Rig controller has made it, admission would
/// refuse them.
pub(super) fn missing_priority_class(
    ctx: &Context,
    rig_ref: &RigRef,
    role: AgentRole,
) -> Option<String> {
    let priority_class = rig_ref.priority_class();
    (role == AgentRole::Polecat
        && ctx
            .cache
            .priority_classes
            .get(&ObjectRef::new(&priority_class))
            .is_none())
    .then(|| format!("PriorityClass {priority_class} of the rig does not exist yet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_polecat_limit_is_the_smaller_of_pool_and_rig() {
        let rig: Rig = serde_json::from_value(serde_json::json!({
            "apiVersion": "gastown.io/v1alpha1", "kind": "Rig",
            "metadata": {"name": "prod-gastown"},
            "spec": {"name": "gastown", "polecats": {"maxCount": 4}}
        }))
        .unwrap();
        let pool = |role: &str, max: Option<i32>| -> AgentPool {
            let mut spec = serde_json::json!({"rig": "gastown", "role": role});
            if let Some(max) = max {
                spec["maxCount"] = max.into();
            }
            serde_json::from_value(serde_json::json!({
                "apiVersion": "gastown.io/v1alpha1", "kind": "AgentPool",
                "metadata": {"name": "p"}, "spec": spec
            }))
            .unwrap()
        };
        assert_eq!(pod_limit(&pool("polecat", None), &rig), Some(4));
        assert_eq!(pod_limit(&pool("polecat", Some(2)), &rig), Some(2));
        assert_eq!(pod_limit(&pool("polecat", Some(9)), &rig), Some(4));
        assert_eq!(pod_limit(&pool("crew", None), &rig), None);
        assert_eq!(pod_limit(&pool("crew", Some(3)), &rig), Some(3));
    }

    #[test]
    fn agents_the_rig_declares_or_other_pools_own_run_elsewhere() {
        let rig: Rig = serde_json::from_value(serde_json::json!({
            "apiVersion": "gastown.io/v1alpha1", "kind": "Rig",
            "metadata": {"name": "prod-gastown"},
            "spec": {"name": "gastown", "crew": [{"name": "max"}], "refinery": {"enabled": false}}
        }))
        .unwrap();
        assert!(runs_elsewhere(&rig, AgentRole::Crew, "max", None, "p").is_some());
        assert!(runs_elsewhere(&rig, AgentRole::Crew, "zed", None, "p").is_none());
        assert!(runs_elsewhere(&rig, AgentRole::Witness, "witness", None, "p").is_some());
        assert!(runs_elsewhere(&rig, AgentRole::Refinery, "refinery", None, "p").is_none());
        let pod_of = |pool: Option<&str>| -> Pod {
            let mut labels = serde_json::json!({});
            if let Some(pool) = pool {
                labels[POOL_LABEL] = pool.into();
            }
            serde_json::from_value(serde_json::json!({"metadata": {"name": "gt-gastown-polecat-nux", "labels": labels}}))
                .unwrap()
        };
        assert_eq!(
            runs_elsewhere(
                &rig,
                AgentRole::Polecat,
                "nux",
                Some(&pod_of(Some("p"))),
                "p"
            ),
            None
        );
        assert_eq!(
            runs_elsewhere(
                &rig,
                AgentRole::Polecat,
                "nux",
                Some(&pod_of(Some("q"))),
                "p"
            )
            .as_deref(),
            Some("its pod gt-gastown-polecat-nux belongs to AgentPool q")
        );
        assert!(
            runs_elsewhere(&rig, AgentRole::Polecat, "nux", Some(&pod_of(None)), "p").is_some()
        );
    }
}

//! The rig's dereference step: its identity and its town, or why they
//! cannot be had (a typed [`Unresolved`], shown in status).

use std::sync::Arc;

use gastown_api::{AgentRole, GasTown, Rig, labels};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use crate::builders::rig::RigRef;
use crate::context::Context;
use crate::naming;
use crate::reconcile::desired::{Owner, Reclaim};
use crate::reconcile::kinds::cached;
use gastown_api::rig::ReclaimPolicy;

/// Why a Rig cannot be reconciled (yet).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    #[error(
        "the Rig has no {} label naming its GasTown (or is not stored yet)",
        labels::TOWN
    )]
    NoTown,
    #[error(
        "Rig {holder} of town {holder_town} already uses spec.name {name} in namespace {namespace}: agent pods are named gt-<rig>-<role>-<agent>, so two towns cannot share a rig name in one namespace; use another namespace or rig name"
    )]
    NameTaken {
        holder: String,
        holder_town: String,
        name: String,
        namespace: String,
    },
    #[error("GasTown {namespace}/{town} does not exist")]
    TownMissing { namespace: String, town: String },
}

/// The rig's identity and town.
pub fn resolve(rig: &Rig, ctx: &Context) -> Result<(RigRef, Arc<GasTown>), Unresolved> {
    let rig_ref = RigRef::new(rig).ok_or(Unresolved::NoTown)?;
    if let Some(taken) = name_taken(ctx, rig) {
        return Err(taken);
    }
    let town = cached::<GasTown>(ctx, &rig_ref.namespace, &rig_ref.town).ok_or_else(|| {
        Unresolved::TownMissing {
            namespace: rig_ref.namespace.clone(),
            town: rig_ref.town.clone(),
        }
    })?;
    Ok((rig_ref, town))
}

/// Why `rig` may not run agents: another town's Rig of the same `spec.name`
/// came first in this namespace. Agent pods are named `gt-<rig>-<role>-<agent>`
/// (Gas Town's convention, without the town), so two towns' rigs of one name
/// in one namespace would replace each other's pods.
pub fn name_taken(ctx: &Context, rig: &Rig) -> Option<Unresolved> {
    let rigs = ctx.cache.rigs.state();
    let first = older_namesake(rig, rigs.iter().map(Arc::as_ref))?;
    Some(Unresolved::NameTaken {
        holder: first.name_any(),
        holder_town: first.town().unwrap_or_default().to_string(),
        name: rig.spec.name.clone(),
        namespace: rig.namespace().unwrap_or_default(),
    })
}

/// The Rig among `others` that holds `rig`'s `spec.name` in its namespace for
/// another town, if any: the earliest created (then the first by name) of
/// those not being deleted. A rig that came later waits until it is gone.
pub fn older_namesake<'a>(rig: &Rig, others: impl Iterator<Item = &'a Rig>) -> Option<&'a Rig> {
    // Borrowed, not cloned: every rig reconcile looks at every rig.
    fn order(r: &Rig) -> (Option<&Time>, Option<&str>) {
        (
            r.metadata.creation_timestamp.as_ref(),
            r.metadata.name.as_deref(),
        )
    }
    others
        .filter(|other| other.spec.name == rig.spec.name)
        .filter(|other| other.metadata.namespace == rig.metadata.namespace)
        .filter(|other| other.town() != rig.town())
        .filter(|other| other.metadata.deletion_timestamp.is_none())
        .filter(|other| order(other) < order(rig))
        .min_by_key(|other| order(other))
}

/// The rig's objects, for pruning: labelled with its town and rig, its
/// default pool by owner reference, its witness, refinery and crew pods (not
/// the pools'), and its claims only under `reclaimPolicy: Delete`.
pub fn owner(rig: &Rig, rig_ref: &RigRef) -> Owner {
    Owner {
        namespace: rig_ref.namespace.clone(),
        labels: [
            (labels::TOWN.to_string(), rig_ref.town.clone()),
            (labels::RIG.to_string(), rig_ref.name.clone()),
            (
                "app.kubernetes.io/managed-by".to_string(),
                naming::MANAGED_BY.to_string(),
            ),
        ]
        .into(),
        narrower: &[],
        uid: rig.uid().unwrap_or_default(),
        pod_roles: &[AgentRole::Witness, AgentRole::Refinery, AgentRole::Crew],
        claims: match rig.spec.workspace().reclaim_policy() {
            ReclaimPolicy::Delete => Reclaim::Delete,
            ReclaimPolicy::Retain => Reclaim::Retain,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use kube::api::ObjectMeta;

    fn rig(object: &str, town: &str, rig_name: &str, created_second: i64) -> Rig {
        let mut rig = Rig::new(
            object,
            serde_json::from_value(serde_json::json!({"name": rig_name})).unwrap(),
        );
        rig.metadata = ObjectMeta {
            name: Some(object.into()),
            namespace: Some("ns".into()),
            labels: Some([(labels::TOWN.to_string(), town.to_string())].into()),
            creation_timestamp: Some(Time(
                Timestamp::from_second(1_700_000_000 + created_second).unwrap(),
            )),
            ..ObjectMeta::default()
        };
        rig
    }

    #[test]
    fn the_first_town_to_use_a_rig_name_in_a_namespace_keeps_it() {
        let first = rig("a-gastown", "a", "gastown", 1);
        let second = rig("b-gastown", "b", "gastown", 2);
        let same_town_other_object = rig("a-gastown-2", "a", "gastown", 0);
        let other_name = rig("c-beads", "c", "beads", 0);
        let mut other_namespace = rig("d-gastown", "d", "gastown", 0);
        other_namespace.metadata.namespace = Some("elsewhere".into());
        let all = [
            first.clone(),
            second.clone(),
            same_town_other_object,
            other_name,
            other_namespace,
        ];
        // Town a's earliest Rig of that name holds it against town b ...
        assert_eq!(
            older_namesake(&second, all.iter()).map(|r| r.name_any()),
            Some("a-gastown-2".to_string())
        );
        // ... and a town's own Rigs never block each other.
        assert!(older_namesake(&first, all.iter()).is_none());

        // Created in the same second: the first by name wins.
        let twin = rig("0-gastown", "z", "gastown", 1);
        let both = [first.clone(), twin.clone()];
        assert!(older_namesake(&twin, both.iter()).is_none());
        assert_eq!(
            older_namesake(&first, both.iter()).map(|r| r.name_any()),
            Some("0-gastown".to_string())
        );

        // A first user being deleted lets the next one in.
        let mut leaving = first.clone();
        leaving.metadata.deletion_timestamp = first.metadata.creation_timestamp.clone();
        assert!(older_namesake(&second, [leaving].iter()).is_none());
    }
}

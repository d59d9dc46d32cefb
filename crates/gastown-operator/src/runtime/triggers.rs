//! Which objects a change concerns: pure mappings from a changed object (or a
//! town whose beads changed) to the GasTowns, Rigs and AgentPools to reconcile.
//!
//! Objects are related by the operator's labels (`gastown.io/town`,
//! `gastown.io/rig`, `gastown.io/role`) and by owner references, never by
//! naming conventions: a Rig applied on its own has any name.

use std::sync::Arc;

use gastown_api::{AgentPool, GasTown, Rig, labels};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use crate::controllers::pool::POOL_LABEL;
use crate::relations::rig_belongs_to;

/// The town an object belongs to, from its `gastown.io/town` label.
pub fn town_of<K: Resource>(object: &K) -> Option<ObjectRef<GasTown>> {
    let namespace = object.meta().namespace.as_deref()?;
    let town = object.labels().get(labels::TOWN)?;
    Some(ObjectRef::new(town).within(namespace))
}

/// Every town in `namespace` (a Secret may be referenced by any of them).
pub fn towns_in(namespace: Option<&str>, towns: &[Arc<GasTown>]) -> Vec<ObjectRef<GasTown>> {
    towns
        .iter()
        .filter(|town| town.namespace().as_deref() == namespace)
        .map(|town| ObjectRef::from_obj(town.as_ref()))
        .collect()
}

/// The rigs of a town.
pub fn rigs_of_town(
    namespace: &str,
    town: &str,
    town_uid: Option<&str>,
    rigs: &[Arc<Rig>],
) -> Vec<ObjectRef<Rig>> {
    rigs.iter()
        .filter(|rig| rig_belongs_to(rig, namespace, town, town_uid))
        .map(|rig| ObjectRef::from_obj(rig.as_ref()))
        .collect()
}

/// The rigs an object labelled with a town and a beads rig name belongs to
/// (a rig's pods, claims and pools carry `gastown.io/rig: <spec.name>`).
pub fn rigs_of_labelled<K: Resource>(object: &K, rigs: &[Arc<Rig>]) -> Vec<ObjectRef<Rig>> {
    let (Some(namespace), Some(town), Some(rig_name)) = (
        object.meta().namespace.as_deref(),
        object.labels().get(labels::TOWN),
        object.labels().get(labels::RIG),
    ) else {
        return Vec::new();
    };
    rigs.iter()
        .filter(|rig| rig.spec.name == *rig_name && rig_belongs_to(rig, namespace, town, None))
        .map(|rig| ObjectRef::from_obj(rig.as_ref()))
        .collect()
}

/// Whether `pool` serves `rig`: owned by it, or naming its beads rig within
/// the rig's town and namespace.
fn pool_serves(pool: &AgentPool, rig: &Rig) -> bool {
    let owned = rig
        .uid()
        .is_some_and(|uid| pool.owner_references().iter().any(|o| o.uid == uid));
    let same_town = pool.labels().get(labels::TOWN) == rig.labels().get(labels::TOWN);
    let named = pool.namespace() == rig.namespace()
        && pool.spec.rig.as_deref() == Some(rig.spec.name.as_str())
        && same_town;
    owned || named
}

/// The pools of a rig.
pub fn pools_of_rig(rig: &Rig, pools: &[Arc<AgentPool>]) -> Vec<ObjectRef<AgentPool>> {
    pools
        .iter()
        .filter(|pool| pool_serves(pool, rig))
        .map(|pool| ObjectRef::from_obj(pool.as_ref()))
        .collect()
}

/// The pools of every rig of a town.
pub fn pools_of_town(
    namespace: &str,
    town: &str,
    rigs: &[Arc<Rig>],
    pools: &[Arc<AgentPool>],
) -> Vec<ObjectRef<AgentPool>> {
    let mut refs: Vec<ObjectRef<AgentPool>> = rigs
        .iter()
        .filter(|rig| rig_belongs_to(rig, namespace, town, None))
        .flat_map(|rig| pools_of_rig(rig, pools))
        .collect();
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    refs.dedup();
    refs
}

/// The pools a pod concerns: the pool named by its [`POOL_LABEL`] (the pool
/// that made it), else every pool of its namespace, town, rig and role (a
/// pool waiting for room, or one whose agent's pod name is taken).
pub fn pools_of_pod<K: Resource>(pod: &K, pools: &[Arc<AgentPool>]) -> Vec<ObjectRef<AgentPool>> {
    let labels = pod.labels();
    if let (Some(namespace), Some(pool)) = (pod.meta().namespace.as_deref(), labels.get(POOL_LABEL))
    {
        return vec![ObjectRef::new(pool).within(namespace)];
    }
    let (Some(namespace), Some(town), Some(rig), Some(role)) = (
        pod.meta().namespace.as_deref(),
        labels.get(labels::TOWN),
        labels.get(labels::RIG),
        labels.get(labels::ROLE),
    ) else {
        return Vec::new();
    };
    pools
        .iter()
        .filter(|pool| {
            pool.namespace().as_deref() == Some(namespace)
                && pool.spec.rig.as_deref() == Some(rig.as_str())
                && pool.spec.role.as_str() == role
                && pool
                    .labels()
                    .get(labels::TOWN)
                    .is_none_or(|pool_town| pool_town == town)
        })
        .map(|pool| ObjectRef::from_obj(pool.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_api::{AgentPoolSpec, AgentRole, GasTownSpec, RigSpec};
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use std::collections::BTreeMap;

    fn labels_of(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn owner(kind: &str, name: &str, uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "gastown.io/v1alpha1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn town(namespace: &str, name: &str) -> Arc<GasTown> {
        let spec: GasTownSpec = serde_json::from_value(serde_json::json!({
            "daemon": {"image": "bd:1"},
            "defaults": {"image": "agent:1"}
        }))
        .expect("a minimal town spec");
        let mut town = GasTown::new(name, spec);
        town.metadata.namespace = Some(namespace.into());
        Arc::new(town)
    }

    fn rig(namespace: &str, object: &str, beads_name: &str, town: &str, uid: &str) -> Arc<Rig> {
        let spec: RigSpec = serde_json::from_value(serde_json::json!({"name": beads_name}))
            .expect("a minimal rig spec");
        let mut rig = Rig::new(object, spec);
        rig.metadata.namespace = Some(namespace.into());
        rig.metadata.uid = Some(uid.into());
        rig.metadata.labels = labels_of(&[(labels::TOWN, town)]);
        Arc::new(rig)
    }

    fn pool(namespace: &str, name: &str, rig: &str, town: &str, role: AgentRole) -> AgentPool {
        let mut pool = AgentPool::new(
            name,
            AgentPoolSpec {
                rig: Some(rig.into()),
                role,
                template: None,
                max_count: None,
                bead_selector: None,
                spawn_burst: None,
            },
        );
        pool.metadata.namespace = Some(namespace.into());
        pool.metadata.labels = labels_of(&[(labels::TOWN, town), (labels::RIG, rig)]);
        pool
    }

    fn pod(namespace: &str, labels: &[(&str, &str)]) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("gt-gastown-polecat-nux".into());
        pod.metadata.namespace = Some(namespace.into());
        pod.metadata.labels = labels_of(labels);
        pod
    }

    fn names<K: Resource>(refs: &[ObjectRef<K>]) -> Vec<String>
    where
        K::DynamicType: Default,
    {
        let mut names: Vec<String> = refs.iter().map(|r| r.name.clone()).collect();
        names.sort();
        names
    }

    #[test]
    fn infrastructure_maps_to_its_town_by_label() {
        let dolt = pod("ns", &[(labels::TOWN, "prod")]);
        let town = town_of(&dolt).expect("labelled");
        assert_eq!(
            (town.name.as_str(), town.namespace.as_deref()),
            ("prod", Some("ns"))
        );
        assert!(
            town_of(&pod("ns", &[])).is_none(),
            "unlabelled objects concern no town"
        );
    }

    #[test]
    fn secrets_concern_the_towns_of_their_namespace_only() {
        let towns = [town("a", "prod"), town("a", "dev"), town("b", "prod")];
        let refs = towns_in(Some("a"), &towns);
        assert_eq!(names(&refs), ["dev", "prod"]);
        assert!(refs.iter().all(|r| r.namespace.as_deref() == Some("a")));
    }

    #[test]
    fn rigs_belong_to_a_town_by_owner_or_label() {
        let mut owned = (*rig("ns", "prod-gastown", "gastown", "elsewhere", "r1")).clone();
        owned.metadata.owner_references = Some(vec![owner("GasTown", "prod", "town-uid")]);
        let rigs = [
            Arc::new(owned),
            rig("ns", "tools", "tools", "prod", "r2"),
            rig("ns", "other", "other", "dev", "r3"),
            rig("ns2", "far", "far", "prod", "r4"),
        ];
        let refs = rigs_of_town("ns", "prod", Some("town-uid"), &rigs);
        assert_eq!(names(&refs), ["prod-gastown", "tools"]);
    }

    #[test]
    fn a_rigs_pods_map_to_the_rig_by_town_and_beads_name() {
        let rigs = [
            rig("ns", "prod-gastown", "gastown", "prod", "r1"),
            rig("ns", "dev-gastown", "gastown", "dev", "r2"),
        ];
        let polecat = pod(
            "ns",
            &[
                (labels::TOWN, "prod"),
                (labels::RIG, "gastown"),
                (labels::ROLE, "polecat"),
            ],
        );
        assert_eq!(names(&rigs_of_labelled(&polecat, &rigs)), ["prod-gastown"]);
        let mayor = pod("ns", &[(labels::TOWN, "prod"), (labels::ROLE, "mayor")]);
        assert!(
            rigs_of_labelled(&mayor, &rigs).is_empty(),
            "town agents have no rig"
        );
    }

    #[test]
    fn pools_follow_their_rig_by_owner_or_rig_name() {
        let the_rig = rig("ns", "prod-gastown", "gastown", "prod", "rig-uid");
        let mut owned = pool(
            "ns",
            "prod-gastown-polecats",
            "renamed",
            "other",
            AgentRole::Polecat,
        );
        owned.metadata.owner_references = Some(vec![owner("Rig", "prod-gastown", "rig-uid")]);
        let pools = [
            Arc::new(owned),
            Arc::new(pool("ns", "reviewers", "gastown", "prod", AgentRole::Crew)),
            Arc::new(pool("ns", "dev-pool", "gastown", "dev", AgentRole::Polecat)),
            Arc::new(pool(
                "ns",
                "tools-pool",
                "tools",
                "prod",
                AgentRole::Polecat,
            )),
        ];
        assert_eq!(
            names(&pools_of_rig(&the_rig, &pools)),
            ["prod-gastown-polecats", "reviewers"]
        );
        let rigs = [
            the_rig,
            rig("ns", "dev-gastown", "gastown", "dev", "dev-uid"),
        ];
        assert_eq!(
            names(&pools_of_town("ns", "prod", &rigs, &pools)),
            ["prod-gastown-polecats", "reviewers"]
        );
    }

    #[test]
    fn a_pod_maps_to_the_pools_of_its_rig_and_role() {
        let pools = [
            Arc::new(pool(
                "ns",
                "polecats",
                "gastown",
                "prod",
                AgentRole::Polecat,
            )),
            Arc::new(pool("ns", "crew", "gastown", "prod", AgentRole::Crew)),
            Arc::new(pool(
                "ns",
                "dev-polecats",
                "gastown",
                "dev",
                AgentRole::Polecat,
            )),
        ];
        let polecat = pod(
            "ns",
            &[
                (labels::TOWN, "prod"),
                (labels::RIG, "gastown"),
                (labels::ROLE, "polecat"),
            ],
        );
        assert_eq!(names(&pools_of_pod(&polecat, &pools)), ["polecats"]);
        let unlabelled = pod("ns", &[(labels::TOWN, "prod")]);
        assert!(pools_of_pod(&unlabelled, &pools).is_empty());
        let made_by_a_pool = pod(
            "ns",
            &[
                (labels::TOWN, "prod"),
                (labels::RIG, "gastown"),
                (POOL_LABEL, "reviewers"),
            ],
        );
        assert_eq!(names(&pools_of_pod(&made_by_a_pool, &pools)), ["reviewers"]);
    }
}

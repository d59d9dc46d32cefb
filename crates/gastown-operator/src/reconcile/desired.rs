//! What an owner (a GasTown or a Rig) wants to exist, by kind, and which of
//! the objects it no longer wants it may prune.
//!
//! A controller's pure build step returns a [`Desired`]; the
//! [`super::applier`] makes the cluster match it. Adding an object kind is one
//! field here (and its [`super::kinds::Managed`] impl): the applier
//! destructures `Desired` without `..`, so a field it does not handle is a
//! compile error.

use std::collections::{BTreeMap, BTreeSet};

use gastown_api::{AgentPool, AgentRole, Rig, labels};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ResourceQuota, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::kinds::ObjectKind;

/// The objects of one kind an owner wants.
#[derive(Clone, Debug)]
pub struct Objects<K> {
    /// Applied, in this order.
    pub wanted: Vec<K>,
    /// Names left exactly as they are, neither applied nor pruned: a workload
    /// or agent pod waiting for a Secret keeps running as it is.
    pub held: BTreeSet<String>,
}

impl<K> Default for Objects<K> {
    fn default() -> Self {
        Self {
            wanted: Vec::new(),
            held: BTreeSet::new(),
        }
    }
}

impl<K: kube::Resource> Objects<K> {
    pub fn want(&mut self, object: K) {
        self.wanted.push(object);
    }

    pub fn hold(&mut self, name: impl Into<String>) {
        self.held.insert(name.into());
    }

    /// Whether the object `name` is wanted or held: not to be pruned.
    pub fn keeps(&self, name: &str) -> bool {
        self.held.contains(name)
            || self
                .wanted
                .iter()
                .any(|o| o.meta().name.as_deref() == Some(name))
    }
}

/// Every object an owner wants, by kind, in the order they are applied.
///
/// Agent pods are wanted through [`super::agent_slot::AgentSlot`]s: a pod is
/// created when missing and replaced when its spec hash changed or it failed
/// ([`crate::write::ensure_pod`]), never patched.
#[derive(Clone, Debug, Default)]
pub struct Desired {
    pub config_maps: Objects<ConfigMap>,
    pub services: Objects<Service>,
    pub service_accounts: Objects<ServiceAccount>,
    pub roles: Objects<Role>,
    pub role_bindings: Objects<RoleBinding>,
    pub network_policies: Objects<NetworkPolicy>,
    /// Cluster-scoped: never pruned (no namespaced owner's labels can tell
    /// one namespace's from another's); the Rig's finalizer deletes it.
    pub priority_classes: Objects<PriorityClass>,
    pub quotas: Objects<ResourceQuota>,
    pub claims: Objects<PersistentVolumeClaim>,
    pub stateful_sets: Objects<StatefulSet>,
    pub deployments: Objects<Deployment>,
    pub cron_jobs: Objects<CronJob>,
    pub rigs: Objects<Rig>,
    pub pools: Objects<AgentPool>,
    pub pods: Objects<Pod>,
}

/// What happens to an owner's claims that it no longer wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reclaim {
    /// Never pruned: data outlives the spec that asked for it.
    Retain,
    /// Pruned with the rest.
    Delete,
}

/// Whose objects a [`Desired`] describes, and so which cached objects the
/// applier may prune.
///
/// An object is this owner's to prune when it is in the owner's namespace,
/// not already being deleted, not wanted or held, and:
/// - a Rig or AgentPool: has an owner reference to the owner (a Rig applied
///   on its own with the town's label is the user's, not the town's);
/// - an agent pod: carries the owner's labels and one of its roles, and no
///   pool label (a pool's pods are the pool's);
/// - a claim: carries the owner's labels and the owner reclaims claims
///   ([`Reclaim::Delete`]); dolt's data claims, made by its StatefulSet with
///   the town's labels, are therefore never pruned by the town;
/// - anything else: carries every one of the owner's labels and none of the
///   labels of a narrower owner (a town does not prune its rigs' objects).
///
/// Pruning runs only while the owner lives (the finalizer has the drain-order
/// teardown), so it never races the teardown for what that keeps.
#[derive(Clone, Debug)]
pub struct Owner {
    pub namespace: String,
    /// Labels every object of the owner carries.
    pub labels: BTreeMap<String, String>,
    /// Label keys of narrower owners: objects carrying one are not this owner's.
    pub narrower: &'static [&'static str],
    /// The owner's uid, for kinds related by owner reference.
    pub uid: String,
    /// Roles of the agent pods this owner runs itself.
    pub pod_roles: &'static [AgentRole],
    pub claims: Reclaim,
}

impl Owner {
    /// Whether `meta`, an object of `kind` the owner does not want, is the
    /// owner's to delete.
    pub fn may_prune(&self, kind: ObjectKind, meta: &ObjectMeta) -> bool {
        if meta.namespace.as_deref() != Some(self.namespace.as_str())
            || meta.deletion_timestamp.is_some()
        {
            return false;
        }
        let object_labels = meta.labels.as_ref();
        let label = |key: &str| object_labels.and_then(|l| l.get(key));
        let labelled = self
            .labels
            .iter()
            .all(|(key, value)| label(key) == Some(value))
            && self.narrower.iter().all(|key| label(key).is_none());
        let owned = meta
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.uid == self.uid);
        match kind {
            ObjectKind::PriorityClass => false,
            ObjectKind::Rig | ObjectKind::AgentPool => owned,
            ObjectKind::Pod => {
                labelled
                    && label(labels::POOL).is_none()
                    && label(labels::ROLE)
                        .is_some_and(|role| self.pod_roles.iter().any(|r| r.as_str() == role))
            }
            ObjectKind::PersistentVolumeClaim => labelled && self.claims == Reclaim::Delete,
            ObjectKind::ConfigMap
            | ObjectKind::Service
            | ObjectKind::ServiceAccount
            | ObjectKind::Role
            | ObjectKind::RoleBinding
            | ObjectKind::NetworkPolicy
            | ObjectKind::ResourceQuota
            | ObjectKind::StatefulSet
            | ObjectKind::Deployment
            | ObjectKind::CronJob => labelled,
        }
    }

    /// The names among `cached` (objects of `kind`) to prune given `objects`.
    pub fn unwanted<'a, K: kube::Resource + 'a>(
        &self,
        kind: ObjectKind,
        objects: &Objects<K>,
        cached: impl IntoIterator<Item = &'a K>,
    ) -> Vec<String> {
        let mut names: Vec<String> = cached
            .into_iter()
            .filter(|object| self.may_prune(kind, object.meta()))
            .map(|object| object.name_any())
            .filter(|name| !objects.keeps(name))
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
    use k8s_openapi::jiff::Timestamp;

    const NS: &str = "gastown";

    fn town_owner() -> Owner {
        Owner {
            namespace: NS.into(),
            labels: [(labels::TOWN.to_string(), "prod".to_string())].into(),
            narrower: &[labels::RIG],
            uid: "town-uid".into(),
            pod_roles: &[AgentRole::Mayor, AgentRole::Deacon],
            claims: Reclaim::Retain,
        }
    }

    fn rig_owner(claims: Reclaim) -> Owner {
        Owner {
            namespace: NS.into(),
            labels: [
                (labels::TOWN.to_string(), "prod".to_string()),
                (labels::RIG.to_string(), "gastown".to_string()),
            ]
            .into(),
            narrower: &[],
            uid: "rig-uid".into(),
            pod_roles: &[AgentRole::Witness, AgentRole::Refinery, AgentRole::Crew],
            claims,
        }
    }

    fn meta(name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn owned_by(mut meta: ObjectMeta, uid: &str) -> ObjectMeta {
        meta.owner_references = Some(vec![OwnerReference {
            uid: uid.into(),
            ..Default::default()
        }]);
        meta
    }

    const TOWN: (&str, &str) = (labels::TOWN, "prod");
    const RIG: (&str, &str) = (labels::RIG, "gastown");

    #[test]
    fn a_town_prunes_its_own_objects_and_nothing_the_teardown_keeps() {
        let town = town_owner();
        // Its infrastructure and its agents.
        assert!(town.may_prune(ObjectKind::Deployment, &meta("prod-rpc", &[TOWN])));
        assert!(town.may_prune(ObjectKind::Service, &meta("prod-rpc", &[TOWN])));
        let mayor = meta("gt-prod-mayor", &[TOWN, (labels::ROLE, "mayor")]);
        assert!(town.may_prune(ObjectKind::Pod, &mayor));
        assert!(town.may_prune(
            ObjectKind::Rig,
            &owned_by(meta("prod-x", &[TOWN]), "town-uid")
        ));

        // dolt's data claim (made by its StatefulSet with the town's labels).
        assert!(!town.may_prune(
            ObjectKind::PersistentVolumeClaim,
            &meta("data-prod-dolt-0", &[TOWN])
        ));
        // A rig's objects, its agents and the pools' polecats.
        assert!(!town.may_prune(
            ObjectKind::ServiceAccount,
            &meta("prod-gastown-agents", &[TOWN, RIG])
        ));
        let polecat = meta(
            "gt-gastown-polecat-a",
            &[TOWN, RIG, (labels::ROLE, "polecat")],
        );
        assert!(!town.may_prune(ObjectKind::Pod, &polecat));
        // The pods of its own workloads (no agent role).
        assert!(!town.may_prune(ObjectKind::Pod, &meta("prod-dolt-0", &[TOWN])));
        // A Rig applied on its own with the town's label is the user's.
        assert!(!town.may_prune(ObjectKind::Rig, &meta("mine", &[TOWN])));
        // Another town's, another namespace's, or one already going.
        assert!(!town.may_prune(
            ObjectKind::Deployment,
            &meta("dev-rpc", &[(labels::TOWN, "dev")])
        ));
        let mut elsewhere = meta("prod-rpc", &[TOWN]);
        elsewhere.namespace = Some("other".into());
        assert!(!town.may_prune(ObjectKind::Deployment, &elsewhere));
        let mut going = meta("prod-rpc", &[TOWN]);
        going.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(!town.may_prune(ObjectKind::Deployment, &going));
        // PriorityClasses are cluster-scoped: never.
        let mut class = meta("gastown-gastown-prod-gastown-polecat", &[TOWN, RIG]);
        class.namespace = None;
        assert!(!rig_owner(Reclaim::Delete).may_prune(ObjectKind::PriorityClass, &class));
    }

    #[test]
    fn a_rig_prunes_claims_only_when_it_reclaims_them_and_never_a_pools_pods() {
        let crew_claim = meta(
            "prod-gastown-crew-max",
            &[TOWN, RIG, (labels::ROLE, "crew")],
        );
        assert!(
            !rig_owner(Reclaim::Retain).may_prune(ObjectKind::PersistentVolumeClaim, &crew_claim)
        );
        assert!(
            rig_owner(Reclaim::Delete).may_prune(ObjectKind::PersistentVolumeClaim, &crew_claim)
        );

        let rig = rig_owner(Reclaim::Delete);
        let crew_pod = meta("gt-gastown-crew-max", &[TOWN, RIG, (labels::ROLE, "crew")]);
        assert!(rig.may_prune(ObjectKind::Pod, &crew_pod));
        let pool_crew = meta(
            "gt-gastown-crew-bee",
            &[
                TOWN,
                RIG,
                (labels::ROLE, "crew"),
                (labels::POOL, "crew-pool"),
            ],
        );
        assert!(!rig.may_prune(ObjectKind::Pod, &pool_crew));
        let polecat = meta(
            "gt-gastown-polecat-a",
            &[TOWN, RIG, (labels::ROLE, "polecat")],
        );
        assert!(!rig.may_prune(ObjectKind::Pod, &polecat));
        // Its default pool by owner reference; a user's pool for the rig is not its.
        assert!(rig.may_prune(
            ObjectKind::AgentPool,
            &owned_by(meta("p", &[TOWN, RIG]), "rig-uid")
        ));
        assert!(!rig.may_prune(ObjectKind::AgentPool, &meta("users", &[TOWN, RIG])));
    }

    #[test]
    fn wanted_and_held_objects_are_never_unwanted() {
        let town = town_owner();
        let mut services: Objects<Service> = Objects::default();
        let named = |name: &str| Service {
            metadata: meta(name, &[TOWN]),
            ..Default::default()
        };
        services.want(named("prod-dolt"));
        services.hold("prod-rpc");
        let cached = [
            named("prod-dolt"),
            named("prod-rpc"),
            named("prod-bd-daemon"),
        ];
        assert_eq!(
            town.unwanted(ObjectKind::Service, &services, cached.iter()),
            ["prod-bd-daemon"]
        );
    }
}

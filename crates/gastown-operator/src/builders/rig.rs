//! A rig's own objects: its Rig object (built from the town's spec), the
//! shared workspace and crew claims, the agents' ServiceAccount and RBAC, the
//! NetworkPolicy, the polecat ceiling (PriorityClass + scoped ResourceQuota)
//! and the default polecat AgentPool.

use std::collections::BTreeMap;

use gastown_api::rig::{CrewMember, RigSpec};
use gastown_api::template::WorkspaceVolume;
use gastown_api::{AgentPool, AgentPoolSpec, AgentRole, Rig, StorageSpec, labels};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, ResourceQuota, ResourceQuotaSpec,
    ScopeSelector, ScopedResourceSelectorRequirement, ServiceAccount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

use super::quantity::{self, InvalidQuantity};
use crate::naming;

/// The identity of a rig that its builders need.
#[derive(Clone, Debug)]
pub struct RigRef {
    /// The Rig object's name.
    pub object_name: String,
    pub namespace: String,
    /// The beads rig name (`spec.name`).
    pub name: String,
    pub town: String,
    pub owner: OwnerReference,
}

impl RigRef {
    /// `None` when the rig has not been stored yet or names no town.
    pub fn new(rig: &Rig) -> Option<Self> {
        Some(Self {
            object_name: rig.metadata.name.clone()?,
            namespace: rig.metadata.namespace.clone()?,
            name: rig.spec.name.clone(),
            town: rig.metadata.labels.as_ref()?.get(labels::TOWN)?.clone(),
            owner: rig.controller_owner_ref(&())?,
        })
    }

    fn meta(&self, name: String, owned: bool) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(naming::rig_labels(&self.town, &self.name)),
            owner_references: owned.then(|| vec![self.owner.clone()]),
            ..Default::default()
        }
    }

    /// The selector matching every agent pod of the rig.
    pub fn agent_selector(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (labels::TOWN.to_string(), self.town.clone()),
            (labels::RIG.to_string(), self.name.clone()),
        ])
    }

    pub fn priority_class(&self) -> String {
        naming::polecat_priority_class(&self.namespace, &self.object_name)
    }
}

/// The Rig object a town keeps for one entry of `spec.rigs`, owned by the town.
/// `draining` marks it while the town is being deleted. It carries the Rig
/// controller's finalizer from the start, so that creating it is one write.
pub fn rig_object(
    town: &str,
    namespace: &str,
    owner: &OwnerReference,
    spec: &RigSpec,
    draining: bool,
) -> Rig {
    let mut rig = Rig::new(&naming::rig_object(town, &spec.name), spec.clone());
    rig.metadata.namespace = Some(namespace.to_string());
    rig.metadata.labels = Some(naming::town_labels(town));
    rig.metadata.owner_references = Some(vec![owner.clone()]);
    rig.metadata.finalizers = Some(vec![naming::RIG_FINALIZER.to_string()]);
    if draining {
        rig.metadata.annotations = Some(BTreeMap::from([(
            naming::DRAINING_ANNOTATION.to_string(),
            "true".to_string(),
        )]));
    }
    rig
}

fn claim(meta: ObjectMeta, storage: &StorageSpec, default_size: &str) -> PersistentVolumeClaim {
    let size = storage
        .size
        .clone()
        .unwrap_or_else(|| Quantity(default_size.into()));
    PersistentVolumeClaim {
        metadata: meta,
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), size)])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    }
}

/// The workspace shared by witness and refinery. No owner reference: the Rig
/// finalizer removes it per `reclaimPolicy`.
pub fn workspace_claim(rig: &RigRef, spec: &RigSpec) -> PersistentVolumeClaim {
    let workspace = spec.workspace();
    let storage = StorageSpec {
        size: Some(workspace.size()),
        storage_class_name: workspace.storage_class_name.clone(),
    };
    claim(
        rig.meta(naming::rig_workspace(&rig.object_name), false),
        &storage,
        gastown_api::rig::DEFAULT_WORKSPACE_SIZE,
    )
}

/// A crew member's own workspace; `volume` is its resolved workspace volume.
pub fn crew_claim(
    rig: &RigRef,
    crew: &CrewMember,
    volume: &WorkspaceVolume,
) -> Option<PersistentVolumeClaim> {
    let WorkspaceVolume::OwnClaim(storage) = volume else {
        return None;
    };
    let mut meta = rig.meta(naming::crew_workspace(&rig.object_name, &crew.name), false);
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(
        labels::ROLE.to_string(),
        AgentRole::Crew.as_str().to_string(),
    );
    labels.insert(labels::AGENT.to_string(), crew.name.clone());
    Some(claim(
        meta,
        storage,
        gastown_api::template::DEFAULT_CREW_STORAGE_SIZE,
    ))
}

/// `desired` as it may be applied over the existing claim `observed`: the API
/// server refuses any change of a claim's storage class or access modes, and
/// any shrinking of its size, so those stay as observed (growing is allowed:
/// the storage class decides whether the volume expands). Returns the claim to
/// apply and, when the spec asked for something that cannot be applied, what.
pub fn claim_over(
    mut desired: PersistentVolumeClaim,
    observed: Option<&PersistentVolumeClaim>,
) -> (PersistentVolumeClaim, Option<String>) {
    let (Some(desired_spec), Some(observed_spec)) = (
        desired.spec.as_mut(),
        observed.and_then(|o| o.spec.as_ref()),
    ) else {
        return (desired, None);
    };
    let mut kept = Vec::new();
    if desired_spec.storage_class_name != observed_spec.storage_class_name {
        kept.push(format!(
            "storage class {:?} (it stays {:?})",
            desired_spec
                .storage_class_name
                .as_deref()
                .unwrap_or("default"),
            observed_spec
                .storage_class_name
                .as_deref()
                .unwrap_or("default")
        ));
        desired_spec.storage_class_name = observed_spec.storage_class_name.clone();
    }
    if desired_spec.access_modes != observed_spec.access_modes {
        desired_spec.access_modes = observed_spec.access_modes.clone();
    }
    let size_of = |spec: &PersistentVolumeClaimSpec| {
        spec.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .cloned()
    };
    if let (Some(wanted), Some(current)) = (size_of(desired_spec), size_of(observed_spec))
        && let (Ok(w), Ok(c)) = (quantity::parse(&wanted.0), quantity::parse(&current.0))
        && w.value < c.value
    {
        kept.push(format!(
            "size {} (a claim never shrinks; it stays {})",
            wanted.0, current.0
        ));
        if let Some(requests) = desired_spec
            .resources
            .as_mut()
            .and_then(|r| r.requests.as_mut())
        {
            requests.insert("storage".into(), current);
        }
    }
    let note = (!kept.is_empty()).then(|| kept.join(", "));
    (desired, note)
}

/// The ServiceAccount, Role and RoleBinding of the rig's agents: they may read
/// pods and their logs in the namespace (the witness peeks at polecats), nothing else.
pub fn agent_rbac(rig: &RigRef) -> (ServiceAccount, Role, RoleBinding) {
    let name = naming::rig_agents(&rig.object_name);
    let account = ServiceAccount {
        metadata: rig.meta(name.clone(), true),
        ..Default::default()
    };
    let role = Role {
        metadata: rig.meta(name.clone(), true),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".into(), "pods/log".into()]),
            verbs: vec!["get".into(), "list".into(), "watch".into()],
            ..Default::default()
        }]),
    };
    let binding = RoleBinding {
        metadata: rig.meta(name.clone(), true),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name,
            namespace: Some(rig.namespace.clone()),
            api_group: None,
        }]),
    };
    (account, role, binding)
}

fn port(protocol: &str, port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(port)),
        end_port: None,
    }
}

/// Where a rig's agents reach beads: the town's bd daemon, or with `bd
/// serve` (agents use Dolt directly) the town's Dolt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeadsPeer {
    /// `app.kubernetes.io/component` of the town's pods to reach; `None`
    /// when the server is not in the cluster (the ports are then allowed to
    /// any address).
    pub component: Option<&'static str>,
    pub ports: Vec<u16>,
}

impl BeadsPeer {
    pub fn of(town: &gastown_api::GasTown) -> Self {
        let spec = &town.spec;
        let in_cluster = spec.daemon.in_cluster();
        match spec.daemon.protocol() {
            gastown_api::gastown::BeadsProtocol::Daemon => {
                let endpoint = spec.daemon.endpoint(&naming::bd_daemon(
                    &town.metadata.name.clone().unwrap_or_default(),
                ));
                Self {
                    component: in_cluster.then_some("bd-daemon"),
                    ports: vec![endpoint.port, endpoint.http_port],
                }
            }
            gastown_api::gastown::BeadsProtocol::Serve => Self {
                component: (in_cluster && spec.dolt.is_some()).then_some("dolt"),
                ports: vec![crate::builders::town::DOLT_PORT as u16],
            },
        }
    }
}

/// Confines the rig's agent pods: nothing may connect to them; they may reach
/// beads (`beads`), cluster DNS, git and HTTPS anywhere, plus the extra
/// egress of the spec.
pub fn network_policy(rig: &RigRef, spec: &RigSpec, beads: &BeadsPeer) -> Option<NetworkPolicy> {
    let policy = spec.network_policy();
    if !policy.enabled() {
        return None;
    }
    let beads_peer = beads.component.map(|component| {
        vec![NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([
                    (labels::TOWN.to_string(), rig.town.clone()),
                    (
                        "app.kubernetes.io/component".to_string(),
                        component.to_string(),
                    ),
                ])),
                match_expressions: None,
            }),
            ..Default::default()
        }]
    });
    let mut egress = vec![
        NetworkPolicyEgressRule {
            to: beads_peer,
            ports: Some(
                beads
                    .ports
                    .iter()
                    .map(|p| port("TCP", i32::from(*p)))
                    .collect(),
            ),
        },
        // DNS wherever the cluster serves it: kube-dns pods, OpenShift's
        // dns-default, or a node-local cache on a link-local address.
        NetworkPolicyEgressRule {
            to: None,
            ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
        },
        NetworkPolicyEgressRule {
            to: None,
            ports: Some(open_ports(spec.git_url.as_deref())),
        },
    ];
    egress.extend(policy.extra_egress.clone().unwrap_or_default());
    Some(NetworkPolicy {
        metadata: rig.meta(naming::rig_agents(&rig.object_name), true),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(rig.agent_selector()),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![]),
            egress: Some(egress),
        }),
    })
}

/// Ports the agents reach anywhere: 443 (git over https, the Anthropic API,
/// the Kubernetes API through its Service — the witness reads pods and their
/// logs), 6443 (the API server's own port, which network plugins that match
/// after the Service's address translation see instead of 443), 22 (git over
/// ssh), and the port of a plain `http://` or `git://` repository URL.
fn open_ports(git_url: Option<&str>) -> Vec<NetworkPolicyPort> {
    let mut ports = vec![22, 443, 6443];
    match git_url
        .and_then(|url| url.split_once("://"))
        .map(|(scheme, _)| scheme)
    {
        Some("http") => ports.push(80),
        Some("git") => ports.push(9418),
        _ => {}
    }
    ports.into_iter().map(|p| port("TCP", p)).collect()
}

/// The rig's PriorityClass: polecat pods carry it so that the rig's quota,
/// scoped to it, counts exactly them. Cluster-scoped, so no owner reference.
pub fn polecat_priority_class(rig: &RigRef) -> PriorityClass {
    PriorityClass {
        metadata: ObjectMeta {
            name: Some(rig.priority_class()),
            labels: Some(naming::rig_labels(&rig.town, &rig.name)),
            ..Default::default()
        },
        value: 0,
        global_default: Some(false),
        description: Some(format!(
            "Polecats of Gas Town rig {} (town {}, namespace {}); the rig's ResourceQuota is scoped to this class.",
            rig.name, rig.town, rig.namespace
        )),
        preemption_policy: Some("Never".into()),
    }
}

/// The polecat ceiling: `maxCount` pods and `maxCount` × the per-polecat cpu
/// and memory requests, counting only pods of the rig's PriorityClass.
pub fn polecat_quota(rig: &RigRef, spec: &RigSpec) -> Result<ResourceQuota, InvalidQuantity> {
    let polecats = spec.polecats();
    let count = polecats.max_count();
    let hard = BTreeMap::from([
        ("pods".to_string(), Quantity(count.to_string())),
        (
            "requests.cpu".to_string(),
            quantity::times(count, &polecats.cpu())?,
        ),
        (
            "requests.memory".to_string(),
            quantity::times(count, &polecats.memory())?,
        ),
    ]);
    Ok(ResourceQuota {
        metadata: rig.meta(naming::polecat_quota(&rig.object_name), true),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            scope_selector: Some(ScopeSelector {
                match_expressions: Some(vec![ScopedResourceSelectorRequirement {
                    scope_name: "PriorityClass".into(),
                    operator: "In".into(),
                    values: Some(vec![rig.priority_class()]),
                }]),
            }),
            scopes: None,
        }),
        status: None,
    })
}

/// The polecat AgentPool every rig owns; its pods' size comes from the
/// rig's polecat policy (the quota assumes these requests).
pub fn polecat_pool(rig: &RigRef, spec: &RigSpec) -> AgentPool {
    let polecats = spec.polecats();
    let mut pool = AgentPool::new(
        &naming::polecat_pool(&rig.object_name),
        AgentPoolSpec {
            rig: Some(rig.name.clone()),
            role: AgentRole::Polecat,
            template: None,
            max_count: Some(polecats.max_count()),
            bead_selector: None,
            spawn_burst: None,
        },
    );
    pool.metadata = rig.meta(naming::polecat_pool(&rig.object_name), true);
    // The pool controller's finalizer from the start: creating it is one write.
    pool.metadata.finalizers = Some(vec![naming::POOL_FINALIZER.to_string()]);
    pool
}

#[cfg(test)]
mod tests {
    fn pvc(size: &str, class: Option<&str>) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: class.map(str::to_string),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([(
                        "storage".to_string(),
                        Quantity(size.into()),
                    )])),
                    limits: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_claim_grows_but_keeps_its_class_and_never_shrinks() {
        let existing = pvc("10Gi", Some("fast"));
        let (grown, note) = claim_over(pvc("20Gi", Some("fast")), Some(&existing));
        assert_eq!(grown, pvc("20Gi", Some("fast")));
        assert_eq!(note, None);

        let (kept, note) = claim_over(pvc("5Gi", Some("slow")), Some(&existing));
        assert_eq!(kept, existing);
        assert_eq!(
            note.as_deref(),
            Some(
                "storage class \"slow\" (it stays \"fast\"), size 5Gi (a claim never shrinks; it stays 10Gi)"
            )
        );

        let (new, note) = claim_over(pvc("5Gi", None), None);
        assert_eq!(new, pvc("5Gi", None));
        assert_eq!(note, None);
    }

    use super::*;

    fn rig_ref() -> RigRef {
        RigRef {
            object_name: "prod-gastown".into(),
            namespace: "ns".into(),
            name: "gastown".into(),
            town: "prod".into(),
            owner: OwnerReference {
                api_version: "gastown.io/v1alpha1".into(),
                kind: "Rig".into(),
                name: "prod-gastown".into(),
                uid: "uid-r".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
        }
    }

    fn spec(json: serde_json::Value) -> RigSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn quota_is_scoped_to_the_rig_priority_class_and_sized_from_the_policy() {
        let quota = polecat_quota(
            &rig_ref(),
            &spec(serde_json::json!({
                "name": "gastown", "polecats": {"maxCount": 3, "cpu": "750m", "memory": "2Gi"}
            })),
        )
        .unwrap();
        let spec = quota.spec.unwrap();
        let hard = spec.hard.unwrap();
        assert_eq!(hard["pods"].0, "3");
        assert_eq!(hard["requests.cpu"].0, "2250m");
        assert_eq!(hard["requests.memory"].0, "6Gi");
        let scope = &spec.scope_selector.unwrap().match_expressions.unwrap()[0];
        assert_eq!(scope.scope_name, "PriorityClass");
        assert_eq!(
            scope.values.as_deref(),
            Some(&["gastown-ns-prod-gastown-polecat".to_string()][..])
        );
    }

    #[test]
    fn default_policy_gives_five_polecats_of_half_a_cpu() {
        let quota =
            polecat_quota(&rig_ref(), &spec(serde_json::json!({"name": "gastown"}))).unwrap();
        let hard = quota.spec.unwrap().hard.unwrap();
        assert_eq!(
            (
                hard["pods"].0.as_str(),
                hard["requests.cpu"].0.as_str(),
                hard["requests.memory"].0.as_str()
            ),
            ("5", "2500m", "5Gi")
        );
    }

    #[test]
    fn priority_class_is_never_a_global_default() {
        let class = polecat_priority_class(&rig_ref());
        assert_eq!(class.global_default, Some(false));
        assert_eq!(
            class.metadata.name.as_deref(),
            Some("gastown-ns-prod-gastown-polecat")
        );
    }

    #[test]
    fn network_policy_denies_ingress_and_allows_daemon_dns_git() {
        let policy = network_policy(
            &rig_ref(),
            &spec(serde_json::json!({"name": "gastown"})),
            &daemon_peer(),
        )
        .unwrap();
        let spec = policy.spec.unwrap();
        assert_eq!(spec.ingress, Some(vec![]));
        let egress = spec.egress.unwrap();
        assert_eq!(egress.len(), 3);
        let ports_of = |rule: &NetworkPolicyEgressRule| -> Vec<(String, IntOrString)> {
            rule.ports
                .iter()
                .flatten()
                .map(|p| (p.protocol.clone().unwrap(), p.port.clone().unwrap()))
                .collect()
        };
        let tcp = |p| ("TCP".to_string(), IntOrString::Int(p));
        assert_eq!(
            ports_of(&egress[1]),
            [("UDP".to_string(), IntOrString::Int(53)), tcp(53)]
        );
        assert!(egress[1].to.is_none(), "DNS wherever the cluster serves it");
        assert_eq!(ports_of(&egress[2]), [tcp(22), tcp(443), tcp(6443)]);
        for (url, extra) in [
            ("http://git.local/r.git", 80),
            ("git://git.local/r.git", 9418),
        ] {
            let policy = network_policy(
                &rig_ref(),
                &super::tests::spec(serde_json::json!({"name": "gastown", "gitURL": url})),
                &daemon_peer(),
            )
            .unwrap();
            assert_eq!(
                ports_of(&policy.spec.unwrap().egress.unwrap()[2]),
                [tcp(22), tcp(443), tcp(6443), tcp(extra)],
                "{url}"
            );
        }
        let daemon_ports: Vec<_> = egress[0]
            .ports
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| p.port.clone().unwrap())
            .collect();
        assert_eq!(
            daemon_ports,
            vec![IntOrString::Int(9876), IntOrString::Int(9080)]
        );
        assert!(
            network_policy(
                &rig_ref(),
                &super::tests::spec(
                    serde_json::json!({"name": "gastown", "networkPolicy": {"enabled": false}})
                ),
                &daemon_peer(),
            )
            .is_none()
        );
    }

    fn daemon_peer() -> BeadsPeer {
        BeadsPeer {
            component: Some("bd-daemon"),
            ports: vec![9876, 9080],
        }
    }

    #[test]
    fn with_bd_serve_agents_reach_the_towns_dolt_instead_of_the_daemon() {
        let town: gastown_api::GasTown = serde_json::from_value(serde_json::json!({
            "apiVersion": "gastown.io/v1alpha1", "kind": "GasTown",
            "metadata": {"name": "prod", "namespace": "ns"},
            "spec": {
                "dolt": {"image": "dolthub/dolt-sql-server:1.81.6"},
                "daemon": {"protocol": "serve", "image": "ghcr.io/x/beads:1",
                           "tokenSecretRef": {"name": "t", "key": "token"}},
            }
        }))
        .unwrap();
        let peer = BeadsPeer::of(&town);
        assert_eq!(
            peer,
            BeadsPeer {
                component: Some("dolt"),
                ports: vec![3306]
            }
        );
        let policy = network_policy(
            &rig_ref(),
            &spec(serde_json::json!({"name": "gastown"})),
            &peer,
        )
        .unwrap();
        let egress = policy.spec.unwrap().egress.unwrap();
        let to = egress[0].to.as_ref().unwrap()[0]
            .pod_selector
            .as_ref()
            .unwrap();
        assert_eq!(
            to.match_labels.as_ref().unwrap()["app.kubernetes.io/component"],
            "dolt"
        );
        assert_eq!(
            egress[0].ports.as_ref().unwrap()[0].port,
            Some(IntOrString::Int(3306))
        );
        let mut daemon_town = town.clone();
        daemon_town.spec.daemon.protocol = None;
        assert_eq!(BeadsPeer::of(&daemon_town).component, Some("bd-daemon"));
    }

    #[test]
    fn workspace_and_crew_claims_have_no_owner_so_reclaim_policy_decides() {
        let workspace = workspace_claim(
            &rig_ref(),
            &spec(serde_json::json!({"name": "gastown", "workspace": {"size": "20Gi"}})),
        );
        assert!(workspace.metadata.owner_references.is_none());
        assert_eq!(
            workspace.spec.unwrap().resources.unwrap().requests.unwrap()["storage"].0,
            "20Gi"
        );
        let crew = CrewMember {
            name: "max".into(),
            image: None,
            resources: None,
            storage: None,
        };
        let own = WorkspaceVolume::OwnClaim(StorageSpec {
            size: Some(Quantity("5Gi".into())),
            storage_class_name: None,
        });
        let claim = crew_claim(&rig_ref(), &crew, &own).unwrap();
        assert_eq!(
            claim.metadata.name.as_deref(),
            Some("prod-gastown-crew-max")
        );
        assert!(crew_claim(&rig_ref(), &crew, &WorkspaceVolume::Ephemeral).is_none());
    }

    #[test]
    fn town_rig_object_is_owned_labelled_and_marked_when_draining() {
        let owner = rig_ref().owner;
        let rig = rig_object(
            "prod",
            "ns",
            &owner,
            &spec(serde_json::json!({"name": "gastown"})),
            true,
        );
        assert_eq!(rig.metadata.name.as_deref(), Some("prod-gastown"));
        assert_eq!(
            rig.metadata.labels.as_ref().unwrap()["gastown.io/town"],
            "prod"
        );
        assert_eq!(
            rig.metadata.annotations.as_ref().unwrap()[naming::DRAINING_ANNOTATION],
            "true"
        );
        assert_eq!(
            rig.metadata.finalizers.as_deref(),
            Some([naming::RIG_FINALIZER.to_string()].as_slice()),
            "created with the Rig controller's finalizer"
        );
        let pool = polecat_pool(&rig_ref(), &spec(serde_json::json!({"name": "gastown"})));
        assert_eq!(pool.spec.max_count, Some(5));
        assert_eq!(
            pool.metadata.owner_references.as_ref().unwrap()[0].uid,
            "uid-r"
        );
        assert_eq!(
            pool.metadata.finalizers.as_deref(),
            Some([naming::POOL_FINALIZER.to_string()].as_slice()),
            "created with the pool controller's finalizer"
        );
    }
}

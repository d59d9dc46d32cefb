//! The town's infrastructure: dolt (StatefulSet, headless Service, config),
//! the bd daemon (Deployment, Service) and the optional RPC server.
//!
//! Workloads carry no owner reference (see docs/architecture.md: a foreground
//! cascade must not stop them before the town has drained); Services and the
//! ConfigMap do, so the garbage collector removes them with the town.

use std::collections::BTreeMap;

use gastown_api::gastown::{DaemonSpec, DoltSpec, RpcServerSpec};
use gastown_api::{GasTown, SecretKeyRef};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec,
    Probe, SecretKeySelector, Service, ServicePort, ServiceSpec, TCPSocketAction, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

use super::security::{container_security_context, pod_security_context};
use crate::naming;

/// Port of dolt's MySQL-protocol listener.
pub const DOLT_PORT: i32 = 3306;
const DOLT_DATA_MOUNT: &str = "/var/lib/dolt";
const DOLT_CONFIG_MOUNT: &str = "/etc/dolt/servercfg.d";

/// The identity of a town that every infrastructure builder needs.
#[derive(Clone, Debug)]
pub struct TownRef {
    pub name: String,
    pub namespace: String,
    pub owner: OwnerReference,
}

impl TownRef {
    /// `None` when the town has not been stored yet (no uid).
    pub fn new(town: &GasTown) -> Option<Self> {
        Some(Self {
            name: town.metadata.name.clone()?,
            namespace: town.metadata.namespace.clone()?,
            owner: town.controller_owner_ref(&())?,
        })
    }

    fn meta(&self, name: String, component: &str, owned: bool) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.component_labels(component)),
            owner_references: owned.then(|| vec![self.owner.clone()]),
            ..Default::default()
        }
    }

    /// Labels of one infrastructure component; also its pods' selector.
    pub fn component_labels(&self, component: &str) -> BTreeMap<String, String> {
        let mut labels = naming::town_labels(&self.name);
        labels.insert("app.kubernetes.io/component".into(), component.into());
        labels
    }
}

fn selector(labels: &BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels.clone()),
        match_expressions: None,
    }
}

fn port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn env_from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: None,
            }),
            ..Default::default()
        }),
    }
}

fn pod_template(
    labels: BTreeMap<String, String>,
    containers: Vec<Container>,
    volumes: Option<Vec<Volume>>,
) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers,
            volumes,
            security_context: Some(pod_security_context()),
            ..Default::default()
        }),
    }
}

/// dolt's `config.yaml`: the user's keys as given, with the listener pinned to
/// the port the Service targets.
pub fn dolt_config(town: &TownRef, dolt: &DoltSpec) -> ConfigMap {
    let mut config: BTreeMap<String, serde_json::Value> = dolt.config.clone().unwrap_or_default();
    let listener = config
        .entry("listener".into())
        .or_insert_with(|| serde_json::json!({}));
    if let Some(listener) = listener.as_object_mut() {
        listener.insert("host".into(), "0.0.0.0".into());
        listener.insert("port".into(), DOLT_PORT.into());
    }
    let yaml =
        serde_yaml::to_string(&config).expect("a map of JSON values always serialises to YAML");
    ConfigMap {
        metadata: town.meta(naming::dolt_config(&town.name), "dolt", true),
        data: Some(BTreeMap::from([("config.yaml".to_string(), yaml)])),
        ..Default::default()
    }
}

/// The headless Service giving the dolt pod a stable name.
pub fn dolt_service(town: &TownRef) -> Service {
    Service {
        metadata: town.meta(naming::dolt(&town.name), "dolt", true),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(town.component_labels("dolt")),
            ports: Some(vec![service_port("mysql", DOLT_PORT)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Lets only the town's bd daemon reach dolt's SQL port: agents and every
/// other pod go through the daemon. Owned by the town: its early removal
/// only opens dolt up.
pub fn dolt_network_policy(town: &TownRef) -> NetworkPolicy {
    NetworkPolicy {
        metadata: town.meta(naming::dolt(&town.name), "dolt", true),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(&town.component_labels("dolt"))),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(&town.component_labels("bd-daemon"))),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    protocol: Some("TCP".into()),
                    port: Some(IntOrString::Int(DOLT_PORT)),
                    end_port: None,
                }]),
            }]),
            egress: None,
        }),
    }
}

/// The dolt StatefulSet. Its claim is kept when the town goes unless
/// `persistence.retainOnDelete` is false.
pub fn dolt_statefulset(town: &TownRef, dolt: &DoltSpec) -> StatefulSet {
    let labels = town.component_labels("dolt");
    let persistence = dolt.persistence();
    let when_deleted = if persistence.retain_on_delete() {
        "Retain"
    } else {
        "Delete"
    };
    // The bd daemon runs in its own pod: root must be allowed from any host
    // (dolt's image creates root@localhost only), behind the password if set.
    let mut container_env = vec![env("DOLT_ROOT_HOST", "%")];
    if let Some(SecretKeyRef { name, key }) = &dolt.root_password_secret_ref {
        container_env.push(env_from_secret("DOLT_ROOT_PASSWORD", name, key));
    }
    if let Some(s3) = &dolt.s3 {
        let secret = &s3.credentials_secret_ref.name;
        container_env.extend([
            env("DOLT_BACKUP_URL", format!("aws://[{}]/gastown", s3.bucket)),
            env("AWS_REGION", s3.region.clone()),
            env_from_secret("AWS_ACCESS_KEY_ID", secret, "AWS_ACCESS_KEY_ID"),
            env_from_secret("AWS_SECRET_ACCESS_KEY", secret, "AWS_SECRET_ACCESS_KEY"),
        ]);
    }
    let container = Container {
        name: "dolt".into(),
        image: Some(dolt.image.clone()),
        args: Some(vec![
            "--config".into(),
            format!("{DOLT_CONFIG_MOUNT}/config.yaml"),
        ]),
        ports: Some(vec![port("mysql", DOLT_PORT)]),
        env: Some(container_env),
        resources: dolt.resources.clone(),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "data".into(),
                mount_path: DOLT_DATA_MOUNT.into(),
                ..Default::default()
            },
            VolumeMount {
                name: "config".into(),
                mount_path: DOLT_CONFIG_MOUNT.into(),
                read_only: Some(true),
                ..Default::default()
            },
        ]),
        readiness_probe: Some(tcp_probe("mysql", 5)),
        liveness_probe: Some(tcp_probe("mysql", 20)),
        security_context: Some(container_security_context()),
        ..Default::default()
    };
    let config_volume = Volume {
        name: "config".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: naming::dolt_config(&town.name),
            ..Default::default()
        }),
        ..Default::default()
    };
    StatefulSet {
        metadata: town.meta(naming::dolt(&town.name), "dolt", false),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(naming::dolt(&town.name)),
            selector: selector(&labels),
            template: pod_template(labels, vec![container], Some(vec![config_volume])),
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    ..Default::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    storage_class_name: persistence.storage_class_name.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            persistence.size(),
                        )])),
                        limits: None,
                    }),
                    ..Default::default()
                }),
                status: None,
            }]),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(when_deleted.into()),
                    when_scaled: Some("Retain".into()),
                },
            ),
            ..Default::default()
        }),
        status: None,
    }
}

fn tcp_probe(port: &str, period_seconds: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(port.into()),
            host: None,
        }),
        period_seconds: Some(period_seconds),
        ..Default::default()
    }
}

fn http_probe(path: &str, port: &str, period_seconds: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(port.into()),
            ..Default::default()
        }),
        period_seconds: Some(period_seconds),
        ..Default::default()
    }
}

/// The in-cluster bd daemon, wired to dolt (as root, with dolt's root
/// password when the town has one), with its bearer token from the Secret.
/// `None` when the daemon is external.
pub fn bd_daemon_deployment(
    town: &TownRef,
    daemon: &DaemonSpec,
    dolt: Option<&DoltSpec>,
) -> Option<Deployment> {
    let image = daemon.image.clone()?;
    let endpoint = daemon.endpoint(&naming::bd_daemon(&town.name));
    let labels = town.component_labels("bd-daemon");
    let mut container_env = vec![
        env("BEADS_DOLT_SERVER_MODE", "1"),
        env("BEADS_DOLT_SERVER_HOST", naming::dolt(&town.name)),
        env("BEADS_DOLT_SERVER_PORT", DOLT_PORT.to_string()),
        env("BEADS_DOLT_SERVER_USER", "root"),
        env("BD_DAEMON_TCP_ADDR", format!(":{}", endpoint.port)),
        env("BD_DAEMON_HTTP_ADDR", format!(":{}", endpoint.http_port)),
    ];
    if let Some(SecretKeyRef { name, key }) = dolt.and_then(|d| d.root_password_secret_ref.as_ref())
    {
        container_env.push(env_from_secret("BEADS_DOLT_SERVER_PASS", name, key));
    }
    if let Some(SecretKeyRef { name, key }) = &daemon.token_secret_ref {
        container_env.push(env_from_secret("BD_DAEMON_TOKEN", name, key));
    }
    let container = Container {
        name: "bd-daemon".into(),
        image: Some(image),
        args: Some(vec!["daemon".into(), "start".into(), "--foreground".into()]),
        ports: Some(vec![
            port("rpc", endpoint.port.into()),
            port("http", endpoint.http_port.into()),
        ]),
        env: Some(container_env),
        resources: daemon.resources.clone(),
        readiness_probe: Some(http_probe("/readyz", "http", 5)),
        liveness_probe: Some(http_probe("/healthz", "http", 20)),
        security_context: Some(container_security_context()),
        ..Default::default()
    };
    Some(Deployment {
        metadata: town.meta(naming::bd_daemon(&town.name), "bd-daemon", false),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(&labels),
            template: pod_template(labels, vec![container], None),
            ..Default::default()
        }),
        status: None,
    })
}

/// The bd daemon's Service (both listeners). `None` when the daemon is external.
pub fn bd_daemon_service(town: &TownRef, daemon: &DaemonSpec) -> Option<Service> {
    daemon.in_cluster().then(|| {
        let endpoint = daemon.endpoint(&naming::bd_daemon(&town.name));
        Service {
            metadata: town.meta(naming::bd_daemon(&town.name), "bd-daemon", true),
            spec: Some(ServiceSpec {
                selector: Some(town.component_labels("bd-daemon")),
                ports: Some(vec![
                    service_port("rpc", endpoint.port.into()),
                    service_port("http", endpoint.http_port.into()),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }
    })
}

/// The RPC server's Deployment and Service; `None` when disabled.
pub fn rpc_server(
    town: &TownRef,
    rpc: &RpcServerSpec,
    daemon: &DaemonSpec,
) -> Option<(Deployment, Service)> {
    if !rpc.enabled() {
        return None;
    }
    let image = rpc.image.clone()?;
    let labels = town.component_labels("rpc-server");
    let endpoint = daemon.endpoint(&naming::bd_daemon(&town.name));
    let mut container_env = vec![
        env("BD_DAEMON_HOST", endpoint.host.clone()),
        env("BD_DAEMON_PORT", endpoint.port.to_string()),
    ];
    if let Some(SecretKeyRef { name, key }) = &daemon.token_secret_ref {
        container_env.push(env_from_secret("BD_DAEMON_TOKEN", name, key));
    }
    let container = Container {
        name: "rpc-server".into(),
        image: Some(image),
        ports: Some(vec![port("rpc", rpc.port())]),
        env: Some(container_env),
        resources: rpc.resources.clone(),
        readiness_probe: Some(tcp_probe("rpc", 5)),
        security_context: Some(container_security_context()),
        ..Default::default()
    };
    let deployment = Deployment {
        metadata: town.meta(naming::rpc_server(&town.name), "rpc-server", false),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(&labels),
            template: pod_template(labels.clone(), vec![container], None),
            ..Default::default()
        }),
        status: None,
    };
    let service = Service {
        metadata: town.meta(naming::rpc_server(&town.name), "rpc-server", true),
        spec: Some(ServiceSpec {
            selector: Some(labels),
            ports: Some(vec![service_port("rpc", rpc.port())]),
            ..Default::default()
        }),
        ..Default::default()
    };
    Some((deployment, service))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn town() -> TownRef {
        TownRef {
            name: "prod".into(),
            namespace: "gastown".into(),
            owner: OwnerReference {
                api_version: "gastown.io/v1alpha1".into(),
                kind: "GasTown".into(),
                name: "prod".into(),
                uid: "uid-1".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
        }
    }

    fn dolt(retain: Option<bool>) -> DoltSpec {
        serde_json::from_value(serde_json::json!({
            "image": "dolthub/dolt-sql-server:1.43.0",
            "persistence": {"size": "20Gi", "retainOnDelete": retain},
            "config": {"log_level": "debug", "listener": {"max_connections": 64}}
        }))
        .unwrap()
    }

    #[test]
    fn dolt_keeps_its_data_unless_told_otherwise() {
        let kept = dolt_statefulset(&town(), &dolt(None));
        let policy = kept
            .spec
            .as_ref()
            .unwrap()
            .persistent_volume_claim_retention_policy
            .as_ref()
            .unwrap();
        assert_eq!(policy.when_deleted.as_deref(), Some("Retain"));
        let dropped = dolt_statefulset(&town(), &dolt(Some(false)));
        let policy = dropped
            .spec
            .as_ref()
            .unwrap()
            .persistent_volume_claim_retention_policy
            .as_ref()
            .unwrap();
        assert_eq!(policy.when_deleted.as_deref(), Some("Delete"));
        let claim = &kept
            .spec
            .as_ref()
            .unwrap()
            .volume_claim_templates
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            claim
                .spec
                .as_ref()
                .unwrap()
                .resources
                .as_ref()
                .unwrap()
                .requests
                .as_ref()
                .unwrap()["storage"]
                .0,
            "20Gi"
        );
    }

    #[test]
    fn workloads_have_no_owner_reference_but_services_do() {
        let sts = dolt_statefulset(&town(), &dolt(None));
        assert!(sts.metadata.owner_references.is_none());
        assert!(dolt_service(&town()).metadata.owner_references.is_some());
        let daemon: DaemonSpec =
            serde_json::from_value(serde_json::json!({"image": "bd:1"})).unwrap();
        assert!(
            bd_daemon_deployment(&town(), &daemon, None)
                .unwrap()
                .metadata
                .owner_references
                .is_none()
        );
        assert!(
            bd_daemon_service(&town(), &daemon)
                .unwrap()
                .metadata
                .owner_references
                .is_some()
        );
    }

    #[test]
    fn dolt_config_keeps_user_keys_and_pins_the_listener() {
        let config = dolt_config(&town(), &dolt(None));
        let yaml: serde_json::Value =
            serde_yaml::from_str(&config.data.unwrap()["config.yaml"]).unwrap();
        assert_eq!(yaml["log_level"], "debug");
        assert_eq!(yaml["listener"]["max_connections"], 64);
        assert_eq!(yaml["listener"]["port"], DOLT_PORT);
    }

    #[test]
    fn dolt_root_is_reachable_from_the_daemon_pod_behind_the_password_secret() {
        /// Name, plain value, and Secret (name, key) of each variable.
        type Var = (String, Option<String>, Option<(String, String)>);
        fn env_of(container: &Container) -> Vec<Var> {
            container
                .env
                .iter()
                .flatten()
                .map(|e| {
                    let secret = e
                        .value_from
                        .as_ref()
                        .and_then(|v| v.secret_key_ref.as_ref())
                        .map(|r| (r.name.clone(), r.key.clone()));
                    (e.name.clone(), e.value.clone(), secret)
                })
                .collect()
        }
        let mut dolt = dolt(None);
        let sts = dolt_statefulset(&town(), &dolt);
        let env = env_of(&sts.spec.unwrap().template.spec.unwrap().containers[0]);
        assert!(env.contains(&("DOLT_ROOT_HOST".into(), Some("%".into()), None)));
        assert!(!env.iter().any(|(name, ..)| name == "DOLT_ROOT_PASSWORD"));

        dolt.root_password_secret_ref = Some(SecretKeyRef {
            name: "dolt-root".into(),
            key: "password".into(),
        });
        let sts = dolt_statefulset(&town(), &dolt);
        let env = env_of(&sts.spec.unwrap().template.spec.unwrap().containers[0]);
        let from_secret = Some(("dolt-root".to_string(), "password".to_string()));
        assert!(env.contains(&("DOLT_ROOT_PASSWORD".into(), None, from_secret.clone())));

        let daemon: DaemonSpec =
            serde_json::from_value(serde_json::json!({"image": "bd:1"})).unwrap();
        let deployment = bd_daemon_deployment(&town(), &daemon, Some(&dolt)).unwrap();
        let env = env_of(&deployment.spec.unwrap().template.spec.unwrap().containers[0]);
        assert!(env.contains(&("BEADS_DOLT_SERVER_USER".into(), Some("root".into()), None)));
        assert!(env.contains(&("BEADS_DOLT_SERVER_PASS".into(), None, from_secret)));
    }

    #[test]
    fn only_the_daemon_reaches_dolt() {
        let policy = dolt_network_policy(&town());
        assert_eq!(policy.metadata.name.as_deref(), Some("prod-dolt"));
        assert!(
            policy.metadata.owner_references.is_some(),
            "removed with the town"
        );
        let spec = policy.spec.unwrap();
        assert_eq!(
            spec.pod_selector.unwrap().match_labels,
            Some(town().component_labels("dolt"))
        );
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]));
        let ingress = spec.ingress.unwrap();
        assert_eq!(ingress.len(), 1);
        let from = ingress[0].from.as_ref().unwrap();
        assert_eq!(from.len(), 1);
        assert_eq!(
            from[0].pod_selector.as_ref().unwrap().match_labels,
            Some(town().component_labels("bd-daemon"))
        );
        assert!(
            from[0].namespace_selector.is_none(),
            "the daemon of this namespace only"
        );
        let port = &ingress[0].ports.as_ref().unwrap()[0];
        assert_eq!(port.port, Some(IntOrString::Int(DOLT_PORT)));
        // The daemon's pods carry exactly the labels the policy admits.
        let daemon: DaemonSpec =
            serde_json::from_value(serde_json::json!({"image": "bd:1"})).unwrap();
        let deployment = bd_daemon_deployment(&town(), &daemon, None).unwrap();
        let pod_labels = deployment
            .spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .labels
            .unwrap();
        for (key, value) in town().component_labels("bd-daemon") {
            assert_eq!(pod_labels.get(&key), Some(&value), "{key}");
        }
    }

    #[test]
    fn daemon_is_wired_to_dolt_and_its_token_secret() {
        let daemon: DaemonSpec = serde_json::from_value(serde_json::json!({
            "image": "bd:1", "port": 7000, "httpPort": 7080, "tokenSecretRef": {"name": "bd-token", "key": "token"}
        }))
        .unwrap();
        let deployment = bd_daemon_deployment(&town(), &daemon, None).unwrap();
        let container = &deployment
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0];
        let env = container.env.as_ref().unwrap();
        let value = |name: &str| {
            env.iter()
                .find(|e| e.name == name)
                .and_then(|e| e.value.clone())
        };
        assert_eq!(
            value("BEADS_DOLT_SERVER_HOST").as_deref(),
            Some("prod-dolt")
        );
        let token = env.iter().find(|e| e.name == "BD_DAEMON_TOKEN").unwrap();
        assert!(
            token.value.is_none(),
            "the token is referenced, never inlined"
        );
        let ports: Vec<i32> = container
            .ports
            .as_ref()
            .unwrap()
            .iter()
            .map(|p| p.container_port)
            .collect();
        assert_eq!(ports, vec![7000, 7080]);
        let service = bd_daemon_service(&town(), &daemon).unwrap();
        assert_eq!(service.spec.unwrap().ports.unwrap().len(), 2);
    }

    #[test]
    fn external_daemon_and_disabled_rpc_build_nothing() {
        let external: DaemonSpec =
            serde_json::from_value(serde_json::json!({"external": {"host": "bd.example"}}))
                .unwrap();
        assert!(bd_daemon_deployment(&town(), &external, None).is_none());
        assert!(bd_daemon_service(&town(), &external).is_none());
        let rpc: RpcServerSpec =
            serde_json::from_value(serde_json::json!({"enabled": false, "image": "rpc:1"}))
                .unwrap();
        assert!(rpc_server(&town(), &rpc, &external).is_none());
        let rpc: RpcServerSpec =
            serde_json::from_value(serde_json::json!({"enabled": true, "image": "rpc:1"})).unwrap();
        let (deployment, _) = rpc_server(&town(), &rpc, &external).unwrap();
        let container = &deployment.spec.unwrap().template.spec.unwrap().containers[0];
        let host = container
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == "BD_DAEMON_HOST")
            .unwrap();
        assert_eq!(host.value.as_deref(), Some("bd.example"));
    }
}

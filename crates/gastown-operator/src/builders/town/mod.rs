//! The town's infrastructure: dolt (StatefulSet, headless Service, config,
//! NetworkPolicy, in [`dolt`]), the bd daemon (Deployment, Service) and the
//! optional RPC server (in [`daemon`]), or `bd serve` in the daemon's place
//! (in [`serve`]), and what they share.
//!
//! Workloads carry no owner reference (see docs/architecture.md: a foreground
//! cascade must not stop them before the town has drained); Services and the
//! ConfigMap do, so the garbage collector removes them with the town.
//!
//! Every container here follows its real image's contract
//! (`shared/reference/container-contracts.md`; the source of each fact is
//! cited where it is relied on), and says why it failed in its termination
//! message (`FallbackToLogsOnError`: the programs write no termination file,
//! so the kubelet takes the tail of the log), which the town's status shows.

pub mod backup;
mod daemon;
mod dolt;
mod serve;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use gastown_api::GasTown;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
    SecretKeySelector, ServicePort, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

use super::security::pod_security_context;
use crate::naming;

pub use self::daemon::{bd_daemon_deployment, bd_daemon_service, rpc_server};
pub use self::dolt::{
    DOLT_PORT, dolt_config, dolt_image_refusal, dolt_network_policy, dolt_service, dolt_statefulset,
};
pub use self::serve::{allowed_hosts, bd_serve_config, bd_serve_deployment, serve_config_name};

/// Containers report why they ended in their termination message: the tail
/// of their log, since none of these programs writes /dev/termination-log.
pub(super) const TERMINATION_MESSAGE_POLICY: &str = "FallbackToLogsOnError";

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

    pub(super) fn meta(&self, name: String, component: &str, owned: bool) -> ObjectMeta {
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

pub(super) fn selector(labels: &BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels.clone()),
        match_expressions: None,
    }
}

pub(super) fn port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

pub(super) fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

pub(super) fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

pub(super) fn env_from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
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

pub(super) fn pod_template(
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

pub(super) fn tcp_probe(port: &str, period_seconds: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(port.into()),
            host: None,
        }),
        period_seconds: Some(period_seconds),
        ..Default::default()
    }
}

pub(super) fn http_probe(path: &str, port: &str, period_seconds: i32) -> Probe {
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

pub(super) fn volume_mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// The probes of a beads server's container (the bd daemon's or bd
/// serve's): startup on `/healthz`, readiness on `readiness_path`, liveness
/// on the listener only — a Dolt outage fails the HTTP checks, and
/// restarting the server cannot bring Dolt back. Timings are the beads
/// chart's (B1, B2).
pub(super) fn beads_server_probes(readiness_path: &str) -> (Probe, Probe, Probe) {
    (
        Probe {
            failure_threshold: Some(30),
            timeout_seconds: Some(3),
            ..http_probe("/healthz", "http", 5)
        },
        Probe {
            timeout_seconds: Some(5),
            ..http_probe(readiness_path, "http", 10)
        },
        Probe {
            timeout_seconds: Some(5),
            ..tcp_probe("http", 30)
        },
    )
}

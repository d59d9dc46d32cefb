//! Columns of built-in kinds, after kube-apiserver's printers
//! (`pkg/printers/internalversion`) for the kinds this project shows.

use super::{CREATION_TIMESTAMP_DESCRIPTION, Column, NAME_COLUMN, age};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSetSpec, StatefulSetSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Event, Namespace, PersistentVolumeClaim, Pod, PodSpec, ResourceQuota,
    Secret, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::api::rbac::v1::{RoleRef, Subject};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

mod batch;
mod nodes;

/// The cells (and row conditions) of one object.
pub(super) struct Row {
    pub(super) cells: Vec<Value>,
    pub(super) conditions: Vec<Value>,
}

impl Row {
    fn new(cells: Vec<Value>) -> Self {
        Row {
            cells,
            conditions: Vec::new(),
        }
    }
}

/// The columns of a built-in kind and how to fill them.
pub(super) struct Printer {
    pub(super) columns: &'static [Column],
    /// `None` when the object does not decode into its k8s-openapi type.
    pub(super) row: fn(&Value, Timestamp) -> Option<Row>,
}

const AGE: Column = Column::new("Age", "string", CREATION_TIMESTAMP_DESCRIPTION);

/// The printer of a built-in kind; Name and Age for kinds without their own.
pub(super) fn printer(group: &str, kind: &str) -> &'static Printer {
    match (group, kind) {
        ("", "Pod") => &POD,
        ("", "Node") => &nodes::NODE,
        ("", "Namespace") => &NAMESPACE,
        ("", "PersistentVolumeClaim") => &PERSISTENT_VOLUME_CLAIM,
        ("", "Service") => &SERVICE,
        ("", "ConfigMap") => &CONFIG_MAP,
        ("", "Secret") => &SECRET,
        ("", "ResourceQuota") => &RESOURCE_QUOTA,
        ("", "Event") => &EVENT,
        ("apps", "Deployment") => &DEPLOYMENT,
        ("apps", "StatefulSet") => &STATEFUL_SET,
        ("apps", "ReplicaSet") => &REPLICA_SET,
        ("batch", "Job") => &batch::JOB,
        ("batch", "CronJob") => &batch::CRON_JOB,
        ("", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => &CREATED_AT,
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => &ROLE_BINDING,
        ("networking.k8s.io", "NetworkPolicy") => &NETWORK_POLICY,
        ("policy", "PodDisruptionBudget") => &POD_DISRUPTION_BUDGET,
        ("coordination.k8s.io", "Lease") => &LEASE,
        ("scheduling.k8s.io", "PriorityClass") => &PRIORITY_CLASS,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => &CREATED_AT,
        _ => super::protocol::printer(group, kind).unwrap_or(&NAME_AND_AGE),
    }
}

fn decode<T: DeserializeOwned>(object: &Value) -> Option<T> {
    serde_json::from_value(object.clone()).ok()
}

fn name(metadata: &ObjectMeta) -> Value {
    metadata.name.clone().map_or(Value::Null, Value::String)
}

fn age_of(metadata: &ObjectMeta, now: Timestamp) -> Value {
    age::since(metadata.creation_timestamp.as_ref().map(|time| time.0), now).into()
}

fn or_none(value: Option<&str>) -> Value {
    match value {
        Some(value) if !value.is_empty() => value.into(),
        _ => "<none>".into(),
    }
}

static NAME_AND_AGE: Printer = Printer {
    columns: &[NAME_COLUMN, AGE],
    row: |object, now| {
        let metadata: ObjectMeta = decode(object.get("metadata")?)?;
        Some(Row::new(vec![name(&metadata), age_of(&metadata, now)]))
    },
};

static POD: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        Column::new("Status", "string", "The aggregate status of the containers in this pod."),
        Column::new("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        AGE,
        Column::new("IP", "string", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.").wide(),
        Column::new("Node", "string", "NodeName is a request to schedule this pod onto a specific node.").wide(),
        Column::new("Nominated Node", "string", "nominatedNodeName is set when this pod preempts other pods on the node.").wide(),
        Column::new("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.").wide(),
    ],
    row: |object, now| decode::<Pod>(object).map(|pod| pod_row(&pod, now)),
};

/// kube-apiserver's `printPod`: readiness, the most telling reason, restarts.
fn pod_row(pod: &Pod, now: Timestamp) -> Row {
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let conditions = status.conditions.clone().unwrap_or_default();
    let condition_true = |type_: &str| {
        conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == "True")
    };
    let init_containers = spec.init_containers.clone().unwrap_or_default();
    let is_sidecar = |name: &str| {
        init_containers
            .iter()
            .any(|c| c.name == name && c.restart_policy.as_deref() == Some("Always"))
    };

    let phase = status.phase.clone().unwrap_or_default();
    let mut reason = status
        .reason
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| phase.clone());
    if conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".into();
    }
    let total = spec.containers.len()
        + init_containers
            .iter()
            .filter(|c| is_sidecar(&c.name))
            .count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;
    let later = |current: Option<Timestamp>, finished: Option<&Time>| match (
        current,
        finished.map(|t| t.0),
    ) {
        (Some(current), Some(finished)) => Some(current.max(finished)),
        (current, finished) => current.or(finished),
    };

    let mut initializing = false;
    let init_statuses = status.init_container_statuses.clone().unwrap_or_default();
    for (index, container) in init_statuses.iter().enumerate() {
        let last_finished = container
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.finished_at.as_ref());
        restarts += container.restart_count;
        last_restart = later(last_restart, last_finished);
        let sidecar = is_sidecar(&container.name);
        if sidecar {
            sidecar_restarts += container.restart_count;
            last_sidecar_restart = later(last_sidecar_restart, last_finished);
        }
        let state = container.state.clone().unwrap_or_default();
        match (&state.terminated, &state.waiting) {
            (Some(terminated), _) if terminated.exit_code == 0 => continue,
            _ if sidecar && container.started == Some(true) => {
                if container.ready {
                    ready += 1;
                }
                continue;
            }
            (Some(terminated), _) => {
                reason = match terminated.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => format!("Init:{r}"),
                    None if terminated.signal.unwrap_or(0) != 0 => {
                        format!("Init:Signal:{}", terminated.signal.unwrap_or(0))
                    }
                    None => format!("Init:ExitCode:{}", terminated.exit_code),
                };
            }
            (None, Some(waiting))
                if waiting
                    .reason
                    .as_deref()
                    .is_some_and(|r| !r.is_empty() && r != "PodInitializing") =>
            {
                reason = format!("Init:{}", waiting.reason.as_deref().unwrap_or_default());
            }
            _ => reason = format!("Init:{index}/{}", init_containers.len()),
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true("Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for container in status
            .container_statuses
            .clone()
            .unwrap_or_default()
            .iter()
            .rev()
        {
            restarts += container.restart_count;
            let last_finished = container
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .and_then(|t| t.finished_at.as_ref());
            last_restart = later(last_restart, last_finished);
            let state = container.state.clone().unwrap_or_default();
            if let Some(waiting_reason) = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .filter(|r| !r.is_empty())
            {
                reason = waiting_reason;
            } else if let Some(terminated) = &state.terminated {
                reason = match terminated.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => r.to_owned(),
                    None if terminated.signal.unwrap_or(0) != 0 => {
                        format!("Signal:{}", terminated.signal.unwrap_or(0))
                    }
                    None => format!("ExitCode:{}", terminated.exit_code),
                };
            } else if container.ready && state.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true("Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    let deleting = pod.metadata.deletion_timestamp.is_some();
    if deleting && status.reason.as_deref() == Some("NodeLost") {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(last) if restarts != 0 => format!("{restarts} ({} ago)", age::since(Some(last), now)),
        _ => restarts.to_string(),
    };
    let readiness_gates = spec.readiness_gates.clone().unwrap_or_default();
    let readiness_gates_cell = if readiness_gates.is_empty() {
        "<none>".to_owned()
    } else {
        let passed = readiness_gates
            .iter()
            .filter(|gate| condition_true(&gate.condition_type))
            .count();
        format!("{passed}/{}", readiness_gates.len())
    };
    let mut row = Row::new(vec![
        name(&pod.metadata),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_cell.into(),
        age_of(&pod.metadata, now),
        or_none(status.pod_ip.as_deref()),
        or_none(spec.node_name.as_deref()),
        or_none(status.nominated_node_name.as_deref()),
        readiness_gates_cell.into(),
    ]);
    row.conditions = match phase.as_str() {
        "Succeeded" => vec![
            json!({ "type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully." }),
        ],
        "Failed" => vec![
            json!({ "type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed." }),
        ],
        _ => Vec::new(),
    };
    row
}

static NAMESPACE: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Status", "string", "The status of the namespace"),
        AGE,
    ],
    row: |object, now| {
        let namespace: Namespace = decode(object)?;
        let phase = namespace
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        Some(Row::new(vec![
            name(&namespace.metadata),
            phase.into(),
            age_of(&namespace.metadata, now),
        ]))
    },
};

static PERSISTENT_VOLUME_CLAIM: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new(
            "Status",
            "string",
            "Phase represents the current phase of PersistentVolumeClaim.",
        ),
        Column::new(
            "Volume",
            "string",
            "VolumeName is the binding reference to the PersistentVolume backing this claim.",
        ),
        Column::new(
            "Capacity",
            "string",
            "Capacity represents the actual resources of the underlying volume.",
        ),
        Column::new(
            "Access Modes",
            "string",
            "AccessModes contains the actual access modes the volume backing the PVC has.",
        ),
        Column::new(
            "StorageClass",
            "string",
            "StorageClassName is the name of the StorageClass required by the claim.",
        ),
        Column::new(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.",
        ),
        AGE,
        Column::new(
            "VolumeMode",
            "string",
            "volumeMode defines what type of volume is required by the claim.",
        )
        .wide(),
    ],
    row: |object, now| {
        let claim: PersistentVolumeClaim = decode(object)?;
        let spec = claim.spec.clone().unwrap_or_default();
        let status = claim.status.clone().unwrap_or_default();
        let phase = if claim.metadata.deletion_timestamp.is_some() {
            "Terminating".to_owned()
        } else {
            status.phase.clone().unwrap_or_default()
        };
        let volume = spec.volume_name.clone().unwrap_or_default();
        let (capacity, access_modes) = if volume.is_empty() {
            (String::new(), String::new())
        } else {
            let capacity = status
                .capacity
                .as_ref()
                .and_then(|c| c.get("storage"))
                .map(|q| q.0.clone())
                .unwrap_or_default();
            (
                capacity,
                access_modes(status.access_modes.as_deref().unwrap_or_default()),
            )
        };
        let storage_class = spec.storage_class_name.clone().unwrap_or_default();
        let attributes_class = spec
            .volume_attributes_class_name
            .clone()
            .unwrap_or_else(|| "<unset>".into());
        let volume_mode = spec.volume_mode.clone().unwrap_or_else(|| "<unset>".into());
        Some(Row::new(vec![
            name(&claim.metadata),
            phase.into(),
            volume.into(),
            capacity.into(),
            access_modes.into(),
            storage_class.into(),
            attributes_class.into(),
            age_of(&claim.metadata, now),
            volume_mode.into(),
        ]))
    },
};

/// `RWO,ROX,RWX,RWOP`, in that order, as kubectl abbreviates access modes.
fn access_modes(modes: &[String]) -> String {
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.iter().any(|m| m == mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

static SERVICE: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Type", "string", "The type of the service."),
        Column::new("Cluster-IP", "string", "The IP address of the service."),
        Column::new(
            "External-IP",
            "string",
            "The external IP address of the service.",
        ),
        Column::new("Port(s)", "string", "The ports of the service."),
        AGE,
        Column::new(
            "Selector",
            "string",
            "Route service traffic to pods with label keys and values matching this selector.",
        )
        .wide(),
    ],
    row: |object, now| {
        let service: Service = decode(object)?;
        let spec = service.spec.clone().unwrap_or_default();
        let type_ = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
        let external_ips = spec.external_ips.clone().unwrap_or_default();
        let external = match type_.as_str() {
            "ExternalName" => or_none(spec.external_name.as_deref()),
            "LoadBalancer" => {
                let ingress = service
                    .status
                    .as_ref()
                    .and_then(|s| s.load_balancer.as_ref())
                    .and_then(|lb| lb.ingress.clone())
                    .unwrap_or_default();
                let addresses: Vec<String> = ingress
                    .iter()
                    .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
                    .chain(external_ips)
                    .collect();
                if addresses.is_empty() {
                    "<pending>".into()
                } else {
                    addresses.join(",").into()
                }
            }
            _ => or_none(Some(&external_ips.join(","))),
        };
        let ports: Vec<String> = spec
            .ports
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|port| {
                let protocol = port.protocol.as_deref().unwrap_or("TCP");
                match port.node_port {
                    Some(node_port) => format!("{}:{node_port}/{protocol}", port.port),
                    None => format!("{}/{protocol}", port.port),
                }
            })
            .collect();
        let selector = spec.selector.clone().unwrap_or_default();
        let selector: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Some(Row::new(vec![
            name(&service.metadata),
            type_.into(),
            or_none(spec.cluster_ip.as_deref()),
            external,
            or_none(Some(&ports.join(","))),
            age_of(&service.metadata, now),
            or_none(Some(&selector.join(","))),
        ]))
    },
};

static CONFIG_MAP: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Data", "integer", "Data contains the configuration data."),
        AGE,
    ],
    row: |object, now| {
        let config_map: ConfigMap = decode(object)?;
        let count = config_map.data.as_ref().map_or(0, |d| d.len())
            + config_map.binary_data.as_ref().map_or(0, |d| d.len());
        Some(Row::new(vec![
            name(&config_map.metadata),
            count.into(),
            age_of(&config_map.metadata, now),
        ]))
    },
};

static SECRET: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Type", "string", "The type of the secret"),
        Column::new("Data", "integer", "The number of entries in the secret"),
        AGE,
    ],
    row: |object, now| {
        let secret: Secret = decode(object)?;
        let count = secret.data.as_ref().map_or(0, |d| d.len())
            + secret.string_data.as_ref().map_or(0, |d| d.len());
        let type_ = secret.type_.clone().unwrap_or_else(|| "Opaque".into());
        Some(Row::new(vec![
            name(&secret.metadata),
            type_.into(),
            count.into(),
            age_of(&secret.metadata, now),
        ]))
    },
};

static RESOURCE_QUOTA: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        AGE,
        Column::new(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        Column::new(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
    ],
    row: |object, now| {
        let quota: ResourceQuota = decode(object)?;
        let status = quota.status.clone().unwrap_or_default();
        let used = status.used.unwrap_or_default();
        let (mut requests, mut limits) = (Vec::new(), Vec::new());
        // BTreeMap iteration is the sorted order kube-apiserver prints in.
        for (resource, hard) in status.hard.unwrap_or_default() {
            let used = used.get(&resource).map_or("0", |q| q.0.as_str());
            let entry = format!("{resource}: {used}/{}", hard.0);
            if resource.split('.').next() == Some("limits") && resource.contains('.') {
                limits.push(entry)
            } else {
                requests.push(entry)
            }
        }
        Some(Row::new(vec![
            name(&quota.metadata),
            age_of(&quota.metadata, now),
            requests.join(", ").into(),
            limits.join(", ").into(),
        ]))
    },
};

static DEPLOYMENT: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Ready", "string", "Number of the pod with ready state"),
        Column::new("Up-to-date", "integer", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
        Column::new("Available", "integer", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
        AGE,
        Column::new("Containers", "string", "Names of each container in the template.").wide(),
        Column::new("Images", "string", "Images referenced by each container in the template.").wide(),
        Column::new("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.").wide(),
    ],
    row: |object, now| {
        let deployment: Deployment = decode(object)?;
        let spec = deployment.spec.clone().unwrap_or_default();
        let status = deployment.status.clone().unwrap_or_default();
        let containers = template_containers(spec.template.spec.as_ref());
        Some(Row::new(vec![
            name(&deployment.metadata),
            format!("{}/{}", status.ready_replicas.unwrap_or(0), spec.replicas.unwrap_or(1)).into(),
            status.updated_replicas.unwrap_or(0).into(),
            status.available_replicas.unwrap_or(0).into(),
            age_of(&deployment.metadata, now),
            container_names(containers).into(),
            container_images(containers).into(),
            format_label_selector(Some(&spec.selector)).into(),
        ]))
    },
};

static STATEFUL_SET: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Ready", "string", "Number of the pod with ready state"),
        AGE,
        CONTAINERS,
        IMAGES,
    ],
    row: |object, now| {
        // Decoded in parts: a status without its required `replicas` must not hide the row.
        let metadata: ObjectMeta = part(object, "/metadata")?;
        let spec: StatefulSetSpec = part(object, "/spec")?;
        let containers = template_containers(spec.template.spec.as_ref());
        Some(Row::new(vec![
            name(&metadata),
            format!(
                "{}/{}",
                count(object, "/status/readyReplicas"),
                spec.replicas.unwrap_or(1)
            )
            .into(),
            age_of(&metadata, now),
            container_names(containers).into(),
            container_images(containers).into(),
        ]))
    },
};

static REPLICA_SET: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Desired", "integer", "Number of desired pods."),
        Column::new(
            "Current",
            "integer",
            "The most recently observed number of replicas.",
        ),
        Column::new(
            "Ready",
            "integer",
            "The number of ready replicas for this replica set.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        Column::new(
            "Selector",
            "string",
            "Selector is a label query over pods that should match the replica count.",
        )
        .wide(),
    ],
    row: |object, now| {
        let metadata: ObjectMeta = part(object, "/metadata")?;
        let spec: ReplicaSetSpec = part(object, "/spec")?;
        let containers = template_containers(spec.template.as_ref().and_then(|t| t.spec.as_ref()));
        Some(Row::new(vec![
            name(&metadata),
            spec.replicas.unwrap_or(1).into(),
            count(object, "/status/replicas").into(),
            count(object, "/status/readyReplicas").into(),
            age_of(&metadata, now),
            container_names(containers).into(),
            container_images(containers).into(),
            format_label_selector(Some(&spec.selector)).into(),
        ]))
    },
};

const CONTAINERS: Column = Column::new(
    "Containers",
    "string",
    "Names of each container in the template.",
)
.wide();
const IMAGES: Column = Column::new(
    "Images",
    "string",
    "Images referenced by each container in the template.",
)
.wide();

fn template_containers(spec: Option<&PodSpec>) -> &[Container] {
    spec.map(|s| s.containers.as_slice()).unwrap_or_default()
}

/// A sub-object decoded on its own; missing decodes as the default.
fn part<T: DeserializeOwned + Default>(object: &Value, pointer: &str) -> Option<T> {
    match object.pointer(pointer) {
        None | Some(Value::Null) => Some(T::default()),
        Some(value) => serde_json::from_value(value.clone()).ok(),
    }
}

/// A replica count from the status, 0 when absent.
fn count(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn container_names(containers: &[Container]) -> String {
    containers
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn container_images(containers: &[Container]) -> String {
    containers
        .iter()
        .map(|c| c.image.as_deref().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",")
}

/// A label selector in the string form of `metav1.FormatLabelSelector`:
/// requirements sorted by key, `<none>` when it selects everything.
fn format_label_selector(selector: Option<&LabelSelector>) -> String {
    let Some(selector) = selector else {
        return "<none>".into();
    };
    let mut requirements: Vec<(String, String)> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), format!("{k}={v}")))
        .collect();
    for expression in selector.match_expressions.iter().flatten() {
        let mut values = expression.values.clone().unwrap_or_default();
        values.sort();
        let key = &expression.key;
        let text = match expression.operator.as_str() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other} ({})", values.join(",")),
        };
        requirements.push((key.clone(), text));
    }
    requirements.sort();
    if requirements.is_empty() {
        "<none>".into()
    } else {
        requirements
            .into_iter()
            .map(|(_, text)| text)
            .collect::<Vec<_>>()
            .join(",")
    }
}

static LEASE: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Holder", "string", "The holder of the lease"),
        AGE,
    ],
    row: |object, now| {
        let lease: Lease = decode(object)?;
        let holder = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.clone())
            .unwrap_or_default();
        Some(Row::new(vec![
            name(&lease.metadata),
            holder.into(),
            age_of(&lease.metadata, now),
        ]))
    },
};

static PRIORITY_CLASS: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new(
            "Value",
            "integer",
            "The integer value of this priority class.",
        ),
        Column::new(
            "Global-Default",
            "boolean",
            "globalDefault specifies whether this PriorityClass should be considered as the default priority.",
        ),
        AGE,
        Column::new(
            "PreemptionPolicy",
            "string",
            "PreemptionPolicy is the Policy for preempting pods with lower priority.",
        ),
    ],
    row: |object, now| {
        let class: PriorityClass = decode(object)?;
        let policy = class
            .preemption_policy
            .clone()
            .unwrap_or_else(|| "PreemptLowerPriority".into());
        Some(Row::new(vec![
            name(&class.metadata),
            class.value.into(),
            class.global_default.unwrap_or(false).into(),
            age_of(&class.metadata, now),
            policy.into(),
        ]))
    },
};

/// Kinds kube-apiserver prints with their creation time rather than an age.
static CREATED_AT: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Created At", "date", CREATION_TIMESTAMP_DESCRIPTION),
    ],
    row: |object, _now| {
        let metadata: ObjectMeta = decode(object.get("metadata")?)?;
        let created = metadata
            .creation_timestamp
            .as_ref()
            .map_or(Value::Null, |t| {
                t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into()
            });
        Some(Row::new(vec![name(&metadata), created]))
    },
};

static EVENT: Printer = Printer {
    columns: &[
        Column::new("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
        Column::new("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
        Column::new("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
        Column::new("Object", "string", "The object that this event is about."),
        Column::new("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.").wide(),
        Column::new("Source", "string", "The component reporting this event.").wide(),
        Column::new("Message", "string", "A human-readable description of the status of this operation."),
        Column::new("First Seen", "string", "The time at which the event was first recorded.").wide(),
        Column::new("Count", "string", "The number of times this event has occurred.").wide(),
        Column { priority: 1, ..NAME_COLUMN },
    ],
    row: |object, now| decode::<Event>(object).map(|event| event_row(&event, now)),
};

/// kube-apiserver's `printEvent` (core/v1 events, as `kubectl get events` lists them).
fn event_row(event: &Event, now: Timestamp) -> Row {
    let event_time = event.event_time.as_ref().map(|t| t.0);
    let first_seen = age::since(
        event.first_timestamp.as_ref().map(|t| t.0).or(event_time),
        now,
    );
    let mut last_seen = match &event.last_timestamp {
        Some(last) => age::since(Some(last.0), now),
        None => first_seen.clone(),
    };
    // Singleton events of the new API carry no count.
    let mut count = event.count.filter(|&count| count != 0).unwrap_or(1);
    if let Some(series) = &event.series {
        last_seen = age::since(series.last_observed_time.as_ref().map(|t| t.0), now);
        count = series.count.unwrap_or(0);
    }
    let involved = &event.involved_object;
    let kind = involved.kind.as_deref().unwrap_or_default().to_lowercase();
    let target = match involved.name.as_deref() {
        Some(name) if !name.is_empty() => format!("{kind}/{name}"),
        _ => kind,
    };
    let first_non_empty = |a: Option<&str>, b: Option<&str>| {
        a.filter(|s| !s.is_empty())
            .or(b)
            .unwrap_or_default()
            .to_owned()
    };
    let source = event.source.as_ref();
    let component = first_non_empty(
        source.and_then(|s| s.component.as_deref()),
        event.reporting_component.as_deref(),
    );
    let instance = first_non_empty(
        source.and_then(|s| s.host.as_deref()),
        event.reporting_instance.as_deref(),
    );
    let source = match (component.is_empty(), instance.is_empty()) {
        (true, _) => String::new(),
        (false, true) => component,
        (false, false) => format!("{component}, {instance}"),
    };
    Row::new(vec![
        last_seen.into(),
        event.type_.clone().unwrap_or_default().into(),
        event.reason.clone().unwrap_or_default().into(),
        target.into(),
        involved.field_path.clone().unwrap_or_default().into(),
        source.into(),
        event.message.as_deref().unwrap_or_default().trim().into(),
        first_seen.into(),
        count.into(),
        name(&event.metadata),
    ])
}

static SERVICE_ACCOUNT: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new(
            "Secrets",
            "string",
            "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
        ),
        AGE,
    ],
    row: |object, now| {
        let metadata: ObjectMeta = part(object, "/metadata")?;
        let secrets = object
            .pointer("/secrets")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        Some(Row::new(vec![
            name(&metadata),
            secrets.into(),
            age_of(&metadata, now),
        ]))
    },
};

static ROLE_BINDING: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new(
            "Role",
            "string",
            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
        ),
        AGE,
        Column::new("Users", "string", "Users in the binding").wide(),
        Column::new("Groups", "string", "Groups in the binding").wide(),
        Column::new(
            "ServiceAccounts",
            "string",
            "ServiceAccounts in the binding",
        )
        .wide(),
    ],
    row: |object, now| {
        let metadata: ObjectMeta = part(object, "/metadata")?;
        let role: RoleRef = part(object, "/roleRef")?;
        let subjects: Vec<Subject> = part(object, "/subjects")?;
        let of_kind = |kind: &str| {
            let names: Vec<String> = subjects
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| match (kind, &s.namespace) {
                    ("ServiceAccount", Some(namespace)) => format!("{namespace}/{}", s.name),
                    ("ServiceAccount", None) => format!("/{}", s.name),
                    _ => s.name.clone(),
                })
                .collect();
            Value::from(names.join(", "))
        };
        Some(Row::new(vec![
            name(&metadata),
            format!("{}/{}", role.kind, role.name).into(),
            age_of(&metadata, now),
            of_kind("User"),
            of_kind("Group"),
            of_kind("ServiceAccount"),
        ]))
    },
};

static NETWORK_POLICY: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new(
            "Pod-Selector",
            "string",
            "Selects the pods to which this NetworkPolicy object applies.",
        ),
        AGE,
    ],
    row: |object, now| {
        let metadata: ObjectMeta = part(object, "/metadata")?;
        let selector: LabelSelector = part(object, "/spec/podSelector")?;
        Some(Row::new(vec![
            name(&metadata),
            format_label_selector(Some(&selector)).into(),
            age_of(&metadata, now),
        ]))
    },
};

static POD_DISRUPTION_BUDGET: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new(
            "Min Available",
            "string",
            "The minimum number of pods that must be available simultaneously.",
        ),
        Column::new(
            "Max Unavailable",
            "string",
            "The maximum number of pods that may be unavailable simultaneously.",
        ),
        Column::new(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
        ),
        AGE,
    ],
    row: |object, now| {
        let metadata: ObjectMeta = part(object, "/metadata")?;
        let spec: PodDisruptionBudgetSpec = part(object, "/spec")?;
        let bound = |value: Option<IntOrString>| match value {
            Some(IntOrString::Int(n)) => Value::from(n.to_string()),
            Some(IntOrString::String(s)) => Value::from(s),
            None => Value::from("N/A"),
        };
        Some(Row::new(vec![
            name(&metadata),
            bound(spec.min_available),
            bound(spec.max_unavailable),
            count(object, "/status/disruptionsAllowed").into(),
            age_of(&metadata, now),
        ]))
    },
};

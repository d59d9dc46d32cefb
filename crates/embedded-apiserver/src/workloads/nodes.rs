//! Simulated Nodes and the scheduler: the simulation registers its nodes
//! as kubelets do (Ready, with capacity), keeps the cordon taint in step
//! with `spec.unschedulable` as the node lifecycle controller does, and
//! binds pending pods to nodes with [`simulation::scheduler`].

use super::key;
use crate::cluster::{Cluster, WriteOptions, now};
use crate::server::AppState;
use crate::simulation::scheduler::{self, Placement, UNSCHEDULABLE_TAINT};
use crate::simulation::{self, NODE_NAME};
use serde_json::{Value, json};
use std::sync::Arc;

/// The name of the `index`th simulated node (from 0).
pub fn node_name(index: usize) -> String {
    if index == 0 {
        NODE_NAME.to_owned()
    } else {
        format!("{NODE_NAME}-{}", index + 1)
    }
}

/// What a kubelet registers: labels, addresses, capacity, and the
/// conditions of a healthy node (`pkg/kubelet/nodestatus/setters.go`).
fn node(index: usize, now: &str) -> Value {
    let name = node_name(index);
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": now,
        })
    };
    // Far bigger than a real node (a kubelet allows 110 pods by default), so
    // that the project's tests, playground and benchmarks — hundreds of pods
    // with requests — never run a node out; the scheduler still checks.
    let resources = json!({
        "cpu": "256", "memory": "1Ti", "pods": "1000",
        "ephemeral-storage": "2Ti", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
    });
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": format!("10.244.{index}.0/24"),
            "podCIDRs": [format!("10.244.{index}.0/24")],
        },
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                { "type": "InternalIP", "address": simulation::host_ip(&name) },
                { "type": "Hostname", "address": name },
            ],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": format!("00000000-0000-0000-0000-{index:012}"),
                "containerRuntimeVersion": "containerd://2.0.5",
                "kernelVersion": "6.8.0",
                "kubeProxyVersion": "",
                "kubeletVersion": "v1.33.0",
                "machineID": format!("{index:032}"),
                "operatingSystem": "linux",
                "osImage": "Embedded simulation",
                "systemUUID": format!("00000000-0000-0000-0000-{index:012}"),
            },
        },
    })
}

/// Registers the nodes, as their kubelets would on start.
pub(super) fn register(cluster: &mut Cluster, simulated: &super::SimulatedNodes) {
    let Some(nodes) = cluster.registry.find("", "v1", "nodes") else {
        return;
    };
    let options = WriteOptions {
        field_manager: Some("kubelet".into()),
        ..WriteOptions::default()
    };
    let now = now();
    for index in 0..simulated.count {
        let mut node = node(index, &now);
        for (key, value) in &simulated.labels {
            node["metadata"]["labels"][key] = json!(value);
        }
        if let Err(error) = cluster.create(&nodes, None, node, &options) {
            tracing::debug!(%error, "simulated node not registered");
        }
    }
}

/// The node lifecycle controller: a cordoned node (`spec.unschedulable`)
/// carries `node.kubernetes.io/unschedulable:NoSchedule`, an uncordoned one not.
pub(super) fn node_changed(app: &AppState, node: &Value) {
    let cordoned = node.pointer("/spec/unschedulable") == Some(&Value::Bool(true));
    let taints: Vec<Value> = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has_taint = taints.iter().any(|t| t["key"] == UNSCHEDULABLE_TAINT);
    if cordoned == has_taint {
        return;
    }
    let mut taints: Vec<Value> = taints
        .into_iter()
        .filter(|t| t["key"] != UNSCHEDULABLE_TAINT)
        .collect();
    if cordoned {
        taints.push(
            json!({ "key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": now() }),
        );
    }
    let name = node
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let rv = node
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    app.cluster.lock().write_as_system(
        &key("", "nodes"),
        &(String::new(), name.to_owned()),
        rv,
        |node| {
            let spec = node["spec"].as_object_mut();
            if let Some(spec) = spec {
                if taints.is_empty() {
                    spec.remove("taints");
                } else {
                    spec.insert("taints".into(), json!(taints));
                }
            }
        },
    );
}

/// Whether the default scheduler has still to place `pod`.
pub(super) fn needs_scheduling(pod: &Value) -> bool {
    pod.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
        && pod.pointer("/metadata/deletionTimestamp").is_none()
        && pod
            .pointer("/spec/schedulerName")
            .and_then(Value::as_str)
            .is_none_or(|s| s == "default-scheduler")
        && pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .is_none_or(|p| p == "Pending")
}

/// One scheduling attempt: bind `pod` to a node, or record why none takes it
/// (`PodScheduled=False`, reason `Unschedulable`, the scheduler's message).
pub(super) fn schedule(app: &AppState, pod: &Value) {
    let mut cluster = app.cluster.lock();
    let nodes: Vec<Arc<Value>> = cluster
        .store
        .range(&key("", "nodes"), None, None)
        .map(|(_, n)| Arc::clone(n))
        .collect();
    let pods: Vec<Arc<Value>> = cluster
        .store
        .range(&key("", "pods"), None, None)
        .map(|(_, p)| Arc::clone(p))
        .filter(|p| {
            p.pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some()
                && !matches!(
                    p.pointer("/status/phase").and_then(Value::as_str),
                    Some("Succeeded" | "Failed")
                )
        })
        .collect();
    let node_refs: Vec<&Value> = nodes.iter().map(AsRef::as_ref).collect();
    let placement = scheduler::place(pod, &node_refs, |name| {
        pods.iter()
            .filter(|p| p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(name))
            .map(AsRef::as_ref)
            .collect()
    });
    let meta = |field: &str| {
        pod.pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let at = (meta("namespace"), meta("name"));
    let rv = meta("resourceVersion");
    let now = now();
    cluster.write_as_system(&key("", "pods"), &at, &rv, |pod| match placement {
        // The binding: the kubelet then reports the pod scheduled and starts it.
        Placement::Node(node) => pod["spec"]["nodeName"] = json!(node),
        Placement::Unschedulable(message) => {
            let status = pod
                .as_object_mut()
                .expect("a pod is an object")
                .entry("status")
                .or_insert_with(|| json!({}));
            status["phase"] = json!("Pending");
            let conditions = status
                .as_object_mut()
                .expect("status is an object")
                .entry("conditions")
                .or_insert_with(|| json!([]));
            let unchanged = conditions.as_array().is_some_and(|all| {
                all.iter().any(|c| {
                    c["type"] == "PodScheduled" && c["status"] == "False" && c["message"] == message
                })
            });
            if let (Some(conditions), false) = (conditions.as_array_mut(), unchanged) {
                conditions.retain(|c| c["type"] != "PodScheduled");
                conditions.push(json!({
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": message, "lastProbeTime": null, "lastTransitionTime": now,
                }));
            }
        }
    });
}

//! Simulated Nodes and the scheduler: the simulation registers its nodes
//! as kubelets do (Ready, with capacity), keeps the cordon taint in step
//! with `spec.unschedulable` as the node lifecycle controller does, and
//! binds pending pods to nodes with [`simulation::scheduler`].

use super::key;
use crate::cluster::{Cluster, WriteOptions, now};
use crate::server::AppState;
use crate::simulation::scheduler::{self, NodeLoad, Placement, UNSCHEDULABLE_TAINT};
use crate::simulation::{self, NODE_NAME};
use crate::store::ObjectKey;
use serde_json::{Value, json};
use std::collections::HashMap;
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

/// What each bound pod asks of its node, kept from the pod changes the
/// simulation sees, so that placing a pod does not add up every pod of the
/// cluster again (that made scheduling cost the square of the pods).
#[derive(Default)]
pub(super) struct NodeCharges {
    /// Each charging pod: the version seen, its node, its load.
    pods: HashMap<ObjectKey, (String, String, NodeLoad)>,
    nodes: HashMap<String, NodeLoad>,
}

impl NodeCharges {
    /// Follows a change of `pod` (`gone`: deleted): bound and not finished,
    /// it charges its node; otherwise nothing.
    pub(super) fn observe(&mut self, pod: &Value, gone: bool) {
        let at = object_key(pod);
        let version = pod
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !gone
            && self
                .pods
                .get(&at)
                .is_some_and(|(seen, _, _)| seen == version)
        {
            return;
        }
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let finished = matches!(
            pod.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        match node {
            Some(node) if !gone && !finished => self.charge(
                at,
                version.to_owned(),
                node.to_owned(),
                NodeLoad::of_pod(pod),
            ),
            _ => self.release(&at),
        }
    }

    /// Catches up with `pods`, every pod there is (a pod seen at the same
    /// version is not looked at again).
    pub(super) fn resync<'a>(&mut self, pods: impl IntoIterator<Item = &'a Value>) {
        let mut present = std::collections::HashSet::new();
        for pod in pods {
            present.insert(object_key(pod));
            self.observe(pod, false);
        }
        let vanished: Vec<ObjectKey> = self
            .pods
            .keys()
            .filter(|at| !present.contains(*at))
            .cloned()
            .collect();
        for at in vanished {
            self.release(&at);
        }
    }

    fn charge(&mut self, at: ObjectKey, version: String, node: String, load: NodeLoad) {
        self.release(&at);
        let total = self.nodes.entry(node.clone()).or_default();
        *total = total.plus(load);
        self.pods.insert(at, (version, node, load));
    }

    fn release(&mut self, at: &ObjectKey) {
        let Some((_, node, load)) = self.pods.remove(at) else {
            return;
        };
        if let Some(total) = self.nodes.get_mut(&node) {
            *total = NodeLoad {
                pods: total.pods.saturating_sub(load.pods),
                cpu: total.cpu - load.cpu,
                memory: total.memory - load.memory,
            };
        }
    }

    fn load(&self, node: &str) -> NodeLoad {
        self.nodes.get(node).copied().unwrap_or_default()
    }
}

fn object_key(object: &Value) -> ObjectKey {
    let meta = |field: &str| {
        object
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (meta("namespace"), meta("name"))
}

/// One scheduling attempt: bind `pod` to a node, or record why none takes it
/// (`PodScheduled=False`, reason `Unschedulable`, the scheduler's message).
pub(super) fn schedule(app: &AppState, charges: &mut NodeCharges, pod: &Value) {
    let mut cluster = app.cluster.lock();
    let nodes: Vec<Arc<Value>> = cluster
        .store
        .range(&key("", "nodes"), None, None)
        .map(|(_, n)| Arc::clone(n))
        .collect();
    let node_refs: Vec<&Value> = nodes.iter().map(AsRef::as_ref).collect();
    let placement = scheduler::place(pod, &node_refs, |name| charges.load(name));
    // The binding charges its node at once: the next pod placed before the
    // binding's own change comes round sees it.
    // (Under no version: the binding's own change is taken in full.)
    if let Placement::Node(node) = &placement {
        charges.charge(
            object_key(pod),
            String::new(),
            node.clone(),
            NodeLoad::of_pod(pod),
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, rv: &str, node: Option<&str>, cpu: &str, phase: &str) -> Value {
        let mut pod = json!({
            "metadata": { "namespace": "ns", "name": name, "resourceVersion": rv },
            "spec": { "containers": [{ "name": "c", "resources": { "requests": { "cpu": cpu } } }] },
            "status": { "phase": phase },
        });
        if let Some(node) = node {
            pod["spec"]["nodeName"] = json!(node);
        }
        pod
    }

    fn cpu_millis(load: NodeLoad) -> i128 {
        load.cpu.milli_value()
    }

    #[test]
    fn a_node_is_charged_for_its_bound_unfinished_pods_only() {
        let mut charges = NodeCharges::default();
        charges.observe(&pod("a", "1", Some("n1"), "100m", "Running"), false);
        charges.observe(&pod("b", "1", Some("n1"), "200m", "Pending"), false);
        charges.observe(&pod("c", "1", None, "400m", "Pending"), false);
        charges.observe(&pod("d", "1", Some("n2"), "800m", "Running"), false);
        assert_eq!(charges.load("n1").pods, 2);
        assert_eq!(cpu_millis(charges.load("n1")), 300);
        assert_eq!(cpu_millis(charges.load("n2")), 800);

        // Finished, deleted: no longer charged.
        charges.observe(&pod("a", "2", Some("n1"), "100m", "Succeeded"), false);
        charges.observe(&pod("d", "2", Some("n2"), "800m", "Running"), true);
        assert_eq!(charges.load("n1").pods, 1);
        assert_eq!(cpu_millis(charges.load("n1")), 200);
        assert_eq!(charges.load("n2").pods, 0);
        assert_eq!(cpu_millis(charges.load("n2")), 0);
    }

    #[test]
    fn a_resync_forgets_pods_that_are_gone_and_keeps_the_rest() {
        let mut charges = NodeCharges::default();
        let (a, b) = (
            pod("a", "1", Some("n1"), "100m", "Running"),
            pod("b", "1", Some("n1"), "200m", "Running"),
        );
        charges.observe(&a, false);
        charges.observe(&b, false);
        // `b` went while the simulation was not looking.
        charges.resync([&a]);
        assert_eq!(charges.load("n1").pods, 1);
        assert_eq!(cpu_millis(charges.load("n1")), 100);
    }

    #[test]
    fn a_binding_counts_before_its_own_change_comes_round() {
        let mut charges = NodeCharges::default();
        let pending = pod("a", "1", None, "100m", "Pending");
        charges.charge(
            object_key(&pending),
            String::new(),
            "n1".into(),
            NodeLoad::of_pod(&pending),
        );
        assert_eq!(charges.load("n1").pods, 1);
        // The binding's change then replaces it, not adds to it.
        charges.observe(&pod("a", "2", Some("n1"), "100m", "Pending"), false);
        assert_eq!(charges.load("n1").pods, 1);
        assert_eq!(cpu_millis(charges.load("n1")), 100);
    }
}

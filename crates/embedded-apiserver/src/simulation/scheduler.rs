//! The default scheduler's filters, as far as the simulated nodes need them
//! (`pkg/scheduler/framework/plugins`): `NodeUnschedulable`,
//! `TaintToleration`, `NodeAffinity` (node selector and required node
//! affinity) and `NodeResourcesFit` (cpu, memory, pod count). A node fails
//! on its first failing filter, in the default profile's order; a pod no
//! node takes gets upstream's `FitError` message, reasons counted and
//! sorted, followed by the preemption post-filter's verdict
//! (`pkg/scheduler/framework/types.go`, `FitError.Error`).
//!
//! Not played: scoring (the first fitting node, in name order, is taken),
//! pod affinity and anti-affinity, topology spread, volume and port
//! filters, preemption itself (a pod short of resources is told no
//! victims were found, which is what upstream says when none has a lower
//! priority).

use crate::quota::quantity::Quantity;
use serde_json::Value;
use std::collections::BTreeMap;

/// The cordon taint the node lifecycle controller keeps in step with
/// `spec.unschedulable` (`TaintNodesByCondition`).
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Where the scheduler puts a pod.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    /// Bind it to this node.
    Node(String),
    /// No node takes it: the `PodScheduled=False` message.
    Unschedulable(String),
}

/// Why a node does not take a pod, and whether preemption could help.
struct Refusal {
    reason: String,
    resolvable: bool,
}

fn unresolvable(reason: impl Into<String>) -> Refusal {
    Refusal {
        reason: reason.into(),
        resolvable: false,
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `v1helper.TolerationsTolerateTaint`, one toleration.
fn tolerates(toleration: &Value, taint: &Value) -> bool {
    let effect = str_at(toleration, "/effect");
    if !effect.is_empty() && effect != str_at(taint, "/effect") {
        return false;
    }
    let key = str_at(toleration, "/key");
    if !key.is_empty() && key != str_at(taint, "/key") {
        return false;
    }
    match str_at(toleration, "/operator") {
        "Exists" => true,
        // Equal is the default.
        "" | "Equal" => str_at(toleration, "/value") == str_at(taint, "/value"),
        _ => false,
    }
}

fn untolerated_taint<'a>(pod: &Value, node: &'a Value) -> Option<&'a Value> {
    let tolerations = pod.pointer("/spec/tolerations").and_then(Value::as_array);
    node.pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| matches!(str_at(t, "/effect"), "NoSchedule" | "NoExecute"))
        .find(|taint| {
            !tolerations
                .into_iter()
                .flatten()
                .any(|t| tolerates(t, taint))
        })
}

/// One `NodeSelectorRequirement` against the node's labels.
fn requirement_matches(requirement: &Value, node: &Value) -> bool {
    let label = node
        .pointer("/metadata/labels")
        .and_then(|l| l.get(str_at(requirement, "/key")))
        .and_then(Value::as_str);
    let values: Vec<&str> = requirement["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let number = |text: &str| text.parse::<i64>().ok();
    match str_at(requirement, "/operator") {
        "In" => label.is_some_and(|l| values.contains(&l)),
        "NotIn" => label.is_none_or(|l| !values.contains(&l)),
        "Exists" => label.is_some(),
        "DoesNotExist" => label.is_none(),
        "Gt" => {
            matches!((label.and_then(number), values.first().and_then(|v| number(v))), (Some(l), Some(v)) if l > v)
        }
        "Lt" => {
            matches!((label.and_then(number), values.first().and_then(|v| number(v))), (Some(l), Some(v)) if l < v)
        }
        _ => false,
    }
}

/// `nodeSelector` and `requiredDuringSchedulingIgnoredDuringExecution`.
fn node_affinity_matches(pod: &Value, node: &Value) -> bool {
    let labels = node.pointer("/metadata/labels");
    let selector_ok = pod
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(key, value)| labels.and_then(|l| l.get(key)) == Some(value));
    let terms = pod
        .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array);
    // Terms are ORed; a term's expressions (and fields) ANDed.
    let affinity_ok = terms.is_none_or(|terms| {
        terms.iter().any(|term| {
            let expressions_ok = term["matchExpressions"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|r| requirement_matches(r, node));
            let fields_ok = term["matchFields"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|r| {
                    str_at(r, "/key") == "metadata.name" && {
                        let by_name = serde_json::json!({ "metadata": { "labels": {
                        "metadata.name": str_at(node, "/metadata/name")
                    } } });
                        requirement_matches(r, &by_name)
                    }
                });
            expressions_ok && fields_ok
        })
    });
    selector_ok && affinity_ok
}

fn quantity(value: Option<&Value>) -> Option<Quantity> {
    match value? {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.to_string().parse().ok(),
        _ => None,
    }
}

/// The pod's effective request of `resource`: the larger of its
/// containers' sum and any one init container (sidecars ignored here).
fn request(pod: &Value, resource: &str) -> Quantity {
    let of = |field: &str| -> Vec<Quantity> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| quantity(c.pointer(&format!("/resources/requests/{resource}"))))
            .collect()
    };
    let sum = of("containers")
        .into_iter()
        .fold(Quantity::from_units(0), |total, q| total + q);
    of("initContainers")
        .into_iter()
        .fold(sum, |max, q| if q > max { q } else { max })
}

/// What the pods bound to a node ask of it: how many, and their cpu and
/// memory requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeLoad {
    pub pods: usize,
    pub cpu: Quantity,
    pub memory: Quantity,
}

impl NodeLoad {
    /// What `pod` adds to its node's load.
    pub fn of_pod(pod: &Value) -> NodeLoad {
        NodeLoad {
            pods: 1,
            cpu: request(pod, "cpu"),
            memory: request(pod, "memory"),
        }
    }

    /// The load of `pods` together.
    pub fn of(pods: &[&Value]) -> NodeLoad {
        pods.iter()
            .map(|pod| NodeLoad::of_pod(pod))
            .fold(NodeLoad::default(), |total, load| total.plus(load))
    }

    pub fn plus(self, other: NodeLoad) -> NodeLoad {
        NodeLoad {
            pods: self.pods + other.pods,
            cpu: self.cpu + other.cpu,
            memory: self.memory + other.memory,
        }
    }
}

/// `NodeResourcesFit`: what the node lacks for `pod` beside `load` (what the
/// pods already bound to it ask), in upstream's order.
fn insufficient(pod: &Value, node: &Value, load: NodeLoad) -> Vec<String> {
    let mut missing = Vec::new();
    let allocatable =
        |resource: &str| quantity(node.pointer(&format!("/status/allocatable/{resource}")));
    if let Some(pods) = allocatable("pods")
        && Quantity::from_units(load.pods as i64 + 1) > pods
    {
        missing.push("Too many pods".to_owned());
    }
    let wanted = NodeLoad::of_pod(pod);
    for (resource, wanted, used) in [
        ("cpu", wanted.cpu, load.cpu),
        ("memory", wanted.memory, load.memory),
    ] {
        if wanted.is_zero() {
            continue;
        }
        if allocatable(resource).is_some_and(|free| used + wanted > free) {
            missing.push(format!("Insufficient {resource}"));
        }
    }
    missing
}

/// Why `node` does not take `pod`, if it does not.
fn filter(pod: &Value, node: &Value, load: NodeLoad) -> Option<Refusal> {
    let cordon = serde_json::json!({ "key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule" });
    let tolerates_cordon = pod
        .pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|t| tolerates(t, &cordon));
    if node.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) && !tolerates_cordon {
        return Some(unresolvable("node(s) were unschedulable"));
    }
    if let Some(taint) = untolerated_taint(pod, node) {
        // 1.33 names the taint; later releases (kubernetes#134740) do not.
        return Some(unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            str_at(taint, "/key"),
            str_at(taint, "/value")
        )));
    }
    if !node_affinity_matches(pod, node) {
        return Some(unresolvable(
            "node(s) didn't match Pod's node affinity/selector",
        ));
    }
    let missing = insufficient(pod, node, load);
    (!missing.is_empty()).then(|| Refusal {
        reason: missing.join(", "),
        resolvable: true,
    })
}

/// Places `pod` on one of `nodes` (in name order); `load(node)` is what the
/// pods already bound to a node ask of it.
pub fn place(pod: &Value, nodes: &[&Value], load: impl Fn(&str) -> NodeLoad) -> Placement {
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut preemption: BTreeMap<&'static str, usize> = BTreeMap::new();
    for node in nodes {
        let name = str_at(node, "/metadata/name");
        match filter(pod, node, load(name)) {
            None => return Placement::Node(name.to_owned()),
            Some(refusal) => {
                // One node short of several resources counts once for each.
                for reason in refusal.reason.split(", ") {
                    *reasons.entry(reason.to_owned()).or_default() += 1;
                }
                let verdict = if refusal.resolvable {
                    "No preemption victims found for incoming pod"
                } else {
                    "Preemption is not helpful for scheduling"
                };
                *preemption.entry(verdict).or_default() += 1;
            }
        }
    }
    if nodes.is_empty() {
        return Placement::Unschedulable("no nodes available to schedule pods".to_owned());
    }
    // `sortReasonsHistogram`: "<count> <reason>" strings, sorted as strings.
    let histogram = |counts: Vec<String>| {
        let mut counts = counts;
        counts.sort();
        counts.join(", ")
    };
    let total = nodes.len();
    let fit: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    let post: Vec<String> = preemption.iter().map(|(r, n)| format!("{n} {r}")).collect();
    Placement::Unschedulable(format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {}.",
        histogram(fit),
        histogram(post)
    ))
}

#[cfg(test)]
mod tests;

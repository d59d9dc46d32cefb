use super::*;
use serde_json::json;

fn node(name: &str, extra: Value) -> Value {
    let mut node = json!({
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name, "disk": "ssd" } },
        "spec": {},
        "status": { "allocatable": { "cpu": "4", "memory": "8Gi", "pods": "110" } },
    });
    for (key, value) in extra.as_object().unwrap() {
        node["spec"][key] = value.clone();
    }
    node
}

fn pod(spec: Value) -> Value {
    json!({ "metadata": { "name": "p" }, "spec": spec })
}

fn place_on(pod: &Value, nodes: &[&Value]) -> Placement {
    place(pod, nodes, |_| NodeLoad::default())
}

#[test]
fn a_plain_pod_lands_on_the_first_node() {
    let (a, b) = (node("a", json!({})), node("b", json!({})));
    assert_eq!(
        place_on(&pod(json!({})), &[&a, &b]),
        Placement::Node("a".into())
    );
}

#[test]
fn selectors_and_required_affinity_must_match() {
    let a = node("a", json!({}));
    let hdd = pod(json!({ "nodeSelector": { "disk": "hdd" } }));
    assert_eq!(
        place_on(&hdd, &[&a]),
        Placement::Unschedulable(
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".into()
        )
    );
    let affinity = pod(
        json!({ "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            { "matchExpressions": [{ "key": "disk", "operator": "In", "values": ["nvme"] }] },
            { "matchExpressions": [{ "key": "disk", "operator": "Exists" }] },
        ]
    } } } }),
    );
    assert_eq!(place_on(&affinity, &[&a]), Placement::Node("a".into()));
}

#[test]
fn cordoned_and_tainted_nodes_refuse_untolerating_pods() {
    let cordoned = node(
        "a",
        json!({ "unschedulable": true, "taints": [
        { "key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule" }
    ] }),
    );
    let tainted = node(
        "b",
        json!({ "taints": [{ "key": "gpu", "value": "yes", "effect": "NoSchedule" }] }),
    );
    let Placement::Unschedulable(message) = place_on(&pod(json!({})), &[&cordoned, &tainted])
    else {
        panic!("no node should take the pod");
    };
    assert_eq!(
        message,
        "0/2 nodes are available: 1 node(s) had untolerated taint {gpu: yes}, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    );
    let tolerant = pod(json!({ "tolerations": [{ "key": "gpu", "operator": "Exists" }] }));
    assert_eq!(
        place_on(&tolerant, &[&cordoned, &tainted]),
        Placement::Node("b".into())
    );
}

#[test]
fn requests_must_fit_beside_the_pods_already_there() {
    let a = node("a", json!({}));
    let big = pod(
        json!({ "containers": [{ "name": "c", "resources": { "requests": { "cpu": "3" } } }] }),
    );
    let placed = big.clone();
    let Placement::Unschedulable(message) = place(&big, &[&a], |_| NodeLoad::of(&[&placed])) else {
        panic!("the second 3-cpu pod does not fit in 4 cpus");
    };
    assert_eq!(
        message,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
}

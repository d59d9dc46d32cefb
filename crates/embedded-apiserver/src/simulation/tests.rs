use super::*;
use serde_json::json;

pub(super) const T0: &str = "2026-01-01T12:00:00Z";
pub(super) const T1: &str = "2026-01-01T12:00:01Z";
pub(super) const T2: &str = "2026-01-01T12:00:02Z";
pub(super) const T9: &str = "2026-01-01T12:00:09Z";

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "gt-rig-polecat-a", "namespace": "town", "uid": "u-1" },
        "spec": {
            "initContainers": [
                { "name": "clone", "image": "git" },
                { "name": "proxy", "image": "envoy", "restartPolicy": "Always" }
            ],
            "containers": [{ "name": "agent", "image": "claude" }, { "name": "logs", "image": "vector" }]
        },
        "status": { "phase": "Pending", "qosClass": "BestEffort" }
    })
}

/// Applies `next_status` until it returns `None`, returning every status written.
pub(super) fn settle(kind: &str, mut object: Value, times: &[&str]) -> (Value, Vec<Value>) {
    let mut written = Vec::new();
    for now in times {
        match next_status(kind, &object, now) {
            Some(status) => {
                object["status"] = status.clone();
                written.push(status);
            }
            None => return (object, written),
        }
    }
    panic!(
        "{kind} did not settle within {} steps: {written:#?}",
        times.len()
    );
}

pub(super) fn condition_of<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} condition in {status:#}"))
}

#[test]
fn a_pod_is_scheduled_then_runs_ready_then_goes_quiet() {
    let (pod, written) = settle("Pod", pod(), &[T0, T1, T2, T9]);
    assert_eq!(written.len(), 2, "scheduled, then running");

    let scheduled = &written[0];
    assert_eq!(scheduled["phase"], "Pending");
    assert_eq!(condition_of(scheduled, "PodScheduled")["status"], "True");
    assert_eq!(
        scheduled["qosClass"], "BestEffort",
        "fields the server set are kept"
    );

    let running = &pod["status"];
    assert_eq!(running["phase"], "Running");
    for kind in [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ] {
        assert_eq!(condition_of(running, kind)["status"], "True", "{kind}");
    }
    assert_eq!(
        condition_of(running, "PodScheduled")["lastTransitionTime"],
        T0,
        "scheduling time kept"
    );
    assert_eq!(condition_of(running, "Ready")["lastTransitionTime"], T1);
    assert_eq!(running["startTime"], T1);
    assert_eq!(running["hostIP"], HOST_IP);
    assert!(running["podIP"].as_str().unwrap().starts_with("10.244."));
    assert_eq!(running["podIPs"][0]["ip"], running["podIP"]);

    let containers = running["containerStatuses"].as_array().unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["agent", "logs"]);
    for container in containers {
        assert_eq!(container["ready"], true);
        assert_eq!(container["started"], true);
        assert_eq!(container["state"]["running"]["startedAt"], T1);
    }
    assert_eq!(containers[0]["image"], "claude");

    let init = running["initContainerStatuses"].as_array().unwrap();
    assert_eq!(init[0]["state"]["terminated"]["reason"], "Completed");
    assert_eq!(init[0]["state"]["terminated"]["exitCode"], 0);
    assert!(
        init[1]["state"]["running"].is_object(),
        "a sidecar keeps running"
    );
}

#[test]
fn a_pod_without_any_status_starts_out_pending() {
    let mut bare = pod();
    bare.as_object_mut().unwrap().remove("status");
    let scheduled = next_status("Pod", &bare, T0).expect("a new pod gets scheduled");
    assert_eq!(scheduled["phase"], "Pending");
}

#[test]
fn pods_at_rest_are_left_alone() {
    let (running, _) = settle("Pod", pod(), &[T0, T1, T2]);
    assert_eq!(next_status("Pod", &running, T9), None);
    let succeeded = json!({ "status": finish_pod(&running, PodOutcome::Succeeded, T2) });
    assert_eq!(next_status("Pod", &succeeded, T9), None);
    let lost = json!({ "status": lose_node(&running, T2) });
    assert_eq!(next_status("Pod", &lost, T9), None);
    let mut deleting = pod();
    deleting["metadata"]["deletionTimestamp"] = json!(T0);
    assert_eq!(next_status("Pod", &deleting, T9), None);
}

#[test]
fn pod_ips_are_stable_per_pod() {
    let (a, _) = settle("Pod", pod(), &[T0, T1, T2]);
    let (again, _) = settle("Pod", pod(), &[T2, T9, T9]);
    assert_eq!(a["status"]["podIP"], again["status"]["podIP"]);
    let mut other = pod();
    other["metadata"]["name"] = json!("gt-rig-polecat-b");
    let (b, _) = settle("Pod", other, &[T0, T1, T2]);
    assert_ne!(a["status"]["podIP"], b["status"]["podIP"]);
}

#[test]
fn finishing_a_pod_stops_its_containers() {
    let (running, _) = settle("Pod", pod(), &[T0, T1, T2]);

    let done = finish_pod(&running, PodOutcome::Succeeded, T9);
    assert_eq!(done["phase"], "Succeeded");
    assert_eq!(condition_of(&done, "Ready")["status"], "False");
    assert_eq!(condition_of(&done, "Ready")["reason"], "PodCompleted");
    for container in done["containerStatuses"].as_array().unwrap() {
        let terminated = &container["state"]["terminated"];
        assert_eq!(terminated["exitCode"], 0);
        assert_eq!(terminated["reason"], "Completed");
        assert_eq!(terminated["startedAt"], T1, "started when it began running");
        assert_eq!(terminated["finishedAt"], T9);
        assert_eq!(container["ready"], false);
    }

    let failed = finish_pod(&running, PodOutcome::Failed, T9);
    assert_eq!(failed["phase"], "Failed");
    assert_eq!(
        failed["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        1
    );
    assert_eq!(
        condition_of(&failed, "Ready")["message"],
        "containers with unready status: [agent logs]"
    );
}

#[test]
fn losing_the_node_fails_the_pod() {
    let (mut running, _) = settle("Pod", pod(), &[T0, T1, T2]);
    running["spec"]["nodeName"] = json!("node-7");
    let lost = lose_node(&running, T9);
    assert_eq!(lost["phase"], "Failed");
    assert_eq!(lost["reason"], "NodeLost");
    assert_eq!(
        lost["message"],
        "Node node-7 which was running pod gt-rig-polecat-a is unresponsive"
    );
    assert_eq!(condition_of(&lost, "DisruptionTarget")["status"], "True");
    assert_eq!(condition_of(&lost, "Ready")["status"], "False");
    assert_eq!(
        lost["containerStatuses"][1]["state"]["terminated"]["reason"],
        "ContainerStatusUnknown"
    );
}

fn deployment(replicas: Option<i64>, generation: i64, image: &str) -> Value {
    let mut spec =
        json!({ "template": { "spec": { "containers": [{ "name": "web", "image": image }] } } });
    if let Some(replicas) = replicas {
        spec["replicas"] = json!(replicas);
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "web", "namespace": "town", "generation": generation },
        "spec": spec
    })
}

#[test]
fn a_deployment_reports_every_replica_ready_then_goes_quiet() {
    let (settled, written) = settle("Deployment", deployment(Some(3), 2, "nginx:1"), &[T0, T1]);
    assert_eq!(written.len(), 1);
    let status = &settled["status"];
    assert_eq!(status["observedGeneration"], 2);
    for field in [
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
    ] {
        assert_eq!(status[field], 3, "{field}");
    }
    let available = condition_of(status, "Available");
    assert_eq!(
        (&available["status"], &available["reason"]),
        (&json!("True"), &json!("MinimumReplicasAvailable"))
    );
    let progressing = condition_of(status, "Progressing");
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
    assert!(
        progressing["message"]
            .as_str()
            .unwrap()
            .starts_with("ReplicaSet \"web-")
    );
}

#[test]
fn a_deployment_without_replicas_means_one() {
    let status = next_status("Deployment", &deployment(None, 1, "nginx:1"), T0).unwrap();
    assert_eq!(status["readyReplicas"], 1);
    let scaled_to_zero = next_status("Deployment", &deployment(Some(0), 1, "nginx:1"), T0).unwrap();
    assert!(
        scaled_to_zero.get("replicas").is_none() && scaled_to_zero.get("readyReplicas").is_none()
    );
}

#[test]
fn a_deployment_change_is_observed_and_condition_times_follow_upstream() {
    let (settled, _) = settle("Deployment", deployment(Some(1), 1, "nginx:1"), &[T0, T1]);

    let mut scaled = deployment(Some(2), 2, "nginx:1");
    scaled["status"] = settled["status"].clone();
    let status = next_status("Deployment", &scaled, T9).expect("a new generation is observed");
    assert_eq!(
        (&status["observedGeneration"], &status["readyReplicas"]),
        (&json!(2), &json!(2))
    );
    let progressing = condition_of(&status, "Progressing");
    assert_eq!(
        progressing["lastTransitionTime"], T0,
        "status did not change"
    );
    assert_eq!(progressing["lastUpdateTime"], T0, "message did not change");

    let mut new_image = deployment(Some(2), 3, "nginx:2");
    new_image["status"] = status;
    let status = next_status("Deployment", &new_image, T9).unwrap();
    let progressing = condition_of(&status, "Progressing");
    assert_eq!(progressing["lastTransitionTime"], T0);
    assert_eq!(
        progressing["lastUpdateTime"], T9,
        "a new ReplicaSet is named"
    );
}

#[test]
fn a_stateful_set_reports_one_revision_everywhere() {
    let set = |image: &str| {
        let mut set = deployment(Some(2), 4, image);
        set["kind"] = json!("StatefulSet");
        set
    };
    let (settled, written) = settle("StatefulSet", set("redis:7"), &[T0, T1]);
    assert_eq!(written.len(), 1);
    let status = &settled["status"];
    assert_eq!(status["observedGeneration"], 4);
    for field in [
        "replicas",
        "readyReplicas",
        "currentReplicas",
        "updatedReplicas",
        "availableReplicas",
    ] {
        assert_eq!(status[field], 2, "{field}");
    }
    assert_eq!(status["currentRevision"], status["updateRevision"]);
    let revision = status["updateRevision"].as_str().unwrap();
    assert!(revision.starts_with("web-") && revision.len() > 4);
    let changed = next_status("StatefulSet", &set("redis:8"), T1).unwrap();
    assert_ne!(
        changed["updateRevision"], status["updateRevision"],
        "a new template is a new revision"
    );
}

#[test]
fn a_claim_is_bound_with_the_capacity_it_asked_for() {
    let claim = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": { "name": "workspace", "namespace": "town" },
        "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "10Gi" } } },
        "status": { "phase": "Pending" }
    });
    let (bound, written) = settle("PersistentVolumeClaim", claim, &[T0, T1]);
    assert_eq!(written.len(), 1);
    assert_eq!(
        bound["status"],
        json!({ "phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": { "storage": "10Gi" } })
    );
}

#[test]
fn other_kinds_and_look_alikes_are_not_simulated() {
    assert_eq!(
        next_status(
            "ConfigMap",
            &json!({ "apiVersion": "v1", "kind": "ConfigMap" }),
            T0
        ),
        None
    );
    let mut custom = pod();
    custom["apiVersion"] = json!("example.com/v1");
    assert_eq!(
        next_status("Pod", &custom, T0),
        None,
        "a custom kind named Pod"
    );
    let mut deleting = deployment(Some(1), 1, "nginx:1");
    deleting["metadata"]["deletionTimestamp"] = json!(T0);
    assert_eq!(next_status("Deployment", &deleting, T0), None);
}

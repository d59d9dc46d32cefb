//! How verdicts show in pod, Deployment and StatefulSet status.

use super::super::next_status;
use super::super::tests::{T0, T1, T2, T9, condition_of, settle};
use super::log_tail;
use serde_json::{Value, json};

/// A dolt container that exits 1 at once (a repeated flag).
fn crashing(name: &str) -> Value {
    json!({
        "name": name,
        "image": "dolthub/dolt-sql-server:1.81.6",
        "command": ["dolt", "sql-server", "--port=1", "--port=2"],
        "terminationMessagePolicy": "FallbackToLogsOnError"
    })
}

/// A dolt container that runs but whose readiness probe hits nothing.
fn unready(name: &str) -> Value {
    json!({
        "name": name,
        "image": "dolthub/dolt-sql-server:1.81.6",
        "command": ["dolt", "sql-server", "--host=0.0.0.0"],
        "readinessProbe": { "tcpSocket": { "port": 9999 } }
    })
}

/// A bd daemon without --foreground: exits 0.
fn forking(name: &str) -> Value {
    json!({
        "name": name,
        "image": "ghcr.io/groblegark/beads:0.62.5",
        "command": ["bd", "daemon", "start", "--local"],
        "terminationMessagePolicy": "FallbackToLogsOnError"
    })
}

fn pod_with(spec: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "web-0", "namespace": "town", "uid": "u-7" },
        "spec": spec,
        "status": { "phase": "Pending" }
    })
}

const DUPLICATE_PORT: &str = "error: multiple values provided for `port'";

#[test]
fn a_crashing_container_backs_off_and_the_status_settles() {
    let pod =
        pod_with(json!({ "containers": [crashing("db"), { "name": "logs", "image": "vector" }] }));
    let (settled, written) = settle("Pod", pod, &[T0, T1, T2, T9]);
    assert_eq!(written.len(), 2, "scheduled, then started; then nothing");
    let status = &settled["status"];
    assert_eq!(status["phase"], "Running");
    for kind in ["Ready", "ContainersReady"] {
        let c = condition_of(status, kind);
        assert_eq!(c["status"], "False");
        assert_eq!(c["reason"], "ContainersNotReady");
        assert_eq!(c["message"], "containers with unready status: [db]");
    }
    assert_eq!(condition_of(status, "Initialized")["status"], "True");
    let db = &status["containerStatuses"][0];
    assert_eq!(
        db["state"],
        json!({ "waiting": {
            "reason": "CrashLoopBackOff",
            "message": "back-off 10s restarting failed container=db pod=web-0_town(u-7)"
        }})
    );
    assert_eq!(
        db["lastState"],
        json!({ "terminated": {
            "exitCode": 1, "reason": "Error", "message": DUPLICATE_PORT,
            "startedAt": T1, "finishedAt": T1
        }})
    );
    assert_eq!(
        (&db["restartCount"], &db["ready"], &db["started"]),
        (&json!(1), &json!(false), &json!(false))
    );
    let logs = &status["containerStatuses"][1];
    assert_eq!(
        (&logs["ready"], &logs["restartCount"]),
        (&json!(true), &json!(0))
    );
}

#[test]
fn restart_policy_never_fails_the_pod_once_every_container_has_exited() {
    let pod = pod_with(json!({ "restartPolicy": "Never", "containers": [crashing("db")] }));
    let (settled, _) = settle("Pod", pod, &[T0, T1, T2, T9]);
    let status = &settled["status"];
    assert_eq!(status["phase"], "Failed");
    assert_eq!(
        condition_of(status, "PodReadyToStartContainers")["status"],
        "False"
    );
    let db = &status["containerStatuses"][0];
    assert_eq!(db["state"]["terminated"]["exitCode"], 1);
    assert_eq!(db["state"]["terminated"]["message"], DUPLICATE_PORT);
    assert_eq!(db["restartCount"], 0);

    // Another container still running keeps the pod Running.
    let pod = pod_with(json!({
        "restartPolicy": "Never",
        "containers": [crashing("db"), { "name": "logs", "image": "vector" }]
    }));
    let (settled, _) = settle("Pod", pod, &[T0, T1, T2, T9]);
    assert_eq!(settled["status"]["phase"], "Running");
    assert!(settled["status"]["containerStatuses"][0]["state"]["terminated"].is_object());
}

#[test]
fn an_exit_zero_restarts_only_under_always() {
    let pod = pod_with(json!({ "restartPolicy": "OnFailure", "containers": [forking("daemon")] }));
    let (settled, _) = settle("Pod", pod, &[T0, T1, T2, T9]);
    let status = &settled["status"];
    assert_eq!(status["phase"], "Succeeded");
    assert_eq!(condition_of(status, "Ready")["reason"], "PodCompleted");
    let daemon = &status["containerStatuses"][0];
    assert_eq!(daemon["state"]["terminated"]["reason"], "Completed");
    assert!(daemon["state"]["terminated"].get("message").is_none());

    let pod = pod_with(json!({ "containers": [forking("daemon")] }));
    let (settled, _) = settle("Pod", pod, &[T0, T1, T2, T9]);
    assert_eq!(settled["status"]["phase"], "Running");
    assert_eq!(
        settled["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
}

#[test]
fn a_crashing_init_container_holds_the_pod_in_pending() {
    let pod = pod_with(json!({
        "initContainers": [{ "name": "clone", "image": "git" }, crashing("migrate"), { "name": "warm", "image": "busybox" }],
        "containers": [{ "name": "app", "image": "nginx" }]
    }));
    let (settled, written) = settle("Pod", pod, &[T0, T1, T2, T9]);
    assert_eq!(written.len(), 2, "a Pending pod settles too");
    let status = &settled["status"];
    assert_eq!(status["phase"], "Pending");
    assert_eq!(condition_of(status, "PodScheduled")["status"], "True");
    let initialized = condition_of(status, "Initialized");
    assert_eq!(initialized["status"], "False");
    assert_eq!(initialized["reason"], "ContainersNotInitialized");
    assert_eq!(
        initialized["message"],
        "containers with incomplete status: [migrate warm]"
    );
    assert_eq!(
        condition_of(status, "Ready")["message"],
        "containers with unready status: [app]"
    );
    let init = status["initContainerStatuses"].as_array().unwrap();
    assert_eq!(init[0]["state"]["terminated"]["reason"], "Completed");
    assert_eq!(init[1]["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(
        init[1]["lastState"]["terminated"]["message"],
        DUPLICATE_PORT
    );
    assert_eq!(init[2]["state"]["waiting"]["reason"], "PodInitializing");
    assert_eq!(
        status["containerStatuses"][0]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    // Later sweeps, at later times, change nothing.
    assert_eq!(next_status("Pod", &settled, "2026-01-01T13:00:00Z"), None);
}

#[test]
fn a_failed_init_container_fails_the_pod_under_never() {
    let pod = pod_with(json!({
        "restartPolicy": "Never",
        "initContainers": [crashing("migrate")],
        "containers": [{ "name": "app", "image": "nginx" }]
    }));
    let (settled, _) = settle("Pod", pod, &[T0, T1, T2, T9]);
    let status = &settled["status"];
    assert_eq!(status["phase"], "Failed");
    assert_eq!(
        status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"],
        1
    );
}

#[test]
fn an_init_container_that_exits_zero_has_simply_finished() {
    let pod = pod_with(json!({
        "initContainers": [forking("seed")],
        "containers": [{ "name": "app", "image": "nginx" }]
    }));
    let (settled, _) = settle("Pod", pod, &[T0, T1, T2, T9]);
    assert_eq!(settled["status"]["phase"], "Running");
    assert_eq!(condition_of(&settled["status"], "Ready")["status"], "True");
}

#[test]
fn sidecars_restart_and_count_towards_readiness() {
    let mut sidecar = unready("proxy");
    sidecar["restartPolicy"] = json!("Always");
    let pod = pod_with(json!({
        "initContainers": [sidecar],
        "containers": [{ "name": "app", "image": "nginx" }]
    }));
    let (settled, _) = settle("Pod", pod, &[T0, T1, T2, T9]);
    let status = &settled["status"];
    assert_eq!(status["phase"], "Running");
    assert_eq!(condition_of(status, "Initialized")["status"], "True");
    assert_eq!(
        condition_of(status, "Ready")["message"],
        "containers with unready status: [proxy]"
    );

    let mut sidecar = crashing("proxy");
    sidecar["restartPolicy"] = json!("Always");
    let pod = pod_with(json!({
        "restartPolicy": "Never",
        "initContainers": [sidecar],
        "containers": [{ "name": "app", "image": "nginx" }]
    }));
    let (settled, _) = settle("Pod", pod, &[T0, T1, T2, T9]);
    assert_eq!(settled["status"]["phase"], "Pending");
    assert_eq!(
        settled["status"]["initContainerStatuses"][0]["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
}

#[test]
fn a_never_ready_container_runs_unready() {
    let pod = pod_with(json!({ "containers": [unready("db")] }));
    let (settled, _) = settle("Pod", pod, &[T0, T1, T2, T9]);
    let status = &settled["status"];
    assert_eq!(status["phase"], "Running");
    let db = &status["containerStatuses"][0];
    assert_eq!(
        (&db["ready"], &db["started"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(db["state"]["running"]["startedAt"], T1);
    assert_eq!(condition_of(status, "ContainersReady")["status"], "False");
}

#[test]
fn termination_messages_keep_the_last_2048_bytes() {
    let long = format!("{}é{}", "x".repeat(3000), "tail");
    let tail = log_tail(&long);
    assert!(tail.len() <= 2048 && tail.ends_with("tail"));
    assert_eq!(log_tail("short"), "short");
}

fn workload(kind: &str, replicas: i64, container: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": { "name": "db", "namespace": "town", "generation": 1 },
        "spec": { "replicas": replicas, "template": { "spec": { "containers": [container] } } }
    })
}

#[test]
fn a_deployment_of_broken_pods_never_becomes_available() {
    for container in [crashing("db"), unready("db")] {
        let (settled, written) = settle(
            "Deployment",
            workload("Deployment", 2, container),
            &[T0, T1, T2],
        );
        assert_eq!(written.len(), 1);
        let status = &settled["status"];
        assert_eq!(
            (&status["replicas"], &status["updatedReplicas"]),
            (&json!(2), &json!(2))
        );
        assert_eq!(status["unavailableReplicas"], 2);
        assert!(status.get("readyReplicas").is_none() && status.get("availableReplicas").is_none());
        let available = condition_of(status, "Available");
        assert_eq!(available["status"], "False");
        assert_eq!(available["reason"], "MinimumReplicasUnavailable");
        assert_eq!(
            available["message"],
            "Deployment does not have minimum availability."
        );
        let progressing = condition_of(status, "Progressing");
        assert_eq!(progressing["reason"], "ReplicaSetUpdated");
        assert!(
            progressing["message"]
                .as_str()
                .unwrap()
                .ends_with("is progressing.")
        );
    }
    // A broken init container is as bad.
    let mut deployment = workload("Deployment", 1, json!({ "name": "app", "image": "nginx" }));
    deployment["spec"]["template"]["spec"]["initContainers"] = json!([crashing("migrate")]);
    let status = next_status("Deployment", &deployment, T0).unwrap();
    assert_eq!(condition_of(&status, "Available")["status"], "False");
}

#[test]
fn a_deployment_that_tolerates_every_pod_unavailable_stays_available() {
    let mut deployment = workload("Deployment", 2, crashing("db"));
    deployment["spec"]["strategy"] = json!({ "rollingUpdate": { "maxUnavailable": "100%" } });
    let status = next_status("Deployment", &deployment, T0).unwrap();
    assert_eq!(condition_of(&status, "Available")["status"], "True");
    assert!(status.get("availableReplicas").is_none());
}

#[test]
fn a_stateful_set_of_broken_pods_stops_at_the_first() {
    let (settled, _) = settle(
        "StatefulSet",
        workload("StatefulSet", 3, crashing("db")),
        &[T0, T1, T2],
    );
    let status = &settled["status"];
    assert_eq!(status["replicas"], 1, "OrderedReady waits for pod 0");
    assert_eq!(status["currentReplicas"], 1);
    assert_eq!(status["availableReplicas"], 0);
    assert!(status.get("readyReplicas").is_none());

    let mut parallel = workload("StatefulSet", 3, unready("db"));
    parallel["spec"]["podManagementPolicy"] = json!("Parallel");
    let status = next_status("StatefulSet", &parallel, T0).unwrap();
    assert_eq!(
        (&status["replicas"], &status["updatedReplicas"]),
        (&json!(3), &json!(3))
    );
    assert!(status.get("readyReplicas").is_none());
}

//! Every rule twice: the broken shape fails as the real program would, and
//! the shape the operator builds runs Ready. Pods go through the
//! simulation's `next_status`, as they would through the server.

mod agent;
mod beads;
mod dolt;

use super::super::next_status;
use super::{Verdict, image_repository, verdict};
use serde_json::{Value, json};

const TIMES: [&str; 4] = [
    "2026-01-01T12:00:00Z",
    "2026-01-01T12:00:01Z",
    "2026-01-01T12:00:02Z",
    "2026-01-01T12:00:09Z",
];

/// A pending pod `p` in namespace `town` with `spec`.
fn pod(spec: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "p", "namespace": "town", "uid": "u-1" },
        "spec": spec,
        "status": { "phase": "Pending" }
    })
}

/// The pod's status once the simulation leaves it alone.
fn settle(mut pod: Value) -> Value {
    for now in TIMES {
        match next_status("Pod", &pod, now) {
            Some(status) => pod["status"] = status,
            None => return pod["status"].clone(),
        }
    }
    panic!("the pod did not settle: {:#}", pod["status"]);
}

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} condition in {status:#}"))
}

fn container_status<'a>(status: &'a Value, name: &str) -> &'a Value {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|field| status[field].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no status for {name} in {status:#}"))
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|field| pod["spec"][field].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn verdict_of(pod: &Value, name: &str) -> Verdict {
    verdict(container(pod, name), &pod["spec"])
}

/// Asserts that container `name` crash-loops, having exited with
/// `exit_code`, and that its termination message (the pods here use
/// `FallbackToLogsOnError`) is `message`. Returns the pod's status.
#[track_caller]
fn assert_crash_loops(pod: Value, name: &str, exit_code: i32, message: &str) -> Value {
    assert_eq!(
        verdict_of(&pod, name),
        Verdict::Crashes {
            exit_code,
            message: message.to_owned()
        }
    );
    let status = settle(pod);
    assert_eq!(status["phase"], "Running", "{status:#}");
    assert_eq!(condition(&status, "Ready")["status"], "False");
    let container = container_status(&status, name);
    assert_eq!(container["ready"], false);
    assert_eq!(container["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(container["restartCount"], 1);
    let terminated = &container["lastState"]["terminated"];
    assert_eq!(terminated["exitCode"], exit_code);
    if exit_code == 0 {
        assert_eq!(terminated["reason"], "Completed");
        assert!(terminated.get("message").is_none(), "no message on exit 0");
    } else {
        assert_eq!(terminated["reason"], "Error");
        assert_eq!(terminated["message"], message);
    }
    status
}

/// Asserts that container `name` runs but never becomes ready, for a reason
/// mentioning `why`.
#[track_caller]
fn assert_never_ready(pod: Value, name: &str, why: &str) -> Value {
    match verdict_of(&pod, name) {
        Verdict::NeverReady { reason } => {
            assert!(reason.contains(why), "{reason:?} does not mention {why:?}")
        }
        other => panic!("{name} should never be ready, but {other:?}"),
    }
    let status = settle(pod);
    assert_eq!(status["phase"], "Running");
    let container = container_status(&status, name);
    assert!(container["state"]["running"].is_object());
    assert_eq!(container["ready"], false);
    let ready = condition(&status, "Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ContainersNotReady");
    assert!(
        ready["message"].as_str().unwrap().contains(name),
        "{ready:#}"
    );
    status
}

/// Asserts that every container runs and the pod becomes Ready.
#[track_caller]
fn assert_runs_ready(pod: Value) -> Value {
    for field in ["initContainers", "containers"] {
        for c in pod["spec"][field].as_array().into_iter().flatten() {
            assert_eq!(verdict(c, &pod["spec"]), Verdict::Runs, "{}", c["name"]);
        }
    }
    let status = settle(pod);
    assert_eq!(status["phase"], "Running", "{status:#}");
    assert_eq!(condition(&status, "Ready")["status"], "True", "{status:#}");
    status
}

#[test]
fn image_repositories_drop_registry_tag_and_digest() {
    for (image, repository) in [
        ("dolthub/dolt-sql-server:1.81.6", "dolthub/dolt-sql-server"),
        (
            "docker.io/dolthub/dolt-sql-server",
            "dolthub/dolt-sql-server",
        ),
        (
            "registry.local:5000/dolthub/dolt-sql-server@sha256:abc",
            "dolthub/dolt-sql-server",
        ),
        ("ghcr.io/groblegark/beads:0.62.5", "groblegark/beads"),
        (
            "ghcr.io/groblegark/gastown/gastown-agent:latest",
            "groblegark/gastown/gastown-agent",
        ),
        ("localhost/beads", "beads"),
        ("nginx:1", "nginx"),
    ] {
        assert_eq!(image_repository(image), repository, "{image}");
    }
}

#[test]
fn unknown_images_run_whatever_their_spec() {
    let spec = json!({
        "securityContext": { "runAsUser": 4242 },
        "containers": [{
            "name": "web", "image": "nginx:1",
            "readinessProbe": { "tcpSocket": { "port": 1 } }
        }]
    });
    assert_eq!(verdict(&spec["containers"][0], &spec), Verdict::Runs);
    // Look-alike names are not the families.
    for image in [
        "dolthub/dolt:1.81.6",
        "beads:1",
        "ghcr.io/acme/beads-ui:1",
        "ghcr.io/acme/gastown-agent-tools-x:1",
    ] {
        let spec =
            json!({ "containers": [{ "name": "c", "image": image, "args": ["--tcp-addr=:1"] }] });
        assert_eq!(
            verdict(&spec["containers"][0], &spec),
            Verdict::Runs,
            "{image}"
        );
    }
}

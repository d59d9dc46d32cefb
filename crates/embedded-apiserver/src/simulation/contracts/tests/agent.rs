//! The Gas Town agent image (G1, G4, G5).

use super::*;

/// The agent pod the operator builds, with its optional clone step.
fn agent_pod() -> Value {
    let image = "ghcr.io/groblegark/gastown/gastown-agent:latest";
    let mounts = json!([
        { "name": "workspace", "mountPath": "/home/agent/gt" },
        { "name": "tmp", "mountPath": "/tmp" }
    ]);
    pod(json!({
        "restartPolicy": "Always",
        "securityContext": { "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "runAsNonRoot": true },
        "initContainers": [{
            "name": "git-clone",
            "image": image,
            "command": ["/bin/sh", "-c", "git clone https://github.com/acme/app /home/agent/gt/app/work"],
            "volumeMounts": mounts
        }],
        "containers": [{
            "name": "agent",
            "image": image,
            "env": [{ "name": "HOME", "value": "/home/agent" }, { "name": "GT_ROLE", "value": "crew" }],
            "volumeMounts": mounts,
            "terminationMessagePolicy": "FallbackToLogsOnError"
        }],
        "volumes": [
            { "name": "workspace", "persistentVolumeClaim": { "claimName": "gt-app-crew-a-workspace" } },
            { "name": "tmp", "emptyDir": {} }
        ]
    }))
}

#[test]
fn the_operators_agent_runs_ready() {
    let status = assert_runs_ready(agent_pod());
    let clone = container_status(&status, "git-clone");
    assert_eq!(clone["state"]["terminated"]["reason"], "Completed");
}

#[test]
fn another_uid_cannot_write_the_agents_home() {
    // G1/G5: the home is uid 1000's; G4 starts with `git config --global`.
    let mut pod = agent_pod();
    pod["spec"]["securityContext"]["runAsUser"] = json!(1001);
    assert_crash_loops(
        pod,
        "agent",
        255,
        "error: could not lock config file /home/agent/.gitconfig: Permission denied",
    );
    // The container's own securityContext wins over the pod's.
    let mut pod = agent_pod();
    pod["spec"]["containers"][0]["securityContext"] = json!({ "runAsUser": 2000 });
    assert!(matches!(
        verdict_of(&pod, "agent"),
        Verdict::Crashes { exit_code: 255, .. }
    ));
}

#[test]
fn the_agent_does_not_run_as_root() {
    let mut pod = agent_pod();
    pod["spec"]["securityContext"] = json!({ "runAsUser": 0 });
    assert_crash_loops(
        pod,
        "agent",
        1,
        "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n\
         [entrypoint] Max restarts (10) reached, exiting",
    );
}

#[test]
fn the_workspace_must_be_writable() {
    let mut pod = agent_pod();
    pod["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = json!(true);
    assert_crash_loops(
        pod,
        "agent",
        1,
        "/home/agent/gt/.git: Read-only file system",
    );

    // A claim stays root-owned without fsGroup.
    let mut pod = agent_pod();
    pod["spec"]["securityContext"]
        .as_object_mut()
        .unwrap()
        .remove("fsGroup");
    assert_crash_loops(pod, "agent", 1, "/home/agent/gt/.git: Permission denied");
}

#[test]
fn a_read_only_root_filesystem_needs_volumes_for_home_and_workspace() {
    let mut pod = agent_pod();
    pod["spec"]["containers"][0]["securityContext"] = json!({ "readOnlyRootFilesystem": true });
    assert_crash_loops(
        pod.clone(),
        "agent",
        255,
        "error: could not lock config file /home/agent/.gitconfig: Read-only file system",
    );
    pod["spec"]["containers"][0]["volumeMounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "tmp", "mountPath": "/home/agent" }));
    assert_runs_ready(pod);
}

#[test]
fn without_a_workspace_volume_the_images_own_directory_is_used() {
    // G5: the image ships /home/agent/gt owned by uid 1000, so the
    // entrypoint works on the container's own layer (state is lost on
    // restart, which is not a failure the kubelet can see).
    let mut pod = agent_pod();
    pod["spec"]["containers"][0]["volumeMounts"] = json!([{ "name": "tmp", "mountPath": "/tmp" }]);
    assert_runs_ready(pod);
}

#[test]
fn a_container_with_a_command_bypasses_the_entrypoint() {
    let mut pod = agent_pod();
    pod["spec"]["securityContext"] = json!({ "runAsUser": 0 });
    assert_eq!(verdict_of(&pod, "git-clone"), Verdict::Runs);
}

//! `dolthub/dolt-sql-server` (D1..D4).

use super::*;

const DUPLICATE_CONFIG: &str = "error: multiple values provided for `config'";

/// The shape the operator builds: entrypoint bypassed, non-root with a
/// writable home, config from a read-only ConfigMap, TCP probes on `mysql`.
fn operator_pod() -> Value {
    pod(json!({
        "securityContext": { "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "runAsNonRoot": true },
        "containers": [{
            "name": "dolt",
            "image": "dolthub/dolt-sql-server:1.81.6",
            "command": ["dolt", "sql-server", "--config=/etc/dolt/servercfg.d/config.yaml"],
            "env": [{ "name": "HOME", "value": "/home/dolt" }],
            "ports": [{ "name": "mysql", "containerPort": 3306 }],
            "volumeMounts": [
                { "name": "data", "mountPath": "/var/lib/dolt" },
                { "name": "config", "mountPath": "/etc/dolt/servercfg.d", "readOnly": true },
                { "name": "home", "mountPath": "/home/dolt" }
            ],
            "readinessProbe": { "tcpSocket": { "port": "mysql" } },
            "livenessProbe": { "tcpSocket": { "port": "mysql" } },
            "terminationMessagePolicy": "FallbackToLogsOnError"
        }],
        "volumes": [
            { "name": "data", "persistentVolumeClaim": { "claimName": "data-dolt-0" } },
            { "name": "config", "configMap": { "name": "dolt-config" } },
            { "name": "home", "emptyDir": {} }
        ]
    }))
}

/// The operator's pod with the image's entrypoint kept and `args` for it.
fn entrypoint_pod(args: Value) -> Value {
    let mut pod = operator_pod();
    let dolt = &mut pod["spec"]["containers"][0];
    dolt.as_object_mut().unwrap().remove("command");
    dolt["args"] = args;
    pod
}

fn without_mount(mut pod: Value, path: &str) -> Value {
    let mounts = pod["spec"]["containers"][0]["volumeMounts"]
        .as_array_mut()
        .unwrap();
    mounts.retain(|m| m["mountPath"] != path);
    pod
}

fn gave_up(error: &str) -> String {
    format!(
        "{error}\n\
         [Error] [Entrypoint] Dolt server failed to start within 300 seconds\n\
         [Note] [Entrypoint] Remove this container with 'docker rm -f <container_name>' before retrying"
    )
}

#[test]
fn the_operators_dolt_runs_ready() {
    let status = assert_runs_ready(operator_pod());
    assert_eq!(container_status(&status, "dolt")["ready"], true);
}

#[test]
fn a_second_config_for_the_entrypoint_crash_loops_with_dolts_parse_error() {
    // D1: the entrypoint already appends --config=<the one yaml> from the
    // mounted /etc/dolt/servercfg.d.
    let pod = entrypoint_pod(json!(["--config=/etc/dolt/servercfg.d/config.yaml"]));
    assert_crash_loops(pod, "dolt", 1, &gave_up(DUPLICATE_CONFIG));
}

#[test]
fn the_entrypoint_with_the_mounted_config_alone_runs_ready() {
    assert_runs_ready(entrypoint_pod(json!([])));
    // A --config of its own is fine when nothing is mounted there.
    let pod = without_mount(
        entrypoint_pod(json!(["--config=/var/lib/dolt/config.yaml"])),
        "/etc/dolt/servercfg.d",
    );
    assert_runs_ready(pod);
}

#[test]
fn two_yaml_files_in_the_config_volume_mean_no_config_from_the_entrypoint() {
    let mut pod = entrypoint_pod(json!(["--config=/var/lib/dolt/config.yaml"]));
    pod["spec"]["volumes"][1]["configMap"]["items"] = json!([
        { "key": "a", "path": "a.yaml" }, { "key": "b", "path": "b.yaml" }
    ]);
    assert_runs_ready(pod);
}

#[test]
fn a_port_for_the_entrypoint_clashes_with_its_own() {
    // D1: the entrypoint always passes --host=0.0.0.0 --port=3306.
    let pod = entrypoint_pod(json!(["-P3307"]));
    assert_crash_loops(
        pod,
        "dolt",
        1,
        &gave_up("error: multiple values provided for `port'"),
    );
}

#[test]
fn a_repeated_flag_in_the_command_fails_at_once() {
    let mut pod = operator_pod();
    pod["spec"]["containers"][0]["args"] = json!(["--config", "/var/lib/dolt/other.yaml"]);
    assert_crash_loops(pod, "dolt", 1, DUPLICATE_CONFIG);
}

#[test]
fn non_root_without_a_writable_home_cannot_write_the_global_config() {
    // D4: <home>/.dolt/config_global.json; /home is the image's, root-owned.
    let pod = without_mount(operator_pod(), "/home/dolt");
    assert_crash_loops(
        pod,
        "dolt",
        1,
        "Failed to load the global config: mkdir /home/dolt: permission denied",
    );
}

#[test]
fn non_root_without_home_gets_slash_and_fails() {
    let mut pod = without_mount(operator_pod(), "/home/dolt");
    pod["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("env");
    assert_crash_loops(
        pod,
        "dolt",
        1,
        "Failed to load the global config: mkdir /.dolt: permission denied",
    );
}

#[test]
fn a_read_only_home_fails_with_erofs() {
    let mut pod = operator_pod();
    pod["spec"]["containers"][0]["volumeMounts"][2]["readOnly"] = json!(true);
    assert_crash_loops(
        pod,
        "dolt",
        1,
        "Failed to load the global config: mkdir /home/dolt/.dolt: read-only file system",
    );
}

#[test]
fn dolt_root_path_with_the_stock_entrypoint_points_at_slash_dolt() {
    // D1: the script's DOLT_ROOT_PATH="/.dolt" overrides an exported one, so
    // the writable home does not help.
    let mut pod = entrypoint_pod(json!([]));
    pod["spec"]["containers"][0]["env"] = json!([
        { "name": "HOME", "value": "/home/dolt" },
        { "name": "DOLT_ROOT_PATH", "value": "/home/dolt" }
    ]);
    assert_crash_loops(
        pod,
        "dolt",
        1,
        "Failed to load the global config: mkdir /.dolt: permission denied",
    );
}

#[test]
fn dolt_root_path_on_a_writable_volume_works_with_the_entrypoint_bypassed() {
    // B3: the beads chart's pattern, HOME=DOLT_ROOT_PATH=/var/lib/dolt.
    let mut pod = without_mount(operator_pod(), "/home/dolt");
    pod["spec"]["containers"][0]["env"] = json!([
        { "name": "HOME", "value": "/var/lib/dolt" },
        { "name": "DOLT_ROOT_PATH", "value": "/var/lib/dolt" }
    ]);
    assert_runs_ready(pod);
}

#[test]
fn as_root_the_image_needs_no_home_volume() {
    // D2: no USER, so root, and /root is writable.
    let mut pod = without_mount(entrypoint_pod(json!([])), "/home/dolt");
    pod["spec"]
        .as_object_mut()
        .unwrap()
        .remove("securityContext");
    pod["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("env");
    assert_runs_ready(pod);
}

#[test]
fn probes_must_hit_the_mysql_port_over_tcp() {
    let mut wrong_port = operator_pod();
    wrong_port["spec"]["containers"][0]["readinessProbe"] =
        json!({ "tcpSocket": { "port": 3307 } });
    assert_never_ready(wrong_port, "dolt", "nothing listens on port 3307");

    let mut http = operator_pod();
    http["spec"]["containers"][0]["readinessProbe"] =
        json!({ "httpGet": { "path": "/", "port": "mysql" } });
    assert_never_ready(http, "dolt", "does not speak HTTP");

    let mut unnamed = operator_pod();
    unnamed["spec"]["containers"][0]["livenessProbe"] = json!({ "tcpSocket": { "port": "sql" } });
    assert_never_ready(unnamed, "dolt", "no port named \"sql\"");
}

#[test]
fn without_config_or_host_the_server_listens_on_localhost_only() {
    // D3: servercfg.DefaultHost is "localhost".
    let mut pod = operator_pod();
    pod["spec"]["containers"][0]["command"] = json!(["dolt", "sql-server"]);
    assert_never_ready(pod, "dolt", "loopback only");

    let mut pod = operator_pod();
    pod["spec"]["containers"][0]["command"] =
        json!(["dolt", "sql-server", "--host", "0.0.0.0", "--port=3306"]);
    assert_runs_ready(pod);
}

#[test]
fn with_restart_policy_never_the_pod_fails() {
    let mut pod = without_mount(operator_pod(), "/home/dolt");
    pod["spec"]["restartPolicy"] = json!("Never");
    let status = settle(pod);
    assert_eq!(status["phase"], "Failed");
    let terminated = &container_status(&status, "dolt")["state"]["terminated"];
    assert_eq!(terminated["exitCode"], 1);
    assert_eq!(terminated["reason"], "Error");
    assert_eq!(
        terminated["message"],
        "Failed to load the global config: mkdir /home/dolt: permission denied"
    );
}

#[test]
fn the_message_needs_fallback_to_logs_on_error() {
    // Default `File` policy: the program writes no /dev/termination-log.
    let mut pod = without_mount(operator_pod(), "/home/dolt");
    pod["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("terminationMessagePolicy");
    let status = settle(pod);
    let terminated = &container_status(&status, "dolt")["lastState"]["terminated"];
    assert_eq!(terminated["exitCode"], 1);
    assert!(terminated.get("message").is_none(), "{terminated:#}");
}

#[test]
fn a_dolt_init_container_needs_the_home_too() {
    // The beads chart's init container runs `dolt init`: any dolt command
    // writes the global config first.
    let mut pod = operator_pod();
    let mut init = pod["spec"]["containers"][0].clone();
    init["name"] = json!("init");
    init["command"] = json!(["dolt", "init", "--name", "x", "--email", "x@y"]);
    init["volumeMounts"] = json!([{ "name": "data", "mountPath": "/var/lib/dolt" }]);
    pod["spec"]["initContainers"] = json!([init]);
    let status = settle(pod.clone());
    assert_eq!(status["phase"], "Pending");
    let init_status = container_status(&status, "init");
    assert_eq!(
        init_status["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
    assert_eq!(
        init_status["lastState"]["terminated"]["message"],
        "Failed to load the global config: mkdir /home/dolt: permission denied"
    );

    pod["spec"]["initContainers"][0]["volumeMounts"] =
        pod["spec"]["containers"][0]["volumeMounts"].clone();
    assert_runs_ready(pod);
}

/// A backup Job's container as the operator builds it: a shell script that
/// runs `dolt` as a client of the server.
fn backup_script_pod(home_mounted: bool) -> Value {
    let mut pod = pod(json!({
        "securityContext": { "runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": true },
        "restartPolicy": "Never",
        "containers": [{
            "name": "backup",
            "image": "dolthub/dolt-sql-server:1.81.6",
            "command": ["/bin/sh", "-c", "set -eu\nremote() { dolt --host \"$DOLT_HOST\" sql -q 'SHOW DATABASES'; }\nremote"],
            "env": [{ "name": "HOME", "value": "/home/dolt" }],
            "volumeMounts": [{ "name": "home", "mountPath": "/home/dolt" }],
            "terminationMessagePolicy": "FallbackToLogsOnError"
        }],
        "volumes": [{ "name": "home", "emptyDir": {} }]
    }));
    if !home_mounted {
        pod = without_mount(pod, "/home/dolt");
    }
    pod
}

#[test]
fn a_script_that_runs_dolt_needs_the_writable_home_too() {
    // D4: every `dolt` run loads its global config, from a script as well.
    assert_eq!(
        verdict_of(&backup_script_pod(true), "backup"),
        Verdict::Runs
    );
    assert_eq!(
        verdict_of(&backup_script_pod(false), "backup"),
        Verdict::Crashes {
            exit_code: 1,
            message: "Failed to load the global config: mkdir /home/dolt: permission denied".into()
        }
    );
    // A script that never runs dolt is not dolt's to judge.
    let mut other = backup_script_pod(false);
    other["spec"]["containers"][0]["command"] = json!(["/bin/sh", "-c", "echo doltish"]);
    assert_eq!(verdict_of(&other, "backup"), Verdict::Runs);
}

//! The beads image: `bd daemon start` (B1..B7) and `bd serve` (S1..S3).

use super::*;

/// The daemon the operator builds.
fn daemon_pod() -> Value {
    pod(json!({
        "securityContext": { "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "runAsNonRoot": true },
        "containers": [{
            "name": "daemon",
            "image": "ghcr.io/groblegark/beads:0.62.5",
            "command": ["bd", "daemon", "start", "--foreground", "--local", "--log-json", "--http-addr=:9080"],
            "env": [
                { "name": "BEADS_DOLT_SERVER_MODE", "value": "1" },
                { "name": "BEADS_DIR", "value": "/home/beads/.beads" },
                { "name": "HOME", "value": "/home/beads" },
                { "name": "BEADS_DOLT_SERVER_HOST", "value": "town-dolt" },
                { "name": "BEADS_DOLT_SERVER_PORT", "value": "3306" },
                { "name": "BEADS_DOLT_SERVER_USER", "value": "root" },
                { "name": "BEADS_DOLT_PASSWORD", "valueFrom": { "secretKeyRef": { "name": "town-dolt", "key": "password" } } },
                { "name": "BD_DAEMON_TOKEN", "valueFrom": { "secretKeyRef": { "name": "town-daemon", "key": "token" } } }
            ],
            "ports": [{ "name": "http", "containerPort": 9080 }],
            "volumeMounts": [
                { "name": "home", "mountPath": "/home/beads" },
                { "name": "beads-data", "mountPath": "/home/beads/.beads" }
            ],
            "startupProbe": { "httpGet": { "path": "/healthz", "port": "http" } },
            "readinessProbe": { "httpGet": { "path": "/readyz", "port": "http" } },
            "livenessProbe": { "tcpSocket": { "port": "http" } },
            "terminationMessagePolicy": "FallbackToLogsOnError"
        }],
        "volumes": [
            { "name": "home", "emptyDir": {} },
            { "name": "beads-data", "emptyDir": {} }
        ]
    }))
}

fn with_command(mut pod: Value, command: Value) -> Value {
    pod["spec"]["containers"][0]["command"] = command;
    pod
}

fn with_env(mut pod: Value, name: &str, value: Value) -> Value {
    let env = pod["spec"]["containers"][0]["env"].as_array_mut().unwrap();
    env.retain(|e| e["name"] != name);
    if !value.is_null() {
        env.push(json!({ "name": name, "value": value }));
    }
    pod
}

/// The `bd serve` the operator builds.
fn serve_pod() -> Value {
    pod(json!({
        "securityContext": { "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "runAsNonRoot": true },
        "containers": [{
            "name": "serve",
            "image": "ghcr.io/gastownhall/beads:1.3.0",
            "command": ["bd", "serve", "--addr", "0.0.0.0:9080", "--allow-non-loopback", "--auth-token-file", "/etc/beads/token/token"],
            "ports": [{ "name": "http", "containerPort": 9080 }],
            "volumeMounts": [{ "name": "token", "mountPath": "/etc/beads/token", "readOnly": true }],
            "readinessProbe": { "httpGet": {
                "path": "/v0/beads/ready?limit=1", "port": 9080,
                "httpHeaders": [{ "name": "Authorization", "value": "Bearer probe-token" }]
            } },
            "livenessProbe": { "httpGet": { "path": "/healthz", "port": 9080 } },
            "terminationMessagePolicy": "FallbackToLogsOnError"
        }],
        "volumes": [{ "name": "token", "secret": { "secretName": "town-serve-token" } }]
    }))
}

fn serve_with(flags: &[&str]) -> Value {
    let mut command = vec!["bd", "serve"];
    command.extend(flags);
    with_command(serve_pod(), json!(command))
}

// ------------------------------------------------------------ bd daemon

#[test]
fn the_operators_daemon_runs_ready() {
    assert_runs_ready(daemon_pod());
}

#[test]
fn the_images_default_command_names_the_removed_tcp_flag() {
    // B7: CMD `daemon start --foreground --tcp-addr=:9876 …`; B4: no such flag.
    let mut pod = daemon_pod();
    pod["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("command");
    assert_crash_loops(pod, "daemon", 1, "Error: unknown flag: --tcp-addr");
}

#[test]
fn any_tcp_addr_is_an_unknown_flag() {
    let mut pod = daemon_pod();
    pod["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("command");
    pod["spec"]["containers"][0]["args"] = json!([
        "daemon",
        "start",
        "--foreground",
        "--local",
        "--tcp-addr",
        ":9876"
    ]);
    assert_crash_loops(pod, "daemon", 1, "Error: unknown flag: --tcp-addr");
    // Args without a command run under the image's `bd` entrypoint.
    let mut pod = daemon_pod();
    pod["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("command");
    pod["spec"]["containers"][0]["args"] = json!([
        "daemon",
        "start",
        "--foreground",
        "--local",
        "--http-addr=:9080"
    ]);
    assert_runs_ready(pod);
}

#[test]
fn without_local_the_daemon_wants_a_git_repository() {
    let pod = with_command(
        daemon_pod(),
        json!(["bd", "daemon", "start", "--foreground", "--http-addr=:9080"]),
    );
    assert_crash_loops(
        pod,
        "daemon",
        1,
        "Error: not in a git repository\n\
         Hint: run 'git init' to initialize a repository, or use --local for local-only mode",
    );
}

#[test]
fn local_rules_out_auto_commit() {
    let pod = with_command(
        daemon_pod(),
        json!([
            "bd",
            "daemon",
            "start",
            "--foreground",
            "--local",
            "--auto-commit"
        ]),
    );
    assert_crash_loops(
        pod,
        "daemon",
        1,
        "Error: --auto-commit cannot be used with --local mode\n\
         Hint: --local mode runs without git, so commits are not possible",
    );
}

#[test]
fn without_foreground_the_command_forks_and_exits_zero() {
    let pod = with_command(
        daemon_pod(),
        json!(["bd", "daemon", "start", "--local", "--http-addr=:9080"]),
    );
    let status = assert_crash_loops(
        pod,
        "daemon",
        0,
        "Starting bd daemon in LOCAL mode (interval: 5s, no git sync)\n\
         HTTP address: :9080 (Connect-RPC style API)\n\
         Daemon started (PID <pid>)",
    );
    let terminated = &container_status(&status, "daemon")["lastState"]["terminated"];
    assert_eq!(terminated["reason"], "Completed");
}

#[test]
fn server_mode_needs_beads_dir() {
    let pod = with_env(daemon_pod(), "BEADS_DIR", Value::Null);
    assert_crash_loops(
        pod,
        "daemon",
        1,
        "Error: BEADS_DOLT_SERVER_MODE=1 requires BEADS_DIR to be set",
    );
}

#[test]
fn server_mode_needs_a_beads_dir_it_can_create() {
    // B2: a read-only root filesystem and no volume for the beads dir.
    let mut pod = daemon_pod();
    let daemon = &mut pod["spec"]["containers"][0];
    daemon["securityContext"] = json!({ "readOnlyRootFilesystem": true });
    daemon["volumeMounts"] = json!([]);
    assert_crash_loops(
        pod,
        "daemon",
        1,
        "Error: cannot create beads directory: mkdir /home/beads/.beads: read-only file system",
    );
}

#[test]
fn a_daemon_given_client_env_refuses_to_start() {
    let pod = with_env(daemon_pod(), "BD_DAEMON_HOST", json!("town-daemon"));
    assert_crash_loops(
        pod,
        "daemon",
        1,
        "Error: BD_DAEMON_HOST is set (town-daemon)\n\
         Cannot start a local daemon when configured for remote daemon.\n\
         Hint: Use 'bd daemon status' to check the remote daemon, or unset BD_DAEMON_HOST to use a local daemon.",
    );
    let pod = with_env(
        daemon_pod(),
        "BD_DAEMON_HTTP_URL",
        json!("http://town-daemon:9080"),
    );
    assert_crash_loops(
        pod,
        "daemon",
        1,
        "Error: BD_DAEMON_HTTP_URL is set (http://town-daemon:9080)\n\
         Cannot start a local daemon when configured for remote daemon.",
    );
    // An empty value is unset for Go's os.Getenv checks.
    assert_runs_ready(with_env(daemon_pod(), "BD_DAEMON_HOST", json!("")));
}

#[test]
fn nothing_listens_on_the_old_rpc_port() {
    // B7: the chart's fallback probes on 9876 hit nothing since Feb 2026.
    let mut pod = daemon_pod();
    pod["spec"]["containers"][0]["readinessProbe"] = json!({ "tcpSocket": { "port": 9876 } });
    assert_never_ready(pod, "daemon", "nothing listens on port 9876");
}

#[test]
fn the_daemon_serves_only_its_health_paths() {
    let mut pod = daemon_pod();
    pod["spec"]["containers"][0]["readinessProbe"] =
        json!({ "httpGet": { "path": "/ready", "port": "http" } });
    assert_never_ready(pod, "daemon", "GET /ready on port 9080 answers 404");

    let mut pod = daemon_pod();
    pod["spec"]["containers"][0]["livenessProbe"] =
        json!({ "httpGet": { "path": "/livez", "port": "http" } });
    assert_runs_ready(pod);
}

#[test]
fn the_probe_port_follows_http_addr() {
    let pod = with_command(
        daemon_pod(),
        json!([
            "bd",
            "daemon",
            "start",
            "--foreground",
            "--local",
            "--http-addr",
            ":9081"
        ]),
    );
    assert_never_ready(pod, "daemon", "nothing listens on port 9080");
    // Without --http-addr the daemon's default is :9080.
    let pod = with_command(
        daemon_pod(),
        json!(["bd", "daemon", "start", "--foreground", "--local"]),
    );
    assert_runs_ready(pod);
}

// ------------------------------------------------------------- bd serve

#[test]
fn the_operators_serve_runs_ready() {
    assert_runs_ready(serve_pod());
}

#[test]
fn serve_without_addr_binds_an_ephemeral_loopback_port() {
    // S1: default 127.0.0.1:0.
    let pod = serve_with(&[]);
    assert_never_ready(pod, "serve", "nothing listens on port 9080");
}

#[test]
fn serve_on_loopback_is_out_of_the_kubelets_reach() {
    let pod = serve_with(&["--addr", "127.0.0.1:9080"]);
    assert_never_ready(pod, "serve", "loopback only");
}

#[test]
fn serve_beyond_loopback_needs_allow_non_loopback() {
    let pod = serve_with(&[
        "--addr",
        "0.0.0.0:9080",
        "--auth-token-file",
        "/etc/beads/token/token",
    ]);
    assert_crash_loops(
        pod,
        "serve",
        1,
        "Error: --addr \"0.0.0.0:9080\" binds beyond loopback, which requires --allow-non-loopback (and, with it, --auth-token-file)",
    );
}

#[test]
fn serve_beyond_loopback_needs_a_token_or_an_explicit_waiver() {
    let pod = serve_with(&["--addr", "0.0.0.0:9080", "--allow-non-loopback"]);
    assert_crash_loops(
        pod,
        "serve",
        1,
        "Error: --allow-non-loopback requires --auth-token-file (or the explicit --insecure-no-auth): every peer that can reach the address gets full read and claim access",
    );

    // The waiver: no token, so the readiness probe needs no header.
    let mut pod = serve_with(&[
        "--addr",
        "0.0.0.0:9080",
        "--allow-non-loopback",
        "--insecure-no-auth",
    ]);
    pod["spec"]["containers"][0]["readinessProbe"]["httpGet"]
        .as_object_mut()
        .unwrap()
        .remove("httpHeaders");
    assert_runs_ready(pod);

    // The token file named by the environment instead of the flag.
    let mut pod = serve_with(&["--addr", "0.0.0.0:9080", "--allow-non-loopback"]);
    pod["spec"]["containers"][0]["env"] =
        json!([{ "name": "BEADS_SERVE_TOKEN_FILE", "value": "/etc/beads/token/token" }]);
    assert_runs_ready(pod);
}

#[test]
fn the_waiver_and_a_token_contradict_each_other() {
    let pod = serve_with(&[
        "--addr",
        "0.0.0.0:9080",
        "--allow-non-loopback",
        "--insecure-no-auth",
        "--auth-token-file",
        "/etc/beads/token/token",
    ]);
    assert_crash_loops(
        pod,
        "serve",
        1,
        "Error: --insecure-no-auth contradicts --auth-token-file; pass one or the other",
    );
}

#[test]
fn serve_wants_a_numeric_host() {
    let pod = serve_with(&["--addr", "localhost:9080"]);
    assert_crash_loops(
        pod,
        "serve",
        1,
        "Error: --addr \"localhost:9080\": host must be a numeric IP literal, not a name — use 127.0.0.1 rather than localhost",
    );
    let pod = serve_with(&["--addr", "9080"]);
    assert_crash_loops(
        pod,
        "serve",
        1,
        "Error: --addr \"9080\" must be HOST:PORT with a numeric IP literal host (unix sockets are not supported): address 9080: missing port in address",
    );
}

#[test]
fn the_token_file_has_to_be_mounted() {
    let mut pod = serve_pod();
    pod["spec"]["containers"][0]["volumeMounts"] = json!([]);
    assert_crash_loops(
        pod,
        "serve",
        1,
        "Error: --auth-token-file: token file /etc/beads/token/token: open /etc/beads/token/token: no such file or directory",
    );
}

#[test]
fn serve_has_no_auth_token_flag() {
    let pod = serve_with(&[
        "--addr",
        "0.0.0.0:9080",
        "--allow-non-loopback",
        "--auth-token=s3cret",
    ]);
    assert_crash_loops(pod, "serve", 1, "Error: unknown flag: --auth-token");
}

#[test]
fn with_auth_on_readiness_needs_the_bearer_header() {
    // S1/S2: every route but /healthz needs the token, readiness included.
    let mut pod = serve_pod();
    pod["spec"]["containers"][0]["readinessProbe"]["httpGet"]
        .as_object_mut()
        .unwrap()
        .remove("httpHeaders");
    assert_never_ready(pod, "serve", "answers 401");
}

#[test]
fn serve_routes_only_its_paths() {
    let mut pod = serve_pod();
    pod["spec"]["containers"][0]["livenessProbe"] =
        json!({ "httpGet": { "path": "/readyz", "port": 9080 } });
    assert_never_ready(pod, "serve", "GET /readyz on port 9080 answers 404");
}

#[test]
fn a_daemon_left_to_beads_default_dolt_address_is_never_ready() {
    // B6: defaults 127.0.0.1:3307; Dolt listens on 3306 in its own pod (D1).
    let no_port = with_env(daemon_pod(), "BEADS_DOLT_SERVER_PORT", Value::Null);
    assert_never_ready(no_port, "daemon", "3307");
    let no_host = with_env(daemon_pod(), "BEADS_DOLT_SERVER_HOST", Value::Null);
    assert_never_ready(no_host, "daemon", "127.0.0.1");
}

//! The town's infrastructure builders, checked against the images' contracts.

use super::*;
use gastown_api::SecretKeyRef;
use gastown_api::gastown::{BeadsProtocol, DaemonSpec, DoltSpec, RpcServerSpec};
use k8s_openapi::api::core::v1::Container;

/// The town every builder test builds for (the backup tests share it).
pub(super) fn town() -> TownRef {
    TownRef {
        name: "prod".into(),
        namespace: "gastown".into(),
        owner: OwnerReference {
            api_version: "gastown.io/v1alpha1".into(),
            kind: "GasTown".into(),
            name: "prod".into(),
            uid: "uid-1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        },
    }
}

fn dolt(retain: Option<bool>) -> DoltSpec {
    serde_json::from_value(serde_json::json!({
        "image": "dolthub/dolt-sql-server:1.81.6",
        "persistence": {"size": "20Gi", "retainOnDelete": retain},
        "config": {"log_level": "debug", "listener": {"max_connections": 64}}
    }))
    .unwrap()
}

#[test]
fn dolt_keeps_its_data_unless_told_otherwise() {
    let kept = dolt_statefulset(&town(), &dolt(None), None);
    let policy = kept
        .spec
        .as_ref()
        .unwrap()
        .persistent_volume_claim_retention_policy
        .as_ref()
        .unwrap();
    assert_eq!(policy.when_deleted.as_deref(), Some("Retain"));
    let dropped = dolt_statefulset(&town(), &dolt(Some(false)), None);
    let policy = dropped
        .spec
        .as_ref()
        .unwrap()
        .persistent_volume_claim_retention_policy
        .as_ref()
        .unwrap();
    assert_eq!(policy.when_deleted.as_deref(), Some("Delete"));
    let claim = &kept
        .spec
        .as_ref()
        .unwrap()
        .volume_claim_templates
        .as_ref()
        .unwrap()[0];
    assert_eq!(
        claim
            .spec
            .as_ref()
            .unwrap()
            .resources
            .as_ref()
            .unwrap()
            .requests
            .as_ref()
            .unwrap()["storage"]
            .0,
        "20Gi"
    );
}

#[test]
fn workloads_have_no_owner_reference_but_services_do() {
    let sts = dolt_statefulset(&town(), &dolt(None), None);
    assert!(sts.metadata.owner_references.is_none());
    assert!(dolt_service(&town()).metadata.owner_references.is_some());
    let daemon: DaemonSpec = serde_json::from_value(serde_json::json!({"image": "bd:1"})).unwrap();
    assert!(
        bd_daemon_deployment(&town(), &daemon, None)
            .unwrap()
            .metadata
            .owner_references
            .is_none()
    );
    assert!(
        bd_daemon_service(&town(), &daemon)
            .unwrap()
            .metadata
            .owner_references
            .is_some()
    );
}

#[test]
fn dolt_config_keeps_user_keys_and_pins_the_listener() {
    let config = dolt_config(&town(), &dolt(None));
    let yaml: serde_json::Value =
        serde_yaml::from_str(&config.data.unwrap()["config.yaml"]).unwrap();
    assert_eq!(yaml["log_level"], "debug");
    assert_eq!(yaml["listener"]["max_connections"], 64);
    assert_eq!(yaml["listener"]["port"], DOLT_PORT);
}

#[test]
fn dolt_root_is_reachable_from_the_daemon_pod_behind_the_password_secret() {
    /// Name, plain value, and Secret (name, key) of each variable.
    type Var = (String, Option<String>, Option<(String, String)>);
    fn env_of(container: &Container) -> Vec<Var> {
        container
            .env
            .iter()
            .flatten()
            .map(|e| {
                let secret = e
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                    .map(|r| (r.name.clone(), r.key.clone()));
                (e.name.clone(), e.value.clone(), secret)
            })
            .collect()
    }
    let mut dolt = dolt(None);
    let sts = dolt_statefulset(&town(), &dolt, None);
    let env = env_of(&sts.spec.unwrap().template.spec.unwrap().containers[0]);
    assert!(env.contains(&("DOLT_ROOT_HOST".into(), Some("%".into()), None)));
    assert!(!env.iter().any(|(name, ..)| name == "DOLT_ROOT_PASSWORD"));

    dolt.root_password_secret_ref = Some(SecretKeyRef {
        name: "dolt-root".into(),
        key: "password".into(),
    });
    let sts = dolt_statefulset(&town(), &dolt, None);
    let env = env_of(&sts.spec.unwrap().template.spec.unwrap().containers[0]);
    let from_secret = Some(("dolt-root".to_string(), "password".to_string()));
    assert!(env.contains(&("DOLT_ROOT_PASSWORD".into(), None, from_secret.clone())));

    let daemon: DaemonSpec = serde_json::from_value(serde_json::json!({"image": "bd:1"})).unwrap();
    let deployment = bd_daemon_deployment(&town(), &daemon, Some(&dolt)).unwrap();
    let env = env_of(&deployment.spec.unwrap().template.spec.unwrap().containers[0]);
    assert!(env.contains(&("BEADS_DOLT_SERVER_USER".into(), Some("root".into()), None)));
    // The variable beads reads (B1).
    assert!(env.contains(&("BEADS_DOLT_PASSWORD".into(), None, from_secret)));
    assert!(
        !env.iter()
            .any(|(name, ..)| name == "BEADS_DOLT_SERVER_PASS")
    );
}

#[test]
fn only_the_daemon_reaches_dolt() {
    let policy = dolt_network_policy(&town(), BeadsProtocol::Daemon, false);
    assert_eq!(policy.metadata.name.as_deref(), Some("prod-dolt"));
    assert!(
        policy.metadata.owner_references.is_some(),
        "removed with the town"
    );
    let spec = policy.spec.unwrap();
    assert_eq!(
        spec.pod_selector.unwrap().match_labels,
        Some(town().component_labels("dolt"))
    );
    assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]));
    let ingress = spec.ingress.unwrap();
    assert_eq!(ingress.len(), 1);
    let from = ingress[0].from.as_ref().unwrap();
    assert_eq!(from.len(), 1);
    assert_eq!(
        from[0].pod_selector.as_ref().unwrap().match_labels,
        Some(town().component_labels("bd-daemon"))
    );
    assert!(
        from[0].namespace_selector.is_none(),
        "the daemon of this namespace only"
    );
    let port = &ingress[0].ports.as_ref().unwrap()[0];
    assert_eq!(port.port, Some(IntOrString::Int(DOLT_PORT)));
    // The daemon's pods carry exactly the labels the policy admits.
    let daemon: DaemonSpec = serde_json::from_value(serde_json::json!({"image": "bd:1"})).unwrap();
    let deployment = bd_daemon_deployment(&town(), &daemon, None).unwrap();
    let pod_labels = deployment
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .labels
        .unwrap();
    for (key, value) in town().component_labels("bd-daemon") {
        assert_eq!(pod_labels.get(&key), Some(&value), "{key}");
    }
}

/// With bd serve, agents use Dolt directly: the town's agent pods (and the
/// server) are admitted, no other pod, and no other town's agents.
#[test]
fn with_bd_serve_the_towns_agents_reach_dolt_too() {
    let policy = dolt_network_policy(&town(), BeadsProtocol::Serve, false);
    let from = policy.spec.unwrap().ingress.unwrap()[0]
        .from
        .clone()
        .unwrap();
    assert_eq!(from.len(), 2);
    let agents = from[1].pod_selector.as_ref().unwrap();
    assert_eq!(
        agents.match_labels,
        Some([("gastown.io/town".to_string(), "prod".to_string())].into())
    );
    let role = &agents.match_expressions.as_ref().unwrap()[0];
    assert_eq!(
        (role.key.as_str(), role.operator.as_str()),
        ("gastown.io/role", "Exists")
    );
    assert!(from[1].namespace_selector.is_none(), "this namespace only");
    // An agent pod of the town carries what the policy admits.
    let labels = naming::agent_labels("prod", Some("gastown"), gastown_api::AgentRole::Crew, "max");
    assert_eq!(labels["gastown.io/town"], "prod");
    assert!(labels.contains_key("gastown.io/role"));
}

#[test]
fn daemon_is_wired_to_dolt_and_its_token_secret() {
    let daemon: DaemonSpec = serde_json::from_value(serde_json::json!({
        "image": "bd:1", "port": 7000, "httpPort": 7080, "tokenSecretRef": {"name": "bd-token", "key": "token"}
    }))
    .unwrap();
    let deployment = bd_daemon_deployment(&town(), &daemon, None).unwrap();
    let container = &deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let env = container.env.as_ref().unwrap();
    let value = |name: &str| {
        env.iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value.clone())
    };
    assert_eq!(
        value("BEADS_DOLT_SERVER_HOST").as_deref(),
        Some("prod-dolt")
    );
    let token = env.iter().find(|e| e.name == "BD_DAEMON_TOKEN").unwrap();
    assert!(
        token.value.is_none(),
        "the token is referenced, never inlined"
    );
    let ports: Vec<i32> = container
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| p.container_port)
        .collect();
    // Only the HTTP listener exists since Feb 2026 (B7).
    assert_eq!(ports, vec![7080]);
    let service = bd_daemon_service(&town(), &daemon).unwrap();
    let service_ports = service.spec.unwrap().ports.unwrap();
    assert_eq!(service_ports.len(), 1);
    assert_eq!(service_ports[0].port, 7080);
    assert_eq!(
        container
            .command
            .as_ref()
            .unwrap()
            .last()
            .map(String::as_str),
        Some("--http-addr=:7080")
    );
}

#[test]
fn external_daemon_and_disabled_rpc_build_nothing() {
    let external: DaemonSpec =
        serde_json::from_value(serde_json::json!({"external": {"host": "bd.example"}})).unwrap();
    assert!(bd_daemon_deployment(&town(), &external, None).is_none());
    assert!(bd_daemon_service(&town(), &external).is_none());
    let rpc: RpcServerSpec =
        serde_json::from_value(serde_json::json!({"enabled": false, "image": "rpc:1"})).unwrap();
    assert!(rpc_server(&town(), &rpc, &external).is_none());
    let rpc: RpcServerSpec =
        serde_json::from_value(serde_json::json!({"enabled": true, "image": "rpc:1"})).unwrap();
    let (deployment, _) = rpc_server(&town(), &rpc, &external).unwrap();
    let container = &deployment.spec.unwrap().template.spec.unwrap().containers[0];
    let host = container
        .env
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.name == "BD_DAEMON_HOST")
        .unwrap();
    assert_eq!(host.value.as_deref(), Some("bd.example"));
}

fn only_container(spec: &Option<k8s_openapi::api::core::v1::PodSpec>) -> &Container {
    &spec.as_ref().unwrap().containers[0]
}

fn env_value(container: &Container, name: &str) -> Option<String> {
    container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

fn mounted(container: &Container, path: &str) -> bool {
    container
        .volume_mounts
        .iter()
        .flatten()
        .any(|m| m.mount_path == path && m.read_only != Some(true))
}

/// D1/D3/D4/B3: the entrypoint is bypassed (it would add a second
/// `--config`), the config listens on every address at 3306 with its data on
/// the claim, and dolt, as uid 1000, has a writable home.
#[test]
fn dolt_obeys_its_images_contract() {
    let sts = dolt_statefulset(&town(), &dolt(None), None);
    let pod = sts.spec.unwrap().template.spec;
    let container = only_container(&pod);
    let command = container.command.clone().unwrap();
    assert_eq!(
        command,
        [
            "dolt",
            "sql-server",
            "--config=/etc/dolt/servercfg.d/config.yaml"
        ]
    );
    assert!(container.args.is_none(), "no second --config");
    let home = env_value(container, "HOME").expect("HOME is set");
    assert!(mounted(container, &home), "{home} is a writable volume");
    assert!(env_value(container, "DOLT_ROOT_PATH").is_none());
    assert!(mounted(container, "/var/lib/dolt"));
    assert_eq!(
        container.termination_message_policy.as_deref(),
        Some("FallbackToLogsOnError")
    );
    let security = pod.as_ref().unwrap().security_context.as_ref().unwrap();
    assert_eq!(
        security.fs_group,
        Some(1000),
        "the claim is writable for uid 1000"
    );

    let config = dolt_config(&town(), &dolt(None));
    let yaml: serde_json::Value =
        serde_yaml::from_str(&config.data.unwrap()["config.yaml"]).unwrap();
    assert_eq!(yaml["listener"]["host"], "0.0.0.0");
    assert_eq!(yaml["listener"]["port"], 3306);
    assert_eq!(yaml["data_dir"], "/var/lib/dolt");
    assert_eq!(yaml["cfg_dir"], "/var/lib/dolt/.doltcfg");
}

/// D3: DOLT_ROOT_PASSWORD arrived in v1.46.0; an older image with a password
/// set would leave root open, so it is refused with the reason.
#[test]
fn a_dolt_image_too_old_for_the_root_password_is_refused() {
    let mut spec = dolt(None);
    assert!(
        dolt_image_refusal(&spec).is_none(),
        "no password, nothing to refuse"
    );
    spec.root_password_secret_ref = Some(SecretKeyRef {
        name: "dolt-root".into(),
        key: "password".into(),
    });
    assert!(dolt_image_refusal(&spec).is_none(), "1.81.6 reads it");
    spec.image = "dolthub/dolt-sql-server:1.43.0".into();
    let reason = dolt_image_refusal(&spec).expect("1.43.0 predates it");
    assert!(reason.contains("1.46.0"), "{reason}");
    for image in [
        "dolthub/dolt-sql-server:latest",
        "registry.local:5000/dolt-sql-server",
        "dolthub/dolt-sql-server@sha256:0123",
        "dolthub/dolt-sql-server:v2.3.1",
    ] {
        spec.image = image.into();
        assert!(dolt_image_refusal(&spec).is_none(), "{image}");
    }
}

/// B1/B4/B6/B7: the daemon's own command (the image's default passes a
/// removed flag), `--local`, a writable BEADS_DIR, dolt's port explicit, no
/// client variables, HTTP probes, one pod at a time.
#[test]
fn the_daemon_obeys_its_images_contract() {
    let daemon: DaemonSpec =
        serde_json::from_value(serde_json::json!({"image": "ghcr.io/groblegark/beads:0.62.5"}))
            .unwrap();
    let deployment = bd_daemon_deployment(&town(), &daemon, None).unwrap();
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.strategy.unwrap().type_.as_deref(), Some("Recreate"));
    let pod = spec.template.spec;
    let container = only_container(&pod);
    let command = container.command.clone().unwrap();
    assert_eq!(command[..3], ["bd", "daemon", "start"]);
    for flag in ["--foreground", "--local", "--http-addr=:9080"] {
        assert!(command.iter().any(|a| a == flag), "{flag}");
    }
    assert!(!command.iter().any(|a| a.starts_with("--tcp-addr")));
    let beads_dir = env_value(container, "BEADS_DIR").expect("BEADS_DIR is set");
    assert!(mounted(container, &beads_dir), "{beads_dir} is writable");
    let home = env_value(container, "HOME").expect("HOME is set");
    assert!(mounted(container, &home), "{home} is writable");
    assert_eq!(
        env_value(container, "BEADS_DOLT_SERVER_MODE").as_deref(),
        Some("1")
    );
    assert_eq!(
        env_value(container, "BEADS_DOLT_SERVER_PORT").as_deref(),
        Some("3306")
    );
    for client in ["BD_DAEMON_HOST", "BD_DAEMON_HTTP_URL", "BD_DAEMON_TCP_ADDR"] {
        assert!(env_value(container, client).is_none(), "{client}");
    }
    let path = |probe: &Option<k8s_openapi::api::core::v1::Probe>| {
        probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(path(&container.readiness_probe).as_deref(), Some("/readyz"));
    assert_eq!(path(&container.startup_probe).as_deref(), Some("/healthz"));
    let liveness = container.liveness_probe.as_ref().unwrap();
    assert!(
        liveness.tcp_socket.is_some(),
        "a dolt outage must not restart the daemon"
    );
}

// bd serve in the daemon's place (serve.rs).

fn serve_spec(token: bool) -> DaemonSpec {
    let mut daemon = serde_json::json!({
        "protocol": "serve", "image": "ghcr.io/gastownhall/beads:1.3.0", "httpPort": 7777
    });
    if token {
        daemon["tokenSecretRef"] = serde_json::json!({"name": "beads-token", "key": "token"});
    }
    serde_json::from_value(daemon).unwrap()
}

/// §1: an explicit non-loopback `--addr` with `--allow-non-loopback`, the
/// token file from the Secret, every Service name allowed as Host.
#[test]
fn bd_serve_runs_as_its_runbook_says() {
    let dolt: DoltSpec = serde_json::from_value(serde_json::json!({
        "image": "dolthub/dolt-sql-server:1.81.6",
        "rootPasswordSecretRef": {"name": "dolt-root", "key": "password"}
    }))
    .unwrap();
    let deployment = bd_serve_deployment(&town(), &serve_spec(true), Some(&dolt)).unwrap();
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.strategy.unwrap().type_.as_deref(), Some("Recreate"));
    let pod = spec.template.spec.unwrap();
    assert!(pod.termination_grace_period_seconds.unwrap() >= 25);
    let container = &pod.containers[0];
    let command = container.command.clone().unwrap();
    assert_eq!(command[..2], ["bd", "serve"]);
    for flag in [
        "--addr=0.0.0.0:7777",
        "--allow-non-loopback",
        "--auth-token-file=/etc/beads-serve/tokens",
        "--allowed-host=prod-bd-daemon",
        "--allowed-host=prod-bd-daemon.gastown.svc",
        "--allowed-host=prod-bd-daemon.gastown.svc.cluster.local",
    ] {
        assert!(command.iter().any(|a| a == flag), "{flag} in {command:?}");
    }
    let env = |name: &str| {
        container
            .env
            .iter()
            .flatten()
            .find(|e| e.name == name)
            .cloned()
    };
    assert_eq!(
        env("BEADS_DOLT_SERVER_PORT")
            .and_then(|e| e.value)
            .as_deref(),
        Some("3306")
    );
    assert_eq!(
        env("BD_EVENTS_JOURNAL").and_then(|e| e.value).as_deref(),
        Some("1")
    );
    let password = env("BEADS_DOLT_PASSWORD").unwrap().value_from.unwrap();
    assert_eq!(password.secret_key_ref.unwrap().name, "dolt-root");
    let token = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "token")
        .and_then(|v| v.secret.clone())
        .unwrap();
    assert_eq!(token.secret_name.as_deref(), Some("beads-token"));
    assert_eq!(token.items.unwrap()[0].path, "tokens");
    // Probes use the one route without auth: no token in the pod spec.
    let path = |probe: &Option<Probe>| {
        probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(
        path(&container.readiness_probe).as_deref(),
        Some("/healthz")
    );
    assert_eq!(path(&container.startup_probe).as_deref(), Some("/healthz"));
    assert!(
        container
            .readiness_probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.http_headers.as_ref())
            .is_none()
    );
}

/// The simulation's model of the image (contracts/beads.rs) accepts it:
/// the bind, the auth posture, the mounted token file, the probes.
#[test]
fn the_simulated_image_runs_it() {
    use embedded_apiserver::simulation::contracts::{Verdict, verdict};
    let deployment = bd_serve_deployment(&town(), &serve_spec(true), None).unwrap();
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let pod_json = serde_json::to_value(&pod).unwrap();
    let container = serde_json::to_value(&pod.containers[0]).unwrap();
    assert_eq!(verdict(&container, &pod_json), Verdict::Runs);
    // And would not without the token file mounted.
    let mut unmounted = pod.clone();
    unmounted.containers[0]
        .volume_mounts
        .as_mut()
        .unwrap()
        .retain(|m| m.name != "token");
    let container = serde_json::to_value(&unmounted.containers[0]).unwrap();
    assert!(matches!(
        verdict(&container, &serde_json::to_value(&unmounted).unwrap()),
        Verdict::Crashes { .. }
    ));
}

#[test]
fn bd_serve_without_a_token_is_not_built() {
    // The schema refuses it; an object that never met the API server
    // still gets no serve that would refuse to start.
    assert!(bd_serve_deployment(&town(), &serve_spec(false), None).is_none());
}

#[test]
fn the_workspace_points_at_the_towns_dolt() {
    let config = bd_serve_config(&town());
    let metadata: serde_json::Value =
        serde_json::from_str(&config.data.unwrap()["metadata.json"]).unwrap();
    assert_eq!(metadata["dolt_server_host"], "prod-dolt");
    assert_eq!(metadata["dolt_server_port"], 3306);
    assert_eq!(metadata["dolt_mode"], "server");
}

//! `bd serve` (beads' HTTP API v0) in the cluster, in place of the bd daemon:
//! the same Deployment and Service names, so a town can switch protocol.
//!
//! Facts from `shared/reference/bd-serve-v0.md` (§1 sources S2 `serve.go`,
//! S3 `server.go`, S4 `SERVE_RUNBOOK.md`, S6 journal activation) and
//! container-contracts.md §3.

use gastown_api::SecretKeyRef;
use gastown_api::gastown::{DaemonSpec, DoltSpec};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, KeyToPath,
    SecretVolumeSource, Volume, VolumeMount,
};

use super::{
    DOLT_PORT, TERMINATION_MESSAGE_POLICY, TownRef, beads_server_probes, env, env_from_secret,
    pod_template, port, selector, volume_mount,
};
use crate::builders::security::container_security_context;
use crate::naming;

const SERVE_HOME: &str = "/home/beads";
/// The workspace bd serve answers for: it reads `.beads/metadata.json` from
/// `BEADS_DIR` (§1 "What it needs from Dolt").
const BEADS_DIR: &str = "/home/beads/.beads";
/// The token file, one token per line (§1 "Token file").
const TOKEN_DIR: &str = "/etc/beads-serve";
const TOKEN_FILE: &str = "tokens";
/// The database beads uses by default (§1: `BEADS_DOLT_SERVER_DATABASE`,
/// default `beads`), the one the bd daemon creates.
const DATABASE: &str = "beads";
/// SIGTERM drains for up to 20 s (§1 "Streams, signals, limits"); the
/// runbook asks for at least 25 s of grace.
const GRACE_SECONDS: i64 = 30;

/// The name of the ConfigMap holding the workspace's `metadata.json`.
pub fn serve_config_name(town: &str) -> String {
    format!("{}-workspace", naming::bd_daemon(town))
}

/// `metadata.json` of the serve workspace: server-mode Dolt at the town's
/// Dolt. unconfirmed: the minimal set of fields bd needs (these are the
/// ones seen in upstream's configfile, §7); the env below wins over it.
pub fn bd_serve_config(town: &TownRef) -> ConfigMap {
    let metadata = serde_json::json!({
        "backend": "dolt",
        "dolt_mode": "server",
        "database": DATABASE,
        "dolt_database": DATABASE,
        "dolt_server_host": naming::dolt(&town.name),
        "dolt_server_port": DOLT_PORT,
        "dolt_server_user": "root",
    });
    ConfigMap {
        metadata: town.meta(serve_config_name(&town.name), "bd-daemon", true),
        data: Some(
            [(
                "metadata.json".to_string(),
                serde_json::to_string_pretty(&metadata).unwrap_or_default(),
            )]
            .into(),
        ),
        ..Default::default()
    }
}

/// The names clients may send as `Host`: the Service in each spelling a pod
/// resolves. bd serve refuses any DNS name not listed (§1 "Host allowlist");
/// IP literals pass on a wildcard bind.
pub fn allowed_hosts(town: &TownRef) -> Vec<String> {
    let service = naming::bd_daemon(&town.name);
    let namespace = &town.namespace;
    vec![
        service.clone(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// The in-cluster `bd serve`. `None` unless the spec runs one (`image`).
pub fn bd_serve_deployment(
    town: &TownRef,
    daemon: &DaemonSpec,
    dolt: Option<&DoltSpec>,
) -> Option<Deployment> {
    let image = daemon.image.clone()?;
    let endpoint = daemon.endpoint(&naming::bd_daemon(&town.name));
    let labels = town.component_labels("bd-daemon");
    // §1: `--addr` takes a numeric IP (no default port: name one); beyond
    // loopback it needs `--allow-non-loopback` and a token file; each
    // Service name needs `--allowed-host`.
    let mut command = vec![
        "bd".to_string(),
        "serve".into(),
        format!("--addr=0.0.0.0:{}", endpoint.http_port),
        "--allow-non-loopback".into(),
        format!("--auth-token-file={TOKEN_DIR}/{TOKEN_FILE}"),
    ];
    command.extend(
        allowed_hosts(town)
            .into_iter()
            .map(|host| format!("--allowed-host={host}")),
    );
    let mut container_env = vec![
        env("HOME", SERVE_HOME),
        env("BEADS_DIR", BEADS_DIR),
        // §1: env beats metadata.json; beads' defaults are 127.0.0.1:3307.
        env("BEADS_DOLT_SERVER_MODE", "1"),
        env("BEADS_DOLT_SERVER_HOST", naming::dolt(&town.name)),
        env("BEADS_DOLT_SERVER_PORT", DOLT_PORT.to_string()),
        env("BEADS_DOLT_SERVER_USER", "root"),
        env("BEADS_DOLT_SERVER_DATABASE", DATABASE),
        // bd must never start a Dolt of its own here.
        env("BEADS_DOLT_AUTO_START", "0"),
        // §1: the events journal is off by default; the operator follows
        // the town through it (events:watch).
        env("BD_EVENTS_JOURNAL", "1"),
    ];
    if let Some(SecretKeyRef { name, key }) = dolt.and_then(|d| d.root_password_secret_ref.as_ref())
    {
        container_env.push(env_from_secret("BEADS_DOLT_PASSWORD", name, key));
    }
    let token = daemon.token_secret_ref.as_ref()?;
    let mount = volume_mount;
    let (startup, readiness, liveness) = beads_server_probes("/healthz");
    let container = Container {
        name: "bd-serve".into(),
        image: Some(image),
        command: Some(command),
        ports: Some(vec![port("http", endpoint.http_port.into())]),
        env: Some(container_env),
        resources: daemon.resources.clone(),
        volume_mounts: Some(vec![
            mount("home", SERVE_HOME, false),
            mount("beads-data", BEADS_DIR, false),
            VolumeMount {
                sub_path: Some("metadata.json".into()),
                ..mount("workspace", &format!("{BEADS_DIR}/metadata.json"), true)
            },
            mount("token", TOKEN_DIR, true),
        ]),
        // §3.1: /healthz is the one route without auth and never touches the
        // database. Readiness is also /healthz: the runbook's readiness,
        // `/v0/beads/ready?limit=1`, needs the bearer token, and a probe
        // header would put it in the pod spec for anyone who can read pods.
        // Whether beads answers is the operator's own check (the town's
        // DaemonReady condition asks /v0/beads/ready with the token).
        startup_probe: Some(startup),
        readiness_probe: Some(readiness),
        liveness_probe: Some(liveness),
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.into()),
        security_context: Some(container_security_context()),
        ..Default::default()
    };
    let volumes = vec![
        Volume {
            name: "home".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
        Volume {
            name: "beads-data".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
        Volume {
            name: "workspace".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: serve_config_name(&town.name),
                ..Default::default()
            }),
            ..Default::default()
        },
        // The token Secret's key as the file `tokens`; bd serve re-reads it
        // within a second (§1), and the kubelet refreshes a Secret volume
        // (no subPath) when the Secret changes: rotation needs no restart.
        Volume {
            name: "token".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(token.name.clone()),
                items: Some(vec![KeyToPath {
                    key: token.key.clone(),
                    path: TOKEN_FILE.into(),
                    mode: None,
                }]),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let mut template = pod_template(labels.clone(), vec![container], Some(volumes));
    if let Some(spec) = template.spec.as_mut() {
        spec.termination_grace_period_seconds = Some(GRACE_SECONDS);
    }
    Some(Deployment {
        metadata: town.meta(naming::bd_daemon(&town.name), "bd-daemon", false),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(&labels),
            template,
            // A fixed port is bd serve's only single-instance guard (§1).
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            ..Default::default()
        }),
        status: None,
    })
}

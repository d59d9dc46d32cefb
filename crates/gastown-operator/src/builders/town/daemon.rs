//! The bd daemon (Deployment, Service), built to the contract of the
//! groblegark/beads image (container-contracts.md §2), and the optional RPC
//! server.

use gastown_api::SecretKeyRef;
use gastown_api::gastown::{DaemonSpec, DoltSpec, RpcServerSpec};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{Container, EmptyDirVolumeSource, Service, ServiceSpec, Volume};

use super::{
    DOLT_PORT, TERMINATION_MESSAGE_POLICY, TownRef, beads_server_probes, env, env_from_secret,
    pod_template, port, selector, service_port, tcp_probe, volume_mount,
};
use crate::builders::security::container_security_context;
use crate::naming;

/// The daemon's home, and its beads directory in it: server mode exits
/// without `BEADS_DIR`, and the daemon writes its `metadata.json`, pid,
/// socket, logs and `.runtime/` there (B1, B4). Both are emptyDirs, so they
/// are writable whatever uid the image was built with (1000 or 1001, B7).
const DAEMON_HOME: &str = "/home/beads";
const BEADS_DIR: &str = "/home/beads/.beads";

/// The in-cluster bd daemon, wired to dolt (as root, with dolt's root
/// password when the town has one), with its bearer token from the Secret.
/// `None` when the daemon is external.
pub fn bd_daemon_deployment(
    town: &TownRef,
    daemon: &DaemonSpec,
    dolt: Option<&DoltSpec>,
) -> Option<Deployment> {
    let image = daemon.image.clone()?;
    let endpoint = daemon.endpoint(&naming::bd_daemon(&town.name));
    let labels = town.component_labels("bd-daemon");
    // No client variables here: the daemon refuses to start when
    // BD_DAEMON_HOST or BD_DAEMON_HTTP_URL is set (B4).
    let mut container_env = vec![
        env("HOME", DAEMON_HOME),
        env("BEADS_DIR", BEADS_DIR),
        env("BEADS_DOLT_SERVER_MODE", "1"),
        env("BEADS_DOLT_SERVER_HOST", naming::dolt(&town.name)),
        // beads' default is 3307 (B6): the port must be explicit.
        env("BEADS_DOLT_SERVER_PORT", DOLT_PORT.to_string()),
        env("BEADS_DOLT_SERVER_USER", "root"),
    ];
    if let Some(SecretKeyRef { name, key }) = dolt.and_then(|d| d.root_password_secret_ref.as_ref())
    {
        // The variable beads reads (B1); not BEADS_DOLT_SERVER_PASS.
        container_env.push(env_from_secret("BEADS_DOLT_PASSWORD", name, key));
    }
    if let Some(SecretKeyRef { name, key }) = &daemon.token_secret_ref {
        container_env.push(env_from_secret("BD_DAEMON_TOKEN", name, key));
    }
    let mount = |name: &str, path: &str| volume_mount(name, path, false);
    let empty_dir = |name: &str| Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    };
    let (startup, readiness, liveness) = beads_server_probes("/readyz");
    let container = Container {
        name: "bd-daemon".into(),
        image: Some(image),
        // The image's default command passes `--tcp-addr`, removed with the
        // TCP listener in Feb 2026 (B7); `--local` because the pod has no git
        // repository (B4); the chart's command (B1).
        command: Some(vec![
            "bd".into(),
            "daemon".into(),
            "start".into(),
            "--foreground".into(),
            "--local".into(),
            "--log-json".into(),
            format!("--http-addr=:{}", endpoint.http_port),
        ]),
        // Only the HTTP listener exists since Feb 2026 (B7).
        ports: Some(vec![port("http", endpoint.http_port.into())]),
        env: Some(container_env),
        resources: daemon.resources.clone(),
        volume_mounts: Some(vec![
            mount("home", DAEMON_HOME),
            mount("beads-data", BEADS_DIR),
        ]),
        // The chart's probes (B1, B2), liveness on the listener only
        // (/livez exists only in later daemons, B5).
        startup_probe: Some(startup),
        readiness_probe: Some(readiness),
        liveness_probe: Some(liveness),
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.into()),
        security_context: Some(container_security_context()),
        ..Default::default()
    };
    Some(Deployment {
        metadata: town.meta(naming::bd_daemon(&town.name), "bd-daemon", false),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(&labels),
            template: pod_template(
                labels,
                vec![container],
                Some(vec![empty_dir("home"), empty_dir("beads-data")]),
            ),
            // One daemon at a time on the database, as the chart runs it (B1).
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            ..Default::default()
        }),
        status: None,
    })
}

/// The bd daemon's Service: its HTTP listener. `None` when the daemon is external.
pub fn bd_daemon_service(town: &TownRef, daemon: &DaemonSpec) -> Option<Service> {
    daemon.in_cluster().then(|| {
        let endpoint = daemon.endpoint(&naming::bd_daemon(&town.name));
        Service {
            metadata: town.meta(naming::bd_daemon(&town.name), "bd-daemon", true),
            spec: Some(ServiceSpec {
                selector: Some(town.component_labels("bd-daemon")),
                ports: Some(vec![service_port("http", endpoint.http_port.into())]),
                ..Default::default()
            }),
            ..Default::default()
        }
    })
}

/// The RPC server's Deployment and Service; `None` when disabled.
///
/// Upstream's RPC server (gtmobile) was deleted in Feb 2026 and never had a
/// published image (G6, M1): this runs a user's image of it. gtmobile read no
/// environment, only `--port`, `--town` (the town's workspace on disk) and
/// `--api-key` (M1); it is given `--port`, and the daemon's address for an
/// image that wants it.
pub fn rpc_server(
    town: &TownRef,
    rpc: &RpcServerSpec,
    daemon: &DaemonSpec,
) -> Option<(Deployment, Service)> {
    if !rpc.enabled() {
        return None;
    }
    let image = rpc.image.clone()?;
    let labels = town.component_labels("rpc-server");
    let endpoint = daemon.endpoint(&naming::bd_daemon(&town.name));
    let mut container_env = vec![
        env("BD_DAEMON_HOST", endpoint.host.clone()),
        env("BD_DAEMON_HTTP_PORT", endpoint.http_port.to_string()),
        env(
            "BD_DAEMON_HTTP_URL",
            format!("http://{}:{}", endpoint.host, endpoint.http_port),
        ),
    ];
    if let Some(SecretKeyRef { name, key }) = &daemon.token_secret_ref {
        container_env.push(env_from_secret("BD_DAEMON_TOKEN", name, key));
    }
    let container = Container {
        name: "rpc-server".into(),
        image: Some(image),
        args: Some(vec![format!("--port={}", rpc.port())]),
        ports: Some(vec![port("rpc", rpc.port())]),
        env: Some(container_env),
        resources: rpc.resources.clone(),
        readiness_probe: Some(tcp_probe("rpc", 5)),
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.into()),
        security_context: Some(container_security_context()),
        ..Default::default()
    };
    let deployment = Deployment {
        metadata: town.meta(naming::rpc_server(&town.name), "rpc-server", false),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(&labels),
            template: pod_template(labels.clone(), vec![container], None),
            ..Default::default()
        }),
        status: None,
    };
    let service = Service {
        metadata: town.meta(naming::rpc_server(&town.name), "rpc-server", true),
        spec: Some(ServiceSpec {
            selector: Some(labels),
            ports: Some(vec![service_port("rpc", rpc.port())]),
            ..Default::default()
        }),
        ..Default::default()
    };
    Some((deployment, service))
}

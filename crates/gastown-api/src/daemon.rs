//! `spec.daemon`: the beads server of a town — which protocol it speaks (the bd daemon's RPC, or
//! `bd serve`'s HTTP API v0), and whether this operator runs it or an existing one is used.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::SecretKeyRef;

/// Default port of the bd daemon's newline-delimited JSON listener.
pub const DEFAULT_DAEMON_PORT: i32 = 9876;
/// Default port of the beads server's HTTP listener (the bd daemon's default; `bd serve` has no
/// default port and is given this one).
pub const DEFAULT_DAEMON_HTTP_PORT: i32 = 9080;

/// Which beads server a town uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::schema::drop_type_description)]
pub enum BeadsProtocol {
    /// The bd daemon's RPC (`/bd.v1.BeadsService/*`, `/events`), served by the groblegark fork of beads; upstream removed the daemon in February 2026.
    #[default]
    Daemon,
    /// `bd serve`, current beads' HTTP API v0 (`/v0/beads/...`), with a token file and an event journal.
    Serve,
}

impl BeadsProtocol {
    /// The name in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daemon => "daemon",
            Self::Serve => "serve",
        }
    }
}

impl std::fmt::Display for BeadsProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The beads server: run by this operator (`image`) or an existing one (`external`), speaking the bd daemon's protocol or `bd serve`'s (`protocol`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(
    validation = kube::core::Rule::new("has(self.image) != has(self.external)")
        .message("set exactly one of daemon.image (run a beads server in the cluster) or daemon.external (use an existing one)"),
    validation = kube::core::Rule::new("!has(self.external) || !has(self.resources)")
        .message("spec.daemon.resources applies only to an in-cluster beads server, not with daemon.external")
        .field_path(".resources")
        .reason(kube::core::Reason::FieldValueForbidden),
    // bd serve refuses a non-loopback bind without a token file (bd-serve-v0.md §1), and a
    // pod must bind beyond loopback to be reached.
    validation = kube::core::Rule::new("!has(self.rigServers) || (has(self.protocol) && self.protocol == 'serve')")
        .message("spec.daemon.rigServers names bd serve servers: it needs spec.daemon.protocol: serve")
        .field_path(".rigServers")
        .reason(kube::core::Reason::FieldValueForbidden),
    validation = kube::core::Rule::new("!has(self.protocol) || self.protocol != 'serve' || has(self.external) || has(self.tokenSecretRef)")
        .message("bd serve in the cluster listens beyond loopback, which it allows only with a token: set spec.daemon.tokenSecretRef")
        .field_path(".tokenSecretRef")
        .reason(kube::core::Reason::FieldValueRequired),
)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSpec {
    /// Which server: `daemon` (the bd daemon's RPC) or `serve` (`bd serve`, HTTP API v0). Default `daemon`, so older manifests keep their meaning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<BeadsProtocol>,
    /// Container image of the beads server run in the cluster (for `serve`, an image whose `bd` has the `serve` command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = crate::schema::IMAGE_PATTERN))]
    pub image: Option<String>,
    /// Unused: the bd daemon stopped serving its newline-delimited JSON listener in February 2026; kept so that old manifests still apply. Default 9876.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535), default = "default_daemon_port")]
    pub port: Option<i32>,
    /// Port of the server's HTTP listener (for the daemon: health, RPC, events; for `bd serve`: its `--addr` port), which agents and the operator use. Default 9080.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535), default = "default_daemon_http_port")]
    pub http_port: Option<i32>,
    /// Compute resources of the in-cluster server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::resource_requirements")]
    pub resources: Option<ResourceRequirements>,
    /// Secret key holding the server's bearer token: the daemon's `BD_DAEMON_TOKEN`, or the one line of `bd serve`'s token file. Required for `serve` in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeyRef>,
    /// An existing beads server this operator does not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalDaemon>,
    /// With `serve`: the `bd serve` of a rig's own database, by rig. Gas Town keeps a rig's merge requests there (as wisps), not in the town's database: without an entry, that rig's merge queue shows as unknown. Each is asked with the town's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["rig".into()]))]
    pub rig_servers: Option<Vec<RigServer>>,
}

/// The `bd serve` of one rig's database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RigServer {
    /// The rig's name in beads (`spec.rigs[].name`).
    #[schemars(length(min = 1, max = 63))]
    pub rig: String,
    /// Its base URL, `http://host:port`.
    #[schemars(
        length(min = 8, max = 300),
        regex(pattern = r"^http://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?/?$")
    )]
    pub url: String,
}

pub(crate) fn default_daemon_port() -> Option<i32> {
    Some(DEFAULT_DAEMON_PORT)
}
pub(crate) fn default_daemon_http_port() -> Option<i32> {
    Some(DEFAULT_DAEMON_HTTP_PORT)
}

/// An existing beads server, reached over the network: by `host` (and ports), or by `url`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(
    validation = kube::core::Rule::new("has(self.host) != has(self.url)")
        .message("set exactly one of daemon.external.host (with its ports) or daemon.external.url"),
    validation = kube::core::Rule::new("!has(self.url) || (!has(self.port) && !has(self.httpPort))")
        .message("daemon.external.url carries the port; port and httpPort go with host")
        .reason(kube::core::Reason::FieldValueForbidden),
)]
#[serde(rename_all = "camelCase")]
pub struct ExternalDaemon {
    /// Host name or IP address of the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$")
    )]
    pub host: Option<String>,
    /// The server's base URL, `http://host:port` (no path; plain HTTP — neither server speaks TLS, so reach it across a trusted boundary or a mesh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 8, max = 300),
        regex(pattern = r"^http://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?/?$")
    )]
    pub url: Option<String>,
    /// Port of the daemon's newline-delimited JSON listener (unused since February 2026). Default 9876.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Port of the server's HTTP listener, with `host`. Default 9080.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub http_port: Option<i32>,
}

/// Where agents and the operator reach the beads server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonEndpoint {
    /// Host name (the in-cluster Service name, or the external host).
    pub host: String,
    /// Port of the newline-delimited JSON listener.
    pub port: u16,
    /// Port of the HTTP listener.
    pub http_port: u16,
}

impl DaemonEndpoint {
    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.http_port)
    }
}

impl DaemonSpec {
    /// Whether the operator runs the server in the cluster.
    pub fn in_cluster(&self) -> bool {
        self.external.is_none()
    }

    /// The protocol, defaulted.
    pub fn protocol(&self) -> BeadsProtocol {
        self.protocol.unwrap_or_default()
    }

    /// The server's endpoint; `in_cluster_host` is the Service name the operator gives an
    /// in-cluster server.
    pub fn endpoint(&self, in_cluster_host: &str) -> DaemonEndpoint {
        // The schema admits only 1..=65535; a value outside that range (an object that never
        // met the API server) falls back to the default rather than failing here.
        let port = |value: Option<i32>, default: i32| {
            u16::try_from(value.unwrap_or(default)).unwrap_or(default as u16)
        };
        match &self.external {
            Some(ExternalDaemon { url: Some(url), .. }) => {
                let (host, url_port) = split_url(url);
                DaemonEndpoint {
                    host,
                    port: port(None, DEFAULT_DAEMON_PORT),
                    http_port: url_port.unwrap_or(80),
                }
            }
            Some(external) => DaemonEndpoint {
                host: external.host.clone().unwrap_or_default(),
                port: port(external.port, DEFAULT_DAEMON_PORT),
                http_port: port(external.http_port, DEFAULT_DAEMON_HTTP_PORT),
            },
            None => DaemonEndpoint {
                host: in_cluster_host.into(),
                port: port(self.port, DEFAULT_DAEMON_PORT),
                http_port: port(self.http_port, DEFAULT_DAEMON_HTTP_PORT),
            },
        }
    }
}

/// Host and port of an `http://host[:port][/]` URL (the schema's form).
fn split_url(url: &str) -> (String, Option<u16>) {
    let authority = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    match authority.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().ok()),
        None => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_external_url_gives_host_and_port() {
        let spec = DaemonSpec {
            external: Some(ExternalDaemon {
                url: Some("http://beads.example.com:7777/".into()),
                ..ExternalDaemon::default()
            }),
            ..DaemonSpec::default()
        };
        let endpoint = spec.endpoint("unused");
        assert_eq!(endpoint.host, "beads.example.com");
        assert_eq!(endpoint.http_port, 7777);
        assert_eq!(endpoint.url(), "http://beads.example.com:7777");
        let portless = DaemonSpec {
            external: Some(ExternalDaemon {
                url: Some("http://beads".into()),
                ..ExternalDaemon::default()
            }),
            ..DaemonSpec::default()
        };
        assert_eq!(portless.endpoint("x").url(), "http://beads:80");
    }

    #[test]
    fn protocol_defaults_to_the_daemon() {
        assert_eq!(DaemonSpec::default().protocol(), BeadsProtocol::Daemon);
        let serve: DaemonSpec = serde_json::from_value(serde_json::json!({"protocol": "serve"}))
            .expect("a daemon spec");
        assert_eq!(serve.protocol(), BeadsProtocol::Serve);
    }
}

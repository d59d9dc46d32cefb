//! One interface over both beads servers: today's bd daemon ([`BeadsClient`]) and
//! `bd serve`, the beads HTTP API v0 ([`ServeClient`]). The operator codes against
//! [`Beads`] only.

use std::fmt;
use std::str::FromStr;

use futures::future::Either;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::client::{BeadsClient, ClientConfig};
use crate::endpoint::Endpoint;
use crate::error::BeadsError;
use crate::model::{AgentPodRegistration, PodFields, PodStatus};
use crate::projection::{TownSnapshot, fetch_snapshot};
use crate::serve::ServeClient;
use crate::token::Token;

/// Which wire protocol a beads server speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The bd daemon: `POST /bd.v1.BeadsService/<Method>` or NDJSON over TCP.
    #[default]
    Daemon,
    /// `bd serve`: the beads HTTP API v0 under `/v0/beads/…`.
    Serve,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daemon => "daemon",
            Self::Serve => "serve",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol name other than `daemon` or `serve`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown beads protocol {0:?}; expected \"daemon\" or \"serve\"")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "daemon" => Ok(Self::Daemon),
            "serve" => Ok(Self::Serve),
            _ => Err(UnknownProtocol(text.to_owned())),
        }
    }
}

/// Who answered a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub protocol: Protocol,
    /// The daemon's `health` version, or serve's `bd_version`.
    pub version: String,
    /// Serve's capability tokens (bd-serve-v0.md §3.3); empty for the daemon.
    pub capabilities: Vec<String>,
}

/// One item of [`Beads::changes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Something changed at `position` (daemon: event id in unix ms; serve: journal
    /// seq). Deduplicated: positions only grow.
    At { position: u64 },
    /// The change feed cannot be had (`reason` for status); the stream then yields
    /// [`Change::Relist`] ticks every `config.mutations.relist_interval`.
    Degraded { reason: String },
    /// Time to relist (while degraded).
    Relist,
    /// The feed works again after a [`Change::Degraded`]; changes made while it did
    /// not may be unannounced, so relist once more.
    Restored,
}

/// A beads server of either protocol. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Beads {
    Daemon(BeadsClient),
    Serve(ServeClient),
}

impl Beads {
    /// A client of `protocol` at `url` (daemon: `http://` or `tcp://`; serve:
    /// `http://`). Makes no request.
    pub fn connect(
        protocol: Protocol,
        url: &str,
        token: Option<Token>,
        config: ClientConfig,
    ) -> Result<Beads, BeadsError> {
        match protocol {
            Protocol::Daemon => Ok(Self::Daemon(BeadsClient::with_config(
                url.parse()?,
                token,
                config,
            )?)),
            Protocol::Serve => Ok(Self::Serve(ServeClient::new(url, token, config)?)),
        }
    }

    /// Asks `GET /v0/beads/context`: a problem+json or v0 JSON answer (200 or 401
    /// problem) means bd serve; otherwise the daemon. A `tcp://` address is the
    /// daemon without asking. An unreachable server is an error.
    pub async fn detect(
        url: &str,
        token: Option<Token>,
        config: ClientConfig,
    ) -> Result<Beads, BeadsError> {
        if let Endpoint::Tcp { .. } = url.parse::<Endpoint>()? {
            return Self::connect(Protocol::Daemon, url, token, config);
        }
        let serve = ServeClient::new(url, token.clone(), config.clone())?;
        if serve.answers_as_serve().await? {
            tracing::info!(
                endpoint = serve.endpoint(),
                "beads server speaks bd serve (v0)"
            );
            return Ok(Self::Serve(serve));
        }
        tracing::info!(endpoint = serve.endpoint(), "beads server is a bd daemon");
        Self::connect(Protocol::Daemon, url, token, config)
    }

    pub fn protocol(&self) -> Protocol {
        match self {
            Self::Daemon(_) => Protocol::Daemon,
            Self::Serve(_) => Protocol::Serve,
        }
    }

    /// The server's address, for logs; never the token.
    pub fn endpoint(&self) -> String {
        match self {
            Self::Daemon(client) => client.endpoint().to_string(),
            Self::Serve(client) => client.endpoint().to_owned(),
        }
    }

    /// The town as the server holds it. Daemon: [`fetch_snapshot`]; serve:
    /// [`ServeClient::snapshot`] (merge requests unknown).
    pub async fn snapshot(&self) -> Result<TownSnapshot, BeadsError> {
        match self {
            Self::Daemon(client) => fetch_snapshot(client).await,
            Self::Serve(client) => client.snapshot().await,
        }
    }

    /// Records the pod running an agent. Daemon: `agent_pod_register`; serve:
    /// metadata key `k8s_pod` of the agent bead.
    pub async fn register_pod(
        &self,
        registration: &AgentPodRegistration,
    ) -> Result<(), BeadsError> {
        match self {
            Self::Daemon(client) => client.agent_pod_register(registration).await.map(drop),
            Self::Serve(client) => client.register_pod(registration).await,
        }
    }

    /// Updates the recorded pod's status. `current` is the pod as last read (serve
    /// rewrites the whole record; the daemon needs only the status).
    pub async fn pod_status(
        &self,
        agent_id: &str,
        status: PodStatus,
        current: &PodFields,
    ) -> Result<(), BeadsError> {
        match self {
            Self::Daemon(client) => client.agent_pod_status(agent_id, status).await.map(drop),
            Self::Serve(client) => client.pod_status(agent_id, status, current).await,
        }
    }

    /// Forgets the pod of an agent.
    pub async fn deregister_pod(&self, agent_id: &str) -> Result<(), BeadsError> {
        match self {
            Self::Daemon(client) => client.agent_pod_deregister(agent_id).await.map(drop),
            Self::Serve(client) => client.deregister_pod(agent_id).await,
        }
    }

    /// Changes after `after` (`None`: from now). Never ends; drop to stop. Err
    /// items are transient, the stream retries by itself.
    ///
    /// Daemon: the [`BeadsClient::mutations`] stream as `At { event id }`. Serve:
    /// the events journal (see `serve::changes`), which may be `Degraded`.
    pub fn changes(
        &self,
        after: Option<u64>,
    ) -> impl Stream<Item = Result<Change, BeadsError>> + Send + 'static {
        match self {
            Self::Daemon(client) => Either::Left(daemon_changes(client.mutations(after))),
            Self::Serve(client) => Either::Right(client.changes(after)),
        }
    }
}

/// Mutation events as positions, each position once.
fn daemon_changes<S>(
    mutations: S,
) -> impl Stream<Item = Result<Change, BeadsError>> + Send + 'static
where
    S: Stream<Item = Result<crate::model::MutationEvent, BeadsError>> + Send + 'static,
{
    let mut last: Option<u64> = None;
    mutations.filter_map(move |item| {
        let change = match item {
            Ok(event) if last.is_some_and(|last| event.id <= last) => None,
            Ok(event) => {
                last = Some(event.id);
                Some(Ok(Change::At { position: event.id }))
            }
            Err(error) => Some(Err(error)),
        };
        futures::future::ready(change)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_round_trip() {
        for protocol in [Protocol::Daemon, Protocol::Serve] {
            assert_eq!(protocol.to_string().parse::<Protocol>(), Ok(protocol));
        }
        assert_eq!(" Serve ".parse::<Protocol>(), Ok(Protocol::Serve));
        assert!(
            "grpc"
                .parse::<Protocol>()
                .unwrap_err()
                .to_string()
                .contains("grpc")
        );
        assert_eq!(Protocol::default(), Protocol::Daemon);
        assert_eq!(serde_json::to_value(Protocol::Serve).unwrap(), "serve");
    }

    #[tokio::test]
    async fn daemon_events_become_deduplicated_positions() {
        let event = |id| {
            Ok(crate::model::MutationEvent {
                id,
                ..Default::default()
            })
        };
        let error = BeadsError::Protocol {
            endpoint: "x".into(),
            operation: "events",
            detail: "d".into(),
        };
        let items = futures::stream::iter(vec![event(5), event(5), Err(error), event(4), event(7)]);
        let changes: Vec<_> = daemon_changes(items).collect().await;
        let positions: Vec<Option<u64>> = changes
            .iter()
            .map(|c| match c {
                Ok(Change::At { position }) => Some(*position),
                _ => None,
            })
            .collect();
        assert_eq!(positions, [Some(5), None, Some(7)]);
    }

    #[test]
    fn connect_refuses_tcp_for_serve_and_builds_both() {
        let config = ClientConfig::default();
        assert!(
            Beads::connect(Protocol::Serve, "tcp://127.0.0.1:1", None, config.clone()).is_err()
        );
        let serve = Beads::connect(
            Protocol::Serve,
            "http://127.0.0.1:7777",
            None,
            config.clone(),
        )
        .unwrap();
        assert_eq!(serve.protocol(), Protocol::Serve);
        assert_eq!(serve.endpoint(), "http://127.0.0.1:7777/");
        let daemon = Beads::connect(Protocol::Daemon, "tcp://127.0.0.1:1", None, config).unwrap();
        assert_eq!(daemon.protocol(), Protocol::Daemon);
    }
}

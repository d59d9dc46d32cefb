//! The two wire protocols behind one `call`: both carry the same operations with
//! the same `args` and `data` shapes.

mod http;
mod tcp;

use std::time::Duration;

pub(crate) use http::{EventsAnswer, HttpTransport};
pub(crate) use tcp::TcpTransport;

use crate::endpoint::Endpoint;
use crate::error::BeadsError;

/// Largest answer accepted, as the daemon's own limit for messages (10 MB).
pub(crate) const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

/// Sent as `client_version` / `X-BD-Client-Version`.
pub(crate) const CLIENT_VERSION: &str = concat!("gastown-beads-client/", env!("CARGO_PKG_VERSION"));

/// The daemon operations this client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Health,
    Stats,
    List,
    GetMutations,
    AgentPodList,
    AgentPodRegister,
    AgentPodStatus,
    AgentPodDeregister,
}

impl Operation {
    /// The operation name of the TCP protocol (and of error messages).
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Stats => "stats",
            Self::List => "list",
            Self::GetMutations => "get_mutations",
            Self::AgentPodList => "agent_pod_list",
            Self::AgentPodRegister => "agent_pod_register",
            Self::AgentPodStatus => "agent_pod_status",
            Self::AgentPodDeregister => "agent_pod_deregister",
        }
    }

    /// The method in `POST /bd.v1.BeadsService/<Method>`.
    pub fn http_method(self) -> &'static str {
        match self {
            Self::Health => "Health",
            Self::Stats => "Stats",
            Self::List => "List",
            Self::GetMutations => "GetMutations",
            Self::AgentPodList => "AgentPodList",
            Self::AgentPodRegister => "AgentPodRegister",
            Self::AgentPodStatus => "AgentPodStatus",
            Self::AgentPodDeregister => "AgentPodDeregister",
        }
    }

    /// Reads may be retried; writes never are (a lost answer may hide a done write).
    pub fn is_read(self) -> bool {
        matches!(
            self,
            Self::Health | Self::Stats | Self::List | Self::GetMutations | Self::AgentPodList
        )
    }
}

/// Settings both transports share.
#[derive(Debug, Clone)]
pub(crate) struct TransportSettings {
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub actor: String,
    pub max_idle_connections: usize,
}

/// The transport the endpoint chose.
#[derive(Debug)]
pub(crate) enum Transport {
    Http(HttpTransport),
    Tcp(TcpTransport),
}

impl Transport {
    pub fn endpoint(&self) -> &Endpoint {
        match self {
            Self::Http(http) => http.endpoint(),
            Self::Tcp(tcp) => tcp.endpoint(),
        }
    }

    pub fn endpoint_name(&self) -> std::sync::Arc<str> {
        match self {
            Self::Http(http) => http.endpoint_name(),
            Self::Tcp(tcp) => tcp.endpoint_name(),
        }
    }

    /// One request, one answer: the operation's raw `data`.
    pub async fn call(
        &self,
        operation: Operation,
        args: &serde_json::Value,
    ) -> Result<serde_json::Value, BeadsError> {
        match self {
            Self::Http(http) => http.call(operation, args).await,
            Self::Tcp(tcp) => tcp.call(operation, args).await,
        }
    }
}

/// The TCP listener reports a bad token as an ordinary failure; its wording is the
/// only way to tell it apart.
pub(crate) fn looks_like_auth_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "unauthorized",
        "invalid token",
        "missing token",
        "authentication",
        "forbidden",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// An error and its sources on one line.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_failures_are_recognised_by_wording() {
        assert!(looks_like_auth_failure("invalid token"));
        assert!(looks_like_auth_failure(
            "Unauthorized: missing Authorization header"
        ));
        assert!(!looks_like_auth_failure("issue gt-1 not found"));
    }

    #[test]
    fn only_reads_are_reads() {
        assert!(Operation::List.is_read());
        assert!(Operation::AgentPodList.is_read());
        assert!(!Operation::AgentPodRegister.is_read());
        assert!(!Operation::AgentPodStatus.is_read());
        assert!(!Operation::AgentPodDeregister.is_read());
    }
}

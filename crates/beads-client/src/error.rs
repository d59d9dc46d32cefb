//! Typed failures of a call to a beads server: the bd daemon or `bd serve`.

use std::time::Duration;

use std::sync::Arc;

/// Everything that can go wrong when talking to a beads server. Each message names
/// the endpoint (as written by [`crate::Endpoint`]'s `Display`, or the `bd serve` base
/// URL) and the operation; none ever contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeadsError {
    /// The endpoint string cannot be used.
    #[error("invalid beads server endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },

    /// No connection could be made, or it broke before an answer arrived.
    #[error("beads server at {endpoint} is unreachable ({operation}): {reason}")]
    Unreachable {
        endpoint: Arc<str>,
        operation: &'static str,
        reason: String,
    },

    /// No answer within the request timeout.
    #[error("beads server at {endpoint} did not answer {operation} within {timeout:?}")]
    TimedOut {
        endpoint: Arc<str>,
        operation: &'static str,
        timeout: Duration,
    },

    /// The server refused the token (HTTP 401, or an auth error on TCP).
    #[error("beads server at {endpoint} refused the token for {operation}: {message}")]
    Unauthorized {
        endpoint: Arc<str>,
        operation: &'static str,
        message: String,
    },

    /// The answer broke the wire protocol: not JSON, wrong shape, oversize line.
    #[error("beads server at {endpoint} broke the protocol in {operation}: {detail}")]
    Protocol {
        endpoint: Arc<str>,
        operation: &'static str,
        detail: String,
    },

    /// The daemon answered with its own error (HTTP 4xx/5xx `{"error": ...}` or
    /// `{"success": false, "error": ...}` on TCP).
    /// (`bd serve` answers with [`BeadsError::Problem`] instead.)
    #[error("bd daemon at {endpoint} failed {operation}{}: {message}", http_status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Daemon {
        endpoint: Arc<str>,
        operation: &'static str,
        http_status: Option<u16>,
        message: String,
    },

    /// `bd serve` answered with an `application/problem+json` error (bd-serve-v0.md §2):
    /// `code` is its stable code (`busy`, `not_found`, `invalid_argument`, … or
    /// `unknown` when the body was not a problem), `retry_after` its `Retry-After`.
    #[error("bd serve at {endpoint} failed {operation} (HTTP {status} {code}): {detail}")]
    Problem {
        endpoint: Arc<str>,
        operation: &'static str,
        status: u16,
        code: String,
        detail: String,
        retry_after: Option<Duration>,
        /// The whole problem body (`param`, `reason`, `floor`, …), when it was one.
        body: Option<Box<crate::serve::Problem>>,
    },

    /// `bd serve` does not list a capability an operation needs (bd-serve-v0.md §3.3).
    #[error("bd serve at {endpoint} lacks the capability {capability:?} that {operation} needs")]
    MissingCapability {
        endpoint: Arc<str>,
        operation: &'static str,
        capability: String,
    },
}

impl BeadsError {
    /// Whether a read may be retried after this error. Authorization and protocol
    /// failures will not go away by asking again; the daemon's own errors might
    /// (it answers 500 for a busy or failing-over database as well).
    ///
    /// `bd serve` problems (bd-serve-v0.md §2 "Client fallback"): 5xx is transient
    /// (503 after its `Retry-After`); 4xx, 401 included, is not (an unknown 4xx is a
    /// client bug and asking again gives the same answer).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::TimedOut { .. } | Self::Daemon { .. } => true,
            Self::Problem { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// How long the server asked to wait before asking again (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Problem { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The `bd serve` problem body, if this is a problem answer with one.
    pub fn problem(&self) -> Option<&crate::serve::Problem> {
        match self {
            Self::Problem { body, .. } => body.as_deref(),
            _ => None,
        }
    }

    /// The `bd serve` problem code, if this is a problem answer.
    pub fn problem_code(&self) -> Option<&str> {
        match self {
            Self::Problem { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Longest piece of daemon-supplied text kept in an error message.
const MAX_DETAIL_CHARS: usize = 512;

/// Shortens daemon-supplied text so a misbehaving daemon cannot flood logs.
pub(crate) fn truncate_detail(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_details_are_truncated() {
        let long = "x".repeat(2000);
        let short = truncate_detail(&long);
        assert!(short.len() < 600, "{}", short.len());
        assert!(short.ends_with("(2000 bytes)"));
        assert_eq!(truncate_detail(" ok "), "ok");
    }

    #[test]
    fn only_transient_errors_are_retried() {
        let endpoint: Arc<str> = Arc::from("tcp://127.0.0.1:1");
        let unauthorized = BeadsError::Unauthorized {
            endpoint: endpoint.clone(),
            operation: "list",
            message: "invalid token".into(),
        };
        let timed_out = BeadsError::TimedOut {
            endpoint,
            operation: "list",
            timeout: Duration::from_secs(1),
        };
        assert!(!unauthorized.is_transient());
        assert!(timed_out.is_transient());
    }
}

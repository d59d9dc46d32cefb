//! Typed failures of a call to the bd daemon.

use std::time::Duration;

use std::sync::Arc;

/// Everything that can go wrong when talking to the daemon. Each message names the
/// endpoint (as written by [`crate::Endpoint`]'s `Display`) and the operation; none
/// ever contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeadsError {
    /// The endpoint string cannot be used.
    #[error("invalid bd daemon endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },

    /// No connection could be made, or it broke before an answer arrived.
    #[error("bd daemon at {endpoint} is unreachable ({operation}): {reason}")]
    Unreachable {
        endpoint: Arc<str>,
        operation: &'static str,
        reason: String,
    },

    /// No answer within the request timeout.
    #[error("bd daemon at {endpoint} did not answer {operation} within {timeout:?}")]
    TimedOut {
        endpoint: Arc<str>,
        operation: &'static str,
        timeout: Duration,
    },

    /// The daemon refused the token (HTTP 401, or an auth error on TCP).
    #[error("bd daemon at {endpoint} refused the token for {operation}: {message}")]
    Unauthorized {
        endpoint: Arc<str>,
        operation: &'static str,
        message: String,
    },

    /// The answer broke the wire protocol: not JSON, wrong shape, oversize line.
    #[error("bd daemon at {endpoint} broke the protocol in {operation}: {detail}")]
    Protocol {
        endpoint: Arc<str>,
        operation: &'static str,
        detail: String,
    },

    /// The daemon answered with its own error (HTTP 4xx/5xx `{"error": ...}` or
    /// `{"success": false, "error": ...}` on TCP).
    #[error("bd daemon at {endpoint} failed {operation}{}: {message}", http_status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Daemon {
        endpoint: Arc<str>,
        operation: &'static str,
        http_status: Option<u16>,
        message: String,
    },
}

impl BeadsError {
    /// Whether a read may be retried after this error. Authorization and protocol
    /// failures will not go away by asking again; the daemon's own errors might
    /// (it answers 500 for a busy or failing-over database as well).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::TimedOut { .. } | Self::Daemon { .. }
        )
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

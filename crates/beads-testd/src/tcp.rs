//! The legacy newline-delimited JSON listener: one request line, one answer line, many per connection.

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::check_tcp_token;
use crate::faults::FaultAction;
use crate::ops::{Call, Operation};
use crate::requests::Transport;
use crate::tenant::Tenants;

/// The longest request line accepted.
pub const MAX_LINE_BYTES: usize = 10 * 1024 * 1024;

/// The line sent by the "malformed" fault.
const MALFORMED_LINE: &str = "{\"success\":tru";

/// How a line that is not a request is logged.
const INVALID_REQUEST: &str = "invalid_request";

#[derive(Debug, Deserialize)]
struct Request {
    operation: String,
    #[serde(default)]
    args: Option<Value>,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    client_version: String,
    #[serde(default)]
    token: Option<String>,
    // `request_id`, `timeout_ms`, `cwd`, `expected_db` are accepted and ignored.
}

#[derive(Debug, Serialize)]
struct Answer {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Answer {
    fn failure(error: impl Into<String>) -> Answer {
        Answer {
            success: false,
            data: None,
            error: Some(error.into()),
        }
    }

    fn line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"success":false,"error":"failed to encode answer"}"#.into())
    }
}

/// What to do with the connection after a request line.
enum Outcome {
    Answer(String),
    Hangup,
}

pub(crate) async fn serve(
    listener: TcpListener,
    tenants: Arc<Tenants>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let (stream, _) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "testd tcp accept failed");
                    continue;
                }
            },
        };
        tracker.spawn(connection(stream, Arc::clone(&tenants), shutdown.clone()));
    }
}

async fn connection(stream: TcpStream, tenants: Arc<Tenants>, shutdown: CancellationToken) {
    let _connection_guard = tenants.default_backend().connections.open();
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE_BYTES));
    let mut after_oversized_line = false;
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = lines.next() => next,
        };
        let outcome = match next {
            // After an error the codec yields one `None` before it reads on (tokio-rs/tokio#3976).
            None if after_oversized_line => {
                after_oversized_line = false;
                continue;
            }
            None => return,
            Some(Ok(line)) => tokio::select! {
                _ = shutdown.cancelled() => return, // e.g. while an injected latency sleeps
                outcome = answer(&tenants, &line) => outcome,
            },
            Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                // The codec skips the rest of the line; the connection stays usable.
                after_oversized_line = true;
                let backend = tenants.default_backend(); // no token could be read
                backend.requests.request(Transport::Tcp, INVALID_REQUEST);
                backend.requests.failure(Transport::Tcp, INVALID_REQUEST);
                let error = format!("invalid request: message exceeds {MAX_LINE_BYTES} bytes");
                Outcome::Answer(Answer::failure(error).line())
            }
            Some(Err(LinesCodecError::Io(_))) => return,
        };
        match outcome {
            Outcome::Answer(line) => {
                if lines.send(line).await.is_err() {
                    return;
                }
            }
            Outcome::Hangup => return,
        }
    }
}

/// Records the request with the tenant its token reaches, then applies latency, authentication and
/// one-shot faults before dispatching.
async fn answer(tenants: &Tenants, line: &str) -> Outcome {
    let request: Request = match serde_json::from_str(line) {
        Ok(request) => request,
        Err(error) => {
            let backend = tenants.default_backend(); // no token could be read
            backend.requests.request(Transport::Tcp, INVALID_REQUEST);
            backend.requests.failure(Transport::Tcp, INVALID_REQUEST);
            return Outcome::Answer(Answer::failure(format!("invalid request: {error}")).line());
        }
    };
    let backend = tenants.route(request.token.as_deref());
    let name = request.operation.as_str();
    let requests = &backend.requests;
    requests.request(Transport::Tcp, name);
    if let Some(delay) = backend.faults.latency(Transport::Tcp, name) {
        tokio::time::sleep(delay).await;
    }
    let fail = |error: &str| {
        requests.failure(Transport::Tcp, name);
        Outcome::Answer(Answer::failure(error).line())
    };
    if let Err(reason) = check_tcp_token(
        &backend.token,
        backend.faults.rejects_tokens(),
        request.token.as_deref(),
    ) {
        return fail(reason);
    }
    match backend.faults.take(Transport::Tcp, name) {
        None => {}
        Some(FaultAction::Fail(message)) => return fail(&message),
        Some(FaultAction::Drop) => {
            requests.failure(Transport::Tcp, name);
            return Outcome::Hangup;
        }
        Some(FaultAction::Malformed) => return Outcome::Answer(MALFORMED_LINE.to_owned()),
    }
    let Some(operation) = Operation::from_name(name) else {
        return fail(&format!("unknown operation: {name}"));
    };
    // A missing `args` is an empty one; anything else is passed on as JSON text, as the daemon does.
    let args = request
        .args
        .as_ref()
        .map(|v| serde_json::to_vec(v).unwrap_or_default())
        .unwrap_or_default();
    let reply = backend.dispatch(Call {
        operation,
        args: &args,
        actor: &request.actor,
        client_version: &request.client_version,
    });
    if !reply.success {
        requests.failure(Transport::Tcp, name);
    }
    Outcome::Answer(
        Answer {
            success: reply.success,
            data: reply.data,
            error: reply.error,
        }
        .line(),
    )
}

//! Newline-delimited JSON listener: one request line
//! `{operation, args, actor, token, request_id, client_version}`, one answer line
//! `{success, data, error}`, over kept-alive pooled connections.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{
    CLIENT_VERSION, MAX_MESSAGE_BYTES, Operation, TransportSettings, error_chain,
    looks_like_auth_failure,
};
use crate::endpoint::Endpoint;
use crate::error::{BeadsError, truncate_detail};
use crate::token::Token;

type Connection = BufReader<TcpStream>;

#[derive(Debug)]
pub(crate) struct TcpTransport {
    endpoint: Endpoint,
    /// The endpoint as errors name it.
    endpoint_name: Arc<str>,
    authority: String,
    token: Option<Token>,
    settings: TransportSettings,
    idle: Mutex<Vec<Connection>>,
    next_request_id: AtomicU64,
}

#[derive(Serialize)]
struct RequestLine<'a> {
    operation: &'a str,
    args: &'a serde_json::Value,
    actor: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    request_id: String,
    client_version: &'a str,
    timeout_ms: u128,
}

#[derive(Deserialize)]
struct AnswerLine {
    success: bool,
    #[serde(default)]
    data: serde_json::Value,
    #[serde(default)]
    error: Option<String>,
}

impl TcpTransport {
    /// `authority` is the `host:port` of a `tcp://` endpoint.
    pub fn new(
        endpoint: Endpoint,
        authority: String,
        token: Option<Token>,
        settings: TransportSettings,
    ) -> Self {
        Self {
            endpoint_name: Arc::from(endpoint.to_string()),
            endpoint,
            authority,
            token,
            settings,
            idle: Mutex::new(Vec::new()),
            next_request_id: AtomicU64::new(1),
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn endpoint_name(&self) -> Arc<str> {
        self.endpoint_name.clone()
    }

    pub async fn call(
        &self,
        operation: Operation,
        args: &serde_json::Value,
    ) -> Result<serde_json::Value, BeadsError> {
        let name = operation.wire_name();
        let request = RequestLine {
            operation: name,
            args,
            actor: &self.settings.actor,
            token: self.token.as_ref().map(Token::expose),
            request_id: format!(
                "req-{}",
                self.next_request_id.fetch_add(1, Ordering::Relaxed)
            ),
            client_version: CLIENT_VERSION,
            timeout_ms: self.settings.request_timeout.as_millis(),
        };
        let mut line = serde_json::to_vec(&request)
            .map_err(|error| self.protocol(name, format!("cannot encode the request: {error}")))?;
        line.push(b'\n');

        let answer =
            tokio::time::timeout(self.settings.request_timeout, self.exchange(&line, name))
                .await
                .map_err(|_| BeadsError::TimedOut {
                    endpoint: self.endpoint_name.clone(),
                    operation: name,
                    timeout: self.settings.request_timeout,
                })??;
        let answer: AnswerLine = serde_json::from_slice(&answer).map_err(|error| {
            self.protocol(
                name,
                format!("answer is not a {{success, data, error}} object: {error}"),
            )
        })?;
        if answer.success {
            return Ok(answer.data);
        }
        let message = self.scrub(
            answer
                .error
                .as_deref()
                .unwrap_or("failed without an error text"),
        );
        if looks_like_auth_failure(&message) {
            return Err(BeadsError::Unauthorized {
                endpoint: self.endpoint_name.clone(),
                operation: name,
                message,
            });
        }
        Err(BeadsError::Daemon {
            endpoint: self.endpoint_name.clone(),
            operation: name,
            http_status: None,
            message,
        })
    }

    /// Writes one line and reads one line. The connection goes back to the pool only
    /// after a complete exchange; after any failure it is dropped, since its state
    /// is unknown.
    async fn exchange(&self, line: &[u8], name: &'static str) -> Result<Vec<u8>, BeadsError> {
        let mut connection = match self.take_idle() {
            Some(connection) => connection,
            None => self.connect(name).await?,
        };
        connection
            .get_mut()
            .write_all(line)
            .await
            .map_err(|error| self.unreachable(name, format!("cannot send the request: {error}")))?;

        let mut answer = Vec::new();
        let read = (&mut connection)
            .take(MAX_MESSAGE_BYTES as u64 + 1)
            .read_until(b'\n', &mut answer)
            .await
            .map_err(|error| {
                self.unreachable(name, format!("connection broke while reading: {error}"))
            })?;
        if read == 0 {
            return Err(self.unreachable(
                name,
                "the daemon closed the connection without answering".into(),
            ));
        }
        if answer.last() != Some(&b'\n') {
            if answer.len() > MAX_MESSAGE_BYTES {
                return Err(self.protocol(
                    name,
                    format!("answer line longer than {MAX_MESSAGE_BYTES} bytes"),
                ));
            }
            return Err(self.unreachable(
                name,
                "the connection closed in the middle of the answer".into(),
            ));
        }
        answer.pop();
        self.put_idle(connection);
        Ok(answer)
    }

    async fn connect(&self, name: &'static str) -> Result<Connection, BeadsError> {
        let stream = tokio::time::timeout(
            self.settings.connect_timeout,
            TcpStream::connect(&self.authority),
        )
        .await
        .map_err(|_| {
            self.unreachable(
                name,
                format!("no connection within {:?}", self.settings.connect_timeout),
            )
        })?
        .map_err(|error| self.unreachable(name, error_chain(&error)))?;
        // Request/answer traffic: do not wait to fill segments.
        let _ = stream.set_nodelay(true);
        Ok(BufReader::new(stream))
    }

    /// An idle connection that is still open. One the daemon closed (or that holds
    /// stray bytes) is dropped here rather than failing the next request.
    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some(connection) = idle.pop() {
            if connection.buffer().is_empty() && is_open_and_quiet(connection.get_ref()) {
                return Some(connection);
            }
        }
        None
    }

    fn put_idle(&self, connection: Connection) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < self.settings.max_idle_connections {
            idle.push(connection);
        }
    }

    fn scrub(&self, text: &str) -> String {
        let text = truncate_detail(text);
        match &self.token {
            Some(token) => token.redact(&text),
            None => text,
        }
    }

    fn unreachable(&self, name: &'static str, reason: String) -> BeadsError {
        BeadsError::Unreachable {
            endpoint: self.endpoint_name.clone(),
            operation: name,
            reason: self.scrub(&reason),
        }
    }

    fn protocol(&self, name: &'static str, detail: String) -> BeadsError {
        BeadsError::Protocol {
            endpoint: self.endpoint_name.clone(),
            operation: name,
            detail: self.scrub(&detail),
        }
    }
}

/// True when the peer has neither closed the stream nor sent anything unasked.
fn is_open_and_quiet(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
}

//! One `bd serve` request: URL building, bearer token, timeout, problem+json
//! decoding (bd-serve-v0.md §2), token scrubbing.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, Url, header};
use serde_json::Value;

use super::wire::{PROBLEM_CONTENT_TYPE, Problem};
use crate::endpoint::Endpoint;
use crate::error::{BeadsError, truncate_detail};
use crate::token::Token;
use crate::transport::{CLIENT_VERSION, MAX_MESSAGE_BYTES, error_chain};

/// Longest `Retry-After` honoured; a larger one is clamped.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Query parameters, in order, repeatable.
pub(crate) type Query = Vec<(&'static str, String)>;

/// A failed request: the typed error, and the problem body when there was one
/// (the change feed needs `floor`/`head` of a 410).
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: BeadsError,
    pub problem: Option<Problem>,
}

impl From<Failure> for BeadsError {
    fn from(failure: Failure) -> Self {
        failure.error
    }
}

impl From<BeadsError> for Failure {
    fn from(error: BeadsError) -> Self {
        Self {
            error,
            problem: None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct ServeHttp {
    base: Url,
    name: Arc<str>,
    client: reqwest::Client,
    token: Option<Token>,
    request_timeout: Duration,
}

impl ServeHttp {
    pub fn new(
        url: &str,
        token: Option<Token>,
        request_timeout: Duration,
        connect_timeout: Duration,
        max_idle_connections: usize,
    ) -> Result<Self, BeadsError> {
        let invalid = |reason: &str| BeadsError::InvalidEndpoint {
            endpoint: url.to_owned(),
            reason: reason.to_owned(),
        };
        // Same rules as the daemon's endpoints: no credentials in the URL, no TLS.
        let base = match url.parse::<Endpoint>()? {
            Endpoint::Http { base } => base,
            Endpoint::Tcp { .. } => {
                return Err(invalid(
                    "bd serve speaks HTTP only (bd-serve-v0.md §0); use http://",
                ));
            }
        };
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_max_idle_per_host(max_idle_connections)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(30))
            .build()
            .map_err(|error| {
                invalid(&format!(
                    "cannot build an HTTP client: {}",
                    error_chain(&error)
                ))
            })?;
        Ok(Self {
            name: Arc::from(base.as_str()),
            base,
            client,
            token,
            request_timeout,
        })
    }

    pub fn name(&self) -> Arc<str> {
        self.name.clone()
    }

    pub fn name_str(&self) -> &str {
        &self.name
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// `base` + path segments (each percent-encoded as one segment) + query.
    pub fn url(&self, segments: &[&str], query: &Query) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        url
    }

    /// One request with a JSON answer, within the request timeout.
    pub async fn call(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let mut request = self
            .request(method, url)?
            .timeout(self.request_timeout)
            .header(header::ACCEPT, "application/json");
        if let Some(body) = body {
            // `.json` sets `Content-Type: application/json`, which every body needs
            // (bd-serve-v0.md §2).
            request = request.json(body);
        }
        let response = self.send(request, operation).await?;
        let status = response.status();
        let problem_type = is_problem(&response);
        let retry_after = retry_after(&response);
        let body = self.read_body(response, operation).await?;
        if status.is_success() {
            return self.parse_json(&body, operation).map_err(Failure::from);
        }
        Err(self.failure(operation, status, problem_type, retry_after, &body))
    }

    /// Opens an SSE stream (bd-serve-v0.md §3.10); refusals come before any stream
    /// byte, as problems. No overall timeout: only the answer's head is bounded.
    pub async fn open_stream(
        &self,
        operation: &'static str,
        url: Url,
        last_event_id: Option<u64>,
    ) -> Result<Response, Failure> {
        let mut request = self
            .request(Method::GET, url)?
            .header(header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = tokio::time::timeout(self.request_timeout, self.send(request, operation))
            .await
            .map_err(|_| self.timed_out(operation))??;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let problem_type = is_problem(&response);
        let retry_after = retry_after(&response);
        let body = self.read_body(response, operation).await?;
        Err(self.failure(operation, status, problem_type, retry_after, &body))
    }

    fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, BeadsError> {
        let mut request = self
            .client
            .request(method, url)
            .header(header::USER_AGENT, CLIENT_VERSION);
        if let Some(token) = &self.token {
            // bd-serve-v0.md §2 "Auth": `Authorization: Bearer <t>` on every route.
            let mut value = header::HeaderValue::try_from(format!("Bearer {}", token.expose()))
                .map_err(|_| BeadsError::InvalidEndpoint {
                    endpoint: self.name.to_string(),
                    reason: "the token holds characters not allowed in an HTTP header".into(),
                })?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        Ok(request)
    }

    async fn send(
        &self,
        request: RequestBuilder,
        operation: &'static str,
    ) -> Result<Response, BeadsError> {
        request
            .send()
            .await
            .map_err(|error| self.transport_error(operation, &error))
    }

    async fn read_body(
        &self,
        mut response: Response,
        operation: &'static str,
    ) -> Result<Vec<u8>, BeadsError> {
        let oversize = || {
            self.protocol(
                operation,
                format!("answer larger than {MAX_MESSAGE_BYTES} bytes"),
            )
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_MESSAGE_BYTES as u64)
        {
            return Err(oversize());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(operation, &error))?
        {
            if body.len() + chunk.len() > MAX_MESSAGE_BYTES {
                return Err(oversize());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn parse_json(&self, body: &[u8], operation: &'static str) -> Result<Value, BeadsError> {
        serde_json::from_slice(body)
            .map_err(|error| self.protocol(operation, format!("answer is not JSON: {error}")))
    }

    /// A non-2xx answer as a typed error (bd-serve-v0.md §2): 401 is the token;
    /// anything else is a [`BeadsError::Problem`] (code `unknown` when the body is
    /// not a problem, e.g. a proxy's page).
    pub(crate) fn failure(
        &self,
        operation: &'static str,
        status: StatusCode,
        problem_type: bool,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Failure {
        let problem = Problem::parse(body);
        if problem.is_none() && problem_type {
            tracing::debug!(operation, "a problem+json answer without a code");
        }
        let detail = match &problem {
            Some(problem) => problem.describe(),
            None => String::from_utf8_lossy(body).into_owned(),
        };
        let detail = self.scrub(&detail);
        let error = if status == StatusCode::UNAUTHORIZED {
            BeadsError::Unauthorized {
                endpoint: self.name.clone(),
                operation,
                message: detail,
            }
        } else {
            BeadsError::Problem {
                endpoint: self.name.clone(),
                operation,
                status: status.as_u16(),
                code: problem
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), |p| p.code.clone()),
                detail,
                retry_after,
                body: problem.clone().map(Box::new),
            }
        };
        Failure { error, problem }
    }

    pub(crate) fn scrub(&self, text: &str) -> String {
        let text = truncate_detail(text);
        match &self.token {
            Some(token) => token.redact(&text),
            None => text,
        }
    }

    fn transport_error(&self, operation: &'static str, error: &reqwest::Error) -> BeadsError {
        if error.is_timeout() {
            return self.timed_out(operation);
        }
        if error.is_decode() {
            return self.protocol(operation, error_chain(error));
        }
        BeadsError::Unreachable {
            endpoint: self.name.clone(),
            operation,
            reason: self.scrub(&error_chain(error)),
        }
    }

    fn timed_out(&self, operation: &'static str) -> BeadsError {
        BeadsError::TimedOut {
            endpoint: self.name.clone(),
            operation,
            timeout: self.request_timeout,
        }
    }

    pub(crate) fn protocol(&self, operation: &'static str, detail: impl ToString) -> BeadsError {
        BeadsError::Protocol {
            endpoint: self.name.clone(),
            operation,
            detail: self.scrub(&detail.to_string()),
        }
    }
}

/// Whether the answer says it is `application/problem+json`.
pub(crate) fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim()
                .to_ascii_lowercase()
                .starts_with(PROBLEM_CONTENT_TYPE)
        })
}

/// `Retry-After` in seconds (bd-serve-v0.md §2: on 503); an HTTP date is ignored.
fn retry_after(response: &Response) -> Option<Duration> {
    parse_retry_after(response.headers().get(header::RETRY_AFTER)?.to_str().ok()?)
}

pub(crate) fn parse_retry_after(text: &str) -> Option<Duration> {
    let seconds: u64 = text.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

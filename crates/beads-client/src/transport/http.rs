//! HTTP listener: `POST /bd.v1.BeadsService/<Method>` with a bearer token, answers
//! are the bare `data` (200) or `{"error": …}` (401, 4xx, 500).

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, Url, header};

use super::{CLIENT_VERSION, MAX_MESSAGE_BYTES, Operation, TransportSettings, error_chain};
use crate::endpoint::Endpoint;
use crate::error::{BeadsError, truncate_detail};
use crate::model::{Liveness, Readiness};
use crate::token::Token;

#[derive(Debug)]
pub(crate) struct HttpTransport {
    endpoint: Endpoint,
    /// The endpoint as errors name it.
    endpoint_name: Arc<str>,
    client: reqwest::Client,
    token: Option<Token>,
    settings: TransportSettings,
}

/// What `GET /events` gave.
pub(crate) enum EventsAnswer {
    /// An open event stream.
    Stream(Response),
    /// This daemon has no SSE endpoint (404/405): poll instead.
    NotAvailable,
}

impl HttpTransport {
    pub fn new(
        endpoint: Endpoint,
        token: Option<Token>,
        settings: TransportSettings,
    ) -> Result<Self, BeadsError> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .pool_max_idle_per_host(settings.max_idle_connections)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(30))
            .build()
            .map_err(|error| BeadsError::InvalidEndpoint {
                endpoint: endpoint.to_string(),
                reason: format!("cannot build an HTTP client: {}", error_chain(&error)),
            })?;
        Ok(Self {
            endpoint_name: Arc::from(endpoint.to_string()),
            endpoint,
            client,
            token,
            settings,
        })
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
        let path = format!("bd.v1.BeadsService/{}", operation.http_method());
        let request = self
            .request(Method::POST, self.url(&path, name)?)?
            .timeout(self.settings.request_timeout)
            .json(args);
        let response = self.send(request, name).await?;
        let status = response.status();
        let body = self.read_body(response, name).await?;
        if status.is_success() {
            return self.parse_json(&body, name);
        }
        Err(self.failure(status, &body, name))
    }

    /// `GET /healthz`: 200 for healthy or degraded, 503 (with a body) when unhealthy.
    pub async fn liveness(&self) -> Result<Liveness, BeadsError> {
        let name = "healthz";
        let response = self.probe("healthz", name).await?;
        let status = response.status();
        let body = self.read_body(response, name).await?;
        if status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE {
            let value = self.parse_json(&body, name)?;
            return serde_json::from_value(value).map_err(|error| self.protocol(name, error));
        }
        Err(self.failure(status, &body, name))
    }

    /// `GET /readyz`: 200 `{"status":"ready"}` or 503 `{"status":"not ready","reason":…}`.
    pub async fn readiness(&self) -> Result<Readiness, BeadsError> {
        let name = "readyz";
        let response = self.probe("readyz", name).await?;
        let status = response.status();
        let body = self.read_body(response, name).await?;
        if !(status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE) {
            return Err(self.failure(status, &body, name));
        }
        let value = self.parse_json(&body, name)?;
        let field = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
        Ok(Readiness {
            ready: status.is_success() && field("status") == Some("ready"),
            reason: field("reason")
                .filter(|reason| !reason.is_empty())
                .map(truncate_detail),
        })
    }

    /// Opens `GET /events[?since=…]`. No request timeout: the stream is meant to
    /// stay open; the reader watches for silence instead.
    pub async fn open_events(&self, since: Option<u64>) -> Result<EventsAnswer, BeadsError> {
        let name = "events";
        let mut url = self.url("events", name)?;
        if let Some(since) = since {
            url.query_pairs_mut()
                .append_pair("since", &since.to_string());
        }
        let request = self
            .request(Method::GET, url)?
            .header(header::ACCEPT, "text/event-stream");
        let response =
            tokio::time::timeout(self.settings.request_timeout, self.send(request, name))
                .await
                .map_err(|_| self.timed_out(name))??;
        let status = response.status();
        if status.is_success() {
            return Ok(EventsAnswer::Stream(response));
        }
        if matches!(
            status,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        ) {
            return Ok(EventsAnswer::NotAvailable);
        }
        let body = self.read_body(response, name).await?;
        Err(self.failure(status, &body, name))
    }

    async fn probe(&self, path: &str, name: &'static str) -> Result<Response, BeadsError> {
        let request = self
            .request(Method::GET, self.url(path, name)?)?
            .timeout(self.settings.request_timeout);
        self.send(request, name).await
    }

    fn url(&self, path: &str, name: &'static str) -> Result<Url, BeadsError> {
        self.endpoint
            .http_url(path)
            .ok_or_else(|| self.protocol(name, format!("cannot build the URL of {path}")))
    }

    fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, BeadsError> {
        let mut request = self
            .client
            .request(method, url)
            .header("X-BD-Actor", &self.settings.actor)
            .header("X-BD-Client-Version", CLIENT_VERSION);
        if let Some(token) = &self.token {
            let mut value = header::HeaderValue::try_from(format!("Bearer {}", token.expose()))
                .map_err(|_| BeadsError::InvalidEndpoint {
                    endpoint: self.endpoint.to_string(),
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
        name: &'static str,
    ) -> Result<Response, BeadsError> {
        request
            .send()
            .await
            .map_err(|error| self.transport_error(name, &error))
    }

    /// Reads the whole body, refusing more than [`MAX_MESSAGE_BYTES`].
    async fn read_body(
        &self,
        mut response: Response,
        name: &'static str,
    ) -> Result<Vec<u8>, BeadsError> {
        if response
            .content_length()
            .is_some_and(|length| length > MAX_MESSAGE_BYTES as u64)
        {
            return Err(self.oversize(name));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(name, &error))?
        {
            if body.len() + chunk.len() > MAX_MESSAGE_BYTES {
                return Err(self.oversize(name));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn parse_json(&self, body: &[u8], name: &'static str) -> Result<serde_json::Value, BeadsError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(body)
            .map_err(|error| self.protocol(name, format!("answer is not JSON: {error}")))
    }

    /// A non-success answer: 401 is the token, anything else is the daemon's error.
    fn failure(&self, status: StatusCode, body: &[u8], name: &'static str) -> BeadsError {
        let text = String::from_utf8_lossy(body);
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|value| {
                value
                    .get("error")
                    .and_then(|e| e.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| text.into_owned());
        let message = self.scrub(&message);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return BeadsError::Unauthorized {
                endpoint: self.endpoint_name.clone(),
                operation: name,
                message,
            };
        }
        BeadsError::Daemon {
            endpoint: self.endpoint_name.clone(),
            operation: name,
            http_status: Some(status.as_u16()),
            message,
        }
    }

    fn scrub(&self, text: &str) -> String {
        let text = truncate_detail(text);
        match &self.token {
            Some(token) => token.redact(&text),
            None => text,
        }
    }

    fn transport_error(&self, name: &'static str, error: &reqwest::Error) -> BeadsError {
        if error.is_timeout() {
            return self.timed_out(name);
        }
        if error.is_decode() {
            return self.protocol(name, error_chain(error));
        }
        BeadsError::Unreachable {
            endpoint: self.endpoint_name.clone(),
            operation: name,
            reason: self.scrub(&error_chain(error)),
        }
    }

    fn timed_out(&self, name: &'static str) -> BeadsError {
        BeadsError::TimedOut {
            endpoint: self.endpoint_name.clone(),
            operation: name,
            timeout: self.settings.request_timeout,
        }
    }

    fn oversize(&self, name: &'static str) -> BeadsError {
        self.protocol(
            name,
            format!("answer larger than {MAX_MESSAGE_BYTES} bytes"),
        )
    }

    pub(crate) fn protocol(&self, name: &'static str, detail: impl ToString) -> BeadsError {
        BeadsError::Protocol {
            endpoint: self.endpoint_name.clone(),
            operation: name,
            detail: self.scrub(&detail.to_string()),
        }
    }
}

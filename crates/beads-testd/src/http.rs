//! The HTTP listener (the Kubernetes-era daemon): probes, JSON metrics, Connect-style RPC and SSE.
//!
//! Connections are served one by one with hyper (HTTP/1.1, keep-alive) rather than `axum::serve`, so
//! that a "drop" fault can close a connection without writing a single byte.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::auth::check_bearer;
use crate::faults::{FaultAction, endpoint};
use crate::mutation::EventFilter;
use crate::ops::{Backend, Call, Connections, Operation};
use crate::requests::Transport;
use crate::sse::Stream;
use crate::tenant::Tenants;

/// The largest RPC body read, as the daemon's.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The body sent by the "malformed" fault.
const MALFORMED_BODY: &str = "{\"status\": \"healthy\", \"data\": [tru";

struct HttpState {
    tenants: Arc<Tenants>,
    keepalive: Duration,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// Lets a handler close its own connection without answering.
#[derive(Clone)]
pub(crate) struct Hangup(pub(crate) CancellationToken);

pub(crate) async fn serve(
    listener: TcpListener,
    tenants: Arc<Tenants>,
    keepalive: Duration,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let state = Arc::new(HttpState {
        tenants,
        keepalive,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    });
    let router = router(Arc::clone(&state));
    let connections = Arc::clone(&state.tenants.default_backend().connections);
    accept(listener, router, connections, shutdown, tracker).await;
}

/// Serves `router` on every connection `listener` accepts, each connection as its own task that
/// a [`Hangup`] (in the request extensions) can close without answering.
pub(crate) async fn accept(
    listener: TcpListener,
    router: Router,
    connections: Arc<Connections>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let (stream, _) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "testd http accept failed");
                    continue;
                }
            },
        };
        let router = router.clone();
        let connection_guard = connections.open();
        let hangup = shutdown.child_token();
        tracker.spawn(async move {
            let _connection_guard = connection_guard;
            let handle = Hangup(hangup.clone());
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(handle.clone());
                router.clone().oneshot(request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = hangup.cancelled() => {} // dropping the connection closes the socket unanswered
            }
        });
    }
}

fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/health", get(healthz))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/events", get(events))
        .route("/bd.v1.BeadsService/{method}", post(rpc))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "invalid endpoint") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The tenant a request's bearer token reaches (the default one without a token).
fn tenant_of(state: &HttpState, headers: &HeaderMap) -> Arc<Backend> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    state.tenants.route(token)
}

/// Finds the request's tenant, records the request there and applies latency, authentication (when
/// `authenticate`) and one-shot faults, in that order. The flag says whether the answer must be
/// malformed.
async fn admit(
    state: &HttpState,
    operation: &str,
    headers: &HeaderMap,
    authenticate: bool,
    hangup: &Hangup,
) -> Result<(Arc<Backend>, bool), Response> {
    let backend = tenant_of(state, headers);
    backend.requests.request(Transport::Http, operation);
    if let Some(delay) = backend.faults.latency(Transport::Http, operation) {
        tokio::time::sleep(delay).await;
    }
    if authenticate {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Err(reason) = check_bearer(
            &backend.token,
            backend.faults.rejects_tokens(),
            authorization,
        ) {
            backend.requests.failure(Transport::Http, operation);
            return Err(error(StatusCode::UNAUTHORIZED, reason));
        }
    }
    match backend.faults.take(Transport::Http, operation) {
        None => Ok((backend, false)),
        Some(FaultAction::Malformed) => Ok((backend, true)),
        Some(FaultAction::Fail(message)) => {
            backend.requests.failure(Transport::Http, operation);
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, &message))
        }
        Some(FaultAction::Drop) => {
            backend.requests.failure(Transport::Http, operation);
            hangup.0.cancel();
            std::future::pending().await
        }
    }
}

async fn healthz(
    State(state): State<Arc<HttpState>>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
) -> Response {
    let backend = match gate(&state, endpoint::HEALTHZ, &headers, false, &hangup).await {
        Ok(backend) => backend,
        Err(response) => return response,
    };
    let (status, error) = backend.health_status();
    let mut body = json!({
        "status": status,
        "version": backend.version,
        "uptime": format!("{:.0}s", backend.uptime_seconds()),
    });
    if let Some(error) = error {
        body["error"] = Value::from(error);
    }
    // Degraded stays 200: the daemon is alive, only its database is slow or away.
    let code = if status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    json_response(code, &body)
}

async fn readyz(
    State(state): State<Arc<HttpState>>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
) -> Response {
    let backend = match gate(&state, endpoint::READYZ, &headers, false, &hangup).await {
        Ok(backend) => backend,
        Err(response) => return response,
    };
    let (status, error) = backend.health_status();
    let not_ready = backend
        .faults
        .not_ready()
        .or_else(|| (status != "healthy").then(|| error.unwrap_or_default()));
    match not_ready {
        Some(reason) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "not ready", "reason": reason}),
        ),
        None => json_response(StatusCode::OK, &json!({"status": "ready"})),
    }
}

async fn metrics(
    State(state): State<Arc<HttpState>>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
) -> Response {
    let backend = match gate(&state, endpoint::METRICS, &headers, true, &hangup).await {
        Ok(backend) => backend,
        Err(response) => return response,
    };
    let reply = backend.dispatch(Call {
        operation: Operation::Metrics,
        args: b"",
        actor: "",
        client_version: "",
    });
    json_response(StatusCode::OK, &reply.data.unwrap_or_else(|| json!({})))
}

async fn rpc(
    State(state): State<Arc<HttpState>>,
    Extension(hangup): Extension<Hangup>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = Operation::from_method(&method);
    let name = operation.map_or(method.as_str(), |op| op.name());
    let (backend, malformed) = match admit(&state, name, &headers, true, &hangup).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let Some(operation) = operation else {
        backend.requests.failure(Transport::Http, name);
        return error(StatusCode::NOT_FOUND, &format!("unknown method: {method}"));
    };
    if malformed {
        return malformed_response();
    }
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let reply = backend.dispatch(Call {
        operation,
        args: &body,
        actor: header_text("x-bd-actor"),
        client_version: header_text("x-bd-client-version"),
    });
    if reply.success {
        // The HTTP transport answers with the bare data, no envelope.
        json_response(StatusCode::OK, &reply.data.unwrap_or_else(|| json!({})))
    } else {
        backend.requests.failure(Transport::Http, name);
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            reply.error.as_deref().unwrap_or("unknown error"),
        )
    }
}

#[derive(Debug, Default, Deserialize)]
struct EventsQuery {
    since: Option<String>,
    filter: Option<String>,
}

async fn events(
    State(state): State<Arc<HttpState>>,
    Extension(hangup): Extension<Hangup>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Response {
    let (backend, garbage_first) =
        match admit(&state, endpoint::EVENTS, &headers, true, &hangup).await {
            Ok(admitted) => admitted,
            Err(response) => return response,
        };
    let since = match query
        .since
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<i64>)
        .transpose()
    {
        Ok(since) => since.filter(|&ms| ms > 0), // the daemon replays only for a positive `since`
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid 'since' parameter: must be unix ms",
            );
        }
    };
    let (replay, live) = backend.store.subscribe_since(since);
    let stream = Stream {
        replay,
        live,
        filter: EventFilter::parse(query.filter.as_deref().unwrap_or_default()),
        keepalive: state.keepalive,
        garbage_first,
    };
    let (tx, rx) = mpsc::channel(64);
    state.tracker.spawn(stream.pump(tx, state.shutdown.clone()));

    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// [`admit`] for endpoints whose malformed answer is the generic garbage body.
async fn gate(
    state: &HttpState,
    operation: &str,
    headers: &HeaderMap,
    authenticate: bool,
    hangup: &Hangup,
) -> Result<Arc<Backend>, Response> {
    match admit(state, operation, headers, authenticate, hangup).await? {
        (backend, false) => Ok(backend),
        (_, true) => Err(malformed_response()),
    }
}

fn error(code: StatusCode, message: &str) -> Response {
    json_response(code, &json!({ "error": message }))
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn malformed_response() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        MALFORMED_BODY,
    )
        .into_response()
}

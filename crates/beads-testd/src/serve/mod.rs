//! The `bd serve` personality: beads HTTP API v0 (`/healthz`, `/v0/beads/…`) on the HTTP
//! listener, over the same tenants, stores, faults and request logs as the daemon personality.
//!
//! Every request goes through, in order: the Host allowlist, routing (unknown path or method →
//! 404, no credential needed), the tenant's latency fault, bearer auth (all but `GET /healthz`),
//! the `Bd-Project-Id` check, one-shot faults, the `busy` fault (routes that need the database),
//! then the route's own parameter and body checks.
// bd-serve-v0.md §2 ("Middleware order: Host check → (per route) auth → project stamp → DB slot →
// handler")

mod events;
mod issues;
mod params;
mod problem;
pub(crate) mod wire;
mod write;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use events::MAX_WATCH_STREAMS;
use params::Params;
use problem::{Problem, RequestIds, ok};

use crate::faults::FaultAction;
use crate::http::Hangup;
use crate::ops::Backend;
use crate::requests::Transport;
use crate::tenant::Tenants;

/// Which server a [`crate::TestDaemon`] plays on its HTTP listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Personality {
    /// The bd daemon: `/healthz`, `/readyz`, `/metrics`, Connect-style RPC, `/events` (+ TCP).
    #[default]
    Daemon,
    /// `bd serve`, beads HTTP API v0 (the TCP NDJSON listener stays up, unchanged).
    Serve,
}

/// The operation names under which bd serve requests are counted in the [`crate::RequestLog`]
/// (and matched by a [`crate::Scope`]).
pub mod op {
    pub const HEALTHZ: &str = "GET /healthz";
    pub const READY: &str = "GET /v0/beads/ready";
    pub const CONTEXT: &str = "GET /v0/beads/context";
    pub const LIST: &str = "GET /v0/beads/issues";
    pub const COUNT: &str = "GET /v0/beads/issues:count";
    pub const GET: &str = "GET /v0/beads/issues/{id}";
    pub const PATCH: &str = "PATCH /v0/beads/issues/{id}";
    pub const CAS_METADATA: &str = "POST /v0/beads/issues/{id}:casMetadata";
    pub const EVENTS: &str = "GET /v0/beads/events";
    pub const WATCH: &str = "GET /v0/beads/events:watch";
    /// Any path or method bd serve does not serve (counted on the default tenant).
    pub const UNKNOWN: &str = "unknown route";
}

/// The v0 operation tokens plus the behaviour token `project.enforce`.
// bd-serve-v0.md §3.3
pub const CAPABILITIES: [&str; 40] = [
    "ready.list",
    "ready.count",
    "issues.list",
    "issues.query",
    "issues.count",
    "issues.get",
    "issues.related",
    "issues.create",
    "issues.addComment",
    "issues.batchClose",
    "issues.claim",
    "issues.claimNext",
    "issues.release",
    "issues.close",
    "issues.reopen",
    "issues.update",
    "issues.sweep",
    "issues.delete",
    "issues.batchCreate",
    "issues.batchApply",
    "stats.get",
    "config.list",
    "config.get",
    "config.set",
    "config.unset",
    "dependencies.cycles",
    "dependencies.list",
    "dependencies.count",
    "dependencies.blocking",
    "dependencies.tree",
    "dependencies.add",
    "dependencies.remove",
    "memories.list",
    "memories.get",
    "memories.remember",
    "memories.forget",
    "events.list",
    "events.watch",
    "issues.casMetadata",
    "project.enforce",
];

/// The `schema_version` reported by `/v0/beads/context` (any number; clients must not gate on it).
// bd-serve-v0.md §2: gate on capabilities and bd_version, never on schema_version.
pub const SCHEMA_VERSION: i64 = 9;

/// The largest body read (`batchApply` is not served).
// bd-serve-v0.md §1 (body 1 MiB)
const MAX_BODY: usize = 1024 * 1024;

/// What the serve personality needs from the daemon's configuration.
#[derive(Debug, Clone)]
pub(crate) struct ServeSettings {
    pub version: String,
    pub bind: SocketAddr,
    pub allowed_hosts: Vec<String>,
    pub allow_non_loopback: bool,
    pub heartbeat: Duration,
    pub database: String,
    pub project_id: String,
}

struct ServeState {
    tenants: Arc<Tenants>,
    settings: ServeSettings,
    request_ids: RequestIds,
    /// Open watch streams per tenant (by token).
    watchers: Mutex<HashMap<String, usize>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

pub(crate) async fn serve(
    listener: TcpListener,
    tenants: Arc<Tenants>,
    settings: ServeSettings,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let connections = Arc::clone(&tenants.default_backend().connections);
    let state = Arc::new(ServeState {
        request_ids: RequestIds::new(u64::from(settings.bind.port())),
        tenants,
        settings,
        watchers: Mutex::default(),
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    });
    let router = Router::new().fallback(handle).with_state(state);
    crate::http::accept(listener, router, connections, shutdown, tracker).await;
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Healthz,
    Ready,
    Context,
    List,
    Count,
    Get(String),
    Patch(String),
    Cas(String),
    Events,
    Watch,
}

impl Route {
    // bd-serve-v0.md §2: unknown path or wrong method is a 404 (no 405).
    fn of(method: &Method, path: &str) -> Option<Route> {
        let get = method == Method::GET;
        let route = match path {
            "/healthz" if get => Route::Healthz,
            "/v0/beads/ready" if get => Route::Ready,
            "/v0/beads/context" if get => Route::Context,
            "/v0/beads/issues" if get => Route::List,
            "/v0/beads/issues:count" if get => Route::Count,
            "/v0/beads/events" if get => Route::Events,
            "/v0/beads/events:watch" if get => Route::Watch,
            _ => {
                let rest = path.strip_prefix("/v0/beads/issues/")?;
                if rest.is_empty() || rest.contains('/') {
                    return None;
                }
                if let Some(id) = rest.strip_suffix(":casMetadata") {
                    return (method == Method::POST && !id.is_empty())
                        .then(|| Route::Cas(params::decode_path(id)));
                }
                let id = params::decode_path(rest);
                match *method {
                    Method::GET => Route::Get(id),
                    Method::PATCH => Route::Patch(id),
                    _ => return None,
                }
            }
        };
        Some(route)
    }

    fn operation(&self) -> &'static str {
        match self {
            Route::Healthz => op::HEALTHZ,
            Route::Ready => op::READY,
            Route::Context => op::CONTEXT,
            Route::List => op::LIST,
            Route::Count => op::COUNT,
            Route::Get(_) => op::GET,
            Route::Patch(_) => op::PATCH,
            Route::Cas(_) => op::CAS_METADATA,
            Route::Events => op::EVENTS,
            Route::Watch => op::WATCH,
        }
    }

    /// Routes that take a database slot (and so can be `busy`).
    // bd-serve-v0.md §3.1 (`/healthz`: no DB), §3.3 (`/context`: no DB)
    fn needs_database(&self) -> bool {
        !matches!(self, Route::Healthz | Route::Context)
    }
}

/// The Host allowlist: every spelling of 127.0.0.1 and ::1, `localhost`, the bind IP, any IP
/// literal when bound to a wildcard, and the configured extra names. Port stripped, lowercased.
// bd-serve-v0.md §1 (Host allowlist)
fn host_allowed(settings: &ServeSettings, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default().to_owned()
    } else if host.matches(':').count() == 1 {
        host.split(':').next().unwrap_or_default().to_owned()
    } else {
        host.clone()
    };
    if bare == "localhost"
        || settings.allowed_hosts.iter().any(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .eq_ignore_ascii_case(&bare)
        })
    {
        return true;
    }
    let Ok(ip) = bare.parse::<IpAddr>() else {
        return false; // an unlisted DNS name is never allowed
    };
    let loopback = match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => {
            v6 == std::net::Ipv6Addr::LOCALHOST
                || v6.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    };
    loopback || ip == settings.bind.ip() || settings.bind.ip().is_unspecified()
}

/// The bearer token of a request; the scheme is case-insensitive.
// bd-serve-v0.md §2 (`Authorization: Bearer <t>`, scheme case-insensitive)
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// An empty server token = no authentication (never 401); the `reject_tokens` fault refuses all.
fn authenticated(backend: &Backend, headers: &HeaderMap) -> bool {
    let reject_all = backend.faults.rejects_tokens();
    if backend.token.is_empty() && !reject_all {
        return true;
    }
    !reject_all && bearer(headers) == Some(backend.token.as_str())
}

fn capabilities(backend: &Backend) -> Vec<&'static str> {
    let removed = backend.faults.removed_capabilities();
    CAPABILITIES
        .iter()
        .copied()
        .filter(|c| !removed.iter().any(|r| r == c))
        .collect()
}

async fn handle(State(state): State<Arc<ServeState>>, request: Request) -> Response {
    let request_id = state.request_ids.mint();
    let (parts, body) = request.into_parts();
    let refuse = |problem: Problem| problem.into_response(&request_id);

    // 1. Host check, before anything else (even before the 404).
    if !host_allowed(&state.settings, &parts.headers) {
        state
            .tenants
            .default_backend()
            .requests
            .request(Transport::Http, op::UNKNOWN);
        return refuse(Problem::invalid(
            "Host",
            "invalid_value",
            "the Host header is not allowed",
        ));
    }
    // 2. Routing: an unknown path or method is a 404 without any credential.
    let Some(route) = Route::of(&parts.method, parts.uri.path()) else {
        let backend = state.tenants.default_backend();
        backend.requests.request(Transport::Http, op::UNKNOWN);
        backend.requests.failure(Transport::Http, op::UNKNOWN);
        return refuse(Problem::not_found("no such route"));
    };
    let operation = route.operation();
    let backend = state.tenants.route(bearer(&parts.headers));
    backend.requests.request(Transport::Http, operation);
    let response = admit_and_run(&state, &backend, &route, parts, body, &request_id).await;
    if response.status() != StatusCode::OK {
        backend.requests.failure(Transport::Http, operation);
    }
    response
}

async fn admit_and_run(
    state: &Arc<ServeState>,
    backend: &Arc<Backend>,
    route: &Route,
    parts: axum::http::request::Parts,
    body: Body,
    request_id: &str,
) -> Response {
    let refuse = |problem: Problem| problem.into_response(request_id);
    let operation = route.operation();
    if let Some(delay) = backend.faults.latency(Transport::Http, operation) {
        tokio::time::sleep(delay).await;
    }
    // 3. Auth on every route but GET /healthz.
    if *route != Route::Healthz && !authenticated(backend, &parts.headers) {
        return refuse(Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "missing or invalid bearer token",
        ));
    }
    // 4. Project stamp (not on /healthz and /context).
    // bd-serve-v0.md §2 (`Bd-Project-Id` ≠ server `project_id` → 400 `project_mismatch`)
    if !matches!(route, Route::Healthz | Route::Context)
        && let Some(declared) = parts.headers.get("bd-project-id")
        && declared.to_str().ok() != Some(state.settings.project_id.as_str())
    {
        return refuse(
            Problem::invalid(
                "Bd-Project-Id",
                "project_mismatch",
                "Bd-Project-Id does not match this server's project",
            )
            .with("server_project_id", state.settings.project_id.as_str()),
        );
    }
    // One-shot faults of the shared machinery.
    match backend.faults.take(Transport::Http, operation) {
        None => {}
        Some(FaultAction::Fail(message)) => {
            tracing::debug!(%message, operation, "testd serve: injected failure");
            // bd-serve-v0.md §2: 500 `internal` has a fixed detail.
            return refuse(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ));
        }
        Some(FaultAction::Drop) => {
            if let Some(hangup) = parts.extensions.get::<Hangup>() {
                hangup.0.cancel();
            }
            return std::future::pending().await;
        }
        Some(FaultAction::Malformed) => {
            let mut response = (StatusCode::OK, "{\"items\": [{\"id\": tru").into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            return response;
        }
    }
    // 5. The database slot.
    // bd-serve-v0.md §1 (10 s wait for a DB slot, then 503 `busy`), §2 (Retry-After)
    if route.needs_database()
        && let Some(retry_after) = backend.faults.take_busy()
    {
        return refuse(Problem::unavailable(
            "busy",
            retry_after,
            "the server is busy; retry later",
        ));
    }
    let params = Params::parse(parts.uri.query());
    match run(
        state,
        backend,
        route,
        &params,
        parts.headers,
        body,
        request_id,
    )
    .await
    {
        Ok(response) => response,
        Err(problem) => refuse(problem),
    }
}

async fn run(
    state: &Arc<ServeState>,
    backend: &Arc<Backend>,
    route: &Route,
    params: &Params,
    headers: HeaderMap,
    body: Body,
    request_id: &str,
) -> Result<Response, Problem> {
    let settings = &state.settings;
    let store = &backend.store;
    let non_loopback = settings.allow_non_loopback;
    let answer = match route {
        // bd-serve-v0.md §3.1: no params (any → 400), always 200 {"status":"ok"}.
        Route::Healthz => {
            params.check(&[])?;
            json!({"status": "ok"})
        }
        Route::Ready => {
            params.check(&issues::READY_PARAMS)?;
            issues::ready(store, params, non_loopback)?
        }
        // bd-serve-v0.md §3.3
        Route::Context => {
            params.check(&[])?;
            json!({
                "api_version": "v0",
                "bd_version": settings.version,
                "schema_version": SCHEMA_VERSION,
                "backend": "dolt",
                "dolt_mode": "server",
                "database": settings.database,
                "project_id": settings.project_id,
                "capabilities": capabilities(backend),
            })
        }
        Route::List => {
            params.check(&issues::LIST_PARAMS)?;
            issues::list(store, params, non_loopback)?
        }
        Route::Count => {
            params.check(&issues::COUNT_PARAMS)?;
            issues::count(store, params)?
        }
        Route::Get(id) => {
            params.check(&issues::GET_PARAMS)?;
            issues::get(store, params, id)?
        }
        Route::Patch(id) | Route::Cas(id) => {
            params.check(&[])?;
            let body = to_bytes(body, MAX_BODY).await.map_err(|_| {
                Problem::invalid("body", "invalid_value", "the body is larger than 1 MiB")
            })?;
            if matches!(route, Route::Patch(_)) {
                write::patch(store, &headers, &body, id)?
            } else {
                write::cas_metadata(store, &headers, &body, id)?
            }
        }
        Route::Events => {
            params.check(&events::POLL_PARAMS)?;
            events::poll(store, params, backend.faults.journal_is_disabled())?
        }
        Route::Watch => return watch(state, backend, params, &headers, request_id),
    };
    Ok(ok(&answer))
}

/// Counts a tenant's open watch stream until dropped.
struct WatchSlot {
    state: Arc<ServeState>,
    tenant: String,
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut watchers = self
            .state
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = watchers.get_mut(&self.tenant) {
            *open = open.saturating_sub(1);
        }
    }
}

fn saturated() -> Problem {
    // bd-serve-v0.md §3.10: 503 `events_watch_saturated` (poll instead) + Retry-After.
    Problem::unavailable(
        "events_watch_saturated",
        1,
        "too many watch streams; poll /v0/beads/events instead",
    )
}

// bd-serve-v0.md §3.10: every refusal comes before any stream byte.
fn watch(
    state: &Arc<ServeState>,
    backend: &Arc<Backend>,
    params: &Params,
    headers: &HeaderMap,
    request_id: &str,
) -> Result<Response, Problem> {
    params.check(&events::WATCH_PARAMS)?;
    let start = events::watch_start(params, headers)?;
    if let Some(problem) =
        events::watch_refusal(&backend.store, start, backend.faults.journal_is_disabled())
    {
        return Err(problem);
    }
    if backend.faults.watch_is_saturated() {
        return Err(saturated());
    }
    let slot = {
        let mut watchers = state
            .watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let open = watchers.entry(backend.token.clone()).or_default();
        if *open >= MAX_WATCH_STREAMS {
            return Err(saturated());
        }
        *open += 1;
        WatchSlot {
            state: Arc::clone(state),
            tenant: backend.token.clone(),
        }
    };
    let stream = events::Watch {
        store: backend.store.clone(),
        start,
        heartbeat: state.settings.heartbeat,
        request_id: request_id.to_owned(),
    };
    let (tx, rx) = mpsc::channel(64);
    let shutdown = state.shutdown.clone();
    state.tracker.spawn(async move {
        let _slot = slot;
        stream.pump(tx, shutdown).await;
    });
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, std::convert::Infallible>));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    problem::no_store(headers);
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

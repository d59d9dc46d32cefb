//! The operator's HTTP endpoints: `/metrics` (Prometheus text), `/healthz`
//! (the process serves requests) and `/readyz` (it can do its job).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Where the operator stands, as `/readyz` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Starting up: no leadership decision and no caches yet.
    Starting,
    /// Another replica holds the lease; this one is healthy and waits.
    StandingBy,
    /// Running controllers; ready once every scope's cache has its first full list.
    Leading {
        scopes: usize,
        ready_scopes: usize,
    },
    ShuttingDown,
}

impl Readiness {
    /// Whether `/readyz` answers 200, and why not otherwise.
    pub fn check(&self) -> Result<&'static str, String> {
        match self {
            Readiness::StandingBy => Ok("standing by: another replica holds the lease"),
            Readiness::Leading {
                scopes,
                ready_scopes,
            } if ready_scopes >= scopes => Ok("leading: caches synced"),
            Readiness::Leading {
                scopes,
                ready_scopes,
            } => Err(format!(
                "caches still loading ({ready_scopes} of {scopes} scopes synced)"
            )),
            Readiness::Starting => Err("starting".into()),
            Readiness::ShuttingDown => Err("shutting down".into()),
        }
    }
}

/// Shared, updatable readiness.
#[derive(Clone, Debug)]
pub struct Health {
    state: Arc<Mutex<Readiness>>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(Readiness::Starting)),
        }
    }
}

impl Health {
    pub fn get(&self) -> Readiness {
        self.state
            .lock()
            .expect("the lock is never held across a panic")
            .clone()
    }

    pub fn set(&self, readiness: Readiness) {
        *self
            .state
            .lock()
            .expect("the lock is never held across a panic") = readiness;
    }

    /// Begins a leadership term over `scopes` caches, none synced yet.
    pub fn leading(&self, scopes: usize) {
        self.set(Readiness::Leading {
            scopes,
            ready_scopes: 0,
        });
    }

    /// One more scope's cache has synced.
    pub fn scope_ready(&self) {
        let mut state = self
            .state
            .lock()
            .expect("the lock is never held across a panic");
        if let Readiness::Leading { ready_scopes, .. } = &mut *state {
            *ready_scopes += 1;
        }
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Health,
}

/// The routes, separate from the listener so they can be tested in-process.
pub fn router(metrics: Arc<Metrics>, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, health })
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.health.get().check() {
        Ok(reason) => (StatusCode::OK, reason.to_string()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
    }
}

/// Serves the routes on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Health,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    axum::serve(listener, router(metrics, health))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get_path(router: Router, path: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).expect("a request"))
            .await
            .expect("the router answers");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn readyz_follows_leadership_and_cache_sync() {
        let metrics = Arc::new(Metrics::new());
        let health = Health::default();
        let app = || router(metrics.clone(), health.clone());

        assert_eq!(
            get_path(app(), "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        health.set(Readiness::StandingBy);
        assert_eq!(get_path(app(), "/readyz").await.0, StatusCode::OK);

        health.leading(2);
        health.scope_ready();
        let (status, body) = get_path(app(), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("1 of 2"), "{body}");
        health.scope_ready();
        assert_eq!(get_path(app(), "/readyz").await.0, StatusCode::OK);

        health.set(Readiness::ShuttingDown);
        let (status, body) = get_path(app(), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("shutting down"), "{body}");
        assert_eq!(
            get_path(app(), "/healthz").await,
            (StatusCode::OK, "ok".into())
        );
    }

    #[tokio::test]
    async fn metrics_are_served_as_prometheus_text() {
        let metrics = Arc::new(Metrics::new());
        metrics.beads_events.inc_by(3);
        let (status, body) = get_path(router(metrics, Health::default()), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("gastown_beads_events_processed_total 3"),
            "{body}"
        );
    }
}

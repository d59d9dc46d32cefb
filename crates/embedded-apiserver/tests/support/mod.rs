//! Shared helpers for the integration tests: a server per test, bounded in time.
#![allow(dead_code)]

pub mod kubectl;

use embedded_apiserver::{Config, EmbeddedApiServer};
use std::future::Future;
use std::time::Duration;

/// Every test body runs under this bound.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn server() -> EmbeddedApiServer {
    EmbeddedApiServer::start(Config::default())
        .await
        .expect("server starts")
}

/// Runs `body` against a fresh server and shuts the server down afterwards.
pub async fn with_server<F, Fut>(body: F)
where
    F: FnOnce(EmbeddedApiServer) -> Fut,
    Fut: Future<Output = EmbeddedApiServer>,
{
    let server = server().await;
    let server = tokio::time::timeout(TEST_TIMEOUT, body(server))
        .await
        .expect("test finished in time");
    server.shutdown().await;
}

/// Polls `check` until it returns `Some`, for up to ten seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs a test body that manages its own server under [`TEST_TIMEOUT`].
pub async fn bounded<Fut: Future<Output = ()>>(body: Fut) {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test finished in time");
}

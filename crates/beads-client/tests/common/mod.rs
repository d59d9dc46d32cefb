//! Shared set-up for tests against the test daemon.
#![allow(dead_code)]

use std::time::Duration;

use beads_client::{BeadsClient, ClientConfig, MutationStreamConfig, Token};
use beads_testd::{TestDaemon, TestDaemonConfig};

/// A token no test output may ever contain.
pub const SECRET: &str = "tok-5f3a9c-do-not-print";

pub async fn daemon() -> TestDaemon {
    TestDaemon::start(TestDaemonConfig {
        token: SECRET.to_owned(),
        keepalive_interval: Duration::from_millis(50),
        ..TestDaemonConfig::default()
    })
    .await
    .expect("test daemon starts")
}

/// Short delays so failure tests stay fast; bounded everywhere.
pub fn fast_config() -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(1),
        read_retries: 3,
        retry_min_delay: Duration::from_millis(5),
        retry_max_delay: Duration::from_millis(20),
        mutations: MutationStreamConfig {
            reconnect_min_delay: Duration::from_millis(5),
            reconnect_max_delay: Duration::from_millis(50),
            poll_interval: Duration::from_millis(20),
            idle_timeout: Duration::from_secs(2),
            relist_interval: Duration::from_millis(100),
        },
        ..ClientConfig::default()
    }
}

pub fn client(url: &str, config: ClientConfig) -> BeadsClient {
    BeadsClient::with_config(url.parse().expect("endpoint"), Token::new(SECRET), config)
        .expect("client")
}

/// Both endpoints of a daemon, named for assertion messages.
pub fn endpoints(daemon: &TestDaemon) -> [(&'static str, String); 2] {
    [("http", daemon.http_url()), ("tcp", daemon.tcp_url())]
}

/// Bounds a test step in time.
pub async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 20 s"))
}

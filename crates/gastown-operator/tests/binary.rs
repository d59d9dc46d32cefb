//! The `gastown-operator run` binary as a deployment runs it: configured by
//! environment variables (KUBECONFIG, BD_DAEMON_HOST, METRICS_ADDR, ...), it
//! runs the town, serves /healthz, /readyz and /metrics, and stops cleanly on
//! SIGTERM.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use common::{CONVERGE, Harness, eventually, minimal_town, running_town};
use gastown_api::GasTown;
use kube::api::PostParams;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A plain HTTP/1.0 GET: the status code and the body.
async fn get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_runs_a_town_serves_probes_and_metrics_and_stops_on_sigterm() {
    // From a kubeconfig, with no flag about it: no leader election, so no
    // Lease in a namespace a fresh cluster may not have.
    let harness = Harness::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    harness
        .server
        .write_kubeconfig(&kubeconfig)
        .expect("the kubeconfig is written");
    let metrics_addr = free_port();
    let mut operator = tokio::process::Command::new(env!("CARGO_BIN_EXE_gastown-operator"))
        .arg("run")
        .env("KUBECONFIG", &kubeconfig)
        .env("BD_DAEMON_HOST", harness.testd.http_url())
        .env("METRICS_ADDR", metrics_addr.to_string())
        .env("WATCH_NAMESPACES", common::NAMESPACE)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the operator binary starts");

    let (status, _) = eventually("/readyz answers 200", CONVERGE, || async {
        get(metrics_addr, "/readyz")
            .await
            .filter(|(status, _)| *status == 200)
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(metrics_addr, "/healthz").await,
        Some((200, "ok".into()))
    );

    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &minimal_town())
        .await
        .expect("the town is created");
    running_town(&harness).await;
    let (status, metrics) = get(metrics_addr, "/metrics")
        .await
        .expect("/metrics answers");
    assert_eq!(status, 200);
    for family in [
        "gastown_reconciliations_total{controller=\"gastown\"}",
        "gastown_reconciliations_total{controller=\"rig\"}",
        "gastown_reconcile_duration_seconds_bucket",
        "gastown_beads_request_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(family), "{family} in\n{metrics}");
    }

    common::terminate(&mut operator, Duration::from_secs(30)).await;
    harness.shutdown().await;
}

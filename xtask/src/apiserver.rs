//! `cargo xtask apiserver`: the embedded Kubernetes API server, standalone.

use embedded_apiserver::{Config, EmbeddedApiServer};
use std::path::Path;

pub fn run(kubeconfig: &Path, port: Option<u16>, simulate_workloads: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(kubeconfig, port, simulate_workloads))
}

async fn serve(
    kubeconfig: &Path,
    port: Option<u16>,
    simulate_workloads: bool,
) -> anyhow::Result<()> {
    let server = EmbeddedApiServer::start(Config {
        simulate_workloads,
        port,
        ..Config::default()
    })
    .await?;
    server.write_kubeconfig(kubeconfig).map_err(|e| {
        anyhow::anyhow!(
            "cannot write the kubeconfig to {}: {e}",
            kubeconfig.display()
        )
    })?;
    println!(
        "embedded apiserver ready at {} (kubeconfig: {})",
        server.url(),
        kubeconfig.display()
    );
    stopped().await?;
    server.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stopped() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}

//! Project automation: `cargo xtask <command>`.
//!
//! Each command lives in its own module; this file only parses the command line.

mod apiserver;
mod bench;
mod ci;
mod crdgen;
mod playground;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "xtask", about = "Gas Town operator project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the CRD manifests to config/crd/ (and the Helm chart, once it exists).
    Crdgen {
        /// Fail, naming the file, when the committed manifests differ from the generated ones.
        #[arg(long)]
        check: bool,
    },
    /// Run everything CI runs: fmt, clippy, crdgen --check, and every test.
    Ci,
    /// Serve the embedded Kubernetes API server until stopped.
    Apiserver {
        /// Where to write the kubeconfig that points at the server.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Port to listen on (default: a free port).
        #[arg(long)]
        port: Option<u16>,
        /// Move pods to Running, bind PVCs and mark workloads ready.
        #[arg(long)]
        simulate_workloads: bool,
    },
    /// Benchmark the operator: convergence, API cost at rest, churn, growth of its cost with the fleet (docs/benchmarks.md).
    Bench {
        /// Smaller fleets, less churn, a shorter growth series: a few minutes.
        #[arg(long, conflicts_with = "smoke")]
        quick: bool,
        /// The smallest run that exercises every scenario (a harness check).
        #[arg(long)]
        smoke: bool,
        /// Measure in this build even when it is a debug one, without building
        /// the release (a harness check, as CI does: the figures mean little).
        #[arg(long)]
        in_this_build: bool,
        /// Run only these scenarios, comma-separated (default: every one);
        /// the JSON then defaults to target/bench/<size>-<scenarios>.json.
        #[arg(long, value_enum, value_delimiter = ',', value_name = "SCENARIOS")]
        only: Vec<bench::Scenario>,
        /// Where to write the JSON results (default: target/bench/<size>.json).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Where to write the SVG plot (default: next to the JSON).
        #[arg(long)]
        svg: Option<PathBuf>,
    },
    /// The local playground: embedded API server, test bd daemon and the operator.
    Playground {
        /// Where to write the kubeconfig (default: target/playground/kubeconfig).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Port of the API server (default: a free port).
        #[arg(long)]
        port: Option<u16>,
        /// Print the table once the town is Running, then stop (a smoke test).
        #[arg(long, conflicts_with = "for_secs")]
        once: bool,
        /// Stop after this many seconds instead of waiting for Ctrl-C.
        #[arg(long = "for", value_name = "SECS")]
        for_secs: Option<u64>,
        /// Which beads server the town uses: the bd daemon, or `bd serve` (HTTP API v0).
        #[arg(long, value_enum, default_value_t = playground::BeadsServer::Daemon)]
        beads: playground::BeadsServer,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crdgen { check } => crdgen::run(check),
        Command::Ci => ci::run(),
        Command::Apiserver {
            kubeconfig,
            port,
            simulate_workloads,
        } => apiserver::run(&kubeconfig, port, simulate_workloads),
        Command::Bench {
            quick,
            smoke,
            in_this_build,
            only,
            json,
            svg,
        } => {
            let options = match (smoke, quick) {
                (true, _) => bench::Options::smoke(),
                (false, true) => bench::Options::release(bench::Size::Quick),
                (false, false) => bench::Options::release(bench::Size::Full),
            };
            bench::run(bench::Options {
                only,
                json,
                svg,
                in_this_build: options.in_this_build || in_this_build,
                ..options
            })
        }
        Command::Playground {
            kubeconfig,
            port,
            once,
            for_secs,
            beads,
        } => {
            let run = match (once, for_secs) {
                (true, _) => playground::RunFor::Once,
                (false, Some(secs)) => {
                    playground::RunFor::For(std::time::Duration::from_secs(secs))
                }
                (false, None) => playground::RunFor::UntilInterrupted,
            };
            playground::run(playground::Options {
                kubeconfig,
                port,
                run,
                beads,
            })
        }
    }
}

/// The repository root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the repository root")
        .to_path_buf()
}

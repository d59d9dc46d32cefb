//! The `gastown-operator` binary.
//!
//! Subcommands:
//! - `beads summary` — what the operator would project from a bd daemon, for people
//!   debugging a town.
//!
//! - `run` — the operator itself: the GasTown, Rig and AgentPool controllers.
//!
//! - `kubectl …` — the kubectl plugin's commands. Installed as `kubectl-gastown`
//!   on PATH, the binary is the plugin itself (`kubectl gastown status`).

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// jemalloc instead of the C library's malloc: a reconcile allocates many
/// small, short-lived strings and maps, glibc's malloc took about a third
/// of the operator's CPU on them (docs/benchmarks.md), and jemalloc keeps
/// the resident set as low.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let ran = if cli::plugin::invoked_as_plugin(&argv0) {
        let plugin = cli::plugin::PluginCli::parse();
        log_warnings_to_stderr();
        cli::plugin::run(plugin.args).await
    } else {
        let cli = cli::Cli::parse();
        // `run` configures logging from its own flags (LOG_LEVEL, --log-format);
        // the other commands log warnings to stderr unless RUST_LOG says otherwise.
        match &cli.command {
            cli::Command::Run(args) => {
                if let Err(error) = args.init_logging() {
                    eprintln!("error: {error:#}");
                    return ExitCode::FAILURE;
                }
            }
            _ => log_warnings_to_stderr(),
        }
        cli.run().await
    };
    match ran {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn log_warnings_to_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}

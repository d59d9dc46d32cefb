//! The `gastown-operator` binary.
//!
//! Subcommands:
//! - `beads summary` — what the operator would project from a bd daemon, for people
//!   debugging a town.
//!
//! - `run` — the operator itself: the GasTown, Rig and AgentPool controllers.

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
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
        _ => tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_writer(std::io::stderr)
            .init(),
    }

    match cli.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

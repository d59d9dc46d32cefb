//! Command-line interface: clap subcommands of the `gastown-operator` binary.

mod beads;
pub mod plugin;
pub mod run;

use clap::{Parser, Subcommand};

use beads::SummaryArgs;

#[derive(Debug, Parser)]
#[command(
    name = "gastown-operator",
    version,
    about = "Kubernetes operator for Gas Town"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Look at a town's beads through the bd daemon.
    #[command(subcommand)]
    Beads(BeadsCommand),
    /// Run the controllers against the cluster KUBECONFIG or the in-cluster config names.
    Run(run::RunArgs),
    /// The kubectl plugin's commands (`kubectl gastown …` when this binary is on PATH as
    /// `kubectl-gastown`).
    Kubectl(plugin::PluginArgs),
}

#[derive(Debug, Subcommand)]
pub enum BeadsCommand {
    /// Print what the operator would project from the daemon: daemon health,
    /// town agents, and per-rig polecats, crew, witness/refinery, merge queue.
    Summary(SummaryArgs),
}

impl Cli {
    /// Runs the command; returns the process's exit code.
    pub async fn run(self) -> anyhow::Result<u8> {
        match self.command {
            Command::Beads(BeadsCommand::Summary(args)) => {
                let mut stdout = std::io::stdout().lock();
                beads::summary(&args, &mut stdout).await.map(|()| 0)
            }
            Command::Run(args) => run::run(&args).await.map(|()| 0),
            Command::Kubectl(args) => plugin::run(args).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beads::OutputFormat;

    #[test]
    fn beads_summary_parses() {
        let cli = Cli::try_parse_from([
            "gastown-operator",
            "beads",
            "summary",
            "--daemon",
            "tcp://bd:9876",
            "--token-file",
            "/var/run/secrets/token",
            "--rig",
            "gastown",
            "-o",
            "json",
            "--staleness",
            "15m",
        ])
        .expect("parses");
        let Command::Beads(BeadsCommand::Summary(args)) = cli.command else {
            panic!("parsed as another command")
        };
        assert_eq!(args.daemon, "tcp://bd:9876");
        assert_eq!(args.rig.as_deref(), Some("gastown"));
        assert_eq!(args.output, OutputFormat::Json);
        assert_eq!(args.staleness, std::time::Duration::from_secs(900));
    }

    #[test]
    fn the_plugin_commands_are_also_a_subcommand() {
        let cli = Cli::try_parse_from(["gastown-operator", "kubectl", "status", "-n", "prod"])
            .expect("parses");
        let Command::Kubectl(args) = cli.command else {
            panic!("parsed as another command")
        };
        assert_eq!(args.cluster.namespace.as_deref(), Some("prod"));
    }

    #[test]
    fn defaults_and_refusals() {
        let cli = Cli::try_parse_from([
            "gastown-operator",
            "beads",
            "summary",
            "--daemon",
            "http://bd:9080",
        ])
        .expect("parses");
        let Command::Beads(BeadsCommand::Summary(args)) = cli.command else {
            panic!("parsed as another command")
        };
        assert_eq!(args.output, OutputFormat::Table);
        assert_eq!(args.staleness, std::time::Duration::from_secs(600));
        assert!(
            Cli::try_parse_from(["gastown-operator", "beads", "summary"]).is_err(),
            "--daemon is required"
        );
        assert!(
            Cli::try_parse_from([
                "gastown-operator",
                "beads",
                "summary",
                "--daemon",
                "x",
                "-o",
                "yaml"
            ])
            .is_err()
        );
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}

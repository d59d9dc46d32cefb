//! The plugin's command line. kubectl passes a plugin none of its own global
//! flags, so the plugin takes `--namespace`, `--context` and `--kubeconfig`
//! itself, anywhere on the line.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `kubectl gastown`: Gas Town as its users think of it.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-gastown",
    bin_name = "kubectl gastown",
    version,
    about = "Gas Town towns, rigs and agents, as beads and the cluster see them"
)]
pub struct PluginCli {
    #[command(flatten)]
    pub args: PluginArgs,
}

/// The plugin's flags and command; also `gastown-operator kubectl …`.
#[derive(Debug, Args)]
pub struct PluginArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(subcommand)]
    pub command: PluginCommand,
}

/// Which cluster and namespace, as kubectl's own flags say them.
#[derive(Debug, Clone, Default, Args)]
pub struct ClusterArgs {
    /// The namespace; the kubeconfig context's namespace when unset.
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The kubeconfig context; the current context when unset.
    #[arg(long, global = true, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// The kubeconfig file; KUBECONFIG or ~/.kube/config when unset.
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<String>,
}

impl ClusterArgs {
    /// The same flags for a kubectl this plugin hands over to, with the
    /// namespace it resolved.
    pub fn kubectl_flags(&self, namespace: &str) -> Vec<String> {
        let mut flags = vec!["--namespace".to_string(), namespace.to_string()];
        if let Some(context) = &self.context {
            flags.extend(["--context".to_string(), context.clone()]);
        }
        if let Some(kubeconfig) = &self.kubeconfig {
            flags.extend(["--kubeconfig".to_string(), kubeconfig.clone()]);
        }
        flags
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Output {
    /// Aligned columns.
    #[default]
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// A town as a tree — town, rigs, agents — with each agent's role, pod phase, beads state and
    /// hooked work, then the town's conditions; every town of the namespace when TOWN is not given.
    Status {
        /// The GasTown's name.
        town: Option<String>,
        #[arg(short = 'o', long = "output", value_enum, default_value_t)]
        output: Output,
    },
    /// Every agent of the namespace's towns, one line each (for scripts).
    Agents {
        /// Only the agents of this town.
        #[arg(long, value_name = "TOWN")]
        town: Option<String>,
        /// Only the agents of this rig (its beads name, e.g. `gastown`).
        #[arg(long, value_name = "RIG")]
        rig: Option<String>,
        /// Only agents of this role (polecat, crew, witness, refinery, mayor, deacon).
        #[arg(long, value_name = "ROLE")]
        role: Option<String>,
        #[arg(short = 'o', long = "output", value_enum, default_value_t)]
        output: Output,
    },
    /// The logs of an agent's pod (`kubectl logs`).
    Logs {
        /// The agent, as `agents` names it (`mayor`, `gastown/witness`, `gastown/polecats/nux`),
        /// its short name when unique (`nux`), or its pod's name.
        agent: String,
        /// Follow the log.
        #[arg(short = 'f', long)]
        follow: bool,
        /// The container; the pod's default one when unset.
        #[arg(short = 'c', long, value_name = "CONTAINER")]
        container: Option<String>,
        /// Only the town of this name (when agents of several towns share a name).
        #[arg(long, value_name = "TOWN")]
        town: Option<String>,
    },
    /// Runs a command in an agent's pod (`kubectl exec`).
    Exec {
        /// The agent, named as for `logs`.
        agent: String,
        /// The container; the pod's default one when unset.
        #[arg(short = 'c', long, value_name = "CONTAINER")]
        container: Option<String>,
        /// Pass stdin to the command.
        #[arg(short = 'i', long)]
        stdin: bool,
        /// Stdin is a TTY.
        #[arg(short = 't', long)]
        tty: bool,
        /// Only the town of this name.
        #[arg(long, value_name = "TOWN")]
        town: Option<String>,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Stops new polecats in a town (running ones finish) without deleting it.
    Drain {
        /// The GasTown's name.
        town: String,
    },
    /// Lets a drained town start polecats again.
    Resume {
        /// The GasTown's name.
        town: String,
    },
}

/// Whether the binary runs as `kubectl-gastown` (kubectl runs a plugin by
/// the path it found it at, so argv[0] ends in the plugin's file name).
pub fn invoked_as_plugin(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_stem()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name == "kubectl-gastown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> PluginArgs {
        PluginCli::try_parse_from(std::iter::once("kubectl-gastown").chain(args.iter().copied()))
            .expect("parses")
            .args
    }

    #[test]
    fn kubectl_flags_go_anywhere_and_are_handed_over() {
        let args = parse(&[
            "-n",
            "prod",
            "status",
            "town",
            "-o",
            "yaml",
            "--context",
            "kind",
        ]);
        assert_eq!(args.cluster.namespace.as_deref(), Some("prod"));
        assert_eq!(
            args.cluster.kubectl_flags("prod"),
            ["--namespace", "prod", "--context", "kind"]
        );
        let PluginCommand::Status { town, output } = args.command else {
            panic!("parsed as another command")
        };
        assert_eq!((town.as_deref(), output), (Some("town"), Output::Yaml));
    }

    #[test]
    fn exec_takes_the_command_after_the_double_dash() {
        let args = parse(&["exec", "nux", "-it", "--", "bd", "show", "-v"]);
        let PluginCommand::Exec {
            agent,
            command,
            stdin,
            tty,
            ..
        } = args.command
        else {
            panic!("parsed as another command")
        };
        assert_eq!(agent, "nux");
        assert!(stdin && tty);
        assert_eq!(command, ["bd", "show", "-v"]);
        assert!(PluginCli::try_parse_from(["kubectl-gastown", "exec", "nux"]).is_err());
        <PluginCli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn the_plugin_is_known_by_its_file_name() {
        assert!(invoked_as_plugin("/usr/local/bin/kubectl-gastown".as_ref()));
        assert!(invoked_as_plugin("kubectl-gastown".as_ref()));
        assert!(!invoked_as_plugin("/usr/bin/gastown-operator".as_ref()));
        assert!(!invoked_as_plugin("kubectl-gastown-old".as_ref()));
    }
}

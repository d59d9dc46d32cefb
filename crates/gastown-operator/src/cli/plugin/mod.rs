//! `kubectl gastown`: the operator's binary as a kubectl plugin. Installed
//! (copied or linked) as `kubectl-gastown` on PATH, kubectl runs it for
//! `kubectl gastown …`; `gastown-operator kubectl …` is the same.
//!
//! It reads only what the operator writes — the GasTown, Rig and AgentPool
//! statuses (beads as the operator projects it) and the agents' pods — so it
//! needs no beads token; `drain`/`resume` write one annotation.

pub mod args;
pub mod cluster;
pub mod drain;
pub mod handover;
pub mod render;

use std::io::Write as _;

use args::{Output, PluginCommand};
pub use args::{PluginArgs, PluginCli, invoked_as_plugin};
use handover::Handover;

/// Runs one plugin command, printing to stdout; returns the exit code.
pub async fn run(args: PluginArgs) -> anyhow::Result<u8> {
    let cluster_args = args.cluster;
    let printed = match args.command {
        PluginCommand::Status { town, output } => {
            let cluster = cluster::connect(&cluster_args).await?;
            let views = cluster.views(town.as_deref()).await?;
            match (output, town) {
                (_, None) if views.is_empty() => {
                    eprintln!("No GasTowns found in namespace {}.", cluster.namespace);
                    String::new()
                }
                (Output::Table, _) => gastown_operator::town_view::render::status_tables(&views),
                (output, Some(_)) => render::document(&views[0], output)?,
                (output, None) => render::document(&views, output)?,
            }
        }
        PluginCommand::Agents {
            town,
            rig,
            role,
            output,
        } => {
            let cluster = cluster::connect(&cluster_args).await?;
            let views = cluster.views(town.as_deref()).await?;
            let agents: Vec<&gastown_operator::town_view::AgentView> = views
                .iter()
                .flat_map(|view| view.all_agents())
                .filter(|a| rig.is_none() || a.rig == rig)
                .filter(|a| role.as_deref().is_none_or(|role| a.role == role))
                .collect();
            match output {
                Output::Table => gastown_operator::town_view::render::agents_table(agents),
                output => render::document(&agents, output)?,
            }
        }
        PluginCommand::Drain { town } => {
            let cluster = cluster::connect(&cluster_args).await?;
            format!("{}\n", drain::drain(&cluster, &town).await?)
        }
        PluginCommand::Resume { town } => {
            let cluster = cluster::connect(&cluster_args).await?;
            format!("{}\n", drain::resume(&cluster, &town).await?)
        }
        PluginCommand::Logs {
            agent,
            follow,
            container,
            town,
        } => {
            let handover = Handover::Logs { follow, container };
            return handover::hand_over(&cluster_args, town.as_deref(), &agent, &handover).await;
        }
        PluginCommand::Exec {
            agent,
            container,
            stdin,
            tty,
            town,
            command,
        } => {
            let handover = Handover::Exec {
                container,
                stdin,
                tty,
                command,
            };
            return handover::hand_over(&cluster_args, town.as_deref(), &agent, &handover).await;
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(printed.as_bytes())?;
    stdout.flush()?;
    Ok(0)
}

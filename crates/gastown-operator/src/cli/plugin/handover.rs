//! `logs` and `exec`: an agent's name resolved to its pod, then kubectl
//! itself runs (the binary in KUBECTL, else `kubectl` on PATH; kubectl runs
//! a plugin with its own environment, so the same one is found).

use anyhow::Context as _;

use super::args::ClusterArgs;
use super::cluster::Cluster;
use gastown_operator::town_view::{AgentView, resolve};

/// What kubectl is asked to do with the pod.
pub enum Handover {
    Logs {
        follow: bool,
        container: Option<String>,
    },
    Exec {
        container: Option<String>,
        stdin: bool,
        tty: bool,
        command: Vec<String>,
    },
}

/// kubectl's arguments for `handover` on `pod`, with the plugin's cluster flags.
pub fn kubectl_args(cluster_flags: Vec<String>, pod: &str, handover: &Handover) -> Vec<String> {
    let mut args = Vec::new();
    match handover {
        Handover::Logs { follow, container } => {
            args.extend(["logs".to_string(), pod.to_string()]);
            if *follow {
                args.push("--follow".to_string());
            }
            if let Some(container) = container {
                args.extend(["--container".to_string(), container.clone()]);
            }
            args.extend(cluster_flags);
        }
        Handover::Exec {
            container,
            stdin,
            tty,
            command,
        } => {
            args.extend(["exec".to_string(), pod.to_string()]);
            if *stdin {
                args.push("--stdin".to_string());
            }
            if *tty {
                args.push("--tty".to_string());
            }
            if let Some(container) = container {
                args.extend(["--container".to_string(), container.clone()]);
            }
            args.extend(cluster_flags);
            args.push("--".to_string());
            args.extend(command.iter().cloned());
        }
    }
    args
}

/// Resolves `agent` in the namespace (or in `town`) and runs kubectl on its
/// pod; returns only if kubectl could not be run, or with its exit code.
pub async fn hand_over(
    cluster_args: &ClusterArgs,
    town: Option<&str>,
    agent: &str,
    handover: &Handover,
) -> anyhow::Result<u8> {
    let cluster = super::cluster::connect(cluster_args).await?;
    let pod = pod_of(&cluster, town, agent).await?;
    let args = kubectl_args(
        cluster_args.kubectl_flags(&cluster.namespace),
        &pod,
        handover,
    );
    let kubectl = std::env::var_os("KUBECTL").unwrap_or_else(|| "kubectl".into());
    let mut command = std::process::Command::new(&kubectl);
    command.args(&args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // Replaces this process: signals, the terminal and the exit code are kubectl's.
        let error = command.exec();
        Err(error).with_context(|| format!("cannot run {}", kubectl.to_string_lossy()))
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .with_context(|| format!("cannot run {}", kubectl.to_string_lossy()))?;
        Ok(status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1))
    }
}

async fn pod_of(cluster: &Cluster, town: Option<&str>, agent: &str) -> anyhow::Result<String> {
    let views = cluster.views(town).await?;
    let agents: Vec<&AgentView> = views.iter().flat_map(|v| v.all_agents()).collect();
    let found = resolve(&agents, agent).map_err(|e| anyhow::anyhow!("{e}"))?;
    found
        .pod
        .clone()
        .ok_or_else(|| anyhow::anyhow!("agent {} has no pod now", found.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_gets_the_pod_the_flags_and_the_command() {
        let flags = || vec!["--namespace".to_string(), "gastown".to_string()];
        assert_eq!(
            kubectl_args(
                flags(),
                "gt-gastown-polecat-nux",
                &Handover::Logs {
                    follow: true,
                    container: Some("agent".into())
                }
            ),
            [
                "logs",
                "gt-gastown-polecat-nux",
                "--follow",
                "--container",
                "agent",
                "--namespace",
                "gastown"
            ]
        );
        assert_eq!(
            kubectl_args(
                flags(),
                "gt-prod-mayor",
                &Handover::Exec {
                    container: None,
                    stdin: true,
                    tty: false,
                    command: vec!["bd".into(), "--version".into()],
                }
            ),
            [
                "exec",
                "gt-prod-mayor",
                "--stdin",
                "--namespace",
                "gastown",
                "--",
                "bd",
                "--version"
            ]
        );
    }
}

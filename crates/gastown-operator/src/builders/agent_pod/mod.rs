//! The pod of one Gas Town agent, from its resolved template and identity.
//!
//! Every agent pod gets the same shape, that of upstream Gas Town's agent
//! image and controller (container-contracts.md §4, sources G1–G6): the
//! identity env Gas Town expects (`GT_ROLE`, `GT_RIG`, `GT_AGENT`,
//! `GT_SCOPE`, `BD_ACTOR`, ...), the bd daemon's HTTP address and token (or,
//! with `bd serve`, the town's Dolt server), the
//! Claude credentials or Anthropic key from their Secrets, a workspace at
//! `/home/agent/gt` (an `emptyDir`, the rig's shared claim, or the crew
//! member's own claim by role), an `emptyDir` at `/tmp`, startup and liveness
//! probes that Claude Code runs, and for polecats and crew an init container
//! that clones the rig's repository into `<rig>/work`.

mod env;

use std::collections::BTreeMap;

use gastown_api::gastown::{BeadsProtocol, GasTownSpec};
use gastown_api::template::{ResolvedTemplate, WorkspaceVolume};
use gastown_api::{AgentRole, SecretKeyRef, SecretRef, labels};
use k8s_openapi::api::core::v1::{
    Affinity, Container, EmptyDirVolumeSource, EnvVar, ExecAction,
    PersistentVolumeClaimVolumeSource, Pod, PodAffinity, PodAffinityTerm, PodSpec, Probe,
    SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::security::{container_security_context, pod_security_context};
use super::town::DOLT_PORT;
use crate::naming;

pub const HOME: &str = "/home/agent";
/// The agent image's workdir, where the entrypoint writes the town (G4, G5).
pub const WORKSPACE_MOUNT: &str = "/home/agent/gt";
const GIT_CREDENTIALS_MOUNT: &str = "/etc/gastown/git-credentials";
/// Where upstream mounts the Claude credentials Secret; the agent image's
/// entrypoint copies `credentials.json` into `~/.claude` unless a copy is
/// already there (G1, G4).
pub const CLAUDE_CREDENTIALS_MOUNT: &str = "/tmp/claude-credentials";
/// Claude Code's state on a persistent workspace, mounted at `~/.claude` (G1).
const CLAUDE_STATE_SUBPATH: &str = ".state/claude";
/// What the containers report when they end: the tail of their log.
const TERMINATION_MESSAGE_POLICY: &str = "FallbackToLogsOnError";

/// Everything an agent pod is made from.
#[derive(Clone, Debug)]
pub struct AgentPodInput<'a> {
    pub namespace: &'a str,
    pub town: &'a str,
    pub role: AgentRole,
    /// The agent's name (`furiosa`; the role name for singletons).
    pub agent: &'a str,
    /// The bead the pod is made for (the agent bead's id).
    pub bead_id: &'a str,
    /// `None` for the town's mayor and deacon.
    pub rig: Option<RigContext<'a>>,
    pub template: &'a ResolvedTemplate,
    pub daemon: DaemonConnection,
    pub anthropic_api_key: Option<&'a SecretKeyRef>,
    /// The town's Claude credentials Secret; a template layer's replaces it.
    pub claude_credentials: Option<&'a SecretRef>,
}

/// What an agent of a rig needs from its rig.
#[derive(Clone, Debug)]
pub struct RigContext<'a> {
    /// The beads rig name.
    pub name: &'a str,
    /// The Rig object's name (prefix of the rig's Kubernetes objects).
    pub object_name: &'a str,
    pub git_url: Option<&'a str>,
    pub default_branch: Option<&'a str>,
    pub git_credentials: Option<&'a SecretRef>,
    /// The rig's PriorityClass, which polecat pods carry so the rig's quota counts them.
    pub polecat_priority_class: &'a str,
}

/// How agents reach beads.
///
/// With the bd daemon, over its HTTP listener, its only one since February
/// 2026 (B7). With `bd serve`, which serves automation clients only, agents'
/// `bd` and `gt` use the town's Dolt server directly (bd-serve-v0.md §1,
/// "What it needs from Dolt").
#[derive(Clone, Debug, PartialEq)]
pub enum DaemonConnection {
    Daemon {
        host: String,
        http_port: u16,
        token: Option<SecretKeyRef>,
    },
    Dolt(DoltConnection),
}

/// The town's Dolt server, for agents of a town on `bd serve`.
#[derive(Clone, Debug, PartialEq)]
pub struct DoltConnection {
    /// `None` when the town runs no Dolt (`spec.dolt` unset): the agents'
    /// template has to say where Dolt is.
    pub host: Option<String>,
    pub port: u16,
    pub password: Option<SecretKeyRef>,
}

impl DaemonConnection {
    /// How the agents of `town` reach beads.
    pub fn of(town: &GasTownSpec, town_name: &str) -> Self {
        match town.daemon.protocol() {
            BeadsProtocol::Daemon => {
                let endpoint = town.daemon.endpoint(&naming::bd_daemon(town_name));
                Self::Daemon {
                    host: endpoint.host,
                    http_port: endpoint.http_port,
                    token: town.daemon.token_secret_ref.clone(),
                }
            }
            BeadsProtocol::Serve => Self::Dolt(DoltConnection {
                host: town.dolt.as_ref().map(|_| naming::dolt(town_name)),
                port: DOLT_PORT as u16,
                password: town
                    .dolt
                    .as_ref()
                    .and_then(|dolt| dolt.root_password_secret_ref.clone()),
            }),
        }
    }

    /// The Secret the agents need to reach beads, if any.
    pub fn secret(&self) -> Option<&SecretKeyRef> {
        match self {
            Self::Daemon { token, .. } => token.as_ref(),
            Self::Dolt(dolt) => dolt.password.as_ref(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AgentPodError {
    #[error(
        "no image for {role} agent {agent}: set spec.defaults.image on the GasTown or an image in a more specific layer"
    )]
    NoImage { role: AgentRole, agent: String },
}

/// Builds the agent's pod.
pub fn agent_pod(input: &AgentPodInput<'_>) -> Result<Pod, AgentPodError> {
    let template = input.template;
    let image = template
        .image
        .clone()
        .ok_or_else(|| AgentPodError::NoImage {
            role: input.role,
            agent: input.agent.to_string(),
        })?;
    let rig_name = input.rig.as_ref().map(|rig| rig.name);
    let name = naming::agent_pod(input.town, rig_name, input.role, input.agent);

    // The operator's identity labels win over template labels: selectors depend on them.
    let mut pod_labels = template.labels.clone();
    pod_labels.extend(naming::agent_labels(
        input.town,
        rig_name,
        input.role,
        input.agent,
    ));
    let mut annotations = template.annotations.clone();
    annotations.insert(
        labels::BEAD_ID_ANNOTATION.to_string(),
        input.bead_id.to_string(),
    );

    let (volumes, workspace_mount) = volumes(input);
    // Pods sharing the rig's ReadWriteOnce workspace must share a node. The
    // label names the Rig object (at most 54 characters, a valid label value;
    // its claim's name may be longer).
    let affinity = match (input.template.workspace_volume(input.role), &input.rig) {
        (WorkspaceVolume::RigWorkspace, Some(rig)) => {
            pod_labels.insert(labels::WORKSPACE.to_string(), rig.object_name.to_string());
            Some(with_workspace_affinity(
                template.affinity.clone(),
                rig.object_name,
            ))
        }
        _ => template.affinity.clone(),
    };
    let mut mounts = vec![
        workspace_mount,
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..Default::default()
        },
    ];
    let init_containers = clone_container(input, &image, &mounts).map(|c| vec![c]);
    if let Some(rig) = &input.rig
        && rig.git_credentials.is_some()
    {
        mounts.push(git_credentials_mount());
    }
    if claude_credentials(input).is_some() {
        mounts.push(VolumeMount {
            name: "claude-credentials".into(),
            mount_path: CLAUDE_CREDENTIALS_MOUNT.into(),
            read_only: Some(true),
            ..Default::default()
        });
    }
    if matches!(
        input.template.workspace_volume(input.role),
        WorkspaceVolume::OwnClaim(_)
    ) {
        // Claude Code's sessions and refreshed token outlive the pod (G1).
        mounts.push(VolumeMount {
            name: "workspace".into(),
            mount_path: format!("{HOME}/.claude"),
            sub_path: Some(CLAUDE_STATE_SUBPATH.into()),
            ..Default::default()
        });
    }
    let (startup_probe, liveness_probe) = probes(template);

    let container = Container {
        name: "agent".into(),
        image: Some(image),
        image_pull_policy: template.image_pull_policy.map(|p| p.as_str().to_string()),
        env: Some(env::agent_env(input)),
        resources: Some(template.resources()),
        volume_mounts: Some(mounts),
        working_dir: Some(WORKSPACE_MOUNT.into()),
        startup_probe,
        liveness_probe,
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.into()),
        security_context: Some(container_security_context()),
        ..Default::default()
    };

    let polecat = input.role == AgentRole::Polecat;
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(input.namespace.to_string()),
            labels: Some(pod_labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![container],
            init_containers,
            volumes: Some(volumes),
            // Polecats are one-shot: they exit when their work is done.
            restart_policy: Some(if polecat { "Never" } else { "Always" }.into()),
            priority_class_name: polecat
                .then(|| {
                    input
                        .rig
                        .as_ref()
                        .map(|rig| rig.polecat_priority_class.to_string())
                })
                .flatten(),
            service_account_name: template.service_account_name.clone().or_else(|| {
                input
                    .rig
                    .as_ref()
                    .map(|rig| naming::rig_agents(rig.object_name))
            }),
            node_selector: (!template.node_selector.is_empty())
                .then(|| template.node_selector.clone()),
            tolerations: (!template.tolerations.is_empty()).then(|| template.tolerations.clone()),
            affinity,
            security_context: Some(pod_security_context()),
            termination_grace_period_seconds: Some(30),
            ..Default::default()
        }),
        status: None,
    })
}

/// The Claude credentials Secret of this agent: its template's, else the town's.
fn claude_credentials<'a>(input: &'a AgentPodInput<'_>) -> Option<&'a SecretRef> {
    input
        .template
        .claude_credentials
        .as_ref()
        .or(input.claude_credentials)
}

/// Upstream's probes without coop: Claude Code (or its node runtime) is
/// running — startup every 5 s for up to 5 min, liveness every 15 s after
/// 30 s, restarted after 3 failures (G1). A template may replace either or
/// turn both off (a custom image without `pgrep`).
fn probes(template: &ResolvedTemplate) -> (Option<Probe>, Option<Probe>) {
    if template.probes_enabled == Some(false) {
        return (None, None);
    }
    let claude_runs = || ExecAction {
        command: Some(vec!["pgrep".into(), "-f".into(), "claude|node".into()]),
    };
    let startup = Probe {
        exec: Some(claude_runs()),
        period_seconds: Some(5),
        failure_threshold: Some(60),
        ..Default::default()
    };
    let liveness = Probe {
        exec: Some(claude_runs()),
        initial_delay_seconds: Some(30),
        period_seconds: Some(15),
        failure_threshold: Some(3),
        ..Default::default()
    };
    (
        Some(template.startup_probe.clone().unwrap_or(startup)),
        Some(template.liveness_probe.clone().unwrap_or(liveness)),
    )
}

/// `affinity` plus a required pod affinity to the node of any pod labelled
/// as mounting the same rig's shared workspace. The first such pod matches
/// its own selector, so it schedules anywhere; the other follows it.
fn with_workspace_affinity(affinity: Option<Affinity>, rig_object: &str) -> Affinity {
    let mut affinity = affinity.unwrap_or_default();
    let term = PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                labels::WORKSPACE.to_string(),
                rig_object.to_string(),
            )])),
            ..Default::default()
        }),
        topology_key: "kubernetes.io/hostname".into(),
        ..Default::default()
    };
    affinity
        .pod_affinity
        .get_or_insert_with(PodAffinity::default)
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(Vec::new)
        .push(term);
    affinity
}

fn volumes(input: &AgentPodInput<'_>) -> (Vec<Volume>, VolumeMount) {
    let empty_dir = |name: &str| Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    };
    let claim = |claim_name: String| Volume {
        name: "workspace".into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name,
            read_only: None,
        }),
        ..Default::default()
    };
    let workspace = match (input.template.workspace_volume(input.role), &input.rig) {
        (WorkspaceVolume::RigWorkspace, Some(rig)) => claim(naming::rig_workspace(rig.object_name)),
        (WorkspaceVolume::OwnClaim(_), Some(rig)) => {
            claim(naming::crew_workspace(rig.object_name, input.agent))
        }
        _ => empty_dir("workspace"),
    };
    let mut volumes = vec![workspace, empty_dir("tmp")];
    if let Some(RigContext {
        git_credentials: Some(secret),
        ..
    }) = &input.rig
    {
        volumes.push(Volume {
            name: "git-credentials".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.name.clone()),
                default_mode: Some(0o400),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    if let Some(secret) = claude_credentials(input) {
        volumes.push(Volume {
            name: "claude-credentials".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.name.clone()),
                default_mode: Some(0o400),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let mount = VolumeMount {
        name: "workspace".into(),
        mount_path: WORKSPACE_MOUNT.into(),
        ..Default::default()
    };
    (volumes, mount)
}

fn git_credentials_mount() -> VolumeMount {
    VolumeMount {
        name: "git-credentials".into(),
        mount_path: GIT_CREDENTIALS_MOUNT.into(),
        read_only: Some(true),
        ..Default::default()
    }
}

/// How git finds the rig's credentials Secret (mounted at
/// [`GIT_CREDENTIALS_MOUNT`]) in the clone and in the agent, which pushes: ssh
/// uses its `ssh-privatekey`, https its `username` (default `git`) and
/// `password` through a credential helper given in git's environment (git
/// 2.31+), so no file in the image has to change.
fn git_credentials_env() -> Vec<EnvVar> {
    git_credentials_env_in(GIT_CREDENTIALS_MOUNT)
}

fn git_credentials_env_in(dir: &str) -> Vec<EnvVar> {
    let plain = |name: &str, value: String| EnvVar {
        name: name.into(),
        value: Some(value),
        value_from: None,
    };
    vec![
        plain(
            "GIT_SSH_COMMAND",
            format!("ssh -i {dir}/ssh-privatekey -o StrictHostKeyChecking=accept-new"),
        ),
        plain("GIT_CONFIG_COUNT", "1".into()),
        plain("GIT_CONFIG_KEY_0", "credential.helper".into()),
        plain(
            "GIT_CONFIG_VALUE_0",
            format!(
                "!f() {{ test \"$1\" = get && test -f {dir}/password || return 0; \
                 echo \"username=$(cat {dir}/username 2>/dev/null || echo git)\"; \
                 echo \"password=$(cat {dir}/password)\"; }}; f"
            ),
        ),
    ]
}

/// Polecats and crew clone the rig's repository into `<rig>/work`, where the
/// agent image expects it (G1, G4), before the agent starts; a crew member's
/// clone survives on its claim, so an existing clone is fetched.
fn clone_container(
    input: &AgentPodInput<'_>,
    image: &str,
    mounts: &[VolumeMount],
) -> Option<Container> {
    if !matches!(input.role, AgentRole::Polecat | AgentRole::Crew) {
        return None;
    }
    let rig = input.rig.as_ref()?;
    let url = rig.git_url?;
    let branch_arg = rig
        .default_branch
        .map(|b| format!(" --branch \"{b}\""))
        .unwrap_or_default();
    let script = format!(
        "set -eu\n\
         repo=\"{WORKSPACE_MOUNT}/{rig}/work\"\n\
         if [ -d \"$repo/.git\" ]; then git -C \"$repo\" fetch --prune origin; \
         else git clone{branch_arg} \"$GT_GIT_URL\" \"$repo\"; fi\n",
        rig = rig.name,
    );
    let mut mounts = mounts.to_vec();
    let mut env = vec![
        EnvVar {
            name: "HOME".into(),
            value: Some(HOME.into()),
            value_from: None,
        },
        EnvVar {
            name: "GT_GIT_URL".into(),
            value: Some(url.into()),
            value_from: None,
        },
    ];
    if rig.git_credentials.is_some() {
        mounts.push(git_credentials_mount());
        env.extend(git_credentials_env());
    }
    Some(Container {
        name: "git-clone".into(),
        image: Some(image.into()),
        // The agent's own requests: a quota on the rig's polecats requires every
        // container to state them, and an init container that asks for no more
        // than the agent leaves the pod's effective request unchanged.
        resources: Some(input.template.resources()),
        command: Some(vec!["/bin/sh".into(), "-c".into(), script]),
        env: Some(env),
        volume_mounts: Some(mounts),
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.into()),
        security_context: Some(container_security_context()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;

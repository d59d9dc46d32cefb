//! The pod of one Gas Town agent, from its resolved template and identity.
//!
//! Every agent pod gets the same shape: the identity env Gas Town expects
//! (`GT_ROLE`, `GT_RIG`, `GT_AGENT`, ...), the bd daemon's address and token,
//! the Anthropic key from its Secret, a workspace at `/home/agent/gt` (an
//! `emptyDir`, the rig's shared claim, or the crew member's own claim by role),
//! an `emptyDir` at `/tmp`, and for polecats and crew an init container that
//! clones the rig's repository.

use std::collections::BTreeMap;

use gastown_api::template::{ResolvedTemplate, WorkspaceVolume};
use gastown_api::{AgentRole, SecretKeyRef, SecretRef, labels};
use k8s_openapi::api::core::v1::{
    Affinity, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    PersistentVolumeClaimVolumeSource, Pod, PodAffinity, PodAffinityTerm, PodSpec,
    SecretKeySelector, SecretVolumeSource, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::security::{container_security_context, pod_security_context};
use crate::naming;

pub const HOME: &str = "/home/agent";
pub const WORKSPACE_MOUNT: &str = "/home/agent/gt";
const GIT_CREDENTIALS_MOUNT: &str = "/etc/gastown/git-credentials";

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
    pub daemon: DaemonConnection<'a>,
    pub anthropic_api_key: Option<&'a SecretKeyRef>,
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

/// How agents reach the bd daemon.
#[derive(Clone, Debug)]
pub struct DaemonConnection<'a> {
    pub host: &'a str,
    pub port: u16,
    pub token: Option<&'a SecretKeyRef>,
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

    let container = Container {
        name: "agent".into(),
        image: Some(image),
        image_pull_policy: template.image_pull_policy.map(|p| p.as_str().to_string()),
        env: Some(env(input)),
        resources: Some(template.resources()),
        volume_mounts: Some(mounts),
        working_dir: Some(WORKSPACE_MOUNT.into()),
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

fn env(input: &AgentPodInput<'_>) -> Vec<EnvVar> {
    let plain = |name: &str, value: &str| EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    };
    let from_secret = |name: &str, secret: &SecretKeyRef| EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.name.clone(),
                key: secret.key.clone(),
                optional: None,
            }),
            ..Default::default()
        }),
    };
    let mut operator_env = vec![
        plain("GT_ROLE", input.role.as_str()),
        plain("GT_AGENT", input.agent),
        plain("GT_RUNTIME", "k8s"),
        plain("HOME", HOME),
        plain("BD_DAEMON_HOST", input.daemon.host),
        plain("BD_DAEMON_PORT", &input.daemon.port.to_string()),
        plain("BEADS_AUTO_START_DAEMON", "false"),
    ];
    if let Some(rig) = &input.rig {
        operator_env.push(plain("GT_RIG", rig.name));
    }
    match input.role {
        AgentRole::Polecat => operator_env.push(plain("GT_POLECAT", input.agent)),
        AgentRole::Crew => operator_env.push(plain("GT_CREW", input.agent)),
        _ => {}
    }
    if let Some(token) = input.daemon.token {
        operator_env.push(from_secret("BD_DAEMON_TOKEN", token));
    }
    if let Some(key) = input.anthropic_api_key {
        operator_env.push(from_secret("ANTHROPIC_API_KEY", key));
    }
    if input
        .rig
        .as_ref()
        .is_some_and(|rig| rig.git_credentials.is_some())
    {
        operator_env.extend(git_credentials_env());
    }
    // Template env first, in its order; the operator's variables replace any
    // template variable of the same name, since agents depend on them.
    let mut by_name: BTreeMap<String, EnvVar> = operator_env
        .iter()
        .map(|e| (e.name.clone(), e.clone()))
        .collect();
    let mut env: Vec<EnvVar> = input
        .template
        .env
        .iter()
        .map(|e| by_name.remove(&e.name).unwrap_or_else(|| e.clone()))
        .collect();
    env.extend(
        operator_env
            .into_iter()
            .filter(|e| by_name.contains_key(&e.name)),
    );
    env
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

/// Polecats and crew clone the rig's repository before the agent starts; a
/// crew member's clone survives on its claim, so an existing clone is fetched.
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
         repo=\"{WORKSPACE_MOUNT}/{rig}\"\n\
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
        security_context: Some(container_security_context()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_api::template::{PodTemplate, merge};

    fn template(image: Option<&str>) -> ResolvedTemplate {
        merge([&PodTemplate {
            image: image.map(str::to_string),
            resources: Some(k8s_openapi::api::core::v1::ResourceRequirements {
                requests: Some(std::collections::BTreeMap::from([(
                    "cpu".to_string(),
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity("500m".into()),
                )])),
                ..Default::default()
            }),
            env: Some(vec![
                EnvVar {
                    name: "EXTRA".into(),
                    value: Some("1".into()),
                    value_from: None,
                },
                EnvVar {
                    name: "GT_ROLE".into(),
                    value: Some("spoofed".into()),
                    value_from: None,
                },
            ]),
            ..Default::default()
        }])
    }

    fn rig<'a>(credentials: Option<&'a SecretRef>) -> RigContext<'a> {
        RigContext {
            name: "gastown",
            object_name: "prod-gastown",
            git_url: Some("https://example.com/gastown.git"),
            default_branch: Some("main"),
            git_credentials: credentials,
            polecat_priority_class: "gastown-ns-prod-gastown-polecat",
        }
    }

    fn input<'a>(
        role: AgentRole,
        agent: &'a str,
        rig: Option<RigContext<'a>>,
        template: &'a ResolvedTemplate,
        token: &'a SecretKeyRef,
    ) -> AgentPodInput<'a> {
        AgentPodInput {
            namespace: "ns",
            town: "prod",
            role,
            agent,
            bead_id: "gt-gastown-polecat-nux",
            rig,
            template,
            daemon: DaemonConnection {
                host: "prod-bd-daemon",
                port: 9876,
                token: Some(token),
            },
            anthropic_api_key: None,
        }
    }

    fn env_value(pod: &Pod, name: &str) -> Option<String> {
        pod.spec.as_ref().unwrap().containers[0]
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value.clone())
    }

    #[test]
    fn polecat_pod_is_one_shot_counted_by_the_rig_quota_and_clones_the_repo() {
        let template = template(Some("agent:1"));
        let token = SecretKeyRef {
            name: "bd".into(),
            key: "token".into(),
        };
        let pod = agent_pod(&input(
            AgentRole::Polecat,
            "nux",
            Some(rig(None)),
            &template,
            &token,
        ))
        .unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("gt-gastown-polecat-nux"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(
            spec.priority_class_name.as_deref(),
            Some("gastown-ns-prod-gastown-polecat")
        );
        assert_eq!(
            spec.service_account_name.as_deref(),
            Some("prod-gastown-agents")
        );
        let init = &spec.init_containers.as_ref().unwrap()[0];
        assert_eq!(init.name, "git-clone");
        assert_eq!(
            init.resources, spec.containers[0].resources,
            "quota needs the init container's requests"
        );
        assert!(init.command.as_ref().unwrap()[2].contains("--branch \"main\""));
        assert!(
            spec.volumes.as_ref().unwrap()[0].empty_dir.is_some(),
            "polecat workspace is ephemeral"
        );
        assert_eq!(env_value(&pod, "GT_POLECAT").as_deref(), Some("nux"));
        assert_eq!(env_value(&pod, "GT_RIG").as_deref(), Some("gastown"));
        assert_eq!(
            pod.metadata.annotations.as_ref().unwrap()["gastown.io/bead-id"],
            "gt-gastown-polecat-nux"
        );
    }

    #[test]
    fn operator_identity_env_wins_over_template_env_and_secrets_are_references() {
        let template = template(Some("agent:1"));
        let token = SecretKeyRef {
            name: "bd".into(),
            key: "token".into(),
        };
        let pod = agent_pod(&input(
            AgentRole::Witness,
            "witness",
            Some(rig(None)),
            &template,
            &token,
        ))
        .unwrap();
        assert_eq!(env_value(&pod, "GT_ROLE").as_deref(), Some("witness"));
        assert_eq!(env_value(&pod, "EXTRA").as_deref(), Some("1"));
        let env = pod.spec.as_ref().unwrap().containers[0]
            .env
            .clone()
            .unwrap();
        assert_eq!(env.iter().filter(|e| e.name == "GT_ROLE").count(), 1);
        let token_env = env.iter().find(|e| e.name == "BD_DAEMON_TOKEN").unwrap();
        assert!(token_env.value.is_none());
        assert_eq!(
            token_env
                .value_from
                .as_ref()
                .unwrap()
                .secret_key_ref
                .as_ref()
                .unwrap()
                .name,
            "bd"
        );
    }

    #[test]
    fn witness_uses_the_rig_workspace_and_restarts_in_place() {
        let template = template(Some("agent:1"));
        let token = SecretKeyRef {
            name: "bd".into(),
            key: "token".into(),
        };
        let pod = agent_pod(&input(
            AgentRole::Witness,
            "witness",
            Some(rig(None)),
            &template,
            &token,
        ))
        .unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("gt-gastown-witness"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert!(spec.priority_class_name.is_none());
        assert!(spec.init_containers.is_none());
        let claim = spec.volumes.as_ref().unwrap()[0]
            .persistent_volume_claim
            .as_ref()
            .unwrap();
        assert_eq!(claim.claim_name, "prod-gastown-workspace");
    }

    #[test]
    fn witness_and_refinery_share_a_node_for_their_read_write_once_workspace() {
        let mut template = template(Some("agent:1"));
        // A user's own affinity is kept; the workspace term is added to it.
        template.affinity = Some(Affinity {
            node_affinity: Some(Default::default()),
            ..Default::default()
        });
        let token = SecretKeyRef {
            name: "bd".into(),
            key: "token".into(),
        };
        let pod_of = |role, agent| {
            agent_pod(&input(role, agent, Some(rig(None)), &template, &token)).unwrap()
        };
        for pod in [
            pod_of(AgentRole::Witness, "witness"),
            pod_of(AgentRole::Refinery, "refinery"),
        ] {
            assert_eq!(
                pod.metadata.labels.as_ref().unwrap()["gastown.io/workspace"],
                "prod-gastown"
            );
            let affinity = pod.spec.unwrap().affinity.unwrap();
            assert!(
                affinity.node_affinity.is_some(),
                "the template's affinity stays"
            );
            let terms = affinity
                .pod_affinity
                .unwrap()
                .required_during_scheduling_ignored_during_execution
                .unwrap();
            assert_eq!(terms.len(), 1);
            assert_eq!(terms[0].topology_key, "kubernetes.io/hostname");
            assert_eq!(
                terms[0].label_selector.as_ref().unwrap().match_labels,
                Some(BTreeMap::from([(
                    "gastown.io/workspace".to_string(),
                    "prod-gastown".to_string()
                )]))
            );
        }
        // Crew and polecats have volumes of their own: no such constraint.
        for pod in [
            pod_of(AgentRole::Crew, "max"),
            pod_of(AgentRole::Polecat, "nux"),
        ] {
            assert!(
                !pod.metadata
                    .labels
                    .as_ref()
                    .unwrap()
                    .contains_key("gastown.io/workspace")
            );
            assert!(pod.spec.unwrap().affinity.unwrap().pod_affinity.is_none());
        }
    }

    /// The longest names the API admits (a 54-character Rig, a 40-character rig
    /// name) still make label values of at most 63 characters.
    #[test]
    fn the_longest_admitted_names_make_valid_label_values() {
        let template = template(Some("agent:1"));
        let token = SecretKeyRef {
            name: "bd".into(),
            key: "token".into(),
        };
        let object_name = "o".repeat(54);
        let rig_name = "r".repeat(40);
        let rig = RigContext {
            name: &rig_name,
            object_name: &object_name,
            ..rig(None)
        };
        for role in [AgentRole::Witness, AgentRole::Refinery, AgentRole::Crew] {
            let pod = agent_pod(&input(role, "max", Some(rig.clone()), &template, &token)).unwrap();
            for (key, value) in pod.metadata.labels.unwrap() {
                assert!(
                    value.len() <= 63,
                    "{role:?}: {key}={value} ({})",
                    value.len()
                );
            }
        }
    }

    #[test]
    fn crew_gets_its_own_claim_and_git_credentials() {
        let template = template(Some("agent:1"));
        let token = SecretKeyRef {
            name: "bd".into(),
            key: "token".into(),
        };
        let creds = SecretRef { name: "git".into() };
        let pod = agent_pod(&input(
            AgentRole::Crew,
            "max",
            Some(rig(Some(&creds))),
            &template,
            &token,
        ))
        .unwrap();
        let spec = pod.spec.as_ref().unwrap();
        let volumes = spec.volumes.as_ref().unwrap();
        assert_eq!(
            volumes[0]
                .persistent_volume_claim
                .as_ref()
                .unwrap()
                .claim_name,
            "prod-gastown-crew-max"
        );
        assert!(volumes.iter().any(|v| {
            v.secret
                .as_ref()
                .is_some_and(|s| s.secret_name.as_deref() == Some("git"))
        }));
        let init = &spec.init_containers.as_ref().unwrap()[0];
        assert!(
            init.volume_mounts
                .as_ref()
                .unwrap()
                .iter()
                .any(|m| m.name == "git-credentials")
        );
        // The clone and the agent (which pushes) both find the credentials.
        for container in [init, &spec.containers[0]] {
            let names: Vec<&str> = container
                .env
                .iter()
                .flatten()
                .map(|e| e.name.as_str())
                .collect();
            for name in [
                "GIT_SSH_COMMAND",
                "GIT_CONFIG_COUNT",
                "GIT_CONFIG_KEY_0",
                "GIT_CONFIG_VALUE_0",
            ] {
                assert!(names.contains(&name), "{name} in {}", container.name);
            }
        }
        let without = agent_pod(&input(
            AgentRole::Crew,
            "max",
            Some(rig(None)),
            &template,
            &token,
        ))
        .unwrap();
        assert!(
            !without.spec.unwrap().containers[0]
                .env
                .iter()
                .flatten()
                .any(|e| e.name.starts_with("GIT_"))
        );
    }

    /// The credential helper, run by the real git: it answers from the
    /// Secret's files, and stays silent when the Secret holds no password
    /// (an ssh-only Secret), so git falls back to its other means.
    #[test]
    fn the_git_credential_helper_answers_from_the_secret_files() {
        let fill = |dir: &std::path::Path| {
            let mut command = std::process::Command::new("git");
            command.args(["credential", "fill"]);
            command.env("GIT_TERMINAL_PROMPT", "0");
            command.env("GIT_CONFIG_NOSYSTEM", "1");
            command.env("HOME", dir);
            for var in git_credentials_env_in(dir.to_str().unwrap()) {
                command.env(var.name, var.value.unwrap());
            }
            command
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null());
            let mut child = command.spawn().expect("git runs");
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"protocol=https\nhost=git.example.com\n\n")
                .unwrap();
            let out = child.wait_with_output().unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let dir = std::env::temp_dir().join(format!("gastown-git-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("username"), "robot\n").unwrap();
        std::fs::write(dir.join("password"), "s3cret\n").unwrap();
        let answer = fill(&dir);
        assert!(answer.contains("username=robot\n"), "{answer}");
        assert!(answer.contains("password=s3cret\n"), "{answer}");

        std::fs::remove_file(dir.join("username")).unwrap();
        assert!(
            fill(&dir).contains("username=git\n"),
            "the default user name"
        );

        std::fs::remove_file(dir.join("password")).unwrap();
        let answer = fill(&dir);
        assert!(!answer.contains("password="), "{answer}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_container_runs_unprivileged() {
        let template = template(Some("agent:1"));
        let token = SecretKeyRef {
            name: "bd".into(),
            key: "token".into(),
        };
        let pod = agent_pod(&input(
            AgentRole::Crew,
            "max",
            Some(rig(None)),
            &template,
            &token,
        ))
        .unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(
            spec.security_context.as_ref().unwrap().run_as_non_root,
            Some(true)
        );
        for container in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            let sc = container.security_context.as_ref().unwrap();
            assert_eq!(sc.allow_privilege_escalation, Some(false));
            assert_eq!(
                sc.capabilities.as_ref().unwrap().drop.as_deref(),
                Some(&["ALL".to_string()][..])
            );
        }
    }

    #[test]
    fn missing_image_is_a_clear_error() {
        let template = template(None);
        let token = SecretKeyRef {
            name: "bd".into(),
            key: "token".into(),
        };
        let err =
            agent_pod(&input(AgentRole::Mayor, "mayor", None, &template, &token)).unwrap_err();
        assert!(err.to_string().contains("spec.defaults.image"), "{err}");
    }
}

//! The agent container's environment: what upstream Gas Town's controller
//! gives every agent (G1, G2), so that `gt`, `bd` and the agent image's
//! entrypoint find their identity, their scope and beads.

use std::collections::BTreeMap;

use gastown_api::template::WorkspaceVolume;
use gastown_api::{AgentRole, SecretKeyRef};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, SecretKeySelector};

use super::{AgentPodInput, DaemonConnection, HOME, WORKSPACE_MOUNT, git_credentials_env};

fn plain(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn from_secret(name: &str, secret: &SecretKeyRef) -> EnvVar {
    EnvVar {
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
    }
}

/// The operator's variables, then the template's: a template variable of
/// the same name is replaced, since agents depend on these.
pub(super) fn agent_env(input: &AgentPodInput<'_>) -> Vec<EnvVar> {
    let role = input.role;
    let town_scoped = matches!(role, AgentRole::Mayor | AgentRole::Deacon);
    let mut operator_env = vec![
        plain("GT_ROLE", role.as_str()),
        plain("GT_AGENT", input.agent),
        plain("GT_RUNTIME", "k8s"),
        plain("GT_TOWN_NAME", input.town),
        // Town agents work across rigs; the others within theirs (G1).
        plain("GT_SCOPE", if town_scoped { "town" } else { "rig" }),
        // Who beads and git say did it: the agent's name, the role's for
        // the singletons (their agent name is the role).
        plain("BD_ACTOR", input.agent),
        plain("GIT_AUTHOR_NAME", input.agent),
        plain("HOME", HOME),
        plain("XDG_STATE_HOME", format!("{WORKSPACE_MOUNT}/.state")),
        EnvVar {
            name: "POD_IP".into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "status.podIP".into(),
                    api_version: None,
                }),
                ..Default::default()
            }),
        },
    ];
    if let Some(rig) = &input.rig {
        operator_env.push(plain("GT_RIG", rig.name));
        operator_env.push(plain(
            "BEADS_AGENT_NAME",
            format!("{}/{}", rig.name, input.agent),
        ));
    }
    match role {
        AgentRole::Polecat => operator_env.push(plain("GT_POLECAT", input.agent)),
        AgentRole::Crew => operator_env.push(plain("GT_CREW", input.agent)),
        _ => {}
    }
    if matches!(
        input.template.workspace_volume(role),
        WorkspaceVolume::OwnClaim(_)
    ) {
        // Its workspace outlives the pod: resume the last session (G1).
        operator_env.push(plain("GT_SESSION_RESUME", "1"));
    }
    operator_env.extend(beads_env(&input.daemon));
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
    // template variable of the same name.
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

/// How `bd` and `gt` in the agent reach beads.
fn beads_env(connection: &DaemonConnection) -> Vec<EnvVar> {
    match connection {
        DaemonConnection::Daemon {
            host,
            http_port,
            token,
        } => {
            let mut env = vec![
                // bd takes BD_DAEMON_HTTP_URL first; a bare BD_DAEMON_HOST gets
                // http:// prepended and no port, so port 80 (B6). The entrypoint
                // connects to $BD_DAEMON_HOST:${BD_DAEMON_HTTP_PORT:-9080} (G4).
                plain("BD_DAEMON_HOST", host.clone()),
                plain("BD_DAEMON_HTTP_PORT", http_port.to_string()),
                plain("BD_DAEMON_HTTP_URL", format!("http://{host}:{http_port}")),
                plain("BEADS_AUTO_START_DAEMON", "false"),
                plain("BEADS_DOLT_SERVER_MODE", "1"),
            ];
            if let Some(token) = token {
                env.push(from_secret("BD_DAEMON_TOKEN", token));
            }
            env
        }
        // bd-serve-v0.md §1 "What it needs from Dolt": the same variables
        // bd serve reads, which beat metadata.json; beads' defaults would be
        // 127.0.0.1:3307. The journal is activated per writing store, so the
        // agents' writes reach the operator's event stream only with it on.
        DaemonConnection::Dolt(dolt) => {
            let mut env = vec![
                plain("BEADS_DOLT_SERVER_MODE", "1"),
                plain("BEADS_DOLT_AUTO_START", "0"),
                plain("BEADS_DOLT_SERVER_PORT", dolt.port.to_string()),
                plain("BEADS_DOLT_SERVER_USER", "root"),
                plain("BD_EVENTS_JOURNAL", "1"),
            ];
            if let Some(host) = &dolt.host {
                env.push(plain("BEADS_DOLT_SERVER_HOST", host.clone()));
            }
            if let Some(password) = &dolt.password {
                env.push(from_secret("BEADS_DOLT_PASSWORD", password));
            }
            env
        }
    }
}

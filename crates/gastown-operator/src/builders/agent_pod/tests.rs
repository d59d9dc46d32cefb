//! Agent pods, checked against the Gas Town agent image's contract.

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
        daemon: DaemonConnection::Daemon {
            host: "prod-bd-daemon".into(),
            http_port: 9080,
            token: Some(token.clone()),
        },
        anthropic_api_key: None,
        claude_credentials: None,
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
    let pod_of =
        |role, agent| agent_pod(&input(role, agent, Some(rig(None)), &template, &token)).unwrap();
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
            // The credential wiring; GIT_AUTHOR_NAME is the agent's identity.
            .any(|e| e.name.starts_with("GIT_") && e.name != "GIT_AUTHOR_NAME")
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
    let err = agent_pod(&input(AgentRole::Mayor, "mayor", None, &template, &token)).unwrap_err();
    assert!(err.to_string().contains("spec.defaults.image"), "{err}");
}

fn env_of(pod: &Pod) -> Vec<EnvVar> {
    pod.spec.as_ref().unwrap().containers[0]
        .env
        .clone()
        .unwrap()
}

/// bd-serve-v0.md §1: with bd serve, agents' bd and gt use the town's Dolt
/// (beads' defaults would be 127.0.0.1:3307), the password from dolt's
/// Secret, the events journal on; nothing points them at a daemon.
#[test]
fn with_bd_serve_agents_reach_the_towns_dolt() {
    let template = template(Some("agent:1"));
    let token = SecretKeyRef {
        name: "unused".into(),
        key: "token".into(),
    };
    let mut polecat_input = input(
        AgentRole::Polecat,
        "nux",
        Some(rig(None)),
        &template,
        &token,
    );
    let town: gastown_api::GasTownSpec = serde_json::from_value(serde_json::json!({
        "dolt": {"image": "dolthub/dolt-sql-server:1.81.6",
                 "rootPasswordSecretRef": {"name": "dolt-root", "key": "password"}},
        "daemon": {"protocol": "serve", "image": "beads:1",
                   "tokenSecretRef": {"name": "serve-token", "key": "token"}}
    }))
    .unwrap();
    polecat_input.daemon = DaemonConnection::of(&town, "prod");
    let polecat = agent_pod(&polecat_input).unwrap();
    for (name, value) in [
        ("BEADS_DOLT_SERVER_HOST", "prod-dolt"),
        ("BEADS_DOLT_SERVER_PORT", "3306"),
        ("BEADS_DOLT_SERVER_MODE", "1"),
        ("BD_EVENTS_JOURNAL", "1"),
    ] {
        assert_eq!(env_value(&polecat, name).as_deref(), Some(value), "{name}");
    }
    let password = env_of(&polecat)
        .into_iter()
        .find(|e| e.name == "BEADS_DOLT_PASSWORD")
        .and_then(|e| e.value_from)
        .and_then(|v| v.secret_key_ref)
        .expect("the password from dolt's Secret");
    assert_eq!(password.name, "dolt-root");
    for daemon in ["BD_DAEMON_HOST", "BD_DAEMON_HTTP_URL", "BD_DAEMON_TOKEN"] {
        assert!(
            env_of(&polecat).iter().all(|e| e.name != daemon),
            "{daemon}"
        );
    }
}

/// G1, G2, B6: the identity, scope and beads address upstream's controller
/// gives every agent; bd reads BD_DAEMON_HTTP_URL before a bare host.
#[test]
fn agents_get_upstreams_env_and_reach_the_daemon_over_http() {
    let template = template(Some("agent:1"));
    let token = SecretKeyRef {
        name: "bd".into(),
        key: "token".into(),
    };
    let polecat = agent_pod(&input(
        AgentRole::Polecat,
        "nux",
        Some(rig(None)),
        &template,
        &token,
    ))
    .unwrap();
    for (name, value) in [
        ("BD_DAEMON_HTTP_URL", "http://prod-bd-daemon:9080"),
        ("BD_DAEMON_HOST", "prod-bd-daemon"),
        ("BD_DAEMON_HTTP_PORT", "9080"),
        ("GT_SCOPE", "rig"),
        ("BD_ACTOR", "nux"),
        ("GIT_AUTHOR_NAME", "nux"),
        ("BEADS_AGENT_NAME", "gastown/nux"),
        ("GT_TOWN_NAME", "prod"),
        ("XDG_STATE_HOME", "/home/agent/gt/.state"),
        ("BEADS_AUTO_START_DAEMON", "false"),
    ] {
        assert_eq!(env_value(&polecat, name).as_deref(), Some(value), "{name}");
    }
    assert!(
        env_value(&polecat, "BD_DAEMON_PORT").is_none(),
        "no TCP listener since Feb 2026"
    );
    assert!(
        env_value(&polecat, "GT_SESSION_RESUME").is_none(),
        "an ephemeral workspace"
    );
    let pod_ip = env_of(&polecat)
        .into_iter()
        .find(|e| e.name == "POD_IP")
        .and_then(|e| e.value_from)
        .and_then(|v| v.field_ref)
        .map(|f| f.field_path);
    assert_eq!(pod_ip.as_deref(), Some("status.podIP"));

    let mayor = agent_pod(&input(AgentRole::Mayor, "mayor", None, &template, &token)).unwrap();
    assert_eq!(env_value(&mayor, "GT_SCOPE").as_deref(), Some("town"));
    assert_eq!(env_value(&mayor, "BD_ACTOR").as_deref(), Some("mayor"));

    let crew = agent_pod(&input(
        AgentRole::Crew,
        "max",
        Some(rig(None)),
        &template,
        &token,
    ))
    .unwrap();
    assert_eq!(env_value(&crew, "GT_SESSION_RESUME").as_deref(), Some("1"));
    let mounts = crew.spec.as_ref().unwrap().containers[0]
        .volume_mounts
        .clone()
        .unwrap();
    let state = mounts
        .iter()
        .find(|m| m.mount_path == "/home/agent/.claude")
        .expect("Claude's state lives on the crew member's claim");
    assert_eq!(state.name, "workspace");
    assert_eq!(state.sub_path.as_deref(), Some(".state/claude"));
}

/// G1, G4: the clone lands in `<rig>/work`, where the agent image expects it.
#[test]
fn the_clone_lands_where_the_agent_image_looks() {
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
    let init = &pod.spec.as_ref().unwrap().init_containers.as_ref().unwrap()[0];
    let script = &init.command.as_ref().unwrap()[2];
    assert!(
        script.contains("repo=\"/home/agent/gt/gastown/work\""),
        "{script}"
    );
    assert_eq!(
        init.termination_message_policy.as_deref(),
        Some("FallbackToLogsOnError")
    );
}

/// G1, G4: the credentials Secret is mounted where the agent image's
/// entrypoint copies it from; a template layer's replaces the town's.
#[test]
fn claude_credentials_are_mounted_as_upstream_does() {
    let token = SecretKeyRef {
        name: "bd".into(),
        key: "token".into(),
    };
    let town_secret = SecretRef {
        name: "claude-town".into(),
    };
    let mounted_secret = |pod: &Pod| -> Option<String> {
        let spec = pod.spec.as_ref().unwrap();
        let mount = spec.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == CLAUDE_CREDENTIALS_MOUNT)?;
        assert_eq!(mount.read_only, Some(true));
        spec.volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)?
            .secret
            .as_ref()?
            .secret_name
            .clone()
    };
    let plain = template(Some("agent:1"));
    let mut with_town = input(AgentRole::Polecat, "nux", Some(rig(None)), &plain, &token);
    assert_eq!(mounted_secret(&agent_pod(&with_town).unwrap()), None);
    with_town.claude_credentials = Some(&town_secret);
    assert_eq!(
        mounted_secret(&agent_pod(&with_town).unwrap()).as_deref(),
        Some("claude-town")
    );
    let layered = merge([&PodTemplate {
        image: Some("agent:1".into()),
        claude_credentials_secret_ref: Some(SecretRef {
            name: "claude-rig".into(),
        }),
        ..Default::default()
    }]);
    let mut with_layer = input(AgentRole::Polecat, "nux", Some(rig(None)), &layered, &token);
    with_layer.claude_credentials = Some(&town_secret);
    assert_eq!(
        mounted_secret(&agent_pod(&with_layer).unwrap()).as_deref(),
        Some("claude-rig")
    );
}

/// G1: Claude Code must run — probed by default, replaced or turned off in
/// the template.
#[test]
fn agents_are_probed_unless_the_template_says_otherwise() {
    let token = SecretKeyRef {
        name: "bd".into(),
        key: "token".into(),
    };
    let probes_of = |template: &ResolvedTemplate| {
        let pod = agent_pod(&input(AgentRole::Mayor, "mayor", None, template, &token)).unwrap();
        let container = pod.spec.unwrap().containers.remove(0);
        (container.startup_probe, container.liveness_probe)
    };
    let (startup, liveness) = probes_of(&template(Some("agent:1")));
    let command = |probe: Option<Probe>| probe.and_then(|p| p.exec).and_then(|e| e.command);
    assert_eq!(command(startup).unwrap(), ["pgrep", "-f", "claude|node"]);
    assert_eq!(liveness.as_ref().and_then(|p| p.period_seconds), Some(15));

    let off = merge([&PodTemplate {
        image: Some("agent:1".into()),
        probes: Some(gastown_api::template::AgentProbes {
            enabled: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    assert_eq!(probes_of(&off), (None, None));

    let own = Probe {
        period_seconds: Some(42),
        ..Default::default()
    };
    let replaced = merge([&PodTemplate {
        image: Some("agent:1".into()),
        probes: Some(gastown_api::template::AgentProbes {
            liveness: Some(own.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    let (startup, liveness) = probes_of(&replaced);
    assert_eq!(liveness, Some(own));
    assert!(startup.is_some(), "the default startup probe stays");
}

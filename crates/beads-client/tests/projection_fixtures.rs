//! Daemon answers written from the reference's field lists decode, and the
//! projection is right on each of them.

use std::time::Duration;

use beads_client::jiff::Timestamp;
use beads_client::{
    AgentPodList, AgentState, HealthReport, HealthStatus, Issue, MutationEvent, MutationKind, Role,
    Stats, TownSnapshot, desired_agents, project,
};

const NOW: &str = "2026-02-06T22:10:00Z";
const STALENESS: Duration = Duration::from_secs(600);

fn decode<T: serde::de::DeserializeOwned>(name: &str, json: &str) -> T {
    serde_json::from_str(json)
        .unwrap_or_else(|error| panic!("fixture {name} does not decode: {error}"))
}

fn town() -> TownSnapshot {
    TownSnapshot {
        health: decode("town/health", include_str!("fixtures/town/health.json")),
        agents: decode("town/agents", include_str!("fixtures/town/agents.json")),
        merge_requests: Some(decode(
            "town/merge_requests",
            include_str!("fixtures/town/merge_requests.json"),
        )),
        ..TownSnapshot::default()
    }
}

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

#[test]
fn health_fixtures_decode() {
    let healthy: HealthReport = decode(
        "health_healthy",
        include_str!("fixtures/health_healthy.json"),
    );
    assert_eq!(healthy.status, HealthStatus::Healthy);
    assert_eq!(healthy.version, "0.49.6");
    assert!(healthy.compatible);
    assert_eq!(healthy.active_connections, 7);
    assert_eq!(healthy.memory_alloc_mb, 48);
    assert_eq!(healthy.error, None);

    let degraded: HealthReport = decode(
        "health_degraded",
        include_str!("fixtures/health_degraded.json"),
    );
    assert_eq!(degraded.status, HealthStatus::Degraded);
    assert!(degraded.error.is_some_and(|e| e.contains("812ms")));
}

#[test]
fn stats_fixture_decodes() {
    let stats: Stats = decode("stats", include_str!("fixtures/stats.json"));
    assert_eq!(stats.total_issues, 1523);
    assert_eq!(stats.tombstone_issues, 70);
    assert_eq!(stats.average_lead_time_hours, 17.25);
}

#[test]
fn agent_pod_list_fixtures_decode() {
    let list: AgentPodList = decode(
        "agent_pod_list",
        include_str!("fixtures/agent_pod_list.json"),
    );
    assert_eq!(list.agents.len(), 2);
    assert_eq!(list.agents[0].pod_ip.as_deref(), Some("10.42.0.17"));
    assert_eq!(list.agents[0].role_type.as_deref(), Some("polecat"));
    assert_eq!(list.agents[1].pod_status.as_deref(), Some("pending"));
    assert_eq!(list.agents[1].rig, None);
    let empty: AgentPodList = decode(
        "agent_pod_list_empty",
        include_str!("fixtures/agent_pod_list_empty.json"),
    );
    assert!(empty.agents.is_empty());
}

#[test]
fn mutation_fixture_decodes_with_unknown_types_kept() {
    let events: Vec<MutationEvent> = decode("mutations", include_str!("fixtures/mutations.json"));
    let kinds: Vec<_> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            MutationKind::Create,
            MutationKind::Status,
            MutationKind::Bonded,
            MutationKind::Other("teleported".into()),
            MutationKind::Update,
        ]
    );
    assert_eq!(events[0].assignee, None, "empty assignee is absent");
    assert_eq!(events[1].old_status.as_deref(), Some("open"));
    assert_eq!(events[1].new_status.as_deref(), Some("hooked"));
    assert_eq!(events[2].step_count, 4);
    assert_eq!(events[4].await_type.as_deref(), Some("human"));
    assert!(events.iter().all(|e| e.timestamp.is_some()));
}

#[test]
fn town_fixtures_decode() {
    let town = town();
    assert_eq!(town.agents.len(), 22);
    assert_eq!(town.merge_requests.as_ref().map(Vec::len), Some(6));
    let agents: Vec<_> = town.agent_beads().collect();
    assert_eq!(agents.len(), 21, "the task bead is not an agent");
    let rictus = agents.iter().find(|a| a.name == "rictus").expect("rictus");
    assert_eq!(
        rictus.state,
        Some(AgentState::AwaitingGate),
        "read from the description"
    );
    assert_eq!(rictus.hook_bead, None, "`hook_bead: null` line");
    let dag = agents.iter().find(|a| a.name == "dag").expect("dag");
    assert_eq!(dag.state, Some(AgentState::Other("hibernating".into())));
    let morsov = agents.iter().find(|a| a.name == "morsov").expect("morsov");
    assert_eq!(
        (morsov.state.clone(), morsov.status.clone()),
        (None, Default::default())
    );
}

#[test]
fn town_projection() {
    let summary = project(&town(), now(), STALENESS);

    assert_eq!(summary.daemon.status, HealthStatus::Healthy);
    assert!(summary.daemon.serving);
    assert_eq!(summary.daemon.version, "0.49.6");

    let rig_names: Vec<_> = summary.rigs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        rig_names,
        ["beads", "gastown", "wyvern"],
        "rigs of agents and merge requests, sorted"
    );

    let gastown = summary.rig("gastown").expect("gastown");
    assert_eq!(
        gastown.polecats,
        ["nux", "rictus", "toast"],
        "live polecats; done, nuked and closed left out"
    );
    assert_eq!(gastown.polecat_count, 3);
    assert_eq!(gastown.crew_count, 1, "max idles; joe stopped");
    assert!(gastown.witness_alive);
    assert!(
        !gastown.refinery_alive,
        "idle but last active 70 minutes ago"
    );
    assert_eq!(
        gastown.merge_queue_depth,
        Some(3),
        "closed merge request left out"
    );
    assert_eq!(gastown.merge_queue_in_processing, Some(1));
    let hooked: Vec<_> = gastown
        .hooked_work
        .iter()
        .map(|h| (h.agent.as_str(), h.bead.as_str()))
        .collect();
    assert_eq!(hooked, [("nux", "gt-abc"), ("toast", "gt-def")]);
    assert_eq!(gastown.agents.len(), 9);
    let nux = gastown.agents.iter().find(|a| a.name == "nux").unwrap();
    assert_eq!(nux.pod_status.as_deref(), Some("running"));
    assert!(nux.alive);
    let toast = gastown.agents.iter().find(|a| a.name == "toast").unwrap();
    assert!(
        toast.live && !toast.alive,
        "stuck is live; its activity is stale"
    );

    let beads = summary.rig("beads").expect("beads");
    assert_eq!(
        beads.polecats,
        ["cheedo"],
        "unknown and missing states are not live"
    );
    assert_eq!(beads.crew_count, 1);
    assert!(!beads.witness_alive, "dead witness");
    assert!(
        beads.refinery_alive,
        "running; no last_activity, updated_at is fresh"
    );
    assert_eq!(
        (beads.merge_queue_depth, beads.merge_queue_in_processing),
        (Some(1), Some(1))
    );
    assert!(beads.hooked_work.is_empty());
    assert_eq!(beads.agents.len(), 6);

    let wyvern = summary.rig("wyvern").expect("wyvern");
    assert_eq!(wyvern.polecats, ["ace"]);
    assert_eq!(
        (wyvern.crew_count, wyvern.merge_queue_depth),
        (0, Some(0)),
        "known merge requests: none is zero, not unknown"
    );
    assert!(!wyvern.witness_alive && !wyvern.refinery_alive);

    let town_ids: Vec<_> = summary.town_agents.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        town_ids,
        ["gt-deacon", "gt-mayor", "gt-stray"],
        "closed mayor left out"
    );
    let mayor = summary.mayor.as_ref().expect("mayor");
    assert_eq!(
        (mayor.id.as_str(), mayor.state.clone(), mayor.alive),
        ("gt-mayor", Some(AgentState::Working), true)
    );
    let deacon = summary.deacon.as_ref().expect("deacon");
    assert_eq!(deacon.state, Some(AgentState::Idle));
    assert!(deacon.live && !deacon.alive);
    assert!(summary.rig("nowhere").is_none());
}

#[test]
fn staleness_threshold_moves_aliveness() {
    let generous = project(&town(), now(), Duration::from_secs(2 * 3600));
    assert!(
        generous.rig("gastown").unwrap().refinery_alive,
        "70 minutes is within two hours"
    );
    assert!(generous.deacon.unwrap().alive);
    let later = project(
        &town(),
        now() + beads_client::jiff::SignedDuration::from_hours(1),
        STALENESS,
    );
    assert!(!later.rig("gastown").unwrap().witness_alive);
    assert!(!later.mayor.unwrap().alive);
}

#[test]
fn desired_agents_follow_beads() {
    let town = town();
    let names = |agents: Vec<beads_client::AgentBead>| {
        agents.into_iter().map(|a| a.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(desired_agents(&town, Some("gastown"), &Role::Polecat, &[])),
        ["nux", "rictus", "toast"]
    );
    assert_eq!(
        names(desired_agents(
            &town,
            Some("gastown"),
            &Role::Polecat,
            &["execution_target:k8s".into()]
        )),
        ["nux", "toast"]
    );
    assert_eq!(
        names(desired_agents(&town, Some("gastown"), &Role::Crew, &[])),
        ["max"]
    );
    assert_eq!(
        names(desired_agents(&town, Some("beads"), &Role::Witness, &[])),
        Vec::<String>::new()
    );
    assert_eq!(
        names(desired_agents(&town, None, &Role::Mayor, &[])),
        ["mayor"]
    );
    assert_eq!(
        names(desired_agents(
            &town,
            Some("wyvern"),
            &Role::Polecat,
            &["gt:agent".into()]
        )),
        ["ace"]
    );
}

#[test]
fn an_empty_snapshot_projects_to_an_empty_town() {
    let summary = project(&TownSnapshot::default(), now(), STALENESS);
    assert!(summary.rigs.is_empty() && summary.town_agents.is_empty());
    assert!(summary.mayor.is_none());
    assert!(!summary.daemon.serving, "no health answer is not serving");
}

/// 10,000 beads over 40 rigs, built here; counts checked arithmetically.
#[test]
fn a_large_town_projects_correctly() {
    const RIGS: usize = 40;
    const POLECATS_PER_RIG: usize = 200;
    const CREW_PER_RIG: usize = 20;
    const MERGE_REQUESTS_PER_RIG: usize = 28;
    let states = ["working", "done", "stuck", "nuked", "idle"]; // 3 of 5 live
    let fresh = "2026-02-06T22:09:00Z";
    let mut snapshot = TownSnapshot {
        health: decode("town/health", include_str!("fixtures/town/health.json")),
        merge_requests: Some(Vec::new()),
        ..TownSnapshot::default()
    };
    let agent = |id: String, rig: &str, role: &str, state: &str, description: bool| {
        let mut issue = Issue {
            id,
            issue_type: Some("agent".into()),
            labels: vec!["gt:agent".into(), format!("rig:{rig}")],
            ..Issue::default()
        };
        if description {
            issue.description = format!(
                "role_type: {role}\nrig: {rig}\nagent_state: {state}\nlast_activity: {fresh}"
            );
        } else {
            issue.role_type = Some(role.into());
            issue.rig = Some(rig.into());
            issue.agent_state = Some(state.into());
            issue.last_activity = fresh.parse().ok();
        }
        issue
    };
    for r in 0..RIGS {
        let rig = format!("rig{r:02}");
        snapshot.agents.push(agent(
            format!("gt-{rig}-witness-witness"),
            &rig,
            "witness",
            "working",
            false,
        ));
        snapshot.agents.push(agent(
            format!("gt-{rig}-refinery-refinery"),
            &rig,
            "refinery",
            "idle",
            true,
        ));
        for p in 0..POLECATS_PER_RIG {
            let mut polecat = agent(
                format!("gt-{rig}-polecat-p{p}"),
                &rig,
                "polecat",
                states[p % 5],
                p % 2 == 0,
            );
            polecat.hook_bead = (p % 10 == 0).then(|| format!("{rig}-task-{p}"));
            snapshot.agents.push(polecat);
        }
        for c in 0..CREW_PER_RIG {
            snapshot.agents.push(agent(
                format!("gt-{rig}-crew-c{c}"),
                &rig,
                "crew",
                states[c % 5],
                c % 2 == 1,
            ));
        }
        for m in 0..MERGE_REQUESTS_PER_RIG {
            snapshot.merge_requests.get_or_insert_default().push(Issue {
                id: format!("{rig}-mr-{m}"),
                labels: vec!["gt:merge-request".into(), format!("rig:{rig}")],
                status: if m % 4 == 0 {
                    "in_progress".into()
                } else {
                    "open".into()
                },
                ..Issue::default()
            });
        }
    }
    assert_eq!(
        snapshot.agents.len() + snapshot.merge_requests.as_ref().map_or(0, Vec::len),
        10_000
    );

    let summary = project(&snapshot, now(), STALENESS);
    assert_eq!(summary.rigs.len(), RIGS);
    for rig in &summary.rigs {
        assert_eq!(
            rig.polecat_count as usize,
            POLECATS_PER_RIG * 3 / 5,
            "{}",
            rig.name
        );
        assert_eq!(rig.polecats.len(), rig.polecat_count as usize);
        assert_eq!(
            rig.crew_count as usize,
            CREW_PER_RIG * 3 / 5,
            "{}",
            rig.name
        );
        assert!(rig.witness_alive && rig.refinery_alive, "{}", rig.name);
        assert_eq!(rig.merge_queue_depth, Some(MERGE_REQUESTS_PER_RIG as u32));
        assert_eq!(
            rig.merge_queue_in_processing,
            Some(MERGE_REQUESTS_PER_RIG as u32 / 4)
        );
        assert_eq!(rig.hooked_work.len(), POLECATS_PER_RIG / 10);
        assert_eq!(rig.agents.len(), 2 + POLECATS_PER_RIG + CREW_PER_RIG);
    }
}

#[test]
fn unknown_merge_requests_project_to_unknown_queue_depths() {
    let mut snapshot = TownSnapshot {
        merge_requests: None,
        ..town()
    };
    // A rig's own server gives that rig's queue (and only that rig's).
    let from_rig_server = Issue {
        id: "gt-mr-1".into(),
        status: beads_client::IssueStatus::InProgress,
        labels: vec!["gt:merge-request".into()],
        ..Issue::default()
    };
    snapshot
        .rig_merge_requests
        .insert("own-server".into(), vec![from_rig_server]);
    let summary = project(&snapshot, now(), STALENESS);
    let own = summary.rig("own-server").expect("the rig of the server");
    assert_eq!(
        (own.merge_queue_depth, own.merge_queue_in_processing),
        (Some(1), Some(1))
    );
    let summary = project(
        &TownSnapshot {
            rig_merge_requests: Default::default(),
            ..snapshot
        },
        now(),
        STALENESS,
    );
    assert!(!summary.rigs.is_empty());
    for rig in &summary.rigs {
        assert_eq!(
            (rig.merge_queue_depth, rig.merge_queue_in_processing),
            (None, None),
            "{}: unknown is never 0",
            rig.name
        );
    }
    // Everything else projects as with merge requests known.
    let known = project(&town(), now(), STALENESS);
    let polecats = |summary: &beads_client::TownSummary| {
        summary
            .rigs
            .iter()
            .map(|rig| (rig.name.clone(), rig.polecats.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(polecats(&summary), polecats(&known));
}

//! The tests of the pure decision: each rule of the module docs shown on
//! [`plan`] with agent beads and pods made up on the spot — no cluster, no
//! daemon. In their own file because they outweigh the code they test.

use super::*;
use beads_client::Issue;

const TOWN: &str = "prod";
const RIG: &str = "gastown";

fn selector() -> Vec<String> {
    vec!["execution_target:k8s".into()]
}

/// A polecat bead of the test rig in `state`, with optional pod record fields.
fn bead(name: &str, state: &str, extra: serde_json::Value) -> AgentBead {
    let mut json = serde_json::json!({
        "id": format!("gt-{RIG}-polecat-{name}"),
        "issue_type": "agent",
        "role_type": "polecat",
        "rig": RIG,
        "agent_state": state,
        "labels": [format!("agent:{name}"), "execution_target:k8s"],
    });
    if let (Some(json), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
        json.extend(extra.clone());
    }
    let issue: Issue = serde_json::from_value(json).unwrap();
    AgentBead::from_issue(&issue).unwrap()
}

fn none() -> serde_json::Value {
    serde_json::json!({})
}

/// The record beads keeps once the operator registered a running pod.
fn recorded(name: &str, status: &str) -> serde_json::Value {
    serde_json::json!({
        "pod_name": format!("gt-{RIG}-polecat-{name}"),
        "pod_ip": "10.0.0.7",
        "pod_node": "node-a",
        "pod_status": status,
    })
}

fn pod(name: &str, phase: AgentPhase) -> ObservedPod {
    ObservedPod {
        name: format!("gt-{RIG}-polecat-{name}"),
        agent: name.into(),
        bead_id: Some(format!("gt-{RIG}-polecat-{name}")),
        phase,
        terminating: false,
        ready: phase == AgentPhase::Running,
        ip: Some("10.0.0.7".into()),
        node: Some("node-a".into()),
        started_at: None,
        restarts: 0,
    }
}

fn desired_of(known: &[AgentBead]) -> Vec<AgentBead> {
    let mut desired: Vec<AgentBead> = known
        .iter()
        .filter(|b| b.is_live() && b.has_labels(&selector()))
        .cloned()
        .collect();
    desired.sort_by(|a, b| a.id.cmp(&b.id));
    desired
}

struct Case {
    known: Vec<AgentBead>,
    pods: Vec<ObservedPod>,
    limit: Option<usize>,
    draining: bool,
    distrust: Option<String>,
    elsewhere: BTreeMap<String, String>,
}

impl Case {
    fn new(known: Vec<AgentBead>, pods: Vec<ObservedPod>) -> Self {
        Self {
            known,
            pods,
            limit: Some(5),
            draining: false,
            distrust: None,
            elsewhere: BTreeMap::new(),
        }
    }

    fn plan(&self) -> Plan {
        let desired = desired_of(&self.known);
        let selector = selector();
        plan(&PlanInput {
            town: TOWN,
            rig: RIG,
            role: AgentRole::Polecat,
            selector: &selector,
            pods: &self.pods,
            beads: BeadsAnswer::Answered {
                known: &self.known,
                desired: &desired,
                distrust: self.distrust.clone(),
            },
            elsewhere: &self.elsewhere,
            limit: self.limit,
            draining: self.draining,
            blocked: None,
        })
    }
}

fn created(plan: &Plan) -> Vec<&str> {
    plan.create.iter().map(|b| b.name.as_str()).collect()
}

fn deleted(plan: &Plan) -> Vec<&str> {
    plan.delete.iter().map(|d| d.pod.as_str()).collect()
}

fn disposition<'a>(plan: &'a Plan, name: &str) -> &'a Disposition {
    &plan
        .rows
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
        .disposition
}

#[test]
fn a_spawned_polecat_gets_a_pod() {
    let plan = Case::new(vec![bead("nux", "spawning", none())], vec![]).plan();
    assert_eq!(created(&plan), ["nux"]);
    assert!(plan.delete.is_empty());
    let row = &plan.rows[0];
    assert_eq!(row.pod_name.as_deref(), Some("gt-gastown-polecat-nux"));
    assert_eq!(row.phase, Some(AgentPhase::Pending));
    assert_eq!(row.disposition, Disposition::Scheduled);
    assert!(
        plan.reports.is_empty(),
        "nothing to report before the pod exists"
    );
}

#[test]
fn beads_without_the_selector_labels_or_live_state_get_no_pod() {
    let mut unlabelled = bead("ace", "working", none());
    unlabelled.labels.retain(|l| l != "execution_target:k8s");
    let plan = Case::new(
        vec![
            unlabelled,
            bead("dag", "stopped", none()),
            bead("eve", "hibernating", none()),
        ],
        vec![],
    )
    .plan();
    assert!(plan.create.is_empty());
    assert!(plan.rows.is_empty());
}

#[test]
fn done_closed_nuked_and_stopping_beads_lose_their_pods() {
    let known = vec![
        bead("ace", "done", recorded("ace", "running")),
        bead("bob", "working", serde_json::json!({"status": "closed"})),
        bead("cat", "nuked", none()),
        bead("dag", "stopping", none()),
    ];
    let pods = ["ace", "bob", "cat", "dag"]
        .map(|n| pod(n, AgentPhase::Running))
        .to_vec();
    let plan = Case::new(known, pods).plan();
    assert_eq!(
        deleted(&plan),
        [
            "gt-gastown-polecat-ace",
            "gt-gastown-polecat-bob",
            "gt-gastown-polecat-cat",
            "gt-gastown-polecat-dag"
        ]
    );
    assert!(plan.create.is_empty());
    assert!(plan.delete.iter().all(|d| d.deregister.is_none()));
    assert_eq!(plan.delete[0].why, "bead gt-gastown-polecat-ace is done");
    assert_eq!(plan.delete[1].why, "bead gt-gastown-polecat-bob is closed");
    assert_eq!(disposition(&plan, "ace"), &Disposition::Leaving);
}

#[test]
fn an_ended_polecat_pod_of_a_finished_bead_is_left_for_the_rigs_cleanup() {
    let known = vec![bead("ace", "done", recorded("ace", "terminated"))];
    let plan = Case::new(known, vec![pod("ace", AgentPhase::Succeeded)]).plan();
    assert!(
        plan.delete.is_empty(),
        "the rig deletes it after cleanupAfter"
    );
    assert!(plan.reports.is_empty());
    assert_eq!(disposition(&plan, "ace"), &Disposition::Leaving);
}

#[test]
fn a_pod_whose_bead_vanished_is_deleted_and_the_bead_deregistered() {
    let known = vec![bead("ace", "working", recorded("ace", "running"))];
    let plan = Case::new(
        known,
        vec![
            pod("ace", AgentPhase::Running),
            pod("gone", AgentPhase::Running),
        ],
    )
    .plan();
    assert_eq!(deleted(&plan), ["gt-gastown-polecat-gone"]);
    assert_eq!(
        plan.delete[0].deregister.as_deref(),
        Some("gt-gastown-polecat-gone")
    );
    assert_eq!(plan.delete[0].why, "its bead is gone from beads");
}

#[test]
fn a_live_bead_no_longer_selected_keeps_its_pod() {
    let mut moved = bead("ace", "working", recorded("ace", "running"));
    moved.labels.retain(|l| l != "execution_target:k8s");
    let plan = Case::new(vec![moved], vec![pod("ace", AgentPhase::Running)]).plan();
    assert!(plan.delete.is_empty());
    assert_eq!(disposition(&plan, "ace"), &Disposition::Scheduled);
}

#[test]
fn a_finished_polecat_pod_of_a_live_bead_is_reported_not_recreated() {
    let known = vec![bead("nux", "working", recorded("nux", "running"))];
    let plan = Case::new(known, vec![pod("nux", AgentPhase::Failed)]).plan();
    assert!(plan.create.is_empty());
    assert!(plan.delete.is_empty());
    assert!(plan.keep_current.is_empty());
    assert_eq!(disposition(&plan, "nux"), &Disposition::Ended);
    assert_eq!(
        forget_current(&plan.reports),
        [Report::Status {
            agent_id: "gt-gastown-polecat-nux".into(),
            status: PodStatus::Terminated,
            current: PodFields::default(),
        }]
    );
}

#[test]
fn an_ended_polecat_whose_pod_was_cleaned_up_waits_for_beads_to_ask_again() {
    // The rig removed the ended pod; beads still records it as terminated.
    let ended = Case::new(
        vec![bead("nux", "working", recorded("nux", "terminated"))],
        vec![],
    );
    let plan = ended.plan();
    assert!(
        plan.create.is_empty(),
        "not recreated while beads keeps the record"
    );
    assert!(plan.reports.is_empty(), "beads already knows");
    assert_eq!(disposition(&plan, "nux"), &Disposition::Ended);

    // A pod that vanished while beads thought it running: beads is told.
    let vanished = Case::new(
        vec![bead("nux", "working", recorded("nux", "running"))],
        vec![],
    );
    assert_eq!(
        forget_current(&vanished.plan().reports),
        [Report::Status {
            agent_id: "gt-gastown-polecat-nux".into(),
            status: PodStatus::Terminated,
            current: PodFields::default(),
        }]
    );

    // beads cleared the record (a new sling): a new pod.
    let asked = Case::new(vec![bead("nux", "spawning", none())], vec![]);
    assert_eq!(created(&asked.plan()), ["nux"]);
}

#[test]
fn over_max_count_agents_are_pending_in_bead_id_order() {
    let known = vec![
        bead("dag", "spawning", none()),
        bead("ace", "working", recorded("ace", "running")),
        bead("cat", "spawning", none()),
        bead("bob", "spawning", none()),
    ];
    let mut case = Case::new(known, vec![pod("ace", AgentPhase::Running)]);
    case.limit = Some(3);
    let plan = case.plan();
    assert_eq!(
        created(&plan),
        ["bob", "cat"],
        "two free slots, lowest bead ids first"
    );
    assert_eq!(
        disposition(&plan, "dag"),
        &Disposition::Waiting(Waiting::MaxCount(3))
    );
    let dag = plan.rows.iter().find(|r| r.name == "dag").unwrap();
    assert_eq!(dag.phase, Some(AgentPhase::Pending));
    assert_eq!(dag.pod_name, None);
}

#[test]
fn finished_pods_do_not_count_against_the_limit() {
    let known = vec![
        bead("ace", "working", recorded("ace", "running")),
        bead("bob", "spawning", none()),
    ];
    let mut case = Case::new(known, vec![pod("ace", AgentPhase::Succeeded)]);
    case.limit = Some(1);
    assert_eq!(created(&case.plan()), ["bob"]);
}

#[test]
fn daemon_down_means_nothing_created_deleted_or_reported() {
    let pods = vec![pod("ace", AgentPhase::Running)];
    let selector = selector();
    let plan = plan(&PlanInput {
        town: TOWN,
        rig: RIG,
        role: AgentRole::Polecat,
        selector: &selector,
        pods: &pods,
        beads: BeadsAnswer::Unavailable("connection refused".into()),
        elsewhere: &BTreeMap::new(),
        limit: Some(5),
        draining: false,
        blocked: None,
    });
    assert!(plan.create.is_empty() && plan.delete.is_empty() && plan.reports.is_empty());
    assert_eq!(
        plan.beads,
        BeadsHealth::Unavailable("connection refused".into())
    );
}

#[test]
fn an_empty_answer_while_pods_exist_deletes_nothing() {
    let snapshot = TownSnapshot::default();
    let reason = distrust(&snapshot, TOWN, 2).expect("an empty town with pods is suspicious");
    assert!(reason.contains("no agent beads at all"), "{reason}");
    assert_eq!(
        distrust(&snapshot, TOWN, 0),
        None,
        "empty and no pods is fine"
    );

    let mut case = Case::new(
        vec![],
        vec![
            pod("ace", AgentPhase::Running),
            pod("bob", AgentPhase::Running),
        ],
    );
    case.distrust = Some(reason.clone());
    let plan = case.plan();
    assert!(plan.delete.is_empty());
    assert!(plan.reports.is_empty());
    assert_eq!(plan.beads, BeadsHealth::DeletionsWithheld(reason));
    assert_eq!(disposition(&plan, "ace"), &Disposition::Leaving);
}

#[test]
fn an_unhealthy_daemon_is_distrusted_and_its_error_shown() {
    let mut snapshot = TownSnapshot::default();
    snapshot.health.status = HealthStatus::Unhealthy;
    snapshot.health.error = Some("dolt unreachable".into());
    let reason = distrust(&snapshot, TOWN, 0).unwrap();
    assert!(reason.contains("unhealthy (dolt unreachable)"), "{reason}");
    snapshot.health.status = HealthStatus::Healthy;
    snapshot.agents = vec![
        serde_json::from_value(serde_json::json!({"id": "gt-mayor", "issue_type": "agent"}))
            .unwrap(),
    ];
    assert_eq!(distrust(&snapshot, TOWN, 3), None);
}

#[test]
fn distrusted_answers_still_start_new_agents() {
    let mut case = Case::new(vec![bead("nux", "spawning", none())], vec![]);
    case.distrust = Some("unhealthy".into());
    assert_eq!(created(&case.plan()), ["nux"]);
}

#[test]
fn draining_starts_no_polecats_but_still_removes_finished_ones() {
    let known = vec![
        bead("ace", "done", recorded("ace", "running")),
        bead("nux", "spawning", none()),
    ];
    let mut case = Case::new(known, vec![pod("ace", AgentPhase::Running)]);
    case.draining = true;
    let plan = case.plan();
    assert!(plan.create.is_empty());
    assert_eq!(
        disposition(&plan, "nux"),
        &Disposition::Waiting(Waiting::Draining)
    );
    assert_eq!(deleted(&plan), ["gt-gastown-polecat-ace"]);
}

#[test]
fn a_steady_state_reports_nothing() {
    let known = vec![
        bead("ace", "working", recorded("ace", "running")),
        bead("bob", "working", recorded("bob", "terminated")),
    ];
    let plan = Case::new(
        known,
        vec![
            pod("ace", AgentPhase::Running),
            pod("bob", AgentPhase::Succeeded),
        ],
    )
    .plan();
    assert!(plan.reports.is_empty(), "{:?}", plan.reports);
    assert!(plan.create.is_empty() && plan.delete.is_empty());
}

#[test]
fn new_pods_are_registered_and_phase_changes_reported() {
    let known = vec![
        bead("ace", "spawning", none()),
        bead("bob", "working", recorded("bob", "pending")),
        bead("cat", "working", recorded("cat", "running")),
    ];
    let mut pending = pod("ace", AgentPhase::Pending);
    pending.ip = None;
    pending.node = None;
    let mut moved = pod("cat", AgentPhase::Running);
    moved.node = Some("node-b".into());
    let plan = Case::new(known, vec![pending, pod("bob", AgentPhase::Running), moved]).plan();
    assert_eq!(
        forget_current(&plan.reports),
        [
            Report::Register(AgentPodRegistration {
                agent_id: "gt-gastown-polecat-ace".into(),
                pod_name: "gt-gastown-polecat-ace".into(),
                pod_ip: None,
                pod_node: None,
                pod_status: Some(PodStatus::Pending),
                screen_session: None,
            }),
            Report::Status {
                agent_id: "gt-gastown-polecat-bob".into(),
                status: PodStatus::Running,
                current: PodFields::default(),
            },
            Report::Register(AgentPodRegistration {
                agent_id: "gt-gastown-polecat-cat".into(),
                pod_name: "gt-gastown-polecat-cat".into(),
                pod_ip: Some("10.0.0.7".into()),
                pod_node: Some("node-b".into()),
                pod_status: Some(PodStatus::Running),
                screen_session: None,
            }),
        ]
    );
    // A status change carries what beads holds, which `bd serve` rewrites
    // whole (one metadata value).
    let bob = plan
        .reports
        .iter()
        .find_map(|report| match report {
            Report::Status { current, .. } => Some(current),
            _ => None,
        })
        .expect("bob's status change");
    assert_eq!(bob.name.as_deref(), Some("gt-gastown-polecat-bob"));
    assert_eq!(bob.status.as_deref(), Some("pending"));
}

#[test]
fn terminating_pods_are_reported_and_gone_ones_deregistered() {
    let mut leaving = pod("ace", AgentPhase::Running);
    leaving.terminating = true;
    let known = vec![
        bead("ace", "done", recorded("ace", "running")),
        bead("bob", "done", recorded("bob", "terminating")),
        bead("cat", "done", none()),
    ];
    let plan = Case::new(known, vec![leaving]).plan();
    assert!(plan.delete.is_empty(), "already terminating");
    assert_eq!(
        forget_current(&plan.reports),
        [
            Report::Status {
                agent_id: "gt-gastown-polecat-ace".into(),
                status: PodStatus::Terminating,
                current: PodFields::default(),
            },
            Report::Deregister {
                agent_id: "gt-gastown-polecat-bob".into()
            },
        ],
        "cat has no record to clear"
    );
}

#[test]
fn agents_run_elsewhere_are_left_alone() {
    let known = vec![
        bead("nux", "spawning", none()),
        bead("old", "done", recorded("old", "running")),
    ];
    let mut case = Case::new(known, vec![]);
    case.elsewhere = BTreeMap::from([
        (
            "nux".to_string(),
            "its pod belongs to AgentPool other".to_string(),
        ),
        (
            "old".to_string(),
            "its pod belongs to AgentPool other".to_string(),
        ),
    ]);
    let plan = case.plan();
    assert!(plan.create.is_empty());
    assert!(
        plan.reports.is_empty(),
        "the other pool reports its own pods"
    );
    assert!(matches!(
        disposition(&plan, "nux"),
        Disposition::Elsewhere(_)
    ));
}

#[test]
fn restarting_roles_keep_their_pods_current_and_get_new_ones_when_missing() {
    let crew = |name: &str, extra: serde_json::Value| {
        let mut json = serde_json::json!({
            "id": format!("gt-{RIG}-crew-{name}"), "issue_type": "agent", "role_type": "crew",
            "rig": RIG, "agent_state": "working", "labels": ["execution_target:k8s"],
        });
        if let (Some(json), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
            json.extend(extra.clone());
        }
        AgentBead::from_issue(&serde_json::from_value(json).unwrap()).unwrap()
    };
    let known = vec![
        crew(
            "max",
            serde_json::json!({"pod_name": "gt-gastown-crew-max", "pod_status": "terminated"}),
        ),
        crew("zed", none()),
    ];
    let desired = desired_of(&known);
    let mut failed = pod("zed", AgentPhase::Failed);
    failed.name = "gt-gastown-crew-zed".into();
    failed.bead_id = Some("gt-gastown-crew-zed".into());
    let pods = vec![failed];
    let selector = selector();
    let plan = plan(&PlanInput {
        town: TOWN,
        rig: RIG,
        role: AgentRole::Crew,
        selector: &selector,
        pods: &pods,
        beads: BeadsAnswer::Answered {
            known: &known,
            desired: &desired,
            distrust: None,
        },
        elsewhere: &BTreeMap::new(),
        limit: None,
        draining: true,
        blocked: None,
    });
    assert_eq!(
        created(&plan),
        ["max"],
        "a crew pod is recreated, draining or not"
    );
    let kept: Vec<&str> = plan.keep_current.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(kept, ["zed"], "its failed pod is replaced by ensure_pod");
}

#[test]
fn a_blocked_pool_lists_agents_pending_with_the_reason() {
    let known = vec![bead("nux", "spawning", none())];
    let desired = desired_of(&known);
    let selector = selector();
    let plan = plan(&PlanInput {
        town: TOWN,
        rig: RIG,
        role: AgentRole::Polecat,
        selector: &selector,
        pods: &[],
        beads: BeadsAnswer::Answered {
            known: &known,
            desired: &desired,
            distrust: None,
        },
        elsewhere: &BTreeMap::new(),
        limit: Some(5),
        draining: false,
        blocked: Some("Secret bd-token (the bd daemon token) does not exist"),
    });
    assert!(plan.create.is_empty());
    assert_eq!(
        disposition(&plan, "nux"),
        &Disposition::Waiting(Waiting::Blocked(
            "Secret bd-token (the bd daemon token) does not exist".into()
        ))
    );
}

#[test]
fn observed_pods_read_phase_identity_and_restarts() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": "gt-gastown-polecat-nux", "namespace": "ns",
            "labels": {"gastown.io/agent": "nux", "gastown.io/pool": "p"},
            "annotations": {"gastown.io/bead-id": "gt-gastown-polecat-nux"}
        },
        "spec": {"containers": [], "nodeName": "node-a"},
        "status": {
            "phase": "Running", "podIP": "10.0.0.7",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": "agent", "restartCount": 2, "ready": true, "image": "i", "imageID": ""},
                {"name": "side", "restartCount": 1, "ready": true, "image": "i", "imageID": ""}
            ]
        }
    }))
    .unwrap();
    let observed = ObservedPod::from_pod(&pod);
    assert_eq!(observed.agent, "nux");
    assert_eq!(observed.bead_id.as_deref(), Some("gt-gastown-polecat-nux"));
    assert_eq!(observed.phase, AgentPhase::Running);
    assert!(observed.ready);
    assert_eq!(observed.node.as_deref(), Some("node-a"));
    assert_eq!(observed.restarts, 3);
    assert_eq!(observed.reported_status(), Some(PodStatus::Running));

    let mut late = pod.clone();
    late.status.as_mut().unwrap().start_time =
        Some(Time("2026-11-23T05:43:38.750Z".parse().unwrap()));
    assert_eq!(
        ObservedPod::from_pod(&late).started_at,
        Some(Time("2026-11-23T05:43:38Z".parse().unwrap())),
        "as the API stores it, so an unchanged status compares equal"
    );

    let fresh: Pod =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}})).unwrap();
    assert_eq!(ObservedPod::from_pod(&fresh).phase, AgentPhase::Pending);
}

#[test]
fn an_ended_pod_stays_terminated_while_it_is_removed() {
    let mut ended = pod("nux", AgentPhase::Succeeded);
    ended.terminating = true;
    assert_eq!(ended.reported_status(), Some(PodStatus::Terminated));
    let mut stopping = pod("nux", AgentPhase::Running);
    stopping.terminating = true;
    assert_eq!(stopping.reported_status(), Some(PodStatus::Terminating));
    assert_eq!(pod("nux", AgentPhase::Unknown).reported_status(), None);
}

/// The reports with the beads record they carry left out, for comparison.
fn forget_current(reports: &[Report]) -> Vec<Report> {
    reports
        .iter()
        .cloned()
        .map(|report| match report {
            Report::Status {
                agent_id, status, ..
            } => Report::Status {
                agent_id,
                status,
                current: PodFields::default(),
            },
            other => other,
        })
        .collect()
}

//! The plugin's model of a town, from objects as the operator leaves them.

use super::*;
use serde_json::json;

fn town(annotations: serde_json::Value) -> GasTown {
    serde_json::from_value(json!({
        "apiVersion": "gastown.io/v1alpha1", "kind": "GasTown",
        "metadata": {"name": "prod", "namespace": "gastown", "uid": "town-uid",
                     "annotations": annotations},
        "spec": {"daemon": {"image": "bd:1"}, "dolt": {"image": "dolt:1"}},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "reason": "AllReady",
                            "message": "the town runs as declared",
                            "lastTransitionTime": "2026-12-05T10:00:00Z"}],
            "mayor": {"state": "working", "ready": true, "podName": "gt-prod-mayor",
                      "hookBead": "hq-convoy-1"},
            "deacon": {"state": "idle", "ready": true, "podName": "gt-prod-deacon"}
        }
    }))
    .unwrap()
}

fn rig() -> Rig {
    serde_json::from_value(json!({
        "apiVersion": "gastown.io/v1alpha1", "kind": "Rig",
        "metadata": {"name": "prod-gastown", "namespace": "gastown",
                     "ownerReferences": [{"apiVersion": "gastown.io/v1alpha1", "kind": "GasTown",
                                          "name": "prod", "uid": "town-uid"}]},
        "spec": {"name": "gastown"},
        "status": {"phase": "Running",
                   "witness": {"ready": true, "podName": "gt-gastown-witness", "state": "working",
                               "hookBead": "gastown-patrol"},
                   "crew": [{"name": "max", "state": "working", "hookBead": "gastown-task-7"}]}
    }))
    .unwrap()
}

fn pool() -> AgentPool {
    serde_json::from_value(json!({
        "apiVersion": "gastown.io/v1alpha1", "kind": "AgentPool",
        "metadata": {"name": "prod-gastown-polecats", "namespace": "gastown",
                     "labels": {"gastown.io/town": "prod"}},
        "spec": {"rig": "gastown", "role": "polecat"},
        "status": {"agents": [
            {"name": "nux", "state": "working", "hookBead": "gastown-task-0",
             "podName": "gt-gastown-polecat-nux", "phase": "Running"},
            {"name": "rictus", "state": "spawning", "phase": "Pending"}
        ]}
    }))
    .unwrap()
}

fn pod(name: &str, rig: Option<&str>, role: &str, agent: &str, phase: &str) -> Pod {
    let mut labels =
        json!({"gastown.io/town": "prod", "gastown.io/role": role, "gastown.io/agent": agent});
    if let Some(rig) = rig {
        labels["gastown.io/rig"] = json!(rig);
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "gastown", "labels": labels},
        "status": {"phase": phase,
                   "conditions": [{"type": "Ready", "status": if phase == "Running" {"True"} else {"False"}}]}
    }))
    .unwrap()
}

pub(crate) fn pods() -> Vec<Pod> {
    vec![
        pod("gt-prod-mayor", None, "mayor", "mayor", "Running"),
        pod("gt-prod-deacon", None, "deacon", "deacon", "Running"),
        pod(
            "gt-gastown-witness",
            Some("gastown"),
            "witness",
            "witness",
            "Running",
        ),
        pod(
            "gt-gastown-refinery",
            Some("gastown"),
            "refinery",
            "refinery",
            "Pending",
        ),
        pod(
            "gt-gastown-polecat-nux",
            Some("gastown"),
            "polecat",
            "nux",
            "Running",
        ),
        pod(
            "gt-gastown-crew-max",
            Some("gastown"),
            "crew",
            "max",
            "Running",
        ),
    ]
}

/// The town `prod` with one rig, its pool and its pods; drained when `drained`.
pub(crate) fn view(drained: bool) -> TownView {
    let annotations = if drained {
        json!({"gastown.io/drain": "2026-12-05T10:00:00Z by ann"})
    } else {
        json!({})
    };
    assemble(&town(annotations), &[rig()], &[pool()], &pods())
}

#[test]
fn a_town_is_a_tree_of_its_agents_with_beads_state_and_hooked_work() {
    let view = view(false);
    assert_eq!(view.phase.as_deref(), Some("Running"));
    assert_eq!(view.drained, None);
    let town_agents: Vec<&str> = view.agents.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(town_agents, ["mayor", "deacon"]);
    assert_eq!(view.agents[0].state.as_deref(), Some("working"));
    assert_eq!(view.agents[0].pod.as_deref(), Some("gt-prod-mayor"));
    assert_eq!(view.agents[0].hook.as_deref(), Some("hq-convoy-1"));

    assert_eq!(view.rigs.len(), 1);
    let rig = &view.rigs[0];
    assert_eq!((rig.name.as_str(), rig.draining), ("gastown", false));
    let names: Vec<&str> = rig.agents.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "gastown/witness",
            "gastown/refinery",
            "gastown/crew/max",
            "gastown/polecats/nux",
            "gastown/polecats/rictus"
        ]
    );
    let witness = &rig.agents[0];
    assert_eq!(witness.state.as_deref(), Some("working"));
    assert_eq!(witness.hook.as_deref(), Some("gastown-patrol"));
    let max = &rig.agents[2];
    assert_eq!(
        (
            max.state.as_deref(),
            max.hook.as_deref(),
            max.phase.as_deref()
        ),
        (Some("working"), Some("gastown-task-7"), Some("Running"))
    );
    let nux = &rig.agents[3];
    assert_eq!(nux.role, "polecat");
    assert_eq!(nux.phase.as_deref(), Some("Running"));
    assert_eq!(nux.state.as_deref(), Some("working"));
    assert_eq!(nux.hook.as_deref(), Some("gastown-task-0"));
    // beads wants rictus; it has no pod yet.
    let rictus = &rig.agents[4];
    assert_eq!((rictus.pod.as_ref(), rictus.phase.as_ref()), (None, None));
    assert_eq!(rictus.state.as_deref(), Some("spawning"));
    assert_eq!(rig.agents[1].phase.as_deref(), Some("Pending"));
}

#[test]
fn a_drained_town_shows_its_rigs_draining() {
    let view = view(true);
    assert_eq!(view.drained.as_deref(), Some("2026-12-05T10:00:00Z by ann"));
    assert!(view.rigs.iter().all(|rig| rig.draining));
}

#[test]
fn agent_names_resolve_to_their_pods() {
    let view = view(false);
    let agents: Vec<&AgentView> = view.all_agents().collect();
    let pod = |query: &str| resolve(&agents, query).map(|a| a.pod.clone().unwrap());
    assert_eq!(
        pod("gastown/polecats/nux").unwrap(),
        "gt-gastown-polecat-nux"
    );
    assert_eq!(pod("nux").unwrap(), "gt-gastown-polecat-nux");
    assert_eq!(pod("prod/mayor").unwrap(), "gt-prod-mayor");
    assert_eq!(pod("gt-gastown-witness").unwrap(), "gt-gastown-witness");
    assert_eq!(pod("witness").unwrap(), "gt-gastown-witness");
    assert_eq!(
        pod("rictus"),
        Err(Unresolved::NoPod {
            name: "gastown/polecats/rictus".into()
        })
    );
    let Err(Unresolved::NotFound { known, .. }) = pod("furiosa") else {
        panic!("furiosa is no agent")
    };
    assert!(
        known.contains(&"gastown/polecats/nux".to_string()),
        "{known:?}"
    );

    // Two towns with a mayor each: the short name is ambiguous, the town's
    // prefix is not.
    let mut other = view.clone();
    other.name = "dev".into();
    for agent in &mut other.agents {
        agent.town = "dev".into();
        agent.pod = Some("gt-dev-mayor".into());
    }
    let both: Vec<&AgentView> = view.all_agents().chain(other.agents.iter()).collect();
    assert!(matches!(
        resolve(&both, "mayor"),
        Err(Unresolved::Ambiguous { .. })
    ));
    assert_eq!(
        resolve(&both, "dev/mayor").unwrap().pod.as_deref(),
        Some("gt-dev-mayor")
    );
    let message = resolve(&both, "mayor").unwrap_err().to_string();
    assert!(
        message.contains("prod/mayor") && message.contains("dev/mayor"),
        "{message}"
    );
}

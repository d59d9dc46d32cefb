//! The Rig status, derived purely from what a reconcile observed.

use beads_client::Role;
use gastown_api::rig::{CrewMemberStatus, MergeQueueStatus, SingletonStatus, condition};
use gastown_api::{Phase, RigStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::conditions::{self, Baseline, Observed, Transition};
use crate::reconcile::agent_slot::AgentObservation;
use crate::reconcile::rollout::Progress;

/// A singleton's pod and, from beads, its state and hooked work (as last
/// shown when beads could not be read).
fn singleton_status(
    agent: &AgentObservation,
    role: Role,
    beads: &Result<Option<&beads_client::RigSummary>, String>,
    previous: Option<&SingletonStatus>,
) -> Option<SingletonStatus> {
    let (state, hook_bead) = match beads {
        Ok(summary) => {
            let bead =
                summary.and_then(|s| s.agents.iter().find(|a| a.role.as_ref() == Some(&role)));
            (
                bead.and_then(|b| b.state.as_ref().map(|s| s.to_string())),
                bead.and_then(|b| b.hook_bead.clone()),
            )
        }
        Err(_) => (
            previous.and_then(|p| p.state.clone()),
            previous.and_then(|p| p.hook_bead.clone()),
        ),
    };
    agent.enabled.then(|| SingletonStatus {
        ready: Some(agent.ready),
        pod_name: agent.pod_name.clone(),
        state,
        hook_bead,
    })
}

/// The crew beads knows of in the rig, by name; `None` when it knows none.
fn crew_of(summary: &beads_client::RigSummary) -> Option<Vec<CrewMemberStatus>> {
    let mut crew: Vec<CrewMemberStatus> = summary
        .agents
        .iter()
        .filter(|agent| agent.role == Some(Role::Crew))
        .map(|agent| CrewMemberStatus {
            name: agent.name.clone(),
            state: agent.state.as_ref().map(|s| s.to_string()),
            hook_bead: agent.hook_bead.clone(),
        })
        .collect();
    crew.sort_by(|a, b| a.name.cmp(&b.name));
    (!crew.is_empty()).then_some(crew)
}

#[derive(Clone, Debug)]
pub struct RigObservation<'a> {
    pub base: Baseline<'a, RigStatus>,
    /// Teardown progress while the rig drains.
    pub draining: Option<String>,
    /// Why the rig cannot be reconciled at all (no town), if so.
    pub unresolved: Option<String>,
    /// beads' summary of the rig; `Err` when beads could not be read.
    pub beads: Result<Option<&'a beads_client::RigSummary>, String>,
    /// Whether beads' server gives merge requests at all (a town's `bd
    /// serve` does not hold its rigs' merge requests): unknown is not 0.
    pub merge_requests_known: bool,
    pub witness: AgentObservation,
    pub refinery: AgentObservation,
    pub crew_declared: usize,
    pub crew_ready: usize,
    pub crew_blocked: Option<String>,
    pub quota_applied: bool,
    /// Polecat pods running past `maxRuntime`.
    pub overtime: Vec<String>,
    /// The rig's agents on the current spec; `None` when unresolved.
    pub agents: Option<Progress>,
}

fn singleton(type_: &'static str, role: &str, o: &AgentObservation) -> Observed {
    if !o.enabled {
        Observed::new(type_, true, "Disabled", format!("the {role} is disabled"))
    } else if let Some(reason) = &o.blocked {
        Observed::new(type_, false, "Blocked", reason.clone())
    } else if let Some(crash) = &o.crash {
        Observed::new(
            type_,
            false,
            conditions::CRASH_LOOP_BACK_OFF,
            format!("the {role}'s pod keeps failing: {crash}"),
        )
    } else if o.ready {
        Observed::new(
            type_,
            true,
            "PodReady",
            format!("the {role}'s pod is ready"),
        )
    } else {
        Observed::new(
            type_,
            false,
            "PodNotReady",
            format!("the {role}'s pod is not ready"),
        )
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub fn rig_status(o: &RigObservation<'_>) -> (RigStatus, Vec<Transition>) {
    let previous = o.base.previous.cloned().unwrap_or_default();
    let mut conditions_list = previous.conditions.clone().unwrap_or_default();
    let crew = match (&o.crew_blocked, o.crew_declared) {
        (Some(reason), _) => Observed::new(condition::CREW_READY, false, "Blocked", reason.clone()),
        (None, 0) => Observed::new(condition::CREW_READY, true, "NoCrew", "no crew declared"),
        (None, declared) => Observed::new(
            condition::CREW_READY,
            o.crew_ready == declared,
            if o.crew_ready == declared {
                "AllReady"
            } else {
                "NotReady"
            },
            format!("{}/{declared} crew pods ready", o.crew_ready),
        ),
    };
    let quota = if o.quota_applied {
        Observed::new(
            condition::QUOTA_APPLIED,
            true,
            "Applied",
            "the polecat ResourceQuota is in place",
        )
    } else {
        Observed::new(
            condition::QUOTA_APPLIED,
            false,
            "Pending",
            "the polecat ResourceQuota is not in place yet",
        )
    };
    let overtime = if o.overtime.is_empty() {
        Observed::new(
            condition::POLECAT_OVERTIME,
            false,
            "WithinMaxRuntime",
            "no polecat has run past maxRuntime",
        )
    } else {
        Observed::new(
            condition::POLECAT_OVERTIME,
            true,
            "MaxRuntimeExceeded",
            format!(
                "running past maxRuntime (the witness decides): {}",
                o.overtime.join(", ")
            ),
        )
    };
    let draining = match &o.draining {
        Some(progress) => Observed::new(condition::DRAINING, true, "Draining", progress.clone()),
        None => Observed::new(
            condition::DRAINING,
            false,
            "NotDraining",
            "the rig accepts new work",
        ),
    };
    let health = [
        singleton(condition::WITNESS_READY, "witness", &o.witness),
        singleton(condition::REFINERY_READY, "refinery", &o.refinery),
        crew,
        quota,
    ];
    let not_ready: Vec<&str> = health
        .iter()
        .filter(|c| !c.status)
        .map(|c| c.type_)
        .collect();
    let ready = match &o.unresolved {
        Some(reason) => Observed::new(condition::READY, false, "Unresolved", reason.clone()),
        None => match &o.draining {
            Some(why) => Observed::new(condition::READY, false, "Draining", why.clone()),
            None if not_ready.is_empty() => Observed::new(
                condition::READY,
                true,
                "AllReady",
                "the rig's agents run as declared",
            ),
            None => Observed::new(
                condition::READY,
                false,
                "NotReady",
                format!("not ready: {}", not_ready.join(", ")),
            ),
        },
    };
    // A rollout is no reason for the rig not to be Ready.
    let transitions = conditions::set_all(
        &mut conditions_list,
        health
            .into_iter()
            .chain([overtime, draining, ready])
            .chain(o.agents.as_ref().map(|a| a.condition.clone())),
        o.base.generation,
        o.base.now,
    );

    let blocked = o.unresolved.is_some()
        || o.witness.blocked.is_some()
        || o.refinery.blocked.is_some()
        || o.crew_blocked.is_some();
    let phase = if o.draining.is_some() {
        Phase::Draining
    } else if o.unresolved.is_some() && previous.phase.is_none() {
        Phase::Pending
    } else if not_ready.is_empty() && !blocked {
        Phase::Running
    } else if blocked {
        Phase::Failed
    } else if matches!(previous.phase, Some(Phase::Running | Phase::Degraded)) {
        Phase::Degraded
    } else {
        Phase::Provisioning
    };

    let mut status = RigStatus {
        phase: Some(phase),
        observed_generation: o.base.generation,
        conditions: Some(conditions_list),
        witness: singleton_status(
            &o.witness,
            Role::Witness,
            &o.beads,
            previous.witness.as_ref(),
        ),
        refinery: singleton_status(
            &o.refinery,
            Role::Refinery,
            &o.beads,
            previous.refinery.as_ref(),
        ),
        last_reconciled: previous.last_reconciled.clone(),
        ..previous.clone()
    };
    if let Some(agents) = &o.agents {
        status.declared_agents = Some(count(agents.declared));
        status.updated_agents = Some(count(agents.updated));
    }
    match &o.beads {
        Ok(Some(summary)) => {
            status.polecat_count = Some(count(summary.polecat_count as usize));
            status.active_polecats = Some(summary.polecats.clone());
            status.crew_count = Some(count(summary.crew_count as usize));
            status.merge_queue = summary.merge_queue_depth.map(|depth| MergeQueueStatus {
                depth: Some(count(depth as usize)),
                processing: summary.merge_queue_in_processing.map(|n| count(n as usize)),
            });
            status.active_work = Some(count(summary.hooked_work.len()));
            status.crew = crew_of(summary);
        }
        Ok(None) => {
            status.crew = None;
            status.polecat_count = Some(0);
            status.active_polecats = Some(Vec::new());
            status.crew_count = Some(0);
            status.merge_queue = o.merge_requests_known.then_some(MergeQueueStatus {
                depth: Some(0),
                processing: Some(0),
            });
            status.active_work = Some(0);
        }
        // beads unreachable: the last known figures stay.
        Err(_) => {}
    }
    if o.base.previous != Some(&status) {
        status.last_reconciled = Some(Time(o.base.now));
    }
    (status, transitions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn ready_singleton() -> AgentObservation {
        AgentObservation {
            enabled: true,
            pod_name: Some("gt-gastown-witness".into()),
            ready: true,
            blocked: None,
            crash: None,
        }
    }

    fn observation<'a>(
        beads: Result<Option<&'a beads_client::RigSummary>, String>,
        previous: Option<&'a RigStatus>,
    ) -> RigObservation<'a> {
        RigObservation {
            base: Baseline::new(previous, Some(1), Timestamp::from_second(50).unwrap()),
            draining: None,
            unresolved: None,
            beads,
            merge_requests_known: true,
            witness: ready_singleton(),
            refinery: ready_singleton(),
            crew_declared: 2,
            crew_ready: 2,
            crew_blocked: None,
            quota_applied: true,
            overtime: vec![],
            agents: None,
        }
    }

    fn summary() -> beads_client::RigSummary {
        beads_client::RigSummary {
            name: "gastown".into(),
            polecat_count: 2,
            polecats: vec!["furiosa".into(), "nux".into()],
            crew_count: 2,
            merge_queue_depth: Some(3),
            merge_queue_in_processing: Some(1),
            ..Default::default()
        }
    }

    fn condition(status: &RigStatus, type_: &str) -> Option<bool> {
        crate::conditions::is_true(status.conditions.as_deref().unwrap_or_default(), type_)
    }

    #[test]
    fn the_witness_and_refinery_show_their_beads_state_and_hook() {
        let mut beads = summary();
        beads.agents = vec![beads_client::AgentSummary {
            id: "gt-gastown-witness".into(),
            name: "witness".into(),
            role: Some(Role::Witness),
            state: Some("working".into()),
            hook_bead: Some("gastown-patrol".into()),
            ..Default::default()
        }];
        let (status, _) = rig_status(&observation(Ok(Some(&beads)), None));
        let witness = status.witness.clone().unwrap();
        assert_eq!(witness.state.as_deref(), Some("working"));
        assert_eq!(witness.hook_bead.as_deref(), Some("gastown-patrol"));
        assert_eq!(status.crew, None, "no crew in beads");
        // No refinery bead: nothing to show but its pod.
        let refinery = status.refinery.clone().unwrap();
        assert_eq!((refinery.state, refinery.hook_bead), (None, None));
        // beads unreachable: the last known state stays.
        let (kept, _) = rig_status(&observation(Err("down".into()), Some(&status)));
        assert_eq!(kept.witness, status.witness);
    }

    #[test]
    fn the_crew_shows_each_members_beads_state_and_hook() {
        let member = |name: &str, state: &str, hook: Option<&str>| beads_client::AgentSummary {
            id: format!("gt-gastown-crew-{name}"),
            name: name.into(),
            role: Some(Role::Crew),
            state: Some(state.into()),
            hook_bead: hook.map(str::to_string),
            ..Default::default()
        };
        let mut beads = summary();
        beads.agents = vec![
            member("max", "working", Some("gastown-task-7")),
            member("joe", "idle", None),
        ];
        let (status, _) = rig_status(&observation(Ok(Some(&beads)), None));
        let crew = status.crew.clone().unwrap();
        let shown: Vec<(&str, Option<&str>, Option<&str>)> = crew
            .iter()
            .map(|c| (c.name.as_str(), c.state.as_deref(), c.hook_bead.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("joe", Some("idle"), None),
                ("max", Some("working"), Some("gastown-task-7"))
            ]
        );
        let (kept, _) = rig_status(&observation(Err("down".into()), Some(&status)));
        assert_eq!(kept.crew, status.crew);
    }

    #[test]
    fn running_rig_reports_beads_figures() {
        let beads = summary();
        let (status, _) = rig_status(&observation(Ok(Some(&beads)), None));
        assert_eq!(status.phase, Some(Phase::Running));
        assert_eq!(status.polecat_count, Some(2));
        assert_eq!(
            status.active_polecats.as_deref(),
            Some(&["furiosa".to_string(), "nux".to_string()][..])
        );
        assert_eq!(
            status.merge_queue,
            Some(MergeQueueStatus {
                depth: Some(3),
                processing: Some(1)
            })
        );
        assert_eq!(condition(&status, condition::READY), Some(true));
        assert_eq!(condition(&status, condition::POLECAT_OVERTIME), Some(false));
    }

    /// A town on `bd serve` reads its own database, which holds none of its
    /// rigs' merge requests: the queue is unknown, never 0.
    #[test]
    fn unknown_merge_requests_are_not_zero() {
        let beads = beads_client::RigSummary {
            merge_queue_depth: None,
            merge_queue_in_processing: None,
            ..summary()
        };
        let mut o = observation(Ok(Some(&beads)), None);
        o.merge_requests_known = false;
        assert_eq!(rig_status(&o).0.merge_queue, None);
        let mut unknown_rig = observation(Ok(None), None);
        unknown_rig.merge_requests_known = false;
        assert_eq!(rig_status(&unknown_rig).0.merge_queue, None);
        unknown_rig.merge_requests_known = true;
        assert_eq!(
            rig_status(&unknown_rig).0.merge_queue,
            Some(MergeQueueStatus {
                depth: Some(0),
                processing: Some(0)
            })
        );
    }

    #[test]
    fn steady_state_is_a_fixed_point() {
        let beads = summary();
        let (first, _) = rig_status(&observation(Ok(Some(&beads)), None));
        let mut again = observation(Ok(Some(&beads)), Some(&first));
        again.base.now = Timestamp::from_second(999).unwrap();
        let (second, transitions) = rig_status(&again);
        assert_eq!(first, second);
        assert!(transitions.is_empty());
    }

    #[test]
    fn overtime_polecats_are_reported_not_killed() {
        let beads = summary();
        let mut o = observation(Ok(Some(&beads)), None);
        o.overtime = vec!["gt-gastown-polecat-nux".into()];
        let (status, transitions) = rig_status(&o);
        assert_eq!(condition(&status, condition::POLECAT_OVERTIME), Some(true));
        let overtime = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == condition::POLECAT_OVERTIME)
            .unwrap();
        assert!(overtime.message.contains("gt-gastown-polecat-nux"));
        assert!(
            transitions
                .iter()
                .any(|t| t.type_ == condition::POLECAT_OVERTIME)
        );
        assert_eq!(
            status.phase,
            Some(Phase::Running),
            "overtime is information, not failure"
        );
    }

    #[test]
    fn unreachable_beads_keeps_figures_and_missing_witness_secret_fails() {
        let beads = summary();
        let (first, _) = rig_status(&observation(Ok(Some(&beads)), None));
        let mut o = observation(Err("timed out".into()), Some(&first));
        o.witness.blocked = Some("Secret bd-token does not exist".into());
        o.witness.ready = false;
        let (status, _) = rig_status(&o);
        assert_eq!(status.polecat_count, Some(2));
        assert_eq!(status.phase, Some(Phase::Failed));
        assert_eq!(condition(&status, condition::WITNESS_READY), Some(false));
    }

    #[test]
    fn draining_rig_says_so() {
        let mut o = observation(Ok(None), None);
        o.draining = Some("waiting for 1 active polecat".into());
        let (status, _) = rig_status(&o);
        assert_eq!(status.phase, Some(Phase::Draining));
        assert_eq!(condition(&status, condition::DRAINING), Some(true));
        assert_eq!(status.polecat_count, Some(0));
    }
}

//! The GasTown status, derived purely from what a reconcile observed.

use beads_client::TownSummary;
use gastown_api::gastown::{DaemonStatus, RigSummary, TownAgentStatus, condition};
use gastown_api::{GasTownStatus, Phase};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

use crate::conditions::{self, Baseline, Observed, Transition};
use crate::reconcile::agent_slot::AgentObservation;

/// Condition type of a town that declares external secrets: they are rendered
/// as ExternalSecret objects (only where that kind is served).
pub const EXTERNAL_SECRETS_READY: &str = "ExternalSecretsReady";

/// Readiness of an infrastructure workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Not run by this operator (external bd daemon).
    External,
    /// Not created, with the reason (e.g. a missing Secret).
    Blocked(String),
    NotReady,
    Ready,
}

/// A declared rig and its Rig object's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TownRig {
    pub name: String,
    /// `None` until the Rig object exists.
    pub phase: Option<Phase>,
    /// The Rig controller has seen the Rig's current spec.
    pub reconciled: bool,
}

/// Everything the status is computed from.
#[derive(Clone, Debug)]
pub struct TownObservation<'a> {
    pub base: Baseline<'a, GasTownStatus>,
    pub draining: Option<String>,
    pub dolt: Workload,
    pub daemon: Workload,
    /// The endpoint the operator reads beads from.
    pub daemon_endpoint: String,
    /// beads' view, or why it could not be had.
    pub beads: Result<&'a TownSummary, String>,
    pub mayor: AgentObservation,
    pub deacon: AgentObservation,
    pub rigs: Vec<TownRig>,
    /// Agent pods of the town that are running.
    pub running_agent_pods: i32,
    /// The ExternalSecretsReady condition, when the town declares external secrets.
    pub external_secrets: Option<Observed>,
}

fn workload_condition(type_: &'static str, what: &str, workload: &Workload) -> Observed {
    match workload {
        Workload::External => Observed::new(
            type_,
            true,
            "External",
            format!("{what} is not run by this operator"),
        ),
        Workload::Blocked(reason) => Observed::new(type_, false, "Blocked", reason.clone()),
        Workload::NotReady => {
            Observed::new(type_, false, "NotReady", format!("{what} is not ready yet"))
        }
        Workload::Ready => Observed::new(type_, true, "Ready", format!("{what} is ready")),
    }
}

fn agent_condition(
    type_: &'static str,
    role: &str,
    agent: &AgentObservation,
    bead: Option<&beads_client::AgentSummary>,
    beads_known: bool,
) -> Observed {
    if !agent.enabled {
        return Observed::new(type_, true, "Disabled", format!("the {role} is disabled"));
    }
    if let Some(reason) = &agent.blocked {
        return Observed::new(type_, false, "Blocked", reason.clone());
    }
    if !agent.ready {
        return Observed::new(
            type_,
            false,
            "PodNotReady",
            format!("the {role}'s pod is not ready"),
        );
    }
    if !beads_known {
        return Observed::new(
            type_,
            false,
            "BeadsUnavailable",
            format!("the {role}'s state in beads is unknown"),
        );
    }
    match bead {
        Some(bead) if bead.alive => Observed::new(
            type_,
            true,
            "Alive",
            format!("the {role} is {}", state_text(bead)),
        ),
        Some(bead) => Observed::new(
            type_,
            false,
            "NotAlive",
            format!(
                "the {role}'s agent bead {} is {} or inactive",
                bead.id,
                state_text(bead)
            ),
        ),
        None => Observed::new(
            type_,
            false,
            "NoAgentBead",
            format!("beads has no agent bead for the {role}"),
        ),
    }
}

fn state_text(bead: &beads_client::AgentSummary) -> String {
    bead.state
        .as_ref()
        .map_or_else(|| "without state".to_string(), |s| s.to_string())
}

fn agent_status(
    agent: &AgentObservation,
    bead: Option<&beads_client::AgentSummary>,
) -> Option<TownAgentStatus> {
    agent.enabled.then(|| TownAgentStatus {
        state: bead.and_then(|b| b.state.as_ref().map(|s| s.to_string())),
        ready: Some(agent.ready),
        pod_name: agent.pod_name.clone(),
    })
}

fn rig_summaries(
    observation: &TownObservation<'_>,
    beads: Option<&TownSummary>,
) -> Vec<RigSummary> {
    let previous = observation.base.previous.and_then(|s| s.rigs.as_ref());
    observation
        .rigs
        .iter()
        .map(|rig| {
            let from_beads = beads.map(|b| b.rig(&rig.name));
            let mut summary = match from_beads {
                Some(Some(b)) => RigSummary {
                    name: rig.name.clone(),
                    phase: None,
                    polecat_count: Some(count(b.polecat_count)),
                    crew_count: Some(count(b.crew_count)),
                    witness_healthy: Some(b.witness_alive),
                    refinery_healthy: Some(b.refinery_alive),
                    merge_queue_depth: Some(count(b.merge_queue_depth)),
                    active_work: Some(count(b.hooked_work.len() as u32)),
                },
                // beads knows nothing of the rig yet: nothing runs there.
                Some(None) => RigSummary {
                    name: rig.name.clone(),
                    polecat_count: Some(0),
                    crew_count: Some(0),
                    witness_healthy: Some(false),
                    refinery_healthy: Some(false),
                    merge_queue_depth: Some(0),
                    active_work: Some(0),
                    ..Default::default()
                },
                // beads unreachable: keep the last known summary rather than invent one.
                None => previous
                    .and_then(|rigs| rigs.iter().find(|r| r.name == rig.name))
                    .cloned()
                    .unwrap_or_else(|| RigSummary {
                        name: rig.name.clone(),
                        ..Default::default()
                    }),
            };
            summary.phase = rig.phase;
            summary
        })
        .collect()
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The new status and the conditions that changed.
pub fn town_status(observation: &TownObservation<'_>) -> (GasTownStatus, Vec<Transition>) {
    let previous = observation.base.previous.cloned().unwrap_or_default();
    let beads = observation.beads.as_ref().ok().copied();
    let mut conditions_list = previous.conditions.clone().unwrap_or_default();

    let daemon_condition = match (&observation.daemon, &observation.beads) {
        (Workload::Blocked(_) | Workload::NotReady, _) => workload_condition(
            condition::DAEMON_READY,
            "the bd daemon",
            &observation.daemon,
        ),
        (_, Err(error)) => {
            Observed::new(condition::DAEMON_READY, false, "Unreachable", error.clone())
        }
        (_, Ok(summary)) if !summary.daemon.serving => Observed::new(
            condition::DAEMON_READY,
            false,
            "Unhealthy",
            summary
                .daemon
                .error
                .clone()
                .unwrap_or_else(|| "the bd daemon reports itself unhealthy".into()),
        ),
        (_, Ok(summary)) => Observed::new(
            condition::DAEMON_READY,
            true,
            "Healthy",
            format!(
                "bd daemon {} is {}",
                summary.daemon.version, summary.daemon.status
            ),
        ),
    };
    let reconciled = observation.rigs.iter().filter(|r| r.reconciled).count();
    let declared = observation.rigs.len();
    let rigs_condition = Observed::new(
        condition::RIGS_RECONCILED,
        reconciled == declared,
        if reconciled == declared {
            "AllReconciled"
        } else {
            "Reconciling"
        },
        format!("{reconciled}/{declared} rigs reconciled"),
    );
    let observed: Vec<Observed> = [
        workload_condition(condition::DOLT_READY, "dolt", &observation.dolt),
        daemon_condition,
        agent_condition(
            condition::MAYOR_HEALTHY,
            "mayor",
            &observation.mayor,
            beads.and_then(|b| b.mayor.as_ref()),
            beads.is_some(),
        ),
        agent_condition(
            condition::DEACON_HEALTHY,
            "deacon",
            &observation.deacon,
            beads.and_then(|b| b.deacon.as_ref()),
            beads.is_some(),
        ),
        rigs_condition,
    ]
    .into_iter()
    .chain(observation.external_secrets.clone())
    .collect();
    let not_ready: Vec<&str> = observed
        .iter()
        .filter(|o| !o.status)
        .map(|o| o.type_)
        .collect();
    let ready = Observed::new(
        condition::READY,
        not_ready.is_empty(),
        if not_ready.is_empty() {
            "AllReady"
        } else {
            "NotReady"
        },
        if not_ready.is_empty() {
            "the town runs as declared".to_string()
        } else {
            format!("not ready: {}", not_ready.join(", "))
        },
    );

    let transitions = conditions::set_all(
        &mut conditions_list,
        observed.into_iter().chain([ready]),
        observation.base.generation,
        observation.base.now,
    );

    let blocked = matches!(observation.dolt, Workload::Blocked(_))
        || matches!(observation.daemon, Workload::Blocked(_));
    let was_up = matches!(previous.phase, Some(Phase::Running | Phase::Degraded));
    let phase = if observation.draining.is_some() {
        Phase::Draining
    } else if not_ready.is_empty() {
        Phase::Running
    } else if blocked {
        Phase::Failed
    } else if was_up {
        Phase::Degraded
    } else {
        Phase::Provisioning
    };

    let mut status = GasTownStatus {
        phase: Some(phase),
        observed_generation: observation.base.generation,
        conditions: Some(conditions_list),
        rig_count: Some(count(declared as u32)),
        agent_count: Some(observation.running_agent_pods),
        mayor: agent_status(&observation.mayor, beads.and_then(|b| b.mayor.as_ref())),
        deacon: agent_status(&observation.deacon, beads.and_then(|b| b.deacon.as_ref())),
        daemon: Some(DaemonStatus {
            connected: Some(beads.is_some()),
            endpoint: Some(observation.daemon_endpoint.clone()),
            version: beads
                .map(|b| b.daemon.version.clone())
                .or_else(|| previous.daemon.as_ref().and_then(|d| d.version.clone())),
        }),
        rigs: Some(rig_summaries(observation, beads)),
        last_synced: previous.last_synced.clone(),
    };
    // lastSynced moves only when the projection changed, so that a town at
    // rest costs the API server no writes.
    if observation.base.previous != Some(&status) {
        status.last_synced = Some(Time(observation.base.now));
    }
    (status, transitions)
}

/// How long a change of progress alone may wait before it is written: while
/// a town comes up, every pod that starts and every rig that settles changes
/// its counts and rig summaries, and writing each step would cost one status
/// write per pod. Progress is the agent count, the rig summaries and the
/// condition messages, and, while the town is Provisioning, its conditions
/// and agents turning ready one by one (their Events go out with the write).
/// A change of phase or of observedGeneration, and any change of a town that
/// is up, is written at once.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// When a newly computed status should be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusWrite {
    Unchanged,
    Now,
    /// Only progress changed, and the last write is recent: write at the
    /// latest after this long (a reconcile in between writes it if more
    /// than progress changed by then).
    After(Duration),
}

/// Decides when `next` is written over `previous` (the status as last
/// written; its `lastSynced` tells when that was). See [`PROGRESS_INTERVAL`]
/// for what counts as progress.
pub fn when_to_write(
    previous: Option<&GasTownStatus>,
    next: &GasTownStatus,
    now: Timestamp,
) -> StatusWrite {
    let Some(previous) = previous else {
        return StatusWrite::Now;
    };
    if previous == next {
        return StatusWrite::Unchanged;
    }
    if without_progress(previous) != without_progress(next) {
        return StatusWrite::Now;
    }
    let since_last_write = previous
        .last_synced
        .as_ref()
        .map(|t| now.duration_since(t.0).unsigned_abs());
    match since_last_write {
        Some(elapsed) if elapsed < PROGRESS_INTERVAL => {
            StatusWrite::After(PROGRESS_INTERVAL - elapsed)
        }
        _ => StatusWrite::Now,
    }
}

/// `status` with its progress fields blanked.
fn without_progress(status: &GasTownStatus) -> GasTownStatus {
    let mut essentials = status.clone();
    essentials.agent_count = None;
    essentials.rigs = None;
    essentials.last_synced = None;
    if status.phase == Some(Phase::Provisioning) {
        // What a user waits for is the phase; the steps on the way there
        // (DoltReady, then DaemonReady, then the mayor…) are progress.
        essentials.conditions = None;
        essentials.mayor = None;
        essentials.deacon = None;
        essentials.daemon = None;
    }
    for condition in essentials.conditions.iter_mut().flatten() {
        condition.message.clear();
    }
    essentials
}

#[cfg(test)]
mod tests {
    use super::*;
    use beads_client::{AgentSummary, DaemonSummary, HealthStatus};
    use gastown_api::gastown::condition;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn agent(enabled: bool, ready: bool) -> AgentObservation {
        AgentObservation {
            enabled,
            pod_name: enabled.then(|| "gt-prod-mayor".into()),
            ready,
            blocked: None,
        }
    }

    fn alive(id: &str) -> AgentSummary {
        AgentSummary {
            id: id.into(),
            name: id.into(),
            live: true,
            alive: true,
            ..Default::default()
        }
    }

    fn summary() -> TownSummary {
        let mut rig = beads_client::RigSummary {
            name: "gastown".into(),
            polecat_count: 2,
            crew_count: 1,
            ..Default::default()
        };
        rig.witness_alive = true;
        rig.merge_queue_depth = 3;
        TownSummary {
            daemon: DaemonSummary {
                status: HealthStatus::Healthy,
                serving: true,
                version: "0.50.0".into(),
                ..Default::default()
            },
            mayor: Some(alive("gt-mayor")),
            deacon: Some(alive("gt-deacon")),
            town_agents: vec![],
            rigs: vec![rig],
        }
    }

    fn observation<'a>(
        beads: Result<&'a TownSummary, String>,
        previous: Option<&'a GasTownStatus>,
    ) -> TownObservation<'a> {
        TownObservation {
            base: Baseline {
                previous,
                generation: Some(2),
                now: at(100),
            },
            draining: None,
            dolt: Workload::Ready,
            daemon: Workload::Ready,
            daemon_endpoint: "prod-bd-daemon:9080".into(),
            beads,
            mayor: agent(true, true),
            deacon: agent(true, true),
            rigs: vec![TownRig {
                name: "gastown".into(),
                phase: Some(Phase::Running),
                reconciled: true,
            }],
            running_agent_pods: 4,
            external_secrets: None,
        }
    }

    #[test]
    fn undeliverable_external_secrets_keep_the_town_from_ready() {
        let beads = summary();
        let mut o = observation(Ok(&beads), None);
        o.external_secrets = Some(Observed::new(
            EXTERNAL_SECRETS_READY,
            false,
            "NotServed",
            "the cluster does not serve external-secrets.io",
        ));
        let (status, _) = town_status(&o);
        assert_eq!(
            condition_status(&status, EXTERNAL_SECRETS_READY),
            Some(false)
        );
        assert_eq!(condition_status(&status, condition::READY), Some(false));
        assert_eq!(status.phase, Some(Phase::Provisioning));
    }

    fn condition_status(status: &GasTownStatus, type_: &str) -> Option<bool> {
        crate::conditions::is_true(status.conditions.as_deref().unwrap_or_default(), type_)
    }

    #[test]
    fn healthy_town_is_running_with_counts_from_beads() {
        let beads = summary();
        let (status, transitions) = town_status(&observation(Ok(&beads), None));
        assert_eq!(status.phase, Some(Phase::Running));
        assert_eq!(condition_status(&status, condition::READY), Some(true));
        let rig = &status.rigs.as_ref().unwrap()[0];
        assert_eq!(
            (rig.polecat_count, rig.crew_count, rig.merge_queue_depth),
            (Some(2), Some(1), Some(3))
        );
        assert_eq!(rig.witness_healthy, Some(true));
        assert_eq!(rig.refinery_healthy, Some(false));
        assert_eq!(
            status.daemon.as_ref().unwrap().version.as_deref(),
            Some("0.50.0")
        );
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(transitions.len(), 6, "every condition is new");
    }

    #[test]
    fn recomputing_the_same_observation_changes_nothing() {
        let beads = summary();
        let (first, _) = town_status(&observation(Ok(&beads), None));
        let mut later = observation(Ok(&beads), Some(&first));
        later.base.now = at(500);
        let (second, transitions) = town_status(&later);
        assert_eq!(
            second, first,
            "no write at rest: lastSynced and transition times stay"
        );
        assert!(transitions.is_empty());
    }

    #[test]
    fn unreachable_daemon_degrades_and_keeps_last_known_rig_summary() {
        let beads = summary();
        let (running, _) = town_status(&observation(Ok(&beads), None));
        let (status, transitions) = town_status(&observation(
            Err("connection refused".into()),
            Some(&running),
        ));
        assert_eq!(status.phase, Some(Phase::Degraded));
        assert_eq!(
            condition_status(&status, condition::DAEMON_READY),
            Some(false)
        );
        let daemon = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == condition::DAEMON_READY)
            .unwrap();
        assert_eq!(daemon.message, "connection refused");
        assert_eq!(
            status.rigs.as_ref().unwrap()[0].polecat_count,
            Some(2),
            "last known, not invented"
        );
        assert_eq!(status.daemon.as_ref().unwrap().connected, Some(false));
        assert!(
            transitions
                .iter()
                .any(|t| t.type_ == condition::DAEMON_READY && !t.status)
        );
    }

    #[test]
    fn mayor_health_comes_from_its_bead_not_only_its_pod() {
        let mut beads = summary();
        beads.mayor = Some(AgentSummary {
            alive: false,
            ..alive("gt-mayor")
        });
        let (status, _) = town_status(&observation(Ok(&beads), None));
        assert_eq!(
            condition_status(&status, condition::MAYOR_HEALTHY),
            Some(false)
        );
        assert_eq!(
            condition_status(&status, condition::DEACON_HEALTHY),
            Some(true)
        );
        let mut disabled = observation(Ok(&beads), None);
        disabled.mayor = agent(false, false);
        let (status, _) = town_status(&disabled);
        assert_eq!(
            condition_status(&status, condition::MAYOR_HEALTHY),
            Some(true)
        );
        assert!(status.mayor.is_none());
    }

    #[test]
    fn missing_secret_fails_the_town_with_the_reason() {
        let beads = summary();
        let mut blocked = observation(Ok(&beads), None);
        blocked.daemon = Workload::Blocked("Secret bd-token does not exist".into());
        let (status, _) = town_status(&blocked);
        assert_eq!(status.phase, Some(Phase::Failed));
        let daemon = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == condition::DAEMON_READY)
            .unwrap();
        assert!(daemon.message.contains("bd-token"));
    }

    #[test]
    fn progress_alone_waits_for_the_interval_but_transitions_do_not() {
        let beads = summary();
        let mut starting = observation(Ok(&beads), None);
        starting.running_agent_pods = 1;
        starting.rigs[0].reconciled = false;
        let (written, _) = town_status(&starting);
        assert_eq!(when_to_write(None, &written, at(100)), StatusWrite::Now);

        // One more pod runs a second later: progress only.
        let mut later = observation(Ok(&beads), Some(&written));
        later.base.now = at(101);
        later.running_agent_pods = 2;
        later.rigs[0].reconciled = false;
        let (progressed, transitions) = town_status(&later);
        assert!(transitions.is_empty());
        assert_eq!(progressed.agent_count, Some(2));
        assert_eq!(
            when_to_write(Some(&written), &progressed, at(101)),
            StatusWrite::After(PROGRESS_INTERVAL - Duration::from_secs(1))
        );
        let interval_over = at(100 + PROGRESS_INTERVAL.as_secs() as i64);
        assert_eq!(
            when_to_write(Some(&written), &progressed, interval_over),
            StatusWrite::Now,
            "written once the interval is over"
        );

        // The rig settles at the same time: the town becomes Ready at once.
        let mut settled = observation(Ok(&beads), Some(&written));
        settled.base.now = at(101);
        settled.running_agent_pods = 2;
        let (ready, transitions) = town_status(&settled);
        assert!(!transitions.is_empty());
        assert_eq!(
            when_to_write(Some(&written), &ready, at(101)),
            StatusWrite::Now
        );
        assert_eq!(
            when_to_write(Some(&ready), &ready, at(101)),
            StatusWrite::Unchanged
        );
    }

    #[test]
    fn a_new_reason_is_no_mere_progress() {
        let beads = summary();
        let (written, _) = town_status(&observation(Ok(&beads), None));
        let mut blocked = observation(Ok(&beads), Some(&written));
        blocked.base.now = at(100);
        blocked.dolt = Workload::NotReady;
        let (not_ready, _) = town_status(&blocked);
        let mut missing = observation(Ok(&beads), Some(&not_ready));
        missing.base.now = at(100);
        missing.dolt = Workload::Blocked("Secret aws does not exist".into());
        let (failed, transitions) = town_status(&missing);
        assert!(transitions.is_empty(), "DoltReady stays False");
        assert_eq!(
            when_to_write(Some(&not_ready), &failed, at(100)),
            StatusWrite::Now
        );
    }

    #[test]
    fn a_provisioning_town_writes_its_steps_as_progress_but_a_town_that_is_up_does_not() {
        let beads = summary();
        let mut starting = observation(Ok(&beads), None);
        starting.dolt = Workload::NotReady;
        starting.mayor = agent(true, false);
        let (written, _) = town_status(&starting);
        assert_eq!(written.phase, Some(Phase::Provisioning));

        // Dolt comes up a second later; the mayor still starts.
        let mut dolt_up = observation(Ok(&beads), Some(&written));
        dolt_up.base.now = at(101);
        dolt_up.mayor = agent(true, false);
        let (step, transitions) = town_status(&dolt_up);
        assert_eq!(step.phase, Some(Phase::Provisioning));
        assert_eq!(transitions.len(), 1, "told with the write: {transitions:?}");
        assert_eq!(condition_status(&step, condition::DOLT_READY), Some(true));
        assert_eq!(
            when_to_write(Some(&written), &step, at(101)),
            StatusWrite::After(PROGRESS_INTERVAL - Duration::from_secs(1))
        );

        // A new generation is written at once, as is the phase once it moves.
        let mut edited = step.clone();
        edited.observed_generation = Some(3);
        assert_eq!(
            when_to_write(Some(&written), &edited, at(101)),
            StatusWrite::Now
        );
        let mut all_up = observation(Ok(&beads), Some(&written));
        all_up.base.now = at(101);
        let (running, _) = town_status(&all_up);
        assert_eq!(running.phase, Some(Phase::Running));
        assert_eq!(
            when_to_write(Some(&written), &running, at(101)),
            StatusWrite::Now
        );

        // Once up, a condition that changes is news, even with the phase
        // unchanged: the degraded town's mayor stops too.
        let mut dolt_down = observation(Ok(&beads), Some(&running));
        dolt_down.base.now = at(102);
        dolt_down.dolt = Workload::NotReady;
        let (degraded, _) = town_status(&dolt_down);
        assert_eq!(degraded.phase, Some(Phase::Degraded));
        let mut mayor_down = observation(Ok(&beads), Some(&degraded));
        mayor_down.base.now = at(103);
        mayor_down.dolt = Workload::NotReady;
        mayor_down.mayor = agent(true, false);
        let (worse, transitions) = town_status(&mayor_down);
        assert_eq!(worse.phase, Some(Phase::Degraded));
        assert!(!transitions.is_empty());
        assert_eq!(
            when_to_write(Some(&degraded), &worse, at(103)),
            StatusWrite::Now
        );
    }

    #[test]
    fn provisioning_until_infrastructure_is_ready() {
        let mut starting = observation(Err("no route".into()), None);
        starting.dolt = Workload::NotReady;
        starting.daemon = Workload::NotReady;
        let (status, _) = town_status(&starting);
        assert_eq!(status.phase, Some(Phase::Provisioning));
    }
}

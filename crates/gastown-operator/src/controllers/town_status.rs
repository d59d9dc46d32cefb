//! The GasTown status, derived purely from what a reconcile observed.

use beads_client::TownSummary;
use gastown_api::gastown::{BeadsProtocol, DaemonStatus, RigSummary, TownAgentStatus, condition};
use gastown_api::{GasTownStatus, Phase};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

use crate::conditions::{self, Baseline, Before, CRASH_LOOP_BACK_OFF, Observed, Transition};
use crate::controllers::backup_status::{BACKUP_FAILED, BackupProjection};
use crate::reconcile::agent_slot::AgentObservation;
use crate::reconcile::rollout::Progress;

/// Condition type of a town that declares external secrets: they are rendered
/// as ExternalSecret objects (only where that kind is served).
pub const EXTERNAL_SECRETS_READY: &str = "ExternalSecretsReady";

/// Reason of the Draining condition of a town drained by request.
pub const DRAIN_REQUESTED: &str = "DrainRequested";

/// Readiness of an infrastructure workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Not run by this operator (external bd daemon).
    External,
    /// Not created, with the reason (e.g. a missing Secret).
    Blocked(String),
    /// Its pod crash-loops, with why ([`crate::controllers::pod_crash`]).
    CrashLooping(String),
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
    /// Why the town starts no new polecats (a drain request), for its phase
    /// and its Draining condition.
    pub draining: Option<String>,
    pub dolt: Workload,
    pub daemon: Workload,
    /// The endpoint the operator reads beads from.
    pub daemon_endpoint: String,
    /// The protocol it speaks there.
    pub beads_protocol: BeadsProtocol,
    /// How changes reach the operator, when known.
    pub change_feed: Option<String>,
    /// Whether the server gives merge requests (a town's `bd serve` holds
    /// none of its rigs'): unknown is not 0.
    pub merge_requests_known: bool,
    /// beads' view, or why it could not be had.
    pub beads: Result<&'a TownSummary, String>,
    pub mayor: AgentObservation,
    pub deacon: AgentObservation,
    pub rigs: Vec<TownRig>,
    /// Agent pods of the town that are running.
    pub running_agent_pods: i32,
    /// The ExternalSecretsReady condition, when the town declares external secrets.
    pub external_secrets: Option<Observed>,
    /// The town's and its rigs' agents on the current spec.
    pub agents: Progress,
    /// The town's backups, with `spec.dolt.backup`.
    pub backup: Option<BackupProjection>,
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
        Workload::CrashLooping(crash) => Observed::new(
            type_,
            false,
            CRASH_LOOP_BACK_OFF,
            format!("{what} keeps failing: {crash}"),
        ),
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
    if let Some(crash) = &agent.crash {
        return Observed::new(
            type_,
            false,
            CRASH_LOOP_BACK_OFF,
            format!("the {role}'s pod keeps failing: {crash}"),
        );
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
        hook_bead: bead.and_then(|b| b.hook_bead.clone()),
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
                    merge_queue_depth: b.merge_queue_depth.map(count),
                    active_work: Some(count(b.hooked_work.len() as u32)),
                },
                // beads knows nothing of the rig yet: nothing runs there.
                Some(None) => RigSummary {
                    name: rig.name.clone(),
                    polecat_count: Some(0),
                    crew_count: Some(0),
                    witness_healthy: Some(false),
                    refinery_healthy: Some(false),
                    merge_queue_depth: observation.merge_requests_known.then_some(0),
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

    let server = match observation.beads_protocol {
        BeadsProtocol::Daemon => "bd daemon",
        BeadsProtocol::Serve => "bd serve",
    };
    let daemon_condition = match (&observation.daemon, &observation.beads) {
        (Workload::Blocked(_) | Workload::NotReady, _) => workload_condition(
            condition::DAEMON_READY,
            match observation.beads_protocol {
                BeadsProtocol::Daemon => "the bd daemon",
                BeadsProtocol::Serve => "bd serve",
            },
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
                .unwrap_or_else(|| format!("{server} reports itself unhealthy")),
        ),
        (_, Ok(summary)) => Observed::new(
            condition::DAEMON_READY,
            true,
            "Healthy",
            format!(
                "{server} {} is {}",
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

    // A drain request is no reason for the town not to be Ready either.
    let drained = match &observation.draining {
        Some(why) => Observed::new(condition::DRAINING, true, DRAIN_REQUESTED, why.clone()),
        None => Observed::new(
            condition::DRAINING,
            false,
            "NotDraining",
            "new polecats start",
        ),
    };
    let backup = observation.backup.as_ref();
    if backup.is_none() {
        conditions_list.retain(|c| c.type_ != condition::BACKUP_HEALTHY);
    }
    // A rollout is no reason for the town not to be Ready, nor is a backup:
    // the town runs either way, and BackupHealthy says it on its own.
    let mut transitions = conditions::set_all(
        &mut conditions_list,
        observed
            .into_iter()
            .chain([ready, observation.agents.condition.clone(), drained])
            .chain(backup.map(|b| b.condition.clone())),
        observation.base.generation,
        observation.base.now,
    );
    // Every failed backup is told, not only the first of a streak.
    if let Some(failure) = backup.and_then(|b| b.new_failure.as_ref())
        && !transitions
            .iter()
            .any(|t| t.type_ == condition::BACKUP_HEALTHY)
    {
        transitions.push(Transition {
            type_: condition::BACKUP_HEALTHY,
            status: false,
            reason: BACKUP_FAILED.into(),
            message: format!("the backup Job {} failed: {}", failure.job, failure.message),
            before: Some(Before {
                status: false,
                reason: BACKUP_FAILED.into(),
            }),
        });
    }

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
        declared_agents: Some(count(observation.agents.declared as u32)),
        updated_agents: Some(count(observation.agents.updated as u32)),
        agent_count: Some(observation.running_agent_pods),
        mayor: agent_status(&observation.mayor, beads.and_then(|b| b.mayor.as_ref())),
        deacon: agent_status(&observation.deacon, beads.and_then(|b| b.deacon.as_ref())),
        daemon: Some(DaemonStatus {
            connected: Some(beads.is_some()),
            endpoint: Some(observation.daemon_endpoint.clone()),
            protocol: Some(observation.beads_protocol.to_string()),
            change_feed: observation.change_feed.clone(),
            version: beads
                .map(|b| b.daemon.version.clone())
                .or_else(|| previous.daemon.as_ref().and_then(|d| d.version.clone())),
        }),
        rigs: Some(rig_summaries(observation, beads)),
        backup: backup.map(|b| b.status.clone()),
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
    essentials.declared_agents = None;
    essentials.updated_agents = None;
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
mod tests;

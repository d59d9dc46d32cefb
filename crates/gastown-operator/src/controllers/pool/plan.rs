//! The pool's decision, as a pure function: from the pool's pods, beads'
//! answer and the limits, [`plan`] says what to create, delete, replace and
//! report, and what each agent's status row reads. Kept apart from the I/O so
//! that every rule of the module docs is tested without a cluster or a daemon.

use std::collections::BTreeMap;

use beads_client::{
    AgentBead, AgentPodRegistration, AgentState, HealthStatus, PodFields, PodStatus, TownSnapshot,
};
use gastown_api::agentpool::AgentPhase;
use gastown_api::{AgentRole, labels};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::controllers::pod_ready;
use crate::controllers::pool_status::{AgentRow, BeadsHealth, Disposition, Waiting};
use crate::naming;
#[cfg(doc)]
use beads_client::desired_agents;

/// One of the pool's pods, as the decision needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedPod {
    pub name: String,
    /// The `gastown.io/agent` label.
    pub agent: String,
    /// The `gastown.io/bead-id` annotation.
    pub bead_id: Option<String>,
    pub phase: AgentPhase,
    /// Has a deletionTimestamp.
    pub terminating: bool,
    pub ready: bool,
    pub ip: Option<String>,
    pub node: Option<String>,
    pub started_at: Option<Time>,
    /// Container restarts, summed over the pod's containers.
    pub restarts: i64,
}

/// `t` as the API stores a `Time`: whole seconds. A status computed with a
/// finer time would differ from its stored self on every reconcile.
fn whole_seconds(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

impl ObservedPod {
    pub fn from_pod(pod: &Pod) -> Self {
        let status = pod.status.as_ref();
        let phase = match status.and_then(|s| s.phase.as_deref()) {
            // A pod the kubelet has not reported on yet is pending.
            None | Some("Pending") => AgentPhase::Pending,
            Some("Running") => AgentPhase::Running,
            Some("Succeeded") => AgentPhase::Succeeded,
            Some("Failed") => AgentPhase::Failed,
            Some(_) => AgentPhase::Unknown,
        };
        Self {
            name: pod.name_any(),
            agent: pod.labels().get(labels::AGENT).cloned().unwrap_or_default(),
            bead_id: pod.annotations().get(labels::BEAD_ID_ANNOTATION).cloned(),
            phase,
            terminating: pod.metadata.deletion_timestamp.is_some(),
            ready: pod_ready(pod),
            ip: status.and_then(|s| s.pod_ip.clone()),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            started_at: status
                .and_then(|s| s.start_time.as_ref())
                .map(|t| whole_seconds(t.0)),
            restarts: status
                .and_then(|s| s.container_statuses.as_ref())
                .map_or(0, |containers| {
                    containers.iter().map(|c| i64::from(c.restart_count)).sum()
                }),
        }
    }

    fn finished(&self) -> bool {
        matches!(self.phase, AgentPhase::Succeeded | AgentPhase::Failed)
    }

    /// The pod status beads should record; `None` when it cannot be told.
    fn reported_status(&self) -> Option<PodStatus> {
        if self.finished() {
            return Some(PodStatus::Terminated);
        }
        if self.terminating {
            return Some(PodStatus::Terminating);
        }
        match self.phase {
            AgentPhase::Pending => Some(PodStatus::Pending),
            AgentPhase::Running => Some(PodStatus::Running),
            _ => None,
        }
    }
}

/// beads' answer, as far as the pool may use it.
#[derive(Clone, Debug)]
pub enum BeadsAnswer<'a> {
    /// No usable answer: nothing is created, deleted or reported.
    Unavailable(String),
    Answered {
        /// Every agent bead of the pool's rig and role, whatever its state or labels.
        known: &'a [AgentBead],
        /// The agents beads wants running ([`desired_agents`]), sorted by id.
        desired: &'a [AgentBead],
        /// Why the answer is not trusted enough to delete pods, if so ([`distrust`]).
        distrust: Option<String>,
    },
}

/// Everything the decision is made from.
#[derive(Clone, Debug)]
pub struct PlanInput<'a> {
    pub town: &'a str,
    pub rig: &'a str,
    pub role: AgentRole,
    pub selector: &'a [String],
    /// The pool's own pods.
    pub pods: &'a [ObservedPod],
    pub beads: BeadsAnswer<'a>,
    /// Agents run by someone else, by name, with who that is.
    pub elsewhere: &'a BTreeMap<String, String>,
    /// Most pods not yet finished; `None`: no limit.
    pub limit: Option<usize>,
    /// No new polecat pods.
    pub draining: bool,
    /// Why no pod can be created now (a missing Secret), if so.
    pub blocked: Option<&'a str>,
}

/// A pod to delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    pub pod: String,
    /// Why, for the log.
    pub why: String,
    /// The bead to deregister once the delete is sent: set when the bead has
    /// vanished from beads' answer, so its record can no longer be compared.
    pub deregister: Option<String>,
}

/// A pod-state report to beads.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    Register(AgentPodRegistration),
    Status {
        agent_id: String,
        status: PodStatus,
        /// What beads holds now: `bd serve` keeps the pod record as one
        /// metadata value, rewritten whole.
        current: PodFields,
    },
    Deregister {
        agent_id: String,
    },
}

impl Report {
    pub fn agent_id(&self) -> &str {
        match self {
            Report::Register(registration) => &registration.agent_id,
            Report::Status { agent_id, .. } | Report::Deregister { agent_id } => agent_id,
        }
    }

    /// Tells beads that a pod ended.
    pub(super) fn tells_termination(&self) -> bool {
        match self {
            Report::Register(registration) => {
                registration.pod_status == Some(PodStatus::Terminated)
            }
            Report::Status { status, .. } => *status == PodStatus::Terminated,
            Report::Deregister { .. } => false,
        }
    }
}

/// What the pool does now.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Agents to create a pod for, in this order.
    pub create: Vec<AgentBead>,
    /// Desired agents of restarting roles with a pod: replaced when it failed
    /// or its spec is outdated ([`crate::write::ensure_pod`]).
    pub keep_current: Vec<AgentBead>,
    pub delete: Vec<Deletion>,
    pub reports: Vec<Report>,
    /// One row per agent, for the status.
    pub rows: Vec<AgentRow>,
    pub beads: BeadsHealth,
}

impl Plan {
    fn nothing(beads: BeadsHealth) -> Self {
        Self {
            create: Vec::new(),
            keep_current: Vec::new(),
            delete: Vec::new(),
            reports: Vec::new(),
            rows: Vec::new(),
            beads,
        }
    }
}

/// Finished for good: beads will not run this agent again under this bead state.
fn bead_finished(bead: &AgentBead) -> bool {
    bead.status.is_closed()
        || matches!(
            bead.state,
            Some(
                AgentState::Done
                    | AgentState::Nuked
                    | AgentState::Stopping
                    | AgentState::Stopped
                    | AgentState::Failed
                    | AgentState::Dead
            )
        )
}

/// beads keeps a record of a pod for this agent.
fn has_pod_record(bead: &AgentBead) -> bool {
    let pod = &bead.pod;
    pod.name.is_some() || pod.status.is_some() || pod.ip.is_some() || pod.node.is_some()
}

/// What to tell beads about `pod`, the pod of `bead`; `None` when beads already knows.
fn pod_report(bead: &AgentBead, pod: &ObservedPod) -> Option<Report> {
    let status = pod.reported_status();
    let record = &bead.pod;
    let new_to_beads = record.name.as_deref() != Some(pod.name.as_str())
        || (pod.ip.is_some() && record.ip != pod.ip)
        || (pod.node.is_some() && record.node != pod.node);
    if new_to_beads {
        return Some(Report::Register(AgentPodRegistration {
            agent_id: bead.id.clone(),
            pod_name: pod.name.clone(),
            pod_ip: pod.ip.clone(),
            pod_node: pod.node.clone(),
            pod_status: status,
            screen_session: None,
        }));
    }
    let status = status?;
    (record.status.as_deref() != Some(status.as_str())).then(|| Report::Status {
        agent_id: bead.id.clone(),
        status,
        current: record.clone(),
    })
}

fn row(
    name: &str,
    bead: Option<&AgentBead>,
    pod: Option<&ObservedPod>,
    disposition: Disposition,
) -> AgentRow {
    let waiting = matches!(disposition, Disposition::Waiting(_));
    AgentRow {
        name: name.to_string(),
        bead_id: bead
            .map(|b| b.id.clone())
            .or_else(|| pod.and_then(|p| p.bead_id.clone())),
        state: bead.and_then(|b| b.state.as_ref().map(|s| s.as_str().to_string())),
        hook_bead: bead.and_then(|b| b.hook_bead.clone()),
        pod_name: pod.map(|p| p.name.clone()),
        phase: match pod {
            Some(pod) => Some(pod.phase),
            None if waiting => Some(AgentPhase::Pending),
            None => None,
        },
        ready: pod.is_some_and(|p| p.ready && !p.terminating),
        started_at: pod.and_then(|p| p.started_at.clone()),
        disposition,
    }
}

/// Why beads' answer about `town` is not trusted enough to delete pods, if so.
///
/// Rule: a daemon that calls itself unhealthy, or an answer without a single
/// agent bead for the whole town while the pool still has pods, is taken for
/// a fault rather than the end of every agent (a town always has agent beads
/// while it has agents; an empty answer is the signature of a reset or
/// misconfigured daemon).
pub fn distrust(snapshot: &TownSnapshot, town: &str, pool_pods: usize) -> Option<String> {
    if snapshot.health.status == HealthStatus::Unhealthy {
        let detail = snapshot
            .health
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Some(format!(
            "the bd daemon of town {town} reports itself unhealthy{detail}: no pod is deleted until it recovers"
        ));
    }
    if pool_pods > 0 && snapshot.agent_beads().next().is_none() {
        return Some(format!(
            "beads listed no agent beads at all for town {town} while this pool has {pool_pods} pod(s): \
             taken for a faulty answer, no pod is deleted until beads lists agents again"
        ));
    }
    None
}

/// Decides what the pool does now. Pure: the same input gives the same plan.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let (known, desired, distrust) = match &input.beads {
        BeadsAnswer::Unavailable(reason) => {
            return Plan::nothing(BeadsHealth::Unavailable(reason.clone()));
        }
        BeadsAnswer::Answered {
            known,
            desired,
            distrust,
        } => (*known, *desired, distrust.as_deref()),
    };
    let mut plan = Plan::nothing(match distrust {
        Some(reason) => BeadsHealth::DeletionsWithheld(reason.to_string()),
        None => BeadsHealth::Answered,
    });
    let polecats = input.role == AgentRole::Polecat;
    let bead_of = |pod: &ObservedPod| -> Option<&AgentBead> {
        known
            .iter()
            .find(|b| pod.bead_id.as_deref() == Some(b.id.as_str()))
            .or_else(|| known.iter().find(|b| b.name == pod.agent))
    };
    let is_desired = |bead: &AgentBead| desired.iter().any(|d| d.id == bead.id);

    // Pods of agents beads does not want running.
    for pod in input.pods {
        let bead = bead_of(pod);
        if bead.is_some_and(is_desired) {
            continue;
        }
        if let Some(bead) = bead {
            plan.reports.extend(pod_report(bead, pod));
        }
        let finished = bead.is_none_or(bead_finished);
        // An ended polecat pod stays for log collection: the Rig removes it
        // `cleanupAfter` after it ended.
        let kept_for_logs = polecats && pod.finished();
        let disposition = if finished {
            if distrust.is_none() && !pod.terminating && !kept_for_logs {
                plan.delete.push(Deletion {
                    pod: pod.name.clone(),
                    why: match bead {
                        Some(bead) if bead.status.is_closed() => {
                            format!("bead {} is closed", bead.id)
                        }
                        Some(bead) => format!(
                            "bead {} is {}",
                            bead.id,
                            bead.state.as_ref().map_or("finished", |s| s.as_str())
                        ),
                        None => "its bead is gone from beads".to_string(),
                    },
                    deregister: if bead.is_none() {
                        pod.bead_id.clone()
                    } else {
                        None
                    },
                });
            }
            Disposition::Leaving
        } else {
            // Live but no longer selected, or a state not known here: kept.
            Disposition::Scheduled
        };
        plan.rows
            .push(row(&pod.agent, bead, Some(pod), disposition));
    }

    // The agents beads wants running, in bead-id order.
    let active = input.pods.iter().filter(|p| !p.finished()).count();
    let mut free = input.limit.map(|limit| limit.saturating_sub(active));
    for bead in desired {
        if let Some(who) = input.elsewhere.get(&bead.name) {
            plan.rows.push(row(
                &bead.name,
                Some(bead),
                None,
                Disposition::Elsewhere(who.clone()),
            ));
            continue;
        }
        let pod = input
            .pods
            .iter()
            .find(|p| bead_of(p).is_some_and(|b| b.id == bead.id));
        let disposition = match pod {
            Some(pod) => {
                plan.reports.extend(pod_report(bead, pod));
                if polecats && pod.finished() {
                    Disposition::Ended
                } else if pod.terminating {
                    Disposition::Waiting(Waiting::PreviousPodTerminating)
                } else {
                    if !polecats {
                        plan.keep_current.push(bead.clone());
                    }
                    Disposition::Scheduled
                }
            }
            None if polecats && has_pod_record(bead) => {
                // Its pod ended or vanished; beads has not asked for a new one.
                if bead.pod.status.as_deref() != Some(PodStatus::Terminated.as_str()) {
                    plan.reports.push(Report::Status {
                        agent_id: bead.id.clone(),
                        status: PodStatus::Terminated,
                        current: bead.pod.clone(),
                    });
                }
                Disposition::Ended
            }
            None => {
                let waiting = if input.draining && polecats {
                    Some(Waiting::Draining)
                } else if let Some(reason) = input.blocked {
                    Some(Waiting::Blocked(reason.to_string()))
                } else if free == Some(0) {
                    Some(Waiting::MaxCount(input.limit.unwrap_or_default()))
                } else {
                    None
                };
                match waiting {
                    Some(waiting) => Disposition::Waiting(waiting),
                    None => {
                        free = free.map(|f| f - 1);
                        plan.create.push(bead.clone());
                        let mut starting =
                            row(&bead.name, Some(bead), None, Disposition::Scheduled);
                        starting.pod_name = Some(naming::agent_pod(
                            input.town,
                            Some(input.rig),
                            input.role,
                            &bead.name,
                        ));
                        starting.phase = Some(AgentPhase::Pending);
                        plan.rows.push(starting);
                        continue;
                    }
                }
            }
        };
        plan.rows
            .push(row(&bead.name, Some(bead), pod, disposition));
    }

    // Finished beads of the pool whose pods are gone: clear beads' pod record.
    if distrust.is_none() {
        let has_pod = |bead: &AgentBead| {
            input
                .pods
                .iter()
                .any(|p| bead_of(p).is_some_and(|b| b.id == bead.id))
        };
        for bead in known.iter().filter(|b| {
            b.has_labels(input.selector)
                && bead_finished(b)
                && has_pod_record(b)
                && !input.elsewhere.contains_key(&b.name)
                && !has_pod(b)
        }) {
            plan.reports.push(Report::Deregister {
                agent_id: bead.id.clone(),
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests;

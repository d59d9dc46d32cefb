//! Safe rollouts of declared agents: when the wanted pod of a Mayor,
//! Deacon, Witness, Refinery or crew member differs from the running one,
//! decide — purely, from observed state — which pods may be replaced now.
//!
//! The rules (upstream Gas Town's controller rolls one pod per role at a
//! time and never replaces a polecat, G3; ours also survives a restart,
//! since everything is re-derived from the pods and beads on each pass):
//! - a missing pod is created and a failed one replaced at once (that is
//!   repair, not rollout); an outdated pod that is not Ready either;
//! - an outdated, Ready pod is replaced only while fewer than
//!   `maxUnavailable` agents of its scope are missing or not Ready;
//! - a crew member (a person-like worker with uncommitted work in its
//!   workspace) is replaced only when beads shows it idle — nothing hooked,
//!   not `working` — or once it has waited `maxWaitForIdle`, or when its pod
//!   carries [`FORCE_ANNOTATION`]; patrol roles resume from beads after a
//!   restart and do not wait.
//!
//! Deferred pods are held: the applier leaves them exactly as they are.

use std::time::Duration;

use gastown_api::AgentRole;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::agent_slot::{AgentSlot, Want};
use super::desired::Objects;
use crate::conditions::Observed;
use crate::write::POD_SPEC_HASH_ANNOTATION;

/// On an agent's pod: replace it now, busy or not.
pub const FORCE_ANNOTATION: &str = "gastown.io/replace-now";
/// On a busy crew member's outdated pod: when its replacement began waiting
/// for it to go idle (so `maxWaitForIdle` survives an operator restart).
pub const WAITING_SINCE_ANNOTATION: &str = "gastown.io/waiting-for-idle-since";

/// The condition type both the town and its rigs show.
pub const AGENTS_UP_TO_DATE: &str = "AgentsUpToDate";

/// How a scope's rollout is paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub max_unavailable: usize,
    pub max_wait_for_idle: Option<Duration>,
}

/// One declared agent as the rollout sees it.
#[derive(Clone, Debug)]
pub struct SlotView<'a> {
    pub slot: &'a AgentSlot,
    pub observed: Option<&'a Pod>,
    /// Why the agent must not be interrupted now (crew only): work hooked,
    /// `working`, or beads unknown. `None`: idle, or not a crew member.
    pub busy: Option<String>,
}

/// What happens to one agent's pod on this pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do (current, or going away already).
    Leave,
    /// No pod yet: create it.
    Create,
    /// Failed, or outdated and not Ready anyway: replace at once.
    Repair,
    /// Outdated: replace now.
    Replace,
    /// Outdated, but its turn has not come: `why`.
    Defer { why: String, waiting_for_idle: bool },
}

/// A scope's rollout on this pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Pace {
    /// One decision per slot that wants a pod, by pod name.
    pub decisions: Vec<(String, Decision)>,
    /// Busy crew pods whose wait for idle starts now (to be annotated).
    pub start_waiting: Vec<String>,
    /// Agents declared and enabled.
    pub declared: usize,
    /// Agents whose pod runs the current spec and is Ready.
    pub updated: usize,
    /// The AgentsUpToDate condition of this scope.
    pub condition: Observed,
}

/// How far a scope's agents are on the current spec, for status.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    pub declared: usize,
    pub updated: usize,
    pub condition: Observed,
}

impl Progress {
    /// A scope with no agents of its own.
    pub fn none() -> Self {
        Self {
            declared: 0,
            updated: 0,
            condition: Observed::new(AGENTS_UP_TO_DATE, true, "UpToDate", "no agents"),
        }
    }

    /// This scope together with others (a town and its rigs): counts add up,
    /// and the condition is the first that is not up to date.
    pub fn with(mut self, others: impl IntoIterator<Item = Progress>) -> Self {
        for other in others {
            self.declared += other.declared;
            self.updated += other.updated;
            if self.condition.status && !other.condition.status {
                self.condition = other.condition;
            }
        }
        if self.condition.status {
            self.condition.message = format!("all {} agents run the current spec", self.declared);
        }
        self
    }
}

impl Pace {
    /// What status shows of this pass.
    pub fn progress(&self) -> Progress {
        Progress {
            declared: self.declared,
            updated: self.updated,
            condition: self.condition.clone(),
        }
    }

    /// Holds the deferred pods: the applier neither replaces nor deletes them.
    pub fn hold_deferred(&self, pods: &mut Objects<Pod>) {
        for (name, decision) in &self.decisions {
            if matches!(decision, Decision::Defer { .. }) {
                pods.wanted
                    .retain(|pod| pod.metadata.name.as_deref() != Some(name));
                pods.hold(name.clone());
            }
        }
    }

    /// The pods replaced on this pass for a new spec (for Events).
    pub fn replacing(&self) -> impl Iterator<Item = &str> {
        self.decisions
            .iter()
            .filter(|(_, d)| *d == Decision::Replace)
            .map(|(name, _)| name.as_str())
    }
}

fn hash(pod: &Pod) -> Option<&String> {
    pod.annotations().get(POD_SPEC_HASH_ANNOTATION)
}

fn failed(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
}

/// Decides the pass for one scope.
pub fn pace(views: &[SlotView<'_>], policy: Policy, now: Timestamp) -> Pace {
    pace_beside(views, &[], policy, now)
}

/// [`pace`] for the agents of a scope one controller runs, beside others of
/// the same scope it does not (a rig's own agents and those its pools run):
/// `down_beside` names those others that are missing or not Ready, which
/// count against the same `maxUnavailable`.
pub fn pace_beside(
    views: &[SlotView<'_>],
    down_beside: &[String],
    policy: Policy,
    now: Timestamp,
) -> Pace {
    let mut decisions = Vec::new();
    let mut unavailable: Vec<String> = down_beside.to_vec();
    let mut candidates = Vec::new();
    let mut updated = 0;
    let mut declared = 0;
    let mut blocked = Vec::new();
    for view in views {
        let wanted = match &view.slot.want {
            Want::Disabled => continue,
            Want::Blocked(_) => {
                declared += 1;
                blocked.push(view.slot.pod_name.clone());
                continue;
            }
            Want::Pod(wanted) => wanted,
        };
        declared += 1;
        let name = view.slot.pod_name.clone();
        let decision = match view.observed {
            None => {
                unavailable.push(name.clone());
                Decision::Create
            }
            Some(pod) if pod.metadata.deletion_timestamp.is_some() => {
                unavailable.push(name.clone());
                Decision::Leave
            }
            Some(pod) if failed(pod) => {
                unavailable.push(name.clone());
                Decision::Repair
            }
            Some(pod) => {
                let ready = crate::controllers::pod_ready(pod);
                let current = hash(pod).is_some() && hash(pod) == hash(wanted);
                match (current, ready) {
                    (true, true) => {
                        updated += 1;
                        Decision::Leave
                    }
                    (true, false) => {
                        unavailable.push(name.clone());
                        Decision::Leave
                    }
                    (false, false) => {
                        unavailable.push(name.clone());
                        Decision::Repair
                    }
                    (false, true) => {
                        candidates.push((decisions.len(), view));
                        Decision::Leave
                    }
                }
            }
        };
        decisions.push((name, decision));
    }

    // Outdated, Ready pods, in name order, within the budget.
    candidates.sort_by(|a, b| a.1.slot.pod_name.cmp(&b.1.slot.pod_name));
    let mut budget = policy.max_unavailable.saturating_sub(unavailable.len());
    let mut start_waiting = Vec::new();
    for (index, view) in candidates {
        let pod = view.observed.expect("a candidate has a pod");
        let forced = pod.annotations().contains_key(FORCE_ANNOTATION);
        let decision = match (&view.busy, forced) {
            (Some(busy), false) if view.slot.role == AgentRole::Crew => {
                let since = pod
                    .annotations()
                    .get(WAITING_SINCE_ANNOTATION)
                    .and_then(|t| t.parse::<Timestamp>().ok());
                let waited_enough = match (since, policy.max_wait_for_idle) {
                    (Some(since), Some(max)) => now.duration_since(since).unsigned_abs() >= max,
                    _ => false,
                };
                if since.is_none() {
                    start_waiting.push(view.slot.pod_name.clone());
                }
                if waited_enough {
                    None
                } else {
                    Some(Decision::Defer {
                        why: format!(
                            "waiting for crew member {} to go idle before replacing its pod ({busy})",
                            view.slot.pod_name
                        ),
                        waiting_for_idle: true,
                    })
                }
            }
            _ => None,
        };
        let decision = decision.unwrap_or_else(|| {
            if budget == 0 {
                let behind = unavailable
                    .first()
                    .map_or_else(|| "another agent".to_string(), |name| format!("pod {name}"));
                Decision::Defer {
                    why: format!(
                        "{} waits its turn: {behind} is being replaced or not Ready yet",
                        view.slot.pod_name
                    ),
                    waiting_for_idle: false,
                }
            } else {
                budget -= 1;
                unavailable.push(view.slot.pod_name.clone());
                Decision::Replace
            }
        });
        decisions[index].1 = decision;
    }

    let condition = condition(&decisions, &blocked, declared, updated);
    Pace {
        decisions,
        start_waiting,
        declared,
        updated,
        condition,
    }
}

fn condition(
    decisions: &[(String, Decision)],
    blocked: &[String],
    declared: usize,
    updated: usize,
) -> Observed {
    let waiting = decisions.iter().find_map(|(_, d)| match d {
        Decision::Defer {
            why,
            waiting_for_idle: true,
        } => Some(why.clone()),
        _ => None,
    });
    // Creating missing pods is provisioning, not a rollout: only outdated
    // or failed pods (or deferred ones) make the scope not up to date.
    let rolling = decisions.iter().any(|(_, d)| {
        matches!(
            d,
            Decision::Replace | Decision::Repair | Decision::Defer { .. }
        )
    });
    if let Some(why) = waiting {
        return Observed::new(AGENTS_UP_TO_DATE, false, "WaitingForIdle", why);
    }
    if rolling {
        let replacing: Vec<&str> = decisions
            .iter()
            .filter(|(_, d)| matches!(d, Decision::Replace | Decision::Repair))
            .map(|(name, _)| name.as_str())
            .collect();
        let detail = if replacing.is_empty() {
            String::new()
        } else {
            format!("; now: {}", replacing.join(", "))
        };
        return Observed::new(
            AGENTS_UP_TO_DATE,
            false,
            "RollingOut",
            format!("{updated} of {declared} agents run the current spec{detail}"),
        );
    }
    if !blocked.is_empty() {
        return Observed::new(
            AGENTS_UP_TO_DATE,
            false,
            "Blocked",
            format!("cannot run: {}", blocked.join(", ")),
        );
    }
    Observed::new(
        AGENTS_UP_TO_DATE,
        true,
        "UpToDate",
        "no agent runs an outdated spec",
    )
}

#[cfg(test)]
mod tests;

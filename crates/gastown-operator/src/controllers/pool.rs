//! The AgentPool controller — beads decides, the operator does.
//!
//! A pool belongs to the Rig whose `spec.name` is its `spec.rig` (in its
//! namespace) and to that rig's town. Each reconcile reads beads' view of the
//! town (fetched once per sync by the GasTown controller, never queried here),
//! decides with the pure [`plan`] what to create, delete and report, does it,
//! and writes the status. The rules, all derived afresh on every reconcile:
//!
//! - **Desired agents** are the non-closed agent beads of the rig and role that
//!   carry every `beadSelector` label and whose state is in the live family.
//!   Each gets a pod named `gt-<rig>-<role>-<agent>`, created in bead-id order,
//!   labelled [`POOL_LABEL`]`=<pool>`. A pool acts only on pods carrying its
//!   own label; an agent whose pod name is taken by another pool or
//!   controller, or that the Rig declares itself (an enabled witness or
//!   refinery, a `spec.crew` member), is left to them.
//! - **Deletion**: a pod is deleted only when its bead is finished (`done`,
//!   `nuked`, `stopping`, `stopped`, `failed`, `dead`, or closed) or has
//!   vanished from beads' answer. A bead that is live but no longer selected,
//!   or in a state this operator does not know, keeps its pod. A polecat pod
//!   that has already ended is kept for its logs: the Rig deletes it
//!   `cleanupAfter` after it ended.
//! - **Safety**: when beads could not be read (or has not been read yet),
//!   nothing is created, deleted or reported. When beads answers but the answer
//!   is suspicious — the daemon calls itself unhealthy, or it lists no agent
//!   bead at all for the whole town while the pool has pods — pods may be
//!   created but none is deleted. Both show in the `BeadsUnavailable` condition.
//! - **Recreation only when beads asks**: a polecat's pod that ended (or
//!   vanished) is not recreated while its bead stays live; beads is told
//!   `terminated` and the witness decides. beads asks for a new polecat pod by
//!   clearing the pod record of a live bead (`agent_pod_deregister`, as a new
//!   sling does); a polecat pod is created only for a live bead without a pod
//!   record. Pods of other roles restart in place (`restartPolicy: Always`) and
//!   a failed or outdated one is replaced ([`apply::ensure_pod`]).
//! - **Limits**: at most `min(pool.maxCount, rig polecats.maxCount)` polecat
//!   pods not yet finished (other roles: `maxCount` when set). An agent over
//!   the limit, or refused by the ResourceQuota (403 "exceeded quota"), is
//!   `Pending` with the reason; the pool looks again after [`LIMIT_RETRY`].
//! - **Blocked**: while a Secret the pods need is missing, or (polecats) the
//!   rig's PriorityClass does not exist yet, agents wait with that reason.
//! - **Draining** (the Rig carries [`naming::DRAINING_ANNOTATION`] or is being
//!   deleted): no new polecat pods.
//! - **Reports to beads**, compared with the pod fields beads already keeps on
//!   the agent bead so that a steady state sends nothing: `agent_pod_register`
//!   when a pod's name, IP or node is new to beads, else `agent_pod_status`
//!   when its status changed (Pending → `pending`, Running → `running`,
//!   deletionTimestamp → `terminating`, Succeeded/Failed → `terminated`; a pod
//!   that has ended stays `terminated` while it is removed), and
//!   `agent_pod_deregister` once a finished bead's pod is gone.
//! - **Deletion of the pool** (finalizer): no new pods; polecats may finish
//!   until the town's `terminationGracePeriod` after the deletion began (the
//!   Rig and town teardowns may remove them sooner), then the remaining active
//!   ones and every pod of other roles are deleted. Ended polecat pods are left
//!   to the Rig's `cleanupAfter`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use beads_client::{
    AgentBead, AgentPodRegistration, AgentState, HealthStatus, PodStatus, TownSnapshot,
    desired_agents,
};
use gastown_api::agentpool::AgentPhase;
use gastown_api::{AgentPool, AgentRole, GasTown, Rig, labels};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use prometheus::core::Collector;

use super::agents::RigAgents;
use super::pool_status::{
    AgentRow, BeadsHealth, Disposition, PoolObservation, Waiting, draining_status, pool_status,
};
use super::{Teardown, get, pod_finished, pod_ready, pods_of, publish_transitions, reconcile_with};
use crate::apply;
use crate::builders::rig::RigRef;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::naming;
use crate::teardown::{self, Stage, Tracked};

pub const CONTROLLER: &str = "agentpool";

/// Label on every pod a pool creates, naming the pool.
pub use gastown_api::labels::POOL as POOL_LABEL;

/// How soon a pool with agents waiting for room (maxCount, quota) looks again.
pub const LIMIT_RETRY: Duration = Duration::from_secs(30);
/// How soon a pool looks again after one of its pods ended (the seed's
/// "5 s after an agent pod ends": beads usually updates the agent by then).
pub const POD_ENDED_RECHECK: Duration = Duration::from_secs(5);
/// How soon a pool that cannot be resolved (no rig, no town) looks again;
/// the rig and town watches usually trigger it sooner.
pub const UNRESOLVED_RETRY: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// The decision, as a pure function.
// ---------------------------------------------------------------------------

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
    Status { agent_id: String, status: PodStatus },
    Deregister { agent_id: String },
}

impl Report {
    pub fn agent_id(&self) -> &str {
        match self {
            Report::Register(registration) => &registration.agent_id,
            Report::Status { agent_id, .. } | Report::Deregister { agent_id } => agent_id,
        }
    }

    /// Tells beads that a pod ended.
    fn tells_termination(&self) -> bool {
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
    /// or its spec is outdated ([`apply::ensure_pod`]).
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

// ---------------------------------------------------------------------------
// The reconcile: dereference, decide, act, report, write status.
// ---------------------------------------------------------------------------

pub async fn reconcile(pool: Arc<AgentPool>, ctx: Arc<Context>) -> Result<Action> {
    let context: &Context = &ctx;
    reconcile_with(
        CONTROLLER,
        naming::POOL_FINALIZER,
        pool,
        context,
        |pool| async move { apply_pool(&pool, context).await },
        |pool| async move { cleanup_pool(&pool, context).await },
    )
    .await
}

/// The pool's rig and town, from the cache.
struct Resolved {
    town: Arc<GasTown>,
    rig: Arc<Rig>,
    rig_ref: RigRef,
}

/// The Rig named by `spec.rig` (preferring the pool's own town label when
/// several towns in the namespace have a rig of that name) and its town.
fn resolve(ctx: &Context, pool: &AgentPool, rig_name: &str) -> Result<Resolved, String> {
    let namespace = pool.namespace().unwrap_or_default();
    let pool_town = pool.town();
    let candidates: Vec<Arc<Rig>> = ctx
        .cache
        .rigs
        .state()
        .into_iter()
        .filter(|r| r.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|r| r.spec.name == rig_name)
        .filter(|r| pool_town.is_none_or(|town| r.town() == Some(town)))
        .collect();
    let rig = match candidates.as_slice() {
        [] => {
            return Err(format!(
                "no Rig with spec.name {rig_name} in namespace {namespace}"
            ));
        }
        [rig] => rig.clone(),
        several => {
            return Err(format!(
                "{} Rigs have spec.name {rig_name} in namespace {namespace}; label the pool with {} to choose the town",
                several.len(),
                labels::TOWN
            ));
        }
    };
    if let Some(reason) = super::rig::name_taken(ctx, &rig) {
        return Err(reason);
    }
    let rig_ref = RigRef::new(&rig).ok_or_else(|| {
        format!(
            "Rig {} has no {} label naming its town, or is not stored yet",
            rig.name_any(),
            labels::TOWN
        )
    })?;
    let town = get(&ctx.cache.towns, &namespace, &rig_ref.town).ok_or_else(|| {
        format!(
            "GasTown {} of Rig {} does not exist",
            rig_ref.town,
            rig.name_any()
        )
    })?;
    Ok(Resolved { town, rig, rig_ref })
}

/// The rig is winding down: no new polecats.
fn rig_draining(rig: &Rig) -> bool {
    rig.metadata.deletion_timestamp.is_some()
        || rig.annotations().contains_key(naming::DRAINING_ANNOTATION)
}

/// Most pods of the pool not yet finished.
fn pod_limit(pool: &AgentPool, rig: &Rig) -> Option<usize> {
    let to_usize = |n: i32| usize::try_from(n).unwrap_or(0);
    let pool_max = pool.spec.max_count.map(to_usize);
    match pool.spec.role {
        AgentRole::Polecat => {
            let rig_max = to_usize(rig.spec.polecats().max_count());
            Some(pool_max.map_or(rig_max, |max| max.min(rig_max)))
        }
        _ => pool_max,
    }
}

/// Who runs agent `name` instead of this pool, if anyone: the Rig controller
/// for the agents the Rig declares, or whoever made a pod of that name.
fn runs_elsewhere(
    rig: &Rig,
    role: AgentRole,
    name: &str,
    existing_pod: Option<&Pod>,
    pool: &str,
) -> Option<String> {
    let declared = match role {
        AgentRole::Witness => rig.spec.witness().enabled(),
        AgentRole::Refinery => rig.spec.refinery().enabled(),
        AgentRole::Crew => rig.spec.crew().iter().any(|c| c.name == name),
        _ => false,
    };
    if declared {
        return Some(format!(
            "declared in Rig {}; the Rig controller runs it",
            rig.name_any()
        ));
    }
    let pod = existing_pod?;
    match pod.labels().get(POOL_LABEL) {
        Some(owner) if owner == pool => None,
        Some(owner) => Some(format!(
            "its pod {} belongs to AgentPool {owner}",
            pod.name_any()
        )),
        None => Some(format!(
            "its pod {} was not made by an AgentPool",
            pod.name_any()
        )),
    }
}

/// Why a pod could not be created.
#[derive(Debug, PartialEq)]
enum CreateRefused {
    Quota(String),
    Build(String),
}

/// What a refused creation means for its agent alone: a 403 "exceeded quota"
/// (the agent waits for room), or a 422 for a pod the API server finds invalid
/// — say, an agent name from beads that is no valid pod name or label value —
/// which blocks that agent with the server's message while the pool's other
/// agents go on. Anything else fails the reconcile.
fn creation_refusal(error: &Error) -> Option<CreateRefused> {
    match error {
        Error::Kube {
            source: kube::Error::Api(status),
            ..
        } => match status.code {
            403 if status.message.contains("exceeded quota") => {
                Some(CreateRefused::Quota(status.message.clone()))
            }
            422 => Some(CreateRefused::Build(format!(
                "the API server refused the pod: {}",
                status.message
            ))),
            _ => None,
        },
        _ => None,
    }
}

/// The pod of `bead`, labelled as this pool's.
fn build_pod(agents: &RigAgents, pool: &AgentPool, bead: &AgentBead) -> Result<Pod, CreateRefused> {
    let role = pool.spec.role;
    // Layer 5 (per-agent values from beads): beads carries none the pod
    // template could use today.
    let template = agents.template(role, pool.spec.template.as_ref(), None);
    let mut pod = agents
        .pod(role, &bead.name, &bead.id, &template)
        .map_err(|e| CreateRefused::Build(e.to_string()))?;
    pod.labels_mut()
        .insert(POOL_LABEL.to_string(), pool.name_any());
    Ok(pod)
}

async fn create_pod(
    api: &Api<Pod>,
    agents: &RigAgents,
    pool: &AgentPool,
    bead: &AgentBead,
) -> Result<Result<(), CreateRefused>> {
    let pod = match build_pod(agents, pool, bead) {
        Ok(pod) => pod,
        Err(refused) => return Ok(Err(refused)),
    };
    match apply::ensure_pod(api, None, pod).await {
        Ok(_) => Ok(Ok(())),
        Err(error) => match creation_refusal(&error) {
            Some(refused) => Ok(Err(refused)),
            None => Err(error),
        },
    }
}

/// Sends the reports; failures are logged and counted, never fatal (the next
/// reconcile compares again and resends what beads still lacks).
async fn send_reports(ctx: &Context, town: &GasTown, reports: &[Report]) {
    if reports.is_empty() {
        return;
    }
    let client = match ctx.beads_for(town).await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "cannot report pod states to beads");
            return;
        }
    };
    for report in reports {
        let started = Instant::now();
        let (operation, result) = match report {
            Report::Register(registration) => (
                "agent_pod_register",
                client.agent_pod_register(registration).await.map(drop),
            ),
            Report::Status { agent_id, status } => (
                "agent_pod_status",
                client
                    .agent_pod_status(agent_id, status.clone())
                    .await
                    .map(drop),
            ),
            Report::Deregister { agent_id } => (
                "agent_pod_deregister",
                client.agent_pod_deregister(agent_id).await.map(drop),
            ),
        };
        ctx.metrics
            .beads_request(operation, started.elapsed(), result.is_err());
        match result {
            Ok(()) => tracing::debug!(agent = report.agent_id(), operation, "reported to beads"),
            Err(error) => tracing::warn!(
                %error,
                agent = report.agent_id(),
                operation,
                "could not report pod state to beads"
            ),
        }
    }
}

/// Agents by beads state, active polecats and pod restarts.
fn record_metrics(
    ctx: &Context,
    resolved: &Resolved,
    role: AgentRole,
    known: Option<&[AgentBead]>,
    pods: &[ObservedPod],
) {
    let namespace = resolved.rig_ref.namespace.as_str();
    let town = resolved.rig_ref.town.as_str();
    let rig = resolved.rig_ref.name.as_str();
    if let Some(known) = known {
        let mut by_state: BTreeMap<&str, i64> = BTreeMap::new();
        for bead in known {
            let state = bead.state.as_ref().map_or("unknown", |s| s.as_str());
            *by_state.entry(state).or_default() += 1;
        }
        // States no agent is in any more drop out rather than keep a stale count.
        let stale: BTreeSet<String> = Collector::collect(&ctx.metrics.agents)
            .iter()
            .flat_map(|family| family.get_metric())
            .filter_map(|metric| {
                let labels: BTreeMap<&str, &str> = metric
                    .get_label()
                    .iter()
                    .map(|l| (l.name(), l.value()))
                    .collect();
                let ours = labels.get("namespace") == Some(&namespace)
                    && labels.get("town") == Some(&town)
                    && labels.get("rig") == Some(&rig)
                    && labels.get("role") == Some(&role.as_str());
                let state = labels.get("state")?;
                (ours && !by_state.contains_key(state)).then(|| state.to_string())
            })
            .collect();
        for state in &stale {
            let _ = ctx.metrics.agents.remove_label_values(&[
                namespace,
                town,
                rig,
                role.as_str(),
                state,
            ]);
        }
        for (state, n) in by_state {
            ctx.metrics
                .agents
                .with_label_values(&[namespace, town, rig, role.as_str(), state])
                .set(n);
        }
    }
    if role == AgentRole::Polecat {
        let active = pods_of(
            &ctx.cache.pods,
            namespace,
            &[
                (labels::TOWN, town),
                (labels::RIG, rig),
                (labels::ROLE, role.as_str()),
            ],
        )
        .filter(|pod| !pod_finished(pod))
        .count();
        ctx.metrics
            .active_polecats
            .with_label_values(&[namespace, rig])
            .set(i64::try_from(active).unwrap_or(i64::MAX));
    }
    for pod in pods {
        ctx.metrics
            .pod_restarts
            .with_label_values(&[namespace, rig, &pod.agent])
            .set(pod.restarts);
    }
}

/// The pool's own pods, from the cache.
fn pool_pods(ctx: &Context, pool: &AgentPool) -> Vec<Arc<Pod>> {
    let namespace = pool.namespace().unwrap_or_default();
    let name = pool.name_any();
    pods_of(
        &ctx.cache.pods,
        &namespace,
        &[
            (POOL_LABEL, name.as_str()),
            (labels::ROLE, pool.spec.role.as_str()),
        ],
    )
    .collect()
}

async fn apply_pool(pool: &AgentPool, ctx: &Context) -> Result<Action> {
    let role = pool.spec.role;
    let Some(rig_name) = pool.spec.rig.as_deref() else {
        let reason = format!(
            "pools of town roles ({role}) are not supported yet: the GasTown controller runs the mayor and deacon from its spec.mayor and spec.deacon"
        );
        write_unresolved(pool, ctx, reason).await?;
        return Ok(Action::await_change());
    };
    let resolved = match resolve(ctx, pool, rig_name) {
        Ok(resolved) => resolved,
        Err(reason) => {
            write_unresolved(pool, ctx, reason).await?;
            return Ok(Action::requeue(UNRESOLVED_RETRY));
        }
    };
    let namespace = resolved.rig_ref.namespace.clone();
    let town_name = resolved.rig_ref.town.clone();
    let pool_name = pool.name_any();

    let pods: Vec<ObservedPod> = pool_pods(ctx, pool)
        .iter()
        .filter(|pod| pod.labels().get(labels::RIG).map(String::as_str) == Some(rig_name))
        .map(|pod| ObservedPod::from_pod(pod))
        .collect();
    let view = ctx.beads_views.get(&namespace, &town_name);
    let selector = pool.spec.bead_selector();
    let beads_role = beads_client::Role::from(role.as_str());
    let (known, desired, unavailable, distrusted) = match view.as_deref().map(|v| &v.result) {
        None => (
            Vec::new(),
            Vec::new(),
            Some(format!(
                "beads' view of town {town_name} has not been read yet"
            )),
            None,
        ),
        Some(Err(error)) => (
            Vec::new(),
            Vec::new(),
            Some(format!(
                "the bd daemon of town {town_name} could not be read: {error}"
            )),
            None,
        ),
        Some(Ok((snapshot, _))) => {
            let known: Vec<AgentBead> = snapshot
                .agent_beads()
                .filter(|b| {
                    b.rig.as_deref() == Some(rig_name) && b.role.as_ref() == Some(&beads_role)
                })
                .collect();
            let desired = desired_agents(snapshot, Some(rig_name), &beads_role, &selector);
            let distrusted = distrust(snapshot, &town_name, pods.len());
            (known, desired, None, distrusted)
        }
    };
    let beads = match &unavailable {
        Some(reason) => BeadsAnswer::Unavailable(reason.clone()),
        None => BeadsAnswer::Answered {
            known: &known,
            desired: &desired,
            distrust: distrusted,
        },
    };

    let elsewhere: BTreeMap<String, String> = known
        .iter()
        .filter_map(|bead| {
            let pod_name = naming::agent_pod(&town_name, Some(rig_name), role, &bead.name);
            let existing = get(&ctx.cache.pods, &namespace, &pod_name);
            runs_elsewhere(
                &resolved.rig,
                role,
                &bead.name,
                existing.as_deref(),
                &pool_name,
            )
            .map(|who| (bead.name.clone(), who))
        })
        .collect();
    let agents = RigAgents::new(
        ctx,
        resolved.town.clone(),
        resolved.rig.clone(),
        resolved.rig_ref.clone(),
    );
    let draining = rig_draining(&resolved.rig);
    // Polecat pods name the rig's PriorityClass; until the Rig controller has
    // made it, admission would refuse them.
    let priority_class = resolved.rig_ref.priority_class();
    let missing_class = (role == AgentRole::Polecat
        && ctx
            .cache
            .priority_classes
            .get(&ObjectRef::new(&priority_class))
            .is_none())
    .then(|| format!("PriorityClass {priority_class} of the rig does not exist yet"));
    let decided = plan(&PlanInput {
        town: &town_name,
        rig: rig_name,
        role,
        selector: &selector,
        pods: &pods,
        beads,
        elsewhere: &elsewhere,
        limit: pod_limit(pool, &resolved.rig),
        draining,
        blocked: agents.blocked().or(missing_class.as_deref()),
    });

    // Act: deletions first (they free room), then creations, then replacements.
    let api: Api<Pod> = ctx.api(&namespace);
    let mut reports = decided.reports.clone();
    for deletion in &decided.delete {
        let observed = get(&ctx.cache.pods, &namespace, &deletion.pod);
        if apply::delete(&api, observed.as_deref()).await? {
            tracing::info!(pod = %deletion.pod, why = %deletion.why, "deleted agent pod");
            if let Some(agent_id) = &deletion.deregister {
                reports.push(Report::Deregister {
                    agent_id: agent_id.clone(),
                });
            }
        }
    }
    let mut rows = decided.rows.clone();
    let mut quota_refusal_seen: Option<String> = None;
    for bead in &decided.create {
        let refused = match &quota_refusal_seen {
            // Once the quota refused one pod, the next would be refused too.
            Some(message) => Some(Waiting::Quota(message.clone())),
            None => match create_pod(&api, &agents, pool, bead).await? {
                Ok(()) => {
                    tracing::info!(agent = %bead.name, bead = %bead.id, "created agent pod");
                    None
                }
                Err(CreateRefused::Quota(message)) => {
                    quota_refusal_seen = Some(message.clone());
                    Some(Waiting::Quota(message))
                }
                Err(CreateRefused::Build(reason)) => {
                    tracing::warn!(agent = %bead.name, bead = %bead.id, %reason, "cannot create agent pod");
                    Some(Waiting::Blocked(reason))
                }
            },
        };
        if let Some(waiting) = refused
            && let Some(row) = rows.iter_mut().find(|r| r.name == bead.name)
        {
            row.pod_name = None;
            row.phase = Some(AgentPhase::Pending);
            row.disposition = Disposition::Waiting(waiting);
        }
    }
    for bead in &decided.keep_current {
        let pod_name = naming::agent_pod(&town_name, Some(rig_name), role, &bead.name);
        let observed = get(&ctx.cache.pods, &namespace, &pod_name);
        // A pod that can no longer be built (say, its image was removed from
        // the templates) keeps running rather than being replaced by nothing.
        if let Ok(desired) = build_pod(&agents, pool, bead) {
            let outcome = apply::ensure_pod(&api, observed.as_deref(), desired).await?;
            if outcome == apply::PodOutcome::Replaced {
                tracing::info!(pod = %pod_name, "replaced a failed or outdated agent pod");
            }
        }
    }
    send_reports(ctx, &resolved.town, &reports).await;
    record_metrics(
        ctx,
        &resolved,
        role,
        unavailable.is_none().then_some(known.as_slice()),
        &pods,
    );

    // Status.
    let previous = ctx.statuses.current(pool, pool.status.as_ref());
    let observation = PoolObservation {
        previous: previous.as_ref(),
        generation: pool.metadata.generation,
        now: Timestamp::now(),
        unresolved: None,
        draining: draining.then(|| {
            format!(
                "Rig {} is draining: no new polecats start",
                resolved.rig.name_any()
            )
        }),
        beads: decided.beads.clone(),
        agents: rows,
    };
    let (status, transitions) = pool_status(&observation);
    let pool_api: Api<AgentPool> = ctx.api(&namespace);
    apply::patch_status(&pool_api, &ctx.statuses, pool, previous.as_ref(), &status).await?;
    publish_transitions(ctx, pool, transitions).await;

    let pod_ended = !decided.delete.is_empty() || reports.iter().any(Report::tells_termination);
    let waiting_for_room = observation.agents.iter().any(|row| {
        matches!(
            row.disposition,
            Disposition::Waiting(Waiting::MaxCount(_) | Waiting::Quota(_))
        )
    });
    let interval = resolved.town.spec.sync_interval();
    Ok(Action::requeue(if pod_ended {
        POD_ENDED_RECHECK
    } else if waiting_for_room {
        LIMIT_RETRY.min(interval)
    } else {
        interval
    }))
}

/// Writes the status of a pool that cannot be reconciled, saying why.
async fn write_unresolved(pool: &AgentPool, ctx: &Context, reason: String) -> Result<()> {
    tracing::warn!(%reason, "cannot reconcile the pool");
    let previous = ctx.statuses.current(pool, pool.status.as_ref());
    let observation = PoolObservation {
        previous: previous.as_ref(),
        generation: pool.metadata.generation,
        now: Timestamp::now(),
        unresolved: Some(reason),
        draining: None,
        beads: BeadsHealth::Answered,
        agents: Vec::new(),
    };
    let (status, transitions) = pool_status(&observation);
    let api: Api<AgentPool> = ctx.api(&pool.namespace().unwrap_or_default());
    apply::patch_status(&api, &ctx.statuses, pool, previous.as_ref(), &status).await?;
    publish_transitions(ctx, pool, transitions).await;
    Ok(())
}

/// The pool's teardown (see the module docs), one step per reconcile.
async fn cleanup_pool(pool: &AgentPool, ctx: &Context) -> Result<Teardown> {
    let namespace = pool.namespace().unwrap_or_default();
    let now = Timestamp::now();
    let deletion_started = pool
        .metadata
        .deletion_timestamp
        .as_ref()
        .map_or(now, |t| t.0);
    // Without its rig or town there is nobody to wait for: no grace period.
    let grace = pool
        .spec
        .rig
        .as_deref()
        .and_then(|rig| resolve(ctx, pool, rig).ok())
        .map(|resolved| resolved.town.spec.termination_grace_period())
        .unwrap_or_default();
    let deadline = deletion_started
        .checked_add(SignedDuration::try_from(grace).unwrap_or_default())
        .unwrap_or(deletion_started);

    let pods = pool_pods(ctx, pool);
    let is_polecat = |pod: &Pod| {
        pod.labels().get(labels::ROLE).map(String::as_str) == Some(AgentRole::Polecat.as_str())
    };
    let tracked = |pod: &Arc<Pod>| {
        Tracked::new(
            "Pod",
            pod.name_any(),
            pod.metadata.deletion_timestamp.is_some(),
        )
    };
    let stages = vec![
        Stage::Drain {
            active: pods
                .iter()
                .filter(|p| is_polecat(p) && !pod_finished(p))
                .map(tracked)
                .collect(),
            deadline,
        },
        Stage::Remove {
            what: "agent pods",
            remaining: pods
                .iter()
                .filter(|p| !is_polecat(p))
                .map(tracked)
                .collect(),
        },
    ];
    let action = teardown::next_action(&stages, now);
    tracing::info!(?action, "pool teardown");
    let (progress, next) = match action {
        teardown::Action::StopNewWork(_) | teardown::Action::Done => {
            return Ok(Teardown::Done);
        }
        teardown::Action::Wait {
            progress,
            recheck_after,
        } => (progress, recheck_after),
        teardown::Action::Delete(objects) => {
            let api: Api<Pod> = ctx.api(&namespace);
            for object in &objects {
                let observed = get(&ctx.cache.pods, &namespace, &object.name);
                apply::delete(&api, observed.as_deref()).await?;
            }
            let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
            (
                format!("deleting pods {}", names.join(", ")),
                teardown::REMOVAL_RECHECK,
            )
        }
    };
    let previous = ctx.statuses.current(pool, pool.status.as_ref());
    let status = draining_status(previous.as_ref(), pool.metadata.generation, now, &progress);
    let api: Api<AgentPool> = ctx.api(&namespace);
    apply::patch_status(&api, &ctx.statuses, pool, previous.as_ref(), &status).await?;
    Ok(Teardown::Continue(Action::requeue(next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use beads_client::Issue;

    const TOWN: &str = "prod";
    const RIG: &str = "gastown";

    /// Controllers run reconciles on a multi-threaded runtime.
    #[allow(dead_code)]
    fn reconcile_is_send(pool: Arc<AgentPool>, ctx: Arc<Context>) -> impl Send {
        reconcile(pool, ctx)
    }

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
            plan.reports,
            [Report::Status {
                agent_id: "gt-gastown-polecat-nux".into(),
                status: PodStatus::Terminated
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
            vanished.plan().reports,
            [Report::Status {
                agent_id: "gt-gastown-polecat-nux".into(),
                status: PodStatus::Terminated
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
            plan.reports,
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
                    status: PodStatus::Running
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
            plan.reports,
            [
                Report::Status {
                    agent_id: "gt-gastown-polecat-ace".into(),
                    status: PodStatus::Terminating
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

    #[test]
    fn the_polecat_limit_is_the_smaller_of_pool_and_rig() {
        let rig: Rig = serde_json::from_value(serde_json::json!({
            "apiVersion": "gastown.io/v1alpha1", "kind": "Rig",
            "metadata": {"name": "prod-gastown"},
            "spec": {"name": "gastown", "polecats": {"maxCount": 4}}
        }))
        .unwrap();
        let pool = |role: &str, max: Option<i32>| -> AgentPool {
            let mut spec = serde_json::json!({"rig": "gastown", "role": role});
            if let Some(max) = max {
                spec["maxCount"] = max.into();
            }
            serde_json::from_value(serde_json::json!({
                "apiVersion": "gastown.io/v1alpha1", "kind": "AgentPool",
                "metadata": {"name": "p"}, "spec": spec
            }))
            .unwrap()
        };
        assert_eq!(pod_limit(&pool("polecat", None), &rig), Some(4));
        assert_eq!(pod_limit(&pool("polecat", Some(2)), &rig), Some(2));
        assert_eq!(pod_limit(&pool("polecat", Some(9)), &rig), Some(4));
        assert_eq!(pod_limit(&pool("crew", None), &rig), None);
        assert_eq!(pod_limit(&pool("crew", Some(3)), &rig), Some(3));
    }

    #[test]
    fn agents_the_rig_declares_or_other_pools_own_run_elsewhere() {
        let rig: Rig = serde_json::from_value(serde_json::json!({
            "apiVersion": "gastown.io/v1alpha1", "kind": "Rig",
            "metadata": {"name": "prod-gastown"},
            "spec": {"name": "gastown", "crew": [{"name": "max"}], "refinery": {"enabled": false}}
        }))
        .unwrap();
        assert!(runs_elsewhere(&rig, AgentRole::Crew, "max", None, "p").is_some());
        assert!(runs_elsewhere(&rig, AgentRole::Crew, "zed", None, "p").is_none());
        assert!(runs_elsewhere(&rig, AgentRole::Witness, "witness", None, "p").is_some());
        assert!(runs_elsewhere(&rig, AgentRole::Refinery, "refinery", None, "p").is_none());
        let pod_of = |pool: Option<&str>| -> Pod {
            let mut labels = serde_json::json!({});
            if let Some(pool) = pool {
                labels[POOL_LABEL] = pool.into();
            }
            serde_json::from_value(serde_json::json!({"metadata": {"name": "gt-gastown-polecat-nux", "labels": labels}}))
                .unwrap()
        };
        assert_eq!(
            runs_elsewhere(
                &rig,
                AgentRole::Polecat,
                "nux",
                Some(&pod_of(Some("p"))),
                "p"
            ),
            None
        );
        assert_eq!(
            runs_elsewhere(
                &rig,
                AgentRole::Polecat,
                "nux",
                Some(&pod_of(Some("q"))),
                "p"
            )
            .as_deref(),
            Some("its pod gt-gastown-polecat-nux belongs to AgentPool q")
        );
        assert!(
            runs_elsewhere(&rig, AgentRole::Polecat, "nux", Some(&pod_of(None)), "p").is_some()
        );
    }

    #[test]
    fn an_exceeded_quota_or_an_invalid_pod_concerns_one_agent_and_nothing_else_does() {
        let api_error = |code: u16, message: &str| Error::Kube {
            action: "apply Pod ns/x".into(),
            source: kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: message.into(),
                ..Default::default()
            })),
        };
        assert_eq!(
            creation_refusal(&api_error(
                403,
                "pods \"x\" is forbidden: exceeded quota: polecats"
            )),
            Some(CreateRefused::Quota(
                "pods \"x\" is forbidden: exceeded quota: polecats".into()
            ))
        );
        assert_eq!(
            creation_refusal(&api_error(422, "Pod \"gt-r-polecat-Nux\" is invalid")),
            Some(CreateRefused::Build(
                "the API server refused the pod: Pod \"gt-r-polecat-Nux\" is invalid".into()
            ))
        );
        assert_eq!(creation_refusal(&api_error(403, "forbidden by RBAC")), None);
        assert_eq!(creation_refusal(&api_error(500, "exceeded quota")), None);
        assert_eq!(creation_refusal(&api_error(409, "conflict")), None);
    }
}

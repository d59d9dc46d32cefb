//! Beads → Gas Town status. [`fetch_snapshot`] asks the daemon a fixed set of
//! questions per town (never one per rig or agent); [`project`] is pure and turns
//! the answers into the summaries the operator writes into its status:
//! [`TownSummary`] → `GasTown.status`, [`RigSummary`] → `GasTown.status.rigs[]` and
//! `Rig.status`, [`AgentSummary`] → `AgentPool.status.agents[]`.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::backend::{Protocol, ServerInfo};
use crate::client::BeadsClient;
use crate::error::BeadsError;
use crate::model::{
    AgentBead, AgentState, HealthReport, HealthStatus, Issue, IssueStatus, ListQuery, Role,
};

/// The answers of one sync's queries about a town.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TownSnapshot {
    pub health: HealthReport,
    /// Non-closed agent beads (`issue_type: agent` or label `gt:agent`).
    pub agents: Vec<Issue>,
    /// Non-closed merge-request beads (label `gt:merge-request`); `None` when the
    /// server cannot tell. With `bd serve`, Gas Town keeps merge requests as wisps in
    /// each rig's own database, which a town's serve does not hold
    /// (bd-serve-v0.md §4, §1 "one serve per database").
    pub merge_requests: Option<Vec<Issue>>,
    /// Merge requests read from a rig's own server (`bd serve` of the rig's
    /// database), by beads rig name: these rigs' queues are known even when
    /// `merge_requests` is `None`.
    #[serde(default)]
    pub rig_merge_requests: BTreeMap<String, Vec<Issue>>,
    /// Who answered: protocol, version, capabilities.
    pub server: ServerInfo,
}

impl TownSnapshot {
    /// The agent beads, fields resolved.
    pub fn agent_beads(&self) -> impl Iterator<Item = AgentBead> + '_ {
        self.agents.iter().filter_map(AgentBead::from_issue)
    }
}

/// Asks the daemon, concurrently: `health`, `list` of non-closed agent beads by
/// type and by label (an agent bead may carry either mark; `list` cannot OR a type
/// with a label), and `list` of non-closed merge requests. Four requests per
/// town, whatever its size.
pub async fn fetch_snapshot(client: &BeadsClient) -> Result<TownSnapshot, BeadsError> {
    let by_type = ListQuery {
        issue_type: Some("agent".into()),
        ..ListQuery::not_closed()
    };
    let by_label = ListQuery {
        labels_any: vec!["gt:agent".into()],
        ..ListQuery::not_closed()
    };
    let merge_requests = ListQuery {
        labels_any: vec!["gt:merge-request".into()],
        ..ListQuery::not_closed()
    };
    let (health, typed_agents, labelled_agents, merge_requests) = futures::try_join!(
        health_or_failure(client),
        client.list(&by_type),
        client.list(&by_label),
        client.list(&merge_requests),
    )?;
    let mut seen = HashSet::new();
    let agents = typed_agents
        .into_iter()
        .chain(labelled_agents)
        .filter(|issue| seen.insert(issue.id.clone()))
        .collect();
    let server = ServerInfo {
        protocol: Protocol::Daemon,
        version: health.version.clone(),
        capabilities: Vec::new(),
    };
    Ok(TownSnapshot {
        health,
        agents,
        merge_requests: Some(merge_requests),
        rig_merge_requests: BTreeMap::new(),
        server,
    })
}

/// The health report; a daemon that answers `health` with its own error is
/// reported as unhealthy with that error rather than failing the whole snapshot.
async fn health_or_failure(client: &BeadsClient) -> Result<HealthReport, BeadsError> {
    match client.health().await {
        Err(BeadsError::Daemon { message, .. }) => Ok(HealthReport {
            status: HealthStatus::Unhealthy,
            error: Some(message),
            ..HealthReport::default()
        }),
        other => other,
    }
}

/// What the operator reports about a town.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TownSummary {
    pub daemon: DaemonSummary,
    pub mayor: Option<AgentSummary>,
    pub deacon: Option<AgentSummary>,
    /// Agents without a rig: mayor, deacon, and any agent whose rig is unknown.
    pub town_agents: Vec<AgentSummary>,
    /// Every rig named by an agent or a merge request, sorted by name.
    pub rigs: Vec<RigSummary>,
}

impl TownSummary {
    pub fn rig(&self, name: &str) -> Option<&RigSummary> {
        self.rigs
            .binary_search_by(|rig| rig.name.as_str().cmp(name))
            .ok()
            .map(|index| &self.rigs[index])
    }
}

/// The daemon's health as reported by `health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonSummary {
    pub status: HealthStatus,
    /// `healthy` or `degraded` (a slow statistics query, still serving).
    pub serving: bool,
    pub version: String,
    pub uptime_seconds: f64,
    pub error: Option<String>,
}

/// One rig.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RigSummary {
    pub name: String,
    /// Polecats whose state is in the live family.
    pub polecat_count: u32,
    /// Their names, sorted.
    pub polecats: Vec<String>,
    /// Crew members whose state is in the live family.
    pub crew_count: u32,
    /// A witness is in the live family and active within the staleness threshold.
    pub witness_alive: bool,
    /// A refinery is in the live family and active within the staleness threshold.
    pub refinery_alive: bool,
    /// Non-closed merge requests: queued plus in processing; `None` when the
    /// snapshot does not know the merge requests (never 0 for unknown).
    pub merge_queue_depth: Option<u32>,
    /// Merge requests `in_progress` (being processed by the refinery); `None` when
    /// unknown.
    pub merge_queue_in_processing: Option<u32>,
    /// Work on the hooks of the rig's agents.
    pub hooked_work: Vec<HookedWork>,
    /// Every non-closed agent bead of the rig, sorted by id.
    pub agents: Vec<AgentSummary>,
}

/// A bead hooked to an agent (`hook_bead`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookedWork {
    pub agent: String,
    pub bead: String,
}

/// One agent as the operator reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub id: String,
    pub name: String,
    pub role: Option<Role>,
    pub rig: Option<String>,
    pub state: Option<AgentState>,
    /// State in the live family (see [`AgentState::is_live`]).
    pub live: bool,
    /// Live and active within the staleness threshold.
    pub alive: bool,
    /// `last_activity`, else the bead's `updated_at`.
    pub last_activity: Option<Timestamp>,
    pub hook_bead: Option<String>,
    pub pod_name: Option<String>,
    pub pod_status: Option<String>,
}

impl AgentSummary {
    fn from_bead(bead: &AgentBead, active_since: Timestamp) -> Self {
        let live = bead.is_live();
        let last_activity = bead.last_seen();
        Self {
            id: bead.id.clone(),
            name: bead.name.clone(),
            role: bead.role.clone(),
            rig: bead.rig.clone(),
            state: bead.state.clone(),
            live,
            alive: live && last_activity.is_some_and(|seen| seen > active_since),
            last_activity,
            hook_bead: bead.hook_bead.clone(),
            pod_name: bead.pod.name.clone(),
            pod_status: bead.pod.status.clone(),
        }
    }

    fn has_role(&self, role: &Role) -> bool {
        self.role.as_ref() == Some(role)
    }
}

/// Projects a snapshot at time `now`. An agent counts as alive when its state is in
/// the live family and it was active less than `staleness` ago. Closed beads are
/// ignored even if the snapshot holds them.
pub fn project(snapshot: &TownSnapshot, now: Timestamp, staleness: Duration) -> TownSummary {
    let active_since = now.checked_sub(staleness).unwrap_or(Timestamp::MIN);
    let mut rigs: BTreeMap<String, RigSummary> = BTreeMap::new();
    let mut town_agents = Vec::new();

    for bead in snapshot
        .agent_beads()
        .filter(|bead| !bead.status.is_closed())
    {
        let agent = AgentSummary::from_bead(&bead, active_since);
        match &agent.rig {
            Some(rig) => rig_entry(&mut rigs, rig).agents.push(agent),
            None => town_agents.push(agent),
        }
    }
    if let Some(merge_requests) = &snapshot.merge_requests {
        for request in merge_requests.iter().filter(|issue| !issue.is_closed()) {
            let Some(rig) = request.rig() else { continue };
            let summary = rig_entry(&mut rigs, rig);
            *summary.merge_queue_depth.get_or_insert(0) += 1;
            if request.status == IssueStatus::InProgress {
                *summary.merge_queue_in_processing.get_or_insert(0) += 1;
            }
        }
    }
    // A rig's own server answers for all of its merge requests.
    for (rig, requests) in &snapshot.rig_merge_requests {
        let summary = rig_entry(&mut rigs, rig);
        let open = requests.iter().filter(|issue| !issue.is_closed());
        let (mut depth, mut processing) = (0, 0);
        for request in open {
            depth += 1;
            if request.status == IssueStatus::InProgress {
                processing += 1;
            }
        }
        summary.merge_queue_depth = Some(depth);
        summary.merge_queue_in_processing = Some(processing);
    }
    let merge_requests_known = snapshot.merge_requests.is_some();
    for summary in rigs.values_mut() {
        if merge_requests_known {
            summary.merge_queue_depth.get_or_insert(0);
            summary.merge_queue_in_processing.get_or_insert(0);
        }
        summarise_agents(summary);
    }
    town_agents.sort_by(|a, b| a.id.cmp(&b.id));

    TownSummary {
        daemon: DaemonSummary {
            serving: matches!(
                snapshot.health.status,
                HealthStatus::Healthy | HealthStatus::Degraded
            ),
            status: snapshot.health.status.clone(),
            version: snapshot.health.version.clone(),
            uptime_seconds: snapshot.health.uptime_seconds,
            error: snapshot.health.error.clone(),
        },
        mayor: pick_town_agent(&town_agents, &Role::Mayor),
        deacon: pick_town_agent(&town_agents, &Role::Deacon),
        town_agents,
        rigs: rigs.into_values().collect(),
    }
}

/// The non-closed agent beads of `rig` (`None`: town level) with `role` and every
/// label in `selector_labels`, whose state is in the live family: the agents beads
/// wants running. Sorted by id.
pub fn desired_agents(
    snapshot: &TownSnapshot,
    rig: Option<&str>,
    role: &Role,
    selector_labels: &[String],
) -> Vec<AgentBead> {
    let mut agents: Vec<AgentBead> = snapshot
        .agent_beads()
        .filter(|bead| {
            bead.is_live()
                && bead.rig.as_deref() == rig
                && bead.role.as_ref() == Some(role)
                && bead.has_labels(selector_labels)
        })
        .collect();
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    agents
}

fn rig_entry<'a>(rigs: &'a mut BTreeMap<String, RigSummary>, name: &str) -> &'a mut RigSummary {
    rigs.entry(name.to_owned()).or_insert_with(|| RigSummary {
        name: name.to_owned(),
        ..RigSummary::default()
    })
}

fn summarise_agents(rig: &mut RigSummary) {
    rig.agents.sort_by(|a, b| a.id.cmp(&b.id));
    let live_with = |role: Role| {
        rig.agents
            .iter()
            .filter(move |a| a.live && a.has_role(&role))
    };
    let mut polecats: Vec<String> = live_with(Role::Polecat).map(|a| a.name.clone()).collect();
    polecats.sort();
    rig.polecat_count = count(polecats.len());
    rig.polecats = polecats;
    rig.crew_count = count(live_with(Role::Crew).count());
    rig.witness_alive = live_with(Role::Witness).any(|a| a.alive);
    rig.refinery_alive = live_with(Role::Refinery).any(|a| a.alive);
    rig.hooked_work = rig
        .agents
        .iter()
        .filter_map(|agent| {
            agent.hook_bead.as_ref().map(|bead| HookedWork {
                agent: agent.name.clone(),
                bead: bead.clone(),
            })
        })
        .collect();
}

/// The town's mayor (or deacon): an alive one first, then the most recently active.
fn pick_town_agent(agents: &[AgentSummary], role: &Role) -> Option<AgentSummary> {
    agents
        .iter()
        .filter(|agent| agent.has_role(role))
        .max_by_key(|agent| (agent.alive, agent.live, agent.last_activity))
        .cloned()
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

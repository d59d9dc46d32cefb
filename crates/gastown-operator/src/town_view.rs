//! What `kubectl gastown` and the playground show, assembled purely from the objects read: a town,
//! its rigs and their agents. Agents come from their pods and from what the
//! operator projects of beads into the GasTown, Rig and AgentPool statuses
//! (the plugin never talks to beads itself).

use std::collections::BTreeMap;

use gastown_api::{AgentPool, AgentRole, GasTown, Rig, labels};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use serde::Serialize;

use crate::relations::{drain_requested, rig_belongs_to, rig_draining};

/// A town as `status` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TownView {
    pub name: String,
    pub namespace: String,
    pub phase: Option<String>,
    /// When and by whom it was drained (its `gastown.io/drain` annotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drained: Option<String>,
    pub deleting: bool,
    pub conditions: Vec<ConditionView>,
    /// The Mayor and the Deacon.
    pub agents: Vec<AgentView>,
    pub rigs: Vec<RigView>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RigView {
    /// The rig's name in beads (`spec.name`).
    pub name: String,
    /// The Rig object's name; `None` for a rig only its pods or pools name.
    pub object: Option<String>,
    pub phase: Option<String>,
    /// No new polecats start on it.
    pub draining: bool,
    pub agents: Vec<AgentView>,
}

/// One agent, named as Gas Town addresses it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    /// `mayor`, `deacon`, `<rig>/witness`, `<rig>/refinery`, `<rig>/crew/<name>`, `<rig>/polecats/<name>`.
    pub name: String,
    pub town: String,
    pub rig: Option<String>,
    pub role: String,
    pub pod: Option<String>,
    /// The pod's phase (`Terminating` once it is being deleted); `None` without a pod.
    pub phase: Option<String>,
    pub ready: Option<bool>,
    /// The agent's state in beads (`agent_state`), as the operator projects it.
    pub state: Option<String>,
    /// The bead on its hook (its work), as the operator projects it.
    pub hook: Option<String>,
}

/// Gas Town's address of an agent.
pub fn address(rig: Option<&str>, role: &str, agent: &str) -> String {
    match (rig, role) {
        (None, _) => role.to_string(),
        (Some(rig), "witness" | "refinery") => format!("{rig}/{role}"),
        (Some(rig), "polecat") => format!("{rig}/polecats/{agent}"),
        (Some(rig), "crew") => format!("{rig}/crew/{agent}"),
        (Some(rig), role) => format!("{rig}/{role}/{agent}"),
    }
}

/// Display order within a rig: its monitors, then its workers.
fn role_rank(role: &str) -> usize {
    ["mayor", "deacon", "witness", "refinery", "crew", "polecat"]
        .iter()
        .position(|r| *r == role)
        .unwrap_or(usize::MAX)
}

fn pod_phase(pod: &Pod) -> Option<String> {
    if pod.metadata.deletion_timestamp.is_some() {
        return Some("Terminating".to_string());
    }
    pod.status.as_ref()?.phase.clone()
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Agents by (rig, role, name), filled from every source in turn.
#[derive(Default)]
struct Agents {
    by_key: BTreeMap<(Option<String>, String, String), AgentView>,
}

impl Agents {
    fn entry(&mut self, town: &str, rig: Option<&str>, role: &str, agent: &str) -> &mut AgentView {
        let key = (rig.map(str::to_string), role.to_string(), agent.to_string());
        self.by_key.entry(key).or_insert_with(|| AgentView {
            name: address(rig, role, agent),
            town: town.to_string(),
            rig: rig.map(str::to_string),
            role: role.to_string(),
            ..AgentView::default()
        })
    }

    fn add_pod(&mut self, town: &str, pod: &Pod) {
        let pod_labels = pod.labels();
        let (Some(role), Some(agent)) =
            (pod_labels.get(labels::ROLE), pod_labels.get(labels::AGENT))
        else {
            return;
        };
        let rig = pod_labels.get(labels::RIG).map(String::as_str);
        let view = self.entry(town, rig, role, agent);
        view.pod = Some(pod.name_any());
        view.phase = pod_phase(pod);
        view.ready = Some(pod_ready(pod));
    }
}

/// The rigs of `town` among `rigs`.
pub fn rigs_of<'a>(town: &GasTown, rigs: &'a [Rig]) -> Vec<&'a Rig> {
    let namespace = town.namespace().unwrap_or_default();
    let uid = town.uid();
    rigs.iter()
        .filter(|rig| rig_belongs_to(rig, &namespace, &town.name_any(), uid.as_deref()))
        .collect()
}

/// The pools of `town`: labelled with it, or naming one of its rigs.
fn pools_of<'a>(town: &GasTown, town_rigs: &[&Rig], pools: &'a [AgentPool]) -> Vec<&'a AgentPool> {
    let name = town.name_any();
    pools
        .iter()
        .filter(|pool| match pool.town() {
            Some(labelled) => labelled == name,
            None => town_rigs
                .iter()
                .any(|rig| pool.spec.rig.as_deref() == Some(rig.spec.name.as_str())),
        })
        .collect()
}

/// `town` with its rigs and agents, from everything read of its namespace.
pub fn assemble(town: &GasTown, rigs: &[Rig], pools: &[AgentPool], pods: &[Pod]) -> TownView {
    let name = town.name_any();
    let status = town.status.as_ref();
    let drained = drain_requested(town).map(str::to_string);
    let town_rigs = rigs_of(town, rigs);
    let mut agents = Agents::default();

    for pod in pods {
        if pod.labels().get(labels::TOWN) == Some(&name) {
            agents.add_pod(&name, pod);
        }
    }
    // The Mayor and the Deacon, as the town's status projects them.
    for (role, projected) in [
        (AgentRole::Mayor, status.and_then(|s| s.mayor.as_ref())),
        (AgentRole::Deacon, status.and_then(|s| s.deacon.as_ref())),
    ] {
        if let Some(projected) = projected {
            let view = agents.entry(&name, None, role.as_str(), role.as_str());
            view.state = projected.state.clone();
            view.hook = projected.hook_bead.clone();
            view.pod = view.pod.take().or(projected.pod_name.clone());
            view.ready = view.ready.or(projected.ready);
        }
    }
    // Each rig's witness and refinery, as its status projects them.
    for rig in &town_rigs {
        let status = rig.status.as_ref();
        for (role, projected) in [
            (AgentRole::Witness, status.and_then(|s| s.witness.as_ref())),
            (
                AgentRole::Refinery,
                status.and_then(|s| s.refinery.as_ref()),
            ),
        ] {
            if let Some(projected) = projected {
                let view = agents.entry(&name, Some(&rig.spec.name), role.as_str(), role.as_str());
                view.state = projected.state.clone();
                view.hook = projected.hook_bead.clone();
                view.pod = view.pod.take().or(projected.pod_name.clone());
                view.ready = view.ready.or(projected.ready);
            }
        }
    }
    // Each rig's crew, as beads records them (their pods are listed above).
    for rig in &town_rigs {
        let crew = rig.status.as_ref().and_then(|s| s.crew.as_ref());
        for member in crew.into_iter().flatten() {
            let view = agents.entry(&name, Some(&rig.spec.name), "crew", &member.name);
            view.state = member.state.clone();
            view.hook = member.hook_bead.clone();
        }
    }
    // Pool agents: beads' state and hook, and agents still waiting for a pod.
    for pool in pools_of(town, &town_rigs, pools) {
        let rig = pool.spec.rig.as_deref();
        let role = pool.spec.role.as_str();
        for projected in pool.status.iter().flat_map(|s| s.agents.iter().flatten()) {
            let view = agents.entry(&name, rig, role, &projected.name);
            view.state = projected.state.clone();
            view.hook = projected.hook_bead.clone();
            // A pod the pool reports that was not listed (it came or went
            // since): the pool's word for its phase. An agent waiting for a
            // pod has none to show.
            if view.pod.is_none() && projected.pod_name.is_some() {
                view.pod = projected.pod_name.clone();
                view.phase = projected.phase.map(|p| format!("{p:?}"));
            }
        }
    }

    let mut town_agents = Vec::new();
    let mut by_rig: BTreeMap<String, Vec<AgentView>> = BTreeMap::new();
    for agent in agents.by_key.into_values() {
        match agent.rig.clone() {
            Some(rig) => by_rig.entry(rig).or_default().push(agent),
            None => town_agents.push(agent),
        }
    }
    let mut rig_views: Vec<RigView> = town_rigs
        .iter()
        .map(|rig| RigView {
            name: rig.spec.name.clone(),
            object: Some(rig.name_any()),
            phase: rig
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .map(|p| p.to_string()),
            draining: rig_draining(rig) || drained.is_some(),
            agents: Vec::new(),
        })
        .collect();
    for (rig, rig_agents) in by_rig {
        match rig_views.iter_mut().find(|view| view.name == rig) {
            Some(view) => view.agents = rig_agents,
            None => rig_views.push(RigView {
                name: rig,
                agents: rig_agents,
                ..RigView::default()
            }),
        }
    }
    rig_views.sort_by(|a, b| a.name.cmp(&b.name));
    for view in &mut rig_views {
        view.agents
            .sort_by(|a, b| (role_rank(&a.role), &a.name).cmp(&(role_rank(&b.role), &b.name)));
    }
    town_agents.sort_by_key(|a| role_rank(&a.role));

    TownView {
        name,
        namespace: town.namespace().unwrap_or_default(),
        phase: status.and_then(|s| s.phase).map(|p| p.to_string()),
        drained,
        deleting: town.metadata.deletion_timestamp.is_some(),
        conditions: status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .map(|c| ConditionView {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect(),
        agents: town_agents,
        rigs: rig_views,
    }
}

impl TownView {
    /// Every agent of the town: its own, then each rig's.
    pub fn all_agents(&self) -> impl Iterator<Item = &AgentView> {
        self.agents
            .iter()
            .chain(self.rigs.iter().flat_map(|rig| rig.agents.iter()))
    }
}

/// Why an agent name matched no pod.
#[derive(Debug, PartialEq, Eq)]
pub enum Unresolved {
    NotFound {
        name: String,
        known: Vec<String>,
    },
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    NoPod {
        name: String,
    },
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolved::NotFound { name, known } if known.is_empty() => {
                write!(f, "no agent {name:?}: the namespace has no agents")
            }
            Unresolved::NotFound { name, known } => {
                write!(f, "no agent {name:?}; agents: {}", known.join(", "))
            }
            Unresolved::Ambiguous { name, candidates } => write!(
                f,
                "{name:?} names several agents: {} (use the full name, --town, or the pod's name)",
                candidates.join(", ")
            ),
            Unresolved::NoPod { name } => write!(f, "agent {name} has no pod now"),
        }
    }
}

/// The agent `query` names among `agents`: by its full name (`gastown/polecats/nux`),
/// `<town>/<name>`, its pod's name, or its short name (`nux`) when only one agent has it.
pub fn resolve<'a>(agents: &[&'a AgentView], query: &str) -> Result<&'a AgentView, Unresolved> {
    let short = |agent: &AgentView| agent.name.rsplit('/').next().map(str::to_string);
    let exact: Vec<&AgentView> = agents
        .iter()
        .copied()
        .filter(|a| {
            a.name == query
                || format!("{}/{}", a.town, a.name) == query
                || a.pod.as_deref() == Some(query)
        })
        .collect();
    let found = if exact.is_empty() {
        agents
            .iter()
            .copied()
            .filter(|a| short(a).as_deref() == Some(query))
            .collect()
    } else {
        exact
    };
    let agent = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(Unresolved::NotFound {
                name: query.to_string(),
                known: agents.iter().map(|a| qualified(a, agents)).collect(),
            });
        }
        many => {
            return Err(Unresolved::Ambiguous {
                name: query.to_string(),
                candidates: many
                    .iter()
                    .map(|a| format!("{}/{}", a.town, a.name))
                    .collect(),
            });
        }
    };
    match (&agent.pod, agent.phase.as_deref()) {
        (Some(_), Some(_)) => Ok(agent),
        _ => Err(Unresolved::NoPod {
            name: agent.name.clone(),
        }),
    }
}

/// An agent's name, with its town when several towns are listed.
fn qualified(agent: &AgentView, all: &[&AgentView]) -> String {
    if all.iter().any(|a| a.town != agent.town) {
        format!("{}/{}", agent.town, agent.name)
    } else {
        agent.name.clone()
    }
}

pub mod render;
#[cfg(test)]
pub(crate) mod tests;

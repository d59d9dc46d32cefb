//! Agent beads: Gas Town agents as beads records them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::issue::{Issue, IssueStatus, marks};
use super::open_enum;

open_enum! {
    /// An agent's `agent_state`.
    pub enum AgentState {
        Spawning => "spawning",
        Working => "working",
        Running => "running",
        Idle => "idle",
        Stuck => "stuck",
        AwaitingGate => "awaiting-gate",
        Escalated => "escalated",
        Done => "done",
        Nuked => "nuked",
        Stopping => "stopping",
        Stopped => "stopped",
        Failed => "failed",
        Dead => "dead",
    }
}

impl AgentState {
    /// The live family: states of an agent that exists and is meant to keep running.
    ///
    /// - `spawning`, `working`, `running`, `idle`: up, or coming up.
    /// - `stuck`, `awaiting-gate`, `escalated`: paused on purpose (waiting for help,
    ///   a gate, or a human), not dead — the pod must stay.
    ///
    /// Not live: `done`, `nuked`, `stopping`, `stopped`, `failed`, `dead`, and any
    /// state this client does not know (an unknown state is never assumed alive).
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            Self::Spawning
                | Self::Working
                | Self::Running
                | Self::Idle
                | Self::Stuck
                | Self::AwaitingGate
                | Self::Escalated
        )
    }
}

open_enum! {
    /// An agent's `role_type`.
    pub enum Role {
        Polecat => "polecat",
        Crew => "crew",
        Witness => "witness",
        Refinery => "refinery",
        Mayor => "mayor",
        Deacon => "deacon",
    }
}

impl Role {
    /// Mayor and deacon serve the whole town, not one rig.
    pub fn is_town_level(&self) -> bool {
        matches!(self, Self::Mayor | Self::Deacon)
    }

    const KNOWN: [Role; 6] = [
        Role::Polecat,
        Role::Crew,
        Role::Witness,
        Role::Refinery,
        Role::Mayor,
        Role::Deacon,
    ];
}

/// The pod fields the daemon keeps on an agent bead (`agent_pod_register`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodFields {
    pub name: Option<String>,
    pub ip: Option<String>,
    pub node: Option<String>,
    pub status: Option<String>,
    pub screen_session: Option<String>,
}

/// An agent bead with its fields resolved from wherever this daemon keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentBead {
    /// Bead id: `gt-<role>` (town level) or `gt-<rig>-<role>-<name>`.
    pub id: String,
    /// Agent name (`agent:<name>` label, else taken from the id).
    pub name: String,
    /// `None` when no field, description line, label or id names a role.
    pub role: Option<Role>,
    /// `None` for town-level agents.
    pub rig: Option<String>,
    /// `None` when the bead carries no state yet.
    pub state: Option<AgentState>,
    pub hook_bead: Option<String>,
    pub role_bead: Option<String>,
    pub last_activity: Option<Timestamp>,
    /// The bead's own `updated_at`.
    pub updated_at: Option<Timestamp>,
    pub pod: PodFields,
    pub labels: Vec<String>,
    pub status: IssueStatus,
}

impl AgentBead {
    /// Reads an agent bead; `None` if the issue is not one.
    ///
    /// Each field comes from the issue's own field, else a `key: value` line of its
    /// description, else (rig, role, name) its labels, else its id.
    pub fn from_issue(issue: &Issue) -> Option<Self> {
        if !issue.is_agent() {
            return None;
        }
        let role = issue
            .field("role_type")
            .or_else(|| issue.label_value(marks::ROLE_PREFIX))
            .map(Role::from)
            .or_else(|| role_from_id(&issue.id));
        let id_parts = role
            .as_ref()
            .and_then(|role| split_agent_id(&issue.id, role));
        let rig = match &role {
            Some(role) if role.is_town_level() => None,
            _ => issue
                .rig()
                .map(str::to_owned)
                .or_else(|| id_parts.as_ref().and_then(|(rig, _)| rig.clone())),
        };
        let name = issue
            .label_value(marks::AGENT_PREFIX)
            .map(str::to_owned)
            .or_else(|| id_parts.map(|(_, name)| name))
            .unwrap_or_else(|| issue.id.clone());
        let owned = |key: &str| issue.field(key).map(str::to_owned);
        Some(Self {
            id: issue.id.clone(),
            name,
            role,
            rig,
            state: issue.field("agent_state").map(AgentState::from),
            hook_bead: owned("hook_bead"),
            role_bead: owned("role_bead"),
            last_activity: issue.last_activity(),
            updated_at: issue.updated_at,
            pod: PodFields {
                name: owned("pod_name"),
                ip: owned("pod_ip"),
                node: owned("pod_node"),
                status: owned("pod_status"),
                screen_session: owned("screen_session"),
            },
            labels: issue.labels.clone(),
            status: issue.status.clone(),
        })
    }

    /// Live state, and closed beads are never live.
    pub fn is_live(&self) -> bool {
        !self.status.is_closed() && self.state.as_ref().is_some_and(AgentState::is_live)
    }

    /// When the agent was last seen doing something: `last_activity`, or for
    /// daemons that do not keep it, the bead's `updated_at`.
    pub fn last_seen(&self) -> Option<Timestamp> {
        self.last_activity.or(self.updated_at)
    }

    pub fn has_labels(&self, labels: &[String]) -> bool {
        labels.iter().all(|wanted| self.labels.contains(wanted))
    }

    /// Gas Town's identity path of this agent, which is what `assignee` holds on
    /// work hooked to it (bd-serve-v0.md §4): `mayor/`, `deacon/`, `deacon/boot`,
    /// `<rig>/witness`, `<rig>/refinery`, `<rig>/polecats/<name>`,
    /// `<rig>/crew/<name>`, `deacon/dogs/<name>`. `None` when the role is unknown
    /// or a rig agent has no rig.
    pub fn identity(&self) -> Option<String> {
        let rig = self.rig.as_deref();
        let name = &self.name;
        match (self.role.as_ref()?, rig) {
            (Role::Mayor, _) => Some("mayor/".to_owned()),
            (Role::Deacon, _) => Some("deacon/".to_owned()),
            (Role::Witness, Some(rig)) => Some(format!("{rig}/witness")),
            (Role::Refinery, Some(rig)) => Some(format!("{rig}/refinery")),
            (Role::Polecat, Some(rig)) => Some(format!("{rig}/polecats/{name}")),
            (Role::Crew, Some(rig)) => Some(format!("{rig}/crew/{name}")),
            (Role::Other(role), _) if role == "dog" => Some(format!("deacon/dogs/{name}")),
            (Role::Other(role), _) if role == "boot" => Some("deacon/boot".to_owned()),
            _ => None,
        }
    }
}

/// The id after its prefix: `gt-…`, `hq-…`, `<rig prefix>-…` (bd-serve-v0.md §4).
fn id_rest(id: &str) -> Option<&str> {
    id.split_once('-')
        .map(|(_, rest)| rest)
        .filter(|rest| !rest.is_empty())
}

/// `gt-mayor` → mayor; `gt-<rig>-<role>-<name>` → role; and, failing those, the
/// forms of bd-serve-v0.md §4: `<prefix>-<role>-<name>` (prefix == rig) and
/// `<prefix>-<rig>-<role>` (witness, refinery).
fn role_from_id(id: &str) -> Option<Role> {
    let rest = id_rest(id)?;
    let find = |matches: &dyn Fn(&str) -> bool| {
        Role::KNOWN.into_iter().find(|role| matches(role.as_str()))
    };
    find(&|role| rest == role || rest.contains(&format!("-{role}-")))
        .or_else(|| find(&|role| rest.starts_with(&format!("{role}-"))))
        .or_else(|| find(&|role| rest.ends_with(&format!("-{role}"))))
}

/// Splits `gt-<rig>-<role>-<name>` into (rig, name); `gt-<role>` into (None, role);
/// failing those, `<prefix>-<role>-<name>` into (None, name) and
/// `<prefix>-<rig>-<role>` into (rig, role) (bd-serve-v0.md §4; any prefix).
fn split_agent_id(id: &str, role: &Role) -> Option<(Option<String>, String)> {
    let rest = id_rest(id)?;
    let role = role.as_str();
    if rest == role {
        return Some((None, role.to_owned()));
    }
    if let Some((rig, name)) = rest.split_once(&format!("-{role}-"))
        && !rig.is_empty()
        && !name.is_empty()
    {
        return Some((Some(rig.to_owned()), name.to_owned()));
    }
    if let Some(name) = rest
        .strip_prefix(&format!("{role}-"))
        .filter(|n| !n.is_empty())
    {
        return Some((None, name.to_owned()));
    }
    let rig = rest
        .strip_suffix(&format!("-{role}"))
        .filter(|r| !r.is_empty())?;
    Some((Some(rig.to_owned()), role.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(json: serde_json::Value) -> AgentBead {
        let issue: Issue = serde_json::from_value(json).unwrap();
        AgentBead::from_issue(&issue).expect("an agent bead")
    }

    #[test]
    fn fields_from_the_issue_itself() {
        let bead = agent(serde_json::json!({
            "id": "gt-gastown-polecat-nux", "issue_type": "agent",
            "role_type": "polecat", "rig": "gastown", "agent_state": "working",
            "hook_bead": "gt-abc", "last_activity": "2026-02-06T22:00:00Z",
            "pod_name": "gt-gastown-polecat-nux", "pod_status": "running",
            "labels": ["agent:nux"]
        }));
        assert_eq!(bead.role, Some(Role::Polecat));
        assert_eq!(bead.rig.as_deref(), Some("gastown"));
        assert_eq!(bead.name, "nux");
        assert_eq!(bead.state, Some(AgentState::Working));
        assert_eq!(bead.hook_bead.as_deref(), Some("gt-abc"));
        assert_eq!(bead.pod.status.as_deref(), Some("running"));
        assert!(bead.last_activity.is_some());
        assert!(bead.is_live());
    }

    #[test]
    fn fields_from_description_lines_and_labels() {
        let bead = agent(serde_json::json!({
            "id": "gt-x1", "labels": ["gt:agent", "agent:furiosa"],
            "description": "Polecat furiosa\n\nrole_type: polecat\nrig: beads\nagent_state: awaiting-gate\nhook_bead: gt-def\nlast_activity: 2026-02-06T21:59:00Z"
        }));
        assert_eq!(bead.role, Some(Role::Polecat));
        assert_eq!(bead.rig.as_deref(), Some("beads"));
        assert_eq!(bead.name, "furiosa");
        assert_eq!(bead.state, Some(AgentState::AwaitingGate));
        assert_eq!(bead.hook_bead.as_deref(), Some("gt-def"));
        assert!(bead.last_activity.is_some());
        assert!(
            bead.is_live(),
            "awaiting-gate is paused on purpose, not dead"
        );
    }

    #[test]
    fn rig_role_and_name_from_the_id_as_a_last_resort() {
        let bead = agent(serde_json::json!({"id": "gt-my-rig-crew-max", "issue_type": "agent"}));
        assert_eq!(bead.role, Some(Role::Crew));
        assert_eq!(bead.rig.as_deref(), Some("my-rig"));
        assert_eq!(bead.name, "max");
        assert_eq!(bead.state, None);
        assert!(!bead.is_live(), "no state is not live");

        let mayor =
            agent(serde_json::json!({"id": "gt-mayor", "issue_type": "agent", "rig": "ignored"}));
        assert_eq!(mayor.role, Some(Role::Mayor));
        assert_eq!(mayor.rig, None);
        assert_eq!(mayor.name, "mayor");
    }

    #[test]
    fn unknown_state_and_role_are_kept_not_rejected() {
        let bead = agent(serde_json::json!({
            "id": "q", "issue_type": "agent", "agent_state": "hibernating", "role_type": "scribe"
        }));
        assert_eq!(bead.state, Some(AgentState::Other("hibernating".into())));
        assert_eq!(bead.role, Some(Role::Other("scribe".into())));
        assert!(!bead.is_live());
    }

    #[test]
    fn live_family() {
        let live = [
            "spawning",
            "working",
            "running",
            "idle",
            "stuck",
            "awaiting-gate",
            "escalated",
        ];
        let not_live = [
            "done", "nuked", "stopping", "stopped", "failed", "dead", "zombie",
        ];
        for state in live {
            assert!(AgentState::from(state).is_live(), "{state}");
        }
        for state in not_live {
            assert!(!AgentState::from(state).is_live(), "{state}");
        }
    }

    #[test]
    fn a_closed_bead_is_not_live_whatever_its_state() {
        let bead = agent(serde_json::json!({
            "id": "gt-r-polecat-a", "issue_type": "agent", "agent_state": "working", "status": "closed"
        }));
        assert!(!bead.is_live());
    }

    #[test]
    fn non_agents_are_not_read_as_agents() {
        let issue: Issue =
            serde_json::from_value(serde_json::json!({"id": "gt-1", "issue_type": "task"}))
                .unwrap();
        assert!(AgentBead::from_issue(&issue).is_none());
    }
}

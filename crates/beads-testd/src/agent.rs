//! Agent beads in both shapes: the daemon era's columns (`agent_state`, `hook_bead`, …) and
//! Gas Town's current `key: value` description lines, plus Gas Town's current way of hooking work
//! (a work bead with `status=hooked` assigned to the agent's identity path).

use crate::issue::{Issue, gastown, status};
use crate::store::BeadStore;

/// How [`crate::seed_town`] writes agent beads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AgentStyle {
    /// The daemon era: `issue_type: agent`, labels `gt:agent`, `rig:`, `role:`, `agent:`,
    /// `execution_target:k8s`, agent fields in columns (every second crew member in description
    /// lines), ids `gt-<role>` / `gt-<rig>-<role>-<name>`.
    #[default]
    Columns,
    /// Current Gas Town: `issue_type: task`, label `gt:agent` only, fields in description lines,
    /// ids `hq-mayor`, `gt-<rig>-witness`, …; hooked work as `status=hooked` beads assigned to the
    /// agent identity path; merge requests as ephemeral `gt:merge-request` beads.
    GasTownToday,
}

/// The `key: value` line of `description`, if any (`null` reads as absent).
// bd-serve-v0.md §4: one `key: value` per line after the title and a blank line; `null` = empty.
pub fn description_field<'a>(description: &'a str, key: &str) -> Option<&'a str> {
    description
        .lines()
        .filter_map(|line| line.trim().split_once(':'))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && *v != "null")
}

/// Whether `description` keeps agent fields as `key: value` lines.
fn has_field_line(description: &str, key: &str) -> bool {
    description
        .lines()
        .filter_map(|line| line.trim().split_once(':'))
        .any(|(k, _)| k.trim() == key)
}

/// Rewrites (or appends) the `key: value` line; `None` writes `null`.
fn set_description_field(description: &str, key: &str, value: Option<&str>) -> String {
    let rendered = format!("{key}: {}", value.unwrap_or("null"));
    let mut found = false;
    let mut lines: Vec<String> = description
        .lines()
        .map(|line| match line.trim().split_once(':') {
            Some((k, _)) if !found && k.trim() == key => {
                found = true;
                rendered.clone()
            }
            _ => line.to_owned(),
        })
        .collect();
    if !found {
        lines.push(rendered);
    }
    lines.join("\n")
}

impl Issue {
    /// An agent bead written the way current Gas Town writes it: `issue_type: task`, label
    /// `gt:agent` only, and the description `title`, blank line, `role_type`, `rig` (`null` for town
    /// agents), `agent_state`, `hook_bead: null`, `cleanup_status: null`, `active_mr: null`,
    /// `notification_level: null`. Ids: `hq-<role>` for town agents (`hq-dog-<name>` for dogs),
    /// `gt-<rig>-witness`, `gt-<rig>-refinery`, `gt-<rig>-<role>-<name>` (the rig prefix is `gt`).
    // bd-serve-v0.md §4 (agent beads, ids, description fields)
    pub fn gastown_agent(rig: Option<&str>, role: &str, name: &str, state: &str) -> Issue {
        let id = match (rig, role) {
            (None, "dog") => format!("hq-dog-{name}"),
            (None, _) => format!("hq-{role}"),
            (Some(rig), "witness" | "refinery") => format!("gt-{rig}-{role}"),
            (Some(rig), _) => format!("gt-{rig}-{role}-{name}"),
        };
        // The title is our choice; Gas Town repeats it as the description's first line.
        let title = id.clone();
        let description = [
            title.clone(),
            String::new(),
            format!("role_type: {role}"),
            format!("rig: {}", rig.unwrap_or("null")),
            format!("agent_state: {state}"),
            "hook_bead: null".to_owned(),
            "cleanup_status: null".to_owned(),
            "active_mr: null".to_owned(),
            "notification_level: null".to_owned(),
        ]
        .join("\n");
        Issue::new(id, title)
            .with_labels([gastown::AGENT_LABEL])
            .with_description(&description)
    }

    /// The agent's identity path (`mayor/`, `deacon/`, `<rig>/witness`, `<rig>/refinery`,
    /// `<rig>/polecats/<name>`, `<rig>/crew/<name>`, `deacon/dogs/<name>`), read from the columns or
    /// the description lines and the id; `None` when this is no agent bead.
    // bd-serve-v0.md §4 (hooked work: agent identity is a path, not a bead id)
    pub fn agent_identity(&self) -> Option<String> {
        let role = self
            .role_type
            .clone()
            .or_else(|| description_field(&self.description, "role_type").map(str::to_owned))?;
        let rig = self
            .rig
            .clone()
            .or_else(|| description_field(&self.description, "rig").map(str::to_owned));
        let name = self
            .id
            .rsplit_once(&format!("{role}-"))
            .map(|(_, name)| name.to_owned());
        Some(match (role.as_str(), rig, name) {
            ("mayor", _, _) => "mayor/".to_owned(),
            ("deacon", _, _) => "deacon/".to_owned(),
            ("dog", _, Some(name)) => format!("deacon/dogs/{name}"),
            ("witness" | "refinery", Some(rig), _) => format!("{rig}/{role}"),
            ("polecat", Some(rig), Some(name)) => format!("{rig}/polecats/{name}"),
            ("crew", Some(rig), Some(name)) => format!("{rig}/crew/{name}"),
            (role, Some(rig), _) => format!("{rig}/{role}"),
            (role, None, _) => format!("{role}/"),
        })
    }

    /// The agent state from the column, else from the `agent_state:` description line.
    // bd-serve-v0.md §4: the description line wins, the legacy column is the fallback; a bead
    // keeps one or the other here, so the order does not matter.
    pub fn agent_state_any(&self) -> Option<&str> {
        description_field(&self.description, "agent_state").or(self.agent_state.as_deref())
    }

    fn keeps_fields_in_description(&self, key: &str) -> bool {
        has_field_line(&self.description, key)
            || (self.role_type.is_none() && has_field_line(&self.description, "role_type"))
    }
}

impl BeadStore {
    /// Labels every agent bead `execution_target:k8s`, the mark by which an AgentPool (its default
    /// `beadSelector`) takes an agent to run in Kubernetes. Current Gas Town marks agents with
    /// `gt:agent` only; a town run on Kubernetes adds the mark (the daemon era's agents carry it).
    pub fn mark_agents_for_kubernetes(&self) {
        for agent in self.all() {
            if agent.has_label(gastown::AGENT_LABEL) && !agent.has_label(gastown::K8S_TARGET_LABEL)
            {
                self.update(&agent.id, |bead| {
                    bead.labels.push(gastown::K8S_TARGET_LABEL.to_owned())
                });
            }
        }
    }

    /// Sets an agent's state: the `agent_state` column if the bead keeps its fields in columns,
    /// else its `agent_state:` description line. False if there is no such bead.
    pub fn set_agent_state(&self, id: &str, state: &str) -> bool {
        self.update(id, |issue| {
            if issue.keeps_fields_in_description("agent_state") {
                issue.description =
                    set_description_field(&issue.description, "agent_state", Some(state));
            } else {
                issue.agent_state = Some(state.to_owned());
            }
        })
    }

    /// Sets (or clears) the agent bead's hook slot only: the `hook_bead` column, or the
    /// `hook_bead:` description line (`null` when cleared). Current Gas Town leaves that line
    /// `null` and hooks by the work bead instead: see [`BeadStore::hook_work`].
    pub fn set_hook(&self, id: &str, bead_id: Option<&str>) -> bool {
        self.update(id, |issue| {
            if issue.keeps_fields_in_description("hook_bead") {
                issue.description = set_description_field(&issue.description, "hook_bead", bead_id);
            } else {
                issue.hook_bead = bead_id.map(str::to_owned);
            }
        })
    }

    /// Hooks work Gas Town's current way: the work bead gets `status=hooked` and
    /// `assignee=<identity path of agent_id>`. The agent bead is not touched. False if either bead
    /// is missing or `agent_id` is no agent bead.
    // bd-serve-v0.md §4 (hooked work)
    pub fn hook_work(&self, agent_id: &str, work_bead_id: &str) -> bool {
        let Some(identity) = self.get(agent_id).and_then(|a| a.agent_identity()) else {
            return false;
        };
        self.update(work_bead_id, |work| {
            work.status = status::HOOKED.to_owned();
            work.assignee = Some(identity);
        })
    }

    /// Takes work off a hook: back to `open` and unassigned. False if there is no such bead.
    pub fn unhook_work(&self, work_bead_id: &str) -> bool {
        self.update(work_bead_id, |work| {
            work.status = status::OPEN.to_owned();
            work.assignee = None;
        })
    }

    /// The beads hooked on `agent_id`'s identity (`status=hooked`, assigned to its path).
    pub fn hooked_work(&self, agent_id: &str) -> Vec<Issue> {
        let Some(identity) = self.get(agent_id).and_then(|a| a.agent_identity()) else {
            return Vec::new();
        };
        self.read(|beads| {
            beads
                .values()
                .filter(|i| i.status == status::HOOKED)
                .filter(|i| i.assignee.as_deref() == Some(identity.as_str()))
                .cloned()
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_town_agents_follow_today_s_description_format() {
        let nux = Issue::gastown_agent(Some("gastown"), "polecat", "nux", "working");
        assert_eq!(nux.id, "gt-gastown-polecat-nux");
        assert_eq!(nux.issue_type, "task");
        assert_eq!(nux.labels, ["gt:agent"]);
        assert_eq!(
            nux.description,
            "gt-gastown-polecat-nux\n\nrole_type: polecat\nrig: gastown\nagent_state: working\n\
             hook_bead: null\ncleanup_status: null\nactive_mr: null\nnotification_level: null"
        );
        assert_eq!(
            nux.agent_identity().as_deref(),
            Some("gastown/polecats/nux")
        );
        let mayor = Issue::gastown_agent(None, "mayor", "mayor", "idle");
        assert_eq!(mayor.id, "hq-mayor");
        assert!(mayor.description.contains("\nrig: null\n"));
        assert_eq!(mayor.agent_identity().as_deref(), Some("mayor/"));
        let witness = Issue::gastown_agent(Some("beads"), "witness", "witness", "idle");
        assert_eq!(witness.id, "gt-beads-witness");
        assert_eq!(witness.agent_identity().as_deref(), Some("beads/witness"));
        let crew = Issue::agent(Some("beads"), "crew", "joe", "idle");
        assert_eq!(crew.agent_identity().as_deref(), Some("beads/crew/joe"));
    }

    #[test]
    fn helpers_write_columns_or_description_lines() {
        let store = BeadStore::default();
        store.insert(Issue::agent(Some("gastown"), "polecat", "nux", "working"));
        store.insert(Issue::agent(Some("gastown"), "crew", "joe", "idle").encoded_in_description());
        store.insert(Issue::gastown_agent(
            Some("gastown"),
            "polecat",
            "slit",
            "idle",
        ));

        assert!(store.set_agent_state("gt-gastown-polecat-nux", "stuck"));
        assert!(store.set_hook("gt-gastown-polecat-nux", Some("gt-1")));
        let nux = store.get("gt-gastown-polecat-nux").unwrap();
        assert_eq!(nux.agent_state.as_deref(), Some("stuck"));
        assert_eq!(nux.hook_bead.as_deref(), Some("gt-1"));
        assert!(nux.description.is_empty());

        assert!(store.set_agent_state("gt-gastown-crew-joe", "working"));
        let joe = store.get("gt-gastown-crew-joe").unwrap();
        assert!(joe.agent_state.is_none());
        assert!(joe.description.contains("agent_state: working"));

        assert!(store.set_agent_state("gt-gastown-polecat-slit", "nuked"));
        assert!(store.set_hook("gt-gastown-polecat-slit", Some("gt-9")));
        let slit = store.get("gt-gastown-polecat-slit").unwrap();
        assert_eq!(slit.agent_state_any(), Some("nuked"));
        assert_eq!(
            description_field(&slit.description, "hook_bead"),
            Some("gt-9")
        );
        assert!(slit.agent_state.is_none() && slit.hook_bead.is_none());
        assert!(store.set_hook("gt-gastown-polecat-slit", None));
        let slit = store.get("gt-gastown-polecat-slit").unwrap();
        assert!(slit.description.contains("\nhook_bead: null\n"));
        assert!(!store.set_agent_state("gt-nope", "idle"));
    }

    #[test]
    fn hooking_work_assigns_the_identity_path() {
        let store = BeadStore::default();
        store.insert(Issue::gastown_agent(
            Some("gastown"),
            "polecat",
            "nux",
            "working",
        ));
        store.insert(Issue::new("gastown-task-1", "work"));
        assert!(store.hook_work("gt-gastown-polecat-nux", "gastown-task-1"));
        let work = store.get("gastown-task-1").unwrap();
        assert_eq!(work.status, "hooked");
        assert_eq!(work.assignee.as_deref(), Some("gastown/polecats/nux"));
        assert_eq!(store.hooked_work("gt-gastown-polecat-nux").len(), 1);
        assert!(store.unhook_work("gastown-task-1"));
        assert!(store.hooked_work("gt-gastown-polecat-nux").is_empty());
        assert!(!store.hook_work("gastown-task-1", "gastown-task-1"));
    }
}

#[cfg(test)]
mod kubernetes_mark_tests {
    use super::*;

    #[test]
    fn only_agents_get_the_kubernetes_mark_once() {
        let store = BeadStore::new(16);
        store.insert(Issue::gastown_agent(
            Some("r"),
            "polecat",
            "nux",
            "spawning",
        ));
        store.insert(Issue::new("gt-1", "a task"));
        store.mark_agents_for_kubernetes();
        store.mark_agents_for_kubernetes();
        let nux = store.get("gt-r-polecat-nux").unwrap();
        assert_eq!(
            nux.labels,
            [gastown::AGENT_LABEL, gastown::K8S_TARGET_LABEL]
        );
        assert!(store.get("gt-1").unwrap().labels.is_empty());
    }
}

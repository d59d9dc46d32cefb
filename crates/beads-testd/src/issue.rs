//! The bead (issue) as the daemon stores and serves it, plus builders for realistic Gas Town fixtures.
//!
//! Free-form values (`status`, `issue_type`, `agent_state`, ...) are plain strings on purpose: tests must be
//! able to serve values a client has never heard of, exactly as a newer daemon would.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Issue statuses in use by beads.
pub mod status {
    pub const OPEN: &str = "open";
    pub const IN_PROGRESS: &str = "in_progress";
    pub const BLOCKED: &str = "blocked";
    pub const DEFERRED: &str = "deferred";
    pub const HOOKED: &str = "hooked";
    pub const PINNED: &str = "pinned";
    pub const CLOSED: &str = "closed";
    pub const TOMBSTONE: &str = "tombstone";
}

/// Labels and issue types that encode Gas Town state in beads.
pub mod gastown {
    pub const AGENT_LABEL: &str = "gt:agent";
    pub const MERGE_REQUEST_LABEL: &str = "gt:merge-request";
    pub const K8S_TARGET_LABEL: &str = "execution_target:k8s";
    pub const AGENT_TYPE: &str = "agent";
    pub const RIG_TYPE: &str = "rig";
    pub const MERGE_REQUEST_TYPE: &str = "merge-request";
}

/// The dependency type that makes one bead the child of another (what `parent_id` filters on).
pub const PARENT_CHILD: &str = "parent-child";

/// One bead, serialised with the daemon's exact wire names. Empty optional fields are omitted, as the
/// daemon (Go `omitempty`) does; `priority` and the counts are always present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default)]
    pub priority: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issue_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,

    // Agent beads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_bead: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_bead: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rig: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_session: Option<String>,

    /// Free JSON (bd serve v0: an object whose values may be any JSON type; the store tolerates a
    /// non-object too). An empty object is not sent on the daemon wire.
    // bd-serve-v0.md §3 (`metadata`)
    #[serde(default = "empty_object", skip_serializing_if = "is_empty_object")]
    pub metadata: Value,
    /// A wisp: listed by bd serve only with `include_infra`/`include_ephemeral`.
    // bd-serve-v0.md §3.4, §4 (merge requests are created ephemeral)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ephemeral: bool,
    /// The bead's write revision, reminted by the store on every write; bd serve sends it as a
    /// decimal string (`revision`). Never on the daemon wire.
    // bd-serve-v0.md §3.5
    #[serde(skip)]
    pub revision: i64,

    #[serde(default)]
    pub dependency_count: u32,
    #[serde(default)]
    pub dependent_count: u32,
    #[serde(default)]
    pub comment_count: u32,
}

/// An edge between two beads, as the daemon lists it under `dependencies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    pub issue_id: String,
    pub depends_on_id: String,
    #[serde(rename = "type")]
    pub dep_type: String,
    pub created_at: Timestamp,
}

impl Issue {
    /// An open task with default priority 2, created and updated now.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Issue {
        let now = Timestamp::now();
        Issue {
            id: id.into(),
            title: title.into(),
            description: String::new(),
            status: status::OPEN.to_owned(),
            priority: 2,
            issue_type: "task".to_owned(),
            assignee: None,
            labels: Vec::new(),
            created_at: now,
            updated_at: now,
            closed_at: None,
            dependencies: Vec::new(),
            hook_bead: None,
            role_bead: None,
            agent_state: None,
            last_activity: None,
            role_type: None,
            rig: None,
            pod_name: None,
            pod_ip: None,
            pod_node: None,
            pod_status: None,
            screen_session: None,
            metadata: empty_object(),
            ephemeral: false,
            revision: 0,
            dependency_count: 0,
            dependent_count: 0,
            comment_count: 0,
        }
    }

    /// An agent bead with its fields in the bead's own fields. `rig: None` makes a town-level agent
    /// (`gt-<role>`, e.g. mayor, deacon); otherwise the id is `gt-<rig>-<role>-<name>`.
    pub fn agent(rig: Option<&str>, role: &str, name: &str, state: &str) -> Issue {
        let id = match rig {
            Some(rig) => format!("gt-{rig}-{role}-{name}"),
            None => format!("gt-{role}"),
        };
        let mut labels = vec![gastown::AGENT_LABEL.to_owned()];
        if let Some(rig) = rig {
            labels.push(format!("rig:{rig}"));
        }
        labels.push(format!("role:{role}"));
        labels.push(format!("agent:{name}"));
        labels.push(gastown::K8S_TARGET_LABEL.to_owned());

        let mut issue = Issue::new(id, format!("{role} {name}"))
            .with_type(gastown::AGENT_TYPE)
            .with_labels(labels);
        issue.role_type = Some(role.to_owned());
        issue.rig = rig.map(str::to_owned);
        issue.agent_state = Some(state.to_owned());
        issue.last_activity = Some(issue.created_at);
        issue
    }

    /// A merge-request bead of `rig`; `open` is queued, `in_progress` is being processed.
    pub fn merge_request(rig: &str, id: &str, status: &str) -> Issue {
        Issue::new(id, format!("Merge {id} into {rig}"))
            .with_type(gastown::MERGE_REQUEST_TYPE)
            .with_labels([
                gastown::MERGE_REQUEST_LABEL.to_owned(),
                format!("rig:{rig}"),
            ])
            .with_status(status)
    }

    /// A bead describing a rig (`issue_type` `rig`, labels `prefix:`, `git_url:`, `default_branch:`).
    pub fn rig(name: &str, prefix: &str, git_url: &str, default_branch: &str) -> Issue {
        Issue::new(format!("gt-rig-{name}"), name)
            .with_type(gastown::RIG_TYPE)
            .with_labels([
                format!("prefix:{prefix}"),
                format!("git_url:{git_url}"),
                format!("default_branch:{default_branch}"),
            ])
    }

    pub fn with_status(mut self, status: &str) -> Issue {
        self.status = status.to_owned();
        if status == status::CLOSED {
            self.closed_at.get_or_insert(self.updated_at);
        }
        self
    }

    pub fn with_priority(mut self, priority: i64) -> Issue {
        self.priority = priority;
        self
    }

    pub fn with_type(mut self, issue_type: &str) -> Issue {
        self.issue_type = issue_type.to_owned();
        self
    }

    pub fn with_assignee(mut self, assignee: &str) -> Issue {
        self.assignee = Some(assignee.to_owned());
        self
    }

    pub fn with_description(mut self, description: &str) -> Issue {
        self.description = description.to_owned();
        self
    }

    /// Adds labels, keeping the existing ones and skipping duplicates.
    pub fn with_labels<I, S>(mut self, labels: I) -> Issue
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for label in labels {
            let label = label.into();
            if !self.labels.contains(&label) {
                self.labels.push(label);
            }
        }
        self
    }

    /// Makes this bead a child of `parent_id` (a `parent-child` dependency).
    pub fn with_parent(mut self, parent_id: &str) -> Issue {
        self.dependencies.push(Dependency {
            issue_id: self.id.clone(),
            depends_on_id: parent_id.to_owned(),
            dep_type: PARENT_CHILD.to_owned(),
            created_at: self.created_at,
        });
        self.dependency_count = self.dependencies.len() as u32;
        self
    }

    pub fn with_created_at(mut self, at: Timestamp) -> Issue {
        self.created_at = at;
        self
    }

    pub fn with_updated_at(mut self, at: Timestamp) -> Issue {
        self.updated_at = at;
        self
    }

    /// Replaces the bead's metadata (any JSON; bd serve expects an object).
    pub fn with_metadata(mut self, metadata: Value) -> Issue {
        self.metadata = metadata;
        self
    }

    /// Makes the bead a wisp (ephemeral tier) or a durable bead.
    pub fn with_ephemeral(mut self, ephemeral: bool) -> Issue {
        self.ephemeral = ephemeral;
        self
    }

    /// Sets the bead hooked on an agent (agent beads).
    pub fn with_hook(mut self, bead_id: &str) -> Issue {
        self.hook_bead = Some(bead_id.to_owned());
        self
    }

    pub fn with_last_activity(mut self, at: Option<Timestamp>) -> Issue {
        self.last_activity = at;
        self
    }

    /// Re-encodes an agent bead the way newer beads store it: `role_type`, `rig`, `agent_state` and
    /// `hook_bead` move out of the fields into `key: value` lines of the description. `last_activity`
    /// stays a field because the daemon itself keeps it up to date.
    pub fn encoded_in_description(mut self) -> Issue {
        let moved = [
            ("role_type", self.role_type.take()),
            ("rig", self.rig.take()),
            ("agent_state", self.agent_state.take()),
            ("hook_bead", self.hook_bead.take()),
        ];
        let mut lines: Vec<String> = moved
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| format!("{key}: {value}")))
            .collect();
        if !self.description.is_empty() {
            lines.push(String::new());
            lines.push(std::mem::take(&mut self.description));
        }
        self.description = lines.join("\n");
        self
    }

    /// The parent of this bead, if it has a `parent-child` dependency.
    pub fn parent_id(&self) -> Option<&str> {
        self.dependencies
            .iter()
            .find(|dep| dep.dep_type == PARENT_CHILD)
            .map(|dep| dep.depends_on_id.as_str())
    }

    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }
}

pub(crate) fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn is_empty_object(value: &Value) -> bool {
    value.as_object().is_some_and(serde_json::Map::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rig_agent_ids_and_labels_follow_gas_town_conventions() {
        let agent = Issue::agent(Some("gastown"), "polecat", "nux", "working");
        assert_eq!(agent.id, "gt-gastown-polecat-nux");
        assert_eq!(agent.issue_type, "agent");
        assert_eq!(
            agent.labels,
            [
                "gt:agent",
                "rig:gastown",
                "role:polecat",
                "agent:nux",
                "execution_target:k8s"
            ]
        );
        assert_eq!(agent.rig.as_deref(), Some("gastown"));
        assert_eq!(agent.role_type.as_deref(), Some("polecat"));
        assert_eq!(agent.agent_state.as_deref(), Some("working"));
    }

    #[test]
    fn town_level_agents_have_no_rig() {
        let mayor = Issue::agent(None, "mayor", "mayor", "idle");
        assert_eq!(mayor.id, "gt-mayor");
        assert!(mayor.rig.is_none());
        assert!(!mayor.labels.iter().any(|l| l.starts_with("rig:")));
    }

    #[test]
    fn description_encoding_moves_agent_fields_into_key_value_lines() {
        let agent = Issue::agent(Some("gastown"), "polecat", "nux", "stuck")
            .with_hook("gt-abc")
            .with_description("works on the parser")
            .encoded_in_description();
        assert_eq!(
            agent.description,
            "role_type: polecat\nrig: gastown\nagent_state: stuck\nhook_bead: gt-abc\n\nworks on the parser"
        );
        assert!(agent.role_type.is_none() && agent.rig.is_none());
        assert!(agent.agent_state.is_none() && agent.hook_bead.is_none());
        assert!(agent.last_activity.is_some());
    }

    #[test]
    fn wire_names_and_omitted_empty_fields() {
        let issue = Issue::merge_request("gastown", "gt-mr-1", "open").with_parent("gt-epic");
        let json = serde_json::to_value(&issue).unwrap();
        assert_eq!(json["issue_type"], "merge-request");
        assert_eq!(json["labels"][0], "gt:merge-request");
        assert_eq!(json["dependencies"][0]["type"], "parent-child");
        assert_eq!(json["dependency_count"], 1);
        assert_eq!(json["comment_count"], 0);
        assert!(
            json.get("assignee").is_none(),
            "empty fields are omitted: {json}"
        );
        assert!(json.get("closed_at").is_none());
        assert_eq!(issue.parent_id(), Some("gt-epic"));
    }

    #[test]
    fn closed_beads_get_a_closed_at() {
        let issue = Issue::new("gt-1", "done").with_status("closed");
        assert_eq!(issue.closed_at, Some(issue.updated_at));
    }
}

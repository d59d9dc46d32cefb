//! Issues ("beads") as `list` returns them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::open_enum;
use crate::lenient;

open_enum! {
    /// An issue's `status`.
    pub enum IssueStatus {
        Open => "open",
        InProgress => "in_progress",
        Blocked => "blocked",
        Hooked => "hooked",
        Pinned => "pinned",
        Deferred => "deferred",
        Closed => "closed",
        Tombstone => "tombstone",
    }
}

impl IssueStatus {
    /// Closed and tombstoned issues are history, not state.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed | Self::Tombstone)
    }
}

impl Default for IssueStatus {
    /// The daemon's default for a new issue.
    fn default() -> Self {
        Self::Open
    }
}

/// One issue. Every field is optional on the wire; agent fields may instead live
/// in `description` as `key: value` lines (see [`Issue::field`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Issue {
    #[serde(deserialize_with = "lenient::null_default")]
    pub id: String,
    #[serde(deserialize_with = "lenient::null_default")]
    pub title: String,
    #[serde(deserialize_with = "lenient::null_default")]
    pub description: String,
    #[serde(deserialize_with = "lenient::null_default")]
    pub status: IssueStatus,
    pub priority: Option<i64>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub issue_type: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub assignee: Option<String>,
    #[serde(deserialize_with = "lenient::null_default")]
    pub labels: Vec<String>,
    #[serde(deserialize_with = "lenient::timestamp")]
    pub created_at: Option<Timestamp>,
    #[serde(deserialize_with = "lenient::timestamp")]
    pub updated_at: Option<Timestamp>,
    #[serde(deserialize_with = "lenient::timestamp")]
    pub closed_at: Option<Timestamp>,

    // Agent fields, set on agent beads by older daemons.
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub hook_bead: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub role_bead: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub agent_state: Option<String>,
    #[serde(deserialize_with = "lenient::timestamp")]
    pub last_activity: Option<Timestamp>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub role_type: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub rig: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub pod_name: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub pod_ip: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub pod_node: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub pod_status: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub screen_session: Option<String>,

    #[serde(deserialize_with = "lenient::null_default")]
    pub dependency_count: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub dependent_count: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub comment_count: u64,
}

/// Labels and types by which Gas Town marks its beads.
pub(crate) mod marks {
    pub const AGENT_TYPE: &str = "agent";
    pub const AGENT_LABEL: &str = "gt:agent";
    pub const MERGE_REQUEST_LABEL: &str = "gt:merge-request";
    pub const RIG_PREFIX: &str = "rig:";
    pub const ROLE_PREFIX: &str = "role:";
    pub const AGENT_PREFIX: &str = "agent:";
}

impl Issue {
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }

    /// The value of the first `prefix<value>` label, e.g. `rig:` → the rig name.
    pub fn label_value(&self, prefix: &str) -> Option<&str> {
        self.labels
            .iter()
            .find_map(|label| label.strip_prefix(prefix))
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }

    pub fn is_closed(&self) -> bool {
        self.status.is_closed()
    }

    /// Agent beads carry `issue_type: agent` or the `gt:agent` label.
    pub fn is_agent(&self) -> bool {
        self.issue_type.as_deref() == Some(marks::AGENT_TYPE) || self.has_label(marks::AGENT_LABEL)
    }

    /// Merge requests are ordinary beads labelled `gt:merge-request`.
    pub fn is_merge_request(&self) -> bool {
        self.has_label(marks::MERGE_REQUEST_LABEL)
    }

    /// An agent field by its wire name: the issue's own field when set, else the
    /// `key: value` line of the description.
    pub fn field(&self, key: &str) -> Option<&str> {
        let own = match key {
            "hook_bead" => self.hook_bead.as_deref(),
            "role_bead" => self.role_bead.as_deref(),
            "agent_state" => self.agent_state.as_deref(),
            "role_type" => self.role_type.as_deref(),
            "rig" => self.rig.as_deref(),
            "pod_name" => self.pod_name.as_deref(),
            "pod_ip" => self.pod_ip.as_deref(),
            "pod_node" => self.pod_node.as_deref(),
            "pod_status" => self.pod_status.as_deref(),
            "screen_session" => self.screen_session.as_deref(),
            _ => None,
        };
        own.or_else(|| description_field(&self.description, key))
    }

    /// `last_activity` from the field or the description.
    pub fn last_activity(&self) -> Option<Timestamp> {
        self.last_activity.or_else(|| {
            description_field(&self.description, "last_activity").and_then(lenient::parse_timestamp)
        })
    }

    /// The rig an issue belongs to: the `rig` field, a `rig:` description line, or a
    /// `rig:<name>` label.
    pub fn rig(&self) -> Option<&str> {
        self.field("rig")
            .or_else(|| self.label_value(marks::RIG_PREFIX))
    }
}

/// The value of a `key: value` line in a description (first match; `null` and
/// empty values count as absent).
pub fn description_field<'a>(description: &'a str, key: &str) -> Option<&'a str> {
    description.lines().find_map(|line| {
        let (line_key, value) = line.split_once(':')?;
        if !line_key.trim().eq_ignore_ascii_case(key) {
            return None;
        }
        let value = value.trim();
        (!value.is_empty() && value != "null").then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_nulls_and_missing_fields_are_tolerated() {
        let issue: Issue = serde_json::from_value(serde_json::json!({
            "id": "gt-1",
            "status": null,
            "labels": null,
            "assignee": "",
            "closed_at": "0001-01-01T00:00:00Z",
            "comment_count": null,
            "brand_new_field": {"nested": [1, 2]}
        }))
        .unwrap();
        assert_eq!(issue.id, "gt-1");
        assert_eq!(issue.status, IssueStatus::Open);
        assert!(issue.labels.is_empty());
        assert_eq!(issue.assignee, None);
        assert_eq!(issue.closed_at, None);
        assert_eq!(issue.comment_count, 0);
    }

    #[test]
    fn unknown_status_is_kept() {
        let issue: Issue = serde_json::from_str(r#"{"status":"frozen"}"#).unwrap();
        assert_eq!(issue.status, IssueStatus::Other("frozen".into()));
        assert!(!issue.is_closed());
    }

    #[test]
    fn own_field_wins_over_description_line() {
        let issue = Issue {
            rig: Some("own".into()),
            description: "Agent bead\nrig: described\nagent_state: working\nhook_bead: null".into(),
            ..Issue::default()
        };
        assert_eq!(issue.field("rig"), Some("own"));
        assert_eq!(issue.field("agent_state"), Some("working"));
        assert_eq!(issue.field("hook_bead"), None);
        assert_eq!(issue.field("pod_name"), None);
    }

    #[test]
    fn description_values_may_contain_colons() {
        let desc = "last_activity: 2026-02-06T22:00:00Z\nnote: a: b";
        assert_eq!(
            description_field(desc, "last_activity"),
            Some("2026-02-06T22:00:00Z")
        );
        assert_eq!(description_field(desc, "note"), Some("a: b"));
    }

    #[test]
    fn rig_falls_back_to_the_label() {
        let issue = Issue {
            labels: vec!["gt:merge-request".into(), "rig:gastown".into()],
            ..Issue::default()
        };
        assert_eq!(issue.rig(), Some("gastown"));
        assert!(issue.is_merge_request());
        assert!(!issue.is_agent());
    }
}

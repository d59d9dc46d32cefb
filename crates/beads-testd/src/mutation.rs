//! Mutation events: what `get_mutations` returns and what `GET /events` streams.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The `Type` values the daemon emits.
pub mod kind {
    pub const CREATE: &str = "create";
    pub const UPDATE: &str = "update";
    pub const DELETE: &str = "delete";
    pub const COMMENT: &str = "comment";
    pub const STATUS: &str = "status";
    pub const BONDED: &str = "bonded";
    pub const SQUASHED: &str = "squashed";
    pub const BURNED: &str = "burned";
}

/// One mutation. The first six keys are capitalised on the wire (the daemon's Go struct has no JSON
/// tags for them) and always present; the rest are omitted when empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MutationEvent {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "IssueID")]
    pub issue_id: String,
    #[serde(rename = "Title")]
    pub title: String,
    #[serde(rename = "Assignee")]
    pub assignee: String,
    #[serde(rename = "Actor")]
    pub actor: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: Timestamp,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub old_status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub new_status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent_id: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub step_count: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issue_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub await_type: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl MutationEvent {
    /// The event's id on the SSE stream and the unit of `since`: unix milliseconds.
    pub fn unix_ms(&self) -> i64 {
        self.timestamp.as_millisecond()
    }
}

/// The server-side filter of `GET /events?filter=…`: `type:<Type>` or `issue:<IssueID>`. Anything else
/// (including an empty or unknown filter) lets every event through, as the daemon does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EventFilter {
    #[default]
    All,
    Kind(String),
    Issue(String),
}

impl EventFilter {
    pub fn parse(filter: &str) -> EventFilter {
        match filter.split_once(':') {
            Some(("type", kind)) => EventFilter::Kind(kind.to_owned()),
            Some(("issue", id)) => EventFilter::Issue(id.to_owned()),
            _ => EventFilter::All,
        }
    }

    pub fn matches(&self, event: &MutationEvent) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Kind(kind) => &event.kind == kind,
            EventFilter::Issue(id) => &event.issue_id == id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, issue: &str) -> MutationEvent {
        MutationEvent {
            kind: kind.to_owned(),
            issue_id: issue.to_owned(),
            title: String::new(),
            assignee: String::new(),
            actor: String::new(),
            timestamp: Timestamp::from_millisecond(1_700_000_000_123).unwrap(),
            old_status: String::new(),
            new_status: String::new(),
            parent_id: String::new(),
            step_count: 0,
            issue_type: String::new(),
            labels: Vec::new(),
            await_type: String::new(),
        }
    }

    #[test]
    fn wire_keys_are_capitalised_and_optional_ones_omitted() {
        let mut evt = event("status", "gt-1");
        evt.old_status = "open".into();
        evt.new_status = "closed".into();
        let json = serde_json::to_value(&evt).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "Type",
            "IssueID",
            "Title",
            "Assignee",
            "Actor",
            "Timestamp",
            "old_status",
            "new_status",
        ] {
            assert!(keys.contains(&key), "missing {key} in {json}");
        }
        assert!(json.get("labels").is_none() && json.get("step_count").is_none());
        assert_eq!(json["Timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(evt.unix_ms(), 1_700_000_000_123);
    }

    #[test]
    fn filters() {
        let update = event("update", "gt-1");
        let create = event("create", "gt-2");
        let cases = [
            ("", true, true),
            ("type:update", true, false),
            ("issue:gt-2", false, true),
            ("nonsense", true, true),
            ("colour:red", true, true),
        ];
        for (filter, passes_update, passes_create) in cases {
            let f = EventFilter::parse(filter);
            assert_eq!(f.matches(&update), passes_update, "{filter} on update");
            assert_eq!(f.matches(&create), passes_create, "{filter} on create");
        }
    }
}

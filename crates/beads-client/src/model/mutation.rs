//! Mutation events (`GET /events`, `get_mutations`) and the resume cursor.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::open_enum;
use crate::lenient;

open_enum! {
    /// A mutation's `Type`.
    pub enum MutationKind {
        Create => "create",
        Update => "update",
        Delete => "delete",
        Comment => "comment",
        Bonded => "bonded",
        Squashed => "squashed",
        Burned => "burned",
        Status => "status",
    }
}

impl Default for MutationKind {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

/// One change in the bead store. The first six keys are capitalised on the wire;
/// lower-case spellings are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MutationEvent {
    /// Position in the stream: the SSE `id` (unix ms), else `Timestamp` in unix ms.
    #[serde(skip)]
    pub id: u64,
    #[serde(
        rename = "Type",
        alias = "type",
        deserialize_with = "lenient::null_default"
    )]
    pub kind: MutationKind,
    #[serde(
        rename = "IssueID",
        alias = "issue_id",
        deserialize_with = "lenient::null_default"
    )]
    pub issue_id: String,
    #[serde(
        rename = "Title",
        alias = "title",
        deserialize_with = "lenient::non_empty_string"
    )]
    pub title: Option<String>,
    #[serde(
        rename = "Assignee",
        alias = "assignee",
        deserialize_with = "lenient::non_empty_string"
    )]
    pub assignee: Option<String>,
    #[serde(
        rename = "Actor",
        alias = "actor",
        deserialize_with = "lenient::non_empty_string"
    )]
    pub actor: Option<String>,
    #[serde(
        rename = "Timestamp",
        alias = "timestamp",
        deserialize_with = "lenient::timestamp"
    )]
    pub timestamp: Option<Timestamp>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub old_status: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub new_status: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub parent_id: Option<String>,
    #[serde(deserialize_with = "lenient::null_default")]
    pub step_count: u64,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub issue_type: Option<String>,
    #[serde(deserialize_with = "lenient::null_default")]
    pub labels: Vec<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub await_type: Option<String>,
}

/// A decoded event with what the cursor needs to place it.
#[derive(Debug, Clone)]
pub(crate) struct Positioned {
    pub event: MutationEvent,
    /// The canonical JSON of the event, telling apart events of the same millisecond.
    pub fingerprint: String,
}

impl Positioned {
    /// Decodes one event; `explicit_id` is the SSE `id` line, if any.
    /// `None` for data that is not an event object (skipped, never fatal).
    pub fn decode(data: &serde_json::Value, explicit_id: Option<&str>) -> Option<Self> {
        if !data.is_object() {
            return None;
        }
        let mut event: MutationEvent = serde_json::from_value(data.clone()).ok()?;
        let from_timestamp = event
            .timestamp
            .and_then(|t| u64::try_from(t.as_millisecond()).ok());
        event.id = explicit_id
            .and_then(|id| id.trim().parse().ok())
            .or(from_timestamp)?;
        Some(Self {
            event,
            fingerprint: data.to_string(),
        })
    }
}

/// Where a mutation reader stands, so that a reconnect neither repeats nor loses
/// an event.
///
/// The daemon's ids are unix milliseconds and its `since` is exclusive, so several
/// events can share the last id seen. The cursor therefore resumes one millisecond
/// early and drops, by fingerprint, the events of that millisecond it already
/// delivered.
#[derive(Debug, Clone)]
pub(crate) enum MutationCursor {
    /// Nothing seen and no starting point: only new events are wanted.
    Live,
    /// Everything with an id greater than this is wanted.
    After(u64),
    /// Events up to `id` were delivered; `seen` holds those of exactly `id`.
    At { id: u64, seen: HashSet<String> },
}

impl MutationCursor {
    pub fn new(since: Option<u64>) -> Self {
        since.map_or(Self::Live, Self::After)
    }

    /// The `since` to send when (re)connecting; `None` asks for live events only.
    pub fn resume_since(&self) -> Option<u64> {
        match self {
            Self::Live => None,
            Self::After(since) => Some(*since),
            Self::At { id, .. } => Some(id.saturating_sub(1)),
        }
    }

    /// Whether `event` is new; records it if so.
    pub fn admit(&mut self, event: &Positioned) -> bool {
        let id = event.event.id;
        match self {
            Self::After(since) if id <= *since => false,
            Self::At { id: last, seen } if id == *last => seen.insert(event.fingerprint.clone()),
            Self::At { id: last, .. } if id < *last => false,
            _ => {
                *self = Self::At {
                    id,
                    seen: HashSet::from([event.fingerprint.clone()]),
                };
                true
            }
        }
    }

    /// Takes the events already buffered by the daemon as the starting point
    /// without delivering them (polling from [`MutationCursor::Live`]).
    pub fn skip_backlog(&mut self, backlog: &[Positioned]) {
        for event in backlog {
            self.admit(event);
        }
        if matches!(self, Self::Live) {
            *self = Self::After(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u64, issue: &str) -> Positioned {
        let data = serde_json::json!({"Type": "update", "IssueID": issue});
        Positioned::decode(&data, Some(&id.to_string())).unwrap()
    }

    #[test]
    fn decodes_wire_keys_and_keeps_unknown_types() {
        let data = serde_json::json!({
            "Type": "teleport", "IssueID": "gt-1", "Title": "t", "Actor": "mayor",
            "Timestamp": "2026-02-06T22:00:00.5Z", "new_status": "closed",
            "labels": null, "future_field": 3
        });
        let positioned = Positioned::decode(&data, None).unwrap();
        let event = positioned.event;
        assert_eq!(event.kind, MutationKind::Other("teleport".into()));
        assert_eq!(event.issue_id, "gt-1");
        assert_eq!(event.actor.as_deref(), Some("mayor"));
        assert_eq!(event.new_status.as_deref(), Some("closed"));
        assert_eq!(event.id, 1_770_415_200_500, "id from Timestamp");
        assert!(Positioned::decode(&serde_json::json!("garbage"), Some("1")).is_none());
        assert!(
            Positioned::decode(&serde_json::json!({"Type": "update"}), None).is_none(),
            "no position"
        );
    }

    #[test]
    fn resume_replays_the_last_millisecond_and_drops_what_was_seen() {
        let mut cursor = MutationCursor::new(None);
        assert_eq!(cursor.resume_since(), None);
        assert!(cursor.admit(&event(10, "a")));
        assert!(cursor.admit(&event(11, "b")));
        assert_eq!(cursor.resume_since(), Some(10), "one ms early");
        // The reconnect replays id 11 ("b" again, plus "c" of the same ms).
        assert!(!cursor.admit(&event(11, "b")), "no repeat");
        assert!(cursor.admit(&event(11, "c")), "no loss within the same ms");
        assert!(!cursor.admit(&event(9, "old")));
        assert!(cursor.admit(&event(12, "d")));
    }

    #[test]
    fn an_explicit_since_is_exclusive() {
        let mut cursor = MutationCursor::new(Some(20));
        assert_eq!(cursor.resume_since(), Some(20));
        assert!(!cursor.admit(&event(20, "seen-by-caller")));
        assert!(cursor.admit(&event(21, "new")));
    }

    #[test]
    fn polling_from_live_skips_the_backlog() {
        let mut cursor = MutationCursor::new(None);
        cursor.skip_backlog(&[event(5, "a"), event(7, "b")]);
        assert!(!cursor.admit(&event(7, "b")));
        assert!(cursor.admit(&event(7, "c")));
        let mut empty = MutationCursor::new(None);
        empty.skip_backlog(&[]);
        assert_eq!(empty.resume_since(), Some(0));
    }
}

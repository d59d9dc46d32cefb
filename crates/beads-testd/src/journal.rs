//! The durable events journal of bd serve (`GET /v0/beads/events`, `events:watch`): every store write
//! appends one [`EventRecord`] with a gapless per-tenant `seq` starting at 1.
//!
//! The journal is always recorded by the store (whatever the faults say); the
//! `events_journal_disabled` fault only changes what the events routes answer.

use std::collections::VecDeque;

use jiff::Timestamp;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use tokio::sync::watch;

use crate::issue::Issue;

/// The `op` values this store journals.
// bd-serve-v0.md §3.9: op ∈ {create, update, close, delete, dep_add, dep_remove, comment}; the
// store has no dependency or comment writes, so only the first four occur.
pub mod journal_op {
    pub const CREATE: &str = "create";
    pub const UPDATE: &str = "update";
    pub const CLOSE: &str = "close";
    pub const DELETE: &str = "delete";
}

/// Records kept before the oldest are pruned automatically.
// bd-serve-v0.md §1: `events-journal-retain-rows` has a floor of 100 000.
pub const JOURNAL_RETAIN_ROWS: usize = 100_000;

/// One journal record. On the wire (`Serialize`): `seq`, `ts`, `op`, `issue_id`, `actor` (absent
/// for system writes), and `issue` — the post-mutation v0 Issue, literal `null` on delete.
// bd-serve-v0.md §3.9 (EventRecord)
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub seq: i64,
    pub ts: Timestamp,
    pub op: String,
    pub issue_id: String,
    /// `None` = a system write (made by a test through [`crate::BeadStore`]).
    pub actor: Option<String>,
    /// The bead after the write; `None` on delete.
    pub issue: Option<Issue>,
}

impl Serialize for EventRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("seq", &self.seq)?;
        map.serialize_entry("ts", &self.ts)?;
        map.serialize_entry("op", &self.op)?;
        map.serialize_entry("issue_id", &self.issue_id)?;
        if let Some(actor) = &self.actor {
            map.serialize_entry("actor", actor)?;
        }
        // bd-serve-v0.md §3.9: `issue` is always present, `null` on delete.
        let issue = self.issue.as_ref().map(crate::serve::wire::issue);
        map.serialize_entry("issue", &issue)?;
        map.end()
    }
}

/// Where the journal stands: `head` = last seq written (0 when none), `floor` = oldest seq kept
/// (`head + 1` when nothing is kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Position {
    pub head: i64,
    pub floor: i64,
}

pub(crate) struct Journal {
    records: VecDeque<EventRecord>,
    head: i64,
    floor: i64,
    changes: watch::Sender<Position>,
}

impl Default for Journal {
    fn default() -> Journal {
        let start = Position { head: 0, floor: 1 };
        Journal {
            records: VecDeque::new(),
            head: 0,
            floor: 1,
            changes: watch::Sender::new(start),
        }
    }
}

impl Journal {
    pub fn append(&mut self, op: &str, issue_id: &str, actor: Option<&str>, issue: Option<Issue>) {
        self.head += 1;
        self.records.push_back(EventRecord {
            seq: self.head,
            ts: Timestamp::now(),
            op: op.to_owned(),
            issue_id: issue_id.to_owned(),
            actor: actor.filter(|a| !a.is_empty()).map(str::to_owned),
            issue,
        });
        if self.records.len() > JOURNAL_RETAIN_ROWS {
            self.records.pop_front();
            self.floor += 1;
        }
        self.publish();
    }

    /// Forgets every record with `seq <= through`.
    pub fn prune_through(&mut self, through: i64) {
        while self.records.front().is_some_and(|r| r.seq <= through) {
            self.records.pop_front();
        }
        self.floor = self.floor.max(through.saturating_add(1).min(self.head + 1));
        self.publish();
    }

    pub fn position(&self) -> Position {
        Position {
            head: self.head,
            floor: self.floor,
        }
    }

    /// Up to `limit` records with `seq > since`, ascending.
    pub fn since(&self, since: i64, limit: usize) -> Vec<EventRecord> {
        let skip = usize::try_from((since + 1 - self.floor).max(0)).unwrap_or(usize::MAX);
        self.records
            .iter()
            .skip(skip)
            .take(limit)
            .cloned()
            .collect()
    }

    pub fn subscribe(&self) -> watch::Receiver<Position> {
        self.changes.subscribe()
    }

    fn publish(&self) {
        self.changes.send_replace(self.position());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqs_are_gapless_and_pruning_moves_the_floor() {
        let mut journal = Journal::default();
        for n in 0..5 {
            journal.append(journal_op::CREATE, &format!("gt-{n}"), None, None);
        }
        assert_eq!(journal.position(), Position { head: 5, floor: 1 });
        let seqs: Vec<i64> = journal.since(2, 10).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        journal.prune_through(3);
        assert_eq!(journal.position(), Position { head: 5, floor: 4 });
        let seqs: Vec<i64> = journal.since(3, 1).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [4]);
        journal.prune_through(99);
        assert_eq!(journal.position(), Position { head: 5, floor: 6 });
        assert!(journal.since(5, 10).is_empty());
    }

    #[test]
    fn records_serialise_with_null_issue_on_delete_and_no_system_actor() {
        let mut journal = Journal::default();
        journal.append(journal_op::DELETE, "gt-1", None, None);
        journal.append(
            journal_op::CREATE,
            "gt-2",
            Some("op"),
            Some(Issue::new("gt-2", "two")),
        );
        let json = serde_json::to_value(journal.since(0, 10)).unwrap();
        assert!(json[0]["issue"].is_null() && json[0].get("issue").is_some());
        assert!(json[0].get("actor").is_none());
        assert_eq!(json[1]["actor"], "op");
        assert_eq!(json[1]["issue"]["id"], "gt-2");
    }
}

//! The in-memory bead store. Every change records a mutation event in a bounded history (for
//! `get_mutations` and SSE resume) and fans it out to live event streams, under one lock so that the
//! history and the live streams always agree on order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;
use tokio::sync::{broadcast, watch};

use crate::issue::{Issue, status};
use crate::journal::{EventRecord, Journal, Position, journal_op};
use crate::mutation::{MutationEvent, kind};

/// How many live items an event stream may fall behind before it is cut (the client then resumes
/// from its last id, so nothing is lost).
const STREAM_BUFFER: usize = 1024;

/// The default number of mutation events kept for `get_mutations` and `since` replays (the daemon's).
pub const DEFAULT_HISTORY_CAPACITY: usize = 1000;

/// What live event streams receive.
#[derive(Debug, Clone)]
pub(crate) enum StreamItem {
    Mutation(Arc<MutationEvent>),
    /// Text written to the stream verbatim (garbage lines, unknown event types).
    Raw(String),
    /// Every stream ends its connection.
    Disconnect,
}

/// A cheap-to-clone handle on the beads of one test daemon.
#[derive(Clone)]
pub struct BeadStore {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    streams: broadcast::Sender<StreamItem>,
}

struct State {
    issues: BTreeMap<String, Issue>,
    history: VecDeque<MutationEvent>,
    history_capacity: usize,
    last_event_ms: i64,
    /// bd serve's events journal (every write, gapless seqs).
    journal: Journal,
    /// Mints bead revisions.
    revisions: u64,
}

/// The outcome of [`BeadStore::write_if`]'s change.
pub(crate) enum Draft<E> {
    /// Leave the bead alone and answer this.
    Refuse(E),
    /// Write the draft (unless it equals the stored bead).
    Keep,
}

impl Default for BeadStore {
    fn default() -> Self {
        BeadStore::new(DEFAULT_HISTORY_CAPACITY)
    }
}

impl std::fmt::Debug for BeadStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeadStore")
            .field("beads", &self.len())
            .finish()
    }
}

impl BeadStore {
    /// An empty store keeping the last `history_capacity` mutation events.
    pub fn new(history_capacity: usize) -> BeadStore {
        let (streams, _) = broadcast::channel(STREAM_BUFFER);
        BeadStore {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    issues: BTreeMap::new(),
                    history: VecDeque::new(),
                    history_capacity: history_capacity.max(1),
                    last_event_ms: 0,
                    journal: Journal::default(),
                    revisions: 0,
                }),
                streams,
            }),
        }
    }

    /// Adds a bead (mutation `create`), or replaces one with the same id (mutation `update`).
    pub fn insert(&self, issue: Issue) {
        self.insert_as("", issue);
    }

    /// Changes a bead in place; `updated_at` moves to now unless `change` set it. Emits `status` (with
    /// `old_status`/`new_status`) when the status changed, otherwise `update`. False if there is no such bead.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Issue)) -> bool {
        self.update_as("", id, change).is_some()
    }

    /// Closes a bead (a `status` mutation to `closed`). False if there is no such bead.
    pub fn close(&self, id: &str) -> bool {
        self.update(id, |issue| issue.status = status::CLOSED.to_owned())
    }

    /// Removes a bead (mutation `delete`). False if there is no such bead.
    pub fn delete(&self, id: &str) -> bool {
        let mut state = self.state();
        let Some(issue) = state.issues.remove(id) else {
            return false;
        };
        self.emit(&mut state, event_for(kind::DELETE, &issue, ""));
        // bd-serve-v0.md §3.9: a delete record carries `issue: null`.
        state.journal.append(journal_op::DELETE, id, None, None);
        true
    }

    pub fn get(&self, id: &str) -> Option<Issue> {
        self.state().issues.get(id).cloned()
    }

    /// Every bead, ordered by id.
    pub fn all(&self) -> Vec<Issue> {
        self.state().issues.values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.state().issues.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kept mutation events newer than `since_ms` (unix milliseconds), oldest first.
    pub fn mutations_since(&self, since_ms: i64) -> Vec<MutationEvent> {
        let state = self.state();
        state
            .history
            .iter()
            .filter(|e| e.unix_ms() > since_ms)
            .cloned()
            .collect()
    }

    /// The events journal after `since` (at most `limit` records, ascending).
    pub fn journal_since(&self, since: i64, limit: usize) -> Vec<EventRecord> {
        self.state().journal.since(since, limit)
    }

    /// The last journal `seq` written (0 before the first write).
    pub fn journal_head(&self) -> i64 {
        self.state().journal.position().head
    }

    /// The oldest journal `seq` still kept (`head + 1` when none is kept).
    pub fn journal_floor(&self) -> i64 {
        self.state().journal.position().floor
    }

    /// Forgets the journal records with `seq <= through`, as bd's pruner does.
    pub fn prune_journal_through(&self, through: i64) {
        self.state().journal.prune_through(through);
    }

    pub(crate) fn insert_as(&self, actor: &str, mut issue: Issue) {
        let mut state = self.state();
        let kind = if state.issues.contains_key(&issue.id) {
            kind::UPDATE
        } else {
            kind::CREATE
        };
        issue.revision = next_revision(&mut state);
        let event = event_for(kind, &issue, actor);
        let op = if kind == kind::CREATE {
            journal_op::CREATE
        } else {
            journal_op::UPDATE
        };
        state
            .journal
            .append(op, &issue.id, Some(actor), Some(issue.clone()));
        state.issues.insert(issue.id.clone(), issue);
        self.emit(&mut state, event);
    }

    /// A conditional write for bd serve: `change` edits a draft of the bead under the store lock and
    /// may refuse; an unchanged draft writes nothing. `None` if there is no such bead, else the bead
    /// as stored afterwards and whether it was written.
    pub(crate) fn write_if<E>(
        &self,
        actor: &str,
        id: &str,
        change: impl FnOnce(&mut Issue) -> Draft<E>,
    ) -> Option<Result<(Issue, bool), E>> {
        let mut state = self.state();
        let before = state.issues.get(id)?.clone();
        let mut draft = before.clone();
        if let Draft::Refuse(refusal) = change(&mut draft) {
            return Some(Err(refusal));
        }
        if draft == before {
            return Some(Ok((before, false)));
        }
        state.issues.insert(id.to_owned(), draft);
        let after = self.commit_update(&mut state, actor, id, before);
        Some(Ok((after, true)))
    }

    /// Under one lock: the records after `since` and the position, or `Err(position)` when records
    /// after `since` were pruned (`since < floor - 1`).
    pub(crate) fn journal_page(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<(Vec<EventRecord>, Position), Position> {
        let state = self.state();
        let position = state.journal.position();
        if since < position.floor - 1 {
            return Err(position);
        }
        Ok((state.journal.since(since, limit), position))
    }

    /// The journal position and a receiver of its changes, for `events:watch`.
    pub(crate) fn watch_journal(&self) -> (Position, watch::Receiver<Position>) {
        let state = self.state();
        (state.journal.position(), state.journal.subscribe())
    }

    /// [`BeadStore::update`] on behalf of `actor`, returning the bead as changed.
    pub(crate) fn update_as(
        &self,
        actor: &str,
        id: &str,
        change: impl FnOnce(&mut Issue),
    ) -> Option<Issue> {
        let mut state = self.state();
        let issue = state.issues.get_mut(id)?;
        let before = issue.clone();
        change(issue);
        Some(self.commit_update(&mut state, actor, id, before))
    }

    /// Finishes an update of bead `id` (already changed in `state`): timestamps, revision, the
    /// mutation event and the journal record.
    fn commit_update(&self, state: &mut State, actor: &str, id: &str, before: Issue) -> Issue {
        let revision = next_revision(state);
        let Some(issue) = state.issues.get_mut(id) else {
            return before;
        };
        issue.revision = revision;
        let now = Timestamp::now();
        if issue.updated_at == before.updated_at {
            issue.updated_at = now;
        }
        let status_changed = issue.status != before.status;
        if status_changed && issue.closed_at == before.closed_at {
            issue.closed_at = (issue.status == status::CLOSED).then_some(now);
        }
        let after = issue.clone();
        let event = if status_changed {
            let mut event = event_for(kind::STATUS, &after, actor);
            event.old_status = before.status;
            event.new_status = after.status.clone();
            event
        } else {
            event_for(kind::UPDATE, &after, actor)
        };
        // bd-serve-v0.md §3.9: a write that closes the bead is a `close` record.
        let op = if status_changed && after.status == status::CLOSED {
            journal_op::CLOSE
        } else {
            journal_op::UPDATE
        };
        state
            .journal
            .append(op, &after.id, Some(actor), Some(after.clone()));
        self.emit(state, event);
        after
    }

    /// Runs `read` over the beads (ordered by id) without cloning them.
    pub(crate) fn read<R>(&self, read: impl FnOnce(&BTreeMap<String, Issue>) -> R) -> R {
        read(&self.state().issues)
    }

    /// The history newer than `since_ms` plus a receiver of everything after it, taken atomically so a
    /// stream neither misses nor repeats an event.
    pub(crate) fn subscribe_since(
        &self,
        since_ms: Option<i64>,
    ) -> (Vec<MutationEvent>, broadcast::Receiver<StreamItem>) {
        let state = self.state();
        let replay = match since_ms {
            Some(since) => state
                .history
                .iter()
                .filter(|e| e.unix_ms() > since)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        (replay, self.inner.streams.subscribe())
    }

    pub(crate) fn broadcast(&self, item: StreamItem) {
        // No receivers is fine: nobody is streaming.
        let _ = self.inner.streams.send(item);
    }

    fn emit(&self, state: &mut State, mut event: MutationEvent) {
        // Unique, increasing millisecond ids, so that resuming from an id never skips a sibling event
        // that happened in the same millisecond.
        let ms = Timestamp::now()
            .as_millisecond()
            .max(state.last_event_ms + 1);
        state.last_event_ms = ms;
        event.timestamp = Timestamp::from_millisecond(ms).unwrap_or(event.timestamp);
        if state.history.len() == state.history_capacity {
            state.history.pop_front();
        }
        state.history.push_back(event.clone());
        let _ = self
            .inner
            .streams
            .send(StreamItem::Mutation(Arc::new(event)));
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test closure panicking inside `update` must not wedge the daemon.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fresh revision: distinct for every write of the store; signed and unordered on purpose, so a
/// client can only compare it for equality.
// bd-serve-v0.md §3.5: a signed 64-bit decimal, compare for equality only.
fn next_revision(state: &mut State) -> i64 {
    state.revisions += 1;
    (state.revisions as i64).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as i64)
}

/// An event describing `issue`, enriched with its type and labels as the daemon does.
fn event_for(kind: &str, issue: &Issue, actor: &str) -> MutationEvent {
    MutationEvent {
        kind: kind.to_owned(),
        issue_id: issue.id.clone(),
        title: issue.title.clone(),
        assignee: issue.assignee.clone().unwrap_or_default(),
        actor: actor.to_owned(),
        timestamp: Timestamp::now(),
        old_status: String::new(),
        new_status: String::new(),
        parent_id: issue.parent_id().unwrap_or_default().to_owned(),
        step_count: 0,
        issue_type: issue.issue_type.clone(),
        labels: issue.labels.clone(),
        await_type: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(store: &BeadStore) -> Vec<String> {
        store
            .mutations_since(0)
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    #[test]
    fn every_change_emits_a_mutation() {
        let store = BeadStore::default();
        store.insert(Issue::new("gt-1", "one").with_assignee("nux"));
        assert!(store.update("gt-1", |i| i.title = "renamed".into()));
        assert!(store.update("gt-1", |i| i.status = "in_progress".into()));
        assert!(store.close("gt-1"));
        store.insert(Issue::new("gt-1", "replaced"));
        assert!(store.delete("gt-1"));
        assert_eq!(
            kinds(&store),
            ["create", "update", "status", "status", "update", "delete"]
        );

        let events = store.mutations_since(0);
        assert_eq!(events[1].title, "renamed");
        assert_eq!(events[1].assignee, "nux");
        assert_eq!(
            (events[2].old_status.as_str(), events[2].new_status.as_str()),
            ("open", "in_progress")
        );
        assert_eq!(
            (events[3].old_status.as_str(), events[3].new_status.as_str()),
            ("in_progress", "closed")
        );
    }

    #[test]
    fn missing_beads_change_nothing() {
        let store = BeadStore::default();
        assert!(!store.update("gt-x", |_| {}));
        assert!(!store.close("gt-x"));
        assert!(!store.delete("gt-x"));
        assert!(store.mutations_since(0).is_empty());
    }

    #[test]
    fn event_ids_are_unique_and_increasing() {
        let store = BeadStore::default();
        for n in 0..50 {
            store.insert(Issue::new(format!("gt-{n}"), "x"));
        }
        let ms: Vec<i64> = store
            .mutations_since(0)
            .iter()
            .map(MutationEvent::unix_ms)
            .collect();
        assert!(ms.windows(2).all(|w| w[0] < w[1]), "{ms:?}");
        let middle = ms[24];
        assert_eq!(store.mutations_since(middle).len(), 25);
    }

    #[test]
    fn history_is_bounded() {
        let store = BeadStore::new(3);
        for n in 0..5 {
            store.insert(Issue::new(format!("gt-{n}"), "x"));
        }
        let ids: Vec<String> = store
            .mutations_since(0)
            .into_iter()
            .map(|e| e.issue_id)
            .collect();
        assert_eq!(ids, ["gt-2", "gt-3", "gt-4"]);
    }

    #[test]
    fn closing_and_reopening_maintain_closed_at() {
        let store = BeadStore::default();
        store.insert(Issue::new("gt-1", "x"));
        store.close("gt-1");
        assert!(store.get("gt-1").unwrap().closed_at.is_some());
        store.update("gt-1", |i| i.status = "open".into());
        assert!(store.get("gt-1").unwrap().closed_at.is_none());
    }

    #[test]
    fn update_keeps_an_explicit_updated_at() {
        let store = BeadStore::default();
        store.insert(Issue::new("gt-1", "x"));
        let past = Timestamp::from_second(1_600_000_000).unwrap();
        store.update("gt-1", |i| i.updated_at = past);
        assert_eq!(store.get("gt-1").unwrap().updated_at, past);
    }

    #[test]
    fn subscribers_get_the_replay_and_then_live_events() {
        let store = BeadStore::default();
        store.insert(Issue::new("gt-1", "x"));
        let first = store.mutations_since(0)[0].unix_ms();
        store.insert(Issue::new("gt-2", "x"));
        let (replay, mut live) = store.subscribe_since(Some(first));
        assert_eq!(replay.len(), 1);
        assert_eq!(replay[0].issue_id, "gt-2");
        store.insert(Issue::new("gt-3", "x"));
        match live.try_recv().unwrap() {
            StreamItem::Mutation(e) => assert_eq!(e.issue_id, "gt-3"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

//! The events journal over HTTP: `GET /v0/beads/events` (poll) and `GET /v0/beads/events:watch`
//! (SSE, unnamed events with `id: <seq>`).

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::params::{Params, invalid_value};
use super::problem::Problem;
use crate::journal::Position;
use crate::store::BeadStore;

pub(crate) const POLL_PARAMS: [&str; 2] = ["since", "limit"];
pub(crate) const WATCH_PARAMS: [&str; 1] = ["since"];

/// Streams a server keeps open at once; the next is refused with 503 `events_watch_saturated`.
// bd-serve-v0.md §1 (48 watch streams), §3.10
pub const MAX_WATCH_STREAMS: usize = 48;

/// The first frame of every watch stream.
// bd-serve-v0.md §3.10: `retry: 3000` first.
pub(crate) const RETRY_FRAME: &str = "retry: 3000\n\n";
pub(crate) const HEARTBEAT_FRAME: &str = ": heartbeat\n\n";

fn disabled() -> Problem {
    // bd-serve-v0.md §3.9: 409 `events_journal_disabled` (fix the server, never retry).
    Problem::new(
        StatusCode::CONFLICT,
        "events_journal_disabled",
        "the events journal is not enabled on this server",
    )
}

/// 410 `events_journal_truncated` with `since`, `floor`, `head`.
// bd-serve-v0.md §2 (410 members), §3.9
pub(crate) fn truncated(since: i64, position: Position) -> Problem {
    Problem::new(
        StatusCode::GONE,
        "events_journal_truncated",
        "records after since were pruned; resume from floor-1 or re-baseline",
    )
    .with("since", since)
    .with("floor", position.floor)
    .with("head", position.head)
}

/// Whether records after `since` were pruned (the next wanted seq is below the floor).
fn is_truncated(since: i64, position: Position) -> bool {
    since < position.floor - 1
}

fn since(params: &Params) -> Result<i64, Problem> {
    // bd-serve-v0.md §3.9/§3.10: `since` is required, int64 ≥ 0.
    match params.int("since")? {
        Some(since) if since >= 0 => Ok(since),
        Some(since) => Err(invalid_value("since", &since.to_string())),
        None => Err(Problem::invalid(
            "since",
            "invalid_value",
            "since is required",
        )),
    }
}

/// `GET /v0/beads/events?since=N&limit=M` → `{records, head}`.
// bd-serve-v0.md §3.9
pub(crate) fn poll(
    store: &BeadStore,
    params: &Params,
    journal_disabled: bool,
) -> Result<Value, Problem> {
    let since = since(params)?;
    let limit = match params.int("limit")? {
        None => 1000, // §3.9: default 1000
        Some(n @ 1..=10_000) => n as usize,
        Some(n) => return Err(invalid_value("limit", &n.to_string())),
    };
    if journal_disabled {
        return Err(disabled());
    }
    let (records, position) = store
        .journal_page(since, limit)
        .map_err(|position| truncated(since, position))?;
    Ok(json!({"records": records, "head": position.head}))
}

/// Where a watch starts: `Last-Event-ID` (non-empty) beats `since`, which is validated anyway.
// bd-serve-v0.md §3.10
pub(crate) fn watch_start(params: &Params, headers: &HeaderMap) -> Result<i64, Problem> {
    let since = since(params)?;
    let last_event_id = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("\u{0}").trim().to_owned())
        .filter(|v| !v.is_empty());
    match last_event_id {
        None => Ok(since),
        Some(id) => id
            .parse::<i64>()
            .ok()
            .filter(|&n| n >= 0)
            .ok_or_else(|| invalid_value("Last-Event-ID", &id)),
    }
}

/// The refusals a watch gets before any stream byte (journal off, pruned past `start`).
pub(crate) fn watch_refusal(
    store: &BeadStore,
    start: i64,
    journal_disabled: bool,
) -> Option<Problem> {
    if journal_disabled {
        return Some(disabled());
    }
    let (position, _) = store.watch_journal();
    is_truncated(start, position).then(|| truncated(start, position))
}

/// One open watch stream.
pub(crate) struct Watch {
    pub store: BeadStore,
    pub start: i64,
    pub heartbeat: Duration,
    pub request_id: String,
}

fn record_frame(record: &crate::journal::EventRecord) -> String {
    // bd-serve-v0.md §3.10: `id: <seq>` + one-line `data: <EventRecord>`, unnamed.
    let data = serde_json::to_string(record).unwrap_or_default();
    format!("id: {}\ndata: {data}\n\n", record.seq)
}

impl Watch {
    /// Writes the stream into `out` until the client leaves, the server shuts down, or a prune
    /// overtakes it (then `retry: 60000` and `event: truncated` with the 410 problem, and close).
    pub async fn pump(self, out: mpsc::Sender<Bytes>, shutdown: CancellationToken) {
        let send = |text: String| out.send(Bytes::from(text));
        if send(RETRY_FRAME.to_owned()).await.is_err() {
            return;
        }
        let (_, mut changes) = self.store.watch_journal();
        let mut last = self.start;
        let mut idle_until = Instant::now() + self.heartbeat;
        loop {
            changes.borrow_and_update();
            let records = match self.store.journal_page(last, 256) {
                Ok((records, _)) => records,
                Err(position) => {
                    // bd-serve-v0.md §3.10: a prune overtook the stream.
                    let problem = truncated(last, position).into_body(&self.request_id);
                    let _ = send(format!(
                        "retry: 60000\nevent: truncated\ndata: {problem}\n\n"
                    ))
                    .await;
                    return;
                }
            };
            if !records.is_empty() {
                for record in &records {
                    if send(record_frame(record)).await.is_err() {
                        return;
                    }
                    last = record.seq;
                }
                idle_until = Instant::now() + self.heartbeat;
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = out.closed() => return,
                changed = changes.changed() => if changed.is_err() { return },
                _ = sleep_until(idle_until) => {
                    // bd-serve-v0.md §3.10: `: heartbeat` after an idle interval.
                    if send(HEARTBEAT_FRAME.to_owned()).await.is_err() {
                        return;
                    }
                    idle_until = Instant::now() + self.heartbeat;
                }
            }
        }
    }
}

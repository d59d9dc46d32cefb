//! The change feed of `bd serve`: its durable events journal, streamed
//! (`GET /v0/beads/events:watch`, bd-serve-v0.md §3.10) or polled
//! (`GET /v0/beads/events`, §3.9), else periodic relisting (§5 "follow changes").
//!
//! - Position = journal `seq`, gapless per server (§3.9). Every record past the
//!   position is yielded once as [`Change::At`], in order; duplicates across
//!   reconnects are dropped by `seq` (§3.10).
//! - Records written by our own actor (§3.9 `actor`; our writes carry
//!   [`crate::ClientConfig::actor`], §3.7) advance the position silently.
//! - Starting "from now" (`after == None`) asks `GET /v0/beads/events?since=0&limit=1`
//!   for the journal's `head` (§3.9; a 410 carries `head` too) and starts there.
//!   Without `events.list`, the head cannot be learnt without reading the whole
//!   journal, so the feed starts from `since=0` and yields the backlog.
//! - 409 `events_journal_disabled` (§3.9, §3.10): [`Change::Degraded`], then a
//!   [`Change::Relist`] every `relist_interval`, re-probing the journal on each
//!   tick; [`Change::Restored`] when it answers again.
//! - 410 `events_journal_truncated` or an `event: truncated` frame (§3.10): one
//!   `At { floor - 1 }` (the caller relists; `head` when no floor is given), then
//!   the feed resumes from `floor - 1`.
//! - 503 `events_watch_saturated` (§3.10: 48 streams): polls for
//!   `relist_interval`, then tries the stream again.
//! - Other failures are yielded as `Err` and retried with backoff, after
//!   `Retry-After` when given (§2). The SSE `retry:` hints are not followed: the
//!   reconnect delay is this client's backoff.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use tokio::time::Instant;

use super::http::Failure;
use super::wire::{EventRecord, Problem};
use super::{ServeClient, capability, suggests_a_changed_server};
use crate::backend::Change;
use crate::error::BeadsError;
use crate::mutations::{Backoff, with_idle_timeout};

/// Records asked for per poll (§3.9 allows 1–10000; 1000 is its default).
const POLL_LIMIT: u32 = 1000;

/// What a refused journal request means for the feed.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// 409 `events_journal_disabled`: only a server change fixes it.
    Disabled,
    /// 410 `events_journal_truncated`: records past the position were pruned.
    Truncated {
        floor: Option<u64>,
        head: Option<u64>,
    },
    /// 503 `events_watch_saturated`: poll instead.
    Saturated,
    /// Anything else: retried with backoff.
    Other(BeadsError),
}

impl Refusal {
    pub fn from_failure(failure: Failure) -> Self {
        match (failure.error.problem_code(), failure.problem) {
            (Some("events_journal_disabled"), _) => Self::Disabled,
            (Some("events_journal_truncated"), problem) => Self::truncated(problem.as_ref()),
            (Some("events_watch_saturated"), _) => Self::Saturated,
            _ => Self::Other(failure.error),
        }
    }

    fn truncated(problem: Option<&Problem>) -> Self {
        Self::Truncated {
            floor: problem.and_then(|p| p.floor),
            head: problem.and_then(|p| p.head),
        }
    }
}

/// Where the feed resumes after a truncation, and the position to announce:
/// `floor - 1` (§3.9 "resume from floor-1"), else `head`, else where it was.
pub(crate) fn after_truncation(position: u64, floor: Option<u64>, head: Option<u64>) -> u64 {
    floor
        .filter(|floor| *floor >= 1)
        .map(|floor| floor - 1)
        .or(head)
        .unwrap_or(position)
}

/// One SSE frame of `events:watch` (§3.10).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    Record(EventRecord),
    Truncated {
        floor: Option<u64>,
        head: Option<u64>,
    },
    Ignored,
}

pub(crate) fn interpret(frame: &eventsource_stream::Event) -> Frame {
    match frame.event.as_str() {
        // Unnamed events (the parser names them "message") carry one record each.
        "" | "message" => {
            let Ok(data) = serde_json::from_str::<serde_json::Value>(&frame.data) else {
                tracing::warn!("skipping a journal frame whose data is not JSON");
                return Frame::Ignored;
            };
            match EventRecord::from_value(&data) {
                Some(record) => Frame::Record(record),
                None => Frame::Ignored,
            }
        }
        "truncated" => {
            let problem = Problem::parse(frame.data.as_bytes());
            Frame::Truncated {
                floor: problem.as_ref().and_then(|p| p.floor),
                head: problem.as_ref().and_then(|p| p.head),
            }
        }
        other => {
            tracing::debug!(event = other, "skipping an unknown journal frame");
            Frame::Ignored
        }
    }
}

pub(crate) fn stream(
    client: ServeClient,
    after: Option<u64>,
) -> impl Stream<Item = Result<Change, BeadsError>> + Send + 'static {
    async_stream::stream! {
        let config = client.config().mutations.clone();
        let actor = client.config().actor.clone();
        let endpoint = client.endpoint().to_owned();
        let relist = config.relist_interval;
        let mut backoff = Backoff::new(&config);
        let mut position = after;
        let mut degraded = false;
        // Set after a saturated watch: poll until then.
        let mut poll_until: Option<Instant> = None;
        // A reconnect sends `Last-Event-ID` (§3.10).
        let mut reconnect = false;

        loop {
            // Capabilities (cached; refreshed after a failure that suggests a new server).
            let context = match client.context().await {
                Ok(context) => context,
                Err(error) => {
                    yield Err(error);
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            };
            let can_watch = context.has(capability::EVENTS_WATCH);
            let can_poll = context.has(capability::EVENTS_LIST);
            let mut refusal = None;

            if !can_watch && !can_poll {
                if !degraded {
                    degraded = true;
                    yield Ok(Change::Degraded { reason: format!(
                        "the server lists neither events.watch nor events.list; relisting every {}",
                        seconds(relist)
                    ) });
                }
                tokio::time::sleep(relist).await;
                yield Ok(Change::Relist);
                client.forget_context();
                continue;
            }

            let Some(since) = position else {
                if !can_poll {
                    position = Some(0);
                    continue;
                }
                // The journal's head, without reading the journal (§3.9).
                match client.events_raw(0, Some(1)).await {
                    Ok(page) => {
                        position = Some(page.head);
                        if degraded {
                            degraded = false;
                            yield Ok(Change::Restored);
                        }
                    }
                    Err(failure) => match Refusal::from_failure(failure) {
                        Refusal::Truncated { head: Some(head), .. } => position = Some(head),
                        other => refusal = Some(other),
                    },
                }
                if let Some(refusal) = refusal {
                    for await item in refused(refusal, &mut degraded, &mut backoff, relist) {
                        yield item;
                    }
                }
                continue;
            };

            let watch = can_watch && poll_until.is_none_or(|until| Instant::now() >= until);
            if watch {
                poll_until = None;
                let url = client.http().url(
                    &["v0", "beads", "events:watch"],
                    &vec![("since", since.to_string())],
                );
                let last_event_id = reconnect.then_some(since);
                match client.http().open_stream("events:watch", url, last_event_id).await {
                    Ok(response) => {
                        reconnect = true;
                        tracing::debug!(%endpoint, since, "journal watch connected");
                        if degraded {
                            degraded = false;
                            yield Ok(Change::Restored);
                        }
                        let frames = with_idle_timeout(Box::pin(response.bytes_stream()), config.idle_timeout).eventsource();
                        futures::pin_mut!(frames);
                        let mut progressed = false;
                        while let Some(frame) = frames.next().await {
                            let frame = match frame {
                                Ok(frame) => frame,
                                Err(error) => {
                                    tracing::debug!(%endpoint, %error, "journal watch broke; resuming");
                                    break;
                                }
                            };
                            match interpret(&frame) {
                                Frame::Record(record) => {
                                    let current = position.unwrap_or(0);
                                    if record.seq <= current {
                                        continue;
                                    }
                                    position = Some(record.seq);
                                    progressed = true;
                                    if record.actor.as_deref() != Some(actor.as_str()) {
                                        yield Ok(Change::At { position: record.seq });
                                    }
                                }
                                Frame::Truncated { floor, head } => {
                                    let current = position.unwrap_or(0);
                                    let resume = after_truncation(current, floor, head);
                                    tracing::info!(%endpoint, current, resume, "journal pruned past the watch; relist");
                                    position = Some(resume);
                                    yield Ok(Change::At { position: resume });
                                    progressed = true;
                                    break;
                                }
                                Frame::Ignored => {}
                            }
                        }
                        if progressed {
                            backoff.reset();
                        }
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                    Err(failure) => match Refusal::from_failure(failure) {
                        Refusal::Other(error) if suggests_a_changed_server(&error) => {
                            // e.g. 404 on the route: ask for the capabilities again.
                            client.forget_context();
                            refusal = Some(Refusal::Other(error));
                        }
                        Refusal::Saturated if can_poll => {
                            tracing::info!(%endpoint, "journal watch saturated; polling");
                            poll_until = Some(Instant::now() + relist);
                        }
                        other => refusal = Some(other),
                    },
                }
            } else {
                match client.events_raw(since, Some(POLL_LIMIT)).await {
                    Ok(page) => {
                        backoff.reset();
                        if degraded {
                            degraded = false;
                            yield Ok(Change::Restored);
                        }
                        let mut last = since;
                        for record in page.records {
                            if record.seq <= last {
                                continue;
                            }
                            last = record.seq;
                            if record.actor.as_deref() != Some(actor.as_str()) {
                                yield Ok(Change::At { position: record.seq });
                            }
                        }
                        position = Some(last);
                        // Caught up when the last seq is the head (§3.9).
                        if last >= page.head {
                            tokio::time::sleep(config.poll_interval).await;
                        }
                    }
                    Err(failure) => refusal = Some(Refusal::from_failure(failure)),
                }
            }

            match refusal {
                Some(Refusal::Truncated { floor, head }) => {
                    let current = position.unwrap_or(0);
                    let resume = after_truncation(current, floor, head);
                    tracing::info!(%endpoint, current, resume, "journal pruned past our position; relist");
                    if resume > current {
                        yield Ok(Change::At { position: resume });
                    }
                    position = Some(resume);
                    reconnect = false;
                }
                Some(refusal) => {
                    for await item in refused(refusal, &mut degraded, &mut backoff, relist) {
                        yield item;
                    }
                }
                None => {}
            }
        }
    }
}

/// What the feed yields for a refusal other than a truncation, and the wait
/// before the next try.
fn refused<'a>(
    refusal: Refusal,
    degraded: &'a mut bool,
    backoff: &'a mut Backoff,
    relist: Duration,
) -> impl Stream<Item = Result<Change, BeadsError>> + Send + 'a {
    async_stream::stream! {
        match refusal {
            Refusal::Disabled => {
                if !*degraded {
                    *degraded = true;
                    yield Ok(Change::Degraded { reason: format!(
                        "the server's events journal is off (409 events_journal_disabled); relisting every {}",
                        seconds(relist)
                    ) });
                }
                tokio::time::sleep(relist).await;
                yield Ok(Change::Relist);
            }
            Refusal::Saturated | Refusal::Truncated { .. } => {
                // Saturated without events.list to poll: wait and try the stream again.
                tokio::time::sleep(backoff.next_delay().max(Duration::from_secs(1))).await;
            }
            Refusal::Other(error) => {
                let delay = error.retry_after().unwrap_or_else(|| backoff.next_delay());
                yield Err(error);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

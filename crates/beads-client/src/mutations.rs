//! The mutation stream: SSE on `GET /events`, or polling `get_mutations` where SSE
//! is not available (TCP transport, or a daemon answering 404 on `/events`).
//!
//! Guarantees:
//! - never ends on its own; drop it to stop;
//! - a failed (re)connection or poll is yielded as an `Err` item and retried with
//!   exponential backoff; an established SSE stream that ends is resumed quietly;
//! - after a reconnect, events resume after the last one delivered, with none
//!   repeated and none lost (see [`MutationCursor`]); a stream started "from now"
//!   first takes the daemon's buffered events as its starting point, so a reconnect
//!   before the first event loses nothing either;
//! - keepalive comments, unknown event types, unknown fields and lines that are
//!   not events are skipped.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};

use crate::client::{BeadsClient, MutationStreamConfig};
use crate::error::BeadsError;
use crate::model::{MutationCursor, MutationEvent, Positioned};
use crate::transport::{EventsAnswer, Transport};

/// The SSE event name of mutations; other event names are skipped.
const MUTATION_EVENT: &str = "mutation";

pub(crate) fn stream(
    client: BeadsClient,
    since: Option<u64>,
) -> impl Stream<Item = Result<MutationEvent, BeadsError>> + Send + 'static {
    async_stream::stream! {
        let config = client.config().mutations.clone();
        let mut cursor = MutationCursor::new(since);
        let mut backoff = Backoff::new(&config);
        // Cleared when the daemon turns out to have no `/events`.
        let mut sse_available = true;

        // "From now" needs a position that survives reconnects: take the daemon's
        // buffered events as already seen. If that fails, SSE without `since` still
        // delivers live events, and polling retries the baseline itself.
        if matches!(cursor, MutationCursor::Live) {
            match client.get_mutations_raw(0).await {
                Ok(backlog) => cursor.skip_backlog(&backlog),
                Err(error) => tracing::debug!(%error, "no mutation baseline; starting live"),
            }
        }

        loop {
            let sse = match client.transport() {
                Transport::Http(http) if sse_available => Some(http),
                _ => None,
            };
            if let Some(http) = sse {
                // The daemon replays only for a positive `since`; 1 ms after the epoch
                // asks for everything it still holds.
                let since = cursor.resume_since().map(|since| since.max(1));
                match http.open_events(since).await {
                    Ok(EventsAnswer::Stream(response)) => {
                        tracing::debug!(endpoint = %client.endpoint(), ?since, "mutation stream connected");
                        let frames = with_idle_timeout(Box::pin(response.bytes_stream()), config.idle_timeout).eventsource();
                        futures::pin_mut!(frames);
                        let mut delivered_any = false;
                        while let Some(frame) = frames.next().await {
                            match frame {
                                Ok(frame) => {
                                    if let Some(event) = admit_frame(&mut cursor, &frame) {
                                        delivered_any = true;
                                        yield Ok(event);
                                    }
                                }
                                Err(error) => {
                                    tracing::warn!(endpoint = %client.endpoint(), %error, "mutation stream broke; resuming");
                                    break;
                                }
                            }
                        }
                        // A stream that delivered events was healthy: start over with
                        // short delays. One that closed at once keeps backing off.
                        if delivered_any {
                            backoff.reset();
                        }
                    }
                    Ok(EventsAnswer::NotAvailable) => {
                        tracing::info!(endpoint = %client.endpoint(), "daemon has no /events; polling get_mutations");
                        sse_available = false;
                        continue;
                    }
                    Err(error) => yield Err(error),
                }
                tokio::time::sleep(backoff.next_delay()).await;
            } else {
                match client.get_mutations_raw(cursor.resume_since().unwrap_or(0)).await {
                    Ok(batch) => {
                        backoff.reset();
                        if matches!(cursor, MutationCursor::Live) {
                            cursor.skip_backlog(&batch);
                        } else {
                            for positioned in batch {
                                if cursor.admit(&positioned) {
                                    yield Ok(positioned.event);
                                }
                            }
                        }
                        tokio::time::sleep(config.poll_interval).await;
                    }
                    Err(error) => {
                        yield Err(error);
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                }
            }
        }
    }
}

/// Decodes one SSE frame; `None` for keepalives, other event types, garbage and
/// events already delivered.
fn admit_frame(
    cursor: &mut MutationCursor,
    frame: &eventsource_stream::Event,
) -> Option<MutationEvent> {
    if frame.event != MUTATION_EVENT {
        if !frame.event.is_empty() || !frame.data.is_empty() {
            tracing::debug!(event = %frame.event, "skipping a non-mutation SSE event");
        }
        return None;
    }
    let data: serde_json::Value = match serde_json::from_str(&frame.data) {
        Ok(data) => data,
        Err(error) => {
            tracing::warn!(%error, "skipping an SSE mutation whose data is not JSON");
            return None;
        }
    };
    let id = (!frame.id.is_empty()).then_some(frame.id.as_str());
    let positioned = Positioned::decode(&data, id)?;
    cursor.admit(&positioned).then_some(positioned.event)
}

/// Ends the byte stream with an error when nothing (not even a keepalive) arrives
/// for `idle`, so a half-dead connection is replaced.
pub(crate) fn with_idle_timeout<S, E>(
    bytes: S,
    idle: Duration,
) -> impl Stream<Item = Result<bytes::Bytes, IdleOrTransport<E>>>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
{
    futures::stream::unfold(Some(bytes), move |state| async move {
        let mut bytes = state?;
        match tokio::time::timeout(idle, bytes.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(bytes))),
            Ok(Some(Err(error))) => Some((Err(IdleOrTransport::Transport(error)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(IdleOrTransport::Idle(idle)), None)),
        }
    })
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum IdleOrTransport<E> {
    #[error("no data for {0:?}")]
    Idle(Duration),
    #[error("{0}")]
    Transport(E),
}

/// Exponential reconnect delays with jitter, restartable.
pub(crate) struct Backoff {
    builder: ExponentialBuilder,
    delays: backon::ExponentialBackoff,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(config: &MutationStreamConfig) -> Self {
        let builder = ExponentialBuilder::default()
            .with_min_delay(config.reconnect_min_delay)
            .with_max_delay(config.reconnect_max_delay)
            .with_jitter()
            .without_max_times();
        Self {
            builder,
            delays: builder.build(),
            max: config.reconnect_max_delay,
        }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.max)
    }

    pub(crate) fn reset(&mut self) {
        self.delays = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(event: &str, id: &str, data: &str) -> eventsource_stream::Event {
        eventsource_stream::Event {
            event: event.into(),
            id: id.into(),
            data: data.into(),
            retry: None,
        }
    }

    #[test]
    fn frames_other_than_mutations_are_skipped() {
        let mut cursor = MutationCursor::new(None);
        assert!(admit_frame(&mut cursor, &frame("heartbeat", "1", "{}")).is_none());
        assert!(admit_frame(&mut cursor, &frame("mutation", "2", "{not json")).is_none());
        assert!(admit_frame(&mut cursor, &frame("mutation", "3", "[1,2]")).is_none());
        let event = admit_frame(
            &mut cursor,
            &frame("mutation", "4", r#"{"Type":"create","IssueID":"gt-1"}"#),
        )
        .expect("a mutation");
        assert_eq!((event.id, event.issue_id.as_str()), (4, "gt-1"));
        assert!(
            admit_frame(
                &mut cursor,
                &frame("mutation", "4", r#"{"Type":"create","IssueID":"gt-1"}"#)
            )
            .is_none(),
            "a replayed frame is not delivered twice"
        );
    }

    #[tokio::test]
    async fn sse_parsing_survives_keepalives_and_garbage_lines() {
        let wire = concat!(
            ": keepalive\n\n",
            "this line is garbage\n\n",
            "id: 100\nevent: mutation\ndata: {\"Type\":\"update\",\"IssueID\":\"gt-a\",\"extra\":1}\n\n",
            "event: surprise\ndata: {}\n\n",
            "id: 101\nevent: mutation\ndata: {\"Type\":\"delete\",\"IssueID\":\"gt-b\"}\n\n",
        );
        // Split at awkward places, as TCP may.
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = wire
            .as_bytes()
            .chunks(7)
            .map(|chunk| Ok(bytes::Bytes::copy_from_slice(chunk)))
            .collect();
        let frames: Vec<_> = futures::stream::iter(chunks).eventsource().collect().await;
        let mut cursor = MutationCursor::new(None);
        let events: Vec<_> = frames
            .iter()
            .map(|frame| frame.as_ref().expect("parses"))
            .filter_map(|frame| admit_frame(&mut cursor, frame))
            .map(|event| (event.id, event.issue_id))
            .collect();
        assert_eq!(
            events,
            vec![(100, "gt-a".to_owned()), (101, "gt-b".to_owned())]
        );
    }

    #[tokio::test]
    async fn silence_ends_the_byte_stream() {
        let silent = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
        let guarded = with_idle_timeout(silent, Duration::from_millis(20));
        futures::pin_mut!(guarded);
        assert!(matches!(
            guarded.next().await,
            Some(Err(IdleOrTransport::Idle(_)))
        ));
        assert!(guarded.next().await.is_none());
    }
}

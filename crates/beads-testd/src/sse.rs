//! The `GET /events` stream: replay after `since`, then live mutations, keepalive comments, and the
//! raw injections and cuts that [`crate::Faults`] can ask for.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};
use tokio::time::{Instant, interval_at};
use tokio_util::sync::CancellationToken;

use crate::mutation::{EventFilter, MutationEvent};
use crate::store::StreamItem;

/// The comment line sent when nothing else happened for a keepalive interval.
pub(crate) const KEEPALIVE: &str = ": keepalive\n\n";

/// A line that is not SSE at all, for the "malformed" fault.
pub(crate) const GARBAGE: &str = "\u{1}this is not a server-sent event {\"Type\":\n\n";

/// One `mutation` frame: `id: <unix ms>`, `event: mutation`, `data: <json>`.
pub(crate) fn frame(event: &MutationEvent) -> String {
    let data = serde_json::to_string(event).unwrap_or_default();
    format!("id: {}\nevent: mutation\ndata: {data}\n\n", event.unix_ms())
}

/// What one stream sends, decided when the client connected.
pub(crate) struct Stream {
    pub replay: Vec<MutationEvent>,
    pub live: broadcast::Receiver<StreamItem>,
    pub filter: EventFilter,
    pub keepalive: Duration,
    pub garbage_first: bool,
}

impl Stream {
    /// Writes the stream into `out` until the client goes away, the daemon shuts down, a cut is
    /// requested, or the client falls too far behind (it then resumes with `since`, losing nothing).
    pub async fn pump(mut self, out: mpsc::Sender<Bytes>, shutdown: CancellationToken) {
        let send = |text: String| out.send(Bytes::from(text));
        if self.garbage_first && send(GARBAGE.to_owned()).await.is_err() {
            return;
        }
        for event in self.replay.iter().filter(|e| self.filter.matches(e)) {
            if send(frame(event)).await.is_err() {
                return;
            }
        }
        let mut keepalive = interval_at(Instant::now() + self.keepalive, self.keepalive);
        loop {
            let text = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = out.closed() => return,
                _ = keepalive.tick() => KEEPALIVE.to_owned(),
                item = self.live.recv() => match item {
                    Ok(StreamItem::Mutation(event)) if self.filter.matches(&event) => frame(&event),
                    Ok(StreamItem::Mutation(_)) => continue,
                    Ok(StreamItem::Raw(text)) => text,
                    Ok(StreamItem::Disconnect) | Err(_) => return,
                },
            };
            if send(text).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::Issue;
    use crate::store::BeadStore;

    #[test]
    fn frames_carry_the_millisecond_id() {
        let store = BeadStore::default();
        store.insert(Issue::new("gt-1", "one"));
        let event = store.mutations_since(0).remove(0);
        let text = frame(&event);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(format!("id: {}", event.unix_ms()).as_str())
        );
        assert_eq!(lines.next(), Some("event: mutation"));
        let data: serde_json::Value =
            serde_json::from_str(lines.next().unwrap().strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(data["IssueID"], "gt-1");
        assert_eq!(data["Type"], "create");
        assert!(text.ends_with("\n\n"));
    }

    #[tokio::test]
    async fn pump_replays_filters_streams_and_stops_on_cut() {
        let store = BeadStore::default();
        store.insert(Issue::new("gt-1", "one"));
        store.insert(Issue::new("gt-2", "two"));
        let (replay, live) = store.subscribe_since(Some(0));
        let stream = Stream {
            replay,
            live,
            filter: EventFilter::parse("issue:gt-2"),
            keepalive: Duration::from_secs(3600),
            garbage_first: true,
        };
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(stream.pump(tx, CancellationToken::new()));
        store.insert(Issue::new("gt-3", "three"));
        store.update("gt-2", |i| i.title = "two!".into());
        store.broadcast(StreamItem::Raw("event: mystery\ndata: {}\n\n".into()));
        store.broadcast(StreamItem::Disconnect);
        task.await.unwrap();

        let mut received = Vec::new();
        while let Some(chunk) = rx.recv().await {
            received.push(String::from_utf8(chunk.to_vec()).unwrap());
        }
        assert_eq!(received.len(), 4, "{received:?}");
        assert_eq!(received[0], GARBAGE);
        assert!(
            received[1].contains("\"IssueID\":\"gt-2\"")
                && received[1].contains("\"Type\":\"create\"")
        );
        assert!(received[2].contains("\"Title\":\"two!\""));
        assert_eq!(received[3], "event: mystery\ndata: {}\n\n");
    }
}

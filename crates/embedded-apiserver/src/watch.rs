//! Watch streams: initial events, live events filtered by namespace and
//! selectors, bookmarks, timeouts, 410 Gone, and forced closing.

use crate::errors::ApiError;
use crate::events;
use crate::registry::{ResourceKey, Served};
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::AppState;
use crate::store::{Event, EventType, Since, TooOld};
use crate::table::{self, IncludeObject};
use bytes::Bytes;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// A parsed watch request.
pub struct WatchRequest {
    /// The resource as requested: what events look like.
    pub served: Arc<Served>,
    /// Where its objects are stored.
    pub storage: ResourceKey,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub since: Since,
    /// `sendInitialEvents=true`: end the initial events with a marked bookmark.
    pub send_initial_events: bool,
    pub bookmarks: bool,
    pub timeout: Duration,
    /// `Accept: ...;as=Table` (`kubectl get --watch`): objects go out as one-row Tables.
    pub table: Option<IncludeObject>,
    /// `Accept: ...;as=PartialObjectMetadata`: objects go out as their metadata.
    pub metadata_only: bool,
}

/// Turns changed objects into event lines, as objects or as Table rows.
struct Encoder<'a> {
    request: &'a WatchRequest,
    /// Column definitions go out with the first Table only, like upstream.
    columns_sent: bool,
}

impl Encoder<'_> {
    fn event(&mut self, event_type: &str, stored: &Value) -> Bytes {
        if self.request.metadata_only {
            return frame(event_type, &crate::metadata_only::object(stored));
        }
        let object = events::present(&self.request.served, stored);
        let Some(include) = self.request.table else {
            return frame(event_type, &crate::ordered::Ordered(&object));
        };
        let metadata = json!({ "resourceVersion": object["metadata"]["resourceVersion"] });
        let info = &self.request.served.info;
        let mut table = table::render(info, &[object.into_owned()], metadata, include);
        if self.columns_sent {
            table["columnDefinitions"] = json!([]);
        }
        self.columns_sent = true;
        frame(event_type, &table)
    }
}

impl WatchRequest {
    fn visible(&self, object: &Value) -> bool {
        let in_namespace = self.namespace.as_deref().is_none_or(|ns| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(ns)
        });
        in_namespace && self.labels.matches_object(object) && self.fields.matches_object(object)
    }

    /// The event type this watcher sees for a change, if any: objects moving
    /// into or out of its selection appear as ADDED or DELETED.
    fn project(&self, event: &Event) -> Option<EventType> {
        match event.event_type {
            EventType::Added => self.visible(&event.object).then_some(EventType::Added),
            EventType::Deleted => {
                let last = event.previous.as_deref().unwrap_or(&event.object);
                self.visible(last).then_some(EventType::Deleted)
            }
            EventType::Modified => {
                let now = self.visible(&event.object);
                let before = event.previous.as_deref().is_some_and(|p| self.visible(p));
                match (before, now) {
                    (true, true) => Some(EventType::Modified),
                    (false, true) => Some(EventType::Added),
                    (true, false) => Some(EventType::Deleted),
                    (false, false) => None,
                }
            }
        }
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({ "resourceVersion": rv.to_string() });
        if initial_events_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let (kind, api_version) = if self.metadata_only {
            (
                "PartialObjectMetadata".to_owned(),
                crate::metadata_only::API_VERSION.to_owned(),
            )
        } else {
            (
                self.served.info.kind.clone(),
                self.served.info.api_version(),
            )
        };
        let object = json!({ "kind": kind, "apiVersion": api_version, "metadata": metadata });
        frame("BOOKMARK", &object)
    }
}

fn frame(event_type: &str, object: &impl serde::Serialize) -> Bytes {
    #[derive(serde::Serialize)]
    struct Frame<'a, T: serde::Serialize> {
        #[serde(rename = "type")]
        event_type: &'a str,
        object: &'a T,
    }
    let mut line = serde_json::to_vec(&Frame { event_type, object }).expect("events serialize");
    line.push(b'\n');
    Bytes::from(line)
}

fn gone(too_old: TooOld) -> Bytes {
    let status = ApiError::Gone {
        requested: too_old.requested,
        oldest: too_old.oldest,
    }
    .status();
    frame("ERROR", &status)
}

type Sink = mpsc::Sender<Result<Bytes, Infallible>>;

/// Starts the watch; the returned receiver yields the response body's chunks.
pub fn start(
    app: Arc<AppState>,
    request: WatchRequest,
) -> mpsc::Receiver<Result<Bytes, Infallible>> {
    let (sink, body) = mpsc::channel(64);
    tokio::spawn(async move {
        // Ends when the client goes away (send fails), on timeout, or when closed.
        let _ = run(app, request, sink).await;
    });
    body
}

struct Closed;

async fn send(sink: &Sink, chunk: Bytes) -> Result<(), Closed> {
    sink.send(Ok(chunk)).await.map_err(|_| Closed)
}

async fn run(app: Arc<AppState>, request: WatchRequest, sink: Sink) -> Result<(), Closed> {
    let key = request.storage.clone();
    let mut close = app.close_watches.subscribe();
    let subscription =
        app.cluster
            .lock()
            .store
            .subscribe(&key, request.since, request.namespace.as_deref());
    let subscription = match subscription {
        Ok(subscription) => subscription,
        Err(too_old) => return send(&sink, gone(too_old)).await,
    };
    let mut receiver = subscription.receiver;
    let start = match request.since {
        Since::After(rv) => rv,
        Since::Now => 0,
    };
    let mut encoder = Encoder {
        request: &request,
        columns_sent: false,
    };
    let mut cursor = Cursor {
        processed: start,
        sent: start,
    };
    match request.since {
        // The current state, in key order: versions are not monotonic here.
        Since::Now => {
            for event in &subscription.backlog {
                if request.visible(&event.object) {
                    send(&sink, encoder.event("ADDED", &event.object)).await?;
                }
            }
            cursor = Cursor {
                processed: subscription.rv,
                sent: subscription.rv,
            };
        }
        Since::After(_) => {
            for event in &subscription.backlog {
                emit(&mut encoder, &sink, event, &mut cursor).await?;
            }
        }
    }
    if request.send_initial_events {
        send(&sink, request.bookmark(subscription.rv, true)).await?;
    }
    let deadline = tokio::time::sleep(request.timeout);
    tokio::pin!(deadline);
    let mut bookmarks = tokio::time::interval(app.bookmark_interval);
    bookmarks.tick().await;
    loop {
        tokio::select! {
            received = receiver.recv() => match received {
                Ok(event) => emit(&mut encoder, &sink, &event, &mut cursor).await?,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Fell behind the channel: catch up from history, or get 410 like upstream.
                    let caught_up = {
                        let mut cluster = app.cluster.lock();
                        cluster.store.events_after(&key, cursor.processed).map(|events| (events, cluster.store.resubscribe(&key)))
                    };
                    match caught_up {
                        Ok((events, Some(fresh))) => {
                            receiver = fresh;
                            for event in &events {
                                emit(&mut encoder, &sink, event, &mut cursor).await?;
                            }
                        }
                        Ok((_, None)) => return Ok(()),
                        Err(too_old) => return send(&sink, gone(too_old)).await,
                    }
                }
                // The resource stopped being served (its CRD was deleted).
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = bookmarks.tick(), if request.bookmarks => {
                // Take what is queued and the store's version under the lock, so the
                // bookmark never runs ahead of an event this watcher has yet to send.
                let (pending, rv) = {
                    let cluster = app.cluster.lock();
                    let mut pending = Vec::new();
                    while let Ok(event) = receiver.try_recv() {
                        pending.push(event);
                    }
                    (pending, cluster.store.current_rv())
                };
                for event in &pending {
                    emit(&mut encoder, &sink, event, &mut cursor).await?;
                }
                // Progress the client has not heard of, even if every change was filtered out.
                if rv > cursor.sent {
                    cursor = Cursor { processed: rv, sent: rv };
                    send(&sink, request.bookmark(rv, false)).await?;
                }
            },
            _ = &mut deadline => return Ok(()),
            _ = close.changed() => return Ok(()),
        }
    }
}

/// How far a watch has got: events up to `processed` were looked at, and the
/// client knows of progress up to `sent` (events or bookmarks it was sent).
#[derive(Clone, Copy)]
struct Cursor {
    processed: u64,
    sent: u64,
}

async fn emit(
    encoder: &mut Encoder<'_>,
    sink: &Sink,
    event: &Event,
    cursor: &mut Cursor,
) -> Result<(), Closed> {
    // Already looked at (replayed from history after the channel lagged).
    if event.rv <= cursor.processed {
        return Ok(());
    }
    cursor.processed = event.rv;
    if let Some(event_type) = encoder.request.project(event) {
        send(sink, encoder.event(event_type.as_str(), &event.object)).await?;
        cursor.sent = event.rv;
    }
    Ok(())
}

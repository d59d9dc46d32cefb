//! beads as a trigger: one change stream per town (the daemon's mutations,
//! or `bd serve`'s event journal), each burst of changes turned into one
//! reconcile of that town.
//!
//! The GasTown reconcile refreshes the town's beads view; a changed view is
//! announced to the town's rigs and pools (see [`crate::beads_view`]), so a
//! bead change reaches every controller through the town. Streams follow the
//! towns in the cache: started for a new town, restarted when the town's
//! daemon connection changes (endpoint, token Secret), stopped when it goes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use beads_client::Change;
use futures::{Stream, StreamExt};
use gastown_api::GasTown;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::beads_view::TownKey;
use crate::context::Context;
use crate::controllers::town::dereference::refresh_beads;

/// How often the streams are checked against the cache even when no town
/// changed (a rotated token Secret changes no town).
const RECHECK_INTERVAL: Duration = Duration::from_secs(15);
/// Wait before retrying a town whose daemon client cannot be built.
const CONNECT_RETRY: Duration = Duration::from_secs(5);

/// What identifies a town's daemon connection: a stream is restarted exactly
/// when this changes.
pub fn connection_key(
    town: &GasTown,
    daemon_override: Option<&str>,
    token_secret_version: Option<&str>,
) -> String {
    let daemon = serde_json::to_string(&town.spec.daemon).unwrap_or_default();
    format!(
        "{}|{daemon}|{}",
        daemon_override.unwrap_or_default(),
        token_secret_version.unwrap_or_default()
    )
}

/// Which streams to stop and which to start so that `running` becomes `desired`
/// (both: town → connection key). A town whose key changed is in both.
pub fn plan(
    running: &BTreeMap<TownKey, String>,
    desired: &BTreeMap<TownKey, String>,
) -> (BTreeSet<TownKey>, BTreeSet<TownKey>) {
    let stop = running
        .iter()
        .filter(|(town, key)| desired.get(*town) != Some(*key))
        .map(|(town, _)| town.clone())
        .collect();
    let start = desired
        .iter()
        .filter(|(town, key)| running.get(*town) != Some(*key))
        .map(|(town, _)| town.clone())
        .collect();
    (stop, start)
}

struct Follower {
    key: String,
    task: JoinHandle<()>,
}

/// Keeps one mutation stream per cached town until `stop` is cancelled.
/// `town_changes` yields each town that changed: only that town's stream is
/// looked at then (looking at every town on every town's change cost the
/// square of the towns); every town is looked at every [`RECHECK_INTERVAL`].
pub async fn supervise<S>(
    ctx: Arc<Context>,
    town_changes: S,
    trigger: mpsc::Sender<ObjectRef<GasTown>>,
    stop: CancellationToken,
) where
    S: Stream<Item = Arc<GasTown>> + Send,
{
    let mut followers: BTreeMap<TownKey, Follower> = BTreeMap::new();
    // Where each town's stream got to, so that a restarted stream resumes there.
    let mut positions: BTreeMap<TownKey, Arc<AtomicU64>> = BTreeMap::new();
    let mut recheck = tokio::time::interval(RECHECK_INTERVAL);
    let mut town_changes = std::pin::pin!(town_changes);
    loop {
        // `None`: every town; else the one that changed.
        let only: Option<TownKey> = tokio::select! {
            () = stop.cancelled() => break,
            _ = recheck.tick() => None,
            change = town_changes.next() => match change {
                None => break,
                Some(town) => Some((town.namespace().unwrap_or_default(), town.name_any())),
            },
        };
        let towns: BTreeMap<TownKey, Arc<GasTown>> = match &only {
            None => ctx
                .cache
                .towns
                .state()
                .into_iter()
                .map(|town| {
                    (
                        (town.namespace().unwrap_or_default(), town.name_any()),
                        town,
                    )
                })
                .collect(),
            Some(key) => ctx
                .cache
                .towns
                .get(&ObjectRef::new(&key.1).within(&key.0))
                .map(|town| (key.clone(), town))
                .into_iter()
                .collect(),
        };
        let desired: BTreeMap<TownKey, String> = towns
            .iter()
            .map(|(key, town)| (key.clone(), key_of(&ctx, town)))
            .collect();
        let running = followers
            .iter()
            .filter(|(town, _)| only.as_ref().is_none_or(|only| only == *town))
            .map(|(town, follower)| (town.clone(), follower.key.clone()))
            .collect();
        let (to_stop, to_start) = plan(&running, &desired);
        for town in to_stop {
            if let Some(follower) = followers.remove(&town) {
                follower.task.abort();
            }
            if !desired.contains_key(&town) {
                positions.remove(&town);
            }
        }
        for town in to_start {
            let position = positions.entry(town.clone()).or_default().clone();
            let task = tokio::spawn(follow(
                ctx.clone(),
                towns[&town].clone(),
                trigger.clone(),
                position,
            ));
            followers.insert(
                town.clone(),
                Follower {
                    key: desired[&town].clone(),
                    task,
                },
            );
        }
    }
    for follower in followers.into_values() {
        follower.task.abort();
    }
}

fn key_of(ctx: &Context, town: &GasTown) -> String {
    let namespace = town.namespace().unwrap_or_default();
    let secret_version = town
        .spec
        .daemon
        .token_secret_ref
        .as_ref()
        .and_then(|secret| {
            ctx.cache
                .secrets
                .get(&ObjectRef::new(&secret.name).within(&namespace))
        })
        .and_then(|secret| secret.metadata.resource_version.clone());
    connection_key(
        town,
        ctx.settings.daemon_override.as_deref(),
        secret_version.as_deref(),
    )
}

/// What the town's status says of a working change stream.
pub const FEED_STREAMING: &str = "stream";

/// Follows one town's change stream, reading beads once per burst of
/// changes and publishing the view (which wakes the town, its rigs and its
/// pools when it differs); the town itself is triggered for what its status
/// says of the stream.
///
/// `position` is the checkpoint a restarted stream resumes from. It moves to
/// a change only once beads has been read after it: a change is never
/// skipped because the operator went away between receiving it and acting
/// on it.
async fn follow(
    ctx: Arc<Context>,
    town: Arc<GasTown>,
    trigger: mpsc::Sender<ObjectRef<GasTown>>,
    position: Arc<AtomicU64>,
) {
    let town_ref = ObjectRef::from_obj(town.as_ref());
    let key: TownKey = (town.namespace().unwrap_or_default(), town.name_any());
    let client = loop {
        match ctx.beads_for(&town).await {
            Ok(client) => break client,
            Err(error) => {
                tracing::warn!(town = %town_ref, %error, "cannot follow the town's beads; retrying");
                tokio::time::sleep(CONNECT_RETRY).await;
            }
        }
    };
    let since = match position.load(Ordering::Relaxed) {
        0 => None,
        id => Some(id),
    };
    tracing::debug!(town = %town_ref, endpoint = %client.endpoint(), ?since, "following beads changes");
    let bursts = super::bursts::bursts(client.changes(since));
    let mut bursts = std::pin::pin!(bursts);
    // The newest change handed to a reconcile, and when it was handed over.
    let mut pending: Option<(u64, Timestamp)> = None;
    while let Some(burst) = bursts.next().await {
        if let Some((at, sent)) = pending
            && ctx
                .beads_views
                .get(&key.0, &key.1)
                .is_some_and(|view| view.fetched_at >= sent)
        {
            position.fetch_max(at, Ordering::Relaxed);
            pending = None;
        }
        let mut received = 0;
        let mut relist = false;
        // Whether what the town's status says of its stream changed.
        let mut feed_changed = false;
        let mut newest = None;
        for item in burst {
            match item {
                Ok(Change::At { position: at }) => {
                    received += 1;
                    newest = newest.max(Some(at));
                }
                Ok(Change::Relist) => {
                    tracing::debug!(town = %town_ref, "relisting beads");
                    relist = true;
                }
                Ok(Change::Degraded { reason }) => {
                    tracing::warn!(town = %town_ref, %reason, "no change stream from beads");
                    feed_changed |= ctx.beads_feeds.set(&key, reason);
                }
                Ok(Change::Restored) => {
                    feed_changed |= ctx.beads_feeds.set(&key, FEED_STREAMING.into());
                }
                // The stream retries by itself; the town's periodic sync
                // covers what is missed meanwhile.
                Err(error) => tracing::debug!(town = %town_ref, %error, "beads change stream"),
            }
        }
        if received > 0 {
            ctx.metrics.beads_events.inc_by(received);
            feed_changed |= ctx.beads_feeds.set(&key, FEED_STREAMING.into());
        }
        if received == 0 && !relist && !feed_changed {
            continue;
        }
        // The view fetched before these changes no longer stands.
        ctx.beads_views.changed(&key.0, &key.1);
        let sent = Timestamp::now();
        if let Some(at) = newest {
            let at = pending.map_or(at, |(older, _)| older.max(at));
            pending = Some((at, sent));
        }
        // Read beads now, for whoever acts on the change: a view that differs
        // from the last wakes the town, its rigs and its pools (a polecat
        // spawn reaches its pool without waiting for the town's reconcile).
        let town = ctx
            .cache
            .towns
            .get(&town_ref)
            .unwrap_or_else(|| town.clone());
        let view = refresh_beads(&town, &ctx).await;
        if let Some((at, sent)) = pending
            && view.fetched_at >= sent
            && view.result.is_ok()
        {
            position.fetch_max(at, Ordering::Relaxed);
            pending = None;
        }
        // The town's status shows its stream, and a view that failed.
        if (feed_changed || view.result.is_err()) && trigger.send(town_ref.clone()).await.is_err() {
            return;
        }
    }
}

/// How each town learns of changes in beads, for its status: a stream, or
/// why not. Absent until known.
#[derive(Default)]
pub struct BeadsFeeds {
    feeds: std::sync::Mutex<BTreeMap<TownKey, String>>,
}

impl BeadsFeeds {
    /// Records a town's feed; whether it changed.
    pub fn set(&self, town: &TownKey, feed: String) -> bool {
        let mut feeds = self
            .feeds
            .lock()
            .expect("the lock is never held across a panic");
        feeds.insert(town.clone(), feed.clone()).as_ref() != Some(&feed)
    }

    pub fn get(&self, namespace: &str, town: &str) -> Option<String> {
        let feeds = self
            .feeds
            .lock()
            .expect("the lock is never held across a panic");
        feeds
            .get(&(namespace.to_string(), town.to_string()))
            .cloned()
    }

    pub fn forget(&self, namespace: &str, town: &str) {
        let mut feeds = self
            .feeds
            .lock()
            .expect("the lock is never held across a panic");
        feeds.remove(&(namespace.to_string(), town.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gastown_api::GasTownSpec;

    fn town(endpoint_host: Option<&str>) -> GasTown {
        let mut daemon = serde_json::json!({"image": "bd:1"});
        if let Some(host) = endpoint_host {
            daemon = serde_json::json!({"external": {"host": host, "port": 9876}});
        }
        let spec: GasTownSpec = serde_json::from_value(serde_json::json!({
            "daemon": daemon,
            "defaults": {"image": "agent:1"}
        }))
        .expect("a town spec");
        GasTown::new("prod", spec)
    }

    fn key(name: &str) -> TownKey {
        ("ns".to_string(), name.to_string())
    }

    #[test]
    fn connection_key_changes_with_endpoint_override_and_token() {
        let in_cluster = town(None);
        let base = connection_key(&in_cluster, None, Some("7"));
        assert_eq!(base, connection_key(&in_cluster, None, Some("7")), "stable");
        assert_ne!(
            base,
            connection_key(&in_cluster, None, Some("8")),
            "token rotated"
        );
        assert_ne!(
            base,
            connection_key(&in_cluster, Some("http://127.0.0.1:1"), Some("7"))
        );
        assert_ne!(
            base,
            connection_key(&town(Some("bd.example")), None, Some("7"))
        );
    }

    #[test]
    fn plan_starts_new_stops_gone_and_restarts_changed() {
        let running = BTreeMap::from([
            (key("kept"), "a".to_string()),
            (key("moved"), "a".to_string()),
            (key("gone"), "a".to_string()),
        ]);
        let desired = BTreeMap::from([
            (key("kept"), "a".to_string()),
            (key("moved"), "b".to_string()),
            (key("new"), "a".to_string()),
        ]);
        let (stop, start) = plan(&running, &desired);
        assert_eq!(stop, BTreeSet::from([key("gone"), key("moved")]));
        assert_eq!(start, BTreeSet::from([key("moved"), key("new")]));
        let (stop, start) = plan(&desired, &desired);
        assert!(stop.is_empty() && start.is_empty());
    }
}

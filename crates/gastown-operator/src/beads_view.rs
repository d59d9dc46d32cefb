//! beads' view of each town, read once per burst of beads changes (by the
//! town's change-stream follower) and once per sync (by the GasTown
//! controller), and read by the Rig and AgentPool controllers — so the number
//! of bd daemon queries does not grow with the number of rigs or agents.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use beads_client::{TownSnapshot, TownSummary};
use k8s_openapi::jiff::Timestamp;
use tokio::sync::broadcast;

/// The last fetch of one town's beads.
#[derive(Debug)]
pub struct BeadsView {
    pub fetched_at: Timestamp,
    /// The snapshot and its projection, or why the daemon could not be read.
    pub result: Result<(TownSnapshot, TownSummary), String>,
}

impl BeadsView {
    pub fn snapshot(&self) -> Option<&TownSnapshot> {
        self.result.as_ref().ok().map(|(snapshot, _)| snapshot)
    }
    pub fn summary(&self) -> Option<&TownSummary> {
        self.result.as_ref().ok().map(|(_, summary)| summary)
    }
}

/// A town, by namespace and name.
pub type TownKey = (String, String);

/// The latest view of every town, and a channel announcing each new one.
pub struct BeadsViews {
    views: RwLock<HashMap<TownKey, Arc<BeadsView>>>,
    freshness: RwLock<HashMap<TownKey, Freshness>>,
    updates: broadcast::Sender<TownKey>,
}

/// What a view was fetched for, to tell whether it still stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Freshness {
    /// The town's change count when the fetch started ([`BeadsViews::changed`]).
    changes: u64,
    /// The town's generation it was fetched for (its spec names the server).
    generation: Option<i64>,
    /// Changes noticed since the counter started; moves on every notice.
    seen: u64,
}

/// A fetch about to start: what [`BeadsViews::publish_fetched`] records.
#[derive(Clone, Copy, Debug)]
pub struct FetchTicket {
    changes: u64,
    generation: Option<i64>,
}

impl Default for BeadsViews {
    fn default() -> Self {
        // Lagging subscribers only miss "something changed" notices and
        // catch up at their next periodic resync.
        let (updates, _) = broadcast::channel(256);
        Self {
            views: RwLock::default(),
            freshness: RwLock::default(),
            updates,
        }
    }
}

impl BeadsViews {
    pub fn get(&self, namespace: &str, town: &str) -> Option<Arc<BeadsView>> {
        let views = self
            .views
            .read()
            .expect("the lock is never held across a panic");
        views
            .get(&(namespace.to_string(), town.to_string()))
            .cloned()
    }

    /// Stores a new view and announces it when it differs from the previous one.
    pub fn publish(&self, namespace: &str, town: &str, view: BeadsView) {
        let key = (namespace.to_string(), town.to_string());
        let changed = {
            let mut views = self
                .views
                .write()
                .expect("the lock is never held across a panic");
            let changed = views.get(&key).is_none_or(|old| !same_content(old, &view));
            views.insert(key.clone(), Arc::new(view));
            changed
        };
        if changed {
            // No subscriber yet is fine: nobody needs the notice then.
            let _ = self.updates.send(key);
        }
    }

    pub fn forget(&self, namespace: &str, town: &str) {
        let key = (namespace.to_string(), town.to_string());
        let mut views = self
            .views
            .write()
            .expect("the lock is never held across a panic");
        views.remove(&key);
        self.freshness
            .write()
            .expect("the lock is never held across a panic")
            .remove(&key);
    }

    /// Notes that the town's beads changed (its change stream said so): the
    /// view fetched before this notice no longer stands.
    pub fn changed(&self, namespace: &str, town: &str) {
        self.update_freshness(namespace, town, |entry| entry.seen += 1);
    }

    fn update_freshness(&self, namespace: &str, town: &str, update: impl FnOnce(&mut Freshness)) {
        let mut freshness = self
            .freshness
            .write()
            .expect("the lock is never held across a panic");
        update(
            freshness
                .entry((namespace.to_string(), town.to_string()))
                .or_default(),
        );
    }

    /// Starts a fetch for the town at `generation`: remembers which changes
    /// it will include (those noticed so far).
    pub fn start_fetch(&self, namespace: &str, town: &str, generation: Option<i64>) -> FetchTicket {
        let freshness = self
            .freshness
            .read()
            .expect("the lock is never held across a panic");
        let seen = freshness
            .get(&(namespace.to_string(), town.to_string()))
            .map_or(0, |f| f.seen);
        FetchTicket {
            changes: seen,
            generation,
        }
    }

    /// [`Self::publish`] for a fetch started with `ticket`: the view stands
    /// (see [`Self::standing`]) until a change is noticed after the ticket.
    pub fn publish_fetched(
        &self,
        namespace: &str,
        town: &str,
        view: BeadsView,
        ticket: FetchTicket,
    ) {
        self.update_freshness(namespace, town, |entry| {
            entry.changes = ticket.changes;
            entry.generation = ticket.generation;
        });
        self.publish(namespace, town, view);
    }

    /// The town's view if it still stands, so a reconcile need not ask beads
    /// again: it was read successfully by [`Self::publish_fetched`] for the
    /// town's current `generation`, less than `max_age` before `now`, and no
    /// change was noticed since its fetch started.
    pub fn standing(
        &self,
        namespace: &str,
        town: &str,
        generation: Option<i64>,
        max_age: std::time::Duration,
        now: Timestamp,
    ) -> Option<Arc<BeadsView>> {
        let key = (namespace.to_string(), town.to_string());
        let fresh = self
            .freshness
            .read()
            .expect("the lock is never held across a panic")
            .get(&key)
            .copied()?;
        if fresh.changes != fresh.seen || fresh.generation != generation || generation.is_none() {
            return None;
        }
        let view = self.get(namespace, town)?;
        // A view from the future (a clock step back) is too old to trust.
        let age = std::time::Duration::try_from(now.duration_since(view.fetched_at)).ok()?;
        (view.result.is_ok() && age < max_age).then_some(view)
    }

    /// Notices of towns whose view changed.
    pub fn subscribe(&self) -> broadcast::Receiver<TownKey> {
        self.updates.subscribe()
    }
}

/// Equal in everything the controllers act on; the daemon's uptime, memory
/// and latency figures change on every fetch and do not count.
fn same_content(old: &BeadsView, new: &BeadsView) -> bool {
    match (&old.result, &new.result) {
        (Ok((old_snapshot, old_summary)), Ok((new_snapshot, new_summary))) => {
            old_snapshot.agents == new_snapshot.agents
                && old_snapshot.merge_requests == new_snapshot.merge_requests
                && (old_snapshot.health.status == new_snapshot.health.status)
                && old_snapshot.health.version == new_snapshot.health.version
                && old_snapshot.health.error == new_snapshot.health.error
                && old_summary.rigs == new_summary.rigs
                && old_summary.mayor == new_summary.mayor
                && old_summary.deacon == new_summary.deacon
                && old_summary.town_agents == new_summary.town_agents
        }
        (Err(old), Err(new)) => old == new,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(result: Result<(TownSnapshot, TownSummary), String>) -> BeadsView {
        BeadsView {
            fetched_at: Timestamp::UNIX_EPOCH,
            result,
        }
    }

    #[test]
    fn a_view_stands_until_a_change_a_new_spec_or_its_age() {
        let views = BeadsViews::default();
        let ok = || view(Ok((TownSnapshot::default(), TownSummary::default())));
        let max_age = std::time::Duration::from_secs(60);
        let at =
            |secs: i64| Timestamp::UNIX_EPOCH + k8s_openapi::jiff::SignedDuration::from_secs(secs);
        let standing = |generation, now| views.standing("ns", "prod", generation, max_age, now);
        assert!(standing(Some(1), at(1)).is_none(), "nothing read yet");

        let ticket = views.start_fetch("ns", "prod", Some(1));
        views.publish_fetched("ns", "prod", ok(), ticket);
        assert!(standing(Some(1), at(1)).is_some());
        assert!(standing(Some(2), at(1)).is_none(), "the spec changed since");
        assert!(standing(Some(1), at(61)).is_none(), "too old");

        // A change noticed while a fetch runs: that fetch does not stand.
        let ticket = views.start_fetch("ns", "prod", Some(1));
        views.changed("ns", "prod");
        views.publish_fetched("ns", "prod", ok(), ticket);
        assert!(standing(Some(1), at(1)).is_none());
        let ticket = views.start_fetch("ns", "prod", Some(1));
        views.publish_fetched("ns", "prod", ok(), ticket);
        assert!(standing(Some(1), at(1)).is_some());

        // A failed read never stands.
        let ticket = views.start_fetch("ns", "prod", Some(1));
        views.publish_fetched("ns", "prod", view(Err("down".into())), ticket);
        assert!(standing(Some(1), at(1)).is_none());
    }

    #[test]
    fn announces_only_changes() {
        let views = BeadsViews::default();
        let mut updates = views.subscribe();
        views.publish("ns", "prod", view(Err("down".into())));
        assert_eq!(
            updates.try_recv().unwrap(),
            ("ns".to_string(), "prod".to_string())
        );
        views.publish("ns", "prod", view(Err("down".into())));
        assert!(updates.try_recv().is_err(), "same content, no notice");
        views.publish(
            "ns",
            "prod",
            view(Ok((TownSnapshot::default(), TownSummary::default()))),
        );
        assert!(updates.try_recv().is_ok());
        assert!(views.get("ns", "prod").unwrap().summary().is_some());
        views.forget("ns", "prod");
        assert!(views.get("ns", "prod").is_none());
    }
}

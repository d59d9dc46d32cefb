//! The in-memory object store: one collection per resource, a global
//! resourceVersion counter, a bounded per-collection event history for
//! watches, and the uid / owner indexes garbage collection needs.
//!
//! Everything here is synchronous and runs under the server's single state
//! lock, so resourceVersions, stored objects and broadcast events always agree.

use crate::registry::ResourceKey;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use tokio::sync::broadcast;

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub type ObjectKey = (String, String);

/// An object's address across the whole store.
pub type ObjectRef = (ResourceKey, ObjectKey);

/// Buffered events per watch channel before a slow watcher must catch up from history.
const CHANNEL_CAPACITY: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watchers see it. `previous` lets a filtered watch turn a
/// modification into ADDED or DELETED when the object enters or leaves its selector.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub event_type: EventType,
    pub object: Arc<Value>,
    pub previous: Option<Arc<Value>>,
}

/// What a watch asked to start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    /// The current state, as synthetic ADDED events, then changes.
    Now,
    /// Changes after this resourceVersion.
    After(u64),
}

/// A watch's starting point: events to send first, then the live channel.
pub struct Subscription {
    pub backlog: Vec<Arc<Event>>,
    pub receiver: broadcast::Receiver<Arc<Event>>,
    /// The store's resourceVersion when the subscription was taken.
    pub rv: u64,
}

/// The requested resourceVersion is older than the retained history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too old resource version: {requested} ({oldest})")]
pub struct TooOld {
    pub requested: u64,
    pub oldest: u64,
}

struct Collection {
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    history: VecDeque<Arc<Event>>,
    /// Events at or below this resourceVersion are no longer in `history`.
    compacted_through: u64,
    sender: broadcast::Sender<Arc<Event>>,
}

impl Collection {
    fn new() -> Self {
        Collection {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted_through: 0,
            sender: broadcast::channel(CHANNEL_CAPACITY).0,
        }
    }

    fn events_after(&self, rv: u64) -> Result<Vec<Arc<Event>>, TooOld> {
        if rv < self.compacted_through {
            return Err(TooOld {
                requested: rv,
                oldest: self.compacted_through,
            });
        }
        let start = self.history.partition_point(|e| e.rv <= rv);
        Ok(self.history.range(start..).cloned().collect())
    }
}

pub struct Store {
    rv: u64,
    history_limit: usize,
    collections: HashMap<ResourceKey, Collection>,
    uids: HashMap<String, ObjectRef>,
    /// Owner uid → objects whose ownerReferences name it.
    dependents: HashMap<String, BTreeSet<ObjectRef>>,
}

fn uid_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/uid").and_then(Value::as_str)
}

fn owner_uids(object: &Value) -> impl Iterator<Item = &str> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        Store {
            rv: 1,
            history_limit: history_limit.max(1),
            collections: HashMap::new(),
            uids: HashMap::new(),
            dependents: HashMap::new(),
        }
    }

    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    pub fn ensure_collection(&mut self, key: &ResourceKey) {
        self.collections
            .entry(key.clone())
            .or_insert_with(Collection::new);
    }

    /// Forgets a collection (its objects must already be removed); open
    /// watches on it end because the channel closes.
    pub fn drop_collection(&mut self, key: &ResourceKey) {
        self.collections.remove(key);
    }

    pub fn get(&self, key: &ResourceKey, object: &ObjectKey) -> Option<Arc<Value>> {
        self.collections.get(key)?.objects.get(object).cloned()
    }

    /// Objects in key order, optionally within one namespace, strictly after `after`.
    pub fn range<'a>(
        &'a self,
        key: &ResourceKey,
        namespace: Option<&'a str>,
        after: Option<&ObjectKey>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Value>)> + 'a {
        let lower = match (after, namespace) {
            (Some(after), _) => Bound::Excluded(after.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_owned(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        self.collections
            .get(key)
            .into_iter()
            .flat_map(move |c| c.objects.range((lower.clone(), Bound::Unbounded)))
            .take_while(move |((ns, _), _)| namespace.is_none_or(|want| ns == want))
    }

    pub fn locate_uid(&self, uid: &str) -> Option<&ObjectRef> {
        self.uids.get(uid)
    }

    pub fn dependents_of(&self, uid: &str) -> Vec<ObjectRef> {
        self.dependents
            .get(uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn index(&mut self, at: &ObjectRef, object: &Value) {
        if let Some(uid) = uid_of(object) {
            self.uids.insert(uid.to_owned(), at.clone());
        }
        for owner in owner_uids(object) {
            self.dependents
                .entry(owner.to_owned())
                .or_default()
                .insert(at.clone());
        }
    }

    fn unindex(&mut self, at: &ObjectRef, object: &Value, removing: bool) {
        if removing && let Some(uid) = uid_of(object) {
            self.uids.remove(uid);
        }
        for owner in owner_uids(object) {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(at);
                if set.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
    }

    fn record(&mut self, key: &ResourceKey, event: Event) {
        let limit = self.history_limit;
        let collection = self
            .collections
            .get_mut(key)
            .expect("collection exists for recorded event");
        let event = Arc::new(event);
        collection.history.push_back(Arc::clone(&event));
        while collection.history.len() > limit {
            if let Some(old) = collection.history.pop_front() {
                collection.compacted_through = old.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = collection.sender.send(event);
    }

    /// Stores `object` (setting its resourceVersion) and emits ADDED or MODIFIED.
    pub fn put(&mut self, key: &ResourceKey, at: ObjectKey, mut object: Value) -> Arc<Value> {
        self.rv += 1;
        let rv = self.rv;
        object["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let object = Arc::new(object);
        self.ensure_collection(key);
        let previous = self
            .collections
            .get_mut(key)
            .expect("ensured")
            .objects
            .insert(at.clone(), Arc::clone(&object));
        let full_ref = (key.clone(), at);
        if let Some(previous) = &previous {
            self.unindex(&full_ref, previous, false);
        }
        self.index(&full_ref, &object);
        let event_type = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(
            key,
            Event {
                rv,
                event_type,
                object: Arc::clone(&object),
                previous,
            },
        );
        object
    }

    /// Removes an object and emits DELETED carrying the deletion's resourceVersion.
    pub fn remove(&mut self, key: &ResourceKey, at: &ObjectKey) -> Option<Arc<Value>> {
        let removed = self.collections.get_mut(key)?.objects.remove(at)?;
        self.rv += 1;
        let rv = self.rv;
        self.unindex(&(key.clone(), at.clone()), &removed, true);
        let mut last = (*removed).clone();
        last["metadata"]["resourceVersion"] = Value::String(rv.to_string());
        let last = Arc::new(last);
        self.record(
            key,
            Event {
                rv,
                event_type: EventType::Deleted,
                object: Arc::clone(&last),
                previous: Some(removed),
            },
        );
        Some(last)
    }

    /// Starts a watch on a collection. For [`Since::Now`] the backlog is the
    /// current state (optionally one namespace) as ADDED events.
    pub fn subscribe(
        &mut self,
        key: &ResourceKey,
        since: Since,
        namespace: Option<&str>,
    ) -> Result<Subscription, TooOld> {
        self.ensure_collection(key);
        let rv = self.rv;
        let backlog = match since {
            Since::Now => self
                .range(key, namespace, None)
                .map(|(_, object)| {
                    let object_rv = object
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(rv);
                    Arc::new(Event {
                        rv: object_rv,
                        event_type: EventType::Added,
                        object: Arc::clone(object),
                        previous: None,
                    })
                })
                .collect(),
            Since::After(after) => self.collections[key].events_after(after)?,
        };
        let receiver = self.collections[key].sender.subscribe();
        Ok(Subscription {
            backlog,
            receiver,
            rv,
        })
    }

    /// Events after `rv` still in history, for a watcher that fell behind its channel.
    pub fn events_after(&self, key: &ResourceKey, rv: u64) -> Result<Vec<Arc<Event>>, TooOld> {
        match self.collections.get(key) {
            Some(collection) => collection.events_after(rv),
            None => Ok(Vec::new()),
        }
    }

    /// A fresh receiver on a collection's channel (after lagging behind).
    pub fn resubscribe(&mut self, key: &ResourceKey) -> Option<broadcast::Receiver<Arc<Event>>> {
        self.collections.get(key).map(|c| c.sender.subscribe())
    }

    /// Drops all retained history, so a watch from any older resourceVersion gets 410 Gone.
    pub fn compact(&mut self) {
        let rv = self.rv;
        for collection in self.collections.values_mut() {
            collection.history.clear();
            collection.compacted_through = rv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> ResourceKey {
        ResourceKey {
            group: String::new(),
            plural: "configmaps".into(),
        }
    }

    fn at(ns: &str, name: &str) -> ObjectKey {
        (ns.into(), name.into())
    }

    #[test]
    fn writes_bump_the_global_resource_version_and_emit_events() {
        let mut store = Store::new(100);
        let mut sub = store.subscribe(&key(), Since::After(1), None).unwrap();
        let a = store.put(
            &key(),
            at("ns", "a"),
            json!({ "metadata": { "name": "a", "uid": "u1" } }),
        );
        assert_eq!(a["metadata"]["resourceVersion"], "2");
        store.put(
            &key(),
            at("ns", "a"),
            json!({ "metadata": { "name": "a", "uid": "u1" }, "data": {} }),
        );
        let deleted = store.remove(&key(), &at("ns", "a")).unwrap();
        assert_eq!(deleted["metadata"]["resourceVersion"], "4");
        let types: Vec<_> = (0..3)
            .map(|_| sub.receiver.try_recv().unwrap().event_type)
            .collect();
        assert_eq!(
            types,
            vec![EventType::Added, EventType::Modified, EventType::Deleted]
        );
        assert!(store.locate_uid("u1").is_none());
    }

    #[test]
    fn range_stays_within_a_namespace_and_resumes_after_a_key() {
        let mut store = Store::new(100);
        for (ns, name) in [("a", "1"), ("b", "1"), ("b", "2"), ("c", "1")] {
            store.put(
                &key(),
                at(ns, name),
                json!({ "metadata": { "name": name } }),
            );
        }
        let names: Vec<_> = store
            .range(&key(), Some("b"), None)
            .map(|(k, _)| k.1.clone())
            .collect();
        assert_eq!(names, vec!["1", "2"]);
        let rest: Vec<_> = store
            .range(&key(), None, Some(&at("b", "1")))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(rest, vec![at("b", "2"), at("c", "1")]);
        assert_eq!(store.range(&key(), Some("c"), None).count(), 1);
    }

    #[test]
    fn watch_from_a_compacted_version_is_too_old() {
        let mut store = Store::new(2);
        for i in 0..4 {
            store.put(
                &key(),
                at("ns", &format!("o{i}")),
                json!({ "metadata": {} }),
            );
        }
        // rv 2..5 written; history keeps 4 and 5.
        assert_eq!(
            store.subscribe(&key(), Since::After(2), None).err(),
            Some(TooOld {
                requested: 2,
                oldest: 3
            })
        );
        let sub = store.subscribe(&key(), Since::After(3), None).unwrap();
        assert_eq!(
            sub.backlog.iter().map(|e| e.rv).collect::<Vec<_>>(),
            vec![4, 5]
        );
        store.compact();
        assert!(store.subscribe(&key(), Since::After(4), None).is_err());
        assert!(
            store
                .subscribe(&key(), Since::After(5), None)
                .unwrap()
                .backlog
                .is_empty()
        );
        assert_eq!(
            store
                .subscribe(&key(), Since::Now, None)
                .unwrap()
                .backlog
                .len(),
            4
        );
    }

    #[test]
    fn owner_index_follows_owner_reference_changes() {
        let mut store = Store::new(10);
        let owned = json!({ "metadata": { "uid": "c", "ownerReferences": [{ "uid": "p" }] } });
        store.put(&key(), at("ns", "child"), owned);
        assert_eq!(store.dependents_of("p"), vec![(key(), at("ns", "child"))]);
        store.put(
            &key(),
            at("ns", "child"),
            json!({ "metadata": { "uid": "c" } }),
        );
        assert!(store.dependents_of("p").is_empty());
        assert_eq!(store.locate_uid("c"), Some(&(key(), at("ns", "child"))));
    }
}

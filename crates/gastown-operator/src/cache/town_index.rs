//! Each cached kind's objects by the town they belong to (the
//! `gastown.io/town` label every object of a town carries), kept from the
//! watch that fills the kind's store.
//!
//! A reconcile asks for its own town's objects — what to prune, a rig's or a
//! pool's pods — instead of scanning the whole store: a scan costs as much
//! as the fleet, so every town's reconcile scanning made the fleet's cost
//! grow with its square (the profile in docs/benchmarks.md). Like the
//! reflector it sits beside, the index rebuilds itself on every relist.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, RwLock};

use gastown_api::labels;
use kube::Resource;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

/// An object: its namespace and name.
type ObjectKey = (String, String);

/// Where objects without a town label are placed: never a label's value
/// (label values cannot hold a `/`).
const UNLABELLED: &str = "/";

/// Each town's objects by namespace, then town, then name: looked up by
/// borrowed names, without building a key per lookup.
type Towns<K> = HashMap<String, HashMap<String, BTreeMap<String, ObjectRef<K>>>>;

struct Placement<K: Resource> {
    /// Each town's objects, by name, with the reference the store knows them by.
    towns: Towns<K>,
    /// The town each object is in, to move it when its label changes.
    towns_of: HashMap<ObjectKey, String>,
}

impl<K: Resource> Default for Placement<K> {
    fn default() -> Self {
        Self {
            towns: HashMap::new(),
            towns_of: HashMap::new(),
        }
    }
}

impl<K: Resource<DynamicType = ()>> Placement<K> {
    fn place(&mut self, object: ObjectKey, town: Option<&str>) {
        let previous = self.towns_of.get(&object).map(String::as_str);
        if previous == town {
            return;
        }
        let (namespace, name) = &object;
        if let Some(previous) = self.towns_of.remove(&object)
            && let Some(in_namespace) = self.towns.get_mut(namespace)
        {
            if let Some(names) = in_namespace.get_mut(&previous) {
                names.remove(name);
                if names.is_empty() {
                    in_namespace.remove(&previous);
                }
            }
            if in_namespace.is_empty() {
                self.towns.remove(namespace);
            }
        }
        if let Some(town) = town {
            let reference = ObjectRef::new(name).within(namespace);
            self.towns
                .entry(namespace.clone())
                .or_default()
                .entry(town.to_owned())
                .or_default()
                .insert(name.clone(), reference);
            self.towns_of.insert(object, town.to_owned());
        }
    }

    fn of(&self, namespace: &str, town: &str) -> Option<&BTreeMap<String, ObjectRef<K>>> {
        self.towns.get(namespace)?.get(town)
    }
}

struct Inner<K: Resource> {
    current: Placement<K>,
    /// The placement being rebuilt by a relist, swapped in when it is done.
    relisting: Option<Placement<K>>,
}

impl<K: Resource> Default for Inner<K> {
    fn default() -> Self {
        Self {
            current: Placement::default(),
            relisting: None,
        }
    }
}

/// The names of one kind's objects by town.
pub struct TownIndex<K: Resource> {
    inner: Arc<RwLock<Inner<K>>>,
}

impl<K: Resource> Clone for TownIndex<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K: Resource> Default for TownIndex<K> {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
        }
    }
}

fn key_and_town<K: Resource>(object: &K) -> (ObjectKey, Option<&str>) {
    let meta = object.meta();
    let key = (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    );
    let town = meta
        .labels
        .as_ref()
        .and_then(|labels| labels.get(labels::TOWN))
        .map(String::as_str);
    (key, town)
}

impl<K: Resource<DynamicType = ()>> TownIndex<K> {
    /// Follows one event of the kind's watch.
    pub fn observe(&self, event: &watcher::Event<K>) {
        let mut inner = self
            .inner
            .write()
            .expect("the lock is never held across a panic");
        match event {
            watcher::Event::Apply(object) => {
                let (key, town) = key_and_town(object);
                inner.current.place(key, Some(town.unwrap_or(UNLABELLED)));
            }
            watcher::Event::Delete(object) => {
                let (key, _) = key_and_town(object);
                inner.current.place(key, None);
            }
            watcher::Event::Init => inner.relisting = Some(Placement::default()),
            watcher::Event::InitApply(object) => {
                let (key, town) = key_and_town(object);
                inner
                    .relisting
                    .get_or_insert_with(Placement::default)
                    .place(key, Some(town.unwrap_or(UNLABELLED)));
            }
            watcher::Event::InitDone => {
                if let Some(relisted) = inner.relisting.take() {
                    inner.current = relisted;
                }
            }
        }
    }

    /// The names of `town`'s objects in `namespace`, sorted.
    pub fn names(&self, namespace: &str, town: &str) -> Vec<String> {
        let inner = self
            .inner
            .read()
            .expect("the lock is never held across a panic");
        inner
            .current
            .of(namespace, town)
            .map(|names| names.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// `town`'s objects in `namespace` as `store` holds them, by name.
    fn objects_in(&self, store: &Store<K>, namespace: &str, town: &str) -> Vec<Arc<K>>
    where
        K: Clone + 'static,
    {
        let inner = self
            .inner
            .read()
            .expect("the lock is never held across a panic");
        inner
            .current
            .of(namespace, town)
            .map(|objects| objects.values().filter_map(|r| store.get(r)).collect())
            .unwrap_or_default()
    }
}

/// A reflector store with its town index; reads as the store.
pub struct Indexed<K: Resource<DynamicType = ()> + 'static> {
    pub store: Store<K>,
    pub by_town: TownIndex<K>,
}

impl<K: Resource<DynamicType = ()> + 'static> Clone for Indexed<K> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            by_town: self.by_town.clone(),
        }
    }
}

impl<K: Resource<DynamicType = ()> + 'static> Deref for Indexed<K> {
    type Target = Store<K>;
    fn deref(&self) -> &Store<K> {
        &self.store
    }
}

impl<K> Indexed<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    /// The cached objects of `town` in `namespace`.
    pub fn of_town(&self, namespace: &str, town: &str) -> Vec<Arc<K>> {
        self.by_town.objects_in(&self.store, namespace, town)
    }

    /// The cached objects of `town` in `namespace`, and those there without
    /// a town label (which any town's may be: an AgentPool applied on its
    /// own names its rig, not necessarily its town).
    pub fn of_town_or_unlabelled(&self, namespace: &str, town: Option<&str>) -> Vec<Arc<K>> {
        let mut objects = self.by_town.objects_in(&self.store, namespace, UNLABELLED);
        if let Some(town) = town.filter(|town| *town != UNLABELLED) {
            objects.extend(self.by_town.objects_in(&self.store, namespace, town));
        }
        objects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn object(name: &str, town: Option<&str>) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                labels: town.map(|town| [(labels::TOWN.to_string(), town.to_string())].into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn objects_follow_their_town_label_through_changes_deletes_and_relists() {
        let index = TownIndex::<ConfigMap>::default();
        index.observe(&watcher::Event::Apply(object("a", Some("prod"))));
        index.observe(&watcher::Event::Apply(object("b", Some("prod"))));
        index.observe(&watcher::Event::Apply(object("c", Some("dev"))));
        index.observe(&watcher::Event::Apply(object("loose", None)));
        assert_eq!(index.names("ns", "prod"), ["a", "b"]);
        assert_eq!(index.names("other-ns", "prod"), Vec::<String>::new());
        assert_eq!(index.names("ns", UNLABELLED), ["loose"]);

        // Relabelled: it moves; deleted: it goes.
        index.observe(&watcher::Event::Apply(object("b", Some("dev"))));
        index.observe(&watcher::Event::Delete(object("a", Some("prod"))));
        assert_eq!(index.names("ns", "prod"), Vec::<String>::new());
        assert_eq!(index.names("ns", "dev"), ["b", "c"]);

        // A relist replaces what was known only once it is complete.
        index.observe(&watcher::Event::Init);
        index.observe(&watcher::Event::InitApply(object("d", Some("dev"))));
        assert_eq!(index.names("ns", "dev"), ["b", "c"], "until InitDone");
        index.observe(&watcher::Event::InitDone);
        assert_eq!(index.names("ns", "dev"), ["d"]);
    }
}

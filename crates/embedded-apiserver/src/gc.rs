//! Deletion: finalizers, the three propagation policies, ownerReference
//! garbage collection and namespace termination.
//!
//! Upstream runs the garbage collector and namespace controller as separate,
//! eventually consistent loops; here their effects happen within the deleting
//! request, under the same lock, so watchers still see every step in order.

use crate::cluster::{Cluster, SYSTEM_NAMESPACES, finalizers, meta_str, now, set_finalizers};
use crate::errors::{ApiError, ApiResult, QualifiedResource};
use crate::registry::{ResourceKey, Served};
use crate::store::{ObjectKey, ObjectRef};
use serde_json::{Value, json};
use std::sync::Arc;

const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn parse(value: &str) -> ApiResult<Self> {
        match value {
            "Background" => Ok(Self::Background),
            "Foreground" => Ok(Self::Foreground),
            "Orphan" => Ok(Self::Orphan),
            other => Err(ApiError::BadRequest(format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            ))),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

/// What a delete did.
#[derive(Clone, Debug)]
pub enum Deletion {
    /// The object is gone; this is its last state.
    Removed(Arc<Value>),
    /// The object waits for finalizers (or its dependents), with a deletionTimestamp.
    Pending(Arc<Value>),
}

fn owner_refs(object: &Value) -> Vec<Value> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn uid(object: &Value) -> String {
    meta_str(object, "uid").unwrap_or_default().to_owned()
}

impl Cluster {
    /// `DELETE` of one object.
    pub fn delete(
        &mut self,
        served: &Served,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
    ) -> ApiResult<Deletion> {
        let key = served.key();
        let at: ObjectKey = (namespace.unwrap_or_default().to_owned(), name.to_owned());
        let current = self
            .store
            .get(&key, &at)
            .ok_or_else(|| ApiError::not_found(served.qualified(), name))?;
        check_preconditions(served, name, &current, options)?;
        if options.dry_run {
            return Ok(Deletion::Removed(current));
        }
        if served.is("", "Namespace") {
            return self.delete_namespace(name);
        }
        // batch/v1 Jobs orphan their pods unless told otherwise, for backwards
        // compatibility (`DefaultGarbageCollectionPolicy` in
        // pkg/registry/batch/job/strategy.go); kubectl asks for Background.
        let default = if served.is("batch", "Job") {
            Propagation::Orphan
        } else {
            Propagation::Background
        };
        let propagation = options.propagation.unwrap_or(default);
        Ok(self
            .delete_object(&(key, at), propagation)
            .expect("the object was just read"))
    }

    /// Deletes an object the way the API (or the garbage collector) would;
    /// `None` when it is already gone (an earlier cascade step took it).
    pub(crate) fn delete_object(
        &mut self,
        target: &ObjectRef,
        propagation: Propagation,
    ) -> Option<Deletion> {
        let (key, at) = target;
        let current = self.store.get(key, at)?;
        if current.pointer("/metadata/deletionTimestamp").is_some() {
            return Some(Deletion::Pending(current));
        }
        let owner_uid = uid(&current);
        let dependents = self.store.dependents_of(&owner_uid);
        let mut pending = finalizers(&current);
        match propagation {
            Propagation::Orphan => self.orphan_dependents(&owner_uid, &dependents),
            Propagation::Foreground if !dependents.is_empty() => {
                pending.push(FOREGROUND_FINALIZER.to_owned())
            }
            _ => {}
        }
        if pending.is_empty() {
            let removed = self.store.remove(key, at).expect("object exists");
            self.after_removal(key, &removed);
            return Some(Deletion::Removed(removed));
        }
        let mut marked = (*current).clone();
        marked["metadata"]["deletionTimestamp"] = json!(now());
        marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        set_finalizers(&mut marked, &pending);
        let marked = self.store.put(key, at.clone(), marked);
        if pending.iter().any(|f| f == FOREGROUND_FINALIZER) {
            for dependent in dependents {
                let policy = if blocks_owner_deletion(
                    self.store.get(&dependent.0, &dependent.1).as_deref(),
                    &owner_uid,
                ) {
                    Propagation::Foreground
                } else {
                    Propagation::Background
                };
                self.delete_object(&dependent, policy);
            }
            self.finish_foreground(&owner_uid);
        }
        Some(match self.store.get(key, at) {
            Some(still_there) => Deletion::Pending(still_there),
            None => Deletion::Removed(marked),
        })
    }

    /// Orphan propagation: dependents lose their ownerReference to the owner.
    fn orphan_dependents(&mut self, owner_uid: &str, dependents: &[ObjectRef]) {
        for (key, at) in dependents {
            if let Some(dependent) = self.store.get(key, at) {
                let mut updated = (*dependent).clone();
                let refs: Vec<Value> = owner_refs(&updated)
                    .into_iter()
                    .filter(|r| r["uid"] != owner_uid)
                    .collect();
                set_owner_refs(&mut updated, refs);
                self.store.put(key, at.clone(), updated);
            }
        }
    }

    /// Removes an owner's `foregroundDeletion` finalizer once no dependent blocks it.
    fn finish_foreground(&mut self, owner_uid: &str) {
        let Some((key, at)) = self.store.locate_uid(owner_uid).cloned() else {
            return;
        };
        let Some(owner) = self.store.get(&key, &at) else {
            return;
        };
        let mut remaining = finalizers(&owner);
        if !remaining.iter().any(|f| f == FOREGROUND_FINALIZER) {
            return;
        }
        let blocked = self
            .store
            .dependents_of(owner_uid)
            .iter()
            .any(|(k, a)| blocks_owner_deletion(self.store.get(k, a).as_deref(), owner_uid));
        if blocked {
            return;
        }
        remaining.retain(|f| f != FOREGROUND_FINALIZER);
        self.release(&key, at, &owner, &remaining);
    }

    /// Sets an object's finalizers as the system; removes it when none remain
    /// and it is being deleted.
    fn release(&mut self, key: &ResourceKey, at: ObjectKey, current: &Value, remaining: &[String]) {
        let mut updated = current.clone();
        set_finalizers(&mut updated, remaining);
        self.store.put(key, at.clone(), updated);
        if remaining.is_empty() && current.pointer("/metadata/deletionTimestamp").is_some() {
            let removed = self.store.remove(key, &at).expect("just stored");
            self.after_removal(key, &removed);
        }
    }

    /// Reactions to an object leaving the store: collect its dependents,
    /// unblock foreground owners, finish namespaces, refresh quotas, stop
    /// serving a removed CRD's kinds.
    pub(crate) fn after_removal(&mut self, key: &ResourceKey, removed: &Value) {
        let removed_uid = uid(removed);
        for dependent in self.store.dependents_of(&removed_uid) {
            let Some(object) = self.store.get(&dependent.0, &dependent.1) else {
                continue;
            };
            let refs = owner_refs(&object);
            let live: Vec<Value> = refs
                .iter()
                .filter(|r| r["uid"] != removed_uid.as_str())
                .filter(|r| {
                    r["uid"]
                        .as_str()
                        .is_some_and(|u| self.store.locate_uid(u).is_some())
                })
                .cloned()
                .collect();
            if live.is_empty() {
                self.delete_object(&dependent, Propagation::Background);
            } else {
                let mut updated = (*object).clone();
                set_owner_refs(&mut updated, live);
                self.store.put(&dependent.0, dependent.1.clone(), updated);
            }
        }
        for owner in owner_refs(removed) {
            if let Some(owner_uid) = owner["uid"].as_str() {
                self.finish_foreground(owner_uid);
            }
        }
        let namespace = meta_str(removed, "namespace")
            .unwrap_or_default()
            .to_owned();
        if !namespace.is_empty() {
            self.finish_namespace(&namespace);
            let at = (
                namespace.clone(),
                meta_str(removed, "name").unwrap_or_default().to_owned(),
            );
            if key.group.is_empty() && key.plural == "pods" {
                self.refresh_quotas(&at);
            } else if key.group.is_empty() && key.plural == "resourcequotas" {
                self.forget_quota(&at);
            }
        }
        if key.group == "apiextensions.k8s.io" && key.plural == "customresourcedefinitions" {
            let crd_name = meta_str(removed, "name").unwrap_or_default().to_owned();
            self.remove_custom_kind(&crd_name);
        }
    }

    /// A removed CRD takes its objects with it.
    fn remove_custom_kind(&mut self, crd_name: &str) {
        let Some(key) = self.registry.any_version_of_crd(crd_name) else {
            return;
        };
        let objects: Vec<ObjectKey> = self
            .store
            .range(&key, None, None)
            .map(|(k, _)| k.clone())
            .collect();
        for at in objects {
            if let Some(removed) = self.store.remove(&key, &at) {
                self.after_removal(&key, &removed);
            }
        }
        self.registry.unserve_crd(crd_name);
        self.store.drop_collection(&key);
    }

    /// An object written with ownerReferences none of which exist is garbage,
    /// as upstream's collector would find it.
    pub(crate) fn collect_if_orphaned(&mut self, key: &ResourceKey, object: &Value) {
        let refs = owner_refs(object);
        if refs.is_empty() || object.pointer("/metadata/deletionTimestamp").is_some() {
            return;
        }
        let any_owner_alive = refs.iter().any(|r| {
            r["uid"]
                .as_str()
                .is_some_and(|u| self.store.locate_uid(u).is_some())
        });
        if !any_owner_alive {
            let at = (
                meta_str(object, "namespace").unwrap_or_default().to_owned(),
                meta_str(object, "name").unwrap_or_default().to_owned(),
            );
            self.delete_object(&(key.clone(), at), Propagation::Background);
        }
    }

    /// Marks a namespace Terminating and deletes everything in it.
    fn delete_namespace(&mut self, name: &str) -> ApiResult<Deletion> {
        if SYSTEM_NAMESPACES.contains(&name) {
            return Err(ApiError::Forbidden {
                resource: QualifiedResource::new("", "namespaces"),
                name: name.to_owned(),
                reason: "this namespace may not be deleted".into(),
            });
        }
        let key = ResourceKey {
            group: String::new(),
            plural: "namespaces".into(),
        };
        let at: ObjectKey = (String::new(), name.to_owned());
        let current = self.store.get(&key, &at).expect("caller checked");
        if current.pointer("/metadata/deletionTimestamp").is_none() {
            let mut terminating = (*current).clone();
            terminating["metadata"]["deletionTimestamp"] = json!(now());
            terminating["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            terminating["status"] = json!({ "phase": "Terminating" });
            self.store.put(&key, at.clone(), terminating);
            for resource in self.namespaced_keys() {
                let contents: Vec<ObjectKey> = self
                    .store
                    .range(&resource, Some(name), None)
                    .map(|(k, _)| k.clone())
                    .collect();
                for object in contents {
                    self.delete_object(&(resource.clone(), object), Propagation::Background);
                }
            }
        }
        self.finish_namespace(name);
        Ok(match self.store.get(&key, &at) {
            Some(still_there) => Deletion::Pending(still_there),
            None => Deletion::Removed(current),
        })
    }

    fn namespaced_keys(&self) -> Vec<ResourceKey> {
        let mut keys: Vec<ResourceKey> = self
            .registry
            .all()
            .filter(|s| s.info.namespaced)
            .map(|s| s.key())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Removes a terminating namespace once it is empty.
    fn finish_namespace(&mut self, name: &str) {
        let key = ResourceKey {
            group: String::new(),
            plural: "namespaces".into(),
        };
        let at: ObjectKey = (String::new(), name.to_owned());
        let Some(namespace) = self.store.get(&key, &at) else {
            return;
        };
        if namespace.pointer("/metadata/deletionTimestamp").is_none() {
            return;
        }
        if self
            .namespaced_keys()
            .iter()
            .any(|k| self.store.range(k, Some(name), None).next().is_some())
        {
            return;
        }
        let mut emptied = (*namespace).clone();
        emptied["spec"] = json!({});
        let remaining = finalizers(&emptied);
        self.release(&key, at, &emptied, &remaining);
    }

    /// `DELETE` of a collection: every matching object, one by one.
    pub fn delete_collection(
        &mut self,
        served: &Served,
        targets: Vec<ObjectKey>,
        options: &DeleteOptions,
    ) -> ApiResult<Vec<Arc<Value>>> {
        let mut last_states = Vec::new();
        for (ns, name) in targets {
            let namespace = (!ns.is_empty()).then_some(ns.as_str());
            match self.delete(served, namespace, &name, options) {
                Ok(Deletion::Removed(object) | Deletion::Pending(object)) => {
                    last_states.push(object)
                }
                Err(ApiError::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(last_states)
    }
}

fn set_owner_refs(object: &mut Value, refs: Vec<Value>) {
    let meta = object["metadata"]
        .as_object_mut()
        .expect("metadata is an object");
    if refs.is_empty() {
        meta.remove("ownerReferences");
    } else {
        meta.insert("ownerReferences".into(), Value::Array(refs));
    }
}

fn blocks_owner_deletion(dependent: Option<&Value>, owner_uid: &str) -> bool {
    dependent.is_some_and(|d| {
        owner_refs(d)
            .iter()
            .any(|r| r["uid"] == owner_uid && r["blockOwnerDeletion"] == Value::Bool(true))
    })
}

fn check_preconditions(
    served: &Served,
    name: &str,
    current: &Value,
    options: &DeleteOptions,
) -> ApiResult<()> {
    let conflict = |reason: String| ApiError::Conflict {
        resource: served.qualified(),
        name: name.to_owned(),
        reason,
    };
    if let Some(want) = &options.precondition_uid {
        let have = meta_str(current, "uid").unwrap_or_default();
        if want != have {
            return Err(conflict(format!(
                "Precondition failed: UID in precondition: {want}, UID in object meta: {have}"
            )));
        }
    }
    if let Some(want) = &options.precondition_resource_version {
        let have = meta_str(current, "resourceVersion").unwrap_or_default();
        if want != have {
            return Err(conflict(format!(
                "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {have}"
            )));
        }
    }
    Ok(())
}

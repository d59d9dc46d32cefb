//! The status the operator last wrote to each of its custom resources.
//!
//! The operator is the only writer of its resources' status. A reconcile that
//! starts before the watch cache has seen the previous reconcile's status
//! write would otherwise compute from, and compare with, the older status:
//! it would repeat the write it cannot see (or undo it). The ledger holds
//! what the API server was last given, which is what the server holds.
//!
//! It lives as long as one leadership term's [`crate::context::Context`]: a
//! new term (or another replica) starts from the cache again.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::Resource;

/// Last written status per object uid, of any status type.
#[derive(Default)]
pub struct StatusLedger {
    written: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl StatusLedger {
    /// The object's status as the API server holds it: the one written last
    /// by this operator, else the cached one.
    pub fn current<K, S>(&self, object: &K, cached: Option<&S>) -> Option<S>
    where
        K: Resource,
        S: Clone + Send + Sync + 'static,
    {
        let written = object.meta().uid.as_ref().and_then(|uid| {
            self.lock()
                .get(uid)
                .and_then(|status| status.downcast_ref::<S>().cloned())
        });
        written.or_else(|| cached.cloned())
    }

    /// Notes that `status` was written to `object`.
    pub fn record<K, S>(&self, object: &K, status: &S)
    where
        K: Resource,
        S: Clone + Send + Sync + 'static,
    {
        if let Some(uid) = &object.meta().uid {
            self.lock().insert(uid.clone(), Arc::new(status.clone()));
        }
    }

    /// Forgets a deleted object.
    pub fn forget<K: Resource>(&self, object: &K) {
        if let Some(uid) = &object.meta().uid {
            self.lock().remove(uid);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn Any + Send + Sync>>> {
        self.written
            .lock()
            .expect("the lock is never held across a panic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn object(uid: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                uid: Some(uid.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn the_written_status_wins_over_a_cache_that_has_not_seen_it() {
        let ledger = StatusLedger::default();
        let town = object("u1");
        assert_eq!(ledger.current(&town, Some(&"cached")), Some("cached"));
        ledger.record(&town, &"written");
        assert_eq!(ledger.current(&town, Some(&"cached")), Some("written"));
        assert_eq!(ledger.current::<_, &str>(&town, None), Some("written"));
    }

    #[test]
    fn objects_are_told_apart_by_uid_and_forgotten() {
        let ledger = StatusLedger::default();
        let (first, recreated) = (object("u1"), object("u2"));
        ledger.record(&first, &1_u32);
        assert_eq!(ledger.current(&recreated, Some(&7_u32)), Some(7));
        ledger.forget(&first);
        assert_eq!(ledger.current(&first, Some(&7_u32)), Some(7));
    }

    #[test]
    fn an_object_not_stored_yet_is_not_recorded() {
        let ledger = StatusLedger::default();
        let unstored = ConfigMap::default();
        ledger.record(&unstored, &1_u32);
        assert_eq!(ledger.current::<_, u32>(&unstored, None), None);
    }
}

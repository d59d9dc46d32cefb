//! Decoded pods and quotas, kept per object and resourceVersion.
//!
//! Quota admission and usage run on every pod write in a namespace with a
//! ResourceQuota. Decoding every pod and quota of the namespace each time
//! made a pod write cost O(quotas × pods) typed decodes; with this cache an
//! object is decoded once per version, and a pod write only recomputes the
//! quotas that cover the pod before or after the change.

use super::{PodCharge, QuotaRule};
use crate::store::ObjectKey;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A decoded form of one version of a stored object.
struct Versioned<T> {
    resource_version: String,
    decoded: Arc<T>,
}

#[derive(Default)]
pub(crate) struct QuotaCache {
    /// Per pod: the charge every quota of its namespace last accounted for.
    pods: HashMap<ObjectKey, Versioned<PodCharge>>,
    quotas: HashMap<ObjectKey, Versioned<QuotaRule>>,
}

fn resource_version(object: &Value) -> &str {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The cached decoding of `object` if it is of the same version, else a fresh one.
fn lookup<T>(
    entries: &mut HashMap<ObjectKey, Versioned<T>>,
    at: &ObjectKey,
    object: &Value,
    decode: impl FnOnce(&Value) -> Option<T>,
) -> Option<Arc<T>> {
    let version = resource_version(object);
    if let Some(entry) = entries.get(at)
        && entry.resource_version == version
    {
        return Some(Arc::clone(&entry.decoded));
    }
    let decoded = Arc::new(decode(object)?);
    let entry = Versioned {
        resource_version: version.to_owned(),
        decoded: Arc::clone(&decoded),
    };
    entries.insert(at.clone(), entry);
    Some(decoded)
}

impl QuotaCache {
    /// The charge of the stored pod `pod` at `at`; `None` when it does not decode.
    pub fn charge(&mut self, at: &ObjectKey, pod: &Value) -> Option<Arc<PodCharge>> {
        lookup(&mut self.pods, at, pod, PodCharge::decode)
    }

    /// The rule of the stored quota `quota` at `at`; `None` when it does not decode.
    pub fn rule(&mut self, at: &ObjectKey, quota: &Value) -> Option<Arc<QuotaRule>> {
        lookup(&mut self.quotas, at, quota, QuotaRule::decode)
    }

    /// Forgets the pod at `at`, returning the charge quotas last accounted for.
    pub fn take_charge(&mut self, at: &ObjectKey) -> Option<Arc<PodCharge>> {
        self.pods.remove(at).map(|entry| entry.decoded)
    }

    pub fn forget_quota(&mut self, at: &ObjectKey) {
        self.quotas.remove(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(rv: &str, cpu: &str) -> Value {
        json!({
            "metadata": { "name": "p", "namespace": "ns", "resourceVersion": rv },
            "spec": { "containers": [{ "name": "c", "resources": { "requests": { "cpu": cpu } } }] }
        })
    }

    #[test]
    fn a_pod_is_decoded_again_only_when_its_version_changes() {
        let mut cache = QuotaCache::default();
        let at = ("ns".to_owned(), "p".to_owned());
        let first = cache.charge(&at, &pod("1", "1")).unwrap();
        let same = cache.charge(&at, &pod("1", "2")).unwrap();
        assert!(Arc::ptr_eq(&first, &same), "same version, cached decoding");
        let next = cache.charge(&at, &pod("2", "2")).unwrap();
        assert_ne!(first, next);
        assert_eq!(cache.take_charge(&at), Some(next));
        assert_eq!(cache.take_charge(&at), None);
        assert!(cache.charge(&at, &json!("not a pod")).is_none());
    }
}

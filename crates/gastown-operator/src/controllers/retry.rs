//! How soon a failed reconcile runs again: the delay doubles with each
//! consecutive failure of the same object, so an object that cannot converge
//! (a rejected write, a daemon that is down) does not hammer the API server,
//! and the first success resets it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::{Resource, ResourceExt};

/// First retry after a failed reconcile.
pub const ERROR_BACKOFF: Duration = Duration::from_secs(5);
/// The longest wait between retries of an object that keeps failing.
pub const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(300);
/// Retry after a conflict: the cache was only behind a write of ours.
pub const CONFLICT_RETRY: Duration = Duration::from_secs(1);

/// The wait before the next attempt after `consecutive_failures` failed
/// reconciles in a row (at least one): 5 s, 10 s, 20 s, … up to 5 minutes.
pub fn retry_delay(consecutive_failures: u32) -> Duration {
    let doublings = consecutive_failures.saturating_sub(1).min(16);
    ERROR_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_ERROR_BACKOFF)
}

/// Consecutive failed reconciles per object (kind, namespace, name).
#[derive(Default)]
pub struct FailureCounts {
    streaks: Mutex<HashMap<String, Streak>>,
}

#[derive(Default)]
struct Streak {
    failures: u32,
    /// Whether the owner was told (by an Event) during this streak.
    told: bool,
}

impl FailureCounts {
    /// Records the outcome of one reconcile of `object`; returns how many
    /// reconciles of it have now failed in a row (0 after a success).
    pub fn record<K>(&self, object: &K, succeeded: bool) -> u32
    where
        K: Resource<DynamicType = ()>,
    {
        let key = key(object);
        let mut streaks = self.streaks.lock().expect("never held across a panic");
        if succeeded {
            streaks.remove(&key);
            0
        } else {
            let streak = streaks.entry(key).or_default();
            streak.failures = streak.failures.saturating_add(1);
            streak.failures
        }
    }

    /// How many reconciles of `object` have failed in a row.
    pub fn current<K>(&self, object: &K) -> u32
    where
        K: Resource<DynamicType = ()>,
    {
        let streaks = self.streaks.lock().expect("never held across a panic");
        streaks.get(&key(object)).map_or(0, |s| s.failures)
    }

    /// Whether the owner of `object`, failing now, is yet to be told in this
    /// streak of failures; true at most once per streak.
    pub fn first_telling<K>(&self, object: &K) -> bool
    where
        K: Resource<DynamicType = ()>,
    {
        let mut streaks = self.streaks.lock().expect("never held across a panic");
        match streaks.get_mut(&key(object)) {
            Some(streak) if !streak.told => {
                streak.told = true;
                true
            }
            _ => false,
        }
    }
}

fn key<K>(object: &K) -> String
where
    K: Resource<DynamicType = ()>,
{
    format!(
        "{}/{}/{}",
        K::kind(&()),
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};
    use kube::api::ObjectMeta;

    fn named<K: Resource<DynamicType = ()> + Default>(name: &str) -> K {
        let mut object = K::default();
        *object.meta_mut() = ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            ..ObjectMeta::default()
        };
        object
    }

    #[test]
    fn the_delay_doubles_per_consecutive_failure_up_to_the_cap() {
        let delays: Vec<u64> = (1..=9).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(retry_delay(u32::MAX), MAX_ERROR_BACKOFF);
        // error_policy only runs after a failure, but 0 must not underflow.
        assert_eq!(retry_delay(0), ERROR_BACKOFF);
    }

    #[test]
    fn failures_count_per_object_and_a_success_resets_them() {
        let counts = FailureCounts::default();
        let a: Pod = named("a");
        let b: Pod = named("b");
        let same_name_other_kind: ConfigMap = named("a");
        assert_eq!(counts.record(&a, false), 1);
        assert_eq!(counts.record(&a, false), 2);
        assert_eq!(counts.record(&b, false), 1);
        assert_eq!(counts.current(&a), 2);
        assert_eq!(counts.current(&same_name_other_kind), 0);
        assert_eq!(counts.record(&a, true), 0);
        assert_eq!(counts.current(&a), 0);
        assert_eq!(counts.current(&b), 1);
    }

    #[test]
    fn the_owner_is_told_once_per_streak_of_failures() {
        let counts = FailureCounts::default();
        let a: Pod = named("a");
        assert!(!counts.first_telling(&a), "nothing failed");
        counts.record(&a, false);
        assert!(counts.first_telling(&a));
        counts.record(&a, false);
        assert!(!counts.first_telling(&a), "told already in this streak");
        counts.record(&a, true);
        counts.record(&a, false);
        assert!(counts.first_telling(&a), "a new streak is told again");
    }
}

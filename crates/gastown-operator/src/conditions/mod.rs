//! Standard status conditions: set one without disturbing the others, and
//! keep `lastTransitionTime` when the status did not actually change, so that
//! recomputing status from the same observations produces the same object.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// What a reconcile concluded about one condition type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub type_: &'static str,
    pub status: bool,
    /// CamelCase, machine-readable.
    pub reason: String,
    /// For people; never contains secret values.
    pub message: String,
    /// Neither True nor False: not known yet (`status` is then false).
    pub unknown: bool,
}

impl Observed {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
            unknown: false,
        }
    }

    /// A condition whose status is `Unknown`: unknown shows as unknown.
    pub fn unknown(
        type_: &'static str,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            unknown: true,
            ..Self::new(type_, false, reason, message)
        }
    }
}

pub mod telling;

/// A condition that changed status (or began to crash-loop), for
/// [`telling`] to decide whether it is worth an Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
    /// The condition as it was: `None` when it is new.
    pub before: Option<Before>,
}

/// A condition's status and reason before a transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Before {
    pub status: bool,
    pub reason: String,
}

/// What every status projection starts from.
#[derive(Clone, Copy, Debug)]
pub struct Baseline<'a, S> {
    /// The status as last written ([`crate::status_ledger`]); `None` at first.
    pub previous: Option<&'a S>,
    /// The `metadata.generation` the new status describes.
    pub generation: Option<i64>,
    pub now: Timestamp,
}

impl<'a, S> Baseline<'a, S> {
    /// A baseline as given (tests fix the time and generation).
    pub fn new(previous: Option<&'a S>, generation: Option<i64>, now: Timestamp) -> Self {
        Self {
            previous,
            generation,
            now,
        }
    }

    /// The baseline of `object`'s status now, against `previous`.
    pub fn of<K: kube::Resource>(object: &K, previous: Option<&'a S>) -> Self {
        Self {
            previous,
            generation: object.meta().generation,
            now: Timestamp::now(),
        }
    }
}

fn status_text(status: bool) -> &'static str {
    if status { "True" } else { "False" }
}

/// Merges `observed` into `conditions`. Returns true when a condition's status
/// changed (a transition worth an Event).
pub fn set(
    conditions: &mut Vec<Condition>,
    observed: Observed,
    generation: Option<i64>,
    now: Timestamp,
) -> bool {
    let status = if observed.unknown {
        "Unknown"
    } else {
        status_text(observed.status)
    };
    match conditions.iter_mut().find(|c| c.type_ == observed.type_) {
        Some(existing) => {
            let transitioned = existing.status != status;
            if transitioned {
                existing.last_transition_time = Time(now);
            }
            existing.status = status.to_string();
            existing.reason = observed.reason;
            existing.message = observed.message;
            existing.observed_generation = generation;
            transitioned
        }
        None => {
            conditions.push(Condition {
                type_: observed.type_.to_string(),
                status: status.to_string(),
                reason: observed.reason,
                message: observed.message,
                observed_generation: generation,
                last_transition_time: Time(now),
            });
            true
        }
    }
}

/// The reason of a condition whose workload's container keeps failing. A
/// condition that turns to it is told as a transition even when it was False
/// already (not ready yet → crash-looping): someone may need to act.
pub const CRASH_LOOP_BACK_OFF: &str = "CrashLoopBackOff";

/// Merges each of `observed` into `conditions`, in order; returns the
/// transitions (conditions whose status changed, or that began to
/// crash-loop), for Events.
pub fn set_all(
    conditions: &mut Vec<Condition>,
    observed: impl IntoIterator<Item = Observed>,
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Transition> {
    let mut transitions = Vec::new();
    for c in observed {
        let existing = conditions.iter().find(|existing| existing.type_ == c.type_);
        let transition = Transition {
            type_: c.type_,
            status: c.status,
            reason: c.reason.clone(),
            message: c.message.clone(),
            before: existing.map(|existing| Before {
                status: existing.status == "True",
                reason: existing.reason.clone(),
            }),
        };
        let began_crashing = c.reason == CRASH_LOOP_BACK_OFF
            && existing.is_some_and(|existing| existing.reason != CRASH_LOOP_BACK_OFF);
        if set(conditions, c, generation, now) || began_crashing {
            transitions.push(transition);
        }
    }
    transitions
}

/// The status of condition `type_`, if present.
pub fn is_true(conditions: &[Condition], type_: &str) -> Option<bool> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn new_condition_is_added_as_a_transition() {
        let mut conditions = Vec::new();
        assert!(set(
            &mut conditions,
            Observed::new("Ready", true, "AllGood", "ok"),
            Some(3),
            at(10)
        ));
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].status, "True");
        assert_eq!(conditions[0].observed_generation, Some(3));
        assert_eq!(conditions[0].last_transition_time, Time(at(10)));
    }

    #[test]
    fn unchanged_status_keeps_transition_time_but_updates_message() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            Observed::new("Ready", false, "Waiting", "0/2"),
            Some(1),
            at(10),
        );
        let transitioned = set(
            &mut conditions,
            Observed::new("Ready", false, "Waiting", "1/2"),
            Some(1),
            at(20),
        );
        assert!(!transitioned);
        assert_eq!(conditions[0].last_transition_time, Time(at(10)));
        assert_eq!(conditions[0].message, "1/2");
    }

    #[test]
    fn status_change_moves_transition_time_and_leaves_others_alone() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            Observed::new("Ready", false, "Waiting", ""),
            None,
            at(10),
        );
        set(
            &mut conditions,
            Observed::new("DoltReady", true, "Ready", ""),
            None,
            at(10),
        );
        assert!(set(
            &mut conditions,
            Observed::new("Ready", true, "Ready", ""),
            None,
            at(30)
        ));
        assert_eq!(conditions[0].last_transition_time, Time(at(30)));
        assert_eq!(conditions[1].last_transition_time, Time(at(10)));
        assert_eq!(is_true(&conditions, "Ready"), Some(true));
        assert_eq!(is_true(&conditions, "Missing"), None);
    }
}

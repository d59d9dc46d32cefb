//! Ordered teardown: the stages an owner's finalizer goes through, the pure
//! decision of what to do next ([`next_step`]), and the one [`executor`] that
//! does it for the town, the rig and the pool.
//!
//! A finalizer runs the teardown one step per reconcile: it observes what is
//! left, asks [`next_step`] what to do, does it, and requeues. Nothing is
//! remembered between reconciles, so an operator restarted at any step (or a
//! garbage collector that deleted some objects early) simply continues from
//! what it observes.

pub mod executor;

use std::time::Duration;

use gastown_api::Rig;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use super::kinds::{Managed, ObjectKind};

/// An object the teardown waits for or deletes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tracked {
    pub kind: ObjectKind,
    pub name: String,
    /// Already has a deletionTimestamp: deleting it again would be a wasted write.
    pub terminating: bool,
}

impl Tracked {
    pub fn new(kind: ObjectKind, name: impl Into<String>, terminating: bool) -> Self {
        Self {
            kind,
            name: name.into(),
            terminating,
        }
    }

    /// The cached `object`, tracked.
    pub fn of<K: Managed>(object: &K) -> Self {
        Self::new(
            K::KIND,
            object.name_any(),
            object.meta().deletion_timestamp.is_some(),
        )
    }
}

/// How one Rig is told to stop new work.
#[derive(Clone, Debug)]
pub enum Mark {
    /// A Rig the town declares: applied whole with the draining annotation
    /// (the town's field manager owns its whole spec, so applying the
    /// annotation alone would drop the rest).
    Apply(Box<Rig>),
    /// A Rig applied on its own with the town's label: only the annotation is
    /// ours to set.
    Annotate(String),
    /// A Rig the town owns but no longer declares: deleted, it drains itself.
    Delete(String),
}

/// Marks are equal when they write the same way to the same Rig.
impl PartialEq for Mark {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other) && self.rig() == other.rig()
    }
}

impl Mark {
    pub fn rig(&self) -> String {
        match self {
            Mark::Apply(rig) => rig.name_any(),
            Mark::Annotate(name) | Mark::Delete(name) => name.clone(),
        }
    }
}

/// When the grace period of an owner deleted at `deleted_at` ends (now, for
/// an owner not being deleted).
pub fn drain_deadline(deleted_at: Option<&Time>, grace: Duration) -> Timestamp {
    let started = deleted_at.map_or_else(Timestamp::now, |t| t.0);
    started
        .checked_add(SignedDuration::try_from(grace).unwrap_or_default())
        .unwrap_or(started)
}

/// One stage of a teardown, in the order the stages must complete.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// Rigs that must be told to stop new work.
    StopNewWork { unmarked: Vec<Mark> },
    /// Work that may finish on its own until `deadline`; after it, the
    /// remaining workers are deleted.
    Drain {
        active: Vec<Tracked>,
        deadline: Timestamp,
    },
    /// Objects to delete, waiting until they are gone.
    Remove {
        what: &'static str,
        remaining: Vec<Tracked>,
    },
}

/// What the finalizer should do now.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Mark these rigs as draining.
    StopNewWork(Vec<Mark>),
    /// Delete these objects (none of them is terminating yet).
    Delete(Vec<Tracked>),
    /// Nothing to do but wait; `progress` is for status and events.
    Wait {
        progress: String,
        recheck_after: Duration,
    },
    /// Every stage is complete: remove the finalizer.
    Done,
}

/// How often a waiting teardown looks again (the seed's "30 s while draining").
pub const DRAIN_RECHECK: Duration = Duration::from_secs(30);
/// How often a teardown waiting for deletions to finish looks again; the
/// deletions themselves also trigger a reconcile through the watches.
pub const REMOVAL_RECHECK: Duration = Duration::from_secs(5);

/// The first incomplete stage decides the step.
pub fn next_step(stages: &[Stage], now: Timestamp) -> Step {
    for stage in stages {
        match stage {
            Stage::StopNewWork { unmarked } => {
                if !unmarked.is_empty() {
                    return Step::StopNewWork(unmarked.clone());
                }
            }
            Stage::Drain { active, deadline } => {
                if active.is_empty() {
                    continue;
                }
                if now < *deadline {
                    let left = deadline.duration_since(now).unsigned_abs();
                    return Step::Wait {
                        progress: format!(
                            "waiting for {} active {} to finish ({}s left of the grace period)",
                            active.len(),
                            plural(active.len(), "polecat", "polecats"),
                            left.as_secs()
                        ),
                        recheck_after: DRAIN_RECHECK.min(left.max(Duration::from_secs(1))),
                    };
                }
                if let Some(action) = delete_or_wait("polecats past the grace period", active) {
                    return action;
                }
            }
            Stage::Remove { what, remaining } => {
                if let Some(action) = delete_or_wait(what, remaining) {
                    return action;
                }
            }
        }
    }
    Step::Done
}

fn delete_or_wait(what: &str, remaining: &[Tracked]) -> Option<Step> {
    if remaining.is_empty() {
        return None;
    }
    let to_delete: Vec<Tracked> = remaining
        .iter()
        .filter(|t| !t.terminating)
        .cloned()
        .collect();
    Some(if to_delete.is_empty() {
        Step::Wait {
            progress: format!("waiting for {} {what} to be deleted", remaining.len()),
            recheck_after: REMOVAL_RECHECK,
        }
    } else {
        Step::Delete(to_delete)
    })
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn pod(name: &str, terminating: bool) -> Tracked {
        Tracked::new(ObjectKind::Pod, name, terminating)
    }

    fn town_stages(
        unmarked: Vec<Mark>,
        polecats: Vec<Tracked>,
        rigs: Vec<Tracked>,
        infra: Vec<Tracked>,
    ) -> Vec<Stage> {
        vec![
            Stage::StopNewWork { unmarked },
            Stage::Drain {
                active: polecats,
                deadline: at(600),
            },
            Stage::Remove {
                what: "rigs",
                remaining: rigs,
            },
            Stage::Remove {
                what: "infrastructure objects",
                remaining: infra,
            },
        ]
    }

    #[test]
    fn stops_new_work_before_anything_else() {
        let rig = Tracked::new(ObjectKind::Rig, "a", false);
        let mark = Mark::Annotate("a".into());
        let stages = town_stages(vec![mark.clone()], vec![pod("p", false)], vec![rig], vec![]);
        assert_eq!(next_step(&stages, at(0)), Step::StopNewWork(vec![mark]));
    }

    #[test]
    fn waits_for_active_polecats_within_the_grace_period() {
        let stages = town_stages(
            vec![],
            vec![pod("p1", false), pod("p2", false)],
            vec![],
            vec![],
        );
        match next_step(&stages, at(590)) {
            Step::Wait {
                progress,
                recheck_after,
            } => {
                assert!(progress.contains("2 active polecats"), "{progress}");
                assert!(progress.contains("10s left"), "{progress}");
                assert_eq!(recheck_after, Duration::from_secs(10));
            }
            other => panic!("expected Wait, got {other:?}"),
        }
    }

    #[test]
    fn deletes_remaining_polecats_after_the_deadline_and_skips_terminating_ones() {
        let stages = town_stages(
            vec![],
            vec![pod("p1", true), pod("p2", false)],
            vec![],
            vec![],
        );
        assert_eq!(
            next_step(&stages, at(600)),
            Step::Delete(vec![pod("p2", false)])
        );
    }

    #[test]
    fn later_stages_wait_for_earlier_deletions_to_finish() {
        let rig = Tracked::new(ObjectKind::Rig, "a", true);
        let infra = Tracked::new(ObjectKind::StatefulSet, "dolt", false);
        let stages = town_stages(vec![], vec![], vec![rig], vec![infra]);
        assert!(matches!(next_step(&stages, at(0)), Step::Wait { .. }));
    }

    #[test]
    fn removes_stages_in_order_then_finishes() {
        let infra = Tracked::new(ObjectKind::StatefulSet, "dolt", false);
        let stages = town_stages(vec![], vec![], vec![], vec![infra.clone()]);
        assert_eq!(next_step(&stages, at(0)), Step::Delete(vec![infra]));
        assert_eq!(
            next_step(&town_stages(vec![], vec![], vec![], vec![]), at(0)),
            Step::Done
        );
    }
}

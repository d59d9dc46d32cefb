//! Ordered teardown, as a pure decision over observed state.
//!
//! A finalizer runs the teardown one step per reconcile: it observes what is
//! left, asks [`next_action`] what to do, does it, and requeues. Nothing is
//! remembered between reconciles, so an operator restarted at any step (or a
//! garbage collector that deleted some objects early) simply continues from
//! what it observes.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

/// An object the teardown waits for or deletes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tracked {
    /// Kind, as the user would type it (`Pod`, `Rig`, ...).
    pub kind: &'static str,
    pub name: String,
    /// Already has a deletionTimestamp: deleting it again would be a wasted write.
    pub terminating: bool,
}

impl Tracked {
    pub fn new(kind: &'static str, name: impl Into<String>, terminating: bool) -> Self {
        Self {
            kind,
            name: name.into(),
            terminating,
        }
    }
}

/// One stage of a teardown, in the order the stages must complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Objects that must be told to stop new work (e.g. rigs to mark draining).
    StopNewWork { unmarked: Vec<Tracked> },
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Mark these objects as draining.
    StopNewWork(Vec<Tracked>),
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

/// The first incomplete stage decides the action.
pub fn next_action(stages: &[Stage], now: Timestamp) -> Action {
    for stage in stages {
        match stage {
            Stage::StopNewWork { unmarked } => {
                if !unmarked.is_empty() {
                    return Action::StopNewWork(unmarked.clone());
                }
            }
            Stage::Drain { active, deadline } => {
                if active.is_empty() {
                    continue;
                }
                if now < *deadline {
                    let left = deadline.duration_since(now).unsigned_abs();
                    return Action::Wait {
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
    Action::Done
}

fn delete_or_wait(what: &str, remaining: &[Tracked]) -> Option<Action> {
    if remaining.is_empty() {
        return None;
    }
    let to_delete: Vec<Tracked> = remaining
        .iter()
        .filter(|t| !t.terminating)
        .cloned()
        .collect();
    Some(if to_delete.is_empty() {
        Action::Wait {
            progress: format!("waiting for {} {what} to be deleted", remaining.len()),
            recheck_after: REMOVAL_RECHECK,
        }
    } else {
        Action::Delete(to_delete)
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
        Tracked::new("Pod", name, terminating)
    }

    fn town_stages(
        unmarked: Vec<Tracked>,
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
        let rig = Tracked::new("Rig", "a", false);
        let stages = town_stages(
            vec![rig.clone()],
            vec![pod("p", false)],
            vec![rig.clone()],
            vec![],
        );
        assert_eq!(next_action(&stages, at(0)), Action::StopNewWork(vec![rig]));
    }

    #[test]
    fn waits_for_active_polecats_within_the_grace_period() {
        let stages = town_stages(
            vec![],
            vec![pod("p1", false), pod("p2", false)],
            vec![],
            vec![],
        );
        match next_action(&stages, at(590)) {
            Action::Wait {
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
            next_action(&stages, at(600)),
            Action::Delete(vec![pod("p2", false)])
        );
    }

    #[test]
    fn later_stages_wait_for_earlier_deletions_to_finish() {
        let rig = Tracked::new("Rig", "a", true);
        let infra = Tracked::new("StatefulSet", "dolt", false);
        let stages = town_stages(vec![], vec![], vec![rig], vec![infra]);
        assert!(matches!(next_action(&stages, at(0)), Action::Wait { .. }));
    }

    #[test]
    fn removes_stages_in_order_then_finishes() {
        let infra = Tracked::new("StatefulSet", "dolt", false);
        let stages = town_stages(vec![], vec![], vec![], vec![infra.clone()]);
        assert_eq!(next_action(&stages, at(0)), Action::Delete(vec![infra]));
        assert_eq!(
            next_action(&town_stages(vec![], vec![], vec![], vec![]), at(0)),
            Action::Done
        );
    }
}

//! Which condition transitions become Events. Events are for people: a clean
//! start tells each object's first `Ready` and nothing else; `Warning` is kept
//! for what someone may need to act on; a recovery is told when the fall was.
//! Every transition is still in the status (conditions, `lastTransitionTime`)
//! and in the log.
//!
//! A condition's reason puts it in one of these classes:
//! - *progress* (`NotReady`, `Pending`, …): the object is on its way; silent
//!   for the parts, and a `Ready` that falls back to it after being True is a
//!   `Warning` (something that ran does not any more);
//! - *churn* (a pool's polecats coming and going): silent, `Ready` included;
//! - *paced* (a rollout, a drain): told as `Normal` when it starts and when it
//!   ends;
//! - *attention*, any other reason (`CrashLoopBackOff`, `Blocked`,
//!   `Unreachable`, …): a `Warning` when entered, a `Normal` when left.

use super::Transition;

/// The condition every kind aggregates the others into.
const READY: &str = "Ready";

/// Condition types for which `True` is the bad state.
const TRUE_IS_BAD: [&str; 4] = [
    "BeadsUnavailable",
    "PolecatOvertime",
    "QuotaExhausted",
    "Draining",
];

/// Reasons of an object on its way to ready. `Unresolved` (a Rig's town or a
/// pool's rig does not exist yet) is among them: objects may be applied in
/// any order, and the status says it.
const PROGRESS: [&str; 5] = [
    "NotReady",
    "PodNotReady",
    "Pending",
    "Reconciling",
    "Unresolved",
];

/// Reasons of a pool whose polecats come and go: beads' normal work.
const CHURN: [&str; 2] = ["AgentsPending", "PodsNotReady"];

/// Reasons of a change someone asked for: a rollout, a drain.
const PACED: [&str; 5] = [
    "RollingOut",
    "WaitingForIdle",
    "Draining",
    "NotDraining",
    "DrainRequested",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Progress,
    Churn,
    Paced,
    Attention,
}

fn class(reason: &str) -> Class {
    if PROGRESS.contains(&reason) {
        Class::Progress
    } else if CHURN.contains(&reason) {
        Class::Churn
    } else if PACED.contains(&reason) {
        Class::Paced
    } else {
        Class::Attention
    }
}

/// One Event to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Telling {
    pub warning: bool,
    pub reason: String,
    pub note: String,
}

/// The Events `transitions` (one status write's) are worth, in order.
pub fn tellings(transitions: &[Transition]) -> Vec<Telling> {
    let told: Vec<(&Transition, bool)> = transitions
        .iter()
        .filter_map(|t| warning(t).map(|warning| (t, warning)))
        .collect();
    // A part's Event says more than Ready's "not ready: …"; Ready's of the
    // same kind goes unsaid.
    let part_told = |warning: bool| told.iter().any(|(t, w)| t.type_ != READY && *w == warning);
    told.iter()
        .filter(|(t, warning)| t.type_ != READY || !part_told(*warning))
        .map(|(t, warning)| Telling {
            warning: *warning,
            reason: t.reason.clone(),
            note: format!("{}: {}", t.type_, t.message),
        })
        .collect()
}

/// `None` when the transition is not told; otherwise whether it is a Warning.
fn warning(t: &Transition) -> Option<bool> {
    let good = |status: bool| status != TRUE_IS_BAD.contains(&t.type_);
    let ready = t.type_ == READY;
    if !good(t.status) {
        // Entered a bad state (new, fallen from good, or began to crash-loop).
        return match class(&t.reason) {
            Class::Attention => Some(true),
            // A rollout or drain under way from the first status is no news.
            Class::Paced => (ready || t.before.is_some()).then_some(false),
            Class::Churn => None,
            Class::Progress => {
                let fell = t.before.as_ref().is_some_and(|b| good(b.status));
                (ready && fell).then_some(true)
            }
        };
    }
    let Some(before) = &t.before else {
        // A new condition that is already good: only a first Ready is news.
        return ready.then_some(false);
    };
    if good(before.status) {
        return None;
    }
    // Recovered: told when the fall was.
    match class(&before.reason) {
        Class::Attention | Class::Paced => Some(false),
        Class::Progress => ready.then_some(false),
        Class::Churn => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::{Before, CRASH_LOOP_BACK_OFF};

    fn transition(
        type_: &'static str,
        status: bool,
        reason: &str,
        before: Option<(bool, &str)>,
    ) -> Transition {
        Transition {
            type_,
            status,
            reason: reason.into(),
            message: format!("{type_} is {reason}"),
            before: before.map(|(status, reason)| Before {
                status,
                reason: reason.into(),
            }),
        }
    }

    fn told(transitions: &[Transition]) -> Vec<(bool, String)> {
        tellings(transitions)
            .into_iter()
            .map(|t| (t.warning, t.reason))
            .collect()
    }

    #[test]
    fn a_clean_start_tells_only_the_first_ready() {
        // First status: everything on its way.
        let first = [
            transition("DoltReady", false, "NotReady", None),
            transition("MayorHealthy", false, "PodNotReady", None),
            transition("RigsReconciled", false, "Reconciling", None),
            transition("AgentsUpToDate", true, "UpToDate", None),
            transition("Ready", false, "NotReady", None),
        ];
        assert_eq!(told(&first), []);
        // Then each part becomes ready, and the town with them.
        let parts = [
            transition("DoltReady", true, "Ready", Some((false, "NotReady"))),
            transition("MayorHealthy", true, "Alive", Some((false, "PodNotReady"))),
        ];
        assert_eq!(told(&parts), []);
        let ready = [transition(
            "Ready",
            true,
            "AllReady",
            Some((false, "NotReady")),
        )];
        assert_eq!(told(&ready), [(false, "AllReady".to_string())]);
    }

    #[test]
    fn what_needs_a_person_is_a_warning_and_its_end_is_normal() {
        let crash = [
            transition(
                "DoltReady",
                false,
                CRASH_LOOP_BACK_OFF,
                Some((false, "NotReady")),
            ),
            transition("Ready", false, "NotReady", None),
        ];
        assert_eq!(told(&crash), [(true, CRASH_LOOP_BACK_OFF.to_string())]);
        let blocked_from_the_start = [transition("WitnessReady", false, "Blocked", None)];
        assert_eq!(
            told(&blocked_from_the_start),
            [(true, "Blocked".to_string())]
        );
        // Recovered from the crash: the part's Normal says it, Ready's is
        // folded into it.
        let recovered = [
            transition(
                "DoltReady",
                true,
                "Ready",
                Some((false, CRASH_LOOP_BACK_OFF)),
            ),
            transition("Ready", true, "AllReady", Some((false, "NotReady"))),
        ];
        assert_eq!(told(&recovered), [(false, "Ready".to_string())]);
    }

    #[test]
    fn a_town_that_ran_and_stopped_is_a_warning_once() {
        // The parts fall back to mere progress (a pod restarting): silent;
        // Ready falling from True says it once.
        let fell = [
            transition("DoltReady", false, "NotReady", Some((true, "Ready"))),
            transition("Ready", false, "NotReady", Some((true, "AllReady"))),
        ];
        assert_eq!(told(&fell), [(true, "NotReady".to_string())]);
        let back = [
            transition("DoltReady", true, "Ready", Some((false, "NotReady"))),
            transition("Ready", true, "AllReady", Some((false, "NotReady"))),
        ];
        assert_eq!(told(&back), [(false, "AllReady".to_string())]);
    }

    #[test]
    fn conditions_whose_true_is_bad_warn_when_they_turn_true() {
        let unavailable = [transition(
            "BeadsUnavailable",
            true,
            "Unavailable",
            Some((false, "Answered")),
        )];
        assert_eq!(told(&unavailable), [(true, "Unavailable".to_string())]);
        let answered = [transition(
            "BeadsUnavailable",
            false,
            "Answered",
            Some((true, "Unavailable")),
        )];
        assert_eq!(told(&answered), [(false, "Answered".to_string())]);
        // New and good: nothing to say.
        let fine = [transition(
            "PolecatOvertime",
            false,
            "WithinMaxRuntime",
            None,
        )];
        assert_eq!(told(&fine), []);
    }

    #[test]
    fn a_pools_polecats_coming_and_going_are_silent() {
        let spawn = [transition(
            "Ready",
            false,
            "PodsNotReady",
            Some((true, "AllReady")),
        )];
        assert_eq!(told(&spawn), []);
        let up = [transition(
            "Ready",
            true,
            "AllReady",
            Some((false, "AgentsPending")),
        )];
        assert_eq!(told(&up), []);
    }

    #[test]
    fn a_drain_or_rollout_is_normal_when_it_starts_and_ends() {
        // The rig's Draining condition says it; Ready's is folded into it.
        let drain = [
            transition("Draining", true, "Draining", Some((false, "NotDraining"))),
            transition("Ready", false, "Draining", Some((true, "AllReady"))),
        ];
        assert_eq!(told(&drain), [(false, "Draining".to_string())]);
        let requested = [transition(
            "Draining",
            true,
            "DrainRequested",
            Some((false, "NotDraining")),
        )];
        assert_eq!(told(&requested), [(false, "DrainRequested".to_string())]);
        let rolling = [transition(
            "AgentsUpToDate",
            false,
            "RollingOut",
            Some((true, "UpToDate")),
        )];
        assert_eq!(told(&rolling), [(false, "RollingOut".to_string())]);
        let rolled = [transition(
            "AgentsUpToDate",
            true,
            "UpToDate",
            Some((false, "WaitingForIdle")),
        )];
        assert_eq!(told(&rolled), [(false, "UpToDate".to_string())]);
        // Under way from the first status: no news.
        let first = [transition("AgentsUpToDate", false, "RollingOut", None)];
        assert_eq!(told(&first), []);
        let resumed = [
            transition("Draining", false, "NotDraining", Some((true, "Draining"))),
            transition("Ready", true, "AllReady", Some((false, "Draining"))),
        ];
        assert_eq!(told(&resumed), [(false, "NotDraining".to_string())]);
    }
}

//! The AgentPool status, derived purely from what a reconcile observed and
//! decided: one row per agent of the pool, the counts, and the conditions.

use gastown_api::AgentPoolStatus;
use gastown_api::agentpool::{AgentPhase, PoolAgent};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::conditions::Transition;
use crate::conditions::{self, Baseline, Observed};

/// Condition types of an AgentPool.
pub mod condition {
    /// Every agent beads wants running has a ready pod.
    pub const READY: &str = "Ready";
    /// Some agent waits for a pod because of `maxCount` or the rig's ResourceQuota.
    pub const QUOTA_EXHAUSTED: &str = "QuotaExhausted";
    /// beads could not be read, or its answer is not trusted enough to delete pods.
    pub const BEADS_UNAVAILABLE: &str = "BeadsUnavailable";
}

/// Why an agent beads wants running has no pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// The pool already runs its ceiling of pods.
    MaxCount(usize),
    /// The API server refused the pod: the ResourceQuota is exhausted.
    Quota(String),
    /// The rig or the pool is draining: no new polecats.
    Draining,
    /// The pod cannot be built or would not start (a missing Secret, no image).
    Blocked(String),
    /// The agent's previous pod is still terminating.
    PreviousPodTerminating,
}

impl Waiting {
    fn describe(&self) -> String {
        match self {
            Waiting::MaxCount(limit) => format!("maxCount {limit} reached"),
            Waiting::Quota(message) => format!("refused by the quota: {message}"),
            Waiting::Draining => "draining: no new polecats".into(),
            Waiting::Blocked(reason) => reason.clone(),
            Waiting::PreviousPodTerminating => "its previous pod is terminating".into(),
        }
    }

    fn is_limit(&self) -> bool {
        matches!(self, Waiting::MaxCount(_) | Waiting::Quota(_))
    }
}

/// What the pool does about one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Its pod exists, or is being created by this reconcile.
    Scheduled,
    /// beads wants it running but it has no pod.
    Waiting(Waiting),
    /// A polecat whose pod ended while its bead is still live: not recreated
    /// until beads asks for a new pod (see the controller's module docs).
    Ended,
    /// Its bead is finished; its pod is removed (unless deletions are withheld).
    Leaving,
    /// Another controller or pool runs it.
    Elsewhere(String),
}

/// One agent of the pool as this reconcile sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRow {
    pub name: String,
    pub bead_id: Option<String>,
    /// beads' `agent_state`.
    pub state: Option<String>,
    pub hook_bead: Option<String>,
    pub pod_name: Option<String>,
    /// Phase of the pod; `Pending` for an agent waiting for one.
    pub phase: Option<AgentPhase>,
    pub ready: bool,
    pub started_at: Option<Time>,
    pub disposition: Disposition,
}

/// How far beads' answer could be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeadsHealth {
    /// The pool followed beads' answer.
    Answered,
    /// beads answered, but suspiciously: pods were created, none deleted.
    DeletionsWithheld(String),
    /// No usable answer: nothing was created, deleted or reported.
    Unavailable(String),
}

/// Everything the status is computed from.
#[derive(Clone, Debug)]
pub struct PoolObservation<'a> {
    pub base: Baseline<'a, AgentPoolStatus>,
    /// Why the pool cannot be reconciled at all (no rig, no town, unsupported role).
    pub unresolved: Option<String>,
    /// Why no new polecats start (rig or pool draining), or teardown progress.
    pub draining: Option<String>,
    pub beads: BeadsHealth,
    pub agents: Vec<AgentRow>,
    /// Running polecats on an older spec; `None`: not a polecat pool, or unknown.
    pub older_spec: Option<usize>,
}

/// At most this many names in a condition message.
const NAMES_IN_MESSAGE: usize = 10;

fn list<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    let mut text: Vec<String> = items.iter().take(NAMES_IN_MESSAGE).map(show).collect();
    if items.len() > NAMES_IN_MESSAGE {
        text.push(format!("and {} more", items.len() - NAMES_IN_MESSAGE));
    }
    text.join(", ")
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn waiting_of(row: &AgentRow) -> Option<&Waiting> {
    match &row.disposition {
        Disposition::Waiting(waiting) => Some(waiting),
        _ => None,
    }
}

fn ready_condition(o: &PoolObservation<'_>) -> Observed {
    use condition::READY;
    if let Some(reason) = &o.unresolved {
        return Observed::new(READY, false, "Unresolved", reason.clone());
    }
    if let Some(progress) = &o.draining {
        return Observed::new(READY, false, "Draining", progress.clone());
    }
    if let BeadsHealth::Unavailable(reason) = &o.beads {
        return Observed::new(READY, false, "BeadsUnavailable", reason.clone());
    }
    let waiting: Vec<&AgentRow> = o
        .agents
        .iter()
        .filter(|row| waiting_of(row).is_some())
        .collect();
    if !waiting.is_empty() {
        return Observed::new(
            READY,
            false,
            "AgentsPending",
            format!(
                "{} waiting for a pod: {}",
                agents(waiting.len()),
                list(&waiting, |row| format!(
                    "{} ({})",
                    row.name,
                    waiting_of(row).map(Waiting::describe).unwrap_or_default()
                ))
            ),
        );
    }
    let not_ready: Vec<&AgentRow> = o
        .agents
        .iter()
        .filter(|row| row.disposition == Disposition::Scheduled && !row.ready)
        .collect();
    if !not_ready.is_empty() {
        return Observed::new(
            READY,
            false,
            "PodsNotReady",
            format!(
                "pods not ready yet: {}",
                list(&not_ready, |row| row.name.clone())
            ),
        );
    }
    let running = o
        .agents
        .iter()
        .filter(|row| row.disposition == Disposition::Scheduled)
        .count();
    let message = if running == 0 {
        "beads wants no agent of this pool running".to_string()
    } else {
        format!("{} running as beads wants", agents(running))
    };
    Observed::new(READY, true, "AllReady", message)
}

fn agents(n: usize) -> String {
    if n == 1 {
        "1 agent".into()
    } else {
        format!("{n} agents")
    }
}

fn quota_condition(rows: &[AgentRow]) -> Observed {
    use condition::QUOTA_EXHAUSTED;
    let limited: Vec<&AgentRow> = rows
        .iter()
        .filter(|row| waiting_of(row).is_some_and(Waiting::is_limit))
        .collect();
    if limited.is_empty() {
        return Observed::new(
            QUOTA_EXHAUSTED,
            false,
            "WithinLimits",
            "every agent beads wants running fits within maxCount and the quota",
        );
    }
    let refused_by_quota = limited
        .iter()
        .any(|row| matches!(waiting_of(row), Some(Waiting::Quota(_))));
    Observed::new(
        QUOTA_EXHAUSTED,
        true,
        if refused_by_quota {
            "QuotaExceeded"
        } else {
            "MaxCountReached"
        },
        format!(
            "{} pending: {}",
            agents(limited.len()),
            list(&limited, |row| format!(
                "{} ({})",
                row.name,
                waiting_of(row).map(Waiting::describe).unwrap_or_default()
            ))
        ),
    )
}

fn beads_condition(beads: &BeadsHealth) -> Observed {
    use condition::BEADS_UNAVAILABLE;
    match beads {
        BeadsHealth::Answered => Observed::new(
            BEADS_UNAVAILABLE,
            false,
            "Answered",
            "beads answered; the pool follows it",
        ),
        BeadsHealth::DeletionsWithheld(reason) => {
            Observed::new(BEADS_UNAVAILABLE, true, "DeletionsWithheld", reason.clone())
        }
        BeadsHealth::Unavailable(reason) => {
            Observed::new(BEADS_UNAVAILABLE, true, "Unavailable", reason.clone())
        }
    }
}

fn pool_agent(row: &AgentRow) -> PoolAgent {
    PoolAgent {
        name: row.name.clone(),
        bead_id: row.bead_id.clone(),
        phase: row.phase,
        state: row.state.clone(),
        hook_bead: row.hook_bead.clone(),
        pod_name: row.pod_name.clone(),
        started_at: row.started_at.clone(),
    }
}

/// The pool's status and the conditions that changed status (for Events).
///
/// Without a usable beads answer (or without a rig), the agents and counts
/// stay as last reported: they are beads' view, and nothing newer is known.
pub fn pool_status(o: &PoolObservation<'_>) -> (AgentPoolStatus, Vec<Transition>) {
    let previous = o.base.previous.cloned().unwrap_or_default();
    let mut conditions_list = previous.conditions.clone().unwrap_or_default();
    let mut observed = vec![ready_condition(o)];
    if o.unresolved.is_none() {
        observed.push(beads_condition(&o.beads));
        observed.push(quota_condition(&o.agents));
    }
    let transitions = conditions::set_all(
        &mut conditions_list,
        observed,
        o.base.generation,
        o.base.now,
    );

    let known = o.unresolved.is_none() && !matches!(o.beads, BeadsHealth::Unavailable(_));
    let mut status = AgentPoolStatus {
        observed_generation: o.base.generation,
        conditions: Some(conditions_list),
        ..previous
    };
    if let Some(older) = o.older_spec {
        status.older_spec = Some(count(older));
    }
    if known {
        let mut rows: Vec<&AgentRow> = o.agents.iter().collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let counted = |row: &&&AgentRow| {
            !matches!(
                row.disposition,
                Disposition::Leaving | Disposition::Elsewhere(_)
            )
        };
        status.ready = Some(count(
            rows.iter().filter(counted).filter(|r| r.ready).count(),
        ));
        status.active = Some(count(
            rows.iter()
                .filter(counted)
                .filter(|r| r.hook_bead.is_some())
                .count(),
        ));
        status.pending = Some(count(
            rows.iter()
                .filter(counted)
                .filter(|r| r.phase == Some(AgentPhase::Pending))
                .count(),
        ));
        status.agents = Some(rows.into_iter().map(pool_agent).collect());
    }
    (status, transitions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn row(
        name: &str,
        phase: Option<AgentPhase>,
        ready: bool,
        disposition: Disposition,
    ) -> AgentRow {
        AgentRow {
            name: name.into(),
            bead_id: Some(format!("gt-gastown-polecat-{name}")),
            state: Some("working".into()),
            hook_bead: Some(format!("gt-work-{name}")),
            pod_name: phase.map(|_| format!("gt-gastown-polecat-{name}")),
            phase,
            ready,
            started_at: None,
            disposition,
        }
    }

    fn running(name: &str) -> AgentRow {
        row(
            name,
            Some(AgentPhase::Running),
            true,
            Disposition::Scheduled,
        )
    }

    fn observation<'a>(
        agents: Vec<AgentRow>,
        previous: Option<&'a AgentPoolStatus>,
    ) -> PoolObservation<'a> {
        PoolObservation {
            base: Baseline::new(previous, Some(2), at(100)),
            unresolved: None,
            draining: None,
            beads: BeadsHealth::Answered,
            agents,
            older_spec: None,
        }
    }

    fn condition(status: &AgentPoolStatus, type_: &str) -> (bool, String, String) {
        let c = status
            .conditions
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("no {type_} condition"));
        (c.status == "True", c.reason.clone(), c.message.clone())
    }

    #[test]
    fn running_agents_make_a_ready_pool_with_sorted_rows_and_counts() {
        let mut idle = running("ace");
        idle.hook_bead = None;
        let (status, transitions) = pool_status(&observation(vec![running("nux"), idle], None));
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(status.ready, Some(2));
        assert_eq!(status.active, Some(1), "only nux has work on its hook");
        assert_eq!(status.pending, Some(0));
        let names: Vec<&str> = status
            .agents
            .as_deref()
            .unwrap()
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(names, ["ace", "nux"]);
        let nux = &status.agents.as_deref().unwrap()[1];
        assert_eq!(nux.bead_id.as_deref(), Some("gt-gastown-polecat-nux"));
        assert_eq!(nux.phase, Some(AgentPhase::Running));
        assert_eq!(nux.state.as_deref(), Some("working"));
        assert_eq!(nux.hook_bead.as_deref(), Some("gt-work-nux"));
        let (ready, reason, message) = condition(&status, condition::READY);
        assert!(ready);
        assert_eq!(reason, "AllReady");
        assert_eq!(message, "2 agents running as beads wants");
        assert!(!condition(&status, condition::QUOTA_EXHAUSTED).0);
        assert!(!condition(&status, condition::BEADS_UNAVAILABLE).0);
        assert_eq!(transitions.len(), 3, "every condition is new");
    }

    #[test]
    fn recomputing_from_the_same_observation_changes_nothing() {
        let agents = vec![running("nux")];
        let (first, _) = pool_status(&observation(agents.clone(), None));
        let mut later = observation(agents, Some(&first));
        later.base.now = at(500);
        let (second, transitions) = pool_status(&later);
        assert_eq!(second, first, "same observations, same status: no write");
        assert!(transitions.is_empty());
    }

    #[test]
    fn agents_over_max_count_are_pending_with_the_reason() {
        let agents = vec![
            running("ace"),
            row(
                "nux",
                Some(AgentPhase::Pending),
                false,
                Disposition::Waiting(Waiting::MaxCount(1)),
            ),
        ];
        let (status, _) = pool_status(&observation(agents, None));
        assert_eq!(status.pending, Some(1));
        let (exhausted, reason, message) = condition(&status, condition::QUOTA_EXHAUSTED);
        assert!(exhausted);
        assert_eq!(reason, "MaxCountReached");
        assert_eq!(message, "1 agent pending: nux (maxCount 1 reached)");
        let (ready, reason, message) = condition(&status, condition::READY);
        assert!(!ready);
        assert_eq!(reason, "AgentsPending");
        assert!(message.contains("nux (maxCount 1 reached)"), "{message}");
    }

    #[test]
    fn a_quota_refusal_names_the_quota() {
        let agents = vec![row(
            "nux",
            Some(AgentPhase::Pending),
            false,
            Disposition::Waiting(Waiting::Quota("exceeded quota: polecats".into())),
        )];
        let (status, _) = pool_status(&observation(agents, None));
        let (exhausted, reason, message) = condition(&status, condition::QUOTA_EXHAUSTED);
        assert!(exhausted);
        assert_eq!(reason, "QuotaExceeded");
        assert!(message.contains("exceeded quota: polecats"), "{message}");
    }

    #[test]
    fn waiting_for_other_reasons_is_not_a_quota_problem() {
        let agents = vec![row(
            "nux",
            Some(AgentPhase::Pending),
            false,
            Disposition::Waiting(Waiting::Blocked("Secret bd-token does not exist".into())),
        )];
        let (status, _) = pool_status(&observation(agents, None));
        assert!(!condition(&status, condition::QUOTA_EXHAUSTED).0);
        let (ready, _, message) = condition(&status, condition::READY);
        assert!(!ready);
        assert!(
            message.contains("Secret bd-token does not exist"),
            "{message}"
        );
    }

    #[test]
    fn unavailable_beads_keep_the_last_known_agents() {
        let (before, _) = pool_status(&observation(vec![running("nux")], None));
        let mut o = observation(vec![], Some(&before));
        o.beads = BeadsHealth::Unavailable("connection refused".into());
        let (after, transitions) = pool_status(&o);
        assert_eq!(after.agents, before.agents);
        assert_eq!(after.ready, Some(1));
        let (unavailable, reason, message) = condition(&after, condition::BEADS_UNAVAILABLE);
        assert!(unavailable);
        assert_eq!(reason, "Unavailable");
        assert_eq!(message, "connection refused");
        assert_eq!(condition(&after, condition::READY).1, "BeadsUnavailable");
        let types: Vec<&str> = transitions.iter().map(|t| t.type_).collect();
        assert_eq!(types, [condition::READY, condition::BEADS_UNAVAILABLE]);
    }

    #[test]
    fn withheld_deletions_are_reported_but_rows_follow_beads() {
        let mut o = observation(
            vec![row(
                "old",
                Some(AgentPhase::Running),
                true,
                Disposition::Leaving,
            )],
            None,
        );
        o.beads = BeadsHealth::DeletionsWithheld("beads listed no agent beads".into());
        let (status, _) = pool_status(&o);
        let (withheld, reason, _) = condition(&status, condition::BEADS_UNAVAILABLE);
        assert!(withheld);
        assert_eq!(reason, "DeletionsWithheld");
        assert_eq!(status.agents.as_deref().unwrap().len(), 1);
        assert_eq!(status.ready, Some(0), "a leaving agent is not counted");
    }

    #[test]
    fn ended_polecats_are_listed_and_do_not_block_readiness() {
        let agents = vec![
            running("ace"),
            row(
                "nux",
                Some(AgentPhase::Succeeded),
                false,
                Disposition::Ended,
            ),
        ];
        let (status, _) = pool_status(&observation(agents, None));
        assert!(condition(&status, condition::READY).0);
        assert_eq!(
            status.agents.as_deref().unwrap()[1].phase,
            Some(AgentPhase::Succeeded)
        );
    }

    #[test]
    fn unresolved_pool_says_why_and_sets_only_ready() {
        let mut o = observation(vec![], None);
        o.unresolved = Some("Rig gastown does not exist in namespace ns".into());
        let (status, _) = pool_status(&o);
        assert_eq!(status.conditions.as_ref().unwrap().len(), 1);
        let (ready, reason, message) = condition(&status, condition::READY);
        assert!(!ready);
        assert_eq!(reason, "Unresolved");
        assert!(message.contains("Rig gastown"));
        assert_eq!(status.agents, None);
    }

    #[test]
    fn draining_is_not_ready_and_teardown_progress_keeps_the_rest() {
        let mut o = observation(vec![running("nux")], None);
        o.draining = Some("the rig is draining: no new polecats start".into());
        let (status, _) = pool_status(&o);
        assert_eq!(condition(&status, condition::READY).1, "Draining");

        let teardown = crate::reconcile::teardown::executor::draining_status::<
            gastown_api::AgentPool,
        >(Some(&status), Some(2), at(200), "waiting for 1 polecat");
        let (ready, reason, message) = condition(&teardown, condition::READY);
        assert!(!ready);
        assert_eq!(reason, "Draining");
        assert_eq!(message, "waiting for 1 polecat");
        assert_eq!(teardown.agents, status.agents);
    }

    #[test]
    fn long_lists_are_cut_short() {
        let agents: Vec<AgentRow> = (0..12)
            .map(|i| {
                row(
                    &format!("p{i:02}"),
                    Some(AgentPhase::Pending),
                    false,
                    Disposition::Waiting(Waiting::MaxCount(0)),
                )
            })
            .collect();
        let (status, _) = pool_status(&observation(agents, None));
        let message = condition(&status, condition::QUOTA_EXHAUSTED).2;
        assert!(message.starts_with("12 agents pending: p00"), "{message}");
        assert!(message.ends_with("and 2 more"), "{message}");
        assert!(!message.contains("p10"), "{message}");
    }
}

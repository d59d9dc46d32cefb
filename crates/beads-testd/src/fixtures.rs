//! A small but realistic Gas Town, for the playground and for tests that need "a town".

use jiff::{SignedDuration, Timestamp};

use crate::agent::AgentStyle;
use crate::issue::{Issue, gastown, status};
use crate::store::BeadStore;

const POLECAT_NAMES: [&str; 8] = [
    "nux", "slit", "toast", "rictus", "furiosa", "capable", "dag", "morsov",
];
const CREW_NAMES: [&str; 4] = ["max", "joe", "angharad", "cheedo"];
/// Polecat states cycle through these, so every town has working, finished and paused polecats.
const POLECAT_STATES: [&str; 4] = ["working", "done", "stuck", "spawning"];

/// How much of each thing [`seed_town`] puts in every rig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TownShape {
    /// Polecats, each with a hooked task bead while it works.
    pub polecats_per_rig: usize,
    /// Crew members; every second one keeps its agent fields in the description (newer beads).
    pub crew_per_rig: usize,
    /// Open merge requests (queued).
    pub queued_merge_requests: usize,
    /// `in_progress` merge requests (being processed by the refinery).
    pub processing_merge_requests: usize,
    /// Closed beads per rig (merged merge requests and finished tasks), which a projection must skip.
    pub closed_beads: usize,
    /// How agents, hooks and merge requests are written (default: the daemon era's columns).
    pub style: AgentStyle,
}

impl Default for TownShape {
    fn default() -> TownShape {
        TownShape {
            polecats_per_rig: 3,
            crew_per_rig: 2,
            queued_merge_requests: 2,
            processing_merge_requests: 1,
            closed_beads: 2,
            style: AgentStyle::Columns,
        }
    }
}

/// Seeds a town: the mayor and deacon, and for every rig a rig bead, a witness (working), a refinery
/// (idle, its `last_activity` an hour old), polecats with hooked work, crew, merge requests and closed
/// beads. Ids follow Gas Town's conventions, so tests can name them (`gt-<rig>-polecat-nux`).
///
/// With [`AgentStyle::GasTownToday`] the same town is written as current Gas Town writes it: see
/// [`seed_town_today`].
pub fn seed_town(store: &BeadStore, rigs: &[&str], shape: &TownShape) {
    if shape.style == AgentStyle::GasTownToday {
        seed_town_today(store, rigs, shape);
        return;
    }
    store.insert(Issue::agent(None, "mayor", "mayor", "working"));
    store.insert(Issue::agent(None, "deacon", "deacon", "idle"));
    let an_hour_ago = Timestamp::now() - SignedDuration::from_hours(1);

    for rig in rigs {
        store.insert(Issue::rig(
            rig,
            &format!("{rig}-"),
            &format!("https://git.example.com/{rig}.git"),
            "main",
        ));
        store.insert(Issue::agent(Some(rig), "witness", "witness", "working"));
        store.insert(
            Issue::agent(Some(rig), "refinery", "refinery", "idle")
                .with_last_activity(Some(an_hour_ago)),
        );

        for (n, name) in POLECAT_NAMES
            .iter()
            .cycle()
            .take(shape.polecats_per_rig)
            .enumerate()
        {
            let name = if n < POLECAT_NAMES.len() {
                (*name).to_owned()
            } else {
                format!("{name}{n}")
            };
            let state = POLECAT_STATES[n % POLECAT_STATES.len()];
            let mut polecat = Issue::agent(Some(rig), "polecat", &name, state);
            if state == "working" || state == "stuck" {
                let task = Issue::new(format!("{rig}-task-{n}"), format!("Work item {n} of {rig}"))
                    .with_status(status::HOOKED)
                    .with_assignee(&polecat.id)
                    .with_labels([format!("rig:{rig}")]);
                polecat = polecat.with_hook(&task.id);
                store.insert(task);
            }
            store.insert(polecat);
        }

        for (n, name) in CREW_NAMES
            .iter()
            .cycle()
            .take(shape.crew_per_rig)
            .enumerate()
        {
            let name = if n < CREW_NAMES.len() {
                (*name).to_owned()
            } else {
                format!("{name}{n}")
            };
            let crew = Issue::agent(Some(rig), "crew", &name, "idle");
            store.insert(if n % 2 == 1 {
                crew.encoded_in_description()
            } else {
                crew
            });
        }

        let merge_requests = (0..shape.queued_merge_requests)
            .map(|_| status::OPEN)
            .chain((0..shape.processing_merge_requests).map(|_| status::IN_PROGRESS))
            .chain((0..shape.closed_beads.div_ceil(2)).map(|_| status::CLOSED));
        for (n, mr_status) in merge_requests.enumerate() {
            store.insert(Issue::merge_request(
                rig,
                &format!("{rig}-mr-{n}"),
                mr_status,
            ));
        }
        for n in 0..shape.closed_beads / 2 {
            store.insert(
                Issue::new(
                    format!("{rig}-done-{n}"),
                    format!("Finished work {n} of {rig}"),
                )
                .with_labels([format!("rig:{rig}")])
                .with_status(status::CLOSED),
            );
        }
    }
}

/// The name of the `n`th member cycling through `names` (suffixed once they repeat).
fn nth_name(names: &[&str], n: usize) -> String {
    let name = names[n % names.len()];
    if n < names.len() {
        name.to_owned()
    } else {
        format!("{name}{n}")
    }
}

/// [`seed_town`] in [`AgentStyle::GasTownToday`]: agents `hq-mayor`, `hq-deacon`,
/// `gt-<rig>-witness`, `gt-<rig>-refinery` (its `updated_at` an hour old), `gt-<rig>-polecat-<name>`
/// and `gt-<rig>-crew-<name>`, as `task` beads labelled `gt:agent` with description lines; working
/// and stuck polecats have a `<rig>-task-<n>` bead with `status=hooked` assigned to
/// `<rig>/polecats/<name>`; merge requests `<rig>-mr-<n>` are ephemeral `gt:merge-request` beads
/// titled `Merge: <rig>-task-<n>`; closed work `<rig>-done-<n>`. No `rig:`/`role:` labels anywhere.
// bd-serve-v0.md §4
pub fn seed_town_today(store: &BeadStore, rigs: &[&str], shape: &TownShape) {
    store.insert(Issue::gastown_agent(None, "mayor", "mayor", "working"));
    store.insert(Issue::gastown_agent(None, "deacon", "deacon", "idle"));
    let an_hour_ago = Timestamp::now() - SignedDuration::from_hours(1);

    for rig in rigs {
        store.insert(Issue::rig(
            rig,
            &format!("{rig}-"),
            &format!("https://git.example.com/{rig}.git"),
            "main",
        ));
        store.insert(Issue::gastown_agent(
            Some(rig),
            "witness",
            "witness",
            "working",
        ));
        store.insert(
            Issue::gastown_agent(Some(rig), "refinery", "refinery", "idle")
                .with_created_at(an_hour_ago)
                .with_updated_at(an_hour_ago),
        );
        for n in 0..shape.polecats_per_rig {
            let name = nth_name(&POLECAT_NAMES, n);
            let state = POLECAT_STATES[n % POLECAT_STATES.len()];
            store.insert(Issue::gastown_agent(Some(rig), "polecat", &name, state));
            if state == "working" || state == "stuck" {
                store.insert(
                    Issue::new(format!("{rig}-task-{n}"), format!("Work item {n} of {rig}"))
                        .with_status(status::HOOKED)
                        .with_assignee(&format!("{rig}/polecats/{name}")),
                );
            }
        }
        for n in 0..shape.crew_per_rig {
            let name = nth_name(&CREW_NAMES, n);
            store.insert(Issue::gastown_agent(Some(rig), "crew", &name, "idle"));
        }

        let merge_requests = (0..shape.queued_merge_requests)
            .map(|_| status::OPEN)
            .chain((0..shape.processing_merge_requests).map(|_| status::IN_PROGRESS))
            .chain((0..shape.closed_beads.div_ceil(2)).map(|_| status::CLOSED));
        for (n, mr_status) in merge_requests.enumerate() {
            let source = format!("{rig}-task-{n}");
            let description = [
                format!("branch: polecat/{source}"),
                "target: main".to_owned(),
                format!("source_issue: {source}"),
                format!("rig: {rig}"),
                "retry_count: 0".to_owned(),
            ]
            .join("\n");
            store.insert(
                Issue::new(format!("{rig}-mr-{n}"), format!("Merge: {source}"))
                    .with_type(gastown::MERGE_REQUEST_TYPE)
                    .with_labels([gastown::MERGE_REQUEST_LABEL])
                    .with_description(&description)
                    .with_ephemeral(true)
                    .with_status(mr_status),
            );
        }
        for n in 0..shape.closed_beads / 2 {
            store.insert(
                Issue::new(
                    format!("{rig}-done-{n}"),
                    format!("Finished work {n} of {rig}"),
                )
                .with_status(status::CLOSED),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_town_has_the_advertised_shape() {
        let store = BeadStore::default();
        seed_town(&store, &["gastown", "beads"], &TownShape::default());
        let with_label = |label: &str| {
            store
                .all()
                .into_iter()
                .filter(|i| i.has_label(label))
                .count()
        };

        assert_eq!(with_label("gt:agent"), 2 + 2 * (2 + 3 + 2));
        assert_eq!(with_label("role:polecat"), 6);
        assert_eq!(with_label("gt:merge-request"), 2 * (2 + 1 + 1));
        assert!(store.get("gt-mayor").is_some() && store.get("gt-deacon").is_some());
        assert!(store.get("gt-rig-gastown").is_some());

        let nux = store.get("gt-gastown-polecat-nux").unwrap();
        assert_eq!(nux.agent_state.as_deref(), Some("working"));
        let hooked = store.get(nux.hook_bead.as_deref().unwrap()).unwrap();
        assert_eq!(hooked.status, "hooked");
        assert_eq!(hooked.assignee.as_deref(), Some("gt-gastown-polecat-nux"));

        let joe = store.get("gt-beads-crew-joe").unwrap();
        assert!(joe.agent_state.is_none() && joe.description.contains("agent_state: idle"));

        let closed = store
            .all()
            .into_iter()
            .filter(|i| i.status == "closed")
            .count();
        assert_eq!(closed, 4);
    }

    #[test]
    fn large_shapes_get_unique_names() {
        let store = BeadStore::default();
        let shape = TownShape {
            polecats_per_rig: 20,
            crew_per_rig: 9,
            ..TownShape::default()
        };
        seed_town(&store, &["gastown"], &shape);
        let polecats = store
            .all()
            .into_iter()
            .filter(|i| i.has_label("role:polecat"))
            .count();
        let crew = store
            .all()
            .into_iter()
            .filter(|i| i.has_label("role:crew"))
            .count();
        assert_eq!((polecats, crew), (20, 9));
    }

    #[test]
    fn gas_town_today_writes_agents_hooks_and_wisp_merge_requests() {
        let store = BeadStore::default();
        let shape = TownShape {
            style: AgentStyle::GasTownToday,
            ..TownShape::default()
        };
        seed_town(&store, &["gastown"], &shape);
        let agents: Vec<Issue> = store
            .all()
            .into_iter()
            .filter(|i| i.has_label("gt:agent"))
            .collect();
        assert_eq!(agents.len(), 2 + 2 + 3 + 2);
        assert!(
            agents
                .iter()
                .all(|a| a.issue_type == "task" && a.labels == ["gt:agent"])
        );
        assert!(agents.iter().all(|a| a.agent_state.is_none()));
        for id in [
            "hq-mayor",
            "hq-deacon",
            "gt-gastown-witness",
            "gt-gastown-refinery",
        ] {
            assert!(store.get(id).is_some(), "{id}");
        }
        let nux = store.get("gt-gastown-polecat-nux").unwrap();
        assert!(
            nux.description
                .contains("agent_state: working\nhook_bead: null")
        );
        let hooked = store.hooked_work("gt-gastown-polecat-nux");
        assert_eq!(hooked.len(), 1);
        assert_eq!(hooked[0].assignee.as_deref(), Some("gastown/polecats/nux"));
        let mrs: Vec<Issue> = store
            .all()
            .into_iter()
            .filter(|i| i.has_label("gt:merge-request"))
            .collect();
        assert_eq!(mrs.len(), 4);
        assert!(
            mrs.iter()
                .all(|m| m.ephemeral && m.title.starts_with("Merge: "))
        );
        assert!(
            store
                .all()
                .iter()
                .all(|i| !i.labels.iter().any(|l| l.starts_with("rig:")))
        );
    }
}

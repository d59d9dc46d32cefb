//! The daemon's `list`/`count`/`ready` filter semantics, as pure functions over beads.
//!
//! Facts mirrored from the daemon: `labels` must all be present (AND), `labels_any` needs one (OR);
//! `status` `""`/`"all"` means any status, and without a `status` tombstones are hidden; `query` is a
//! case-insensitive substring of title, description or id; date bounds are strict; results are ordered
//! by priority, then newest first, and `limit` applies last.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use serde::Deserialize;

use crate::issue::{Issue, status};

/// The most ids a `list` accepts (the daemon's guard against SQL parameter limits).
pub const MAX_IDS: usize = 1000;

/// Arguments of `list` and `count` (the daemon accepts more; unknown ones are ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct QueryArgs {
    pub query: String,
    pub status: String,
    pub priority: Option<i64>,
    pub issue_type: String,
    pub assignee: String,
    /// Deprecated single-label form, used only when `labels` is empty.
    pub label: String,
    pub labels: Vec<String>,
    pub labels_any: Vec<String>,
    pub ids: Vec<String>,
    pub limit: i64,
    pub title_contains: String,
    pub description_contains: String,
    pub created_after: String,
    pub created_before: String,
    pub updated_after: String,
    pub updated_before: String,
    pub closed_after: String,
    pub closed_before: String,
    pub empty_description: bool,
    pub no_assignee: bool,
    pub no_labels: bool,
    pub priority_min: Option<i64>,
    pub priority_max: Option<i64>,
    pub parent_id: String,
    pub exclude_status: Vec<String>,
    pub exclude_types: Vec<String>,
    /// `count` only: `status`, `priority`, `type`, `assignee` or `label`.
    pub group_by: String,
}

/// Arguments of `ready`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReadyArgs {
    pub assignee: String,
    pub unassigned: bool,
    pub priority: Option<i64>,
    #[serde(rename = "type")]
    pub issue_type: String,
    pub limit: i64,
    pub labels: Vec<String>,
    pub labels_any: Vec<String>,
    pub parent_id: String,
}

/// A validated filter.
#[derive(Debug, Default, Clone)]
pub struct IssueFilter {
    query: Option<String>,
    status: Option<String>,
    priority: Option<i64>,
    issue_type: Option<String>,
    assignee: Option<String>,
    labels_all: Vec<String>,
    labels_any: Vec<String>,
    ids: Option<HashSet<String>>,
    title_contains: Option<String>,
    description_contains: Option<String>,
    created: TimeBounds,
    updated: TimeBounds,
    closed: TimeBounds,
    empty_description: bool,
    no_assignee: bool,
    no_labels: bool,
    priority_min: Option<i64>,
    priority_max: Option<i64>,
    parent_id: Option<String>,
    exclude_status: Vec<String>,
    exclude_types: Vec<String>,
    limit: Option<usize>,
}

/// Strict lower and upper bounds on a timestamp.
#[derive(Debug, Default, Clone, Copy)]
struct TimeBounds {
    after: Option<Timestamp>,
    before: Option<Timestamp>,
}

impl TimeBounds {
    fn parse(after: &str, before: &str, name: &str) -> Result<TimeBounds, String> {
        Ok(TimeBounds {
            after: parse_time(after).map_err(|e| format!("invalid --{name}-after date: {e}"))?,
            before: parse_time(before).map_err(|e| format!("invalid --{name}-before date: {e}"))?,
        })
    }

    fn admits(&self, at: Option<Timestamp>) -> bool {
        if self.after.is_none() && self.before.is_none() {
            return true;
        }
        let Some(at) = at else { return false };
        self.after.is_none_or(|after| at > after) && self.before.is_none_or(|before| at < before)
    }
}

impl TryFrom<&QueryArgs> for IssueFilter {
    type Error = String;

    fn try_from(args: &QueryArgs) -> Result<IssueFilter, String> {
        let mut labels_all = normalize(&args.labels);
        if labels_all.is_empty() && !args.label.trim().is_empty() {
            labels_all.push(args.label.trim().to_owned());
        }
        let ids = normalize(&args.ids);
        if ids.len() > MAX_IDS {
            return Err(format!(
                "--id flag supports at most {MAX_IDS} issue IDs, got {}",
                ids.len()
            ));
        }
        Ok(IssueFilter {
            query: non_empty(&args.query).map(|q| q.to_lowercase()),
            status: non_empty(&args.status).filter(|s| s != "all"),
            priority: args.priority,
            issue_type: non_empty(&args.issue_type),
            assignee: non_empty(&args.assignee),
            labels_all,
            labels_any: normalize(&args.labels_any),
            ids: (!ids.is_empty()).then(|| ids.into_iter().collect()),
            title_contains: non_empty(&args.title_contains).map(|s| s.to_lowercase()),
            description_contains: non_empty(&args.description_contains).map(|s| s.to_lowercase()),
            created: TimeBounds::parse(&args.created_after, &args.created_before, "created")?,
            updated: TimeBounds::parse(&args.updated_after, &args.updated_before, "updated")?,
            closed: TimeBounds::parse(&args.closed_after, &args.closed_before, "closed")?,
            empty_description: args.empty_description,
            no_assignee: args.no_assignee,
            no_labels: args.no_labels,
            priority_min: args.priority_min,
            priority_max: args.priority_max,
            parent_id: non_empty(&args.parent_id),
            exclude_status: args.exclude_status.clone(),
            exclude_types: args.exclude_types.clone(),
            limit: usize::try_from(args.limit).ok().filter(|&n| n > 0),
        })
    }
}

impl From<&ReadyArgs> for IssueFilter {
    /// Ready work: open beads (this store models no blocking edges, so every open bead is unblocked).
    fn from(args: &ReadyArgs) -> IssueFilter {
        IssueFilter {
            status: Some(status::OPEN.to_owned()),
            priority: args.priority,
            issue_type: non_empty(&args.issue_type),
            assignee: non_empty(&args.assignee),
            no_assignee: args.unassigned,
            labels_all: normalize(&args.labels),
            labels_any: normalize(&args.labels_any),
            parent_id: non_empty(&args.parent_id),
            limit: usize::try_from(args.limit).ok().filter(|&n| n > 0),
            ..IssueFilter::default()
        }
    }
}

impl IssueFilter {
    pub fn matches(&self, issue: &Issue) -> bool {
        let text_has = |text: &str, needle: &str| text.to_lowercase().contains(needle);
        let assignee = issue.assignee.as_deref().unwrap_or_default();

        let status_admitted = match &self.status {
            Some(wanted) => &issue.status == wanted,
            None => issue.status != status::TOMBSTONE,
        };
        let query_admitted = self.query.as_ref().is_none_or(|query| {
            text_has(&issue.title, query)
                || text_has(&issue.description, query)
                || text_has(&issue.id, query)
        });
        status_admitted
            && query_admitted
            && self.exclude_status.iter().all(|s| s != &issue.status)
            && self.exclude_types.iter().all(|t| t != &issue.issue_type)
            && self.priority.is_none_or(|p| issue.priority == p)
            && self.priority_min.is_none_or(|p| issue.priority >= p)
            && self.priority_max.is_none_or(|p| issue.priority <= p)
            && self
                .issue_type
                .as_ref()
                .is_none_or(|t| &issue.issue_type == t)
            && self.assignee.as_ref().is_none_or(|a| assignee == a)
            && self.labels_all.iter().all(|l| issue.has_label(l))
            && (self.labels_any.is_empty() || self.labels_any.iter().any(|l| issue.has_label(l)))
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&issue.id))
            && self
                .title_contains
                .as_ref()
                .is_none_or(|s| text_has(&issue.title, s))
            && self
                .description_contains
                .as_ref()
                .is_none_or(|s| text_has(&issue.description, s))
            && self.created.admits(Some(issue.created_at))
            && self.updated.admits(Some(issue.updated_at))
            && self.closed.admits(issue.closed_at)
            && (!self.empty_description || issue.description.is_empty())
            && (!self.no_assignee || assignee.is_empty())
            && (!self.no_labels || issue.labels.is_empty())
            && self
                .parent_id
                .as_deref()
                .is_none_or(|p| issue.parent_id() == Some(p))
    }

    /// The matching beads in the daemon's order (priority ascending, newest first), limited.
    pub fn select<'a>(&self, issues: impl IntoIterator<Item = &'a Issue>) -> Vec<Issue> {
        let mut selected: Vec<&Issue> = issues.into_iter().filter(|i| self.matches(i)).collect();
        selected.sort_by(|a, b| {
            (a.priority, std::cmp::Reverse(a.created_at), &a.id).cmp(&(
                b.priority,
                std::cmp::Reverse(b.created_at),
                &b.id,
            ))
        });
        if let Some(limit) = self.limit {
            selected.truncate(limit);
        }
        selected.into_iter().cloned().collect()
    }
}

/// How `count` groups its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Status,
    Priority,
    Type,
    Assignee,
    Label,
}

impl GroupBy {
    pub fn parse(group_by: &str) -> Result<Option<GroupBy>, String> {
        Ok(Some(match group_by {
            "" => return Ok(None),
            "status" => GroupBy::Status,
            "priority" => GroupBy::Priority,
            "type" => GroupBy::Type,
            "assignee" => GroupBy::Assignee,
            "label" => GroupBy::Label,
            other => {
                return Err(format!(
                    "invalid group_by value: {other} (must be one of: status, priority, type, assignee, label)"
                ));
            }
        }))
    }

    /// Counts per group; a bead counts once per label when grouping by label.
    pub fn count<'a>(self, issues: impl IntoIterator<Item = &'a Issue>) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for issue in issues {
            let keys: Vec<String> = match self {
                GroupBy::Status => vec![issue.status.clone()],
                GroupBy::Priority => vec![format!("P{}", issue.priority)],
                GroupBy::Type => vec![issue.issue_type.clone()],
                GroupBy::Assignee => vec![
                    issue
                        .assignee
                        .clone()
                        .filter(|a| !a.is_empty())
                        .unwrap_or("(unassigned)".into()),
                ],
                GroupBy::Label if issue.labels.is_empty() => vec!["(no labels)".to_owned()],
                GroupBy::Label => issue.labels.clone(),
            };
            for key in keys {
                *counts.entry(key).or_insert(0) += 1;
            }
        }
        counts
    }
}

/// Trims, drops empties and duplicates, keeps order (the daemon's label normalisation).
fn normalize(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if !out.iter().any(|seen| seen == value) {
            out.push(value.to_owned());
        }
    }
    out
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// An ISO 8601 instant: RFC 3339, or a date/date-time without offset read as UTC. Empty means unset.
fn parse_time(value: &str) -> Result<Option<Timestamp>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = value.parse::<Timestamp>() {
        return Ok(Some(at));
    }
    value
        .parse::<jiff::civil::DateTime>()
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
        .map(|zoned| Some(zoned.timestamp()))
        .map_err(|_| format!("cannot parse {value:?} as an ISO 8601 date or time"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture() -> Vec<Issue> {
        let t = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        vec![
            Issue::agent(Some("gastown"), "polecat", "nux", "working")
                .with_created_at(t(1))
                .with_updated_at(t(10)),
            Issue::agent(Some("gastown"), "crew", "max", "idle")
                .with_created_at(t(2))
                .with_updated_at(t(20)),
            Issue::agent(Some("beads"), "witness", "witness", "working")
                .with_created_at(t(3))
                .with_updated_at(t(30)),
            Issue::agent(None, "mayor", "mayor", "working")
                .with_created_at(t(4))
                .with_updated_at(t(40)),
            Issue::merge_request("gastown", "gt-mr-1", "open")
                .with_priority(1)
                .with_created_at(t(5)),
            Issue::merge_request("gastown", "gt-mr-2", "closed").with_created_at(t(6)),
            Issue::new("gt-task-1", "Fix the Parser")
                .with_assignee("nux")
                .with_parent("gt-epic")
                .with_created_at(t(7)),
            Issue::new("gt-gone", "deleted")
                .with_status("tombstone")
                .with_created_at(t(8)),
        ]
    }

    fn ids(args: serde_json::Value) -> Result<Vec<String>, String> {
        let args: QueryArgs = serde_json::from_value(args).unwrap();
        let filter = IssueFilter::try_from(&args)?;
        let issues = fixture();
        Ok(filter.select(&issues).into_iter().map(|i| i.id).collect())
    }

    #[test]
    fn filter_semantics_table() {
        let cases = [
            // Ordering: priority ascending, then newest first; tombstones hidden.
            (
                json!({}),
                vec![
                    "gt-mr-1",
                    "gt-task-1",
                    "gt-mr-2",
                    "gt-mayor",
                    "gt-beads-witness-witness",
                    "gt-gastown-crew-max",
                    "gt-gastown-polecat-nux",
                ],
            ),
            (
                json!({"labels": ["gt:agent", "rig:gastown"]}),
                vec!["gt-gastown-crew-max", "gt-gastown-polecat-nux"],
            ),
            (json!({"labels": ["gt:agent", "rig:nowhere"]}), vec![]),
            (
                json!({"labels_any": ["role:mayor", "role:witness"]}),
                vec!["gt-mayor", "gt-beads-witness-witness"],
            ),
            (
                json!({"labels": ["rig:gastown"], "labels_any": ["gt:merge-request"]}),
                vec!["gt-mr-1", "gt-mr-2"],
            ),
            (
                json!({"labels": ["gt:merge-request"], "exclude_status": ["closed"]}),
                vec!["gt-mr-1"],
            ),
            (json!({"label": "role:crew"}), vec!["gt-gastown-crew-max"]),
            (
                json!({"labels": [" rig:beads ", ""], "label": "role:crew"}),
                vec!["gt-beads-witness-witness"],
            ),
            (json!({"status": "closed"}), vec!["gt-mr-2"]),
            (json!({"status": "tombstone"}), vec!["gt-gone"]),
            (
                json!({"status": "all", "issue_type": "agent", "limit": 2}),
                vec!["gt-mayor", "gt-beads-witness-witness"],
            ),
            (
                json!({"issue_type": "merge-request", "exclude_types": ["merge-request"]}),
                vec![],
            ),
            (json!({"assignee": "nux"}), vec!["gt-task-1"]),
            (
                json!({"ids": ["gt-mayor", "gt-mr-2", "gt-unknown"]}),
                vec!["gt-mr-2", "gt-mayor"],
            ),
            (json!({"query": "parser"}), vec!["gt-task-1"]),
            (
                json!({"query": "POLECAT-NUX"}),
                vec!["gt-gastown-polecat-nux"],
            ),
            (json!({"parent_id": "gt-epic"}), vec!["gt-task-1"]),
            (json!({"priority": 1}), vec!["gt-mr-1"]),
            (
                json!({"issue_type": "agent", "updated_after": "2023-11-14T22:13:40Z"}),
                vec!["gt-mayor", "gt-beads-witness-witness"],
            ),
            (
                json!({"issue_type": "agent", "updated_before": "2023-11-14T22:13:40Z"}),
                vec!["gt-gastown-polecat-nux"],
            ),
            (json!({"issue_type": "agent", "no_labels": true}), vec![]),
            (
                json!({"limit": 0, "labels": ["role:mayor"]}),
                vec!["gt-mayor"],
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(ids(args.clone()).unwrap(), expected, "args {args}");
        }
    }

    #[test]
    fn invalid_dates_and_too_many_ids_are_errors() {
        let err = ids(json!({"updated_after": "yesterday-ish"})).unwrap_err();
        assert!(err.starts_with("invalid --updated-after date"), "{err}");
        let many: Vec<String> = (0..=MAX_IDS).map(|n| format!("gt-{n}")).collect();
        let err = ids(json!({ "ids": many })).unwrap_err();
        assert!(err.contains("at most 1000"), "{err}");
    }

    #[test]
    fn dates_without_offset_are_utc() {
        assert_eq!(
            parse_time("2024-01-02").unwrap(),
            Some("2024-01-02T00:00:00Z".parse().unwrap())
        );
        assert_eq!(
            parse_time("2024-01-02T03:04:05").unwrap(),
            Some("2024-01-02T03:04:05Z".parse().unwrap())
        );
        assert_eq!(parse_time("").unwrap(), None);
    }

    #[test]
    fn ready_means_open() {
        let filter = IssueFilter::from(&ReadyArgs {
            labels: vec!["gt:merge-request".into()],
            ..ReadyArgs::default()
        });
        let issues = fixture();
        let ids: Vec<String> = filter.select(&issues).into_iter().map(|i| i.id).collect();
        assert_eq!(ids, ["gt-mr-1"]);
    }

    #[test]
    fn grouped_counts() {
        let issues = fixture();
        let by_status = GroupBy::Status.count(&issues);
        assert_eq!(by_status["open"], 6);
        assert_eq!(by_status["closed"], 1);
        let by_assignee = GroupBy::Assignee.count(&issues);
        assert_eq!(by_assignee["nux"], 1);
        assert_eq!(by_assignee["(unassigned)"], 7);
        let by_label = GroupBy::Label.count(&issues);
        assert_eq!(by_label["gt:agent"], 4);
        assert_eq!(by_label["(no labels)"], 2);
        assert!(
            GroupBy::parse("colour")
                .unwrap_err()
                .contains("invalid group_by value: colour")
        );
        assert_eq!(GroupBy::parse("").unwrap(), None);
    }
}

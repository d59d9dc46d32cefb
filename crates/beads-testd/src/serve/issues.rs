//! The read routes of bd serve: ready, list (with its keyset cursor), get and count.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::params::{Params, invalid_value, metadata_matches};
use super::problem::Problem;
use super::wire;
use crate::issue::{Issue, status};
use crate::store::BeadStore;

/// Issue types admitted only with `include_infra`. The reference names "agent, role, message…";
/// `rig` is our addition (Gas Town's rig identity beads are infrastructure too).
// bd-serve-v0.md §3.4 (`include_infra` admits infra types (agent, role, message…))
const INFRA_TYPES: [&str; 4] = ["agent", "role", "message", "rig"];

/// Types bd knows (built-ins plus the custom types Gas Town configures); any other `type` is 400.
// bd-serve-v0.md §3.4 (unknown type → 400), §4 (custom types configured by Gas Town)
const KNOWN_TYPES: [&str; 17] = [
    "bug",
    "feature",
    "task",
    "epic",
    "chore",
    "decision",
    "agent",
    "role",
    "rig",
    "convoy",
    "slot",
    "queue",
    "event",
    "message",
    "molecule",
    "gate",
    "merge-request",
];

/// Types the ready set leaves out besides the infra types.
// bd-serve-v0.md §3.2: open, unblocked work minus merge-request, gate, molecule, rig, infra types.
const NOT_READY_TYPES: [&str; 4] = ["merge-request", "gate", "molecule", "rig"];

pub(crate) const READY_PARAMS: [&str; 1] = ["limit"];
pub(crate) const LIST_PARAMS: [&str; 21] = [
    "status",
    "type",
    "assignee",
    "label",
    "label_any",
    "exclude_label",
    "parent",
    "all",
    "include_templates",
    "include_gates",
    "include_infra",
    "include_ephemeral",
    "created_before",
    "created_after",
    "metadata_field",
    "has_metadata_key",
    "sort",
    "cursor",
    "limit",
    "brief",
    "id",
];
pub(crate) const GET_PARAMS: [&str; 3] = ["include_comments", "include_dependents", "brief_deps"];
pub(crate) const COUNT_PARAMS: [&str; 25] = [
    "status",
    "type",
    "assignee",
    "no_assignee",
    "priority",
    "priority_min",
    "priority_max",
    "label",
    "label_any",
    "title",
    "title_contains",
    "desc_contains",
    "notes_contains",
    "id",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "closed_after",
    "closed_before",
    "empty_description",
    "no_labels",
    "metadata_field",
    "include_infra",
    "group_by",
];

fn is_infra(issue: &Issue) -> bool {
    INFRA_TYPES.contains(&issue.issue_type.as_str())
}

/// `type` with its aliases resolved; unknown → 400.
fn issue_type(params: &Params) -> Result<Option<String>, Problem> {
    let Some(wanted) = params.one("type") else {
        return Ok(None);
    };
    let resolved = match wanted {
        "mr" => "merge-request", // bd-serve-v0.md §3.4 (aliases `mr`→`merge-request`)
        other => other,
    };
    if KNOWN_TYPES.contains(&resolved) {
        Ok(Some(resolved.to_owned()))
    } else {
        Err(invalid_value("type", wanted))
    }
}

/// `limit`: default `default`, ≥0, and 0 (unlimited) refused under `--allow-non-loopback`.
// bd-serve-v0.md §1 (`--allow-non-loopback` makes `limit=0` a 400 on list reads), §3.4
fn limit(params: &Params, default: usize, non_loopback: bool) -> Result<usize, Problem> {
    match params.int("limit")? {
        None => Ok(default),
        Some(n) if n < 0 => Err(invalid_value("limit", &n.to_string())),
        Some(0) if non_loopback => Err(Problem::invalid(
            "limit",
            "invalid_value",
            "limit=0 (unlimited) is refused on a non-loopback server",
        )),
        Some(0) => Ok(usize::MAX),
        Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
    }
}

fn page(rows: Vec<&Issue>, limit: usize) -> (Vec<&Issue>, bool) {
    let has_more = rows.len() > limit;
    (rows.into_iter().take(limit).collect(), has_more)
}

/// `GET /v0/beads/ready`: open, unblocked work of the durable plane, highest priority first.
// bd-serve-v0.md §3.2
pub(crate) fn ready(
    store: &BeadStore,
    params: &Params,
    non_loopback: bool,
) -> Result<Value, Problem> {
    let limit = limit(params, 100, non_loopback)?; // §3.2: `limit` default 100
    store.read(|beads| {
        let blocked = |issue: &Issue| {
            issue.dependencies.iter().any(|d| {
                d.dep_type == "blocks"
                    && beads
                        .get(&d.depends_on_id)
                        .is_some_and(|b| b.status != status::CLOSED)
            })
        };
        let mut rows: Vec<&Issue> = beads
            .values()
            .filter(|i| i.status == status::OPEN && !i.ephemeral && !is_infra(i))
            .filter(|i| !NOT_READY_TYPES.contains(&i.issue_type.as_str()))
            .filter(|i| !blocked(i))
            .collect();
        rows.sort_by_key(|i| (i.priority, Reverse(i.created_at), i.id.clone()));
        let (rows, has_more) = page(rows, limit);
        let items: Vec<Value> = rows.into_iter().map(wire::with_counts).collect();
        Ok(json!({"items": items, "has_more": has_more}))
    })
}

/// The keyset position of a row under a sort.
type SortKey = (i64, Reverse<i128>, String);

fn sort_key(sort: &str, issue: &Issue) -> SortKey {
    // bd-serve-v0.md §3.4: `created` = created_at DESC, id ASC; `priority` = priority first.
    let priority = if sort == "priority" {
        issue.priority
    } else {
        0
    };
    (
        priority,
        Reverse(issue.created_at.as_nanosecond()),
        issue.id.clone(),
    )
}

/// An opaque cursor: hex of `sort|priority|created_ns|id`, bound to the sort it was minted for.
fn encode_cursor(sort: &str, key: &SortKey) -> String {
    let text = format!("{sort}|{}|{}|{}", key.0, key.1.0, key.2);
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

// bd-serve-v0.md §3.4: keep `sort` identical; a bad cursor → 400 `invalid_cursor`.
fn decode_cursor(sort: &str, cursor: &str) -> Result<SortKey, Problem> {
    let refused = || {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            "invalid cursor: restart paging without a cursor",
        )
        .with("param", "cursor")
    };
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let text = bytes
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(refused)?;
    let mut parts = text.splitn(4, '|');
    let (Some(cursor_sort), Some(priority), Some(created), Some(id)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    if cursor_sort != sort {
        return Err(refused());
    }
    match (priority.parse(), created.parse()) {
        (Ok(priority), Ok(created)) => Ok((priority, Reverse(created), id.to_owned())),
        _ => Err(refused()),
    }
}

/// Every descendant of `parent` through parent-child edges.
fn descendants(beads: &BTreeMap<String, Issue>, parent: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut frontier = vec![parent.to_owned()];
    while let Some(next) = frontier.pop() {
        for child in beads
            .values()
            .filter(|i| i.parent_id() == Some(next.as_str()))
        {
            if found.insert(child.id.clone()) {
                frontier.push(child.id.clone());
            }
        }
    }
    found
}

fn labels_admit(params: &Params, issue: &Issue) -> bool {
    let any = params.all("label_any");
    params.all("label").iter().all(|l| issue.has_label(l))
        && (any.is_empty() || any.iter().any(|l| issue.has_label(l)))
        && params
            .all("exclude_label")
            .iter()
            .all(|l| !issue.has_label(l))
}

fn metadata_admits(fields: &[(String, String)], has_key: Option<&str>, issue: &Issue) -> bool {
    let object = issue.metadata.as_object();
    fields
        .iter()
        .all(|(k, v)| metadata_matches(object.and_then(|m| m.get(k)), v))
        && has_key.is_none_or(|k| object.is_some_and(|m| m.contains_key(k)))
}

/// `GET /v0/beads/issues`.
// bd-serve-v0.md §3.4
pub(crate) fn list(
    store: &BeadStore,
    params: &Params,
    non_loopback: bool,
) -> Result<Value, Problem> {
    let statuses = params.list("status");
    let all = params.bool("all")?;
    let include_infra = params.bool("include_infra")?;
    let include_ephemeral = params.bool("include_ephemeral")?;
    let include_gates = params.bool("include_gates")?;
    params.bool("include_templates")?; // no templates are modelled
    let brief = params.bool("brief")?;
    let issue_type = issue_type(params)?;
    let created_before = params.time("created_before")?;
    let created_after = params.time("created_after")?;
    let metadata_fields = params.metadata_fields()?;
    let has_key = params.one("has_metadata_key");
    let ids = params.list("id");
    let sort = params.one("sort").unwrap_or("created");
    if !["created", "priority"].contains(&sort) {
        return Err(invalid_value("sort", sort));
    }
    let after = params
        .one("cursor")
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor(sort, c))
        .transpose()?;
    let limit = limit(params, 50, non_loopback)?; // §3.4: default 50

    store.read(|beads| {
        let under = params.one("parent").map(|p| descendants(beads, p));
        let mut rows: Vec<&Issue> = beads
            .values()
            .filter(|i| {
                // §3.4: `status` replaces the default exclusions (closed, …).
                if statuses.is_empty() {
                    all || (i.status != status::CLOSED && i.status != status::TOMBSTONE)
                } else {
                    statuses.contains(&i.status)
                }
            })
            // §3.4: infra types and the ephemeral plane only with include_infra; the wisp tier
            // also with include_ephemeral.
            .filter(|i| include_infra || !is_infra(i))
            .filter(|i| !i.ephemeral || include_infra || include_ephemeral)
            .filter(|i| include_gates || i.issue_type != "gate")
            .filter(|i| issue_type.as_ref().is_none_or(|t| &i.issue_type == t))
            .filter(|i| {
                params
                    .one("assignee")
                    .is_none_or(|a| i.assignee.as_deref() == Some(a))
            })
            .filter(|i| labels_admit(params, i))
            .filter(|i| under.as_ref().is_none_or(|set| set.contains(&i.id)))
            .filter(|i| ids.is_empty() || ids.contains(&i.id))
            .filter(|i| created_before.is_none_or(|t| i.created_at < t))
            .filter(|i| created_after.is_none_or(|t| i.created_at > t))
            .filter(|i| metadata_admits(&metadata_fields, has_key, i))
            .filter(|i| after.as_ref().is_none_or(|a| &sort_key(sort, i) > a))
            .collect();
        rows.sort_by_key(|i| sort_key(sort, i));
        let (rows, has_more) = page(rows, limit);
        let next_cursor = rows
            .last()
            .filter(|_| has_more)
            .map(|last| encode_cursor(sort, &sort_key(sort, last)));
        let items: Vec<Value> = rows
            .into_iter()
            .map(|i| {
                let mut row = wire::with_counts(i);
                if brief && let Some(map) = row.as_object_mut() {
                    map.remove("description");
                }
                row
            })
            .collect();
        let mut answer = json!({"items": items, "has_more": has_more});
        if let Some(cursor) = next_cursor {
            answer["next_cursor"] = json!(cursor); // §3.4: cursor iff has_more
        }
        Ok(answer)
    })
}

/// `GET /v0/beads/issues/{id}`: exact id, wisps too, with `revision`.
// bd-serve-v0.md §3.5
pub(crate) fn get(store: &BeadStore, params: &Params, id: &str) -> Result<Value, Problem> {
    for flag in GET_PARAMS {
        params.bool(flag)?;
    }
    store
        .get(id)
        .map(|issue| wire::details(&issue))
        .ok_or_else(|| Problem::not_found(format!("issue {id} not found")))
}

fn time_window(params: &Params, name: &str, at: Option<Timestamp>) -> Result<bool, Problem> {
    let after = params.time(&format!("{name}_after"))?;
    let before = params.time(&format!("{name}_before"))?;
    if after.is_none() && before.is_none() {
        return Ok(true);
    }
    Ok(at.is_some_and(|at| after.is_none_or(|t| at > t) && before.is_none_or(|t| at < t)))
}

/// `GET /v0/beads/issues:count`: every status (closed too), durable plane unless `include_infra`.
// bd-serve-v0.md §3.6
pub(crate) fn count(store: &BeadStore, params: &Params) -> Result<Value, Problem> {
    let wanted_status = params
        .one("status")
        .filter(|s| !s.is_empty() && *s != "all");
    let issue_type = issue_type(params)?;
    let include_infra = params.bool("include_infra")?;
    let no_assignee = params.bool("no_assignee")?;
    let empty_description = params.bool("empty_description")?;
    let no_labels = params.bool("no_labels")?;
    let priority = params.int("priority")?;
    let priority_min = params.int("priority_min")?;
    let priority_max = params.int("priority_max")?;
    let metadata_fields = params.metadata_fields()?;
    let ids = params.list("id");
    let group_by = params.one("group_by").filter(|g| !g.is_empty());
    if let Some(group_by) = group_by
        && !["status", "priority", "type", "assignee", "label"].contains(&group_by)
    {
        return Err(invalid_value("group_by", group_by));
    }
    let contains = |param: &str, text: &str| {
        params
            .one(param)
            .is_none_or(|needle| text.to_lowercase().contains(&needle.to_lowercase()))
    };
    // Validate every time parameter up front.
    time_window(params, "created", None)?;
    time_window(params, "updated", None)?;
    time_window(params, "closed", None)?;

    let mut selected = Vec::new();
    for issue in store.all() {
        let admitted = wanted_status.is_none_or(|s| issue.status == s)
            // §3.6: durable plane only, unless include_infra (which drops gates).
            && (include_infra || (!issue.ephemeral && !is_infra(&issue)))
            && (!include_infra || issue.issue_type != "gate")
            && issue_type.as_ref().is_none_or(|t| &issue.issue_type == t)
            && params.one("assignee").is_none_or(|a| issue.assignee.as_deref() == Some(a))
            && (!no_assignee || issue.assignee.as_deref().unwrap_or_default().is_empty())
            && priority.is_none_or(|p| issue.priority == p)
            && priority_min.is_none_or(|p| issue.priority >= p)
            && priority_max.is_none_or(|p| issue.priority <= p)
            && labels_admit(params, &issue)
            && params.one("title").is_none_or(|t| issue.title == t)
            && contains("title_contains", &issue.title)
            && contains("desc_contains", &issue.description)
            && contains("notes_contains", "") // notes are not modelled: always empty
            && (ids.is_empty() || ids.contains(&issue.id))
            && (!empty_description || issue.description.is_empty())
            && (!no_labels || issue.labels.is_empty())
            && metadata_admits(&metadata_fields, None, &issue)
            && time_window(params, "created", Some(issue.created_at))?
            && time_window(params, "updated", Some(issue.updated_at))?
            && time_window(params, "closed", issue.closed_at)?;
        if admitted {
            selected.push(issue);
        }
    }
    let mut answer = json!({"total": selected.len()});
    if let Some(group_by) = group_by {
        let mut groups: BTreeMap<String, u64> = BTreeMap::new();
        for issue in &selected {
            let keys = match group_by {
                "status" => vec![issue.status.clone()],
                "priority" => vec![issue.priority.to_string()],
                "type" => vec![issue.issue_type.clone()],
                "assignee" => vec![issue.assignee.clone().unwrap_or_default()],
                _ => issue.labels.clone(),
            };
            for key in keys {
                *groups.entry(key).or_default() += 1;
            }
        }
        answer["groups"] = json!(groups);
    }
    Ok(answer)
}

//! The v0 `Issue`, `IssueWithCounts` and `IssueDetails` shapes of bd serve, rendered from the
//! store's [`Issue`]. The daemon-era columns (`agent_state`, `hook_bead`, `pod_*`, …) are not part
//! of v0 and are never sent.

use serde_json::{Map, Value, json};

use crate::issue::Issue;

/// The v0 `Issue`: `id`, `title`, `priority`, `created_at`, `updated_at` always; `description`,
/// `status`, `issue_type`, `assignee`, `labels`, `metadata`, `ephemeral`, `closed_at` when set.
// bd-serve-v0.md §3 (Issue) and §0 ("agent fields: none in Issue")
pub(crate) fn issue(issue: &Issue) -> Value {
    Value::Object(issue_map(issue))
}

fn issue_map(issue: &Issue) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("id".into(), json!(issue.id));
    map.insert("title".into(), json!(issue.title));
    if !issue.description.is_empty() {
        map.insert("description".into(), json!(issue.description));
    }
    if !issue.status.is_empty() {
        map.insert("status".into(), json!(issue.status));
    }
    map.insert("priority".into(), json!(issue.priority));
    if !issue.issue_type.is_empty() {
        map.insert("issue_type".into(), json!(issue.issue_type));
    }
    if let Some(assignee) = issue.assignee.as_deref().filter(|a| !a.is_empty()) {
        map.insert("assignee".into(), json!(assignee));
    }
    if !issue.labels.is_empty() {
        map.insert("labels".into(), json!(issue.labels));
    }
    // Any JSON is sent as stored; an empty object is left out (absent = null, §2).
    if !issue.metadata.as_object().is_some_and(Map::is_empty) {
        map.insert("metadata".into(), issue.metadata.clone());
    }
    if issue.ephemeral {
        map.insert("ephemeral".into(), json!(true));
    }
    map.insert("created_at".into(), json!(issue.created_at));
    map.insert("updated_at".into(), json!(issue.updated_at));
    if let Some(closed_at) = issue.closed_at {
        map.insert("closed_at".into(), json!(closed_at));
    }
    map
}

/// `IssueWithCounts`: the Issue plus `dependency_count`, `dependent_count`, `comment_count`, and
/// `parent` when it has one. List rows carry no `revision`.
// bd-serve-v0.md §3 (IssueWithCounts), §3.4
pub(crate) fn with_counts(issue: &Issue) -> Value {
    let mut map = issue_map(issue);
    map.insert("dependency_count".into(), json!(issue.dependencies.len()));
    map.insert("dependent_count".into(), json!(issue.dependent_count));
    map.insert("comment_count".into(), json!(issue.comment_count));
    if let Some(parent) = issue.parent_id() {
        map.insert("parent".into(), json!(parent));
    }
    Value::Object(map)
}

/// `IssueDetails`: counts, `dependencies` and the `revision` as a decimal string.
// bd-serve-v0.md §3.5 (`revision`: required string, a signed 64-bit decimal)
pub(crate) fn details(issue: &Issue) -> Value {
    let mut value = with_counts(issue);
    let dependencies: Vec<Value> = issue
        .dependencies
        .iter()
        .map(|d| {
            json!({"issue_id": d.issue_id, "depends_on_id": d.depends_on_id, "type": d.dep_type,
                   "created_at": d.created_at})
        })
        .collect();
    value["dependencies"] = Value::Array(dependencies);
    value["revision"] = json!(issue.revision.to_string());
    value
}

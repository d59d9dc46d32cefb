//! The write routes of bd serve: `PATCH /v0/beads/issues/{id}` and `:casMetadata`.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use super::params::{actor, invalid_value, json_body, valid_metadata_key};
use super::problem::Problem;
use super::wire;
use crate::issue::{Issue, status};
use crate::store::{BeadStore, Draft};

// bd-serve-v0.md §3.7 (body members)
const PATCH_BODY: [&str; 7] = [
    "actor",
    "patch",
    "expected_version",
    "expected_status",
    "expected_assignee",
    "force_close_policy",
    "force_assignee_transfer",
];

/// Patch members bd serve accepts but this store does not model (no such columns): refused with a
/// 400 naming them, so a test notices rather than losing the write.
const UNMODELLED: [&str; 9] = [
    "design",
    "acceptance_criteria",
    "notes",
    "append_notes",
    "parent_id",
    "estimated_minutes",
    "external_ref",
    "due_at",
    "defer_until",
];

const PATCH_MEMBERS: [&str; 10] = [
    "title",
    "description",
    "priority",
    "issue_type",
    "status",
    "assignee",
    "labels",
    "add_labels",
    "remove_labels",
    "metadata",
];

// bd-serve-v0.md §3.8 (body members)
const CAS_BODY: [&str; 4] = ["actor", "key", "expected", "value"];

fn patch_invalid(member: &str, detail: &str) -> Problem {
    Problem::invalid(&format!("patch.{member}"), "invalid_value", detail)
}

fn string_list(member: &str, value: &Value) -> Result<Vec<String>, Problem> {
    value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
        })
        .ok_or_else(|| patch_invalid(member, "must be an array of strings"))
}

fn text(member: &str, value: &Value) -> Result<String, Problem> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| patch_invalid(member, "must be a string"))
}

/// The metadata patch: `{"replace": any}` alone, or any of `merge`, `set`, `unset`, applied in
/// that order; untouched keys survive.
// bd-serve-v0.md §3.7 (`metadata`); §7: `set` keys assumed to follow the casMetadata syntax.
fn apply_metadata(current: &Value, patch: &Value) -> Result<Value, Problem> {
    let Some(patch) = patch.as_object().filter(|p| !p.is_empty()) else {
        return Err(patch_invalid("metadata", "must be a non-empty object"));
    };
    if let Some(replacement) = patch.get("replace") {
        if patch.len() > 1 {
            return Err(patch_invalid("metadata", "replace must come alone"));
        }
        return Ok(replacement.clone());
    }
    if let Some(unknown) = patch
        .keys()
        .find(|k| !["merge", "set", "unset"].contains(&k.as_str()))
    {
        return Err(Problem::invalid(
            &format!("patch.metadata.{unknown}"),
            "unknown_field",
            "metadata takes replace, or merge/set/unset",
        ));
    }
    let mut object = match current {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        _ => {
            return Err(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ));
        }
    };
    if let Some(merge) = patch.get("merge") {
        let merge = merge
            .as_object()
            .ok_or_else(|| patch_invalid("metadata.merge", "must be an object"))?;
        object.extend(merge.clone());
    }
    if let Some(set) = patch.get("set") {
        let set = set
            .as_object()
            .ok_or_else(|| patch_invalid("metadata.set", "must be an object"))?;
        if let Some(bad) = set.keys().find(|k| !valid_metadata_key(k)) {
            return Err(patch_invalid(
                "metadata.set",
                &format!("invalid key {bad:?}"),
            ));
        }
        object.extend(set.clone());
    }
    if let Some(unset) = patch.get("unset") {
        for key in string_list("metadata.unset", unset)? {
            object.remove(&key);
        }
    }
    Ok(Value::Object(object))
}

/// Applies the patch members to a draft of the bead.
fn apply_patch(issue: &mut Issue, patch: &Map<String, Value>) -> Result<(), Problem> {
    for (member, value) in patch {
        match member.as_str() {
            "title" => {
                let title = text(member, value)?;
                if title.trim().is_empty() {
                    return Err(patch_invalid(member, "must not be empty"));
                }
                issue.title = title;
            }
            "description" => issue.description = text(member, value)?,
            "priority" => match value.as_i64() {
                Some(p @ 0..=4) => issue.priority = p, // §3 Issue: priority 0–4
                _ => return Err(patch_invalid(member, "must be an integer 0-4")),
            },
            "issue_type" => issue.issue_type = text(member, value)?,
            "status" => {
                let wanted = text(member, value)?;
                if wanted.is_empty() {
                    return Err(patch_invalid(member, "must not be empty"));
                }
                issue.status = wanted;
            }
            // §3.7: `assignee` "" unassigns; null allowed on the nullable members.
            "assignee" => {
                issue.assignee = match value {
                    Value::Null => None,
                    other => Some(text(member, other)?).filter(|a| !a.is_empty()),
                }
            }
            "labels" => issue.labels = string_list(member, value)?,
            "add_labels" => {
                for label in string_list(member, value)? {
                    if !issue.has_label(&label) {
                        issue.labels.push(label);
                    }
                }
            }
            "remove_labels" => {
                let gone = string_list(member, value)?;
                issue.labels.retain(|l| !gone.contains(l));
            }
            "metadata" => issue.metadata = apply_metadata(&issue.metadata, value)?,
            _ => unreachable!("members are checked before"),
        }
    }
    Ok(())
}

/// `PATCH /v0/beads/issues/{id}` → `{issue, changed, revision}`.
// bd-serve-v0.md §3.7
pub(crate) fn patch(
    store: &BeadStore,
    headers: &HeaderMap,
    body: &[u8],
    id: &str,
) -> Result<Value, Problem> {
    let body = json_body(headers, body, &PATCH_BODY)?;
    let actor = actor(&body)?;
    let patch = match body.get("patch") {
        Some(Value::Object(patch)) if !patch.is_empty() => patch.clone(),
        _ => {
            return Err(Problem::invalid(
                "patch",
                "invalid_value",
                "patch is required and must be a non-empty object",
            ));
        }
    };
    if let Some(member) = patch.keys().find(|k| !PATCH_MEMBERS.contains(&k.as_str())) {
        let detail = if UNMODELLED.contains(&member.as_str()) {
            "this patch member is not modelled by beads-testd"
        } else {
            "unknown patch member"
        };
        return Err(Problem::invalid(
            &format!("patch.{member}"),
            "unknown_field",
            detail,
        ));
    }
    let expected = |name: &str| -> Result<Option<String>, Problem> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid_value(name, &other.to_string())),
        }
    };
    let expected_version = expected("expected_version")?;
    let expected_status = expected("expected_status")?;
    let expected_assignee = expected("expected_assignee")?;
    for flag in ["force_close_policy", "force_assignee_transfer"] {
        if body
            .get(flag)
            .is_some_and(|v| !v.is_boolean() && !v.is_string())
        {
            return Err(invalid_value(flag, "non-boolean"));
        }
    }

    // §2 problem table: `not_closable` with `open_children` when open children remain.
    if patch.get("status").and_then(Value::as_str) == Some(status::CLOSED) {
        let open_children: Vec<String> = store.read(|beads| {
            beads
                .values()
                .filter(|i| i.parent_id() == Some(id) && i.status != status::CLOSED)
                .map(|i| i.id.clone())
                .collect()
        });
        if !open_children.is_empty() && body.get("force_close_policy").is_none() {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "not_closable",
                "the issue has open children",
            )
            .with("open_children", json!(open_children)));
        }
    }

    let written = store.write_if(&actor, id, |draft| {
        // §3.7: a failed precondition is 409 `precondition_failed` naming the member, echoing
        // the expected value (never the actual one); nothing is written.
        let guards = [
            (
                "expected_version",
                &expected_version,
                draft.revision.to_string(),
            ),
            ("expected_status", &expected_status, draft.status.clone()),
            (
                "expected_assignee",
                &expected_assignee,
                draft.assignee.clone().unwrap_or_default(),
            ),
        ];
        for (name, wanted, actual) in guards {
            if let Some(wanted) = wanted
                && *wanted != actual
            {
                return Draft::Refuse(
                    Problem::new(
                        StatusCode::CONFLICT,
                        "precondition_failed",
                        format!("{name} does not match"),
                    )
                    .with("param", name)
                    .with(name, wanted.as_str()),
                );
            }
        }
        match apply_patch(draft, &patch) {
            Ok(()) => Draft::Keep,
            Err(problem) => Draft::Refuse(problem),
        }
    });
    let (issue, changed) =
        written.ok_or_else(|| Problem::not_found(format!("issue {id} not found")))??;
    Ok(json!({
        "issue": wire::issue(&issue),
        "changed": changed,
        "revision": issue.revision.to_string(),
    }))
}

/// `POST /v0/beads/issues/{id}:casMetadata` → `{swapped, current?}`; a lost race is a 200.
// bd-serve-v0.md §3.8
pub(crate) fn cas_metadata(
    store: &BeadStore,
    headers: &HeaderMap,
    body: &[u8],
    id: &str,
) -> Result<Value, Problem> {
    let body = json_body(headers, body, &CAS_BODY)?;
    let actor = actor(&body)?;
    let key = match body.get("key") {
        Some(Value::String(key)) if valid_metadata_key(key) => key.clone(),
        Some(Value::String(key)) => return Err(invalid_value("key", key)),
        _ => return Err(Problem::invalid("key", "invalid_value", "key is required")),
    };
    // §3.8: an omitted `expected` = the key must be absent; an omitted `value` deletes the key;
    // an explicit null is a real value. serde_json keeps `1` and `1.0` apart, as bd does.
    let expected = body.get("expected").cloned();
    let value = body.get("value").cloned();
    let mut answer = None;
    let written = store.write_if(&actor, id, |draft| {
        let Some(object) = draft.metadata.as_object_mut() else {
            // §3.8: 500 when the stored metadata is not an object.
            return Draft::Refuse(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ));
        };
        let current = object.get(&key).cloned();
        if current != expected {
            answer = Some((false, current));
            return Draft::Keep; // nothing changed in the draft: no write
        }
        match &value {
            Some(value) => object.insert(key.clone(), value.clone()),
            None => object.remove(&key),
        };
        answer = Some((true, value.clone()));
        Draft::Keep
    });
    written.ok_or_else(|| Problem::not_found(format!("issue {id} not found")))??;
    let (swapped, current) = answer.unwrap_or((false, None));
    let mut reply = json!({"swapped": swapped});
    if let Some(current) = current {
        reply["current"] = current; // absent `current` ⇒ the key is absent
    }
    Ok(reply)
}

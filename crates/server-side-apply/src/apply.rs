//! Server-side apply and the managed-fields bookkeeping of every other write.
//!
//! Follows the field manager of kube-apiserver (k8s.io/apimachinery `managedfields`) and the
//! updater of structured-merge-diff: an apply merges the configuration into the live object,
//! takes ownership of every field the configuration sets, drops the fields its manager set
//! last time and nobody owns any more, and refuses to change fields other managers own unless
//! forced. Creates, updates and patches record the fields they changed as owned by their
//! manager (operation `Update`) and take them away from everyone else.

use serde_json::{Map, Value, json};

use crate::fieldpath::{FieldSet, Path, PathElement};
use crate::managed::{self, APPLY, Managed, ManagerId, Ownership, UPDATE};
use crate::typed::{Comparison, Walker};
use crate::types::TypeInfo;

/// The annotation client-side `kubectl apply` keeps its last configuration in.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// At most this many `Update` entries are kept; older ones merge into `ancient-changes`.
const MAX_UPDATE_MANAGERS: usize = 10;

/// Longest field manager name the real server accepts.
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// The manager a request is recorded under: its `fieldManager` parameter, or else its
/// User-Agent up to the first `/` (`kubectl/v1.33.0 (linux/amd64)` is `kubectl`), printable
/// characters only and at most [`FIELD_MANAGER_MAX_LENGTH`] bytes — as upstream does.
pub fn manager_or_user_agent(field_manager: Option<&str>, user_agent: &str) -> String {
    if let Some(manager) = field_manager.filter(|m| !m.is_empty()) {
        return manager.to_owned();
    }
    let prefix = user_agent.split('/').next().unwrap_or_default();
    let mut manager = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if manager.len() + c.len_utf8() > FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        manager.push(c);
    }
    manager
}

/// One field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The manager as conflict messages name it, e.g. `"kubectl-client-side-apply" using apps/v1`.
    pub manager: String,
    /// The field, e.g. `.spec.replicas` or `.spec.containers[name="app"].image`.
    pub field: String,
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change. HTTP 409, reason `Conflict`, with
    /// [`ApplyError::status_causes`] as `details.causes`.
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The configuration carries `metadata.managedFields`. HTTP 400 BadRequest.
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsInConfig,
    /// The configuration is not an object with `apiVersion` and `kind`. HTTP 400 BadRequest.
    #[error("invalid apply configuration: {0}")]
    NotAnObject(String),
    /// The configuration breaks its kind's list semantics (a map-list element without its
    /// keys, duplicate keys). The real server answers 500 with this text.
    #[error("failed to create typed patch object ({object}): {reason}")]
    InvalidConfig { object: String, reason: String },
    /// The live object's managedFields cannot be read. HTTP 500.
    #[error("failed to decode managed fields: {0}")]
    InvalidManagedFields(String),
}

impl ApplyError {
    /// `details.causes` of the 409 Status: one `FieldManagerConflict` per field.
    pub fn status_causes(&self) -> Vec<Value> {
        match self {
            ApplyError::Conflicts(conflicts) => conflicts
                .iter()
                .map(|c| {
                    json!({
                        "reason": "FieldManagerConflict",
                        "message": format!("conflict with {}", c.manager),
                        "field": c.field,
                    })
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The message of upstream's apply conflict error: one line for a single conflict, otherwise
/// the fields grouped under each manager.
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager, only.field
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in managers {
        lines.push(format!("conflicts with {manager}:"));
        lines.extend(
            conflicts
                .iter()
                .filter(|c| c.manager == manager)
                .map(|c| format!("- {}", c.field)),
        );
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Server-side apply of `config` (`application/apply-patch+yaml`, already parsed) by
/// `manager` onto `live` (`None`: the object does not exist and is created).
///
/// Returns the new object including `metadata.managedFields`. The caller keeps doing what
/// the server does around it: defaulting, validation, `resourceVersion`, `uid`,
/// `creationTimestamp`, and resetting fields the endpoint may not change — for kinds with a
/// status subresource drop `status` from `config` on the main resource, and keep everything
/// but `status` from `live` on the `status` subresource.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    subresource: Option<&str>,
    types: &dyn TypeInfo,
    now_rfc3339: &str,
) -> Result<Value, ApplyError> {
    let api_version = validate_config(config)?;
    let walker = Walker::new(types);
    let mut managed = match live {
        Some(live) => managed::decode(managed::managed_fields_of(live))
            .map_err(ApplyError::InvalidManagedFields)?,
        None => Managed::new(),
    };
    let live_object = live
        .map(managed::without_managed_fields)
        .unwrap_or_else(|| Value::Object(Map::new()));
    if live.is_some() && managed.is_empty() {
        // An object nobody tracked yet: whoever made it owns what is there.
        let existing = walker.compare(&Value::Object(Map::new()), &live_object);
        let fields = strip_meta(&existing.added.union(&existing.modified));
        if !fields.is_empty() {
            let id = ManagerId::new("before-first-apply", UPDATE, api_version, None);
            managed.insert(id, Ownership::new(api_version, fields, None));
        }
    }

    let invalid = |reason: String| ApplyError::InvalidConfig {
        object: describe(config),
        reason,
    };
    let applier = ManagerId::new(manager, APPLY, api_version, subresource);
    let applied = restrict_to_subresource(walker.field_set(config).map_err(invalid)?, subresource);
    let merged = walker.merge(&live_object, config).map_err(invalid)?;

    let previous = managed.get(&applier).cloned();
    managed.insert(
        applier.clone(),
        Ownership::new(
            api_version,
            applied,
            previous.as_ref().and_then(|p| p.time.clone()),
        ),
    );
    let mut merged = match &previous {
        Some(previous) => prune(&walker, &merged, &managed, previous.fields()),
        None => merged,
    };

    let comparison = walker.compare(&live_object, &merged);
    let conflicts = find_conflicts(&comparison, &managed, &applier);
    let proceed = force
        || conflicts.is_empty()
        || (applier.manager == "kubectl"
            && allowed_by_last_applied(&walker, &live_object, api_version).is_some_and(
                |allowed| conflicts.iter().all(|(_, path)| allowed.contains(&path.0)),
            ));
    if !proceed {
        return Err(ApplyError::Conflicts(
            conflicts
                .into_iter()
                .map(|(manager, path)| Conflict {
                    manager: manager.to_string(),
                    field: path.to_string(),
                })
                .collect(),
        ));
    }
    transfer_ownership(&comparison, &mut managed, &applier);
    // A null in the configuration clears the field (the real server's typed conversion drops
    // it), while the applier keeps owning it.
    drop_null_fields(&mut merged);

    let changed = merged != live_object;
    if let Some(entry) = managed.get_mut(&applier) {
        entry.set_fields(strip_meta(entry.fields()));
        if changed {
            entry.time = Some(now_rfc3339.to_owned());
        }
    }
    if applier.manager == "kubectl" {
        sync_last_applied(&mut merged, config);
    }
    managed::encode_into(&mut merged, &managed);
    Ok(merged)
}

/// The configuration's apiVersion, once it is an object with type metadata and without
/// managedFields.
fn validate_config(config: &Value) -> Result<&str, ApplyError> {
    let Some(config_object) = config.as_object() else {
        return Err(ApplyError::NotAnObject(
            "the body must be a JSON or YAML object".into(),
        ));
    };
    let Some(api_version) = config_object.get("apiVersion").and_then(Value::as_str) else {
        return Err(ApplyError::NotAnObject("apiVersion must be set".into()));
    };
    if config_object.get("kind").and_then(Value::as_str).is_none() {
        return Err(ApplyError::NotAnObject("kind must be set".into()));
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApplyError::ManagedFieldsInConfig);
    }
    Ok(api_version)
}

/// Records who changed what in a create (`old` is `None`), update or non-apply patch:
/// the fields `new` adds or changes become owned by `manager` with `operation` (`"Update"`)
/// and are taken from everyone else; removed fields are nobody's any more. Rewrites
/// `new.metadata.managedFields`.
///
/// Like the real server, managedFields sent in `new` replace the stored ones when they are
/// valid (an empty list clears them), except on subresources; and an existing object that
/// has no managedFields stays untracked until someone applies to it.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    operation: &str,
    subresource: Option<&str>,
    types: &dyn TypeInfo,
    now_rfc3339: &str,
) {
    let sent = managed::take_managed_fields(new);
    let stored = || {
        old.and_then(|o| managed::decode(managed::managed_fields_of(o)).ok())
            .unwrap_or_default()
    };
    let mut managed = if subresource.is_some() {
        stored()
    } else if managed::is_reset(sent.as_ref()) {
        Managed::new()
    } else {
        match managed::decode(sent.as_ref()) {
            Ok(sent) if !sent.is_empty() => sent,
            _ => stored(),
        }
    };
    if old.is_some() && managed.is_empty() {
        return;
    }
    let api_version = new
        .get("apiVersion")
        .or_else(|| old.and_then(|o| o.get("apiVersion")))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let empty = Value::Object(Map::new());
    let old_object = old.unwrap_or(&empty);

    let walker = Walker::new(types);
    // The changes are attributed to a placeholder first, so that the manager's own earlier
    // fields are treated like anyone else's: changed or removed ones are given up, then the
    // changes are added back to it.
    let this_operation = ManagerId::new("", "", "", None);
    let comparison = walker.compare(old_object, new);
    transfer_ownership(&comparison, &mut managed, &this_operation);
    let taken = restrict_to_subresource(
        strip_meta(&comparison.added.union(&comparison.modified)),
        subresource,
    );
    if !taken.is_empty() {
        let id = ManagerId::new(manager, operation, &api_version, subresource);
        let entry = managed
            .entry(id)
            .or_insert_with(|| Ownership::new(&api_version, FieldSet::new(), None));
        entry.set_fields(entry.fields().union(&taken));
        entry.api_version = api_version.clone();
        entry.time = Some(now_rfc3339.to_owned());
    }
    cap_update_managers(&mut managed);
    managed::encode_into(new, &managed);
}

/// `namespace/name; apiVersion, Kind=kind` as upstream names objects in these errors.
fn describe(object: &Value) -> String {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let api_version = text("/apiVersion");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    format!(
        "{}/{}; {group}/{version}, Kind={}",
        text("/metadata/namespace"),
        text("/metadata/name"),
        text("/kind")
    )
}

/// Removes what the applier set last time and neither it nor anyone else owns now.
fn prune(walker: &Walker<'_>, merged: &Value, managed: &Managed, last_applied: &FieldSet) -> Value {
    let is_declared = |names: &[&str]| walker.is_declared_field(names);
    let owned = managed
        .values()
        .fold(FieldSet::new(), |mut all, o| {
            all.union_with(o.fields());
            all
        })
        .with_named_fields_as_members(&is_declared);
    let dropped = last_applied
        .with_named_fields_as_members(&is_declared)
        .difference(&owned);
    if dropped.is_empty() {
        merged.clone()
    } else {
        walker.remove(merged, &dropped)
    }
}

/// Fields other managers own that the compared change modifies or adds.
fn find_conflicts(
    comparison: &Comparison,
    managed: &Managed,
    current: &ManagerId,
) -> Vec<(ManagerId, Path)> {
    let changed = comparison.modified.union(&comparison.added);
    managed
        .iter()
        .filter(|(id, _)| *id != current)
        .flat_map(|(id, o)| {
            o.fields()
                .intersection(&changed)
                .paths()
                .into_iter()
                .map(move |path| (id.clone(), path))
        })
        .collect()
}

/// Takes the fields the compared change modifies or adds away from everyone but `current`, and
/// the removed ones from everyone.
fn transfer_ownership(comparison: &Comparison, managed: &mut Managed, current: &ManagerId) {
    let changed = comparison.modified.union(&comparison.added);
    for (id, o) in managed.iter_mut() {
        if id != current {
            o.remove_fields(&changed);
            o.remove_fields(&comparison.removed);
        }
    }
    managed.retain(|id, o| id == current || !o.fields().is_empty());
}

/// The paths managers never own: type and identity metadata the server sets.
fn strip_meta(fields: &FieldSet) -> FieldSet {
    const STRIPPED: &[&[&str]] = &[
        &["apiVersion"],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ];
    let mut stripped = FieldSet::new();
    for path in STRIPPED {
        let elements: Vec<PathElement> = path
            .iter()
            .map(|n| PathElement::Field((*n).to_owned()))
            .collect();
        stripped.insert(&elements);
    }
    fields.difference(&stripped)
}

/// On the status subresource only `.status` is recorded as owned.
fn restrict_to_subresource(fields: FieldSet, subresource: Option<&str>) -> FieldSet {
    match subresource {
        Some("status") => fields.filter(&|path: &Path| {
            path.0.first().and_then(PathElement::field_name) == Some("status")
        }),
        _ => fields,
    }
}

/// The fields `kubectl apply --server-side` may take over from client-side apply without a
/// conflict: those in the last-applied annotation whose values are still live.
fn allowed_by_last_applied(
    walker: &Walker<'_>,
    live: &Value,
    api_version: &str,
) -> Option<FieldSet> {
    let annotation = live
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED_ANNOTATION)?
        .as_str()?;
    let last_applied: Value = serde_json::from_str(annotation).ok()?;
    if last_applied.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let fields = walker.field_set(&last_applied).ok()?;
    let drifted = walker.compare(&last_applied, live);
    Some(
        fields
            .difference(&drifted.modified)
            .difference(&drifted.added)
            .difference(&drifted.removed),
    )
}

fn drop_null_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_null_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_fields),
        _ => {}
    }
}

/// Keeps a client-side apply annotation current after `kubectl apply --server-side`.
fn sync_last_applied(object: &mut Value, config: &Value) {
    let Some(annotations) = object
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if annotations
        .get(LAST_APPLIED_ANNOTATION)
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return;
    }
    let mut last = config.clone();
    if let Some(config_annotations) = last
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        config_annotations.remove(LAST_APPLIED_ANNOTATION);
    }
    annotations.insert(
        LAST_APPLIED_ANNOTATION.to_owned(),
        Value::String(last.to_string()),
    );
}

/// Merges the oldest `Update` entries into one `ancient-changes` entry per apiVersion until
/// at most [`MAX_UPDATE_MANAGERS`] remain.
fn cap_update_managers(managed: &mut Managed) {
    let mut updaters: Vec<ManagerId> = managed
        .keys()
        .filter(|id| id.operation != APPLY)
        .cloned()
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|a, b| {
        let time = |id: &ManagerId| managed[id].time.clone().unwrap_or_default();
        time(a).cmp(&time(b)).then_with(|| a.cmp(b))
    });
    let mut remaining = updaters.len();
    let mut first_of_version: std::collections::BTreeMap<String, ManagerId> = Default::default();
    for id in updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(entry) = managed.get(&id).cloned() else {
            continue;
        };
        let version = entry.api_version.clone();
        let Some(first) = first_of_version.get(&version) else {
            first_of_version.insert(version, id);
            continue;
        };
        let bucket = ManagerId::new("ancient-changes", UPDATE, &version, None);
        if !managed.contains_key(&bucket)
            && let Some(first_entry) = managed.remove(first)
        {
            managed.insert(bucket.clone(), first_entry);
        }
        managed.remove(&id);
        if let Some(bucket_entry) = managed.get_mut(&bucket) {
            bucket_entry.set_fields(bucket_entry.fields().union(entry.fields()));
            bucket_entry.time = entry.time;
        }
        remaining -= 1;
    }
}

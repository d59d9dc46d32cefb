//! JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.
//!
//! Strategic merge follows k8s.io/apimachinery `strategicpatch` as the API server applies it
//! (parallel lists merged, nulls in new values dropped): lists merge by their
//! `patchMergeKey`, primitive lists with strategy `merge` as sets, everything else is
//! replaced; directives `$patch: replace|delete|merge`, `$setElementOrder/<field>`,
//! `$retainKeys` and `$deleteFromPrimitiveList/<field>` are honoured.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::fieldpath::compare_values;
use crate::types::{ListPatchStrategy, TypeInfo};

/// Most operations one JSON patch may carry, as upstream.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// Why a patch could not be applied. [`PatchError::http_status`] and
/// [`PatchError::reason`] give the Status the real server answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("invalid JSON document")]
    InvalidDocument,
    #[error("lists of lists are not supported")]
    NoListOfLists,
    #[error("invalid patch format of primitive list")]
    BadPatchFormatForPrimitiveList,
    #[error("invalid patch format of retainKeys")]
    BadPatchFormatForRetainKeys,
    #[error("invalid patch format of setElementOrder list")]
    BadPatchFormatForSetElementOrderList,
    /// Strategic merge patch on a kind without patch metadata (custom resources).
    #[error(
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )]
    StrategicMergeUnsupported,
    /// Any other strategic merge failure (missing merge key, unknown directive, ...); upstream
    /// passes these through as internal errors.
    #[error("{0}")]
    StrategicMerge(String),
    /// The JSON patch document is malformed.
    #[error("{0}")]
    JsonPatchDecode(String),
    /// A JSON patch operation failed (a `test` that did not match, a missing path).
    #[error("{0}")]
    JsonPatchApply(String),
    #[error(
        "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {0}"
    )]
    TooManyOperations(usize),
}

impl PatchError {
    /// The HTTP status code kube-apiserver answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            PatchError::JsonPatchApply(_) => 422,
            PatchError::StrategicMergeUnsupported => 415,
            PatchError::TooManyOperations(_) => 413,
            PatchError::StrategicMerge(_) => 500,
            _ => 400,
        }
    }

    /// The Status `reason` matching [`PatchError::http_status`].
    pub fn reason(&self) -> &'static str {
        match self.http_status() {
            422 => "Invalid",
            415 => "UnsupportedMediaType",
            413 => "RequestEntityTooLarge",
            500 => "InternalError",
            _ => "BadRequest",
        }
    }
}

/// Applies an RFC 7386 JSON merge patch (`application/merge-patch+json`).
pub fn json_merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

/// Applies an RFC 6902 JSON patch (`application/json-patch+json`), all operations or none.
///
/// One deviation from RFC 6902, as kube-apiserver (evanphx/json-patch v4, whose `test` reads
/// an absent member of an existing object as `null`): `{"op": "test", "value": null}` on a
/// member missing from an object succeeds. kube-runtime's `finalizer()` relies on it to add
/// the first finalizer. A missing parent or array index still fails.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchError::JsonPatchDecode(e.to_string()))?;
    if operations.0.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations(operations.0.len()));
    }
    // Operations run one by one on a copy, so that a test can see what the ones before it
    // did, and the target stays untouched when any of them fails.
    let mut patched = target.clone();
    for (index, operation) in operations.0.iter().enumerate() {
        if let json_patch::PatchOperation::Test(test) = operation
            && test.value.is_null()
            && is_absent_object_member(&patched, &test.path)
        {
            continue;
        }
        json_patch::patch_unsafe(&mut patched, std::slice::from_ref(operation)).map_err(|e| {
            PatchError::JsonPatchApply(format!(
                "operation '/{index}' failed at path '{}': {}",
                e.path, e.kind
            ))
        })?;
    }
    *target = patched;
    Ok(())
}

/// Whether `path` names a member missing from an object that exists in `document`.
fn is_absent_object_member(document: &Value, path: &json_patch::jsonptr::Pointer) -> bool {
    let Some((parent, member)) = path.split_back() else {
        return false;
    };
    match document.pointer(parent.as_str()) {
        Some(Value::Object(object)) => !object.contains_key(member.decoded().as_ref()),
        _ => false,
    }
}

/// Applies a strategic merge patch (`application/strategic-merge-patch+json`) to `original`.
/// Kinds whose types do not support it (custom resources) get
/// [`PatchError::StrategicMergeUnsupported`], which the server answers with 415.
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    types: &dyn TypeInfo,
) -> Result<Value, PatchError> {
    if !types.supports_strategic_merge() {
        return Err(PatchError::StrategicMergeUnsupported);
    }
    let (Value::Object(original), Value::Object(patch)) = (original, patch) else {
        return Err(PatchError::InvalidDocument);
    };
    let merger = StrategicMerge { types };
    merger
        .merge_map(original.clone(), patch.clone(), &mut Vec::new())
        .map(Value::Object)
}

struct StrategicMerge<'t> {
    types: &'t dyn TypeInfo,
}

impl StrategicMerge<'_> {
    fn list_strategy(&self, names: &[String], field: &str) -> ListPatchStrategy {
        let mut path: Vec<&str> = names.iter().map(String::as_str).collect();
        path.push(field);
        self.types.patch_strategy(&path)
    }

    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
        names: &mut Vec<String>,
    ) -> Result<Map<String, Value>, PatchError> {
        if let Some(directive) = patch.get(DIRECTIVE) {
            return match directive.as_str() {
                Some("replace") => {
                    patch.remove(DIRECTIVE);
                    Ok(strip_directives_in_map(patch))
                }
                Some("delete") => Ok(Map::new()),
                _ => Err(bad_patch_type(directive, &patch)),
            };
        }
        apply_retain_keys(&mut original, &mut patch)?;
        self.apply_set_element_order(&mut original, &mut patch, names)?;

        // Deletions from primitive lists first, so that additions in the same patch stay.
        let (deletions, rest): (Vec<_>, Vec<_>) = patch
            .into_iter()
            .partition(|(key, _)| key.starts_with(DELETE_FROM_PRIMITIVE_LIST));
        for (key, value) in deletions.into_iter().chain(rest) {
            let (field, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                Some(rest) => match rest.strip_prefix('/') {
                    Some(field) => (field.to_owned(), true),
                    None => return Err(PatchError::BadPatchFormatForPrimitiveList),
                },
                None => (key, false),
            };
            self.merge_field(&mut original, field, value, is_delete_list, names)?;
        }
        Ok(original)
    }

    fn merge_field(
        &self,
        original: &mut Map<String, Value>,
        field: String,
        mut value: Value,
        is_delete_list: bool,
        names: &mut Vec<String>,
    ) -> Result<(), PatchError> {
        if value.is_null() {
            original.remove(&field);
            return Ok(());
        }
        let same_kind = original
            .get(&field)
            .is_some_and(|existing| json_kind(existing) == json_kind(&value));
        if !same_kind {
            // Absent or of another type: the patch value is taken as it is.
            if !is_delete_list {
                discard_nulls(&mut value);
                match strip_directives(value) {
                    Some(value) => original.insert(field, value),
                    None => original.remove(&field),
                };
            }
            return Ok(());
        }
        let existing = original.remove(&field).unwrap_or(Value::Null);
        let merged = match (existing, value) {
            (Value::Object(existing), Value::Object(patch)) => {
                names.push(field.clone());
                let merged = self.merge_map(existing, patch, names);
                names.pop();
                Value::Object(merged?)
            }
            (Value::Array(existing), Value::Array(patch)) => {
                let strategy = self.list_strategy(names, &field);
                names.push(field.clone());
                let merged =
                    self.merge_list_field(existing, patch, &strategy, is_delete_list, names);
                names.pop();
                Value::Array(merged?)
            }
            (_, value) => match strip_directives(value) {
                Some(value) => value,
                None => return Ok(()),
            },
        };
        original.insert(field, merged);
        Ok(())
    }

    /// A list field: merged when its strategy says so (or for a deletion list), else replaced.
    fn merge_list_field(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        strategy: &ListPatchStrategy,
        is_delete_list: bool,
        names: &mut Vec<String>,
    ) -> Result<Vec<Value>, PatchError> {
        match strategy {
            ListPatchStrategy::Replace if !is_delete_list => Ok(patch),
            _ => self.merge_list(original, patch, strategy, is_delete_list, names),
        }
    }

    fn merge_list(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        strategy: &ListPatchStrategy,
        is_delete_list: bool,
        names: &mut Vec<String>,
    ) -> Result<Vec<Value>, PatchError> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        let kind = element_kind(&[&original, &patch])?;
        if kind != JsonKind::Object {
            if is_delete_list {
                return Ok(original
                    .into_iter()
                    .filter(|item| !patch.iter().any(|p| values_equal(p, item)))
                    .collect());
            }
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for item in original.iter().chain(&patch) {
                if !merged.iter().any(|m| values_equal(m, item)) {
                    merged.push(item.clone());
                }
            }
            let (in_patch, server_only) = partition_primitives(merged, &patch);
            return Ok(normalize_order(
                in_patch,
                server_only,
                &patch,
                &original,
                None,
            ));
        }

        let merge_key = match strategy {
            ListPatchStrategy::MergeByKey(key) => key.clone(),
            _ => {
                return Err(PatchError::StrategicMerge(format!(
                    "cannot merge lists without merge key for {}",
                    names.last().map(String::as_str).unwrap_or("")
                )));
            }
        };
        let (mut merged, patch) = apply_list_directives(original, patch, &merge_key)?;
        let server_order = merged.clone();
        for item in &patch {
            let Value::Object(item_map) = item else {
                return Err(bad_arg_type(item));
            };
            let Some(key_value) = item_map.get(&merge_key) else {
                return Err(no_merge_key(item, &merge_key));
            };
            match find_by_key(&merged, &merge_key, key_value)? {
                Some(position) => {
                    let Value::Object(existing) = std::mem::take(&mut merged[position]) else {
                        return Err(bad_arg_type(&merged[position]));
                    };
                    merged[position] =
                        Value::Object(self.merge_map(existing, item_map.clone(), names)?);
                }
                None => {
                    if let Some(item) = strip_directives(item.clone()) {
                        merged.push(item);
                    }
                }
            }
        }
        let (in_patch, server_only) = partition_maps(merged, &patch, &merge_key)?;
        Ok(normalize_order(
            in_patch,
            server_only,
            &patch,
            &server_order,
            Some(&merge_key),
        ))
    }

    /// `$setElementOrder/<field>`: merges the list it names and orders it as the directive says.
    fn apply_set_element_order(
        &self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        names: &mut Vec<String>,
    ) -> Result<(), PatchError> {
        let keys: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
            .cloned()
            .collect();
        for key in keys {
            let order = patch.remove(&key).unwrap_or(Value::Null);
            let Value::Array(order) = order else {
                return Err(bad_arg_type(&order));
            };
            let field = key
                .strip_prefix(SET_ELEMENT_ORDER)
                .and_then(|rest| rest.strip_prefix('/'))
                .ok_or(PatchError::BadPatchFormatForSetElementOrderList)?
                .to_owned();
            let original_list = match original.get(&field) {
                Some(Value::Array(items)) => Some(items.clone()),
                Some(other) => return Err(bad_arg_type(other)),
                None => None,
            };
            let patch_list = match patch.get(&field) {
                Some(Value::Array(items)) => Some(items.clone()),
                Some(other) => return Err(bad_arg_type(other)),
                None => None,
            };
            let strategy = self.list_strategy(names, &field);
            let merge_key = match &strategy {
                ListPatchStrategy::MergeByKey(key) => Some(key.as_str()),
                _ => None,
            };
            validate_order(patch_list.as_deref().unwrap_or(&[]), &order, merge_key)?;
            let merged = match (&original_list, patch_list) {
                (Some(original_list), None) => original_list.clone(),
                (None, Some(patch_list)) => strip_directives(Value::Array(patch_list))
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default(),
                (Some(original_list), Some(patch_list)) => {
                    names.push(field.clone());
                    let merged = self.merge_list_field(
                        original_list.clone(),
                        patch_list,
                        &strategy,
                        false,
                        names,
                    );
                    names.pop();
                    merged?
                }
                (None, None) => continue,
            };
            let (in_order, server_only) = match merge_key {
                Some(key) => partition_maps(merged, &order, key)?,
                None => partition_primitives(merged, &order),
            };
            let original_list = original_list.unwrap_or_default();
            element_kind(&[
                &original_list,
                patch
                    .get(&field)
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
            ])?;
            let ordered = normalize_order(in_order, server_only, &order, &original_list, merge_key);
            original.insert(field.clone(), Value::Array(ordered));
            patch.remove(&field);
        }
        Ok(())
    }
}

/// `$retainKeys`: drops the original's keys the list does not name, after checking that the
/// patch itself sets only keys it names.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadPatchFormatForRetainKeys);
    };
    let retained = |key: &str| retain.iter().any(|r| r.as_str() == Some(key));
    let sets_unlisted_key = patch.iter().any(|(key, value)| {
        !value.is_null()
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            && !key.starts_with(SET_ELEMENT_ORDER)
            && !retained(key)
    });
    if sets_unlisted_key {
        return Err(PatchError::BadPatchFormatForRetainKeys);
    }
    original.retain(|key, _| retained(key));
    Ok(())
}

/// Handles `$patch: delete|replace|merge` elements of a map list; returns the original with
/// deletions done (or the patch's elements, for `replace`) and the patch without directives.
fn apply_list_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(key_value) = item.get(merge_key) else {
                    return Err(no_merge_key(&item, merge_key));
                };
                while let Some(position) = find_by_key(&original, merge_key, key_value)? {
                    original.remove(position);
                }
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(PatchError::StrategicMerge(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            _ => {
                return Err(bad_patch_type(
                    directive,
                    item.as_object().unwrap_or(&Map::new()),
                ));
            }
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Checks that the patch list's elements appear in the `$setElementOrder` list in the same
/// relative order.
fn validate_order(
    patch: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let non_deleted: Vec<&Value> = patch
        .iter()
        .filter(|item| {
            merge_key.is_none() || item.get(DIRECTIVE).and_then(Value::as_str) != Some("delete")
        })
        .collect();
    let (mut p, mut o) = (0, 0);
    while p < non_deleted.len() && o < order.len() {
        if non_deleted[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if same_element(non_deleted[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < non_deleted.len() && o >= order.len() {
        return Err(PatchError::StrategicMerge(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_format(&Value::Array(patch.to_vec())),
            go_format(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn same_element(a: &Value, b: &Value, merge_key: Option<&str>) -> Result<bool, PatchError> {
    let Some(key) = merge_key else {
        return Ok(values_equal(a, b));
    };
    let left = a.get(key).ok_or_else(|| no_merge_key(a, key))?;
    let right = b.get(key).ok_or_else(|| no_merge_key(b, key))?;
    Ok(values_equal(left, right))
}

fn find_by_key(items: &[Value], key: &str, value: &Value) -> Result<Option<usize>, PatchError> {
    for (position, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(PatchError::StrategicMerge(format!(
                "value for key {position} is not a map"
            )));
        };
        if map.get(key).is_some_and(|v| values_equal(v, value)) {
            return Ok(Some(position));
        }
    }
    Ok(None)
}

/// Splits `merged` into the elements the patch mentions and the ones only the server has.
fn partition_primitives(merged: Vec<Value>, patch: &[Value]) -> (Vec<Value>, Vec<Value>) {
    merged
        .into_iter()
        .partition(|item| patch.iter().any(|p| values_equal(p, item)))
}

fn partition_maps(
    merged: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut in_patch = Vec::new();
    let mut server_only = Vec::new();
    for item in merged {
        let key_value = item
            .get(merge_key)
            .ok_or_else(|| no_merge_key(&item, merge_key))?;
        if find_by_key(patch, merge_key, key_value)?.is_some() {
            in_patch.push(item);
        } else {
            server_only.push(item);
        }
    }
    Ok((in_patch, server_only))
}

/// Orders the patch's elements as the patch lists them and the server-only elements as the
/// server had them, then interleaves the two by the server's order where both are known.
fn normalize_order(
    mut in_patch: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    let position = |list: &[Value], item: &Value| -> Option<usize> {
        let wanted = identity(item, merge_key)?;
        list.iter().position(|candidate| {
            identity(candidate, merge_key).is_some_and(|c| values_equal(c, wanted))
        })
    };
    in_patch.sort_by(
        |a, b| match (position(patch_order, a), position(patch_order, b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => Ordering::Equal,
        },
    );
    server_only.sort_by(
        |a, b| match (position(server_order, a), position(server_order, b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => Ordering::Equal,
        },
    );

    let mut out = Vec::with_capacity(in_patch.len() + server_only.len());
    let mut server = server_only.into_iter().peekable();
    let mut patched = in_patch.into_iter().peekable();
    loop {
        let take_server = match (server.peek(), patched.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(s), Some(p)) => matches!(
                (position(server_order, s), position(server_order, p)),
                (Some(x), Some(y)) if x < y
            ),
        };
        let next = if take_server {
            server.next()
        } else {
            patched.next()
        };
        out.extend(next);
    }
    out
}

/// What identifies a list element: its merge key's value, or itself for primitives.
fn identity<'v>(item: &'v Value, merge_key: Option<&str>) -> Option<&'v Value> {
    match merge_key {
        Some(key) => item.get(key),
        None => Some(item),
    }
}

/// Equality the way Go compares decoded JSON: numbers by value.
fn values_equal(a: &Value, b: &Value) -> bool {
    compare_values(a, b) == Ordering::Equal
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonKind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

fn json_kind(value: &Value) -> JsonKind {
    match value {
        Value::Null => JsonKind::Null,
        Value::Bool(_) => JsonKind::Bool,
        Value::Number(_) => JsonKind::Number,
        Value::String(_) => JsonKind::String,
        Value::Array(_) => JsonKind::Array,
        Value::Object(_) => JsonKind::Object,
    }
}

/// The one kind all elements share; lists of lists and mixed lists are refused.
fn element_kind(lists: &[&[Value]]) -> Result<JsonKind, PatchError> {
    let mut kind = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let this = json_kind(item);
        match kind {
            None if this == JsonKind::Array => return Err(PatchError::NoListOfLists),
            None => kind = Some(this),
            Some(k) if k != this => {
                let all: Vec<String> = lists
                    .iter()
                    .map(|l| go_format(&Value::Array(l.to_vec())))
                    .collect();
                return Err(PatchError::StrategicMerge(format!(
                    "list element types are not identical: {}",
                    all.join(" ")
                )));
            }
            Some(_) => {}
        }
    }
    kind.ok_or_else(|| PatchError::StrategicMerge("no elements in any of the given slices".into()))
}

/// Removes null-valued keys from a value about to be stored as is.
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// A value stored as is, without patch directives; `None` when the value is itself one
/// (`{"$patch": "delete"}`).
fn strip_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) if map.contains_key(DIRECTIVE) => None,
        Value::Object(map) => Some(Value::Object(strip_directives_in_map(map))),
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(strip_directives).collect(),
        )),
        other => Some(other),
    }
}

fn strip_directives_in_map(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(key, _)| {
            key != RETAIN_KEYS
                && !key.starts_with(SET_ELEMENT_ORDER)
                && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        })
        .filter_map(|(key, value)| strip_directives(value).map(|v| (key, v)))
        .collect()
}

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    PatchError::StrategicMerge(format!(
        "map: {} does not contain declared merge key: {key}",
        go_format(item)
    ))
}

fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    PatchError::StrategicMerge(format!(
        "unknown patch type: {} in map: {}",
        go_format(directive),
        go_format(&Value::Object(map.clone()))
    ))
}

fn bad_arg_type(actual: &Value) -> PatchError {
    let actual = match json_kind(actual) {
        JsonKind::Null => "<nil>",
        JsonKind::Bool => "bool",
        JsonKind::Number => "float64",
        JsonKind::String => "string",
        JsonKind::Array => "[]interface {}",
        JsonKind::Object => "map[string]interface {}",
    };
    PatchError::StrategicMerge(format!(
        "expected a []interface {{}}, but received a {actual}"
    ))
}

/// A value as Go's `%v` prints decoded JSON: `map[k:v]`, `[a b]`, `<nil>`.
fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut parts: Vec<(&String, String)> =
                map.iter().map(|(k, v)| (k, go_format(v))).collect();
            parts.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = parts.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

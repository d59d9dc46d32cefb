//! `metadata.managedFields`: decoding, the identity of a manager, and encoding back.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value, json};

use crate::fieldpath::FieldSet;

pub(crate) const APPLY: &str = "Apply";
pub(crate) const UPDATE: &str = "Update";

/// Who owns a set of fields. Appliers are one manager whatever version they apply; updaters
/// are one per apiVersion they wrote, like upstream's manager identifiers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ManagerId {
    pub manager: String,
    pub operation: String,
    /// Only for `Update` entries.
    pub api_version: Option<String>,
    pub subresource: Option<String>,
}

impl ManagerId {
    pub fn new(
        manager: &str,
        operation: &str,
        api_version: &str,
        subresource: Option<&str>,
    ) -> Self {
        let manager = if manager.is_empty() {
            "unknown"
        } else {
            manager
        };
        Self {
            manager: manager.to_owned(),
            operation: operation.to_owned(),
            api_version: (operation != APPLY).then(|| api_version.to_owned()),
            subresource: subresource.filter(|s| !s.is_empty()).map(str::to_owned),
        }
    }
}

impl fmt::Display for ManagerId {
    /// How conflict messages name a manager: `"kubectl"`, `"m" with subresource "status"`,
    /// `"kube-controller-manager" using apps/v1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Value::String(self.manager.clone()))?;
        if let Some(subresource) = &self.subresource {
            write!(
                f,
                " with subresource {}",
                Value::String(subresource.clone())
            )?;
        }
        if let Some(api_version) = &self.api_version {
            write!(f, " using {api_version}")?;
        }
        Ok(())
    }
}

/// One manager's fields.
#[derive(Debug, Clone)]
pub(crate) struct Ownership {
    pub api_version: String,
    pub time: Option<String>,
    fields: FieldSet,
    /// The `fieldsV1` this was decoded from, while `fields` is unchanged: re-encoding every
    /// entry on every write would dominate the cost of small updates.
    encoded: Option<Value>,
}

impl Ownership {
    pub fn new(api_version: &str, fields: FieldSet, time: Option<String>) -> Self {
        Self {
            api_version: api_version.to_owned(),
            time,
            fields,
            encoded: None,
        }
    }

    pub fn fields(&self) -> &FieldSet {
        &self.fields
    }

    pub fn set_fields(&mut self, fields: FieldSet) {
        self.fields = fields;
        self.encoded = None;
    }

    /// Gives up the paths of `other`.
    pub fn remove_fields(&mut self, other: &FieldSet) {
        if self.fields.remove_all(other) {
            self.encoded = None;
        }
    }

    fn fields_v1(&self) -> Value {
        self.encoded
            .clone()
            .unwrap_or_else(|| self.fields.to_fields_v1())
    }
}

/// All managers of an object.
pub(crate) type Managed = BTreeMap<ManagerId, Ownership>;

/// `metadata.managedFields` of an object.
pub(crate) fn managed_fields_of(object: &Value) -> Option<&Value> {
    object.pointer("/metadata/managedFields")
}

/// Removes `metadata.managedFields` from an object and returns it.
pub(crate) fn take_managed_fields(object: &mut Value) -> Option<Value> {
    object
        .get_mut("metadata")?
        .as_object_mut()?
        .remove("managedFields")
}

/// Decodes a `metadata.managedFields` list; an absent or null list is empty.
pub(crate) fn decode(entries: Option<&Value>) -> Result<Managed, String> {
    let entries = match entries {
        None | Some(Value::Null) => return Ok(Managed::new()),
        Some(entries) => entries,
    };
    let entries = match entries {
        Value::Array(entries) => entries,
        other => {
            return Err(format!(
                "metadata.managedFields must be a list, got {other}"
            ));
        }
    };
    let mut managed = Managed::new();
    for (i, entry) in entries.iter().enumerate() {
        let text = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or("");
        let operation = text("operation");
        if operation != APPLY && operation != UPDATE {
            return Err("operation must be `Apply` or `Update`".into());
        }
        let api_version = text("apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match text("fieldsType") {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {other:?} in managed fields entry {i}"
                ));
            }
        }
        let (fields, encoded) = match entry.get("fieldsV1") {
            None | Some(Value::Null) => (FieldSet::new(), None),
            Some(encoded) => (
                FieldSet::from_fields_v1(encoded)
                    .map_err(|e| format!("error decoding set of managed fields entry {i}: {e}"))?,
                Some(encoded.clone()),
            ),
        };
        let subresource = entry.get("subresource").and_then(Value::as_str);
        let id = ManagerId::new(text("manager"), operation, api_version, subresource);
        let time = entry.get("time").and_then(Value::as_str).map(str::to_owned);
        let mut ownership = Ownership::new(api_version, fields, time);
        ownership.encoded = encoded;
        managed.insert(id, ownership);
    }
    Ok(managed)
}

/// Whether an update asks to clear managedFields: an empty list, or one empty entry.
pub(crate) fn is_reset(entries: Option<&Value>) -> bool {
    match entries {
        Some(Value::Array(entries)) => match entries.as_slice() {
            [] => true,
            [only] => only.as_object().is_some_and(Map::is_empty),
            _ => false,
        },
        _ => false,
    }
}

/// Writes `managed` into `object.metadata.managedFields` in the real server's order
/// (operation, time, manager, apiVersion, subresource); drops the field when nobody owns
/// anything.
pub(crate) fn encode_into(object: &mut Value, managed: &Managed) {
    let mut entries: Vec<(&ManagerId, &Ownership)> = managed
        .iter()
        .filter(|(_, ownership)| !ownership.fields.is_empty())
        .collect();
    entries.sort_by(|(a, a_owner), (b, b_owner)| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| time_key(a_owner).cmp(time_key(b_owner)))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a_owner.api_version.cmp(&b_owner.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let encoded: Vec<Value> = entries
        .into_iter()
        .map(|(id, ownership)| {
            let mut entry = json!({
                "manager": id.manager,
                "operation": id.operation,
                "apiVersion": ownership.api_version,
            });
            if let Some(time) = &ownership.time {
                entry["time"] = json!(time);
            }
            entry["fieldsType"] = json!("FieldsV1");
            entry["fieldsV1"] = ownership.fields_v1();
            if let Some(subresource) = &id.subresource {
                entry["subresource"] = json!(subresource);
            }
            entry
        })
        .collect();
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    if encoded.is_empty() {
        metadata.remove("managedFields");
    } else {
        metadata.insert("managedFields".to_owned(), Value::Array(encoded));
    }
}

/// Sort key for entry times: RFC 3339 UTC timestamps order as text; no time sorts first.
fn time_key(ownership: &Ownership) -> &str {
    ownership.time.as_deref().unwrap_or("")
}

/// `object` without `metadata.managedFields`: managed fields are never part of a diff.
pub(crate) fn without_managed_fields(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_are_named_like_upstream_conflict_messages() {
        let cases = [
            (
                ManagerId::new("kubectl", APPLY, "apps/v1", None),
                "\"kubectl\"",
            ),
            (
                ManagerId::new("hpa", UPDATE, "autoscaling/v2", None),
                "\"hpa\" using autoscaling/v2",
            ),
            (
                ManagerId::new("ctl", UPDATE, "v1", Some("status")),
                "\"ctl\" with subresource \"status\" using v1",
            ),
            (ManagerId::new("", APPLY, "v1", Some("")), "\"unknown\""),
        ];
        for (id, expected) in cases {
            assert_eq!(id.to_string(), expected);
        }
    }

    #[test]
    fn invalid_entries_are_refused_with_upstream_messages() {
        let cases = [
            (
                json!([{"manager": "m", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}]),
                "operation must be `Apply` or `Update`",
            ),
            (
                json!([{"manager": "m", "operation": "Apply", "fieldsType": "FieldsV1"}]),
                "apiVersion must not be empty",
            ),
            (
                json!([{"manager": "m", "operation": "Apply", "apiVersion": "v1"}]),
                "missing fieldsType in managed fields entry 0",
            ),
            (
                json!([{"manager": "m", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV2"}]),
                "invalid fieldsType \"FieldsV2\" in managed fields entry 0",
            ),
        ];
        for (entries, message) in cases {
            assert_eq!(decode(Some(&entries)).unwrap_err(), message);
        }
        assert!(decode(None).unwrap().is_empty());
        assert!(is_reset(Some(&json!([]))));
        assert!(is_reset(Some(&json!([{}]))));
        assert!(!is_reset(None));
    }

    #[test]
    fn entries_are_encoded_in_upstream_order() {
        let mut managed = Managed::new();
        let mut fields = FieldSet::new();
        fields.insert(&[crate::fieldpath::PathElement::Field("data".into())]);
        for (manager, operation, time) in [
            ("z", UPDATE, "2026-01-01T00:00:01Z"),
            ("b", UPDATE, "2026-01-01T00:00:00Z"),
            ("a", APPLY, "2026-01-01T00:00:09Z"),
        ] {
            managed.insert(
                ManagerId::new(manager, operation, "v1", None),
                Ownership::new("v1", fields.clone(), Some(time.into())),
            );
        }
        let mut object = json!({"metadata": {}});
        encode_into(&mut object, &managed);
        let order: Vec<&str> = object["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(order, ["a", "b", "z"], "Apply first, then by time");
    }
}

//! CustomResourceDefinitions: which resources a CRD serves, and the status
//! (`NamesAccepted`, `Established`) the server gives it.

use crate::builtin::ALL_VERBS;
use crate::custom::CustomValidator;
use crate::errors::FieldError;
use crate::names::NameRule;
use crate::registry::{Check, Served};
use crate::resource::{PrinterColumn, ResourceInfo};
use crate::scale::ScalePaths;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use std::sync::Arc;

/// Checks upstream makes on a CRD beyond its type: the name is `<plural>.<group>`
/// and exactly one version is the storage version.
pub fn validate(crd: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name != format!("{plural}.{group}") {
        errors.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        errors.push(FieldError::invalid(
            "spec.versions",
            Value::Array(versions),
            "must have exactly one version marked as storage version",
        ));
    }
    errors
}

/// Why a CRD's versions cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("decoding the CustomResourceDefinition: {0}")]
    Decode(#[from] serde_json::Error),
    #[error(transparent)]
    Schema(#[from] structural_schema::SchemaError),
}

/// The served versions of a CRD, as resources, with their schemas compiled.
pub fn served_versions(crd: &Value) -> Result<Vec<Served>, ServeError> {
    let typed: CustomResourceDefinition = serde_json::from_value(crd.clone())?;
    let spec = typed.spec;
    let names = spec.names;
    let kind = names.kind.clone();
    let served = spec
        .versions
        .into_iter()
        .enumerate()
        .filter(|(_, v)| v.served)
        .map(|(index, version)| {
            let schema = version
                .schema
                .and_then(|s| s.open_api_v3_schema)
                .map(|s| serde_json::to_value(s).expect("JSONSchemaProps serialize"));
            let printer_columns = version
                .additional_printer_columns
                .unwrap_or_default()
                .into_iter()
                .map(|c| PrinterColumn {
                    name: c.name,
                    type_: c.type_,
                    format: c.format,
                    description: c.description,
                    priority: c.priority.unwrap_or(0),
                    json_path: c.json_path,
                })
                .collect();
            let status_subresource = version
                .subresources
                .as_ref()
                .is_some_and(|s| s.status.is_some());
            let scale = version
                .subresources
                .as_ref()
                .and_then(|s| s.scale.as_ref())
                .and_then(|s| ScalePaths::custom(&serde_json::to_value(s).ok()?));
            let at = format!("spec.versions[{index}].schema.openAPIV3Schema");
            let validator = schema
                .as_ref()
                .map(|s| CustomValidator::new(s, &kind, &at).map(Arc::new))
                .transpose()?;
            Ok(Served {
                info: ResourceInfo {
                    group: spec.group.clone(),
                    version: version.name,
                    kind: kind.clone(),
                    list_kind: names
                        .list_kind
                        .clone()
                        .unwrap_or_else(|| format!("{kind}List")),
                    plural: names.plural.clone(),
                    singular: names
                        .singular
                        .clone()
                        .unwrap_or_else(|| kind.to_lowercase()),
                    namespaced: spec.scope == "Namespaced",
                    short_names: names.short_names.clone().unwrap_or_default(),
                    categories: names.categories.clone().unwrap_or_default(),
                    verbs: ALL_VERBS.iter().map(|v| (*v).to_owned()).collect(),
                    status_subresource,
                    printer_columns,
                    schema,
                    custom: true,
                },
                name_rule: NameRule::Dns1123Subdomain,
                tracks_generation: true,
                selectable_fields: version
                    .selectable_fields
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| f.json_path.trim_start_matches('.').to_owned())
                    .collect(),
                check: Check::Schema(validator),
                scale,
            })
        });
    served.collect()
}

/// The status of an accepted, established CRD; condition times are kept from
/// `previous` so re-establishing does not look like a transition.
pub fn established_status(crd: &Value, previous: Option<&Value>, now: &str) -> Value {
    let mut accepted = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let kind = accepted
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if accepted.get("singular").is_none() {
        accepted["singular"] = json!(kind.to_lowercase());
    }
    if accepted.get("listKind").is_none() {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    let since = |type_: &str| {
        previous
            .and_then(|p| p.pointer("/status/conditions"))
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now))
    };
    let mut stored: Vec<Value> = previous
        .and_then(|p| p.pointer("/status/storedVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        })
        .and_then(|v| v.get("name").cloned());
    if let Some(storage) = storage
        && !stored.contains(&storage)
    {
        stored.push(storage);
    }
    json!({
        "conditions": [
            { "type": "NamesAccepted", "status": "True", "lastTransitionTime": since("NamesAccepted"),
              "reason": "NoConflicts", "message": "no conflicts found" },
            { "type": "Established", "status": "True", "lastTransitionTime": since("Established"),
              "reason": "InitialNamesAccepted", "message": "the initial names have been accepted" },
        ],
        "acceptedNames": accepted,
        "storedVersions": stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": { "name": "widgets.example.com" },
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": { "kind": "Widget", "plural": "widgets", "shortNames": ["wg"], "categories": ["all"] },
                "versions": [
                    { "name": "v1", "served": true, "storage": true,
                      "schema": { "openAPIV3Schema": { "type": "object" } },
                      "subresources": { "status": {} },
                      "additionalPrinterColumns": [{ "name": "Size", "type": "integer", "jsonPath": ".spec.size" }] },
                    { "name": "v0", "served": false, "storage": false }
                ]
            }
        })
    }

    #[test]
    fn serves_only_served_versions_with_names_and_columns() {
        let served = served_versions(&crd()).unwrap();
        assert_eq!(served.len(), 1);
        let info = &served[0].info;
        assert_eq!(
            (
                info.group.as_str(),
                info.version.as_str(),
                info.plural.as_str()
            ),
            ("example.com", "v1", "widgets")
        );
        assert_eq!(info.list_kind, "WidgetList");
        assert_eq!(info.singular, "widget");
        assert!(info.namespaced && info.status_subresource && info.custom);
        assert_eq!(info.short_names, vec!["wg"]);
        assert_eq!(info.printer_columns[0].json_path, ".spec.size");
    }

    #[test]
    fn name_must_be_plural_dot_group() {
        assert!(validate(&crd()).is_empty());
        let mut bad = crd();
        bad["metadata"]["name"] = json!("widget.example.com");
        assert_eq!(validate(&bad)[0].field, "metadata.name");
    }

    #[test]
    fn established_status_keeps_transition_times_and_stored_versions() {
        let first = established_status(&crd(), None, "t1");
        assert_eq!(first["conditions"][1]["type"], "Established");
        assert_eq!(first["storedVersions"], json!(["v1"]));
        assert_eq!(first["acceptedNames"]["listKind"], "WidgetList");
        let previous = json!({ "status": first });
        let again = established_status(&crd(), Some(&previous), "t2");
        assert_eq!(again["conditions"][0]["lastTransitionTime"], "t1");
    }
}

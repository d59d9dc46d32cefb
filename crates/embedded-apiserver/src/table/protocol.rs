//! Columns of the protocol kinds (`crate::protocol_kinds`), after upstream's
//! printers (pkg/printers/internalversion/printers.go).

use super::NAME_COLUMN;
use super::builtin::{Printer, Row};
use super::{CREATION_TIMESTAMP_DESCRIPTION, Column, age};
use serde_json::Value;

pub(super) fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    match (group, kind) {
        ("", "ComponentStatus") => Some(&COMPONENT_STATUS),
        ("certificates.k8s.io", "CertificateSigningRequest") => Some(&CSR),
        ("apiregistration.k8s.io", "APIService") => Some(&API_SERVICE),
        _ => None,
    }
}

fn text(object: &Value, pointer: &str) -> Value {
    object.pointer(pointer).cloned().unwrap_or(Value::Null)
}

/// printComponentStatus: Healthy when the Healthy condition is True.
static COMPONENT_STATUS: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Status", "string", "Status of the component conditions"),
        Column::new("Message", "string", "Message of the component conditions"),
        Column::new("Error", "string", "Error of the component conditions"),
    ],
    row: |object, _| {
        let conditions = object.get("conditions")?.as_array()?;
        let healthy = conditions.iter().find(|c| c["type"] == "Healthy");
        let status = match healthy {
            Some(c) if c["status"] == "True" => "Healthy",
            _ => "Unhealthy",
        };
        let field = |key: &str| {
            healthy.map_or(Value::from(""), |c| {
                c.get(key).cloned().unwrap_or(Value::from(""))
            })
        };
        Some(Row {
            cells: vec![
                text(object, "/metadata/name"),
                status.into(),
                field("message"),
                field("error"),
            ],
            conditions: Vec::new(),
        })
    },
};

/// printCertificateSigningRequest: the condition column joins the
/// condition types, `Pending` without any.
static CSR: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new("Age", "string", CREATION_TIMESTAMP_DESCRIPTION),
        Column::new("SignerName", "string", "Signer name of the request"),
        Column::new("Requestor", "string", "Name of the requestor"),
        Column::new(
            "RequestedDuration",
            "string",
            "Requested duration of the certificate",
        ),
        Column::new("Condition", "string", "Condition of the request"),
    ],
    row: |object, now| {
        let created = object
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok());
        let types: Vec<&str> = object
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c["type"].as_str())
            .collect();
        let condition = if types.is_empty() {
            "Pending".to_owned()
        } else {
            types.join(",")
        };
        let requestor = object
            .pointer("/spec/username")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Some(Row {
            cells: vec![
                text(object, "/metadata/name"),
                age::since(created, now).into(),
                text(object, "/spec/signerName"),
                requestor.into(),
                "<none>".into(),
                condition.into(),
            ],
            conditions: Vec::new(),
        })
    },
};

/// printAPIService (kube-aggregator): `Local` without a service; the
/// Available condition's status, with its reason when not True.
static API_SERVICE: Printer = Printer {
    columns: &[
        NAME_COLUMN,
        Column::new(
            "Service",
            "string",
            "The reference to the service that hosts this API endpoint.",
        ),
        Column::new("Available", "string", "Whether this service is available."),
        Column::new("Age", "string", CREATION_TIMESTAMP_DESCRIPTION),
    ],
    row: |object, now| {
        let service = match object.pointer("/spec/service") {
            Some(Value::Object(s)) => format!(
                "{}/{}",
                s.get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                s.get("name").and_then(Value::as_str).unwrap_or_default()
            ),
            _ => "Local".to_owned(),
        };
        let available = object
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "Available"))
            .map_or("Unknown".to_owned(), |c| {
                match (c["status"].as_str(), c["reason"].as_str()) {
                    (Some("True"), _) => "True".to_owned(),
                    (Some(status), Some(reason)) => format!("{status} ({reason})"),
                    (status, _) => status.unwrap_or("Unknown").to_owned(),
                }
            });
        let created = object
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok());
        Some(Row {
            cells: vec![
                text(object, "/metadata/name"),
                service.into(),
                available.into(),
                age::since(created, now).into(),
            ],
            conditions: Vec::new(),
        })
    },
};

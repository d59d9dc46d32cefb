//! `meta.k8s.io/v1` Table rendering for `kubectl get` (`Accept: ...;as=Table`).
//!
//! Custom resources get the Name column and their CRD version's
//! `additionalPrinterColumns` (an `Age` column when there are none, as
//! kube-apiserver defaults it), evaluated like kube-apiserver's CRD table
//! convertor. Built-in kinds get the columns kube-apiserver's printers show
//! for the kinds this project uses ([`builtin`]); others get Name and Age.

mod age;
mod builtin;
mod jsonpath;
mod protocol;

pub use jsonpath::{JsonPathError, KubeJsonPath};

use crate::resource::{PrinterColumn, ResourceInfo};
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// Whether each row carries the object, its metadata only, or nothing
/// (the `includeObject` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter; `None` for an unknown value.
    pub fn from_query(value: &str) -> Option<Self> {
        match value {
            "None" => Some(IncludeObject::None),
            "Metadata" => Some(IncludeObject::Metadata),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// One entry of `columnDefinitions`.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: Cow<'static, str>,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: Cow<'static, str>,
    pub format: Cow<'static, str>,
    pub description: Cow<'static, str>,
    /// 0 for the default view, higher for `-o wide`.
    pub priority: i32,
}

impl Column {
    const fn new(name: &'static str, type_: &'static str, description: &'static str) -> Self {
        Column {
            name: Cow::Borrowed(name),
            type_: Cow::Borrowed(type_),
            format: Cow::Borrowed(""),
            description: Cow::Borrowed(description),
            priority: 0,
        }
    }

    const fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }

    fn to_json(&self) -> Value {
        json!({ "name": self.name, "type": self.type_, "format": self.format, "description": self.description, "priority": self.priority })
    }
}

const NAME_COLUMN: Column = Column {
    name: Cow::Borrowed("Name"),
    type_: Cow::Borrowed("string"),
    format: Cow::Borrowed("name"),
    description: Cow::Borrowed(
        "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    ),
    priority: 0,
};

const CREATION_TIMESTAMP_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.";

/// Renders `objects` (full objects) as a Table with the resource's columns.
pub fn render(
    resource: &ResourceInfo,
    objects: &[Value],
    list_metadata: Value,
    include: IncludeObject,
) -> Value {
    render_at(resource, objects, list_metadata, include, Timestamp::now())
}

/// [`render`] with ages computed at `now`.
pub fn render_at(
    resource: &ResourceInfo,
    objects: &[Value],
    list_metadata: Value,
    include: IncludeObject,
    now: Timestamp,
) -> Value {
    let printer = (!resource.custom).then(|| builtin::printer(&resource.group, &resource.kind));
    let (columns, rows): (Vec<Column>, Vec<Value>) = match printer {
        Some(printer) => {
            let rows = objects
                .iter()
                .map(|object| {
                    let row = (printer.row)(object, now)
                        .unwrap_or_else(|| fallback_row(object, printer.columns, now));
                    row_json(object, row.cells, row.conditions, include)
                })
                .collect();
            (printer.columns.to_vec(), rows)
        }
        None => {
            let columns = CustomColumns::new(&resource.printer_columns);
            let rows = objects
                .iter()
                .map(|object| row_json(object, columns.cells(object, now), Vec::new(), include))
                .collect();
            (columns.definitions(), rows)
        }
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": columns.iter().map(Column::to_json).collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// Cells of a built-in object that does not decode into its k8s-openapi
/// type: its name and age, nothing else.
fn fallback_row(object: &Value, columns: &[Column], now: Timestamp) -> builtin::Row {
    let cells = columns
        .iter()
        .map(|column| match column.name.as_ref() {
            "Name" => object
                .pointer("/metadata/name")
                .cloned()
                .unwrap_or(Value::Null),
            "Age" => {
                let created = object
                    .pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str);
                age::since(age::parse(created), now).into()
            }
            _ => Value::Null,
        })
        .collect();
    builtin::Row {
        cells,
        conditions: Vec::new(),
    }
}

fn row_json(
    object: &Value,
    cells: Vec<Value>,
    conditions: Vec<Value>,
    include: IncludeObject,
) -> Value {
    let mut row = Map::new();
    row.insert("cells".into(), cells.into());
    if !conditions.is_empty() {
        row.insert("conditions".into(), conditions.into());
    }
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            let metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
            row.insert("object".into(), json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata }));
        }
        IncludeObject::Object => {
            row.insert("object".into(), object.clone());
        }
    }
    Value::Object(row)
}

/// The Name column plus a CRD's printer columns with their parsed paths.
struct CustomColumns {
    columns: Vec<(Column, Option<KubeJsonPath>)>,
}

impl CustomColumns {
    fn new(printer_columns: &[PrinterColumn]) -> Self {
        let default_age = [PrinterColumn {
            name: "Age".into(),
            type_: "date".into(),
            format: None,
            description: Some(CREATION_TIMESTAMP_DESCRIPTION.into()),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }];
        let printer_columns = if printer_columns.is_empty() {
            &default_age[..]
        } else {
            printer_columns
        };
        let columns = printer_columns
            .iter()
            .map(|column| {
                let path = KubeJsonPath::parse(&column.json_path)
                    .inspect_err(|error| tracing::debug!(column = %column.name, %error, "printer column left empty"))
                    .ok();
                let definition = Column {
                    name: column.name.clone().into(),
                    type_: column.type_.clone().into(),
                    format: column.format.clone().unwrap_or_default().into(),
                    description: column
                        .description
                        .clone()
                        .unwrap_or_else(|| format!("Custom resource definition column (in JSONPath format): {}", column.json_path))
                        .into(),
                    priority: column.priority,
                };
                (definition, path)
            })
            .collect();
        CustomColumns { columns }
    }

    fn definitions(&self) -> Vec<Column> {
        std::iter::once(NAME_COLUMN)
            .chain(self.columns.iter().map(|(column, _)| column.clone()))
            .collect()
    }

    fn cells(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let name = object
            .pointer("/metadata/name")
            .cloned()
            .unwrap_or(Value::Null);
        std::iter::once(name)
            .chain(self.columns.iter().map(|(column, path)| {
                let value = path.as_ref().and_then(|path| path.first(object));
                value.map_or(Value::Null, |value| cell(&column.type_, value, now))
            }))
            .collect()
    }
}

/// A cell of a CRD column: the value converted to the column's type, or
/// null when it does not convert (kube-apiserver's `cellForJSONValue`).
fn cell(type_: &str, value: &Value, now: Timestamp) -> Value {
    match (type_, value) {
        (_, Value::Null) => Value::Null,
        ("string", Value::String(_)) => value.clone(),
        // A string column prints any value, as `kubectl -o jsonpath` would.
        ("string", other) => Value::String(other.to_string()),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, Value::from),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, Value::from),
        ("boolean", Value::Bool(_)) => value.clone(),
        ("date", Value::String(timestamp)) => match age::parse(Some(timestamp)) {
            Some(timestamp) => Value::String(age::since(Some(timestamp), now)),
            None => Value::String("<invalid>".into()),
        },
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests;

//! The model of one served resource: what discovery, OpenAPI, tables, quota and
//! storage all agree on. Built-in kinds come from a static table; custom kinds
//! from CustomResourceDefinitions.

use serde_json::Value;

/// One `group/version/resource` the server serves.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceInfo {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    /// Plural resource name as it appears in URLs, e.g. `deployments`.
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Verbs advertised in discovery.
    pub verbs: Vec<String>,
    /// Whether `/status` is a subresource with status semantics.
    pub status_subresource: bool,
    /// `additionalPrinterColumns` for custom resources; empty means the
    /// default `Name`/`Age` columns.
    pub printer_columns: Vec<PrinterColumn>,
    /// The `openAPIV3Schema` of a custom resource; `None` for built-ins,
    /// whose schemas come from k8s-openapi.
    pub schema: Option<Value>,
    /// True for kinds defined by a CustomResourceDefinition.
    pub custom: bool,
}

/// One `additionalPrinterColumns` entry of a CRD version.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: String,
    pub format: Option<String>,
    pub description: Option<String>,
    pub priority: i32,
    /// Kubernetes JSONPath relative to the object, e.g. `.status.phase`.
    pub json_path: String,
}

impl ResourceInfo {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

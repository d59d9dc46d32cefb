//! Objects written in kube-apiserver's key order: Go encodes struct fields
//! in declaration order, so a response starts `{"kind":..,"apiVersion":..,
//! "metadata":{"name":..,"namespace":..,"uid":..` and ends with spec and
//! status. The store keeps sorted maps; this orders the top level and
//! `metadata` while serializing, without copying the object.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// TypeMeta, then ObjectMeta (apimachinery's types.go order).
const TOP: [&str; 3] = ["kind", "apiVersion", "metadata"];
const METADATA: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// An object serialized with `first` keys leading, in that order.
struct Led<'a> {
    value: &'a Value,
    first: &'static [&'static str],
    nested_metadata: bool,
}

impl Serialize for Led<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(map) = self.value else {
            return self.value.serialize(serializer);
        };
        let mut out = serializer.serialize_map(Some(map.len()))?;
        for key in self.first {
            if let Some(value) = map.get(*key) {
                if self.nested_metadata && *key == "metadata" {
                    out.serialize_entry(
                        key,
                        &Led {
                            value,
                            first: &METADATA,
                            nested_metadata: false,
                        },
                    )?;
                } else {
                    out.serialize_entry(key, value)?;
                }
            }
        }
        for (key, value) in map {
            if !self.first.contains(&key.as_str()) {
                out.serialize_entry(key, value)?;
            }
        }
        out.end()
    }
}

/// A Kubernetes object (or list, or Status) in upstream's key order.
pub struct Ordered<'a>(pub &'a Value);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Led {
            value: self.0,
            first: &TOP,
            nested_metadata: true,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_meta_and_metadata_lead() {
        let object = json!({
            "status": {}, "spec": { "b": 1, "a": 2 }, "metadata": { "uid": "u", "name": "n", "annotations": {} },
            "kind": "Pod", "apiVersion": "v1"
        });
        let text = serde_json::to_string(&Ordered(&object)).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"n","uid":"u","annotations":{}},"spec":{"a":2,"b":1},"status":{}}"#
        );
    }
}

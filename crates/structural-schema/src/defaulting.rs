//! Applying `default`s (apiextensions-apiserver `defaulting/algorithm.go`).

use serde_json::Value;

use crate::model::Node;

fn is_non_nullable_null(x: &Value, schema: &Node) -> bool {
    x.is_null() && !schema.nullable
}

/// Fills in missing (or non-nullable `null`) fields that have a default,
/// then descends — so defaults nested inside a default value, and inside
/// objects the client sent, are applied too.
pub(crate) fn apply(x: &mut Value, schema: &Node) {
    match x {
        Value::Object(map) => {
            for (k, prop) in &schema.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                let missing = map.get(k).is_none_or(|v| is_non_nullable_null(v, prop));
                if missing {
                    map.insert(k.clone(), default.clone());
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = schema.properties.get(k) {
                    apply(v, prop);
                } else if let Some(additional) = schema.additional_schema() {
                    if is_non_nullable_null(v, additional)
                        && let Some(default) = &additional.default
                    {
                        *v = default.clone();
                    }
                    apply(v, additional);
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = schema.items.as_deref() else {
                return;
            };
            for item in items {
                if is_non_nullable_null(item, item_schema)
                    && let Some(default) = &item_schema.default
                {
                    *item = default.clone();
                }
                apply(item, item_schema);
            }
        }
        _ => {}
    }
}

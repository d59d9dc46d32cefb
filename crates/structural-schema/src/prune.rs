//! Dropping unknown fields (apiextensions-apiserver `schema/pruning` and
//! `defaulting/prunenulls.go`).

use serde_json::Value;

use crate::model::Node;

/// `apiVersion`, `kind` and `metadata` survive at the root of a resource and
/// of every `x-kubernetes-embedded-resource`.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Removes fields the schema does not specify and returns their paths
/// (`spec.foo`, `spec.list[0].bar`), sorted, for "unknown field" warnings.
pub(crate) fn prune(obj: &mut Value, schema: &Node) -> Vec<String> {
    let mut pruner = Pruner {
        path: String::new(),
        unknown: Vec::new(),
    };
    pruner.prune(obj, Some(schema), true);
    pruner.unknown.sort();
    pruner.unknown
}

struct Pruner {
    path: String,
    unknown: Vec<String>,
}

impl Pruner {
    /// `treat_as_embedded` is true for the resource root, which keeps its
    /// meta fields like an embedded resource does.
    fn prune(&mut self, x: &mut Value, schema: Option<&Node>, treat_as_embedded: bool) {
        if let Some(s) = schema
            && s.preserve_unknown_fields
        {
            self.skip_prune(x, s, treat_as_embedded);
            return;
        }
        match x {
            Value::Object(map) => {
                let Some(s) = schema else {
                    for k in std::mem::take(map).keys() {
                        self.record_unknown(k);
                    }
                    return;
                };
                let embedded = treat_as_embedded || s.embedded_resource;
                let keys: Vec<String> = map.keys().cloned().collect();
                for k in keys {
                    if embedded && META_FIELDS.contains(&k.as_str()) {
                        continue;
                    }
                    let field_schema = if let Some(prop) = s.properties.get(&k) {
                        Some(Some(prop))
                    } else if s.has_additional() {
                        Some(s.additional_schema())
                    } else {
                        None
                    };
                    match field_schema {
                        Some(sub) => self.descend_key(&k, |p| {
                            p.prune(map.get_mut(&k).expect("key exists"), sub, false)
                        }),
                        None => {
                            if !META_FIELDS.contains(&k.as_str()) || !self.path.is_empty() {
                                self.record_unknown(&k);
                            }
                            map.remove(&k);
                        }
                    }
                }
            }
            Value::Array(items) => {
                let item_schema = schema.and_then(|s| s.items.as_deref());
                for (i, item) in items.iter_mut().enumerate() {
                    self.descend_index(i, |p| p.prune(item, item_schema, false));
                }
            }
            _ => {}
        }
    }

    /// Inside `x-kubernetes-preserve-unknown-fields`: unknown fields stay, but
    /// specified ones are still pruned below.
    fn skip_prune(&mut self, x: &mut Value, s: &Node, treat_as_embedded: bool) {
        match x {
            Value::Object(map) => {
                let embedded = treat_as_embedded || s.embedded_resource;
                for (k, v) in map.iter_mut() {
                    if embedded && META_FIELDS.contains(&k.as_str()) {
                        continue;
                    }
                    if let Some(prop) = s.properties.get(k) {
                        self.descend_key(k, |p| p.prune(v, Some(prop), false));
                    } else if s.has_additional() {
                        let sub = s.additional_schema();
                        self.descend_key(k, |p| p.prune(v, sub, false));
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = s.items.as_deref() {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.descend_index(i, |p| p.skip_prune(item, item_schema, false));
                    }
                }
            }
            _ => {}
        }
    }

    fn descend_key(&mut self, key: &str, f: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(key);
        f(self);
        self.path.truncate(len);
    }

    fn descend_index(&mut self, i: usize, f: impl FnOnce(&mut Self)) {
        let len = self.path.len();
        self.path.push_str(&format!("[{i}]"));
        f(self);
        self.path.truncate(len);
    }

    fn record_unknown(&mut self, key: &str) {
        let full = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        self.unknown.push(full);
    }
}

/// Drops `null`s of non-nullable fields that have no default (they would
/// otherwise fail type validation); nulls with a default are replaced by
/// defaulting instead.
pub(crate) fn prune_non_nullable_nulls(x: &mut Value, schema: Option<&Node>) {
    match x {
        Value::Object(map) => {
            map.retain(|k, v| {
                let field_schema = schema.and_then(|s| s.field_schema(k));
                let drop = v.is_null()
                    && field_schema.is_some_and(|fs| !fs.nullable && fs.default.is_none());
                if !drop {
                    prune_non_nullable_nulls(v, field_schema);
                }
                !drop
            });
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.items.as_deref());
            for item in items {
                prune_non_nullable_nulls(item, item_schema);
            }
        }
        _ => {}
    }
}

//! Schema-aware walks over JSON objects: the field set an object sets, the difference between
//! two objects, merging an applied configuration into a live object, and removing fields.
//!
//! These follow the semantics of structured-merge-diff's `typed` package: scalars, atomic
//! lists and atomic maps are leaves; granular maps descend by field name; set lists by element
//! value; map lists by their key fields.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::fieldpath::{FieldSet, Path, PathElement};
use crate::types::{ListType, TypeInfo, ZeroValue};

static EMPTY_MAP: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);
static EMPTY_OBJECT: LazyLock<Value> = LazyLock::new(|| Value::Object(Map::new()));
static EMPTY_ARRAY: Value = Value::Array(Vec::new());
static NULL: Value = Value::Null;

/// How a value at some path is walked.
enum Shape<'v> {
    Leaf,
    Object(&'v Map<String, Value>),
    /// A set or map list; atomic lists are leaves.
    List(&'v [Value], ListType),
}

/// Whether a value is an empty container or null: two such values compare and merge as
/// leaves, which keeps `{}` distinct from `[]` and from an absent field.
fn is_empty_or_null(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Object(map)) => map.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    }
}

/// The walks, bound to the types of one kind.
pub(crate) struct Walker<'t> {
    types: &'t dyn TypeInfo,
}

/// What changed between two objects, as sets of paths.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl<'t> Walker<'t> {
    pub fn new(types: &'t dyn TypeInfo) -> Self {
        Self { types }
    }

    fn shape<'v>(&self, value: &'v Value, names: &[&str]) -> Shape<'v> {
        match value {
            Value::Object(map) if !self.types.is_atomic_map(names) => Shape::Object(map),
            Value::Array(items) => match self.types.list_type(names) {
                ListType::Atomic => Shape::Leaf,
                ListType::Map(keys) if keys.is_empty() => Shape::Leaf,
                list_type => Shape::List(items, list_type),
            },
            _ => Shape::Leaf,
        }
    }

    /// The path element that identifies `item` in a granular list.
    fn item_element(
        &self,
        item: &Value,
        list_type: &ListType,
        names: &[&str],
    ) -> Result<PathElement, String> {
        match list_type {
            ListType::Set => match item {
                Value::Object(_) => {
                    Err("associative list without keys has an element that's a map type".into())
                }
                Value::Array(_) => {
                    Err("not supported: associative list with lists as elements".into())
                }
                Value::Null => Err(
                    "associative list without keys has an element that's an explicit null".into(),
                ),
                scalar => Ok(PathElement::Value(scalar.clone())),
            },
            ListType::Map(keys) => {
                let object = match item {
                    Value::Object(object) => object,
                    Value::Null => {
                        return Err("associative list with keys may not have a null element".into());
                    }
                    _ => {
                        return Err(
                            "associative list with keys may not have non-map elements".into()
                        );
                    }
                };
                let mut fields: Vec<(String, Value)> = keys
                    .iter()
                    .filter_map(|key| {
                        object
                            .get(key)
                            .cloned()
                            .or_else(|| self.types.list_key_default(names, key))
                            .map(|value| (key.clone(), value))
                    })
                    .collect();
                if fields.is_empty() {
                    return Err(format!(
                        "associative list with keys has an element that omits all key fields {} \
                         (and doesn't have default values for any key fields)",
                        go_string_list(keys)
                    ));
                }
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(PathElement::Key(fields))
            }
            ListType::Atomic => Err("invalid indexing of non-associative list".into()),
        }
    }

    /// Identifies every element of a granular list; `Err` names the first bad element.
    fn item_elements(
        &self,
        items: &[Value],
        list_type: &ListType,
        names: &[&str],
    ) -> Result<Vec<PathElement>, String> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                self.item_element(item, list_type, names)
                    .map_err(|e| format!("element {i}: {e}"))
            })
            .collect()
    }

    /// The paths `value` sets: what an applier of `value` owns.
    /// Fails where the object breaks its list semantics (missing keys, duplicates).
    pub fn field_set(&self, value: &Value) -> Result<FieldSet, String> {
        let mut set = FieldSet::new();
        self.field_set_walk(value, &mut Vec::new(), &mut Vec::new(), &mut set)?;
        Ok(set)
    }

    fn field_set_walk<'v>(
        &self,
        value: &'v Value,
        names: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
        set: &mut FieldSet,
    ) -> Result<(), String> {
        match self.shape(value, names) {
            Shape::Leaf => set.insert(path),
            Shape::Object(map) => {
                for (key, child) in map {
                    names.push(key);
                    path.push(PathElement::Field(key.clone()));
                    self.field_set_walk(child, names, path, set)?;
                    let empty_object = matches!(child, Value::Object(m) if m.is_empty());
                    if child.is_null() || empty_object || !self.types.is_declared_field(names) {
                        set.insert(path);
                    }
                    path.pop();
                    names.pop();
                }
            }
            Shape::List(items, list_type) => {
                let elements = self
                    .item_elements(items, &list_type, names)
                    .map_err(|e| format!("{}: {e}", Path(path.clone())))?;
                let mut seen = BTreeSet::new();
                for element in &elements {
                    if !seen.insert(element) {
                        return Err(format!(
                            "{}: duplicate entries for key {element}",
                            Path(path.clone())
                        ));
                    }
                }
                for (item, element) in items.iter().zip(elements) {
                    path.push(element);
                    self.field_set_walk(item, names, path, set)?;
                    set.insert(path);
                    path.pop();
                }
            }
        }
        Ok(())
    }

    /// The paths added, modified and removed going from `old` to `new`. Lists whose elements
    /// cannot be identified are compared as wholes.
    pub fn compare(&self, old: &Value, new: &Value) -> Comparison {
        let mut comparison = Comparison::default();
        self.compare_walk(
            Some(old),
            Some(new),
            &mut Vec::new(),
            &mut Vec::new(),
            &mut comparison,
        );
        comparison
    }

    fn compare_walk<'v>(
        &self,
        old: Option<&'v Value>,
        new: Option<&'v Value>,
        names: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
        out: &mut Comparison,
    ) {
        if let (Some(a), Some(b)) = (old, new)
            && a == b
        {
            return;
        }
        // null stands for an empty container of the other side's kind, as in typed objects.
        let as_empty_like =
            |value: Option<&'v Value>, other: Option<&'v Value>| match (value, other) {
                (Some(Value::Null), Some(Value::Object(_))) => Some(&*EMPTY_OBJECT),
                (Some(Value::Null), Some(Value::Array(_))) => Some(&EMPTY_ARRAY),
                _ => value,
            };
        let (old, new) = (as_empty_like(old, new), as_empty_like(new, old));
        let old_shape = old.map(|v| self.shape(v, names));
        let new_shape = new.map(|v| self.shape(v, names));
        if is_empty_or_null(old) && is_empty_or_null(new) {
            return self.compare_leaf(old, new, path, out);
        }
        let list_type = match (&old_shape, &new_shape) {
            (Some(Shape::Object(_)) | None, Some(Shape::Object(_)) | None) => None,
            (Some(Shape::List(_, list_type)), Some(Shape::List(..)) | None)
            | (None, Some(Shape::List(_, list_type))) => Some(list_type.clone()),
            _ => return self.compare_leaf(old, new, path, out),
        };
        match list_type {
            None => {
                let old_map = old.and_then(Value::as_object).unwrap_or(&EMPTY_MAP);
                let new_map = new.and_then(Value::as_object).unwrap_or(&EMPTY_MAP);
                let keys: BTreeSet<&'v String> = old_map.keys().chain(new_map.keys()).collect();
                for key in keys {
                    if names.as_slice() == ["metadata"] && key == "managedFields" {
                        // Bookkeeping, never part of a diff.
                        continue;
                    }
                    names.push(key);
                    path.push(PathElement::Field(key.clone()));
                    let old_child = old_map.get(key).or_else(|| self.zero_value(old, names));
                    let new_child = new_map.get(key).or_else(|| self.zero_value(new, names));
                    self.compare_walk(old_child, new_child, names, path, out);
                    path.pop();
                    names.pop();
                }
                self.mark_container(old, new, path, out);
            }
            Some(list_type) => {
                let old_items: &[Value] = old.and_then(Value::as_array).map_or(&[], Vec::as_slice);
                let new_items: &[Value] = new.and_then(Value::as_array).map_or(&[], Vec::as_slice);
                let (Ok(old_elements), Ok(new_elements)) = (
                    self.item_elements(old_items, &list_type, names),
                    self.item_elements(new_items, &list_type, names),
                ) else {
                    return self.compare_leaf(old, new, path, out);
                };
                let old_groups = group(old_items, old_elements);
                let new_groups = group(new_items, new_elements);
                let mut elements: Vec<&PathElement> = old_groups.keys().collect();
                elements.extend(new_groups.keys().filter(|e| !old_groups.contains_key(e)));
                for element in elements {
                    let old_group = old_groups.get(element).map(Vec::as_slice).unwrap_or(&[]);
                    let new_group = new_groups.get(element).map(Vec::as_slice).unwrap_or(&[]);
                    path.push(element.clone());
                    match (old_group, new_group) {
                        ([..], [..]) if old_group.len() <= 1 && new_group.len() <= 1 => self
                            .compare_walk(
                                old_group.first().copied(),
                                new_group.first().copied(),
                                names,
                                path,
                                out,
                            ),
                        _ if old_group.len() >= 2 && new_group.len() >= 2 => {
                            if old_group != new_group {
                                out.modified.insert(path);
                            }
                        }
                        _ if old_group.len() >= 2 => {
                            if let Some(first) = new_group.first() {
                                self.compare_walk(None, Some(first), names, path, out);
                            }
                            out.removed.insert(path);
                        }
                        _ => {
                            if let Some(first) = old_group.first() {
                                self.compare_walk(Some(first), None, names, path, out);
                            }
                            out.added.insert(path);
                        }
                    }
                    path.pop();
                }
                self.mark_container(old, new, path, out);
            }
        }
    }

    /// What a typed object would hold for an absent field of an existing `parent`.
    fn zero_value(&self, parent: Option<&Value>, names: &[&str]) -> Option<&'static Value> {
        parent?;
        match self.types.zero_value(names)? {
            ZeroValue::EmptyObject => Some(&EMPTY_OBJECT),
            ZeroValue::Null => Some(&NULL),
        }
    }

    fn compare_leaf(
        &self,
        old: Option<&Value>,
        new: Option<&Value>,
        path: &[PathElement],
        out: &mut Comparison,
    ) {
        match (old, new) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            (Some(a), Some(b)) if a != b => out.modified.insert(path),
            _ => {}
        }
    }

    /// A granular container that appears or disappears is itself added or removed.
    fn mark_container(
        &self,
        old: Option<&Value>,
        new: Option<&Value>,
        path: &[PathElement],
        out: &mut Comparison,
    ) {
        match (old, new) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            _ => {}
        }
    }

    /// Merges an applied configuration into a live object: the configuration's values win,
    /// fields and list elements it does not mention are kept. In lists, the configuration's
    /// order is kept for its elements and live-only elements stay where they were.
    pub fn merge(&self, live: &Value, config: &Value) -> Result<Value, String> {
        Ok(self
            .merge_walk(Some(live), Some(config), &mut Vec::new(), &mut Vec::new())?
            .unwrap_or(Value::Null))
    }

    fn merge_walk<'v>(
        &self,
        live: Option<&'v Value>,
        config: Option<&'v Value>,
        names: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
    ) -> Result<Option<Value>, String> {
        let (Some(live_value), Some(config_value)) = (live, config) else {
            return Ok(config.or(live).cloned());
        };
        if is_empty_or_null(live) && is_empty_or_null(config) {
            return Ok(Some(config_value.clone()));
        }
        match (
            self.shape(live_value, names),
            self.shape(config_value, names),
        ) {
            (Shape::Object(live_map), Shape::Object(config_map)) => {
                let mut out = Map::new();
                let keys = live_map
                    .keys()
                    .chain(config_map.keys().filter(|k| !live_map.contains_key(*k)));
                for key in keys {
                    names.push(key);
                    path.push(PathElement::Field(key.clone()));
                    let merged =
                        self.merge_walk(live_map.get(key), config_map.get(key), names, path)?;
                    path.pop();
                    names.pop();
                    if let Some(merged) = merged {
                        out.insert(key.clone(), merged);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            (Shape::List(live_items, list_type), Shape::List(config_items, _)) => {
                let merged = self.merge_lists(live_items, config_items, &list_type, names, path)?;
                Ok(Some(Value::Array(merged)))
            }
            _ => Ok(Some(config_value.clone())),
        }
    }

    fn merge_lists<'v>(
        &self,
        live: &'v [Value],
        config: &'v [Value],
        list_type: &ListType,
        names: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
    ) -> Result<Vec<Value>, String> {
        let config_elements = self
            .item_elements(config, list_type, names)
            .map_err(|e| format!("{}: {e}", Path(path.clone())))?;
        let mut config_by_element: BTreeMap<&PathElement, &Value> = BTreeMap::new();
        for (element, item) in config_elements.iter().zip(config) {
            if config_by_element.insert(element, item).is_some() {
                return Err(format!(
                    "{}: duplicate entries for key {element}",
                    Path(path.clone())
                ));
            }
        }
        let Ok(live_elements) = self.item_elements(live, list_type, names) else {
            // A live list that breaks its own semantics is replaced, not merged.
            return Ok(config.to_vec());
        };
        let mut live_by_element: BTreeMap<&PathElement, Option<&Value>> = BTreeMap::new();
        for (element, item) in live_elements.iter().zip(live) {
            // Duplicated live elements are not merged with the configuration.
            live_by_element
                .entry(element)
                .and_modify(|v| *v = None)
                .or_insert(Some(item));
        }

        // Walk both lists: shared elements come in the configuration's order; live-only
        // elements keep their place relative to the shared ones.
        let mut shared = config_elements
            .iter()
            .filter(|e| live_by_element.contains_key(e));
        let mut next_shared = shared.next();
        let mut merged_from_config: BTreeSet<&PathElement> = BTreeSet::new();
        let mut out = Vec::with_capacity(live.len().max(config.len()));
        let (mut li, mut ci) = (0, 0);
        while li < live.len() || ci < config.len() {
            if li < live.len() && ci < config.len() {
                let element = &live_elements[li];
                if *element == config_elements[ci] {
                    merged_from_config.insert(element);
                    let live_item = live_by_element[element];
                    self.push_merged_item(
                        &mut out,
                        live_item,
                        config.get(ci),
                        element,
                        names,
                        path,
                    )?;
                    li += 1;
                    ci += 1;
                    next_shared = shared.next();
                    continue;
                }
                if config_by_element.contains_key(element)
                    && next_shared.is_some_and(|next| next != element)
                {
                    li += 1;
                    continue;
                }
            }
            if li < live.len() {
                let element = &live_elements[li];
                if !config_by_element.contains_key(element) {
                    self.push_merged_item(&mut out, live.get(li), None, element, names, path)?;
                    li += 1;
                    continue;
                } else if merged_from_config.contains(element) {
                    li += 1;
                }
            }
            if ci < config.len() {
                let element = &config_elements[ci];
                merged_from_config.insert(element);
                let live_item = live_by_element.get(element).copied().flatten();
                self.push_merged_item(&mut out, live_item, config.get(ci), element, names, path)?;
                ci += 1;
                if next_shared == Some(element) {
                    next_shared = shared.next();
                }
            }
        }
        Ok(out)
    }

    fn push_merged_item<'v>(
        &self,
        out: &mut Vec<Value>,
        live: Option<&'v Value>,
        config: Option<&'v Value>,
        element: &PathElement,
        names: &mut Vec<&'v str>,
        path: &mut Vec<PathElement>,
    ) -> Result<(), String> {
        path.push(element.clone());
        let merged = self.merge_walk(live, config, names, path);
        path.pop();
        if let Some(item) = merged? {
            out.push(item);
        }
        Ok(())
    }

    /// `value` without the paths in `set` (each with everything below it). A container left
    /// empty by the removal disappears with it, as the real server's pruning of nulls does.
    pub fn remove(&self, value: &Value, set: &FieldSet) -> Value {
        self.remove_walk(value, set, &mut Vec::new())
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    fn remove_walk<'v>(
        &self,
        value: &'v Value,
        set: &FieldSet,
        names: &mut Vec<&'v str>,
    ) -> Option<Value> {
        match self.shape(value, names) {
            Shape::Leaf => Some(value.clone()),
            Shape::Object(map) => {
                if map.is_empty() {
                    return Some(value.clone());
                }
                let mut out = Map::new();
                for (key, child) in map {
                    let element = PathElement::Field(key.clone());
                    if set.contains(std::slice::from_ref(&element)) {
                        continue;
                    }
                    let kept = match set.child(&element) {
                        Some(below) => {
                            names.push(key);
                            let kept = self.remove_walk(child, below, names);
                            names.pop();
                            kept
                        }
                        None => Some(child.clone()),
                    };
                    if let Some(kept) = kept {
                        out.insert(key.clone(), kept);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Shape::List(items, list_type) => {
                if items.is_empty() {
                    return Some(value.clone());
                }
                let Ok(elements) = self.item_elements(items, &list_type, names) else {
                    return Some(value.clone());
                };
                let mut out = Vec::new();
                for (item, element) in items.iter().zip(&elements) {
                    if set.contains(std::slice::from_ref(element)) {
                        continue;
                    }
                    let kept = match set.child(element) {
                        Some(below) => self.remove_walk(item, below, names),
                        None => Some(item.clone()),
                    };
                    out.extend(kept);
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
        }
    }

    /// See [`TypeInfo::is_declared_field`].
    pub fn is_declared_field(&self, names: &[&str]) -> bool {
        self.types.is_declared_field(names)
    }
}

/// Groups list items by their path element, keeping first-seen order of elements.
fn group(items: &[Value], elements: Vec<PathElement>) -> indexed::Groups<'_> {
    let mut groups = indexed::Groups::default();
    for (item, element) in items.iter().zip(elements) {
        groups.push(element, item);
    }
    groups
}

/// Formats names like Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_string_list(names: &[String]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .map(|n| Value::String(n.clone()).to_string())
        .collect();
    format!("[{}]", quoted.join(" "))
}

mod indexed {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use crate::fieldpath::PathElement;

    /// List items grouped by element, remembering the order elements were first seen.
    #[derive(Default)]
    pub struct Groups<'v> {
        order: Vec<PathElement>,
        items: BTreeMap<PathElement, Vec<&'v Value>>,
    }

    impl<'v> Groups<'v> {
        pub fn push(&mut self, element: PathElement, item: &'v Value) {
            let entry = self.items.entry(element.clone()).or_default();
            if entry.is_empty() {
                self.order.push(element);
            }
            entry.push(item);
        }

        pub fn keys(&self) -> impl Iterator<Item = &PathElement> {
            self.order.iter()
        }

        pub fn get(&self, element: &PathElement) -> Option<&Vec<&'v Value>> {
            self.items.get(element)
        }

        pub fn contains_key(&self, element: &PathElement) -> bool {
            self.items.contains_key(element)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::Untyped;

    /// Lists under `items` are maps keyed by `name`, `tags` are sets; `opaque` is atomic.
    struct Shapes;

    impl TypeInfo for Shapes {
        fn list_type(&self, path: &[&str]) -> ListType {
            match path.last() {
                Some(&"items") => ListType::Map(vec!["name".into()]),
                Some(&"tags") => ListType::Set,
                _ => ListType::Atomic,
            }
        }

        fn is_atomic_map(&self, path: &[&str]) -> bool {
            path.last() == Some(&"opaque")
        }

        fn is_declared_field(&self, path: &[&str]) -> bool {
            path.len() == 1 || path.ends_with(&["items", "value"])
        }
    }

    fn paths(set: &FieldSet) -> Vec<String> {
        set.paths().iter().map(Path::to_string).collect()
    }

    #[test]
    fn merge_orders_lists_like_structured_merge_diff() {
        let walker = Walker::new(&Shapes);
        let names = |list: &[&str]| -> Value {
            json!({"items": list.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()})
        };
        let cases: [(&[&str], &[&str], &[&str]); 5] = [
            (&["a", "b"], &["c"], &["a", "b", "c"]),
            (&["a", "b", "c"], &["c", "a"], &["b", "c", "a"]),
            (&["a", "x", "b"], &["b", "a"], &["x", "b", "a"]),
            (&[], &["a"], &["a"]),
            (&["a"], &[], &["a"]),
        ];
        for (live, config, expected) in cases {
            let merged = walker.merge(&names(live), &names(config)).unwrap();
            assert_eq!(merged, names(expected), "live {live:?} + config {config:?}");
        }
    }

    #[test]
    fn merge_keeps_live_fields_and_replaces_leaves() {
        let walker = Walker::new(&Shapes);
        let cases = [
            (
                json!({"a": 1, "b": 2}),
                json!({"b": 3}),
                json!({"a": 1, "b": 3}),
            ),
            (
                json!({"opaque": {"x": 1}}),
                json!({"opaque": {"y": 2}}),
                json!({"opaque": {"y": 2}}),
            ),
            (
                json!({"tags": ["x", "y"]}),
                json!({"tags": ["z", "x"]}),
                json!({"tags": ["z", "x", "y"]}),
            ),
            (
                json!({"list": [1, 2]}),
                json!({"list": [3]}),
                json!({"list": [3]}),
            ),
            (
                json!({"items": [{"name": "a", "value": 1, "extra": true}]}),
                json!({"items": [{"name": "a", "value": 2}]}),
                json!({"items": [{"name": "a", "value": 2, "extra": true}]}),
            ),
            (json!({"m": {}}), json!({"m": []}), json!({"m": []})),
        ];
        for (live, config, expected) in cases {
            assert_eq!(
                walker.merge(&live, &config).unwrap(),
                expected,
                "{live} + {config}"
            );
        }
    }

    #[test]
    fn field_sets_follow_list_and_map_semantics() {
        let walker = Walker::new(&Shapes);
        let cases = [
            // `b` is a declared field: owned through its leaves only.
            (json!({"a": 1, "b": {"c": 2}}), vec![".a", ".b.c"]),
            (
                json!({"items": [{"name": "a", "m": {"k": 1}}]}),
                vec![
                    ".items[name=\"a\"]",
                    ".items[name=\"a\"].m",
                    ".items[name=\"a\"].m.k",
                    ".items[name=\"a\"].name",
                ],
            ),
            (json!({"opaque": {"x": 1}}), vec![".opaque"]),
            (
                json!({"tags": ["x", "y"]}),
                vec![".tags[=\"x\"]", ".tags[=\"y\"]"],
            ),
            (
                json!({"items": [{"name": "a", "value": {"k": 1}}]}),
                vec![
                    ".items[name=\"a\"]",
                    ".items[name=\"a\"].name",
                    ".items[name=\"a\"].value.k",
                ],
            ),
            (json!({"empty": {}, "null": null}), vec![".empty", ".null"]),
        ];
        for (value, expected) in cases {
            assert_eq!(
                paths(&walker.field_set(&value).unwrap()),
                expected,
                "{value}"
            );
        }
        let err = walker
            .field_set(&json!({"tags": [{"no": "maps"}]}))
            .unwrap_err();
        assert_eq!(
            err,
            ".tags: element 0: associative list without keys has an element that's a map type"
        );
    }

    #[test]
    fn compare_reports_added_modified_removed() {
        let walker = Walker::new(&Shapes);
        let old = json!({"a": 1, "b": 2, "items": [{"name": "x", "value": 1}, {"name": "y"}], "gone": {"z": 1}});
        let new =
            json!({"a": 1, "b": 3, "items": [{"name": "x", "value": 2}, {"name": "w"}], "c": true});
        let comparison = walker.compare(&old, &new);
        assert_eq!(
            paths(&comparison.added),
            [".c", ".items[name=\"w\"]", ".items[name=\"w\"].name"]
        );
        assert_eq!(
            paths(&comparison.modified),
            [".b", ".items[name=\"x\"].value"]
        );
        assert_eq!(
            paths(&comparison.removed),
            [
                ".gone",
                ".gone.z",
                ".items[name=\"y\"]",
                ".items[name=\"y\"].name"
            ]
        );
    }

    #[test]
    fn remove_drops_paths_and_emptied_containers() {
        let walker = Walker::new(&Untyped);
        let value = json!({"a": {"b": 1}, "c": 2, "d": {"e": 1, "f": 2}});
        let mut set = FieldSet::new();
        set.insert(&[
            PathElement::Field("a".into()),
            PathElement::Field("b".into()),
        ]);
        set.insert(&[
            PathElement::Field("d".into()),
            PathElement::Field("e".into()),
        ]);
        assert_eq!(walker.remove(&value, &set), json!({"c": 2, "d": {"f": 2}}));
    }
}

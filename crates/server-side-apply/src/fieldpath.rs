//! Field paths and sets of field paths, and their `FieldsV1` wire encoding.
//!
//! A [`FieldSet`] is the trie that `metadata.managedFields[].fieldsV1` serialises: each node
//! is keyed by a [`PathElement`] (`f:name`, `k:{"name":"x"}`, `v:"value"`, `i:3`) and may be a
//! *member* itself (`".": {}` when it also has children). The ordering of path elements
//! follows structured-merge-diff so that encodings come out in the order the real API server
//! writes them.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One step from a container to a child.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of an object (`f:name`).
    Field(String),
    /// The element of a map-type list whose key fields have these values, sorted by name
    /// (`k:{"name":"x"}`).
    Key(Vec<(String, Value)>),
    /// The element of a set-type list with this scalar value (`v:"x"`).
    Value(Value),
    /// An element of an atomic list by position (`i:0`); only read, never produced here.
    Index(usize),
}

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The `FieldsV1` key for this element.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let object: Map<String, Value> = fields.iter().cloned().collect();
                format!("k:{}", Value::Object(object))
            }
            PathElement::Value(value) => format!("v:{value}"),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parses a `FieldsV1` key. Unknown element kinds yield `Ok(None)`: the real server drops
    /// what a newer version may understand rather than failing.
    pub fn from_fields_v1_key(key: &str) -> Result<Option<Self>, String> {
        let Some((kind, rest)) = key.split_once(':') else {
            return Err(format!("missing colon: {key}"));
        };
        let element = match kind {
            "f" => PathElement::Field(rest.to_owned()),
            "v" => PathElement::Value(
                serde_json::from_str(rest).map_err(|e| format!("invalid value in {key}: {e}"))?,
            ),
            "k" => {
                let object: Map<String, Value> =
                    serde_json::from_str(rest).map_err(|e| format!("invalid key in {key}: {e}"))?;
                let mut fields: Vec<(String, Value)> = object.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                PathElement::Key(fields)
            }
            "i" => PathElement::Index(
                rest.parse()
                    .map_err(|e| format!("invalid index in {key}: {e}"))?,
            ),
            _ => return Ok(None),
        };
        Ok(Some(element))
    }

    /// The field name, if this element selects an object field.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            PathElement::Field(name) => Some(name),
            _ => None,
        }
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let ordering = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if ordering != Ordering::Equal {
                        return ordering;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl fmt::Display for PathElement {
    /// The human-readable form used in conflict messages: `.name`, `[name="x"]`, `[="x"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={}", display_value(value)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(value) => write!(f, "[={}]", display_value(value)),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A value as structured-merge-diff prints it in paths: strings quoted, others bare.
fn display_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => value.to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(display_value).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", display_value(v)))
            .collect(),
    }
}

/// A total order over JSON values: numbers (numerically), strings, booleans, arrays, objects,
/// then null — the order structured-merge-diff sorts set elements and keys in.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                x.total_cmp(&y)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (xi, yi) in x.iter().zip(y) {
                let ordering = compare_values(xi, yi);
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|a, b| a.0.cmp(b.0));
            ys.sort_by(|a, b| a.0.cmp(b.0));
            for ((xk, xv), (yk, yv)) in xs.iter().zip(&ys) {
                let ordering = xk.cmp(yk).then_with(|| compare_values(xv, yv));
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// A path from the object root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// The field names along the path, list elements skipped: what [`crate::TypeInfo`] takes.
    pub fn field_names(&self) -> Vec<&str> {
        self.0.iter().filter_map(PathElement::field_name).collect()
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

/// A set of paths stored as a trie.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path. The empty path (the root) is not representable and is ignored.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                if !self.members.contains(last) {
                    self.members.insert(last.clone());
                }
            }
            [first, rest @ ..] => match self.children.get_mut(first) {
                Some(child) => child.insert(rest),
                None => {
                    let mut child = FieldSet::new();
                    child.insert(rest);
                    self.children.insert(first.clone(), child);
                }
            },
        }
    }

    pub fn contains(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// The paths below `element`, relative to it.
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element).filter(|c| !c.is_empty())
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.union_with(other);
        out
    }

    /// Adds every path of `other` to `self`.
    pub fn union_with(&mut self, other: &FieldSet) {
        for member in &other.members {
            if !self.members.contains(member) {
                self.members.insert(member.clone());
            }
        }
        for (element, child) in &other.children {
            if child.is_empty() {
                continue;
            }
            match self.children.get_mut(element) {
                Some(mine) => mine.union_with(child),
                None => {
                    self.children.insert(element.clone(), child.clone());
                }
            }
        }
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.intersection(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                out.children
                    .insert(element.clone(), child.intersection(theirs));
            }
        }
        out.prune_empty();
        out
    }

    /// Paths in `self` that are not in `other` (exact paths; descendants are kept).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            let remaining = match other.children.get(element) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            out.children.insert(element.clone(), remaining);
        }
        out.prune_empty();
        out
    }

    /// Removes the paths of `other` from `self` (exact paths); says whether any was there.
    pub fn remove_all(&mut self, other: &FieldSet) -> bool {
        let mut changed = false;
        for member in &other.members {
            changed |= self.members.remove(member);
        }
        for (element, theirs) in &other.children {
            if let Some(mine) = self.children.get_mut(element) {
                changed |= mine.remove_all(theirs);
            }
        }
        if changed {
            self.prune_empty();
        }
        changed
    }

    /// Keeps only the paths for which `keep` holds.
    pub fn filter(&self, keep: &dyn Fn(&Path) -> bool) -> FieldSet {
        let mut out = FieldSet::new();
        for path in self.paths() {
            if keep(&path) {
                out.insert(&path.0);
            }
        }
        out
    }

    fn prune_empty(&mut self) {
        self.children.retain(|_, child| !child.is_empty());
    }

    /// Every path in the set, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        // Members and children interleaved in element order, a member before its children.
        let mut elements: BTreeSet<&PathElement> = self.members.iter().collect();
        elements.extend(self.children.keys());
        for element in elements {
            prefix.push(element.clone());
            if self.members.contains(element) {
                out.push(Path(prefix.clone()));
            }
            if let Some(child) = self.children.get(element) {
                child.collect_paths(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Adds every declared struct field that has owned descendants as a member itself. Mirrors
    /// structured-merge-diff's `EnsureNamedFieldsAreMembers`, used when pruning so that a
    /// struct holding someone's fields is never removed as a whole.
    pub(crate) fn with_named_fields_as_members(
        &self,
        is_declared_field: &dyn Fn(&[&str]) -> bool,
    ) -> FieldSet {
        self.named_fields_inner(&mut Vec::new(), is_declared_field)
    }

    fn named_fields_inner<'a>(
        &'a self,
        names: &mut Vec<&'a str>,
        is_declared_field: &dyn Fn(&[&str]) -> bool,
    ) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.clone(),
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            let pushed = element.field_name().map(|n| names.push(n)).is_some();
            if pushed && !child.is_empty() && is_declared_field(names) {
                out.members.insert(element.clone());
            }
            out.children.insert(
                element.clone(),
                child.named_fields_inner(names, is_declared_field),
            );
            if pushed {
                names.pop();
            }
        }
        out.prune_empty();
        out
    }

    /// The `FieldsV1` JSON object for this set.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.fields_v1_object(false))
    }

    fn fields_v1_object(&self, include_self: bool) -> Map<String, Value> {
        let mut object = Map::new();
        if include_self {
            object.insert(".".to_owned(), Value::Object(Map::new()));
        }
        let mut elements: BTreeSet<&PathElement> = self.members.iter().collect();
        elements.extend(
            self.children
                .keys()
                .filter(|e| !self.children[*e].is_empty()),
        );
        for element in elements {
            let is_member = self.members.contains(element);
            let value = match self.children.get(element).filter(|c| !c.is_empty()) {
                Some(child) => child.fields_v1_object(is_member),
                None => Map::new(),
            };
            object.insert(element.to_fields_v1_key(), Value::Object(value));
        }
        object
    }

    /// Parses a `FieldsV1` JSON object.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let Value::Object(object) = value else {
            return Err(format!("expected a JSON object, got {value}"));
        };
        let mut set = FieldSet::new();
        for (key, child) in object {
            if key == "." {
                continue;
            }
            let Some(element) = PathElement::from_fields_v1_key(key)? else {
                continue;
            };
            let Value::Object(child_object) = child else {
                return Err(format!("expected a JSON object under {key}, got {child}"));
            };
            let has_children = child_object.keys().any(|k| k != ".");
            if !has_children || child_object.contains_key(".") {
                set.members.insert(element.clone());
            }
            if has_children {
                set.children
                    .insert(element, FieldSet::from_fields_v1(child)?);
            }
        }
        set.prune_empty();
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str) -> PathElement {
        PathElement::Field(name.to_owned())
    }

    fn key(name: &str, value: Value) -> PathElement {
        PathElement::Key(vec![(name.to_owned(), value)])
    }

    #[test]
    fn fields_v1_round_trips_and_marks_members_with_dot() {
        let cases = [
            json!({"f:metadata": {"f:labels": {"f:app": {}}}}),
            json!({"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}),
            json!({"f:metadata": {"f:finalizers": {"v:\"a\"": {}, "v:\"b\"": {}}}}),
            json!({"f:data": {".": {}, "f:x": {}}}),
            json!({"f:spec": {"f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}),
        ];
        for case in cases {
            let set = FieldSet::from_fields_v1(&case).unwrap();
            assert_eq!(set.to_fields_v1(), case, "round trip of {case}");
        }
    }

    #[test]
    fn paths_render_like_structured_merge_diff() {
        let cases = [
            (vec![field("spec"), field("replicas")], ".spec.replicas"),
            (
                vec![
                    field("spec"),
                    field("containers"),
                    key("name", json!("nginx")),
                    field("image"),
                ],
                ".spec.containers[name=\"nginx\"].image",
            ),
            (
                vec![
                    field("metadata"),
                    field("finalizers"),
                    PathElement::Value(json!("x")),
                ],
                ".metadata.finalizers[=\"x\"]",
            ),
            (
                vec![
                    field("ports"),
                    PathElement::Key(vec![
                        ("containerPort".into(), json!(80)),
                        ("protocol".into(), json!("TCP")),
                    ]),
                ],
                ".ports[containerPort=80,protocol=\"TCP\"]",
            ),
        ];
        for (elements, expected) in cases {
            assert_eq!(Path(elements).to_string(), expected);
        }
    }

    #[test]
    fn set_operations_work_on_exact_paths() {
        let mut a = FieldSet::new();
        a.insert(&[field("a"), field("b")]);
        a.insert(&[field("a"), field("c")]);
        a.insert(&[field("d")]);
        let mut b = FieldSet::new();
        b.insert(&[field("a"), field("c")]);
        b.insert(&[field("e")]);

        let union: Vec<String> = a.union(&b).paths().iter().map(Path::to_string).collect();
        assert_eq!(union, [".a.b", ".a.c", ".d", ".e"]);
        let inter: Vec<String> = a
            .intersection(&b)
            .paths()
            .iter()
            .map(Path::to_string)
            .collect();
        assert_eq!(inter, [".a.c"]);
        let diff: Vec<String> = a
            .difference(&b)
            .paths()
            .iter()
            .map(Path::to_string)
            .collect();
        assert_eq!(diff, [".a.b", ".d"]);
        assert!(a.contains(&[field("a"), field("b")]));
        assert!(!a.contains(&[field("a")]));
    }

    #[test]
    fn value_order_puts_numbers_before_strings() {
        let mut values = vec![json!("b"), json!(10), json!(true), json!(2), json!("a")];
        values.sort_by(compare_values);
        assert_eq!(
            values,
            [json!(2), json!(10), json!("a"), json!("b"), json!(true)]
        );
    }
}

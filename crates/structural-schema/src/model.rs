//! The parsed schema tree and the structural-schema checks made while
//! parsing it (apiextensions-apiserver `pkg/apiserver/schema/validation.go`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::cel::NodeRules;
use crate::field::{FieldError, FieldErrors};
use crate::formats::Format;
use crate::path;
use crate::pattern::GoRegex;

/// `x-kubernetes-list-type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListType {
    Atomic,
    Set,
    Map,
}

/// `additionalProperties`.
#[derive(Debug, Default)]
pub(crate) enum Additional {
    #[default]
    Absent,
    /// `additionalProperties: true|false`.
    Allowed(bool),
    Schema(Box<Node>),
}

/// One schema node. Value-validation sub-schemas (`allOf`, `anyOf`,
/// `oneOf`, `not`) use the same type; they carry no structure of their own.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// `type`, empty when unspecified.
    pub type_name: String,
    pub nullable: bool,
    pub format: Option<Format>,
    pub properties: BTreeMap<String, Node>,
    pub additional: Additional,
    pub items: Option<Box<Node>>,
    pub required: Vec<String>,
    pub enum_values: Option<Vec<Value>>,
    pub pattern: Option<GoRegex>,
    pub max_length: Option<i64>,
    pub min_length: Option<i64>,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub multiple_of: Option<f64>,
    pub max_items: Option<i64>,
    pub min_items: Option<i64>,
    pub unique_items: bool,
    pub max_properties: Option<i64>,
    pub min_properties: Option<i64>,
    pub all_of: Vec<Node>,
    pub any_of: Vec<Node>,
    pub one_of: Vec<Node>,
    pub not: Option<Box<Node>>,
    pub default: Option<Value>,
    pub int_or_string: bool,
    pub preserve_unknown_fields: bool,
    pub embedded_resource: bool,
    pub list_type: Option<ListType>,
    pub list_map_keys: Vec<String>,
    pub rules: Option<NodeRules>,
}

impl Node {
    /// The JSON types this node accepts, as kube-openapi joins them in
    /// messages (`integer,string` for int-or-string).
    pub fn accepted_types(&self) -> Vec<&str> {
        if self.int_or_string {
            vec!["integer", "string"]
        } else if self.type_name.is_empty() {
            vec![]
        } else {
            vec![self.type_name.as_str()]
        }
    }

    /// The schema for the value under key `key` of an object, if any.
    pub fn field_schema(&self, key: &str) -> Option<&Node> {
        self.properties.get(key).or(match &self.additional {
            Additional::Schema(s) => Some(s),
            _ => None,
        })
    }

    pub fn additional_schema(&self) -> Option<&Node> {
        match &self.additional {
            Additional::Schema(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this node or any node below it has CEL rules.
    pub fn has_rules(&self) -> bool {
        self.rules.is_some()
            || self.properties.values().any(Node::has_rules)
            || self.additional_schema().is_some_and(Node::has_rules)
            || self.items.as_deref().is_some_and(Node::has_rules)
    }

    /// Whether `additionalProperties` is set in any form.
    pub fn has_additional(&self) -> bool {
        !matches!(self.additional, Additional::Absent)
    }
}

/// Where in the schema a node sits; decides which structural rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Root,
    Field,
    Item,
    /// Inside `allOf`/`anyOf`/`oneOf`/`not`: value validation only.
    ValueValidation,
}

/// Parses `schema` (rooted at field path `base`), collecting every
/// structural violation instead of stopping at the first.
pub(crate) fn parse_root(schema: &Value, base: &str) -> Result<Node, FieldErrors> {
    let mut errors = Vec::new();
    let node = parse(schema, Level::Root, base, &mut errors);
    if errors.is_empty() {
        Ok(node)
    } else {
        // Upstream sorts these by message so the list is stable.
        errors.sort_by_key(ToString::to_string);
        errors.dedup_by_key(|e| e.to_string());
        Err(errors.into())
    }
}

fn parse(schema: &Value, level: Level, at: &str, errors: &mut Vec<FieldError>) -> Node {
    let Some(obj) = schema.as_object() else {
        errors.push(FieldError::invalid(
            at,
            schema.clone(),
            "must be a JSON schema object",
        ));
        return Node::default();
    };
    let mut node = Node {
        type_name: str_field(obj, "type").unwrap_or_default(),
        nullable: bool_field(obj, "nullable"),
        required: obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        enum_values: obj.get("enum").and_then(Value::as_array).cloned(),
        max_length: int_field(obj, "maxLength"),
        min_length: int_field(obj, "minLength"),
        maximum: obj.get("maximum").and_then(Value::as_f64),
        exclusive_maximum: bool_field(obj, "exclusiveMaximum"),
        minimum: obj.get("minimum").and_then(Value::as_f64),
        exclusive_minimum: bool_field(obj, "exclusiveMinimum"),
        multiple_of: obj.get("multipleOf").and_then(Value::as_f64),
        max_items: int_field(obj, "maxItems"),
        min_items: int_field(obj, "minItems"),
        unique_items: bool_field(obj, "uniqueItems"),
        max_properties: int_field(obj, "maxProperties"),
        min_properties: int_field(obj, "minProperties"),
        default: obj.get("default").cloned(),
        int_or_string: bool_field(obj, "x-kubernetes-int-or-string"),
        preserve_unknown_fields: bool_field(obj, "x-kubernetes-preserve-unknown-fields"),
        embedded_resource: bool_field(obj, "x-kubernetes-embedded-resource"),
        list_map_keys: obj
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        ..Node::default()
    };

    node.format = str_field(obj, "format").and_then(|f| Format::supported(&f));

    if let Some(p) = str_field(obj, "pattern") {
        match GoRegex::new(&p) {
            Ok(re) => node.pattern = Some(re),
            Err(e) => errors.push(FieldError::invalid(
                path::child(at, "pattern"),
                json!(p),
                format!("must be a valid regular expression, but isn't: {e}"),
            )),
        }
    }

    node.list_type = match str_field(obj, "x-kubernetes-list-type").as_deref() {
        None => None,
        Some("atomic") => Some(ListType::Atomic),
        Some("set") => Some(ListType::Set),
        Some("map") => Some(ListType::Map),
        Some(other) => {
            errors.push(FieldError::not_supported(
                path::child(at, "x-kubernetes-list-type"),
                json!(other),
                &["atomic".into(), "set".into(), "map".into()],
            ));
            None
        }
    };

    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        let props_path = path::child(at, "properties");
        for (name, sub) in props {
            let sub_level = if level == Level::ValueValidation {
                Level::ValueValidation
            } else {
                Level::Field
            };
            let child = parse(sub, sub_level, &path::key(&props_path, name), errors);
            node.properties.insert(name.clone(), child);
        }
    }
    match obj.get("additionalProperties") {
        None => {}
        Some(Value::Bool(b)) => node.additional = Additional::Allowed(*b),
        Some(sub) => {
            let sub_level = if level == Level::ValueValidation {
                Level::ValueValidation
            } else {
                Level::Field
            };
            let child = parse(
                sub,
                sub_level,
                &path::child(at, "additionalProperties"),
                errors,
            );
            node.additional = Additional::Schema(Box::new(child));
        }
    }
    if let Some(items) = obj.get("items") {
        let items_path = path::child(at, "items");
        if items.is_array() {
            errors.push(FieldError::forbidden(
                &items_path,
                "items must be a schema object and not an array",
            ));
        } else {
            let sub_level = if level == Level::ValueValidation {
                Level::ValueValidation
            } else {
                Level::Item
            };
            node.items = Some(Box::new(parse(items, sub_level, &items_path, errors)));
        }
    }

    let int_or_string_any_of = is_int_or_string_any_of(obj.get("anyOf"));
    for (keyword, target) in [
        ("allOf", &mut node.all_of),
        ("anyOf", &mut node.any_of),
        ("oneOf", &mut node.one_of),
    ] {
        if let Some(branches) = obj.get(keyword).and_then(Value::as_array) {
            for (i, branch) in branches.iter().enumerate() {
                let branch_path = path::index(&path::child(at, keyword), i);
                let exempt = keyword == "anyOf" && int_or_string_any_of;
                let branch_level = if exempt {
                    Level::Field
                } else {
                    Level::ValueValidation
                };
                let mut branch_errors = Vec::new();
                target.push(parse(
                    branch,
                    branch_level,
                    &branch_path,
                    &mut branch_errors,
                ));
                if !exempt {
                    errors.extend(branch_errors);
                }
            }
        }
    }
    if let Some(not) = obj.get("not") {
        node.not = Some(Box::new(parse(
            not,
            Level::ValueValidation,
            &path::child(at, "not"),
            errors,
        )));
    }

    check_invariants(&node, obj, level, at, errors);

    if let Some(rules) = obj.get("x-kubernetes-validations") {
        if level == Level::ValueValidation {
            errors.push(FieldError::forbidden(
                path::child(at, "x-kubernetes-validations"),
                "must be empty to be structural",
            ));
        } else {
            match NodeRules::compile(
                schema,
                rules,
                &node,
                &path::child(at, "x-kubernetes-validations"),
            ) {
                Ok(compiled) => node.rules = compiled,
                Err(rule_errors) => errors.extend(rule_errors),
            }
        }
    }
    node
}

fn check_invariants(
    node: &Node,
    obj: &Map<String, Value>,
    level: Level,
    at: &str,
    errors: &mut Vec<FieldError>,
) {
    if level == Level::ValueValidation {
        // Value validations may constrain values, never declare structure.
        let has_text = |key: &str| {
            obj.get(key)
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
        };
        let forbidden: [(&str, bool, &str); 12] = [
            (
                "type",
                !node.type_name.is_empty(),
                "must be empty to be structural",
            ),
            (
                "additionalProperties",
                node.has_additional(),
                "must be undefined to be structural",
            ),
            (
                "default",
                node.default.is_some(),
                "must be undefined to be structural",
            ),
            ("title", has_text("title"), "must be empty to be structural"),
            (
                "description",
                has_text("description"),
                "must be empty to be structural",
            ),
            ("nullable", node.nullable, "must be false to be structural"),
            (
                "x-kubernetes-preserve-unknown-fields",
                node.preserve_unknown_fields,
                "must be false to be structural",
            ),
            (
                "x-kubernetes-embedded-resource",
                node.embedded_resource,
                "must be false to be structural",
            ),
            (
                "x-kubernetes-int-or-string",
                node.int_or_string,
                "must be false to be structural",
            ),
            (
                "x-kubernetes-list-type",
                node.list_type.is_some(),
                "must be undefined to be structural",
            ),
            (
                "x-kubernetes-list-map-keys",
                !node.list_map_keys.is_empty(),
                "must be empty to be structural",
            ),
            (
                "x-kubernetes-map-type",
                obj.contains_key("x-kubernetes-map-type"),
                "must be undefined to be structural",
            ),
        ];
        for (name, present, message) in forbidden {
            if present {
                errors.push(FieldError::forbidden(path::child(at, name), message));
            }
        }
        if node.properties.contains_key("metadata") {
            errors.push(FieldError::forbidden(
                path::key(&path::child(at, "properties"), "metadata"),
                "must not be specified in a nested context",
            ));
        }
        return;
    }

    if node.type_name == "array" && node.items.is_none() {
        errors.push(FieldError::required(
            path::child(at, "items"),
            "must be specified",
        ));
    }
    if node.has_additional() {
        if level == Level::Root {
            errors.push(FieldError::forbidden(
                path::child(at, "additionalProperties"),
                "must not be used at the root",
            ));
        }
        if !node.properties.is_empty() {
            errors.push(FieldError::forbidden(
                path::child(at, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
    }
    let type_path = path::child(at, "type");
    if node.embedded_resource && node.type_name != "object" {
        if node.type_name.is_empty() {
            errors.push(FieldError::required(
                &type_path,
                "must be object if x-kubernetes-embedded-resource is true",
            ));
        } else {
            errors.push(FieldError::invalid(
                &type_path,
                json!(node.type_name),
                "must be object if x-kubernetes-embedded-resource is true",
            ));
        }
    } else if node.type_name.is_empty() && !node.int_or_string && !node.preserve_unknown_fields {
        let message = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            _ => "must not be empty for specified object fields",
        };
        errors.push(FieldError::required(&type_path, message));
    }
    if node.embedded_resource && node.has_additional() {
        errors.push(FieldError::forbidden(
            path::child(at, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if level == Level::Root && !node.type_name.is_empty() && node.type_name != "object" {
        errors.push(FieldError::invalid(
            &type_path,
            json!(node.type_name),
            "must be object at the root",
        ));
    }
    if node.int_or_string && node.preserve_unknown_fields {
        errors.push(FieldError::invalid(
            path::child(at, "x-kubernetes-preserve-unknown-fields"),
            json!(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if node.embedded_resource && !node.preserve_unknown_fields && node.properties.is_empty() {
        errors.push(FieldError::required(
            path::child(at, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
    if node.list_type == Some(ListType::Map) {
        if node.list_map_keys.is_empty() {
            errors.push(FieldError::required(
                path::child(at, "x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
        if node.items.as_ref().is_some_and(|i| i.type_name != "object") {
            errors.push(FieldError::invalid(
                path::child(&path::child(at, "items"), "type"),
                json!(node.items.as_ref().map(|i| i.type_name.clone())),
                "must be object when parent is x-kubernetes-list-type=map",
            ));
        }
    }
    if node.list_type.is_some() && node.type_name != "array" {
        errors.push(FieldError::invalid(
            path::child(at, "x-kubernetes-list-type"),
            json!(obj.get("x-kubernetes-list-type")),
            "must only be used if type is array",
        ));
    }
}

/// `anyOf: [{type: integer}, {type: string}]` is the one place value
/// validations may carry `type` (the int-or-string idiom).
fn is_int_or_string_any_of(any_of: Option<&Value>) -> bool {
    let Some(branches) = any_of.and_then(Value::as_array) else {
        return false;
    };
    let types: Vec<Option<&str>> = branches
        .iter()
        .map(|b| b.get("type").and_then(Value::as_str))
        .collect();
    types == [Some("integer"), Some("string")]
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(String::from)
}

fn bool_field(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn int_field(obj: &Map<String, Value>, key: &str) -> Option<i64> {
    obj.get(key).and_then(Value::as_i64)
}

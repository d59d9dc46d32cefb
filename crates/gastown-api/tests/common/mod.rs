//! What the examples tests and the refusal tests share: the examples, the CRD
//! schemas, and admission as kube-apiserver does it.
#![allow(dead_code)] // each test binary uses part of it

use gastown_api::{AgentPool, GasTown, Rig};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use structural_schema::StructuralSchema;

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub fn example(file: &str) -> Value {
    let path = examples_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn example_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    files.sort();
    files
}

/// The structural schema of `kind`, built once per test binary (building compiles every CEL
/// rule of the CRD).
pub fn schema(kind: &str) -> &'static StructuralSchema {
    static SCHEMAS: OnceLock<HashMap<String, StructuralSchema>> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        gastown_api::crds()
            .into_iter()
            .map(|crd| {
                let kind = crd.spec.names.kind.clone();
                let open_api = crd.spec.versions[0]
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                    .expect("derived CRDs carry a schema");
                let open_api = serde_json::to_value(open_api).unwrap();
                let schema = StructuralSchema::new(&open_api)
                    .unwrap_or_else(|e| panic!("{kind} schema is not structural: {e}"));
                (kind, schema)
            })
            .collect()
    });
    schemas
        .get(kind)
        .unwrap_or_else(|| panic!("no CRD for kind {kind}"))
}

pub fn kind_of(object: &Value) -> &str {
    object["kind"].as_str().expect("examples have a kind")
}

/// Admits `object` (and `old`, for updates) like the API server; returns the errors' text.
pub fn admit(object: &Value, old: Option<&Value>) -> Result<Value, Vec<String>> {
    let schema = schema(kind_of(object));
    let mut object = object.clone();
    let old = old.map(|old| {
        let mut old = old.clone();
        schema
            .admit(&mut old, None)
            .expect("the old object is valid");
        old
    });
    match schema.admit(&mut object, old.as_ref()) {
        Ok(()) => Ok(object),
        Err(errors) => Err(errors.iter().map(ToString::to_string).collect()),
    }
}

/// The typed form of `object`, serialized back: equal to the input when no field was lost.
pub fn typed_round_trip(object: &Value) -> Value {
    fn via<T: serde::de::DeserializeOwned + serde::Serialize>(object: &Value) -> Value {
        let typed: T = serde_json::from_value(object.clone())
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", object["metadata"]["name"]));
        serde_json::to_value(typed).unwrap()
    }
    match kind_of(object) {
        "GasTown" => via::<GasTown>(object),
        "Rig" => via::<Rig>(object),
        "AgentPool" => via::<AgentPool>(object),
        other => panic!("unexpected kind {other}"),
    }
}

/// Sets the value at a JSON pointer (a list index one past the end appends).
pub fn set(object: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = object
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent} in the example"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => {
            let index: usize = key.parse().unwrap();
            if index == items.len() {
                items.push(value);
            } else {
                items[index] = value;
            }
        }
        _ => panic!("{pointer} is not inside an object or list"),
    }
}

pub fn remove(object: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    object
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|map| map.remove(key))
        .unwrap_or_else(|| panic!("no {pointer} in the example"));
}

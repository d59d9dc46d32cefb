//! The Swagger 2.0 (`/openapi/v2`) form of the group-version documents.
//!
//! kubectl 1.27+ asks for `/openapi/v2` only as protobuf and only as a fallback
//! when the v3 documents answer nothing; the JSON form serves other clients
//! and humans. It is derived from the v3 documents so both always agree.

use serde_json::{Map, Value, json};

const V3_REF_PREFIX: &str = "#/components/schemas/";
const V2_REF_PREFIX: &str = "#/definitions/";

/// Merges v3 group-version documents into one Swagger 2.0 document.
pub(super) fn from_v3(documents: impl IntoIterator<Item = Value>, info_version: &str) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for document in documents {
        if let Some(Value::Object(document_paths)) = document.get("paths") {
            for (path, item) in document_paths {
                paths.insert(path.clone(), path_item(item));
            }
        }
        if let Some(Value::Object(schemas)) = document.pointer("/components/schemas") {
            for (name, schema) in schemas {
                definitions
                    .entry(name.clone())
                    .or_insert_with(|| with_v2_refs(schema));
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": info_version },
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": { "BearerToken": { "type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header" } },
        "security": [{ "BearerToken": [] }],
    })
}

fn path_item(item: &Value) -> Value {
    let Value::Object(item) = item else {
        return item.clone();
    };
    let converted = item
        .iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                "parameters" => parameters(value),
                "get" | "put" | "post" | "delete" | "patch" => operation(value),
                _ => value.clone(),
            };
            (key.clone(), value)
        })
        .collect();
    Value::Object(converted)
}

fn operation(operation: &Value) -> Value {
    let Value::Object(v3) = operation else {
        return operation.clone();
    };
    let mut v2 = Map::new();
    let mut parameter_list: Vec<Value> = v3
        .get("parameters")
        .map(parameters)
        .and_then(|p| p.as_array().cloned())
        .unwrap_or_default();
    if let Some(Value::Object(content)) = v3.get("requestBody").and_then(|body| body.get("content"))
    {
        v2.insert("consumes".into(), content.keys().cloned().collect());
        if let Some(schema) = content
            .values()
            .next()
            .and_then(|media| media.get("schema"))
        {
            parameter_list.push(json!({ "name": "body", "in": "body", "required": true, "schema": with_v2_refs(schema) }));
        }
    }
    let mut produces: Vec<Value> = Vec::new();
    let mut responses = Map::new();
    if let Some(Value::Object(v3_responses)) = v3.get("responses") {
        for (code, response) in v3_responses {
            let mut converted =
                json!({ "description": response.get("description").cloned().unwrap_or_default() });
            if let Some(Value::Object(content)) = response.get("content") {
                for media_type in content.keys() {
                    if !produces.iter().any(|p| p == media_type) {
                        produces.push(media_type.clone().into());
                    }
                }
                if let Some(schema) = content
                    .values()
                    .next()
                    .and_then(|media| media.get("schema"))
                {
                    converted["schema"] = with_v2_refs(schema);
                }
            }
            responses.insert(code.clone(), converted);
        }
    }
    for (key, value) in v3 {
        match key.as_str() {
            "parameters" | "requestBody" | "responses" => {}
            _ => {
                v2.insert(key.clone(), value.clone());
            }
        }
    }
    if !parameter_list.is_empty() {
        v2.insert("parameters".into(), parameter_list.into());
    }
    v2.insert("produces".into(), produces.into());
    v2.insert("schemes".into(), json!(["https"]));
    v2.insert("responses".into(), responses.into());
    Value::Object(v2)
}

/// A gnostic `openapi.v2.Document` with `swagger`, `info` and empty `paths`
/// and `definitions`, in protobuf wire format.
pub(super) fn header_protobuf(info_version: &str) -> Vec<u8> {
    // Field numbers from gnostic's OpenAPIv2.proto: Document.swagger = 1,
    // .info = 2, .paths = 8, .definitions = 9; Info.title = 1, .version = 2.
    let mut info = Vec::new();
    protobuf_field(&mut info, 1, b"Kubernetes");
    protobuf_field(&mut info, 2, info_version.as_bytes());
    let mut document = Vec::new();
    protobuf_field(&mut document, 1, b"2.0");
    protobuf_field(&mut document, 2, &info);
    protobuf_field(&mut document, 8, &[]);
    protobuf_field(&mut document, 9, &[]);
    document
}

/// Appends a length-delimited field (wire type 2: strings and messages).
fn protobuf_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    protobuf_varint(out, u64::from(number << 3 | 2));
    protobuf_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn protobuf_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// v3 parameters keep their type under `schema`; v2 non-body parameters
/// carry it inline.
fn parameters(parameters: &Value) -> Value {
    let Some(list) = parameters.as_array() else {
        return parameters.clone();
    };
    list.iter()
        .map(|parameter| {
            let Value::Object(parameter) = parameter else {
                return parameter.clone();
            };
            let mut converted: Map<String, Value> = parameter
                .iter()
                .filter(|(k, _)| *k != "schema")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if let Some(Value::Object(schema)) = parameter.get("schema") {
                converted.extend(schema.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Value::Object(converted)
        })
        .collect()
}

/// A copy of `schema` whose `$ref`s point into `#/definitions/`.
fn with_v2_refs(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), value) {
                        ("$ref", Value::String(target)) => match target.strip_prefix(V3_REF_PREFIX)
                        {
                            Some(name) => Value::String(format!("{V2_REF_PREFIX}{name}")),
                            None => value.clone(),
                        },
                        _ => with_v2_refs(value),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => items.iter().map(with_v2_refs).collect(),
        other => other.clone(),
    }
}

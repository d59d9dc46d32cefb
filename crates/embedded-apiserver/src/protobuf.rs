//! Request bodies in Kubernetes' protobuf encoding, turned into JSON.
//!
//! client-go's typed clientsets send `application/vnd.kubernetes.protobuf`
//! by default (since client-go 1.31), and Helm stores its releases through
//! one: Secrets are created, updated and deleted (with a `DeleteOptions`
//! body) in protobuf, and `--create-namespace` creates a Namespace that way.
//! Responses can stay JSON, since clients decode by the response's
//! Content-Type. So this decodes only the kinds such clients write, from
//! the field numbers of upstream's `generated.proto` files.
//!
//! The envelope is the magic `k8s\0` followed by a `runtime.Unknown`
//! message whose `raw` field holds the typed object.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The first bytes of every protobuf-encoded Kubernetes object.
pub const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtobufError {
    #[error("protobuf body is truncated or malformed")]
    Malformed,
    #[error("protobuf body is not a runtime.Unknown envelope (missing the k8s\\0 magic)")]
    NoEnvelope,
    #[error(
        "protobuf bodies of kind {kind:?} ({api_version}) are not supported; \
         send application/json (supported: Secret, ConfigMap, Namespace, DeleteOptions)"
    )]
    UnsupportedKind { api_version: String, kind: String },
}

/// Decodes a protobuf body (`k8s\0` + `runtime.Unknown`) into the JSON
/// object the same request would have carried as `application/json`.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoEnvelope)?;
    let mut type_meta = Value::Null;
    let mut raw: &[u8] = &[];
    let mut reader = Reader { rest: envelope };
    while let Some((number, wire)) = reader.field()? {
        match (number, wire) {
            (1, Wire::Bytes(bytes)) => type_meta = decode_message(bytes, &TYPE_META)?,
            (2, Wire::Bytes(bytes)) => raw = bytes,
            _ => {}
        }
    }
    let api_version = type_meta
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = type_meta
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let schema: &Schema = match (api_version, kind) {
        ("v1", "Secret") => &SECRET,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "Namespace") => &NAMESPACE,
        // Every group version registers DeleteOptions.
        (_, "DeleteOptions") => &DELETE_OPTIONS,
        _ => {
            return Err(ProtobufError::UnsupportedKind {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            });
        }
    };
    let mut object = decode_message(raw, schema)?;
    object["apiVersion"] = json!(api_version);
    object["kind"] = json!(kind);
    Ok(object)
}

// ------------------------------------------------------------- schemas

/// How one protobuf field maps onto JSON.
enum Field {
    String,
    Int,
    Bool,
    RepeatedString,
    StringMap,
    /// `map<string, bytes>`, values base64-encoded.
    BytesMap,
    Message(&'static Schema),
    RepeatedMessage(&'static Schema),
    /// `meta.v1.Time`, as RFC 3339 with seconds.
    Time,
    /// `meta.v1.FieldsV1`: its `raw` bytes are JSON.
    FieldsV1,
}

/// Field number → (JSON name, kind).
type Schema = [(u32, &'static str, Field)];

static TYPE_META: [(u32, &str, Field); 2] =
    [(1, "apiVersion", Field::String), (2, "kind", Field::String)];

static OWNER_REFERENCE: [(u32, &str, Field); 6] = [
    (1, "kind", Field::String),
    (3, "name", Field::String),
    (4, "uid", Field::String),
    (5, "apiVersion", Field::String),
    (6, "controller", Field::Bool),
    (7, "blockOwnerDeletion", Field::Bool),
];

static MANAGED_FIELDS_ENTRY: [(u32, &str, Field); 7] = [
    (1, "manager", Field::String),
    (2, "operation", Field::String),
    (3, "apiVersion", Field::String),
    (4, "time", Field::Time),
    (6, "fieldsType", Field::String),
    (7, "fieldsV1", Field::FieldsV1),
    (8, "subresource", Field::String),
];

static OBJECT_META: [(u32, &str, Field); 15] = [
    (1, "name", Field::String),
    (2, "generateName", Field::String),
    (3, "namespace", Field::String),
    (4, "selfLink", Field::String),
    (5, "uid", Field::String),
    (6, "resourceVersion", Field::String),
    (7, "generation", Field::Int),
    (8, "creationTimestamp", Field::Time),
    (9, "deletionTimestamp", Field::Time),
    (10, "deletionGracePeriodSeconds", Field::Int),
    (11, "labels", Field::StringMap),
    (12, "annotations", Field::StringMap),
    (
        13,
        "ownerReferences",
        Field::RepeatedMessage(&OWNER_REFERENCE),
    ),
    (14, "finalizers", Field::RepeatedString),
    (
        17,
        "managedFields",
        Field::RepeatedMessage(&MANAGED_FIELDS_ENTRY),
    ),
];

static SECRET: [(u32, &str, Field); 5] = [
    (1, "metadata", Field::Message(&OBJECT_META)),
    (2, "data", Field::BytesMap),
    (3, "type", Field::String),
    (4, "stringData", Field::StringMap),
    (5, "immutable", Field::Bool),
];

static CONFIG_MAP: [(u32, &str, Field); 4] = [
    (1, "metadata", Field::Message(&OBJECT_META)),
    (2, "data", Field::StringMap),
    (3, "binaryData", Field::BytesMap),
    (4, "immutable", Field::Bool),
];

static NAMESPACE_SPEC: [(u32, &str, Field); 1] = [(1, "finalizers", Field::RepeatedString)];

static NAMESPACE: [(u32, &str, Field); 2] = [
    (1, "metadata", Field::Message(&OBJECT_META)),
    (2, "spec", Field::Message(&NAMESPACE_SPEC)),
];

static PRECONDITIONS: [(u32, &str, Field); 2] = [
    (1, "uid", Field::String),
    (2, "resourceVersion", Field::String),
];

static DELETE_OPTIONS: [(u32, &str, Field); 5] = [
    (1, "gracePeriodSeconds", Field::Int),
    (2, "preconditions", Field::Message(&PRECONDITIONS)),
    (3, "orphanDependents", Field::Bool),
    (4, "propagationPolicy", Field::String),
    (5, "dryRun", Field::RepeatedString),
];

static TIME: [(u32, &str, Field); 2] = [(1, "seconds", Field::Int), (2, "nanos", Field::Int)];

// ---------------------------------------------------------- wire format

/// One field as it appears on the wire.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.rest.split_first().ok_or(ProtobufError::Malformed)?;
            self.rest = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::Malformed)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtobufError> {
        if len > self.rest.len() {
            return Err(ProtobufError::Malformed);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    /// The next field's number and value, or `None` at the end.
    fn field(&mut self) -> Result<Option<(u32, Wire<'a>)>, ProtobufError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| ProtobufError::Malformed)?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| ProtobufError::Malformed)?;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            _ => return Err(ProtobufError::Malformed),
        };
        Ok(Some((number, wire)))
    }
}

fn decode_message(bytes: &[u8], schema: &Schema) -> Result<Value, ProtobufError> {
    let mut object = Map::new();
    let mut reader = Reader { rest: bytes };
    while let Some((number, wire)) = reader.field()? {
        // Fields this server does not know are skipped, as proto2 allows.
        let Some((_, name, field)) = schema.iter().find(|(n, _, _)| *n == number) else {
            continue;
        };
        let name = (*name).to_owned();
        match (field, wire) {
            (Field::Int, Wire::Varint(v)) => {
                // int64 on the wire is two's complement.
                object.insert(name, json!(v as i64));
            }
            (Field::Bool, Wire::Varint(v)) => {
                object.insert(name, json!(v != 0));
            }
            (Field::String, Wire::Bytes(b)) => {
                object.insert(name, json!(utf8(b)?));
            }
            (Field::RepeatedString, Wire::Bytes(b)) => push(&mut object, name, json!(utf8(b)?)),
            (Field::StringMap | Field::BytesMap, Wire::Bytes(b)) => {
                let (key, value) = (bytes_field(b, 1)?, bytes_field(b, 2)?);
                let value = match field {
                    Field::BytesMap => {
                        json!(base64::engine::general_purpose::STANDARD.encode(value))
                    }
                    _ => json!(utf8(value)?),
                };
                let map = object.entry(name).or_insert_with(|| json!({}));
                map[utf8(key)?] = value;
            }
            (Field::Message(inner), Wire::Bytes(b)) => {
                object.insert(name, decode_message(b, inner)?);
            }
            (Field::RepeatedMessage(inner), Wire::Bytes(b)) => {
                push(&mut object, name, decode_message(b, inner)?)
            }
            (Field::Time, Wire::Bytes(b)) => {
                let time = decode_message(b, &TIME)?;
                let seconds = time
                    .get("seconds")
                    .and_then(Value::as_i64)
                    .unwrap_or_default();
                let timestamp =
                    jiff::Timestamp::from_second(seconds).map_err(|_| ProtobufError::Malformed)?;
                object.insert(name, json!(timestamp.to_string()));
            }
            (Field::FieldsV1, Wire::Bytes(b)) => {
                let raw = bytes_field(b, 1)?;
                let parsed = serde_json::from_slice(raw).map_err(|_| ProtobufError::Malformed)?;
                object.insert(name, parsed);
            }
            _ => return Err(ProtobufError::Malformed),
        }
    }
    Ok(Value::Object(object))
}

/// The last value of length-delimited field `number` in a message; empty when absent.
fn bytes_field(message: &[u8], number: u32) -> Result<&[u8], ProtobufError> {
    let mut found: &[u8] = &[];
    let mut reader = Reader { rest: message };
    while let Some((n, wire)) = reader.field()? {
        if let (true, Wire::Bytes(bytes)) = (n == number, wire) {
            found = bytes;
        }
    }
    Ok(found)
}

fn utf8(bytes: &[u8]) -> Result<&str, ProtobufError> {
    std::str::from_utf8(bytes).map_err(|_| ProtobufError::Malformed)
}

fn push(object: &mut Map<String, Value>, name: String, item: Value) {
    if let Some(items) = object
        .entry(name)
        .or_insert_with(|| json!([]))
        .as_array_mut()
    {
        items.push(item);
    }
}

#[cfg(test)]
mod tests;

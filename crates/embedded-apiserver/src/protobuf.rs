//! Request bodies in Kubernetes' protobuf encoding, turned into JSON.
//!
//! client-go's typed clientsets send `application/vnd.kubernetes.protobuf`
//! for built-in kinds (Helm's release Secrets, `kubectl create deployment`,
//! `kubectl create token`, ...). Responses can stay JSON, since clients
//! decode by the response's Content-Type.
//!
//! Messages are decoded with `prost-reflect` against the descriptors of
//! upstream's own `generated.proto` files (k8s.io/api and apimachinery
//! v0.33.9, every GA group version; `protobuf/regenerate.sh` rebuilds them),
//! then mapped to JSON as Go's `encoding/json` would write the same object.
//! (k8s-pb, the kube-rs bindings, has neither serde nor descriptors, so it
//! cannot produce JSON without code per type.)
//!
//! The envelope is the magic `k8s\0` followed by a `runtime.Unknown`
//! message whose `raw` field holds the typed object.

use base64::Engine as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, ReflectMessage};
use prost_reflect::{Kind, Value as Proto};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The first bytes of every protobuf-encoded Kubernetes object.
pub const MAGIC: &[u8] = b"k8s\0";

const DESCRIPTORS: &[u8] = include_bytes!("protobuf/k8s-api-v0.33.9.binpb");
const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtobufError {
    #[error("protobuf body is truncated or malformed")]
    Malformed,
    #[error("protobuf body is not a runtime.Unknown envelope (missing the k8s\\0 magic)")]
    NoEnvelope,
    #[error(
        "protobuf bodies of kind {kind:?} ({api_version}) are not supported; \
         send application/json (supported: the built-in kinds of GA API groups)"
    )]
    UnsupportedKind { api_version: String, kind: String },
}

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTORS).expect("bundled descriptors decode"))
}

/// The protobuf message of `kind` in `api_version`: the proto package is
/// `k8s.io.api.<first label of the group, or core>.<version>`; kinds every
/// group version registers (DeleteOptions, ...) live in meta/v1.
fn message_for(api_version: &str, kind: &str) -> Option<MessageDescriptor> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let package = match group.split('.').next() {
        Some("") | None => "core",
        Some(first) => first,
    };
    let pool = pool();
    pool.get_message_by_name(&format!("k8s.io.api.{package}.{version}.{kind}"))
        .or_else(|| pool.get_message_by_name(&format!("{META}.{kind}")))
}

/// Decodes a protobuf body (`k8s\0` + `runtime.Unknown`) into the JSON
/// object the same request would have carried as `application/json`.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::NoEnvelope)?;
    let unknown = pool()
        .get_message_by_name("k8s.io.apimachinery.pkg.runtime.Unknown")
        .expect("runtime.Unknown is bundled");
    let unknown =
        DynamicMessage::decode(unknown, envelope).map_err(|_| ProtobufError::Malformed)?;
    let text = |message: &DynamicMessage, name: &str| match message.get_field_by_name(name) {
        Some(value) => value.as_str().unwrap_or_default().to_owned(),
        None => String::new(),
    };
    let (api_version, kind) = match unknown.get_field_by_name("typeMeta").as_deref() {
        Some(Proto::Message(meta)) => (text(meta, "apiVersion"), text(meta, "kind")),
        _ => Default::default(),
    };
    let raw = unknown
        .get_field_by_name("raw")
        .and_then(|raw| raw.as_bytes().cloned())
        .unwrap_or_default();
    let Some(descriptor) = message_for(&api_version, &kind) else {
        return Err(ProtobufError::UnsupportedKind { api_version, kind });
    };
    let message = DynamicMessage::decode(descriptor, raw).map_err(|_| ProtobufError::Malformed)?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    if let Some(Value::Object(fields)) = message_json(&message)? {
        object.extend(fields);
    }
    Ok(Value::Object(object))
}

/// A message as Go's JSON encoding writes it; `None` where Go omits it (a zero time).
fn message_json(message: &DynamicMessage) -> Result<Option<Value>, ProtobufError> {
    let descriptor = message.descriptor();
    let field = |name: &str| message.get_field_by_name(name);
    let int = |name: &str| field(name).and_then(|v| v.as_i64().or(v.as_i32().map(i64::from)));
    let bytes = |name: &str| {
        field(name)
            .and_then(|v| v.as_bytes().cloned())
            .unwrap_or_default()
    };
    let raw_json = |name: &str| {
        let raw = bytes(name);
        if raw.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|_| ProtobufError::Malformed)
    };
    match descriptor.full_name() {
        // meta/v1 Time and MicroTime are Timestamps; Go writes RFC 3339
        // (MicroTime with six fractional digits) and the zero time as null.
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time" => {
            Ok(timestamp(int("seconds"), int("nanos"), false))
        }
        "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime" => {
            Ok(timestamp(int("seconds"), int("nanos"), true))
        }
        "k8s.io.apimachinery.pkg.apis.meta.v1.Duration" => {
            Ok(Some(json!(go_duration(int("duration").unwrap_or(0)))))
        }
        // intstr.IntOrString: type 1 is a string.
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => Ok(Some(if int("type") == Some(1) {
            json!(field("strVal").and_then(|v| v.as_str().map(str::to_owned)))
        } else {
            json!(int("intVal").unwrap_or(0))
        })),
        "k8s.io.apimachinery.pkg.api.resource.Quantity" => Ok(Some(json!(
            field("string").and_then(|v| v.as_str().map(str::to_owned))
        ))),
        "k8s.io.apimachinery.pkg.runtime.RawExtension" => raw_json("raw"),
        // The one field named unlike its JSON (`json:"-"`).
        "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1" => raw_json("Raw"),
        // `type ExtraValue []string` is a message wrapping the list.
        name if name.ends_with(".ExtraValue") => Ok(Some(json!(
            field("items")
                .and_then(|v| v.as_list().map(<[Proto]>::to_vec))
                .unwrap_or_default()
                .iter()
                .filter_map(Proto::as_str)
                .collect::<Vec<_>>()
        ))),
        _ => {
            let mut object = Map::new();
            for (field, value) in message.fields() {
                if let Some(json) = field_json(value, &field.kind())? {
                    object.insert(field.name().to_owned(), json);
                }
            }
            Ok(Some(Value::Object(object)))
        }
    }
}

/// One field's value; `None` for what Go's `omitempty` leaves out.
fn field_json(value: &Proto, kind: &Kind) -> Result<Option<Value>, ProtobufError> {
    Ok(match value {
        // go-to-protobuf writes non-pointer strings even when empty; Go's
        // JSON (omitempty) leaves them out, and defaulting then fills them.
        Proto::String(text) if text.is_empty() => None,
        Proto::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(element_json(item, kind)?);
            }
            Some(Value::Array(out))
        }
        Proto::Map(entries) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                _ => return Err(ProtobufError::Malformed),
            };
            // Go writes map keys sorted.
            let mut sorted = BTreeMap::new();
            for (key, value) in entries {
                let key = match key {
                    MapKey::String(key) => key.clone(),
                    other => format!("{other:?}"),
                };
                sorted.insert(key, element_json(value, &value_kind)?);
            }
            Some(Value::Object(sorted.into_iter().collect()))
        }
        Proto::Message(message) => message_json(message)?,
        other => Some(element_json(other, kind)?),
    })
}

/// A single value (also a list element or map value, which keep empty strings).
fn element_json(value: &Proto, _kind: &Kind) -> Result<Value, ProtobufError> {
    Ok(match value {
        Proto::Bool(b) => json!(b),
        Proto::I32(n) => json!(n),
        Proto::I64(n) => json!(n),
        Proto::U32(n) => json!(n),
        Proto::U64(n) => json!(n),
        Proto::F32(n) => json!(n),
        Proto::F64(n) => json!(n),
        Proto::EnumNumber(n) => json!(n),
        Proto::String(text) => json!(text),
        Proto::Bytes(bytes) => json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Proto::Message(message) => message_json(message)?.unwrap_or(Value::Null),
        Proto::List(_) | Proto::Map(_) => return Err(ProtobufError::Malformed),
    })
}

/// Seconds since the Unix epoch as Go's `time.Time` JSON; the zero time
/// (year 1, which `Unix()` gives as -62135596800) and 0 are left out.
fn timestamp(seconds: Option<i64>, nanos: Option<i64>, micro: bool) -> Option<Value> {
    const GO_ZERO_TIME: i64 = -62_135_596_800;
    let seconds = seconds.unwrap_or(0);
    if seconds == GO_ZERO_TIME || seconds == 0 {
        return None;
    }
    let nanos = i32::try_from(nanos.unwrap_or(0)).unwrap_or(0);
    let time = jiff::Timestamp::new(seconds, nanos).ok()?;
    Some(json!(if micro {
        format!("{}", time.strftime("%Y-%m-%dT%H:%M:%S.%6fZ"))
    } else {
        format!("{}", time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    }))
}

/// Nanoseconds as Go's `time.Duration.String()`: `1h2m3.5s`, `150ms`, `0s`.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000_000 {
        let (unit, scale) = if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(n, scale));
    }
    let (h, rest) = (n / 3_600_000_000_000, n % 3_600_000_000_000);
    let (m, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let seconds = fraction(rest, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

/// `n / scale` with the fraction's trailing zeros dropped.
fn fraction(n: u64, scale: u64) -> String {
    let (whole, part) = (n / scale, n % scale);
    if part == 0 {
        return whole.to_string();
    }
    let digits = scale.ilog10() as usize;
    let part = format!("{part:0digits$}");
    format!("{whole}.{}", part.trim_end_matches('0'))
}

#[cfg(test)]
mod tests;

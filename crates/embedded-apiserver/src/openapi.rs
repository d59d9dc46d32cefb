//! OpenAPI v2 and v3 documents for built-in and custom resources, as served at
//! `/openapi/v2` and `/openapi/v3[/<group-version>]`.
//!
//! What clients read (kubectl 1.27 … 1.33, Helm through the same client code):
//! - `GET /openapi/v3` lists one `serverRelativeURL` per group-version under
//!   `paths."api/v1"` or `paths."apis/<group>/<version>"`; the URL carries a
//!   `?hash=` of the document so that clients' HTTP caches notice changes.
//! - A group-version document has `paths` whose PATCH operations name their
//!   kind (`x-kubernetes-group-version-kind`) and take `fieldValidation`, and
//!   `components.schemas` where each kind's schema lists its GVKs; see
//!   [`paths`] for how kubectl's apply and explain use them.
//! - `/openapi/v2` is the same model in Swagger 2.0 form, one document for all.
//!
//! Built-in schemas come from k8s-openapi ([`builtin`]); a custom resource's
//! schema is its CRD version's `openAPIV3Schema` with the standard
//! `apiVersion`, `kind` and `metadata` fields, as kube-apiserver publishes it.

mod builtin;
mod paths;
mod swagger;

use crate::resource::ResourceInfo;
use builtin::BUILTIN_SCHEMAS;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// The extension naming the kinds of a schema (a list) or of an operation (one).
const GVK_EXTENSION: &str = "x-kubernetes-group-version-kind";
const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";
/// The Kubernetes version the documents describe; k8s-openapi's `v1_33`.
const API_VERSION_INFO: &str = "v1.33.0";

/// `GET /openapi/v3`: the index of group-version documents.
pub fn v3_index(resources: &[ResourceInfo]) -> Value {
    let paths: Map<String, Value> = group_versions(resources)
        .into_iter()
        .filter_map(|(group, version)| {
            let rendered = rendered_group_version(group, version, resources)?;
            let key = index_key(group, version);
            let url = format!("/openapi/v3/{key}?hash={}", rendered.hash);
            Some((key, json!({ "serverRelativeURL": url })))
        })
        .collect();
    json!({ "paths": paths })
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`; `None` when not served.
pub fn v3_group_version(group: &str, version: &str, resources: &[ResourceInfo]) -> Option<Value> {
    rendered_group_version(group, version, resources)
        .map(|rendered| Value::clone(&rendered.document))
}

/// A group-version document with its content hash.
#[derive(Clone)]
struct Rendered {
    /// Digest of the resources the document was rendered from.
    inputs: u128,
    document: Arc<Value>,
    hash: String,
}

/// Documents already rendered, by group-version. Rendering core/v1 takes
/// long enough in debug builds to matter on every `kubectl apply`, and the
/// index needs every document's hash; the inputs' digest keeps entries
/// valid across CRD changes and across servers in one process.
static RENDERED: LazyLock<Mutex<BTreeMap<(String, String), Rendered>>> =
    LazyLock::new(Default::default);

fn rendered_group_version(
    group: &str,
    version: &str,
    resources: &[ResourceInfo],
) -> Option<Rendered> {
    let served: Vec<&ResourceInfo> = resources
        .iter()
        .filter(|r| r.group == group && r.version == version && !r.plural.contains('/'))
        .collect();
    if served.is_empty() {
        return None;
    }
    let inputs = fnv1a_128(format!("{served:?}").as_bytes());
    let key = (group.to_owned(), version.to_owned());
    let mut cache = RENDERED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(rendered) = cache.get(&key).filter(|rendered| rendered.inputs == inputs) {
        return Some(rendered.clone());
    }
    let document = render_group_version(group, version, &served);
    let hash = format!(
        "{:032X}",
        fnv1a_128(&serde_json::to_vec(&document).expect("a JSON value serializes"))
    );
    let rendered = Rendered {
        inputs,
        document: Arc::new(document),
        hash,
    };
    cache.insert(key, rendered.clone());
    Some(rendered)
}

fn render_group_version(group: &str, version: &str, served: &[&ResourceInfo]) -> Value {
    let builtins = &*BUILTIN_SCHEMAS;
    let mut own_schemas: BTreeMap<String, Value> = BTreeMap::new();
    let mut paths: BTreeMap<String, Value> = BTreeMap::new();
    for &resource in served {
        let kind_schema = match builtins
            .schema_name(group, version, &resource.kind)
            .filter(|_| resource.schema.is_none())
        {
            Some(name) => name.to_owned(),
            None => {
                let name = custom_schema_name(resource, &resource.kind);
                own_schemas.insert(name.clone(), published_schema(resource));
                name
            }
        };
        let list_schema = sibling_schema_name(&kind_schema, &resource.list_kind);
        own_schemas.insert(list_schema.clone(), list_schema_for(resource, &kind_schema));
        let endpoint = paths::Endpoint {
            resource,
            kind_schema: &kind_schema,
            list_schema: &list_schema,
        };
        paths.extend(paths::resource_paths(&endpoint));
    }

    // Every schema the documents' operations and kinds refer to, transitively.
    let mut roots: Vec<String> = [
        builtin::OBJECT_META,
        builtin::LIST_META,
        builtin::STATUS,
        builtin::DELETE_OPTIONS,
        builtin::PATCH,
    ]
    .map(String::from)
    .into();
    for value in own_schemas.values().chain(paths.values()) {
        builtin::visit_references(value, &mut |target| roots.push(target.to_owned()));
    }
    let mut names = BTreeSet::new();
    builtin::collect_references(&builtins.schemas, roots, &mut names);
    let mut schemas: Map<String, Value> = names
        .into_iter()
        .filter_map(|name| {
            builtins
                .schemas
                .get(&name)
                .map(|schema| (name, schema.clone()))
        })
        .collect();
    schemas.extend(own_schemas);

    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": API_VERSION_INFO },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "BearerToken": { "type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header" } },
        },
    })
}

/// `GET /openapi/v2` as JSON.
pub fn v2(resources: &[ResourceInfo]) -> Value {
    let documents = group_versions(resources)
        .into_iter()
        .filter_map(|(group, version)| v3_group_version(group, version, resources));
    swagger::from_v3(documents, API_VERSION_INFO)
}

/// The `Content-Type` of [`v2_protobuf`] answers. kubectl asks for the older
/// spelling with `@v1.0`, which Go's MIME parser rejects in a response.
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Whether an `Accept` header asks `/openapi/v2` for protobuf (either spelling).
pub fn v2_protobuf_requested(accept: &str) -> bool {
    accept.split(',').any(|clause| {
        clause
            .trim()
            .starts_with("application/com.github.proto-openapi.spec.v2")
    })
}

/// `GET /openapi/v2` as protobuf (gnostic's `openapi.v2.Document`), when
/// [`v2_protobuf_requested`]; answer with [`V2_PROTOBUF_CONTENT_TYPE`].
///
/// kubectl 1.27 and 1.28 download this document before every validating
/// apply and fail unless it parses; newer kubectl reads it only when the v3
/// documents are unusable. It carries the header and no definitions: with
/// `fieldValidation` advertised in v3, kubectl leaves validation to the
/// server and computes patches from v3 or its compiled-in types.
pub fn v2_protobuf(_resources: &[ResourceInfo]) -> Vec<u8> {
    swagger::header_protobuf(API_VERSION_INFO)
}

/// The served group-versions, in a stable order.
fn group_versions(resources: &[ResourceInfo]) -> BTreeSet<(&str, &str)> {
    resources
        .iter()
        .filter(|r| !r.plural.contains('/'))
        .map(|r| (r.group.as_str(), r.version.as_str()))
        .collect()
}

/// The key of a group-version in the `/openapi/v3` index.
fn index_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// One `x-kubernetes-group-version-kind` entry.
fn gvk_extension_entry(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// The component name kube-apiserver gives a custom kind: the reversed group,
/// the version and the kind, e.g. `io.gastown.v1alpha1.Gastown`.
fn custom_schema_name(resource: &ResourceInfo, kind: &str) -> String {
    let reversed_group: Vec<&str> = resource
        .group
        .split('.')
        .rev()
        .filter(|s| !s.is_empty())
        .collect();
    let mut segments = reversed_group;
    segments.extend([resource.version.as_str(), kind]);
    segments.join(".")
}

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// The name of another kind's schema in the same package as `schema_name`,
/// e.g. `io.k8s.api.apps.v1.DeploymentList` beside `…Deployment`.
fn sibling_schema_name(schema_name: &str, kind: &str) -> String {
    match schema_name.rsplit_once('.') {
        Some((package, _)) => format!("{package}.{kind}"),
        None => kind.to_owned(),
    }
}

/// The schema of a kind without a k8s-openapi type: the CRD's
/// `openAPIV3Schema` (or, lacking one, an object that keeps any field) with
/// `apiVersion`, `kind` and `metadata` as kube-apiserver adds them.
fn published_schema(resource: &ResourceInfo) -> Value {
    let mut schema = match &resource.schema {
        Some(Value::Object(schema)) => schema.clone(),
        _ => Map::from_iter([(
            "x-kubernetes-preserve-unknown-fields".to_owned(),
            Value::Bool(true),
        )]),
    };
    schema.insert("type".into(), "object".into());
    let properties = schema.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(properties) = properties {
        properties.insert(
            "apiVersion".into(),
            json!({ "type": "string", "description": API_VERSION_DESCRIPTION }),
        );
        properties.insert(
            "kind".into(),
            json!({ "type": "string", "description": KIND_DESCRIPTION }),
        );
        properties.insert(
            "metadata".into(),
            json!({
                "allOf": [{ "$ref": format!("{SCHEMA_REF_PREFIX}{}", builtin::OBJECT_META) }],
                "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            }),
        );
    }
    schema.insert(
        GVK_EXTENSION.into(),
        json!([gvk_extension_entry(
            &resource.group,
            &resource.version,
            &resource.kind
        )]),
    );
    Value::Object(schema)
}

/// The schema of a kind's list, e.g. `DeploymentList`.
fn list_schema_for(resource: &ResourceInfo, kind_schema: &str) -> Value {
    json!({
        "description": format!("{} is a list of {}", resource.list_kind, resource.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": { "type": "string", "description": API_VERSION_DESCRIPTION },
            "items": {
                "description": format!("List of {}.", resource.plural),
                "type": "array",
                "items": { "$ref": format!("{SCHEMA_REF_PREFIX}{kind_schema}") },
            },
            "kind": { "type": "string", "description": KIND_DESCRIPTION },
            "metadata": {
                "allOf": [{ "$ref": format!("{SCHEMA_REF_PREFIX}{}", builtin::LIST_META) }],
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            },
        },
        GVK_EXTENSION: [gvk_extension_entry(&resource.group, &resource.version, &resource.list_kind)],
    })
}

/// 128-bit FNV-1a: stable across processes and builds, unlike std's hasher,
/// so clients' HTTP caches keyed by `?hash=` stay right across restarts.
/// (kube-apiserver uses SHA-512; any stable digest serves the clients.)
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    bytes.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u128::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests;

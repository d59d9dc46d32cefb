//! Hand-written schema fragments for fields whose derived schema would say too little (or far
//! too much) to the API server.
//!
//! k8s-openapi's `Quantity` schema carries a two-kilobyte description and no pattern, so a
//! typo such as `memory: 1GB` would be stored and only fail when a pod is created. The
//! fragments here give quantities the pattern the Kubernetes API itself uses and keep the
//! generated CRDs readable.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// The pattern of a Kubernetes resource quantity (as in the API server's own OpenAPI).
pub const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// The pattern of a rig name: the beads rig name as a DNS-1035 label (lower case letters,
/// digits and `-`, starting with a letter, ending with a letter or digit), because it becomes
/// part of pod, claim and PriorityClass names and a label value.
pub const RIG_NAME_PATTERN: &str = r"^[a-z]([-a-z0-9]*[a-z0-9])?$";

/// The longest rig name accepted: room is left for the `gt-<rig>-<role>-<agent>` pod names.
pub const RIG_NAME_MAX_LENGTH: u32 = 40;

/// The longest GasTown name: it prefixes the town's Services (`<town>-bd-daemon`) and its
/// dolt StatefulSet, whose pods' revision label must stay within 63 characters.
pub const TOWN_NAME_MAX_LENGTH: usize = 40;

/// The longest town and rig names together: the rig's polecat AgentPool is named
/// `<town>-<rig>-polecats`, and a pool's name is a label value (63 characters at most).
pub const TOWN_AND_RIG_NAME_MAX_LENGTH: usize = 52;

/// The longest Rig object name: its polecat AgentPool is `<rig object>-polecats`, a label value.
pub const RIG_OBJECT_NAME_MAX_LENGTH: usize = 54;

/// The longest AgentPool name: pods carry it as the value of the `gastown.io/pool` label.
pub const POOL_NAME_MAX_LENGTH: usize = 63;

/// The pattern of names that end up inside Kubernetes object names (crew members, secrets).
pub const DNS_LABEL_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// The pattern of a Kubernetes object name (DNS-1123 subdomain).
pub const DNS_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// The pattern of a key inside a Secret.
pub const SECRET_KEY_PATTERN: &str = r"^[-._a-zA-Z0-9]+$";

/// The pattern of a container image reference: no whitespace, no upper-case repository
/// shorthand checks (registries differ); the API server only needs to refuse obvious garbage.
pub const IMAGE_PATTERN: &str = r"^[^\s]+$";

/// How many entries a `requests` or `limits` map may hold (keeps CEL cost estimates bounded).
const RESOURCE_MAP_MAX_PROPERTIES: u32 = 16;

/// The longest quantity text accepted.
pub const QUANTITY_MAX_LENGTH: u32 = 64;

/// Schema of a single resource quantity (`500m`, `2`, `10Gi`).
pub fn quantity(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A Kubernetes resource quantity, such as 500m, 2 or 10Gi.",
        "x-kubernetes-int-or-string": true,
        "pattern": QUANTITY_PATTERN,
        "maxLength": QUANTITY_MAX_LENGTH,
    })
}

/// Schema of a container's compute resources: `requests` and `limits` maps of quantities.
///
/// There is deliberately no CEL rule comparing requests with limits: quantities are
/// int-or-string (`dyn` in CEL), so such a rule needs `string()` or `type()`. The API server's
/// cost estimator cannot bound the size of a `string()` result and would refuse the whole
/// CRD, and kube-cel (the embedded API server's evaluator) does not implement `type()`. The
/// pod's own validation reports a request above its limit when the agent pod is created.
///
/// The Rust type stays `k8s_openapi::api::core::v1::ResourceRequirements`; its `claims` are
/// not part of this API (agent pods do not use dynamic resource allocation), so they are
/// pruned by the API server.
pub fn resource_requirements(generator: &mut SchemaGenerator) -> Schema {
    let quantity_map = |what: &str, generator: &mut SchemaGenerator| {
        json_schema!({
            "description": what,
            "type": "object",
            "maxProperties": RESOURCE_MAP_MAX_PROPERTIES,
            "additionalProperties": quantity(generator),
        })
    };
    json_schema!({
        "description": "Compute resources of the container (requests and limits, e.g. cpu: 500m, memory: 1Gi).",
        "type": "object",
        "properties": {
            "requests": quantity_map("Minimum resources the container is scheduled with.", generator),
            "limits": quantity_map("Maximum resources the container may use.", generator),
        },
    })
}

/// Schema of a free-form object whose keys are not known to this API (e.g. dolt's config.yaml).
pub fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Schema of a k8s-openapi type without the upstream descriptions of its nested fields.
///
/// Used for large upstream types (affinity, tolerations, network policy rules) so that the
/// GasTown CRD, which embeds the pod template several times, stays far below the size the
/// API server and `kubectl apply` accept. The top-level description is kept.
pub fn without_nested_descriptions<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<T>();
    if let Some(object) = schema.as_object_mut() {
        strip_descriptions(object, true);
    }
    schema
}

/// Schema of `T` with no `default` anywhere in it, for the items of a list.
///
/// CRDs take JSON merge patches, which replace a list whole. A default inside a list item is
/// filled into the stored list but is absent from the manifest's, so a client-side
/// `kubectl apply` (and Argo CD) sees the list as changed on every run. Inside lists the
/// operator resolves those defaults itself, through the typed accessors.
pub fn without_defaults<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<T>();
    if let Some(object) = schema.as_object_mut() {
        strip_defaults(object);
    }
    schema
}

pub(crate) fn strip_defaults(object: &mut serde_json::Map<String, serde_json::Value>) {
    object.remove("default");
    for (key, value) in object.iter_mut() {
        // `properties` maps field names to schemas; everything else nests schemas directly.
        let nested = if key == "properties" {
            value
                .as_object_mut()
                .map(|props| props.values_mut().collect::<Vec<_>>())
        } else {
            match value {
                serde_json::Value::Object(_) => Some(vec![value]),
                serde_json::Value::Array(items) => Some(items.iter_mut().collect()),
                _ => None,
            }
        };
        for schema in nested.into_iter().flatten() {
            if let Some(schema) = schema.as_object_mut() {
                strip_defaults(schema);
            }
        }
    }
}

/// Volume and mount names the agent pod already uses for its workspace and scratch space.
pub const RESERVED_VOLUME_NAMES: [&str; 2] = ["workspace", "tmp"];

/// CEL: no extra volume takes a reserved name.
pub(crate) const NO_RESERVED_VOLUME_NAMES_RULE: &str =
    "self.all(volume, !(volume.name in ['workspace', 'tmp']))";

/// Schema of extra pod volumes: Kubernetes `Volume`s whose names are bounded DNS labels (the
/// bound keeps the cost of the reserved-name rule small).
pub fn volumes(generator: &mut SchemaGenerator) -> Schema {
    let mut schema =
        without_nested_descriptions::<Option<Vec<k8s_openapi::api::core::v1::Volume>>>(generator);
    if let Some(name) = schema
        .as_object_mut()
        .and_then(|list| list.get_mut("items"))
        .and_then(|item| item.get_mut("properties"))
        .and_then(|properties| properties.get_mut("name"))
        .and_then(serde_json::Value::as_object_mut)
    {
        name.insert("maxLength".into(), 63.into());
        name.insert("pattern".into(), DNS_LABEL_PATTERN.into());
    }
    schema
}

fn strip_descriptions(object: &mut serde_json::Map<String, serde_json::Value>, keep_own: bool) {
    if !keep_own {
        object.remove("description");
    }
    for (key, value) in object.iter_mut() {
        // `properties` maps field names to schemas; everything else nests schemas directly.
        let nested = if key == "properties" {
            value
                .as_object_mut()
                .map(|props| props.values_mut().collect::<Vec<_>>())
        } else {
            match value {
                serde_json::Value::Object(_) => Some(vec![value]),
                serde_json::Value::Array(items) => Some(items.iter_mut().collect()),
                _ => None,
            }
        };
        for schema in nested.into_iter().flatten() {
            if let Some(schema) = schema.as_object_mut() {
                strip_descriptions(schema, false);
            }
        }
    }
}

/// Drops an enum type's own description, so that the description of the field using it
/// (which says what the field means and its default) is what `kubectl explain` shows.
pub(crate) fn drop_type_description(schema: &mut Schema) {
    schema.remove("description");
}

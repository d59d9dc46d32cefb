//! The built-in kinds this server serves, and how each is checked: every write
//! is decoded into its k8s-openapi type so that what the real server refuses
//! for a missing or mistyped field is refused here too.

use crate::errors::FieldError;
use crate::names::NameRule;
use crate::resource::ResourceInfo;
use k8s_openapi::api::{
    apps, batch, coordination, core, events, networking, policy, rbac, scheduling,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::any::TypeId;

/// Everything the server knows about a built-in kind beyond its discovery data.
#[derive(Clone, Debug)]
pub struct BuiltinKind {
    pub info: ResourceInfo,
    pub name_rule: NameRule,
    /// Whether `metadata.generation` is kept (kinds with a spec that controllers observe).
    pub tracks_generation: bool,
    /// Field selectors beyond `metadata.name` / `metadata.namespace`.
    pub selectable_fields: &'static [&'static str],
    /// Decodes the object into its k8s-openapi type.
    pub decode: fn(&Value) -> Result<(), Vec<FieldError>>,
    /// The type's JSON schema, for required fields (k8s-openapi's decoding
    /// defaults them); generated on first use.
    pub schema: fn() -> Value,
}

pub const ALL_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Decodes `object` as `T`, turning serde's first error into the field error
/// upstream would report (`spec.containers: Required value`, ...).
pub(crate) fn decode_as<T: DeserializeOwned>(object: &Value) -> Result<(), Vec<FieldError>> {
    match serde_path_to_error::deserialize::<_, T>(object) {
        Ok(_) => Ok(()),
        Err(err) => {
            let path = err.path().to_string();
            let message = err.inner().to_string();
            let at = |child: &str| {
                if path == "." {
                    child.to_owned()
                } else {
                    format!("{path}.{child}")
                }
            };
            let error = match message
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next())
            {
                Some(field) => FieldError::required(at(field), None),
                None => {
                    let value = object
                        .pointer(&json_pointer(&path))
                        .cloned()
                        .unwrap_or(Value::Null);
                    FieldError::invalid(
                        if path == "." {
                            "<root>".to_owned()
                        } else {
                            path
                        },
                        value,
                        message,
                    )
                }
            };
            Err(vec![error])
        }
    }
}

pub(crate) fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("schemas serialize")
}

/// `spec.containers[0].name` → `/spec/containers/0/name`.
fn json_pointer(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    path.replace('[', ".")
        .replace(']', "")
        .split('.')
        .fold(String::new(), |mut acc, part| {
            acc.push('/');
            acc.push_str(part);
            acc
        })
}

pub(crate) struct Spec {
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub status: bool,
    pub name_rule: NameRule,
    pub generation: bool,
    pub fields: &'static [&'static str],
}

pub(crate) const DEFAULT: Spec = Spec {
    plural: "",
    singular: "",
    short_names: &[],
    categories: &[],
    status: false,
    name_rule: NameRule::Dns1123Subdomain,
    generation: false,
    fields: &[],
};

pub(crate) fn kind<T>(spec: Spec) -> BuiltinKind
where
    T: k8s_openapi::Resource
        + k8s_openapi::ListableResource
        + DeserializeOwned
        + schemars::JsonSchema
        + 'static,
{
    let namespaced = TypeId::of::<T::Scope>() == TypeId::of::<NamespaceResourceScope>();
    debug_assert!(namespaced || TypeId::of::<T::Scope>() == TypeId::of::<ClusterResourceScope>());
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    BuiltinKind {
        info: ResourceInfo {
            group: T::GROUP.to_owned(),
            version: T::VERSION.to_owned(),
            kind: T::KIND.to_owned(),
            list_kind: T::LIST_KIND.to_owned(),
            plural: spec.plural.to_owned(),
            singular: spec.singular.to_owned(),
            namespaced,
            short_names: strings(spec.short_names),
            categories: strings(spec.categories),
            verbs: strings(&ALL_VERBS),
            status_subresource: spec.status,
            printer_columns: Vec::new(),
            schema: None,
            custom: false,
        },
        name_rule: spec.name_rule,
        tracks_generation: spec.generation,
        selectable_fields: spec.fields,
        decode: decode_as::<T>,
        schema: schema_of::<T>,
    }
}

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// The built-in kinds, in discovery order.
pub fn kinds() -> Vec<BuiltinKind> {
    use NameRule::*;
    let mut kinds = vec![
        kind::<core::v1::Namespace>(Spec {
            plural: "namespaces",
            singular: "namespace",
            short_names: &["ns"],
            status: true,
            name_rule: Dns1123Label,
            fields: &["status.phase"],
            ..DEFAULT
        }),
        kind::<core::v1::Node>(Spec {
            plural: "nodes",
            singular: "node",
            short_names: &["no"],
            status: true,
            fields: &["spec.unschedulable"],
            ..DEFAULT
        }),
        kind::<core::v1::Pod>(Spec {
            plural: "pods",
            singular: "pod",
            short_names: &["po"],
            categories: &["all"],
            status: true,
            fields: POD_FIELDS,
            ..DEFAULT
        }),
        kind::<core::v1::Service>(Spec {
            plural: "services",
            singular: "service",
            short_names: &["svc"],
            categories: &["all"],
            status: true,
            name_rule: Dns1035Label,
            ..DEFAULT
        }),
        kind::<core::v1::ConfigMap>(Spec {
            plural: "configmaps",
            singular: "configmap",
            short_names: &["cm"],
            ..DEFAULT
        }),
        kind::<core::v1::Secret>(Spec {
            plural: "secrets",
            singular: "secret",
            fields: &["type"],
            ..DEFAULT
        }),
        kind::<core::v1::ServiceAccount>(Spec {
            plural: "serviceaccounts",
            singular: "serviceaccount",
            short_names: &["sa"],
            ..DEFAULT
        }),
        kind::<core::v1::PersistentVolumeClaim>(Spec {
            plural: "persistentvolumeclaims",
            singular: "persistentvolumeclaim",
            short_names: &["pvc"],
            status: true,
            ..DEFAULT
        }),
        kind::<core::v1::ResourceQuota>(Spec {
            plural: "resourcequotas",
            singular: "resourcequota",
            short_names: &["quota"],
            status: true,
            ..DEFAULT
        }),
        kind::<core::v1::Event>(Spec {
            plural: "events",
            singular: "event",
            short_names: &["ev"],
            fields: EVENT_FIELDS,
            ..DEFAULT
        }),
        kind::<events::v1::Event>(Spec {
            plural: "events",
            singular: "event",
            short_names: &["ev"],
            ..DEFAULT
        }),
        kind::<apps::v1::StatefulSet>(Spec {
            plural: "statefulsets",
            singular: "statefulset",
            short_names: &["sts"],
            categories: &["all"],
            status: true,
            generation: true,
            ..DEFAULT
        }),
        kind::<apps::v1::Deployment>(Spec {
            plural: "deployments",
            singular: "deployment",
            short_names: &["deploy"],
            categories: &["all"],
            status: true,
            generation: true,
            ..DEFAULT
        }),
        // Nothing creates ReplicaSets here, but Helm's `--wait` (kstatus)
        // lists a Deployment's ReplicaSets and fails when the kind is unknown.
        kind::<apps::v1::ReplicaSet>(Spec {
            plural: "replicasets",
            singular: "replicaset",
            short_names: &["rs"],
            categories: &["all"],
            status: true,
            generation: true,
            ..DEFAULT
        }),
        kind::<batch::v1::Job>(Spec {
            plural: "jobs",
            singular: "job",
            categories: &["all"],
            status: true,
            generation: true,
            ..DEFAULT
        }),
        kind::<batch::v1::CronJob>(Spec {
            plural: "cronjobs",
            singular: "cronjob",
            short_names: &["cj"],
            categories: &["all"],
            status: true,
            generation: true,
            ..DEFAULT
        }),
        kind::<rbac::v1::Role>(Spec {
            plural: "roles",
            singular: "role",
            name_rule: PathSegment,
            ..DEFAULT
        }),
        kind::<rbac::v1::RoleBinding>(Spec {
            plural: "rolebindings",
            singular: "rolebinding",
            name_rule: PathSegment,
            ..DEFAULT
        }),
        kind::<rbac::v1::ClusterRole>(Spec {
            plural: "clusterroles",
            singular: "clusterrole",
            name_rule: PathSegment,
            ..DEFAULT
        }),
        kind::<rbac::v1::ClusterRoleBinding>(Spec {
            plural: "clusterrolebindings",
            singular: "clusterrolebinding",
            name_rule: PathSegment,
            ..DEFAULT
        }),
        kind::<networking::v1::NetworkPolicy>(Spec {
            plural: "networkpolicies",
            singular: "networkpolicy",
            short_names: &["netpol"],
            generation: true,
            ..DEFAULT
        }),
        kind::<policy::v1::PodDisruptionBudget>(Spec {
            plural: "poddisruptionbudgets",
            singular: "poddisruptionbudget",
            short_names: &["pdb"],
            status: true,
            generation: true,
            ..DEFAULT
        }),
        kind::<scheduling::v1::PriorityClass>(Spec {
            plural: "priorityclasses",
            singular: "priorityclass",
            short_names: &["pc"],
            ..DEFAULT
        }),
        kind::<coordination::v1::Lease>(Spec {
            plural: "leases",
            singular: "lease",
            ..DEFAULT
        }),
        kind::<CustomResourceDefinition>(Spec {
            plural: "customresourcedefinitions",
            singular: "customresourcedefinition",
            short_names: &["crd", "crds"],
            categories: &["api-extensions"],
            status: true,
            generation: true,
            ..DEFAULT
        }),
    ];
    kinds.extend(crate::protocol_kinds::kinds());
    kinds
}

/// Kind-specific changes upstream makes to every write before storing it.
pub fn normalize(info: &ResourceInfo, object: &mut Value) {
    if info.group.is_empty() && info.kind == "Secret" {
        fold_string_data(object);
    }
}

/// Secrets: `stringData` is write-only; its entries are base64-encoded into `data`.
fn fold_string_data(secret: &mut Value) {
    use base64::Engine as _;
    let Some(Value::Object(string_data)) =
        secret.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    let data = secret
        .as_object_mut()
        .expect("secret is an object")
        .entry("data")
        .or_insert_with(|| Value::Object(Default::default()));
    if !data.is_object() {
        *data = Value::Object(Default::default());
    }
    let data = data.as_object_mut().expect("data was just made an object");
    for (key, value) in string_data {
        if let Value::String(text) = value {
            data.insert(
                key,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

/// The status upstream gives a new object of this kind (status writes on create are dropped).
pub fn initial_status(info: &ResourceInfo, object: &Value) -> Option<Value> {
    if info.custom {
        return None;
    }
    match (info.group.as_str(), info.kind.as_str()) {
        ("", "Pod") => {
            Some(serde_json::json!({ "phase": "Pending", "qosClass": qos_class(object) }))
        }
        ("", "Namespace") => Some(serde_json::json!({ "phase": "Active" })),
        // Kubelets register their nodes with a status (`nodeStrategy` keeps it).
        ("", "Node") => object.get("status").cloned(),
        ("", "PersistentVolumeClaim") => Some(serde_json::json!({ "phase": "Pending" })),
        ("", "Service") => Some(serde_json::json!({ "loadBalancer": {} })),
        // Status types with required counters start at zero, as upstream's
        // empty status serializes.
        ("apps", "StatefulSet") => {
            Some(serde_json::json!({ "replicas": 0, "availableReplicas": 0 }))
        }
        ("apps", "ReplicaSet") => Some(serde_json::json!({ "replicas": 0 })),
        ("policy", "PodDisruptionBudget") => Some(serde_json::json!({
            "currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0
        })),
        ("apiextensions.k8s.io", _) => None,
        _ if info.status_subresource => Some(serde_json::json!({})),
        _ => object.get("status").cloned(),
    }
}

/// A pod's QoS class from its containers' requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let amounts = |c: &Value, which: &str, res: &str| {
        c.pointer(&format!("/resources/{which}/{res}")).cloned()
    };
    let any_set = containers.iter().any(|c| {
        ["requests", "limits"]
            .iter()
            .any(|w| ["cpu", "memory"].iter().any(|r| amounts(c, w, r).is_some()))
    });
    if !any_set {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = amounts(c, "limits", r);
            let request = amounts(c, "requests", r).or_else(|| limit.clone());
            limit.is_some() && limit == request
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(kind: &str) -> BuiltinKind {
        kinds()
            .into_iter()
            .find(|k| k.info.kind == kind && k.info.group.is_empty())
            .unwrap()
    }

    #[test]
    fn decoding_and_schema_errors_name_the_field() {
        let pod = find("Pod");
        assert!(pod.info.namespaced);
        let errors =
            (pod.decode)(&json!({ "spec": { "containers": [{ "name": 7 }] } })).unwrap_err();
        assert_eq!(errors[0].field, "spec.containers[0].name");
        let errors =
            crate::shape::check(&(pod.schema)(), &json!({ "spec": { "containers": [{}] } }))
                .missing;
        assert_eq!(
            errors[0].to_string(),
            "spec.containers[0].name: Required value"
        );
    }

    #[test]
    fn wrong_types_are_invalid_values() {
        let cm = find("ConfigMap");
        let errors = (cm.decode)(&json!({ "data": { "a": 1 } })).unwrap_err();
        assert_eq!(errors[0].field, "data.a");
        assert!(
            errors[0]
                .body()
                .starts_with("Invalid value: 1: invalid type"),
            "{}",
            errors[0].body()
        );
    }

    #[test]
    fn scopes_come_from_k8s_openapi() {
        assert!(!find("Namespace").info.namespaced);
        let crd = kinds()
            .into_iter()
            .find(|k| k.info.kind == "CustomResourceDefinition")
            .unwrap();
        assert!(!crd.info.namespaced);
        assert_eq!(crd.info.group, "apiextensions.k8s.io");
    }

    #[test]
    fn secret_string_data_is_folded_into_data() {
        let mut secret = json!({ "stringData": { "token": "abc" }, "data": { "x": "eQ==" } });
        normalize(&find("Secret").info, &mut secret);
        assert_eq!(secret, json!({ "data": { "x": "eQ==", "token": "YWJj" } }));
    }

    #[test]
    fn qos_classes() {
        let pod = |resources: Value| json!({ "spec": { "containers": [{ "name": "a", "resources": resources }] } });
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&pod(json!({ "requests": { "cpu": "1" } }))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&pod(json!({ "limits": { "cpu": "1", "memory": "1Gi" } }))),
            "Guaranteed"
        );
    }
}

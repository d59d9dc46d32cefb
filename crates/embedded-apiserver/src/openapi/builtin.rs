//! Schemas of the built-in kinds, generated from k8s-openapi's `schemars`
//! implementations and completed with what kube-apiserver publishes but
//! k8s-openapi leaves out: the group-version-kind of every top-level kind and
//! the strategic-merge-patch directives of list fields.

use super::{GVK_EXTENSION, gvk_extension_entry};
use k8s_openapi::api::{
    apps, batch, coordination, core, events, networking, policy, rbac, scheduling,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Schema names of the `meta.k8s.io/v1` types every group-version document
/// refers to from its operations.
pub(super) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(super) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// One built-in kind that the server may serve, tied to its k8s-openapi type.
struct BuiltinKind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    /// Registers the type's schema (and everything it refers to) with the
    /// generator and returns the `$ref` to it.
    register: fn(&mut SchemaGenerator) -> Schema,
}

impl BuiltinKind {
    const fn of<T: k8s_openapi::Resource + JsonSchema>() -> Self {
        BuiltinKind {
            group: T::GROUP,
            version: T::VERSION,
            kind: T::KIND,
            register: register::<T>,
        }
    }
}

fn register<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Every built-in kind with a published schema: the kinds the operator,
/// kubectl and Helm touch, plus a few cheap neighbours.
const BUILTIN_KINDS: &[BuiltinKind] = &[
    BuiltinKind::of::<core::v1::Namespace>(),
    BuiltinKind::of::<core::v1::Pod>(),
    BuiltinKind::of::<core::v1::Service>(),
    BuiltinKind::of::<core::v1::Endpoints>(),
    BuiltinKind::of::<core::v1::ConfigMap>(),
    BuiltinKind::of::<core::v1::Secret>(),
    BuiltinKind::of::<core::v1::ServiceAccount>(),
    BuiltinKind::of::<core::v1::PersistentVolumeClaim>(),
    BuiltinKind::of::<core::v1::PersistentVolume>(),
    BuiltinKind::of::<core::v1::ResourceQuota>(),
    BuiltinKind::of::<core::v1::LimitRange>(),
    BuiltinKind::of::<core::v1::Event>(),
    BuiltinKind::of::<core::v1::Node>(),
    BuiltinKind::of::<events::v1::Event>(),
    BuiltinKind::of::<apps::v1::StatefulSet>(),
    BuiltinKind::of::<apps::v1::Deployment>(),
    BuiltinKind::of::<apps::v1::ReplicaSet>(),
    BuiltinKind::of::<apps::v1::DaemonSet>(),
    BuiltinKind::of::<apps::v1::ControllerRevision>(),
    BuiltinKind::of::<batch::v1::Job>(),
    BuiltinKind::of::<batch::v1::CronJob>(),
    BuiltinKind::of::<rbac::v1::Role>(),
    BuiltinKind::of::<rbac::v1::RoleBinding>(),
    BuiltinKind::of::<rbac::v1::ClusterRole>(),
    BuiltinKind::of::<rbac::v1::ClusterRoleBinding>(),
    BuiltinKind::of::<networking::v1::NetworkPolicy>(),
    BuiltinKind::of::<policy::v1::PodDisruptionBudget>(),
    BuiltinKind::of::<scheduling::v1::PriorityClass>(),
    BuiltinKind::of::<coordination::v1::Lease>(),
    BuiltinKind::of::<apiextensions::v1::CustomResourceDefinition>(),
];

/// `(schema, property, x-kubernetes-patch-strategy, x-kubernetes-patch-merge-key)`
/// as kube-apiserver v1.33 publishes them (the `patchStrategy`/`patchMergeKey`
/// struct tags of k8s.io/api and k8s.io/apimachinery). kubectl's client-side
/// apply computes strategic merge patches from these.
#[rustfmt::skip]
const PATCH_DIRECTIVES: &[(&str, &str, &str, Option<&str>)] = &[
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", "merge", Some("uid")),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", "merge", None),
    ("io.k8s.api.core.v1.Container", "ports", "merge", Some("containerPort")),
    ("io.k8s.api.core.v1.Container", "env", "merge", Some("name")),
    ("io.k8s.api.core.v1.Container", "volumeMounts", "merge", Some("mountPath")),
    ("io.k8s.api.core.v1.Container", "volumeDevices", "merge", Some("devicePath")),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", "merge", Some("containerPort")),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", "merge", Some("name")),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", "merge", Some("mountPath")),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", "merge", Some("devicePath")),
    ("io.k8s.api.core.v1.ContainerStatus", "volumeMounts", "merge", Some("mountPath")),
    ("io.k8s.api.core.v1.ContainerStatus", "allocatedResourcesStatus", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "volumes", "merge,retainKeys", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "containers", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", "merge", Some("ip")),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", "merge", Some("topologyKey")),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", "merge,retainKeys", Some("name")),
    ("io.k8s.api.core.v1.PodStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", "merge", Some("ip")),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", "merge", Some("ip")),
    ("io.k8s.api.core.v1.PodStatus", "resourceClaimStatuses", "merge,retainKeys", Some("name")),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "merge", Some("port")),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", "merge", Some("name")),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", "merge", None),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", "merge", Some("type")),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", "retainKeys", None),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.batch.v1.JobStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector", "replace", None),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", "conditions", "merge", Some("type")),
];

type GroupVersionKind = (&'static str, &'static str, &'static str);

/// The component schemas of all built-in kinds, keyed by schema name, and
/// the schema name of each built-in group-version-kind.
pub(super) struct BuiltinSchemas {
    pub(super) schemas: BTreeMap<String, Value>,
    kinds: Vec<(GroupVersionKind, String)>,
}

impl BuiltinSchemas {
    /// The schema name of a built-in kind, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub(super) fn schema_name(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .iter()
            .find(|(gvk, _)| *gvk == (group, version, kind))
            .map(|(_, name)| name.as_str())
    }
}

/// Generated once: k8s-openapi's schemas are fixed at compile time.
pub(super) static BUILTIN_SCHEMAS: LazyLock<BuiltinSchemas> = LazyLock::new(generate);

fn generate() -> BuiltinSchemas {
    let mut generator = SchemaGenerator::new(SchemaSettings::openapi3());
    let mut kinds = Vec::with_capacity(BUILTIN_KINDS.len());
    for builtin in BUILTIN_KINDS {
        let reference = (builtin.register)(&mut generator);
        let name = ref_target(reference.as_value()).expect("a k8s-openapi kind is a named schema");
        kinds.push((
            (builtin.group, builtin.version, builtin.kind),
            name.to_owned(),
        ));
    }
    for register in [
        register::<meta::ListMeta>,
        register::<meta::Status>,
        register::<meta::DeleteOptions>,
        register::<meta::Patch>,
    ] {
        register(&mut generator);
    }
    let mut schemas: BTreeMap<String, Value> =
        generator.take_definitions(true).into_iter().collect();

    for ((group, version, kind), name) in &kinds {
        if let Some(Value::Object(schema)) = schemas.get_mut(name) {
            schema.insert(
                GVK_EXTENSION.into(),
                json!([gvk_extension_entry(group, version, kind)]),
            );
        }
    }
    for (schema_name, property, strategy, merge_key) in PATCH_DIRECTIVES {
        let Some(property) = schemas
            .get_mut(*schema_name)
            .and_then(|schema| schema.pointer_mut(&format!("/properties/{property}")))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        property.insert("x-kubernetes-patch-strategy".into(), (*strategy).into());
        if let Some(key) = merge_key {
            property.insert("x-kubernetes-patch-merge-key".into(), (*key).into());
        }
    }
    // `Patch` is a body of any of the patch content types; kube-apiserver
    // publishes it as a plain object.
    schemas.insert(PATCH.into(), json!({ "type": "object", "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body." }));
    BuiltinSchemas { schemas, kinds }
}

/// The schema name a `$ref` (possibly wrapped in a single-element `allOf`,
/// the form kube-apiserver and schemars' OpenAPI 3 settings use) points to.
pub(super) fn ref_target(schema: &Value) -> Option<&str> {
    let reference = schema
        .get("$ref")
        .or_else(|| schema.pointer("/allOf/0/$ref"))?;
    reference.as_str()?.strip_prefix(super::SCHEMA_REF_PREFIX)
}

/// Adds to `names` every schema that `roots` refer to, directly or not.
pub(super) fn collect_references(
    schemas: &BTreeMap<String, Value>,
    roots: impl IntoIterator<Item = String>,
    names: &mut std::collections::BTreeSet<String>,
) {
    let mut pending: Vec<String> = roots.into_iter().collect();
    while let Some(name) = pending.pop() {
        if !names.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = schemas.get(&name) {
            visit_references(schema, &mut |target| {
                if !names.contains(target) {
                    pending.push(target.to_owned());
                }
            });
        }
    }
}

/// Calls `found` with the target of every `$ref` inside `value`.
pub(super) fn visit_references(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            if let Some(target) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(super::SCHEMA_REF_PREFIX))
            {
                found(target);
            }
            map.values().for_each(|v| visit_references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| visit_references(v, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_patch_directive_lands_on_a_generated_property() {
        for (schema_name, property, strategy, _) in PATCH_DIRECTIVES {
            let published = BUILTIN_SCHEMAS.schemas[*schema_name]["properties"][*property]["x-kubernetes-patch-strategy"].as_str();
            assert_eq!(published, Some(*strategy), "{schema_name}.{property}");
        }
    }

    #[test]
    fn every_builtin_kind_is_named_and_generated() {
        for builtin in BUILTIN_KINDS {
            let name = BUILTIN_SCHEMAS
                .schema_name(builtin.group, builtin.version, builtin.kind)
                .expect("named");
            assert!(name.ends_with(&format!(".{}", builtin.kind)), "{name}");
            assert!(
                BUILTIN_SCHEMAS.schemas[name][GVK_EXTENSION].is_array(),
                "{name}"
            );
        }
    }
}

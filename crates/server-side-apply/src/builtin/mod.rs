//! Shapes of the built-in kinds, generated from the upstream Go API types.
//!
//! `generated.rs` comes from `tools/gen_builtin_types.py` run over k8s.io/api
//! (10b39a39), k8s.io/apimachinery `pkg/apis/meta/v1` (eed236ce) and
//! k8s.io/apiextensions-apiserver `pkg/apis/apiextensions/v1` (1aa2717a), then `cargo fmt`.

mod generated;
mod table;

use serde_json::Value;

use crate::types::{ListPatchStrategy, ListType, TypeInfo, ZeroValue};
use generated::{KINDS, STRUCTS};
use table::{Smp, SsaList, Ty};

/// The shape of a built-in kind (core, apps, batch, rbac, networking, policy, scheduling,
/// coordination, events, storage, autoscaling/v2, discovery, apiextensions): list types and
/// map keys from the `+listType`/`+listMapKey` markers, strategic-merge keys from the
/// `patchStrategy`/`patchMergeKey` struct tags, exactly as upstream declares them.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinTypes {
    root: Option<usize>,
}

impl BuiltinTypes {
    /// The types of `kind` in `api_version` (`"v1"`, `"apps/v1"`,
    /// `"rbac.authorization.k8s.io/v1"`, ...). An unknown kind gets untyped semantics
    /// (granular maps, atomic lists) and no strategic merge support.
    pub fn for_kind(api_version: &str, kind: &str) -> Self {
        let root = KINDS
            .iter()
            .find(|(v, k, _)| *v == api_version && *k == kind)
            .map(|(_, _, index)| *index);
        Self { root }
    }

    /// Whether `kind` in `api_version` is a built-in kind this table describes.
    pub fn is_builtin(api_version: &str, kind: &str) -> bool {
        Self::for_kind(api_version, kind).root.is_some()
    }

    fn resolve(&self, path: &[&str]) -> Ty {
        let Some(root) = self.root else {
            return Ty::Untyped;
        };
        let mut current = Ty::Struct(root);
        for name in path {
            current = match element_type(current) {
                Ty::Struct(index) => {
                    let fields = STRUCTS[index].fields;
                    match fields.binary_search_by(|f| f.name.cmp(name)) {
                        Ok(position) => fields[position].ty,
                        Err(_) => Ty::Untyped,
                    }
                }
                Ty::Map(map) => map.value,
                _ => Ty::Untyped,
            };
        }
        current
    }
}

impl BuiltinTypes {
    /// The declaration of the last field of `path` in its parent struct.
    fn field(&self, path: &[&str]) -> Option<&'static table::Field> {
        let (name, parent) = path.split_last()?;
        let Ty::Struct(index) = element_type(self.resolve(parent)) else {
            return None;
        };
        let fields = STRUCTS[index].fields;
        fields
            .binary_search_by(|f| f.name.cmp(name))
            .ok()
            .map(|position| &fields[position])
    }
}

/// The type of the objects a path may denote: list elements when the path names a list.
fn element_type(mut ty: Ty) -> Ty {
    while let Ty::List(list) = ty {
        ty = list.elem;
    }
    ty
}

impl TypeInfo for BuiltinTypes {
    fn list_type(&self, path: &[&str]) -> ListType {
        match self.resolve(path) {
            Ty::List(list) => match list.ssa {
                SsaList::Atomic => ListType::Atomic,
                SsaList::Set => ListType::Set,
                SsaList::Map(keys) => ListType::Map(keys.iter().map(|k| (*k).to_owned()).collect()),
            },
            _ => ListType::Atomic,
        }
    }

    fn is_atomic_map(&self, path: &[&str]) -> bool {
        match element_type(self.resolve(path)) {
            Ty::Struct(index) => STRUCTS[index].atomic,
            Ty::Map(map) => map.atomic,
            _ => false,
        }
    }

    fn is_declared_field(&self, path: &[&str]) -> bool {
        self.field(path).is_some()
    }

    fn zero_value(&self, path: &[&str]) -> Option<ZeroValue> {
        self.field(path)?.zero
    }

    fn list_key_default(&self, path: &[&str], key: &str) -> Option<Value> {
        let Ty::Struct(index) = element_type(self.resolve(path)) else {
            return None;
        };
        let fields = STRUCTS[index].fields;
        let position = fields.binary_search_by(|f| f.name.cmp(key)).ok()?;
        serde_json::from_str(fields[position].default?).ok()
    }

    fn patch_strategy(&self, path: &[&str]) -> ListPatchStrategy {
        match self.resolve(path) {
            Ty::List(list) => match list.smp {
                Smp::Replace => ListPatchStrategy::Replace,
                Smp::MergeByKey(key) => ListPatchStrategy::MergeByKey(key.to_owned()),
                Smp::MergePrimitives => ListPatchStrategy::MergePrimitives,
            },
            _ => ListPatchStrategy::Replace,
        }
    }

    fn supports_strategic_merge(&self) -> bool {
        self.root.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> ListType {
        ListType::Map(names.iter().map(|n| (*n).to_owned()).collect())
    }

    fn merge_key(key: &str) -> ListPatchStrategy {
        ListPatchStrategy::MergeByKey(key.to_owned())
    }

    #[test]
    fn list_types_and_merge_keys_match_upstream_tags() {
        let pod_spec = ["spec", "template", "spec"];
        let under = |rest: &[&'static str]| -> Vec<&'static str> {
            pod_spec
                .iter()
                .copied()
                .chain(rest.iter().copied())
                .collect()
        };
        let cases: Vec<(&str, &str, Vec<&str>, ListType, ListPatchStrategy)> = vec![
            (
                "apps/v1",
                "Deployment",
                under(&["containers"]),
                keys(&["name"]),
                merge_key("name"),
            ),
            (
                "apps/v1",
                "Deployment",
                under(&["initContainers"]),
                keys(&["name"]),
                merge_key("name"),
            ),
            (
                "apps/v1",
                "Deployment",
                under(&["containers", "env"]),
                keys(&["name"]),
                merge_key("name"),
            ),
            (
                "apps/v1",
                "Deployment",
                under(&["containers", "ports"]),
                keys(&["containerPort", "protocol"]),
                merge_key("containerPort"),
            ),
            (
                "apps/v1",
                "Deployment",
                under(&["volumes"]),
                keys(&["name"]),
                merge_key("name"),
            ),
            (
                "apps/v1",
                "Deployment",
                under(&["containers", "volumeMounts"]),
                keys(&["mountPath"]),
                merge_key("mountPath"),
            ),
            (
                "apps/v1",
                "Deployment",
                under(&["containers", "args"]),
                ListType::Atomic,
                ListPatchStrategy::Replace,
            ),
            (
                "apps/v1",
                "Deployment",
                under(&["imagePullSecrets"]),
                keys(&["name"]),
                merge_key("name"),
            ),
            (
                "apps/v1",
                "Deployment",
                under(&["hostAliases"]),
                keys(&["ip"]),
                merge_key("ip"),
            ),
            (
                "apps/v1",
                "Deployment",
                under(&["topologySpreadConstraints"]),
                keys(&["topologyKey", "whenUnsatisfiable"]),
                merge_key("topologyKey"),
            ),
            (
                "v1",
                "Service",
                vec!["spec", "ports"],
                keys(&["port", "protocol"]),
                merge_key("port"),
            ),
            (
                "v1",
                "Pod",
                vec!["status", "conditions"],
                keys(&["type"]),
                merge_key("type"),
            ),
            (
                "v1",
                "ConfigMap",
                vec!["metadata", "ownerReferences"],
                keys(&["uid"]),
                merge_key("uid"),
            ),
            (
                "v1",
                "ConfigMap",
                vec!["metadata", "finalizers"],
                ListType::Set,
                ListPatchStrategy::MergePrimitives,
            ),
            (
                "rbac.authorization.k8s.io/v1",
                "RoleBinding",
                vec!["subjects"],
                ListType::Atomic,
                ListPatchStrategy::Replace,
            ),
            (
                "rbac.authorization.k8s.io/v1",
                "Role",
                vec!["rules"],
                ListType::Atomic,
                ListPatchStrategy::Replace,
            ),
            (
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                vec!["status", "conditions"],
                keys(&["type"]),
                // A map list for apply, but without a patchStrategy tag: replaced by patches.
                ListPatchStrategy::Replace,
            ),
        ];
        for (api_version, kind, path, list_type, strategy) in cases {
            let types = BuiltinTypes::for_kind(api_version, kind);
            assert_eq!(types.list_type(&path), list_type, "{kind} {path:?}");
            assert_eq!(types.patch_strategy(&path), strategy, "{kind} {path:?}");
        }
    }

    #[test]
    fn structs_maps_and_atomic_objects_are_told_apart() {
        let deployment = BuiltinTypes::for_kind("apps/v1", "Deployment");
        assert!(deployment.is_declared_field(&["spec"]));
        assert!(deployment.is_declared_field(&["metadata", "labels"]));
        assert!(!deployment.is_declared_field(&["metadata", "labels", "app"]));
        assert!(!deployment.is_declared_field(&["spec", "bogus"]));
        assert!(
            deployment.is_atomic_map(&["spec", "selector"]),
            "LabelSelector is atomic"
        );
        assert!(!deployment.is_atomic_map(&["spec", "template"]));
        assert!(
            deployment.is_declared_field(&["spec", "template", "spec", "containers", "image"]),
            "list elements"
        );
        let service = BuiltinTypes::for_kind("v1", "Service");
        assert!(
            service.is_atomic_map(&["spec", "selector"]),
            "service selector is an atomic map"
        );
        assert_eq!(
            service.list_key_default(&["spec", "ports"], "protocol"),
            Some(Value::String("TCP".into()))
        );
    }

    #[test]
    fn unknown_kinds_are_untyped_and_refuse_strategic_merge() {
        let types = BuiltinTypes::for_kind("example.com/v1", "Widget");
        assert!(!types.supports_strategic_merge());
        assert_eq!(types.list_type(&["spec", "items"]), ListType::Atomic);
        assert!(BuiltinTypes::for_kind("v1", "ConfigMap").supports_strategic_merge());
        assert!(BuiltinTypes::is_builtin("coordination.k8s.io/v1", "Lease"));
    }
}

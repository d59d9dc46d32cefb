//! What the merge algorithms need to know about the shape of a kind.

use serde_json::Value;

/// How the elements of a list are identified (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value: replaced and owned as a whole.
    Atomic,
    /// A set of scalars: each element is owned separately, identified by its value.
    Set,
    /// A list of objects identified by these key fields (`x-kubernetes-list-map-keys`).
    Map(Vec<String>),
}

/// What a typed object holds for a field its JSON lacks; see [`TypeInfo::zero_value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroValue {
    /// A struct held by value: `{}`.
    EmptyObject,
    /// A field written even when empty: compared like `null`.
    Null,
}

/// How a strategic merge patch treats a list (`patchStrategy` / `patchMergeKey` struct tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListPatchStrategy {
    /// The patch's list replaces the original.
    Replace,
    /// Objects are merged by the value of this field.
    MergeByKey(String),
    /// Scalars are merged as a set (e.g. `metadata.finalizers`).
    MergePrimitives,
}

/// The shape of a kind as far as patching and field ownership are concerned.
///
/// Every method takes the path of field names from the object root with list elements left
/// out: `spec.template.spec.containers[0].env` is `["spec", "template", "spec",
/// "containers", "env"]`. Map keys count as field names (`["metadata", "labels", "app"]`).
pub trait TypeInfo: Send + Sync {
    /// The list semantics of the list at `path`.
    fn list_type(&self, path: &[&str]) -> ListType;

    /// Whether the object at `path` is replaced and owned as a whole
    /// (`x-kubernetes-map-type: atomic`, `+structType=atomic`).
    fn is_atomic_map(&self, _path: &[&str]) -> bool {
        false
    }

    /// Whether the last name of `path` is a field its parent struct declares (`spec`,
    /// `metadata.labels`) rather than a map key or an undeclared field (`metadata.labels.app`).
    /// Appliers own map entries themselves but declared fields only through their leaves, as
    /// the real server records it; untyped objects have no declared fields.
    fn is_declared_field(&self, _path: &[&str]) -> bool {
        false
    }

    /// What the real server's typed objects hold for the field at `path` when the JSON lacks
    /// it but has its parent: built-in kinds are Go structs, which always carry structs held
    /// by value (`{}`) and fields without `omitempty` (zero values). Such a field never
    /// appears or disappears in a diff by itself, so updaters do not own it as a whole.
    /// `None` (the default) when the field is simply absent, as in custom resources.
    fn zero_value(&self, _path: &[&str]) -> Option<ZeroValue> {
        None
    }

    /// The default of key field `key` of the elements of the map-list at `path`, used to
    /// identify elements that omit it (a container port without `protocol` is `TCP`).
    fn list_key_default(&self, _path: &[&str], _key: &str) -> Option<Value> {
        None
    }

    /// How a strategic merge patch merges the list at `path`. Defaults to what the list type
    /// implies, which is right for custom resources but not for every built-in field.
    fn patch_strategy(&self, path: &[&str]) -> ListPatchStrategy {
        match self.list_type(path) {
            ListType::Atomic => ListPatchStrategy::Replace,
            ListType::Set => ListPatchStrategy::MergePrimitives,
            ListType::Map(keys) => match keys.into_iter().next() {
                Some(key) => ListPatchStrategy::MergeByKey(key),
                None => ListPatchStrategy::Replace,
            },
        }
    }

    /// Whether strategic merge patches are accepted for this kind. The real server refuses
    /// them for custom resources with 415 Unsupported Media Type.
    fn supports_strategic_merge(&self) -> bool {
        false
    }
}

/// Whether the HTTP layer should accept `application/strategic-merge-patch+json` for a kind
/// with these types; if not, the real server answers 415 UnsupportedMediaType.
pub fn strategic_merge_supported(types: &dyn TypeInfo) -> bool {
    types.supports_strategic_merge()
}

/// The shape of an object nobody described: objects are granular maps and lists atomic, as
/// structured-merge-diff deduces for unknown types.
#[derive(Debug, Clone, Copy, Default)]
pub struct Untyped;

impl TypeInfo for Untyped {
    fn list_type(&self, _path: &[&str]) -> ListType {
        ListType::Atomic
    }
}

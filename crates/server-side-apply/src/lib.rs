//! Patch and apply semantics of kube-apiserver, as pure functions over `serde_json::Value`.
//!
//! - [`json_merge_patch`], [`json_patch`]: RFC 7386 and RFC 6902 (via the `json-patch` crate).
//! - [`strategic_merge_patch`]: what `kubectl apply` (client-side), `kubectl patch` and Helm
//!   send for built-in kinds. Custom resources do not support it: check
//!   [`strategic_merge_supported`] and answer 415, or map the
//!   [`PatchError::StrategicMergeUnsupported`] it returns.
//! - [`apply`]: server-side apply with field managers, conflicts and `force`.
//! - [`record_update`]: the `metadata.managedFields` bookkeeping of create, update and
//!   non-apply patch requests.
//!
//! What a kind looks like — list types, map keys, merge keys — comes from a [`TypeInfo`]:
//! [`BuiltinTypes`] for built-in kinds (generated from the upstream Go API types) and
//! [`SchemaTypes`] for custom resources (from the CRD's `openAPIV3Schema`).
//!
//! The semantics follow kube-apiserver's field manager and structured-merge-diff; nothing
//! here does I/O or reads the clock (callers pass `now_rfc3339`).

mod apply;
mod builtin;
pub mod fieldpath;
mod managed;
mod patch;
mod schema;
mod typed;
mod types;

pub use apply::{ApplyError, Conflict, LAST_APPLIED_ANNOTATION, apply, record_update};
pub use builtin::BuiltinTypes;
pub use patch::{PatchError, json_merge_patch, json_patch, strategic_merge_patch};
pub use schema::SchemaTypes;
pub use types::{
    ListPatchStrategy, ListType, TypeInfo, Untyped, ZeroValue, strategic_merge_supported,
};

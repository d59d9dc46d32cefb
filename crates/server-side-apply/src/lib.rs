//! Patch and apply semantics of kube-apiserver, as pure functions over `serde_json::Value`.
//!
//! - [`json_merge_patch`], [`json_patch()`]: RFC 7386 and RFC 6902 (via the `json-patch` crate).
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
//!
//! # Use from an API server
//!
//! - Types: `BuiltinTypes::for_kind(api_version, kind)` when
//!   [`BuiltinTypes::is_builtin`], else `SchemaTypes::new(schema)` with the served CRD
//!   version's `openAPIV3Schema`.
//! - Manager: [`manager_or_user_agent`]`(fieldManager, User-Agent)`.
//! - Create: `record_update(None, &mut object, manager, "Update", None, types, now)`.
//! - Update (PUT): `record_update(Some(&stored), &mut object, ...)`; on `/status` pass
//!   `Some("status")`.
//! - Patch: apply [`json_merge_patch`], [`json_patch()`] or [`strategic_merge_patch`] to the
//!   stored object (managedFields included), then `record_update(Some(&stored), &mut patched, ...)`.
//! - Apply: `apply(stored.as_ref(), &config, manager, force, subresource, types, now)`; `None`
//!   creates. Require `fieldManager` first (upstream answers 422 without it); map
//!   [`ApplyError::Conflicts`] to 409 `Conflict` with [`ApplyError::status_causes`],
//!   [`ApplyError::ManagedFieldsInConfig`] and [`ApplyError::NotAnObject`] to 400. Reset what
//!   the endpoint may not change (`status` on the main resource of kinds with a status
//!   subresource, everything else on `/status`) in the config before calling; a config whose
//!   apiVersion differs from the stored object's is the caller's to refuse.
//! - Every write path must pass the result on unchanged: `metadata.managedFields` is only ever
//!   produced here. That includes `/status`: where the endpoint resets everything but `status`
//!   to the stored object, it must keep the result's `metadata.managedFields` (as upstream's
//!   status strategies do); otherwise the applier's entry is lost and its next apply prunes
//!   nothing it stopped sending.
//! - An apply that changes nothing returns the stored object as it was, managedFields times
//!   included (upstream only stamps the time when the object changed), so the caller can
//!   skip the write.
//!
//! # Known differences from kube-apiserver
//!
//! - Managed fields recorded under another apiVersion are used as they are, not converted.
//! - Fields whose schema changed between atomic and granular are not reconciled.
//! - Defaulting, validation and field resets per endpoint are the caller's (see [`apply`]).

mod apply;
mod builtin;
pub mod fieldpath;
mod managed;
mod patch;
mod schema;
mod typed;
mod types;

pub use apply::{
    ApplyError, Conflict, FIELD_MANAGER_MAX_LENGTH, LAST_APPLIED_ANNOTATION, apply,
    manager_or_user_agent, record_update,
};
pub use builtin::BuiltinTypes;
pub use patch::{PatchError, json_merge_patch, json_patch, strategic_merge_patch};
pub use schema::SchemaTypes;
pub use types::{
    ListPatchStrategy, ListType, TypeInfo, Untyped, ZeroValue, strategic_merge_supported,
};

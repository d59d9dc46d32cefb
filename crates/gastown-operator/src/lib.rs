//! The Gas Town operator: controllers for `GasTown`, `Rig` and `AgentPool`.
//!
//! Architecture, in the order a reconcile runs: dereference the object and what
//! it refers to, validate, build the desired objects with pure functions,
//! apply them with server-side apply (skipping objects that already match), and
//! project status from beads and the cluster.

pub mod beads_view;
pub mod builders;
pub mod cache;
pub mod conditions;
pub mod context;
pub mod controllers;
pub mod drift;
pub mod error;
pub mod in_sync_memo;
pub mod metrics;
pub mod naming;
pub mod reconcile;
pub mod relations;
pub mod runtime;
pub mod status_ledger;
pub mod text_table;
pub mod town_view;
pub mod write;

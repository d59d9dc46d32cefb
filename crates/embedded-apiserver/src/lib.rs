//! An in-process Kubernetes API server for tests and the local playground.
//!
//! It keeps objects in memory and serves the Kubernetes REST API over plain
//! HTTP on 127.0.0.1, closely enough that kube-runtime, the real `kubectl`
//! and Helm cannot tell it from kube-apiserver for what this project does.
//! It is test infrastructure, never a production control plane.
//!
//! Layers, from the wire inwards: `http` (routing, query parameters, content
//! negotiation, watch streams) → `cluster` and `gc` (verb semantics:
//! create/update/patch/delete, finalizers, garbage collection, namespaces) →
//! `store` (objects, resourceVersions, history, watch channels).

pub mod authz;
mod builtin;
mod cluster;
mod crd;
mod custom;
mod discovery;
pub mod errors;
mod faults;
mod gc;
mod http;
mod managed;
mod names;
pub mod openapi;
mod patch;
mod pod_controls;
mod protobuf;
pub mod quota;
mod registry;
mod request;
pub mod resource;
mod selector;
mod server;
mod shape;
pub mod simulation;
mod store;
pub mod table;
mod watch;
mod workloads;

pub use faults::{Faults, RequestCounts};
pub use pod_controls::PodNotFound;
pub use server::{ClientError, Config, EmbeddedApiServer, StartError};

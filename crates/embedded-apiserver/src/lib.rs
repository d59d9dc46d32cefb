//! An in-process Kubernetes API server for tests and the local playground.
//!
//! It keeps objects in memory and serves the Kubernetes REST API over plain
//! HTTP on 127.0.0.1, closely enough that kube-runtime, the real `kubectl`
//! and Helm cannot tell it from kube-apiserver for what this project does.
//! It is test infrastructure, never a production control plane.

pub mod openapi;
pub mod quota;
pub mod resource;
pub mod simulation;
pub mod table;

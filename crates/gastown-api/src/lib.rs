//! The `gastown.io/v1alpha1` API of the Gas Town operator.
//!
//! Three namespaced kinds, each with a status subresource:
//! - [`GasTown`]: a town — its beads database (dolt), bd daemon, town-level agents, the pod
//!   template defaults and its rigs;
//! - [`Rig`]: one project of a town — its witness, refinery, crew and polecat ceiling;
//! - [`AgentPool`]: the pod template and ceiling of one role's agents.
//!
//! Validation lives in the generated schemas (patterns, ranges, enums, CEL rules) so that the
//! API server refuses bad objects at `kubectl apply` time; defaults live there too, and the
//! typed accessors (`spec.daemon.endpoint(..)`, `rig.polecats().max_count()`, ...) apply the
//! same defaults to objects that never passed through an API server.
//!
//! [`template`] holds the pure, layered pod-template merge.

#![warn(missing_docs)]

pub mod agentpool;
pub mod backup;
pub mod common;
pub mod daemon;
pub mod duration;
pub mod gastown;
pub mod labels;
pub mod reference;
pub mod rig;
pub mod schema;
pub mod template;

pub use agentpool::{AgentPool, AgentPoolSpec, AgentPoolStatus};
pub use common::{
    AgentRole, AgentSpec, ImagePullPolicy, Phase, SecretKeyRef, SecretRef, StorageSpec,
};
pub use duration::GoDuration;
pub use gastown::{GasTown, GasTownSpec, GasTownStatus};
pub use rig::{Rig, RigSpec, RigStatus};
pub use template::{PodTemplate, ResolvedTemplate, merge};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every kind here.
pub const GROUP: &str = "gastown.io";
/// The API version of every kind here.
pub const VERSION: &str = "v1alpha1";
/// The category that lists all three kinds: `kubectl get gastown-all`. It differs from every
/// resource name, so `kubectl get gastown` keeps meaning the GasTown kind.
pub const CATEGORY: &str = "gastown-all";

/// The CustomResourceDefinitions of this API, in install order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![GasTown::crd(), Rig::crd(), AgentPool::crd()]
}

//! Types shared by the three kinds: references to Secrets, agent roles, singleton agents,
//! storage, and the status phases.

use k8s_openapi::{
    api::core::v1::ResourceRequirements, apimachinery::pkg::api::resource::Quantity,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A key inside a Secret in the same namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret (in the namespace of this object).
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::schema::DNS_SUBDOMAIN_PATTERN))]
    pub name: String,
    /// Key inside the Secret whose value is used.
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::schema::SECRET_KEY_PATTERN))]
    pub key: String,
}

/// A whole Secret in the same namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// Name of the Secret (in the namespace of this object).
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::schema::DNS_SUBDOMAIN_PATTERN))]
    pub name: String,
}

/// The role of a Gas Town agent, as beads records it in `role_type`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[schemars(transform = crate::schema::drop_type_description)]
pub enum AgentRole {
    /// Ephemeral one-shot worker: born with a bead on its hook, exits when done.
    Polecat,
    /// Persistent, named worker of a rig with its own workspace.
    Crew,
    /// Per-rig monitor of polecat health.
    Witness,
    /// Per-rig processor of the merge queue.
    Refinery,
    /// Town-wide coordinator.
    Mayor,
    /// Town-wide health monitor and plugin runner.
    Deacon,
}

impl AgentRole {
    /// Every role, in the order used for display.
    pub const ALL: [AgentRole; 6] = [
        AgentRole::Polecat,
        AgentRole::Crew,
        AgentRole::Witness,
        AgentRole::Refinery,
        AgentRole::Mayor,
        AgentRole::Deacon,
    ];

    /// The role as beads and pod labels spell it (`polecat`, `crew`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentRole::Polecat => "polecat",
            AgentRole::Crew => "crew",
            AgentRole::Witness => "witness",
            AgentRole::Refinery => "refinery",
            AgentRole::Mayor => "mayor",
            AgentRole::Deacon => "deacon",
        }
    }

    /// Whether agents of this role belong to a rig (as opposed to the whole town).
    pub fn is_rig_scoped(self) -> bool {
        !matches!(self, AgentRole::Mayor | AgentRole::Deacon)
    }

    /// Whether at most one agent of this role runs per scope (rig or town).
    pub fn is_singleton(self) -> bool {
        matches!(
            self,
            AgentRole::Witness | AgentRole::Refinery | AgentRole::Mayor | AgentRole::Deacon
        )
    }
}

impl fmt::Display for AgentRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When Kubernetes pulls an agent's container image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::schema::drop_type_description)]
pub enum ImagePullPolicy {
    /// Pull on every pod start.
    Always,
    /// Pull only when the node does not have the image.
    IfNotPresent,
    /// Never pull; the image must already be on the node.
    Never,
}

impl ImagePullPolicy {
    /// The policy as a pod spec spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ImagePullPolicy::Always => "Always",
            ImagePullPolicy::IfNotPresent => "IfNotPresent",
            ImagePullPolicy::Never => "Never",
        }
    }
}

/// A persistent volume request: size and storage class.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Size of the volume, e.g. `10Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub size: Option<Quantity>,
    /// StorageClass of the volume; the cluster's default class when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub storage_class_name: Option<String>,
}

/// A singleton agent (mayor, deacon, witness, refinery): whether it runs, and what it runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSpec {
    /// Whether the agent runs. Default true (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_true")]
    pub enabled: Option<bool>,
    /// Container image of the agent; the pod template's image when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = crate::schema::IMAGE_PATTERN))]
    pub image: Option<String>,
    /// Compute resources of the agent; the pod template's resources when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::resource_requirements")]
    pub resources: Option<ResourceRequirements>,
}

impl AgentSpec {
    /// Whether the agent runs (default true).
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// The lifecycle phase of a GasTown or a Rig.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::schema::drop_type_description)]
pub enum Phase {
    /// Accepted, nothing created yet.
    Pending,
    /// Creating the infrastructure and agents.
    Provisioning,
    /// Everything declared runs and is healthy.
    Running,
    /// Running, but some part is unhealthy (see the conditions).
    Degraded,
    /// No new polecats start: being deleted (waiting for polecats to finish before tearing down), or, for a GasTown, drained by request (annotation `gastown.io/drain`).
    Draining,
    /// Cannot make progress without a change to the spec or the cluster (see the conditions).
    Failed,
}

impl Phase {
    /// The phase as it appears in `kubectl get`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Provisioning => "Provisioning",
            Phase::Running => "Running",
            Phase::Degraded => "Degraded",
            Phase::Draining => "Draining",
            Phase::Failed => "Failed",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn default_true() -> Option<bool> {
    Some(true)
}

pub(crate) fn default_false() -> Option<bool> {
    Some(false)
}

/// Schema default `{}` for optional objects whose fields all have defaults, so that the API server fills in (and `kubectl get -o yaml` shows) the effective values. Use with a turbofish: `#[schemars(default = "default_object::<PolecatPolicy>")]`.
pub(crate) fn default_object<T: Default>() -> Option<T> {
    Some(T::default())
}

//! The `AgentPool` kind: the pod template and ceiling for the agents of one role, and the
//! projected state of those agents.

use crate::common::AgentRole;
use crate::schema::POOL_NAME_MAX_LENGTH;
use crate::template::PodTemplate;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The bead label selecting agents meant to run on Kubernetes; the default `beadSelector`.
pub const DEFAULT_BEAD_SELECTOR: &str = "execution_target:k8s";
/// Upper bound of `maxCount`.
pub const MAX_COUNT_LIMIT: i32 = 100;

/// A pool of agents of one role: the most specific pod template layer set by users, an optional ceiling, and which agent beads belong to it.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "gastown.io",
    version = "v1alpha1",
    kind = "AgentPool",
    plural = "agentpools",
    singular = "agentpool",
    shortname = "ap",
    category = "gastown-all",
    namespaced,
    status = "AgentPoolStatus",
    doc = "A pool of Gas Town agents of one role: pod template, ceiling and the agents' projected state.",
    printcolumn = r#"{"name": "Rig", "type": "string", "jsonPath": ".spec.rig", "description": "Rig of the agents"}"#,
    printcolumn = r#"{"name": "Role", "type": "string", "jsonPath": ".spec.role", "description": "Role of the agents"}"#,
    printcolumn = r#"{"name": "Active", "type": "integer", "jsonPath": ".status.active", "description": "Agents working"}"#,
    printcolumn = r#"{"name": "Pending", "type": "integer", "jsonPath": ".status.pending", "description": "Agents waiting for a pod"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    validation = kube::core::Rule::new(format!("self.metadata.name.size() <= {POOL_NAME_MAX_LENGTH}"))
        .message(format!("metadata.name of an AgentPool must be at most {POOL_NAME_MAX_LENGTH} characters: its pods carry it as the value of the gastown.io/pool label").as_str()),
)]
#[x_kube(
    validation = kube::core::Rule::new("self.role in ['mayor', 'deacon'] ? !has(self.rig) : has(self.rig)")
        .message("spec.rig is required for the rig roles (polecat, crew, witness, refinery) and must be unset for the town roles (mayor, deacon)")
        .field_path(".rig"),
    validation = kube::core::Rule::new("!(self.role in ['witness', 'refinery', 'mayor', 'deacon']) || !has(self.maxCount) || self.maxCount <= 1")
        .message("spec.maxCount must be 0 or 1 for witness, refinery, mayor and deacon: they are singletons")
        .field_path(".maxCount"),
    validation = kube::core::Rule::new("has(self.rig) == has(oldSelf.rig) && (!has(self.rig) || self.rig == oldSelf.rig)")
        .message("spec.rig is immutable")
        .field_path(".rig"),
)]
#[serde(rename_all = "camelCase")]
pub struct AgentPoolSpec {
    /// Name of the rig whose agents this pool describes; unset for mayor and deacon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 40), regex(pattern = crate::schema::RIG_NAME_PATTERN))]
    pub rig: Option<String>,

    /// Role of the pool's agents: polecat, crew, witness, refinery, mayor or deacon. Immutable.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.role is immutable"))]
    pub role: AgentRole,

    /// Layer 4 of the agent pod template, over the town defaults and the rig's overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplate>,

    /// Most agents of the pool that may run at once; the rig's limits apply when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = MAX_COUNT_LIMIT))]
    pub max_count: Option<i32>,

    /// Most pods created in one pass; the rest follow on the next, a fraction of a second later, so that a flood of spawns from beads comes to the API server and the nodes in bursts. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub spawn_burst: Option<i32>,

    /// Bead labels (all must match) that select the agent beads of this pool, in addition to rig and role. Default `execution_target:k8s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 16),
        inner(length(min = 1, max = 128), regex(pattern = r"^[^\s,]+$")),
        default = "default_bead_selector"
    )]
    pub bead_selector: Option<Vec<String>>,
}

/// Default of `spec.spawnBurst`.
pub const DEFAULT_SPAWN_BURST: usize = 10;

impl AgentPoolSpec {
    /// Most pods created in one pass (default [`DEFAULT_SPAWN_BURST`]).
    pub fn spawn_burst(&self) -> usize {
        self.spawn_burst
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_SPAWN_BURST)
    }
}

fn default_bead_selector() -> Option<Vec<String>> {
    Some(vec![DEFAULT_BEAD_SELECTOR.into()])
}

impl AgentPool {
    /// The town this pool belongs to, from its `gastown.io/town` label.
    pub fn town(&self) -> Option<&str> {
        self.metadata
            .labels
            .as_ref()?
            .get(crate::labels::TOWN)
            .map(String::as_str)
    }
}

impl AgentPoolSpec {
    /// The bead labels of the pool's agents (default `execution_target:k8s`).
    pub fn bead_selector(&self) -> Vec<String> {
        self.bead_selector
            .clone()
            .unwrap_or_else(|| vec![DEFAULT_BEAD_SELECTOR.into()])
    }
}

/// The observed state of a pool's agents, projected from beads and their pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentPoolStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions (Ready).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Option<Vec<Condition>>,
    /// Agents whose pods are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<i32>,
    /// Agents with work on their hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<i32>,
    /// Agents waiting for their pod to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<i32>,
    /// Polecats running a spec older than the pool's current one (a changed image or template): a running polecat is never replaced; it keeps its spec until it ends, and polecats spawned after the change get the new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_spec: Option<i32>,
    /// Each agent of the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub agents: Option<Vec<PoolAgent>>,
}

/// One agent of a pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolAgent {
    /// The agent's name (e.g. a polecat's `furiosa`).
    pub name: String,
    /// ID of the agent's bead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bead_id: Option<String>,
    /// Phase of the agent's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<AgentPhase>,
    /// The agent's state as beads records it (`agent_state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ID of the bead on the agent's hook (its current work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_bead: Option<String>,
    /// Name of the agent's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// When the agent's pod started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
}

/// Phase of an agent's pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::schema::drop_type_description)]
pub enum AgentPhase {
    /// Waiting to be scheduled or for its containers to start.
    Pending,
    /// Running.
    Running,
    /// Finished its work and exited.
    Succeeded,
    /// Exited with an error, or was evicted.
    Failed,
    /// The pod's state cannot be determined.
    Unknown,
}

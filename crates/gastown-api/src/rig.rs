//! The `Rig` kind: one project (git repository) of a town, with its witness, refinery, crew
//! and the ceiling for its polecats.

use crate::schema::RIG_OBJECT_NAME_MAX_LENGTH;
use crate::{
    common::{AgentRole, AgentSpec, Phase, StorageSpec, default_object, default_true},
    duration::{GoDuration, known_valid},
    template::PodTemplate,
};
use k8s_openapi::{
    api::{core::v1::ResourceRequirements, networking::v1::NetworkPolicyEgressRule},
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{Condition, Time},
    },
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default size of the rig's shared workspace volume.
pub const DEFAULT_WORKSPACE_SIZE: &str = "10Gi";
/// Default ceiling on concurrently running polecats of a rig.
pub const DEFAULT_POLECAT_MAX_COUNT: i32 = 5;
/// Upper bound of `polecats.maxCount`.
pub const POLECAT_MAX_COUNT_LIMIT: i32 = 100;
/// Default cpu request of each polecat.
pub const DEFAULT_POLECAT_CPU: &str = "500m";
/// Default memory request of each polecat.
pub const DEFAULT_POLECAT_MEMORY: &str = "1Gi";
/// Default runtime after which a polecat is flagged as overtime.
pub const DEFAULT_POLECAT_MAX_RUNTIME: &str = "2h";
/// Default time a finished polecat pod is kept for log collection.
pub const DEFAULT_POLECAT_CLEANUP_AFTER: &str = "5m";
/// How many crew members a rig may declare.
pub const MAX_CREW: u32 = 32;

/// A rig: a project workspace with its own git repository, agents and beads database.
///
/// A GasTown creates one Rig per entry of `spec.rigs`; a Rig can also be applied on its own with the label `gastown.io/town` naming its town.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "gastown.io",
    version = "v1alpha1",
    kind = "Rig",
    plural = "rigs",
    singular = "rig",
    shortname = "rg",
    category = "gastown-all",
    namespaced,
    status = "RigStatus",
    doc = "A Gas Town rig: one git repository with its witness, refinery, crew and polecat ceiling.",
    printcolumn = r#"{"name": "Town", "type": "string", "jsonPath": ".metadata.labels.gastown\\.io/town", "description": "The GasTown this rig belongs to"}"#,
    printcolumn = r#"{"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "Lifecycle phase"}"#,
    printcolumn = r#"{"name": "Polecats", "type": "integer", "jsonPath": ".status.polecatCount", "description": "Running polecats"}"#,
    printcolumn = r#"{"name": "Crew", "type": "integer", "jsonPath": ".status.crewCount", "description": "Running crew members"}"#,
    printcolumn = r#"{"name": "Queue", "type": "integer", "jsonPath": ".status.mergeQueue.depth", "description": "Merge requests waiting"}"#,
    printcolumn = r#"{"name": "Updated", "type": "integer", "jsonPath": ".status.updatedAgents", "description": "Persistent agents running the current spec"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    validation = kube::core::Rule::new(format!("self.metadata.name.size() <= {RIG_OBJECT_NAME_MAX_LENGTH}"))
        .message(format!("metadata.name of a Rig must be at most {RIG_OBJECT_NAME_MAX_LENGTH} characters: its polecat AgentPool is named <rig>-polecats, a label value of at most 63 characters").as_str()),
)]
#[serde(rename_all = "camelCase")]
pub struct RigSpec {
    /// The beads rig name (lower case letters, digits and `-`, starting with a letter and ending with a letter or digit). Immutable: beads keys all of the rig's work by it.
    #[schemars(length(min = 1, max = 40), regex(pattern = crate::schema::RIG_NAME_PATTERN))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.name is immutable: it is the beads rig name"))]
    pub name: String,

    /// URL of the rig's git repository (https, ssh or scp-style `git@host:path`). When unset, the URL beads records for the rig is used.
    #[serde(rename = "gitURL", default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048), regex(pattern = GIT_URL_PATTERN))]
    pub git_url: Option<String>,

    /// Branch that work is merged into; the repository's default branch when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255), regex(pattern = r"^[^\s~^:?*\[\\]+$"))]
    pub default_branch: Option<String>,

    /// The rig's shared workspace volume (used by witness and refinery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<WorkspaceSpec>")]
    pub workspace: Option<WorkspaceSpec>,

    /// The witness, which watches over the rig's polecats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<AgentSpec>")]
    pub witness: Option<AgentSpec>,

    /// The refinery, which processes the rig's merge queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<AgentSpec>")]
    pub refinery: Option<AgentSpec>,

    /// Persistent, named workers of the rig. Names are unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_CREW))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub crew: Option<Vec<CrewMember>>,

    /// The ceiling and per-pod size of the rig's polecats (which beads spawns on demand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<PolecatPolicy>")]
    pub polecats: Option<PolecatPolicy>,

    /// Layer 2 of the agent pod template: applies to every agent of this rig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_overrides: Option<PodTemplate>,

    /// Layer 3 of the agent pod template, by role: keys are `polecat`, `crew`, `witness` or `refinery`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 4))]
    #[x_kube(validation = kube::core::Rule::new(
        "self.all(role, role in ['polecat', 'crew', 'witness', 'refinery'])"
    ).message("roleOverrides keys must be rig roles: polecat, crew, witness or refinery"))]
    pub role_overrides: Option<BTreeMap<String, PodTemplate>>,

    /// The NetworkPolicy that confines the rig's agent pods: no ingress; egress to the town's bd daemon, to DNS (port 53), and to TCP 22, 443 and 6443 anywhere (git, the Anthropic API, the Kubernetes API), plus 80 or 9418 for an http:// or git:// gitURL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<NetworkPolicySpec>")]
    pub network_policy: Option<NetworkPolicySpec>,
}

/// git URLs: `https://`, `http://`, `ssh://`, `git://`, `file://` or scp-style `user@host:path`.
const GIT_URL_PATTERN: &str = r"^((https?|ssh|git|file)://|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)[^\s]+$";

impl Rig {
    /// The town this rig belongs to, from its `gastown.io/town` label.
    pub fn town(&self) -> Option<&str> {
        self.metadata
            .labels
            .as_ref()?
            .get(crate::labels::TOWN)
            .map(String::as_str)
    }
}

// The accessors below resolve every default: a Rig's schema fills them in, but the same
// spec inside `GasTown.spec.rigs[]` has no schema defaults (see `schema::without_defaults`).
impl RigSpec {
    /// The role override layer for `role`, if any.
    pub fn role_override(&self, role: AgentRole) -> Option<&PodTemplate> {
        self.role_overrides.as_ref()?.get(role.as_str())
    }

    /// The shared workspace settings (defaults when unset).
    pub fn workspace(&self) -> WorkspaceSpec {
        self.workspace.clone().unwrap_or_default()
    }

    /// The witness settings (defaults when unset).
    pub fn witness(&self) -> AgentSpec {
        self.witness.clone().unwrap_or_default()
    }

    /// The refinery settings (defaults when unset).
    pub fn refinery(&self) -> AgentSpec {
        self.refinery.clone().unwrap_or_default()
    }

    /// The declared crew members.
    pub fn crew(&self) -> &[CrewMember] {
        self.crew.as_deref().unwrap_or_default()
    }

    /// The polecat policy (defaults when unset).
    pub fn polecats(&self) -> PolecatPolicy {
        self.polecats.clone().unwrap_or_default()
    }

    /// The network policy settings (defaults when unset).
    pub fn network_policy(&self) -> NetworkPolicySpec {
        self.network_policy.clone().unwrap_or_default()
    }
}

/// What happens to a persistent volume when its rig (or crew member) is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::schema::drop_type_description)]
pub enum ReclaimPolicy {
    /// Keep the volume (and the work on it).
    #[default]
    Retain,
    /// Delete the volume with the rig.
    Delete,
}

/// The rig's shared workspace volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceSpec {
    /// Size of the volume. Default 10Gi (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        schema_with = "crate::schema::quantity",
        default = "default_workspace_size"
    )]
    pub size: Option<Quantity>,
    /// StorageClass of the volume; the cluster's default class when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub storage_class_name: Option<String>,
    /// Whether the workspace (and crew volumes) are kept (Retain) or deleted (Delete) with the rig. Default Retain (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_reclaim_policy")]
    pub reclaim_policy: Option<ReclaimPolicy>,
}

fn default_workspace_size() -> Option<Quantity> {
    Some(Quantity(DEFAULT_WORKSPACE_SIZE.into()))
}

fn default_reclaim_policy() -> Option<ReclaimPolicy> {
    Some(ReclaimPolicy::Retain)
}

impl WorkspaceSpec {
    /// Size of the volume (default 10Gi).
    pub fn size(&self) -> Quantity {
        self.size
            .clone()
            .unwrap_or_else(|| Quantity(DEFAULT_WORKSPACE_SIZE.into()))
    }

    /// Reclaim policy (default Retain).
    pub fn reclaim_policy(&self) -> ReclaimPolicy {
        self.reclaim_policy.unwrap_or_default()
    }
}

/// A persistent crew member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrewMember {
    /// Name of the crew member, unique within the rig (lower case letters, digits and `-`).
    #[schemars(length(min = 1, max = 40), regex(pattern = crate::schema::DNS_LABEL_PATTERN))]
    pub name: String,
    /// Container image; the pod template's image when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = crate::schema::IMAGE_PATTERN))]
    pub image: Option<String>,
    /// Compute resources; the pod template's resources when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::resource_requirements")]
    pub resources: Option<ResourceRequirements>,
    /// The crew member's own workspace volume; the pod template's storage when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
}

impl CrewMember {
    /// This member's own values as the most specific template layer.
    pub fn as_layer(&self) -> PodTemplate {
        PodTemplate {
            image: self.image.clone(),
            resources: self.resources.clone(),
            storage: self.storage.clone(),
            ..PodTemplate::default()
        }
    }
}

/// The rig's polecats: beads spawns them on demand; the operator caps how many run and how big each is, and flags and cleans up after them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolecatPolicy {
    /// Most polecats that may run at once (enforced by a ResourceQuota), at most 100. Default 5 (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = POLECAT_MAX_COUNT_LIMIT), default = "default_polecat_max_count")]
    pub max_count: Option<i32>,
    /// CPU request of each polecat (the quota is maxCount times this). Default 500m (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        schema_with = "crate::schema::quantity",
        default = "default_polecat_cpu"
    )]
    pub cpu: Option<Quantity>,
    /// Memory request of each polecat (the quota is maxCount times this). Default 1Gi (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        schema_with = "crate::schema::quantity",
        default = "default_polecat_memory"
    )]
    pub memory: Option<Quantity>,
    /// Runtime after which a polecat is reported as overtime (its witness decides what to do). Go duration. Default 2h (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_polecat_max_runtime")]
    pub max_runtime: Option<GoDuration>,
    /// How long a finished polecat pod is kept for log collection. Go duration. Default 5m (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_polecat_cleanup_after")]
    pub cleanup_after: Option<GoDuration>,
}

fn default_polecat_max_count() -> Option<i32> {
    Some(DEFAULT_POLECAT_MAX_COUNT)
}
fn default_polecat_cpu() -> Option<Quantity> {
    Some(Quantity(DEFAULT_POLECAT_CPU.into()))
}
fn default_polecat_memory() -> Option<Quantity> {
    Some(Quantity(DEFAULT_POLECAT_MEMORY.into()))
}
fn default_polecat_max_runtime() -> Option<GoDuration> {
    Some(known_valid(DEFAULT_POLECAT_MAX_RUNTIME))
}
fn default_polecat_cleanup_after() -> Option<GoDuration> {
    Some(known_valid(DEFAULT_POLECAT_CLEANUP_AFTER))
}

impl PolecatPolicy {
    /// Most polecats at once (default 5).
    pub fn max_count(&self) -> i32 {
        self.max_count.unwrap_or(DEFAULT_POLECAT_MAX_COUNT)
    }
    /// CPU request per polecat (default 500m).
    pub fn cpu(&self) -> Quantity {
        self.cpu
            .clone()
            .unwrap_or_else(|| Quantity(DEFAULT_POLECAT_CPU.into()))
    }
    /// Memory request per polecat (default 1Gi).
    pub fn memory(&self) -> Quantity {
        self.memory
            .clone()
            .unwrap_or_else(|| Quantity(DEFAULT_POLECAT_MEMORY.into()))
    }
    /// Runtime after which a polecat is overtime (default 2h).
    pub fn max_runtime(&self) -> std::time::Duration {
        self.max_runtime.as_ref().map_or_else(
            || known_valid(DEFAULT_POLECAT_MAX_RUNTIME).get(),
            GoDuration::get,
        )
    }
    /// How long a finished polecat pod is kept (default 5m).
    pub fn cleanup_after(&self) -> std::time::Duration {
        self.cleanup_after.as_ref().map_or_else(
            || known_valid(DEFAULT_POLECAT_CLEANUP_AFTER).get(),
            GoDuration::get,
        )
    }
}

/// The NetworkPolicy of the rig's agent pods. When enabled, agents may reach the bd daemon, DNS and the egress listed here; nothing may connect to them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Whether the operator creates the NetworkPolicy. Default true (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_true")]
    pub enabled: Option<bool>,
    /// Further egress the agents need (package registries, other ports), as NetworkPolicy egress rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 32),
        schema_with = "crate::schema::without_nested_descriptions::<Option<Vec<NetworkPolicyEgressRule>>>"
    )]
    pub extra_egress: Option<Vec<NetworkPolicyEgressRule>>,
}

impl NetworkPolicySpec {
    /// Whether the NetworkPolicy is created (default true).
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// The observed state of a rig, projected from beads and the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RigStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: Ready, WitnessReady, RefineryReady, CrewReady, QuotaApplied, PolecatOvertime, Draining.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Option<Vec<Condition>>,
    /// Polecats running now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polecat_count: Option<i32>,
    /// Names of the running polecats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_polecats: Option<Vec<String>>,
    /// Crew members running now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crew_count: Option<i32>,
    /// Persistent agents (Witness, Refinery, crew) the rig declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_agents: Option<i32>,
    /// Of those, the agents whose pod runs the current spec and is Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_agents: Option<i32>,
    /// The witness's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<SingletonStatus>,
    /// The refinery's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refinery: Option<SingletonStatus>,
    /// The rig's merge queue; absent when beads' server cannot tell (a town on `bd serve` reads the town's database, and Gas Town keeps merge requests in the rig's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_queue: Option<MergeQueueStatus>,
    /// Beads hooked to the rig's agents (work in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_work: Option<i32>,
    /// The rig's crew as beads records them: each member's state and hooked work (absent without crew).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub crew: Option<Vec<CrewMemberStatus>>,
    /// When the operator last reconciled the rig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reconciled: Option<Time>,
}

/// Condition types of a Rig.
pub mod condition {
    /// The rig's agents run as declared.
    pub const READY: &str = "Ready";
    /// The witness pod is ready.
    pub const WITNESS_READY: &str = "WitnessReady";
    /// The refinery pod is ready.
    pub const REFINERY_READY: &str = "RefineryReady";
    /// Every declared crew member's pod is ready.
    pub const CREW_READY: &str = "CrewReady";
    /// The polecat ResourceQuota is in place.
    pub const QUOTA_APPLIED: &str = "QuotaApplied";
    /// A polecat has run longer than `polecats.maxRuntime`.
    pub const POLECAT_OVERTIME: &str = "PolecatOvertime";
    /// The rig is being deleted and waits for its polecats.
    pub const DRAINING: &str = "Draining";
    /// Every persistent agent runs the current spec.
    pub const AGENTS_UP_TO_DATE: &str = "AgentsUpToDate";
}

/// A singleton agent (witness, refinery): its pod, and beads' view of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SingletonStatus {
    /// Whether the pod is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Name of the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// The agent's state as beads records it (`agent_state`, e.g. working, idle, stuck).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ID of the bead on the agent's hook (its current work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_bead: Option<String>,
}

/// A crew member as beads records it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrewMemberStatus {
    /// The member's name (e.g. `max`).
    pub name: String,
    /// The member's state as beads records it (`agent_state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ID of the bead on the member's hook (its current work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_bead: Option<String>,
}

/// A rig's merge queue, as beads records it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeQueueStatus {
    /// Merge requests not yet closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<i32>,
    /// Merge requests being processed now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing: Option<i32>,
}

//! The `GasTown` kind: one Gas Town — its beads database (dolt), the bd daemon, the town-level
//! agents (mayor, deacon), the pod template defaults, and its rigs.

use crate::schema::{TOWN_AND_RIG_NAME_MAX_LENGTH, TOWN_NAME_MAX_LENGTH};
use crate::{
    backup::{BackupStatus, DoltBackup, DoltRestore},
    common::{
        AgentSpec, Phase, SecretKeyRef, SecretRef, default_false, default_object, default_true,
    },
    duration::{GoDuration, known_valid},
    rig::RigSpec,
    template::PodTemplate,
};
use k8s_openapi::{
    api::core::v1::ResourceRequirements,
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{Condition, Time},
    },
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::daemon::{
    BeadsProtocol, DEFAULT_DAEMON_HTTP_PORT, DEFAULT_DAEMON_PORT, DaemonEndpoint, DaemonSpec,
    ExternalDaemon, RigServer,
};
/// Default port of the RPC server (gtmobile).
pub const DEFAULT_RPC_SERVER_PORT: i32 = 8443;
/// Default size of dolt's data volume.
pub const DEFAULT_DOLT_STORAGE_SIZE: &str = "10Gi";
/// Default time agents get to finish their work when the town is deleted.
pub const DEFAULT_TERMINATION_GRACE_PERIOD: &str = "10m";
/// Default interval between status syncs from beads.
pub const DEFAULT_SYNC_INTERVAL: &str = "60s";
/// How many rigs a town may declare.
pub const MAX_RIGS: u32 = 64;

/// A Gas Town: a multi-agent software-engineering system whose state lives in beads.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "gastown.io",
    version = "v1alpha1",
    kind = "GasTown",
    plural = "gastowns",
    singular = "gastown",
    shortname = "gt",
    category = "gastown-all",
    namespaced,
    status = "GasTownStatus",
    doc = "A Gas Town: its beads database, bd daemon, town-level agents, pod template defaults and rigs.",
    printcolumn = r#"{"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "Lifecycle phase"}"#,
    printcolumn = r#"{"name": "Rigs", "type": "integer", "jsonPath": ".status.rigCount", "description": "Rigs of the town"}"#,
    printcolumn = r#"{"name": "Agents", "type": "integer", "jsonPath": ".status.agentCount", "description": "Agent pods running"}"#,
    printcolumn = r#"{"name": "Dolt", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"DoltReady\")].status", "description": "Whether dolt is ready"}"#,
    printcolumn = r#"{"name": "Daemon", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"DaemonReady\")].status", "description": "Whether the bd daemon is reachable"}"#,
    printcolumn = r#"{"name": "Updated", "type": "integer", "jsonPath": ".status.updatedAgents", "description": "Persistent agents (town and rigs) running the current spec"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    // Only size() and contains() on metadata.name: the API server knows no bound on its
    // length, so a regular expression over it could exceed the CEL cost budget.
    validation = kube::core::Rule::new(format!("self.metadata.name.size() <= {TOWN_NAME_MAX_LENGTH} && !self.metadata.name.contains('.')"))
        .message(format!("metadata.name of a GasTown must be at most {TOWN_NAME_MAX_LENGTH} characters and contain no '.': it prefixes the town's Services and StatefulSet").as_str()),
    validation = kube::core::Rule::new(format!("!has(self.spec.rigs) || self.spec.rigs.all(rig, self.metadata.name.size() + rig.name.size() <= {TOWN_AND_RIG_NAME_MAX_LENGTH})"))
        .message(format!("metadata.name and each spec.rigs[].name together must be at most {TOWN_AND_RIG_NAME_MAX_LENGTH} characters: the rig's polecat AgentPool is named <town>-<rig>-polecats, a label value of at most 63 characters").as_str()),
)]
#[x_kube(
    validation = kube::core::Rule::new("has(self.daemon.external) || has(self.dolt)")
        .message("spec.dolt is required unless spec.daemon.external names a bd daemon that brings its own database")
        .field_path(".dolt")
        .reason(kube::core::Reason::FieldValueRequired),
    validation = kube::core::Rule::new("!has(self.dolt) || !has(self.dolt.s3)")
        .message("spec.dolt.s3 is deprecated and refused: it only set an environment variable that nothing reads, in a URL form dolt rejects, so it never backed anything up, and it has no DynamoDB table, which dolt's aws:// backups need; use spec.dolt.backup with url aws://[dynamo-table:bucket]/path and credentialsSecretRef instead (docs/operations.md, Backups)")
        .field_path(".dolt.s3")
        .reason(kube::core::Reason::FieldValueForbidden),
    validation = kube::core::Rule::new("!has(self.daemon.external) || !has(self.dolt)")
        .message("spec.dolt must not be set when spec.daemon.external is set: the external bd daemon brings its own database")
        .field_path(".dolt")
        .reason(kube::core::Reason::FieldValueForbidden),
)]
#[serde(rename_all = "camelCase")]
pub struct GasTownSpec {
    /// The dolt SQL server that stores the town's beads. Required unless the bd daemon is external.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dolt: Option<DoltSpec>,

    /// The beads server the operator (and, with the bd daemon, every agent) talks to: run in the cluster (`image`) or an existing one (`external`), exactly one of the two. `protocol` chooses the server: `daemon` (default) for the bd daemon of the groblegark fork, `serve` for current beads' `bd serve` (HTTP API v0), whose agents use Dolt directly. A town on `serve` shows a rig's merge queue as unknown (absent) unless `rigServers` names the `bd serve` of that rig's own database, where Gas Town keeps it.
    pub daemon: DaemonSpec,

    /// The optional RPC server (gtmobile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<RpcServerSpec>")]
    pub rpc_server: Option<RpcServerSpec>,

    /// Secrets the agents need.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsSpec>,

    /// The mayor, the town-wide coordinator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<AgentSpec>")]
    pub mayor: Option<AgentSpec>,

    /// The deacon, the town-wide health monitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<AgentSpec>")]
    pub deacon: Option<AgentSpec>,

    /// Layer 1 of the agent pod template: applies to every agent of the town.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<PodTemplate>,

    /// The town's rigs; the operator keeps one Rig object per entry. Names are unique. The entries carry no schema defaults, so that the API server stores them as written and re-applying an unchanged manifest changes nothing (a merge patch replaces a list whole); the operator resolves the defaults that Rig.spec lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = MAX_RIGS),
        schema_with = "crate::schema::without_defaults::<Option<Vec<RigSpec>>>"
    )]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub rigs: Option<Vec<RigSpec>>,

    /// How long agents get to finish their work when the town is deleted, before their pods are removed. Go duration, default 10m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_termination_grace_period")]
    pub termination_grace_period: Option<GoDuration>,

    /// How often the status is refreshed from beads. Go duration, default 60s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_sync_interval")]
    pub sync_interval: Option<GoDuration>,

    /// How the pods of persistent agents (Mayor, Deacon, Witness, Refinery, crew) are replaced when their spec changes. Polecats are never replaced: a running one keeps its spec until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,
}

/// Pacing of agent pod replacements.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// How many persistent agents of one scope (the town's Mayor and Deacon; one rig's Witness, Refinery and crew) may be missing or not Ready while outdated pods are replaced. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_unavailable: Option<i32>,
    /// How long the replacement of a busy crew member (work hooked, or `working` in beads) waits for it to go idle before it is replaced anyway. Go duration; unset waits as long as it takes. The annotation `gastown.io/replace-now` on a crew pod replaces it at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_for_idle: Option<GoDuration>,
}

impl RolloutSpec {
    /// At most this many agents of a scope unavailable (default 1).
    pub fn max_unavailable(&self) -> usize {
        usize::try_from(self.max_unavailable.unwrap_or(1))
            .unwrap_or(1)
            .max(1)
    }
    /// How long a busy crew member is waited for; `None`: until it is idle.
    pub fn max_wait_for_idle(&self) -> Option<std::time::Duration> {
        self.max_wait_for_idle.as_ref().map(GoDuration::get)
    }
}

fn default_termination_grace_period() -> Option<GoDuration> {
    Some(known_valid(DEFAULT_TERMINATION_GRACE_PERIOD))
}
fn default_sync_interval() -> Option<GoDuration> {
    Some(known_valid(DEFAULT_SYNC_INTERVAL))
}

impl GasTownSpec {
    /// The RPC server settings (defaults when unset).
    pub fn rpc_server(&self) -> RpcServerSpec {
        self.rpc_server.clone().unwrap_or_default()
    }
    /// The mayor settings (defaults when unset).
    pub fn mayor(&self) -> AgentSpec {
        self.mayor.clone().unwrap_or_default()
    }
    /// The deacon settings (defaults when unset).
    pub fn deacon(&self) -> AgentSpec {
        self.deacon.clone().unwrap_or_default()
    }
    /// The declared rigs.
    pub fn rigs(&self) -> &[RigSpec] {
        self.rigs.as_deref().unwrap_or_default()
    }
    /// Time agents get to finish when the town is deleted (default 10m).
    pub fn termination_grace_period(&self) -> std::time::Duration {
        self.termination_grace_period.as_ref().map_or_else(
            || known_valid(DEFAULT_TERMINATION_GRACE_PERIOD).get(),
            GoDuration::get,
        )
    }
    /// Interval between status syncs (default 60s).
    pub fn sync_interval(&self) -> std::time::Duration {
        self.sync_interval
            .as_ref()
            .map_or_else(|| known_valid(DEFAULT_SYNC_INTERVAL).get(), GoDuration::get)
    }
}

/// The dolt SQL server holding the town's beads database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(
    validation = kube::core::Rule::new("!has(self.restoreFrom) || (has(oldSelf.restoreFrom) && oldSelf.restoreFrom == self.restoreFrom)")
        .message("spec.dolt.restoreFrom can only be set when the town is created: a restore runs once, into an empty volume, before dolt first serves (it may be removed)")
        .field_path(".restoreFrom")
        .reason(kube::core::Reason::FieldValueForbidden),
)]
#[serde(rename_all = "camelCase")]
pub struct DoltSpec {
    /// Container image of the dolt SQL server.
    #[schemars(length(min = 1, max = 512), regex(pattern = crate::schema::IMAGE_PATTERN))]
    pub image: String,
    /// Compute resources of the dolt server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::resource_requirements")]
    pub resources: Option<ResourceRequirements>,
    /// The volume holding the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<DoltPersistence>")]
    pub persistence: Option<DoltPersistence>,
    /// Keys of dolt's config.yaml (for example `log_level`, `behavior`, `listener`), written as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::free_form_object")]
    pub config: Option<BTreeMap<String, serde_json::Value>>,
    /// Deprecated and refused: it never backed anything up, and it names no DynamoDB table, without which dolt cannot back up to S3 (`aws://[table:bucket]/path`), so it cannot be mapped onto `backup`. Kept in the schema so that an old manifest gets a message saying so rather than having the field pruned silently. Use `backup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Backup>,
    /// Scheduled backups of every database of the dolt server (a CronJob that runs `dolt backup sync` against the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<DoltBackup>,
    /// Restore a new town from a backup: before dolt first serves, an init container restores each database into an empty volume. A volume that already holds data is never touched: dolt is then held and the DoltReady condition says why. Set it when the town is created; it cannot be added or changed later (removing it is allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<DoltRestore>,
    /// Secret key holding the password of dolt's root user, which the bd daemon connects as (dolt's `DOLT_ROOT_PASSWORD`, the daemon's `BEADS_DOLT_PASSWORD`). Recommended: without it root has an empty password, and any pod that reaches dolt's Service can connect. Dolt applies it only on its first start, when it creates its privileges on an empty volume: changing it later changes nothing in dolt (docs/operations.md says how to rotate it). Needs dolt 1.46.0 or later; an older image is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_secret_ref: Option<SecretKeyRef>,
    /// The NetworkPolicy that lets only the town's bd daemon reach dolt's SQL port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_object::<DoltNetworkPolicy>")]
    pub network_policy: Option<DoltNetworkPolicy>,
}

/// The NetworkPolicy in front of dolt. Only the bd daemon talks to dolt; agents go through the daemon.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DoltNetworkPolicy {
    /// Whether the operator creates it. Default true. Disable it if something else of yours must reach dolt's SQL port (a backup job, a SQL client); `kubectl exec` into the dolt pod needs no network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_true")]
    pub enabled: Option<bool>,
}

impl DoltNetworkPolicy {
    /// Whether the NetworkPolicy is created (default true).
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

impl DoltSpec {
    /// Whether dolt's NetworkPolicy is created (default true).
    pub fn network_policy_enabled(&self) -> bool {
        self.network_policy
            .as_ref()
            .is_none_or(DoltNetworkPolicy::enabled)
    }

    /// The persistence settings (defaults when unset).
    pub fn persistence(&self) -> DoltPersistence {
        self.persistence.clone().unwrap_or_default()
    }
}

/// dolt's data volume. Its size and class are fixed once dolt runs: they are the
/// StatefulSet's volume claim template, which Kubernetes never lets change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(
    validation = kube::core::Rule::new("self.size == oldSelf.size && has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)")
        .message("spec.dolt.persistence.size and storageClassName cannot change: they are the dolt StatefulSet's volume claim template, which is immutable; to grow the volume, resize the claim data-<town>-dolt-0 itself (docs/operations.md)"),
)]
#[serde(rename_all = "camelCase")]
pub struct DoltPersistence {
    /// Size of the volume. Default 10Gi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        schema_with = "crate::schema::quantity",
        default = "default_dolt_storage_size"
    )]
    pub size: Option<Quantity>,
    /// StorageClass of the volume; the cluster's default class when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub storage_class_name: Option<String>,
    /// Whether the volume survives the deletion of the GasTown. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_true")]
    pub retain_on_delete: Option<bool>,
}

fn default_dolt_storage_size() -> Option<Quantity> {
    Some(Quantity(DEFAULT_DOLT_STORAGE_SIZE.into()))
}

impl DoltPersistence {
    /// Size of the volume (default 10Gi).
    pub fn size(&self) -> Quantity {
        self.size
            .clone()
            .unwrap_or_else(|| Quantity(DEFAULT_DOLT_STORAGE_SIZE.into()))
    }
    /// Whether the volume is kept when the town is deleted (default true).
    pub fn retain_on_delete(&self) -> bool {
        self.retain_on_delete.unwrap_or(true)
    }
}

/// Backups of the dolt database to an S3 bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Backup {
    /// Name of the bucket.
    #[schemars(
        length(min = 3, max = 63),
        regex(pattern = r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
    )]
    pub bucket: String,
    /// Region of the bucket, e.g. `us-east-1`.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region: String,
    /// Secret with the AWS credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
    pub credentials_secret_ref: SecretRef,
}

/// The RPC server (gtmobile), off by default. Upstream deleted gtmobile in February 2026 and never published an image: this runs an image of your own, given `--port`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(
    validation = kube::core::Rule::new("!has(self.enabled) || !self.enabled || has(self.image)")
        .message("spec.rpcServer.image is required when spec.rpcServer.enabled is true")
        .field_path(".image")
        .reason(kube::core::Reason::FieldValueRequired),
)]
#[serde(rename_all = "camelCase")]
pub struct RpcServerSpec {
    /// Whether the RPC server runs. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(default = "default_false")]
    pub enabled: Option<bool>,
    /// Container image of the RPC server (required when enabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = crate::schema::IMAGE_PATTERN))]
    pub image: Option<String>,
    /// Port the RPC server listens on. Default 8443.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535), default = "default_rpc_server_port")]
    pub port: Option<i32>,
    /// Compute resources of the RPC server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::resource_requirements")]
    pub resources: Option<ResourceRequirements>,
}

fn default_rpc_server_port() -> Option<i32> {
    Some(DEFAULT_RPC_SERVER_PORT)
}

impl RpcServerSpec {
    /// Whether the RPC server runs (default false).
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(false)
    }
    /// The port (default 8443).
    pub fn port(&self) -> i32 {
        self.port.unwrap_or(DEFAULT_RPC_SERVER_PORT)
    }
}

/// Secrets the agents need.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsSpec {
    /// Secret key with the Anthropic API key (`ANTHROPIC_API_KEY` in agent pods). Upstream Gas Town's agents authenticate with OAuth credentials instead (`claudeCredentialsSecretRef`); the key suits images that read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anthropic_api_key_secret_ref: Option<SecretKeyRef>,
    /// Secret holding Claude Code's OAuth credentials under the key `credentials.json` (as upstream Gas Town's agents authenticate), mounted into every agent pod at `/tmp/claude-credentials`; a template layer's `claudeCredentialsSecretRef` replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_credentials_secret_ref: Option<SecretRef>,
    /// Secret with git credentials for cloning and pushing, mounted into every rig agent pod: `ssh-privatekey` for ssh URLs, or `password` (a token) and optionally `username` (default `git`) for https URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_credentials_secret_ref: Option<SecretRef>,
    /// Secrets to pull from an external store; rendered as ExternalSecret objects (external-secrets.io) only where that CRD is installed. Names are unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub external_secrets: Option<Vec<ExternalSecretSpec>>,
}

/// A Secret filled from an external secret store by the external-secrets operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSpec {
    /// Name of the ExternalSecret and of the Secret it creates.
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::schema::DNS_SUBDOMAIN_PATTERN))]
    pub name: String,
    /// The SecretStore or ClusterSecretStore to read from.
    pub secret_store_ref: SecretStoreRef,
    /// How often the secret is refreshed from the store. Go duration. Default 1h (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<GoDuration>,
    /// The keys of the Secret and where each comes from. Secret keys are unique.
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["secretKey".into()]))]
    pub data: Vec<ExternalSecretData>,
}

/// Default refresh interval of an external secret.
pub const DEFAULT_EXTERNAL_SECRET_REFRESH_INTERVAL: &str = "1h";

// No schema defaults in ExternalSecretSpec and SecretStoreRef: they are items of the
// `externalSecrets` list, where a default would make every client-side apply see drift
// (see `crate::schema::without_defaults`). These accessors resolve them.
impl ExternalSecretSpec {
    /// How often the secret is refreshed (default 1h).
    pub fn refresh_interval(&self) -> GoDuration {
        self.refresh_interval
            .clone()
            .unwrap_or_else(|| known_valid(DEFAULT_EXTERNAL_SECRET_REFRESH_INTERVAL))
    }
}

/// A secret store of the external-secrets operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretStoreRef {
    /// Name of the store.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Kind of the store: SecretStore (namespaced) or ClusterSecretStore. Default SecretStore (resolved by the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SecretStoreKind>,
}

impl SecretStoreRef {
    /// Kind of the store (default SecretStore).
    pub fn kind(&self) -> SecretStoreKind {
        self.kind.unwrap_or_default()
    }
}

/// Kind of an external-secrets store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::schema::drop_type_description)]
pub enum SecretStoreKind {
    /// A store in the same namespace.
    #[default]
    SecretStore,
    /// A cluster-wide store.
    ClusterSecretStore,
}

impl SecretStoreKind {
    /// The kind as external-secrets spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretStoreKind::SecretStore => "SecretStore",
            SecretStoreKind::ClusterSecretStore => "ClusterSecretStore",
        }
    }
}

/// One key of an external secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretData {
    /// Key in the created Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::schema::SECRET_KEY_PATTERN))]
    pub secret_key: String,
    /// Key of the entry in the external store.
    #[schemars(length(min = 1, max = 512))]
    pub remote_key: String,
    /// Property inside the store's entry (for JSON entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub remote_property: Option<String>,
}

/// The observed state of a town, projected from beads and the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GasTownStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: Ready, DoltReady, DaemonReady, MayorHealthy, DeaconHealthy, RigsReconciled, AgentsUpToDate, BackupHealthy (with spec.dolt.backup; not part of Ready), Draining (True while no new polecats start: drained by request with the annotation `gastown.io/drain`, or being deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Option<Vec<Condition>>,
    /// Rigs of the town.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rig_count: Option<i32>,
    /// Persistent agents (Mayor, Deacon, and every rig's Witness, Refinery and crew) the town declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_agents: Option<i32>,
    /// Of those, the agents whose pod runs the current spec and is Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_agents: Option<i32>,
    /// Agent pods running in the town.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_count: Option<i32>,
    /// The mayor, as beads and its pod report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mayor: Option<TownAgentStatus>,
    /// The deacon, as beads and its pod report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deacon: Option<TownAgentStatus>,
    /// The operator's connection to the bd daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemon: Option<DaemonStatus>,
    /// A summary of each rig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub rigs: Option<Vec<RigSummary>>,
    /// The town's dolt backups, as their Jobs report them; absent without `spec.dolt.backup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupStatus>,
    /// When beads' view of the town last changed what this status shows. A town at rest is still read from beads every syncInterval, but its status is not rewritten, so that it costs the API server no writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced: Option<Time>,
}

/// Condition types of a GasTown.
pub mod condition {
    /// The town runs as declared.
    pub const READY: &str = "Ready";
    /// The dolt server is ready.
    pub const DOLT_READY: &str = "DoltReady";
    /// The bd daemon answers.
    pub const DAEMON_READY: &str = "DaemonReady";
    /// The mayor is healthy (pod ready and beads agent state alive).
    pub const MAYOR_HEALTHY: &str = "MayorHealthy";
    /// The deacon is healthy.
    pub const DEACON_HEALTHY: &str = "DeaconHealthy";
    /// Every persistent agent of the town and its rigs runs the current spec (a rollout gate for `kubectl wait`).
    pub const AGENTS_UP_TO_DATE: &str = "AgentsUpToDate";
    /// Every declared rig has an up-to-date Rig object.
    pub const RIGS_RECONCILED: &str = "RigsReconciled";
    /// The latest backup succeeded and is recent (within twice the schedule's interval). Present only with `spec.dolt.backup`; not part of Ready.
    pub const BACKUP_HEALTHY: &str = "BackupHealthy";
    /// No new polecats start: the town is drained by request (annotation `gastown.io/drain`, reason `DrainRequested`) or being deleted (reason `Draining`).
    pub const DRAINING: &str = "Draining";
}

/// A town-level agent (mayor, deacon).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TownAgentStatus {
    /// The agent's state as beads records it (`agent_state`, e.g. working, idle, stuck).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Whether the agent's pod is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// Name of the agent's pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// ID of the bead on the agent's hook (its current work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_bead: Option<String>,
}

/// The operator's connection to the bd daemon.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DaemonStatus {
    /// Whether the last request to the daemon succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    /// The `host:port` the operator talks to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The daemon's version, as its health check reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The protocol the operator speaks with it: `daemon` or `serve`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// How the operator learns of changes in beads: `stream` (the server's change stream), or why it cannot (e.g. the events journal is off) and what it does instead (relisting periodically). Absent until known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_feed: Option<String>,
}

/// A rig's summary in the town's status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RigSummary {
    /// The rig name.
    pub name: String,
    /// The rig's phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Polecats running now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polecat_count: Option<i32>,
    /// Crew members running now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crew_count: Option<i32>,
    /// Whether the witness is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_healthy: Option<bool>,
    /// Whether the refinery is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refinery_healthy: Option<bool>,
    /// Merge requests waiting; absent when beads' server cannot tell (a town on `bd serve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_queue_depth: Option<i32>,
    /// Beads hooked to the rig's agents (work in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_work: Option<i32>,
}

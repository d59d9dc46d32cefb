//! Dolt backups (`spec.dolt.backup`), restoring a new town from one
//! (`spec.dolt.restoreFrom`), and what the status says of them.
//!
//! How Dolt backs up (container-contracts.md §1.5): a backup is registered
//! per database under a name (`dolt_backup('add', name, url)`, D5) and synced
//! with `dolt_backup('sync', name)`, which runs inside the server, so storage
//! credentials belong to the server process (D5).

use crate::common::SecretRef;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The URL forms Dolt accepts for a backup (D5, D6), one regular expression.
/// `aws://` needs both the DynamoDB table and the bucket (D6: `aws://[bucket]/db`
/// fails "aws url has an invalid format"). No quotes, backslashes or spaces:
/// the URL is written into SQL and a shell script. No trailing `/`: each
/// database goes under `<url>/<database>`.
pub const BACKUP_URL_RULE: &str = r#"self.url.matches('^(aws://\\[[A-Za-z0-9_.-]+:[a-z0-9][a-z0-9.-]*\\]/|gs://[a-z0-9][a-z0-9._-]*/|file:///|oci://|az://|oss://)[^\\s\'"\\\\]*[^\\s\'"\\\\/]$')"#;

/// The message of [`BACKUP_URL_RULE`]: the accepted forms.
pub const BACKUP_URL_MESSAGE: &str = "must be a Dolt backup URL without a trailing '/': aws://[dynamo-table:bucket]/path (both the DynamoDB table and the S3 bucket), gs://bucket/path, file:///absolute/path (on the dolt server's filesystem), or an oci://, az:// or oss:// URL; each database is backed up under <url>/<database>";

/// Default number of failed backup Jobs kept.
pub const DEFAULT_FAILED_JOBS_HISTORY_LIMIT: i32 = 3;

/// Scheduled backups of every database of the town's dolt server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(
    validation = kube::core::Rule::new(BACKUP_URL_RULE)
        .message(BACKUP_URL_MESSAGE)
        .field_path(".url")
        .reason(kube::core::Reason::FieldValueInvalid),
)]
#[serde(rename_all = "camelCase")]
pub struct DoltBackup {
    /// When backups run: a CronJob schedule (five cron fields, or `@daily`, `@hourly`, …), in UTC.
    #[schemars(
        length(min = 1, max = 128),
        regex(
            pattern = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+\s+\S+\s+\S+\s+\S+\s+\S+)$"
        )
    )]
    pub schedule: String,
    /// Where backups go: `aws://[dynamo-table:bucket]/path`, `gs://bucket/path`, `file:///absolute/path` (on dolt's own filesystem: it protects against mistakes, not against losing the volume), `oci://`, `az://` or `oss://`. Each database of the server is backed up under `<url>/<database>`.
    #[schemars(length(min = 8, max = 1024))]
    pub url: String,
    /// Secret whose keys become environment variables of the dolt server (for example `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`): Dolt syncs a backup inside the server process, so that is where it reads credentials. Leave it unset when the cluster gives the dolt pod an identity (IRSA, Pod Identity, Workload Identity). Changing it restarts dolt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// How many failed backup Jobs are kept (at least 1: the status reads the latest failure from them). Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 20))]
    pub failed_jobs_history_limit: Option<i32>,
}

impl DoltBackup {
    /// Failed Jobs kept (default 3).
    pub fn failed_jobs_history_limit(&self) -> i32 {
        self.failed_jobs_history_limit
            .unwrap_or(DEFAULT_FAILED_JOBS_HISTORY_LIMIT)
    }
}

/// Restoring a new town's dolt from a backup, before dolt serves anyone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(
    validation = kube::core::Rule::new(BACKUP_URL_RULE)
        .message(BACKUP_URL_MESSAGE)
        .field_path(".url")
        .reason(kube::core::Reason::FieldValueInvalid),
)]
#[serde(rename_all = "camelCase")]
pub struct DoltRestore {
    /// The backup to restore: the `url` of a `spec.dolt.backup`; each database is read from `<url>/<database>`.
    #[schemars(length(min = 8, max = 1024))]
    pub url: String,
    /// The databases the backup must hold; each is restored, and the restore fails (touching nothing) unless every one of them is there. The bd daemon's database is `beads`.
    #[schemars(
        length(min = 1, max = 32),
        inner(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$"))
    )]
    pub databases: Vec<String>,
    /// Secret whose keys become environment variables of the restore (the same keys as `backup.credentialsSecretRef`). Leave it unset when the dolt pod has an identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
}

/// What the operator observed of the town's backups.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// When the latest backup that succeeded completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
    /// The latest backup that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<BackupFailure>,
    /// The token of the latest on-demand backup started (annotation `gastown.io/backup-now`): each token runs once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_manual_token: Option<String>,
}

/// One failed backup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupFailure {
    /// When it failed.
    pub time: Time,
    /// The Job that failed.
    pub job: String,
    /// Why, as the Job says it.
    pub message: String,
}

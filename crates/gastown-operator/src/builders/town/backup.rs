//! Dolt backups and restores (container-contracts.md §1.5): the CronJob
//! that syncs every database of the town's dolt server to its backup, the
//! on-demand Job made from it, and the init container that restores a new
//! town's empty volume before dolt first serves.
//!
//! Dolt syncs a backup inside the server (D5: since v1.78.5 `dolt backup`
//! calls `dolt_backup(...)` through the server's SQL engine; the procedure is
//! admin-only, D5/D9), so the Job is a mere client: it logs in as root with
//! the town's root password (`DOLT_CLI_USER`/`DOLT_CLI_PASSWORD`, D8), and
//! the storage credentials go to the server's environment instead (D5: in
//! server mode `--aws-*` arguments are refused and the AWS SDK chain of the
//! server process applies).

use std::collections::BTreeMap;

use gastown_api::SecretKeyRef;
use gastown_api::backup::{DoltBackup, DoltRestore};
use gastown_api::common::SecretRef;
use gastown_api::gastown::DoltSpec;
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvFromSource, EnvVar, PodSpec, PodTemplateSpec,
    SecretEnvSource, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;

use super::{TERMINATION_MESSAGE_POLICY, TownRef, env, env_from_secret, volume_mount};
use crate::builders::security::{container_security_context, pod_security_context};
use crate::naming;

/// Component label of the backup Jobs' pods (dolt's NetworkPolicy admits them).
pub const BACKUP_COMPONENT: &str = "dolt-backup";
/// The name every database's backup is registered under (`dolt_backup('add', …)`).
pub const BACKUP_NAME: &str = "gastown";
/// The restore init container of dolt's StatefulSet.
pub const RESTORE_CONTAINER: &str = "restore";
/// A writable home for the `dolt` client: every invocation writes
/// `$HOME/.dolt/config_global.json` and exits 1 when it cannot (D4).
const CLIENT_HOME: &str = "/home/dolt";
/// Annotation of the Job started on demand: the token it ran for (as
/// `kubectl create job --from=cronjob/…` marks its Jobs `manual`).
pub const MANUAL_TOKEN_ANNOTATION: &str = "gastown.io/backup-now-token";

/// The backup run: for every database of the server (but MySQL's own), make
/// sure the backup is registered under [`BACKUP_NAME`] at `<url>/<db>`
/// (registration is checked in the `dolt_backups` table first, D5, since
/// `dolt_backup('add', …)` fails with "a backup named … already exists";
/// a URL changed in the spec is registered anew), then `dolt backup sync`.
/// Every database is tried; the run fails if any did.
const BACKUP_SCRIPT: &str = r#"set -eu
remote() { dolt --host "$DOLT_HOST" --port 3306 --no-tls --user "$DOLT_CLI_USER" "$@"; }
databases=$(remote sql -r csv -q "SHOW DATABASES" | tail -n +2 | grep -v -x -e information_schema -e mysql || true)
if [ -z "$databases" ]; then echo "dolt at $DOLT_HOST has no database to back up" >&2; exit 1; fi
failed=""
for db in $databases; do
  url="$BACKUP_URL/$db"
  registered=$(remote --use-db "$db" sql -r csv -q "SELECT url FROM dolt_backups WHERE name = '$BACKUP_NAME'" | tail -n +2)
  if [ "$registered" != "$url" ]; then
    if [ -n "$registered" ]; then remote --use-db "$db" sql -q "CALL dolt_backup('remove', '$BACKUP_NAME')"; fi
    remote --use-db "$db" sql -q "CALL dolt_backup('add', '$BACKUP_NAME', '$url')"
  fi
  if remote --use-db "$db" backup sync "$BACKUP_NAME"; then echo "backed up $db to $url"; else failed="$failed $db"; fi
done
if [ -n "$failed" ]; then echo "backup sync failed for:$failed" >&2; exit 1; fi
"#;

/// The restore, run before dolt's server on its volume. Restored before (the
/// marker): nothing to do. Anything on the volume but `lost+found` and its
/// own staging: refuse, touching nothing. Otherwise every expected database
/// is restored into a staging directory first (D5: `dolt backup restore
/// <url> <db>` without `--force`, which removes what it made when it fails),
/// and only when all of them came does any reach the data directory.
const RESTORE_SCRIPT: &str = r#"set -eu
data=/var/lib/dolt
marker="$data/.gastown-restored"
staging="$data/.gastown-restore"
if [ -e "$marker" ]; then echo "restored before from $(cat "$marker"); nothing to do"; exit 0; fi
existing=$(ls -A "$data" | grep -v -x -e lost+found -e .gastown-restore || true)
if [ -n "$existing" ]; then
  echo "refusing to restore $RESTORE_URL: $data already holds data ($(echo $existing)); nothing was changed. Remove spec.dolt.restoreFrom to serve that data, or restore into a new town" >&2
  exit 3
fi
dolt config --global --get user.name >/dev/null 2>&1 || dolt config --global --add user.name gastown-restore
dolt config --global --get user.email >/dev/null 2>&1 || dolt config --global --add user.email gastown-restore@localhost
rm -rf "$staging"; mkdir "$staging"; cd "$staging"
for db in $RESTORE_DATABASES; do
  if ! dolt backup restore "$RESTORE_URL/$db" "$db" || [ ! -d "$db/.dolt" ]; then
    echo "the backup $RESTORE_URL holds no readable database $db at $RESTORE_URL/$db; nothing was restored" >&2
    exit 1
  fi
done
for db in $RESTORE_DATABASES; do mv "$staging/$db" "$data/$db"; done
cd "$data"; rmdir "$staging"
echo "$RESTORE_URL" > "$marker"
echo "restored $RESTORE_DATABASES from $RESTORE_URL"
"#;

/// The Secret's keys as environment variables of a container.
fn env_from(secret: &SecretRef) -> EnvFromSource {
    EnvFromSource {
        secret_ref: Some(SecretEnvSource {
            name: secret.name.clone(),
            optional: Some(false),
        }),
        ..Default::default()
    }
}

/// What the dolt server's container gets for backups: the storage
/// credentials, which Dolt reads in the server process (D5).
pub fn server_backup_env(dolt: &DoltSpec) -> Option<Vec<EnvFromSource>> {
    let secret = dolt.backup.as_ref()?.credentials_secret_ref.as_ref()?;
    Some(vec![env_from(secret)])
}

fn home_volume() -> Volume {
    Volume {
        name: "home".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

/// The admin login of the `dolt` client: root, with the town's root
/// password, or none when the town sets none (D8: `DOLT_CLI_PASSWORD` set,
/// even empty, means no prompt).
fn admin_env(dolt: &DoltSpec) -> Vec<EnvVar> {
    let password = match &dolt.root_password_secret_ref {
        Some(SecretKeyRef { name, key }) => env_from_secret("DOLT_CLI_PASSWORD", name, key),
        None => env("DOLT_CLI_PASSWORD", ""),
    };
    vec![env("DOLT_CLI_USER", "root"), password]
}

/// The CronJob backing up every database of the town's dolt server.
///
/// Like the other workloads it has no owner reference: the town's teardown
/// removes it, after dolt (a foreground cascade must not stop backups while
/// the town drains). `Forbid`: a run never overlaps the previous one.
pub fn backup_cron_job(town: &TownRef, dolt: &DoltSpec, backup: &DoltBackup) -> CronJob {
    let labels = town.component_labels(BACKUP_COMPONENT);
    let mut container_env = vec![
        env("HOME", CLIENT_HOME),
        env("DOLT_HOST", naming::dolt(&town.name)),
        env("BACKUP_NAME", BACKUP_NAME),
        env("BACKUP_URL", backup.url.clone()),
    ];
    container_env.extend(admin_env(dolt));
    let container = Container {
        name: "backup".into(),
        // The server's own image: the client matches its version (D5 needs
        // v1.78.5 or later for `backup sync` to run in the server).
        image: Some(dolt.image.clone()),
        command: Some(vec!["/bin/sh".into(), "-c".into(), BACKUP_SCRIPT.into()]),
        working_dir: Some(CLIENT_HOME.into()),
        env: Some(container_env),
        volume_mounts: Some(vec![volume_mount("home", CLIENT_HOME, false)]),
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.into()),
        security_context: Some(container_security_context()),
        ..Default::default()
    };
    let pod = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.clone()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            volumes: Some(vec![home_volume()]),
            restart_policy: Some("Never".into()),
            automount_service_account_token: Some(false),
            security_context: Some(pod_security_context()),
            ..Default::default()
        }),
    };
    CronJob {
        metadata: town.meta(naming::dolt_backup(&town.name), BACKUP_COMPONENT, false),
        spec: Some(CronJobSpec {
            schedule: backup.schedule.clone(),
            time_zone: Some("Etc/UTC".into()),
            concurrency_policy: Some("Forbid".into()),
            failed_jobs_history_limit: Some(backup.failed_jobs_history_limit()),
            successful_jobs_history_limit: Some(1),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(JobSpec {
                    // One retry: a run that fails twice is a failure to tell.
                    backoff_limit: Some(1),
                    template: pod,
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// A short, stable name part for an on-demand `token` (FNV-1a, 32 bits).
fn token_hash(token: &str) -> String {
    let hash = token.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("{hash:08x}")
}

/// The Job one `gastown.io/backup-now=<token>` starts: the CronJob's
/// template, owned by the CronJob as `kubectl create job --from=cronjob/…`
/// makes it (so its history limits and its deletion cover it), named after
/// the token, so a token runs once however often it is seen.
pub fn manual_backup_job(cron_job: &CronJob, token: &str) -> Option<Job> {
    let template = cron_job.spec.as_ref()?.job_template.clone();
    let mut metadata = template.metadata.unwrap_or_default();
    // `m`: never the CronJob's own `<name>-<minutes>`; at most 52 + 10 characters.
    metadata.name = Some(format!("{}-m{}", cron_job.name_any(), token_hash(token)));
    metadata.namespace = cron_job.namespace();
    metadata.annotations = Some(BTreeMap::from([
        (
            "cronjob.kubernetes.io/instantiate".to_string(),
            "manual".to_string(),
        ),
        (MANUAL_TOKEN_ANNOTATION.to_string(), token.to_string()),
    ]));
    metadata.owner_references = Some(vec![OwnerReference {
        api_version: "batch/v1".into(),
        kind: "CronJob".into(),
        name: cron_job.name_any(),
        uid: cron_job.uid()?,
        controller: Some(true),
        block_owner_deletion: None,
    }]);
    Some(Job {
        metadata,
        spec: template.spec,
        status: None,
    })
}

/// The init container of dolt's StatefulSet that restores `restore` into an
/// empty volume ([`RESTORE_SCRIPT`]), in dolt's image, as dolt's user.
pub fn restore_init_container(
    dolt: &DoltSpec,
    restore: &DoltRestore,
    data_mount: &str,
) -> Container {
    Container {
        name: RESTORE_CONTAINER.into(),
        image: Some(dolt.image.clone()),
        command: Some(vec!["/bin/sh".into(), "-c".into(), RESTORE_SCRIPT.into()]),
        working_dir: Some(data_mount.into()),
        env: Some(vec![
            env("HOME", CLIENT_HOME),
            env("RESTORE_URL", restore.url.clone()),
            env("RESTORE_DATABASES", restore.databases.join(" ")),
        ]),
        env_from: restore
            .credentials_secret_ref
            .as_ref()
            .map(|s| vec![env_from(s)]),
        volume_mounts: Some(vec![
            volume_mount("data", data_mount, false),
            volume_mount("home", CLIENT_HOME, false),
        ]),
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.into()),
        security_context: Some(container_security_context()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;

//! The backup CronJob, the on-demand Job and the restore init container,
//! checked against how Dolt backs up (container-contracts.md §1.5).

use super::*;
use crate::builders::town::tests::town;
use crate::builders::town::{dolt_network_policy, dolt_statefulset};
use gastown_api::gastown::BeadsProtocol;
use k8s_openapi::api::core::v1::PodSpec;

fn dolt(extra: serde_json::Value) -> DoltSpec {
    let mut spec = serde_json::json!({
        "image": "dolthub/dolt-sql-server:1.81.6",
        "rootPasswordSecretRef": {"name": "dolt-root", "key": "password"},
        "backup": {
            "schedule": "0 3 * * *",
            "url": "aws://[dolt-locks:town-backups]/prod",
            "credentialsSecretRef": {"name": "backup-aws"}
        }
    });
    for (key, value) in extra.as_object().unwrap() {
        spec[key] = value.clone();
    }
    serde_json::from_value(spec).unwrap()
}

fn env_value<'a>(container: &'a Container, name: &str) -> Option<&'a EnvVar> {
    container.env.iter().flatten().find(|e| e.name == name)
}

fn job_pod(cron_job: &CronJob) -> &PodSpec {
    cron_job
        .spec
        .as_ref()
        .unwrap()
        .job_template
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
}

#[test]
fn the_cron_job_syncs_every_database_inside_the_server_as_its_admin() {
    let spec = dolt(serde_json::json!({}));
    let cron_job = backup_cron_job(&town(), &spec, spec.backup.as_ref().unwrap());
    assert_eq!(cron_job.metadata.name.as_deref(), Some("prod-dolt-backup"));
    // A workload: no owner reference, removed by the teardown after dolt.
    assert!(cron_job.metadata.owner_references.is_none());
    let cron = cron_job.spec.as_ref().unwrap();
    assert_eq!(cron.schedule, "0 3 * * *");
    assert_eq!(cron.concurrency_policy.as_deref(), Some("Forbid"));
    assert_eq!(cron.failed_jobs_history_limit, Some(3));

    let pod = job_pod(&cron_job);
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let container = &pod.containers[0];
    // The server's own image: the client's `backup sync` runs in the server since v1.78.5 (D5).
    assert_eq!(
        container.image.as_deref(),
        Some("dolthub/dolt-sql-server:1.81.6")
    );
    let script = &container.command.as_ref().unwrap()[2];
    // Against the server, over its Service, on the SQL port (D5, D8).
    assert!(
        script.contains(r#"dolt --host "$DOLT_HOST" --port 3306 --no-tls --user "$DOLT_CLI_USER""#)
    );
    assert_eq!(
        env_value(container, "DOLT_HOST").unwrap().value.as_deref(),
        Some("prod-dolt")
    );
    // Every database of the server, MySQL's own excepted.
    assert!(script.contains(r#"SHOW DATABASES"#));
    assert!(script.contains("grep -v -x -e information_schema -e mysql"));
    // Registered once per database: checked in dolt_backups first (D5), then added.
    assert!(script.contains("SELECT url FROM dolt_backups WHERE name = '$BACKUP_NAME'"));
    assert!(script.contains("CALL dolt_backup('add', '$BACKUP_NAME', '$url')"));
    assert!(script.contains(r#"url="$BACKUP_URL/$db""#));
    // `dolt backup sync <name>` with the database current (admin-only and needs one, D5).
    assert!(script.contains(r#"--use-db "$db" backup sync "$BACKUP_NAME""#));
    assert_eq!(
        env_value(container, "BACKUP_URL").unwrap().value.as_deref(),
        Some("aws://[dolt-locks:town-backups]/prod")
    );
    // The admin: root, with the town's root password, through the CLI's variables (D8).
    assert_eq!(
        env_value(container, "DOLT_CLI_USER")
            .unwrap()
            .value
            .as_deref(),
        Some("root")
    );
    let password = env_value(container, "DOLT_CLI_PASSWORD").unwrap();
    let secret = password
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (secret.name.as_str(), secret.key.as_str()),
        ("dolt-root", "password")
    );
    // No storage credentials in the Job: in server mode they belong to the server (D5).
    assert!(container.env_from.is_none());
    assert!(
        container
            .env
            .iter()
            .flatten()
            .all(|e| !e.name.starts_with("AWS_"))
    );
    // A writable HOME for the client's global config (D4), non-root, nothing added.
    assert_eq!(
        env_value(container, "HOME").unwrap().value.as_deref(),
        Some(CLIENT_HOME)
    );
    let home = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == CLIENT_HOME);
    assert!(home.is_some_and(|m| m.read_only != Some(true)));
    assert!(
        pod.volumes
            .iter()
            .flatten()
            .any(|v| v.name == "home" && v.empty_dir.is_some())
    );
    assert_eq!(
        pod.security_context.as_ref().unwrap().run_as_non_root,
        Some(true)
    );
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(
        security.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..])
    );
}

#[test]
fn without_a_root_password_the_admin_logs_in_with_none() {
    let mut spec = dolt(serde_json::json!({}));
    spec.root_password_secret_ref = None;
    let cron_job = backup_cron_job(&town(), &spec, spec.backup.as_ref().unwrap());
    let password = env_value(&job_pod(&cron_job).containers[0], "DOLT_CLI_PASSWORD").unwrap();
    // Set, even empty: the CLI does not prompt (D8).
    assert_eq!(password.value.as_deref(), Some(""));
}

#[test]
fn storage_credentials_reach_the_dolt_server_and_its_pods_admit_the_backup_jobs() {
    let spec = dolt(serde_json::json!({}));
    let sts = dolt_statefulset(&town(), &spec, None);
    let server = &sts.spec.unwrap().template.spec.unwrap().containers[0];
    let from = server.env_from.as_ref().unwrap();
    assert_eq!(from[0].secret_ref.as_ref().unwrap().name, "backup-aws");

    let policy = dolt_network_policy(&town(), BeadsProtocol::Daemon, true);
    let peers = policy.spec.unwrap().ingress.unwrap()[0]
        .from
        .clone()
        .unwrap();
    assert!(peers.iter().any(|p| {
        p.pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .is_some_and(|l| {
                l.get("app.kubernetes.io/component").map(String::as_str) == Some(BACKUP_COMPONENT)
            })
    }));
}

#[test]
fn an_on_demand_job_is_the_cron_jobs_template_named_after_its_token() {
    let spec = dolt(serde_json::json!({}));
    let mut cron_job = backup_cron_job(&town(), &spec, spec.backup.as_ref().unwrap());
    assert!(
        manual_backup_job(&cron_job, "t1").is_none(),
        "not stored yet: no uid"
    );
    cron_job.metadata.uid = Some("cron-uid".into());
    let job = manual_backup_job(&cron_job, "2026-12-05").unwrap();
    let again = manual_backup_job(&cron_job, "2026-12-05").unwrap();
    let other = manual_backup_job(&cron_job, "2026-12-06").unwrap();
    assert_eq!(job.metadata.name, again.metadata.name);
    assert_ne!(job.metadata.name, other.metadata.name);
    assert!(job.metadata.name.as_ref().unwrap().len() <= 63);
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("CronJob", "cron-uid")
    );
    assert_eq!(owner.controller, Some(true));
    assert_eq!(
        job.spec.as_ref().unwrap().template,
        cron_job
            .spec
            .as_ref()
            .unwrap()
            .job_template
            .spec
            .as_ref()
            .unwrap()
            .template
    );
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[MANUAL_TOKEN_ANNOTATION],
        "2026-12-05"
    );
}

#[test]
fn a_restore_runs_before_the_server_and_only_into_an_empty_volume() {
    let spec = dolt(serde_json::json!({
        "restoreFrom": {"url": "gs://town-backups/prod", "databases": ["beads", "gastown"]}
    }));
    let sts = dolt_statefulset(&town(), &spec, spec.restore_from.as_ref());
    let pod = sts.spec.unwrap().template.spec.unwrap();
    let init = pod.init_containers.as_ref().unwrap();
    assert_eq!(init.len(), 1);
    let restore = &init[0];
    assert_eq!(restore.name, RESTORE_CONTAINER);
    // On dolt's data volume, with a writable home, in dolt's image.
    assert!(
        restore
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == "data" && m.mount_path == "/var/lib/dolt")
    );
    assert_eq!(
        env_value(restore, "HOME").unwrap().value.as_deref(),
        Some(CLIENT_HOME)
    );
    assert_eq!(restore.image, pod.containers[0].image);
    assert_eq!(
        env_value(restore, "RESTORE_DATABASES")
            .unwrap()
            .value
            .as_deref(),
        Some("beads gastown")
    );
    let script = &restore.command.as_ref().unwrap()[2];
    // Never over data: it refuses a volume that holds anything, and never forces (D5).
    assert!(script.contains("already holds data"));
    assert!(!script.contains("--force"));
    assert!(!script.contains("rm -rf \"$data"));
    // Every database into staging first; the data directory only when all came.
    assert!(script.contains(r#"dolt backup restore "$RESTORE_URL/$db" "$db""#));
    let restore_at = script.find("dolt backup restore").unwrap();
    let move_at = script.find("mv \"$staging/$db\"").unwrap();
    assert!(restore_at < move_at);
    // Without restoreFrom: no init container.
    let plain = dolt_statefulset(&town(), &spec, None);
    assert!(
        plain
            .spec
            .unwrap()
            .template
            .spec
            .unwrap()
            .init_containers
            .is_none()
    );
}

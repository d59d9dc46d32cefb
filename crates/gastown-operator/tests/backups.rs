//! Dolt backups end to end, on the simulation's Job and CronJob controllers:
//! a run that succeeds or fails moves the town's status, its BackupHealthy
//! condition, the metric and the Events; an on-demand request runs once;
//! a restore never touches a volume that exists and runs before dolt on an
//! empty one; deleting the town keeps the backup CronJob until dolt is gone.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    CONVERGE, Harness, NAMESPACE, TOWN, condition, eventually, minimal_town, running_town,
};
use embedded_apiserver::JobPods;
use futures::StreamExt;
use gastown_api::GasTown;
use gastown_api::backup::{BackupStatus, DoltBackup, DoltRestore};
use gastown_operator::naming;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

const BACKUP_URL: &str = "gs://town-backups/minimal";

fn backup() -> DoltBackup {
    serde_json::from_value(json!({"schedule": "0 3 * * *", "url": BACKUP_URL})).unwrap()
}

/// The minimal town with scheduled backups, created.
async fn town_with_backups(harness: &Harness) -> GasTown {
    let mut town = minimal_town();
    town.spec.dolt.as_mut().unwrap().backup = Some(backup());
    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &town)
        .await
        .expect("the town is created");
    running_town(harness).await
}

async fn backup_status(harness: &Harness) -> Option<BackupStatus> {
    let town = harness.api::<GasTown>().get(TOWN).await.ok()?;
    town.status?.backup
}

async fn backup_health(harness: &Harness) -> Option<(String, String)> {
    let town = harness.api::<GasTown>().get(TOWN).await.ok()?;
    condition(&town, "BackupHealthy")
}

/// How often the Events were told (a repeated Event is one with a series).
fn occurrences(events: &[(String, String, i32)]) -> usize {
    events.iter().map(|(_, _, count)| *count as usize).sum()
}

/// The town's Events with `reason`: (type, note, how often it was told).
async fn events(harness: &Harness, reason: &str) -> Vec<(String, String, i32)> {
    harness
        .api::<Event>()
        .list(&Default::default())
        .await
        .expect("events are listed")
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(TOWN)
                && e.reason.as_deref() == Some(reason)
        })
        .map(|e| {
            let count = e.series.as_ref().map_or(1, |s| s.count);
            (
                e.type_.unwrap_or_default(),
                e.note.unwrap_or_default(),
                count,
            )
        })
        .collect()
}

fn last_success_metric(harness: &Harness) -> Option<String> {
    let prefix = format!(
        "gastown_backup_last_success_timestamp_seconds{{namespace=\"{NAMESPACE}\",town=\"{TOWN}\"}} "
    );
    harness
        .metrics()
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_succeeds_or_fails_moves_status_condition_metric_and_events() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    town_with_backups(&harness).await;
    let cron_job = naming::dolt_backup(TOWN);
    let cron_jobs: Api<CronJob> = harness.api();
    let made = eventually("the backup CronJob exists", CONVERGE, || async {
        cron_jobs.get_opt(&cron_job).await.ok()?
    })
    .await;
    assert_eq!(
        made.spec.unwrap().concurrency_policy.as_deref(),
        Some("Forbid")
    );
    // Applied once: a reconcile that finds it right writes nothing.
    common::quiet_window(&harness, Duration::from_secs(3)).await;
    // Nothing has run: unknown, and no time is invented.
    let (health, _) = eventually("BackupHealthy is reported", CONVERGE, || {
        backup_health(&harness)
    })
    .await;
    assert_eq!(health, "Unknown");
    assert!(last_success_metric(&harness).is_none());

    // A run that succeeds.
    harness.server.run_cron_job_now(NAMESPACE, &cron_job);
    let status = eventually("the success is in the status", CONVERGE, || async {
        backup_status(&harness)
            .await?
            .last_successful_time
            .map(|_| ())?;
        backup_status(&harness).await
    })
    .await;
    let (health, message) = backup_health(&harness).await.unwrap();
    assert_eq!(health, "True", "{message}");
    let success = status.last_successful_time.unwrap().0.as_second();
    let metric = eventually("the metric is exported", CONVERGE, || async {
        last_success_metric(&harness)
    })
    .await;
    assert_eq!(metric, success.to_string());

    // Two runs that fail: each is told, once.
    harness
        .server
        .set_job_pods(NAMESPACE, &cron_job, JobPods::Fail);
    let mut failed_jobs = Vec::new();
    for run in 1..=2 {
        harness.server.run_cron_job_now(NAMESPACE, &cron_job);
        let failure = eventually("the failure is in the status", CONVERGE, || async {
            let failure = backup_status(&harness).await?.last_failure?;
            (!failed_jobs.contains(&failure.job)).then_some(failure)
        })
        .await;
        failed_jobs.push(failure.job.clone());
        assert!(
            failure.message.contains("BackoffLimitExceeded"),
            "{}",
            failure.message
        );
        let (health, message) = backup_health(&harness).await.unwrap();
        assert_eq!(health, "False");
        assert!(message.contains(&failure.job), "{message}");
        let told = eventually("the failure is told", CONVERGE, || async {
            let told = events(&harness, "BackupFailed").await;
            (occurrences(&told) == run).then_some(told)
        })
        .await;
        assert!(
            told.iter().all(|(kind, _, _)| kind == "Warning"),
            "{told:?}"
        );
        // The first failure's note names its Job; a repeat of the same
        // reason joins the Event's series (kube's recorder), as kubelet's do.
        assert!(told[0].1.contains(&failed_jobs[0]), "{told:?}");
    }
    // The metric keeps the last success: it is what the alert reads.
    assert_eq!(last_success_metric(&harness), Some(success.to_string()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        occurrences(&events(&harness, "BackupFailed").await),
        2,
        "told once each"
    );

    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_demand_backup_runs_once_per_token() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    town_with_backups(&harness).await;
    let towns: Api<GasTown> = harness.api();
    let jobs: Api<Job> = harness.api();
    let request =
        |token: &str| json!({"metadata": {"annotations": {naming::BACKUP_NOW_ANNOTATION: token}}});
    let jobs_for = |token: String| {
        let jobs = jobs.clone();
        async move {
            jobs.list(&Default::default())
                .await
                .expect("jobs are listed")
                .items
                .into_iter()
                .filter(|j| j.annotations().get("gastown.io/backup-now-token") == Some(&token))
                .collect::<Vec<_>>()
        }
    };

    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(request("first")),
        )
        .await
        .expect("the annotation is set");
    eventually("the token is recorded", CONVERGE, || async {
        let status = backup_status(&harness).await?;
        (status.last_manual_token.as_deref() == Some("first")).then_some(())
    })
    .await;
    let started = jobs_for("first".into()).await;
    assert_eq!(started.len(), 1);
    let owner = common::controller_owner(&started[0]).expect("the CronJob controls it");
    assert_eq!(owner.name, naming::dolt_backup(TOWN));
    eventually("it succeeds and counts as a backup", CONVERGE, || async {
        backup_status(&harness).await?.last_successful_time
    })
    .await;

    // The Job goes (as history limits make it go): the token does not run again.
    jobs.delete(&started[0].name_any(), &DeleteParams::background())
        .await
        .expect("the Job is deleted");
    eventually("the Job is gone", CONVERGE, || async {
        jobs_for("first".into()).await.is_empty().then_some(())
    })
    .await;
    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .expect("a change that makes the town reconcile");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        jobs_for("first".into()).await.is_empty(),
        "a token runs once"
    );

    // A new token runs.
    towns
        .patch(
            TOWN,
            &PatchParams::default(),
            &Patch::Merge(request("second")),
        )
        .await
        .expect("the annotation is set");
    eventually("the second token runs", CONVERGE, || async {
        (jobs_for("second".into()).await.len() == 1).then_some(())
    })
    .await;

    harness.shutdown().await;
}

fn restoring_town() -> GasTown {
    let mut town = minimal_town();
    town.spec.dolt.as_mut().unwrap().restore_from = Some(
        serde_json::from_value::<DoltRestore>(json!({"url": BACKUP_URL, "databases": ["beads"]}))
            .unwrap(),
    );
    town
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_onto_a_volume_that_exists_refuses_and_deletes_nothing() {
    let mut harness = Harness::start().await;
    // The volume an earlier town of the same name left behind.
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {
            "name": naming::dolt_data_claim(TOWN),
            "namespace": NAMESPACE,
            "labels": naming::town_labels(TOWN).into_iter()
                .chain([("app.kubernetes.io/component".to_string(), "dolt".to_string())])
                .collect::<BTreeMap<_, _>>(),
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
    }))
    .unwrap();
    let claims: Api<PersistentVolumeClaim> = harness.api();
    let claim = claims
        .create(&PostParams::default(), &claim)
        .await
        .expect("the claim is created");
    harness.start_operator();
    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &restoring_town())
        .await
        .expect("the town is created");

    let (status, message) = eventually("DoltReady says why dolt waits", CONVERGE, || async {
        let town = harness.api::<GasTown>().get(TOWN).await.ok()?;
        condition(&town, "DoltReady").filter(|(_, m)| m.contains("refusing to restore"))
    })
    .await;
    assert_eq!(status, "False");
    assert!(
        message.contains(&naming::dolt_data_claim(TOWN)),
        "{message}"
    );
    let told = eventually("one Warning says it", CONVERGE, || async {
        let told = events(&harness, "Blocked").await;
        (!told.is_empty()).then_some(told)
    })
    .await;
    assert_eq!(occurrences(&told), 1, "{told:?}");
    assert_eq!(told[0].0, "Warning");
    assert!(told[0].1.contains("refusing to restore"), "{told:?}");

    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept = claims
        .get(&claim.name_any())
        .await
        .expect("the claim is still there");
    assert_eq!(kept.uid(), claim.uid());
    assert!(
        kept.metadata.deletion_timestamp.is_none(),
        "nothing deletes it"
    );
    let sets: Api<StatefulSet> = harness.api();
    assert!(
        sets.get_opt(&naming::dolt(TOWN)).await.unwrap().is_none(),
        "dolt never starts on it"
    );

    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_onto_an_empty_volume_runs_before_dolt_serves() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &restoring_town())
        .await
        .expect("the town is created");
    running_town(&harness).await;

    // The simulation makes no StatefulSet pods: its readiness comes from the
    // template, every init container run to completion before the server.
    let sets: Api<StatefulSet> = harness.api();
    let set = sets
        .get(&naming::dolt(TOWN))
        .await
        .expect("dolt's StatefulSet");
    let spec = set.spec.unwrap().template.spec.unwrap();
    let init = spec.init_containers.expect("an init container");
    assert_eq!(init.len(), 1);
    assert_eq!(init[0].name, "restore");
    assert_eq!(spec.containers[0].name, "dolt");
    let env = |name: &str| {
        init[0]
            .env
            .iter()
            .flatten()
            .find(|e| e.name == name)
            .and_then(|e| e.value.clone())
    };
    assert_eq!(env("RESTORE_URL").as_deref(), Some(BACKUP_URL));
    assert_eq!(env("RESTORE_DATABASES").as_deref(), Some("beads"));
    // On dolt's own volume.
    let mounts = init[0].volume_mounts.clone().unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|m| m.name == "data" && m.mount_path == "/var/lib/dolt")
    );

    harness.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_town_keeps_its_backup_cron_job_until_dolt_is_gone() {
    let mut harness = Harness::start().await;
    harness.start_operator();
    town_with_backups(&harness).await;
    let cron_jobs: Api<CronJob> = harness.api();
    eventually("the backup CronJob exists", CONVERGE, || async {
        cron_jobs.get_opt(&naming::dolt_backup(TOWN)).await.ok()?
    })
    .await;

    // Deletions in the order the API server made them.
    let order: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let mut watches = tokio::task::JoinSet::new();
    fn record<K>(
        api: Api<K>,
        order: Arc<Mutex<Vec<(u64, String)>>>,
        tasks: &mut tokio::task::JoinSet<()>,
    ) where
        K: Resource<DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
    {
        tasks.spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).boxed();
            while let Some(event) = events.next().await {
                if let Ok(watcher::Event::Delete(object)) = event {
                    let version = object
                        .resource_version()
                        .and_then(|v| v.parse().ok())
                        .unwrap();
                    order
                        .lock()
                        .unwrap()
                        .push((version, format!("{}/{}", K::kind(&()), object.name_any())));
                }
            }
        });
    }
    record(harness.api::<StatefulSet>(), order.clone(), &mut watches);
    record(harness.api::<CronJob>(), order.clone(), &mut watches);
    record(harness.api::<GasTown>(), order.clone(), &mut watches);

    // A foreground cascade deletes whatever the town owns at once: the
    // CronJob must not be among it.
    harness
        .api::<GasTown>()
        .delete(TOWN, &DeleteParams::foreground())
        .await
        .expect("the delete is accepted");
    eventually("the town is gone", CONVERGE, || async {
        harness
            .api::<GasTown>()
            .get_opt(TOWN)
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut deletions = order.lock().unwrap().clone();
    deletions.sort();
    let order: Vec<String> = deletions.into_iter().map(|(_, e)| e).collect();
    let at = |entry: String| {
        order
            .iter()
            .position(|e| *e == entry)
            .unwrap_or_else(|| panic!("{entry} not deleted: {order:?}"))
    };
    let dolt = at(format!("StatefulSet/{}", naming::dolt(TOWN)));
    let cron_job = at(format!("CronJob/{}", naming::dolt_backup(TOWN)));
    let town = at(format!("GasTown/{TOWN}"));
    assert!(
        dolt < cron_job && cron_job < town,
        "dolt, then the CronJob, then the town: {order:?}"
    );

    watches.abort_all();
    harness.shutdown().await;
}

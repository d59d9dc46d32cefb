//! batch/v1 through kube's client: Jobs and CronJobs are served with
//! kube-apiserver's defaults and checks, and the workload simulation plays
//! the Job and CronJob controllers — a Job's pods run and succeed, or fail
//! when the test says so, and a CronJob makes its Jobs.

mod support;

use embedded_apiserver::{Config, EmbeddedApiServer, JobPods};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;
use support::bounded;

const NAMESPACE: &str = "default";

async fn simulating_server() -> EmbeddedApiServer {
    EmbeddedApiServer::start(Config {
        simulate_workloads: true,
        ..Config::default()
    })
    .await
    .expect("server starts")
}

fn job(name: &str, backoff_limit: i64) -> Job {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "backoffLimit": backoff_limit,
            "template": { "spec": {
                "restartPolicy": "Never",
                "containers": [{ "name": "backup", "image": "busybox:1.36", "command": ["sh", "-c", "echo done"] }],
            } },
        },
    }))
    .unwrap()
}

/// Reads the object until `done` holds, for up to twenty seconds.
async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let object = serde_json::to_value(api.get(name).await.unwrap()).unwrap();
        if done(&object) {
            return object;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {object:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition_types(job: &Value) -> Vec<String> {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "True")
        .filter_map(|c| c["type"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_defaulted_run_and_completed_by_the_simulation() {
    bounded(async {
        let server = simulating_server().await;
        let client = server.client().unwrap();
        let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
        let created = jobs
            .create(&PostParams::default(), &job("backup", 6))
            .await
            .unwrap();
        let created = serde_json::to_value(created).unwrap();
        let uid = created["metadata"]["uid"].as_str().unwrap().to_owned();
        assert_eq!(created["spec"]["completions"], 1);
        assert_eq!(created["spec"]["parallelism"], 1);
        assert_eq!(created["spec"]["backoffLimit"], 6);
        assert_eq!(created["spec"]["completionMode"], "NonIndexed");
        assert_eq!(created["spec"]["suspend"], false);
        assert_eq!(
            created["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            uid
        );
        let template_labels = &created["spec"]["template"]["metadata"]["labels"];
        assert_eq!(template_labels["batch.kubernetes.io/job-name"], "backup");
        assert_eq!(template_labels["controller-uid"], uid);

        let done = wait_for(&jobs, "backup", "the Job to complete", |j| {
            condition_types(j).contains(&"Complete".to_owned())
        })
        .await;
        assert_eq!(condition_types(&done), ["SuccessCriteriaMet", "Complete"]);
        let complete = &done["status"]["conditions"][1];
        assert_eq!(complete["reason"], "CompletionsReached");
        assert_eq!(
            complete["message"],
            "Reached expected number of succeeded pods"
        );
        assert_eq!(done["status"]["succeeded"], 1);
        assert!(done["status"]["startTime"].is_string());
        assert!(done["status"]["completionTime"].is_string());
        assert!(
            done["status"].get("active").is_none(),
            "{:#}",
            done["status"]
        );

        let pods: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let owned = pods
            .list(&ListParams::default().labels("batch.kubernetes.io/job-name=backup"))
            .await
            .unwrap();
        assert_eq!(owned.items.len(), 1, "one pod ran");
        let pod = serde_json::to_value(&owned.items[0]).unwrap();
        assert_eq!(pod["status"]["phase"], "Succeeded");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], uid);
        assert_eq!(pod["spec"]["nodeName"], "embedded-node");

        // batch/v1 orphans a Job's pods unless the delete says otherwise.
        jobs.delete("backup", &DeleteParams::default())
            .await
            .unwrap();
        let orphan = pods
            .get(owned.items[0].metadata.name.as_deref().unwrap())
            .await
            .unwrap();
        assert!(
            orphan
                .metadata
                .owner_references
                .unwrap_or_default()
                .is_empty()
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_pods_fail_fails_past_its_backoff_limit() {
    bounded(async {
        let server = simulating_server().await;
        server.set_job_pods(NAMESPACE, "restore", JobPods::Fail);
        let client = server.client().unwrap();
        let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
        jobs.create(&PostParams::default(), &job("restore", 2))
            .await
            .unwrap();
        let failed = wait_for(&jobs, "restore", "the Job to fail", |j| {
            condition_types(j).contains(&"Failed".to_owned())
        })
        .await;
        assert_eq!(condition_types(&failed), ["FailureTarget", "Failed"]);
        let condition = &failed["status"]["conditions"][1];
        assert_eq!(condition["reason"], "BackoffLimitExceeded");
        assert_eq!(
            condition["message"],
            "Job has reached the specified backoff limit"
        );
        assert_eq!(
            failed["status"]["failed"], 3,
            "the first pod and two retries"
        );
        assert!(failed["status"].get("completionTime").is_none());
        let pods: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let owned = pods
            .list(&ListParams::default().labels("job-name=restore"))
            .await
            .unwrap();
        assert_eq!(owned.items.len(), 3);
        jobs.delete("restore", &DeleteParams::background())
            .await
            .unwrap();
        let left = pods
            .list(&ListParams::default().labels("job-name=restore"))
            .await
            .unwrap();
        assert!(left.items.is_empty(), "{left:?}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_cron_jobs_are_checked_like_kube_apiserver() {
    bounded(async {
        let server = support::server().await;
        let client = server.client().unwrap();
        let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
        let mut always = job("always", 1);
        always.spec.as_mut().unwrap().template.spec.as_mut().unwrap().restart_policy =
            Some("Always".into());
        let error = jobs.create(&PostParams::default(), &always).await.unwrap_err();
        let kube::Error::Api(status) = error else {
            panic!("expected a Status, got {error:?}");
        };
        assert_eq!(status.code, 422);
        assert_eq!(
            status.message,
            "Job.batch \"always\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
        );
        let cron_jobs: Api<CronJob> = Api::namespaced(client, NAMESPACE);
        let bad: CronJob = serde_json::from_value(json!({
            "metadata": { "name": "nightly" },
            "spec": { "schedule": "every night", "jobTemplate": { "spec": { "template": { "spec": {
                "restartPolicy": "OnFailure", "containers": [{ "name": "c", "image": "busybox" }],
            } } } } },
        }))
        .unwrap();
        let error = cron_jobs.create(&PostParams::default(), &bad).await.unwrap_err();
        assert!(
            error.to_string().contains("spec.schedule: Invalid value: \"every night\": expected exactly 5 fields, found 2: [every night]"),
            "{error}"
        );
        server.shutdown().await;
    })
    .await;
}

fn cron_job(name: &str, policy: &str) -> CronJob {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            // Far from now: runs come only when the test makes them due.
            "schedule": "0 3 1 1 *",
            "concurrencyPolicy": policy,
            "jobTemplate": {
                "metadata": { "labels": { "app": "backup" } },
                "spec": { "template": { "spec": {
                    "restartPolicy": "OnFailure",
                    "containers": [{ "name": "dump", "image": "busybox:1.36" }],
                } } },
            },
        },
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_job_makes_jobs_on_schedule_and_keeps_their_history() {
    bounded(async {
        let server = simulating_server().await;
        let client = server.client().unwrap();
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), NAMESPACE);
        let created = cron_jobs
            .create(&PostParams::default(), &cron_job("nightly", "Allow"))
            .await
            .unwrap();
        let spec = created.spec.unwrap();
        assert_eq!(spec.successful_jobs_history_limit, Some(3));
        assert_eq!(spec.failed_jobs_history_limit, Some(1));
        assert_eq!(spec.suspend, Some(false));

        server.run_cron_job_now(NAMESPACE, "nightly");
        let ran = wait_for(&cron_jobs, "nightly", "a successful run", |c| {
            c["status"]["lastSuccessfulTime"].is_string()
        })
        .await;
        let scheduled = ran["status"]["lastScheduleTime"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(scheduled.ends_with("-01-01T03:00:00Z"), "{scheduled}");
        assert!(ran["status"].get("active").is_none(), "{:#}", ran["status"]);

        let jobs: Api<Job> = Api::namespaced(client, NAMESPACE);
        let made = jobs
            .list(&ListParams::default().labels("app=backup"))
            .await
            .unwrap();
        assert_eq!(made.items.len(), 1);
        let job = serde_json::to_value(&made.items[0]).unwrap();
        let minutes = scheduled.parse::<jiff::Timestamp>().unwrap().as_second() / 60;
        assert_eq!(job["metadata"]["name"], format!("nightly-{minutes}"));
        assert_eq!(
            job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"],
            scheduled
        );
        assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
        assert_eq!(
            job["spec"]["backoffLimit"], 6,
            "the Job is defaulted as it is created"
        );

        // Failed runs beyond failedJobsHistoryLimit (1) are deleted.
        server.set_job_pods(NAMESPACE, "nightly", JobPods::Fail);
        for _ in 0..2 {
            server.run_cron_job_now(NAMESPACE, "nightly");
        }
        // The schedule is yearly: two more runs are two years on.
        let year: i32 = scheduled[..4].parse().unwrap();
        let third = format!("{}{}", year + 2, &scheduled[4..]);
        wait_for(&cron_jobs, "nightly", "two more runs", |c| {
            c["status"]["lastScheduleTime"].as_str() == Some(third.as_str())
                && c["status"].get("active").is_none()
        })
        .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let all = jobs
                .list(&ListParams::default().labels("app=backup"))
                .await
                .unwrap();
            let failed = all
                .items
                .iter()
                .map(|j| serde_json::to_value(j).unwrap())
                .filter(|j| condition_types(j).contains(&"Failed".to_owned()))
                .count();
            if all.items.len() == 2 && failed == 1 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected one succeeded and one failed Job, got {:?}",
                all.items
                    .iter()
                    .map(|j| j.metadata.name.clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_skips_a_run_while_the_last_one_is_active() {
    bounded(async {
        let server = simulating_server().await;
        server.set_job_pods(NAMESPACE, "sync", JobPods::KeepRunning);
        let client = server.client().unwrap();
        let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), NAMESPACE);
        cron_jobs
            .create(&PostParams::default(), &cron_job("sync", "Forbid"))
            .await
            .unwrap();
        server.run_cron_job_now(NAMESPACE, "sync");
        let running = wait_for(&cron_jobs, "sync", "an active run", |c| {
            c["status"]["active"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
        })
        .await;
        server.run_cron_job_now(NAMESPACE, "sync");
        // Longer than a sweep of the simulation: the second run had its chance.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let jobs: Api<Job> = Api::namespaced(client, NAMESPACE);
        let made = jobs
            .list(&ListParams::default().labels("app=backup"))
            .await
            .unwrap();
        assert_eq!(made.items.len(), 1, "Forbid started no second Job");
        let now = serde_json::to_value(cron_jobs.get("sync").await.unwrap()).unwrap();
        assert_eq!(
            now["status"]["lastScheduleTime"], running["status"]["lastScheduleTime"],
            "the skipped run is not recorded"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_goes_after_its_ttl() {
    bounded(async {
        let server = simulating_server().await;
        let client = server.client().unwrap();
        let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
        let mut short_lived = job("once", 1);
        short_lived
            .spec
            .as_mut()
            .unwrap()
            .ttl_seconds_after_finished = Some(0);
        jobs.create(&PostParams::default(), &short_lived)
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while jobs.get_opt("once").await.unwrap().is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the finished Job stayed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pods: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let left = pods
            .list(&ListParams::default().labels("job-name=once"))
            .await
            .unwrap();
        assert!(
            left.items.is_empty(),
            "the TTL controller deletes in the foreground"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indexed_job_runs_one_pod_per_completion_index() {
    bounded(async {
        let server = simulating_server().await;
        let client = server.client().unwrap();
        let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
        let mut indexed = job("shards", 1);
        let spec = indexed.spec.as_mut().unwrap();
        spec.completion_mode = Some("Indexed".into());
        spec.completions = Some(3);
        spec.parallelism = Some(2);
        jobs.create(&PostParams::default(), &indexed).await.unwrap();
        let done = wait_for(&jobs, "shards", "the Job to complete", |j| {
            condition_types(j).contains(&"Complete".to_owned())
        })
        .await;
        assert_eq!(done["status"]["completedIndexes"], "0-2");
        assert_eq!(done["status"]["succeeded"], 3);
        let pods: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let owned = pods.list(&ListParams::default().labels("job-name=shards")).await.unwrap();
        let mut indexes: Vec<String> = owned
            .items
            .iter()
            .map(|p| p.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"].clone())
            .collect();
        indexes.sort();
        assert_eq!(indexes, ["0", "1", "2"]);
        assert!(owned.items.iter().all(|p| {
            let name = p.metadata.name.as_deref().unwrap();
            let index = &p.metadata.annotations.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"];
            name.starts_with(&format!("shards-{index}-"))
        }));
        server.shutdown().await;
    })
    .await;
}

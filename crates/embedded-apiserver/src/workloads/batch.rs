//! The Job and CronJob controllers of the workload simulation: their pure
//! steps ([`simulation::jobs`], [`simulation::cron_jobs`]) applied to the
//! store as kube-controller-manager would, through the API's own create and
//! delete (so quota, defaults and garbage collection apply), plus the
//! kubelet's part for Job pods: a running Job pod's containers exit as the
//! test asked ([`JobPods`]), successfully unless told otherwise.

use super::key;
use crate::cluster::{Cluster, WriteOptions, now};
use crate::gc::{DeleteOptions, Propagation};
use crate::registry::{ResourceKey, Served};
use crate::server::AppState;
use crate::simulation::{self, PodOutcome, cron_jobs, jobs};
use crate::store::ObjectKey;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// How the containers of a Job's pods end, once running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum JobPods {
    /// They exit 0: the pod succeeds (the default).
    #[default]
    Succeed,
    /// They exit 1: the pod fails, and the Job once past its back-off limit.
    Fail,
    /// They keep running until a test finishes the pod.
    KeepRunning,
}

/// What tests told the simulated batch controllers.
#[derive(Default)]
pub(crate) struct BatchControls {
    /// By (namespace, Job or CronJob name).
    job_pods: Mutex<HashMap<ObjectKey, JobPods>>,
    /// Runs of a CronJob to start as if their time had come, by (namespace, name).
    cron_runs: Mutex<HashMap<ObjectKey, usize>>,
}

impl BatchControls {
    pub(crate) fn set_job_pods(&self, at: ObjectKey, pods: JobPods) {
        self.job_pods.lock().insert(at, pods);
    }

    pub(crate) fn run_cron_job_now(&self, at: ObjectKey) {
        *self.cron_runs.lock().entry(at).or_default() += 1;
    }

    /// The outcome for pods of `job`: the Job's own, else its CronJob's.
    fn job_pods(&self, namespace: &str, job: &Value) -> JobPods {
        let controls = self.job_pods.lock();
        let lookup = |name: &str| {
            controls
                .get(&(namespace.to_owned(), name.to_owned()))
                .copied()
        };
        let name = job.pointer("/metadata/name").and_then(Value::as_str);
        name.and_then(lookup)
            .or_else(|| jobs::controller_of(job, "CronJob").and_then(|(cron, _)| lookup(cron)))
            .unwrap_or_default()
    }
}

fn meta<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn served(cluster: &Cluster, group: &str, plural: &str) -> Option<Arc<Served>> {
    cluster.registry.find(group, "v1", plural)
}

fn controller_options() -> WriteOptions {
    WriteOptions {
        field_manager: Some("kube-controller-manager".into()),
        ..WriteOptions::default()
    }
}

/// The objects in `namespace` of `key` whose controller is the object with `uid`.
fn owned_by(cluster: &Cluster, key: &ResourceKey, namespace: &str, uid: &str) -> Vec<Arc<Value>> {
    let owner_kind = if key.plural == "pods" {
        "Job"
    } else {
        "CronJob"
    };
    cluster
        .store
        .range(key, Some(namespace), None)
        .filter(|(_, o)| jobs::controller_of(o, owner_kind).is_some_and(|(_, u)| u == uid))
        .map(|(_, o)| Arc::clone(o))
        .collect()
}

fn delete(cluster: &mut Cluster, served: &Served, namespace: &str, name: &str) {
    let options = DeleteOptions {
        propagation: Some(Propagation::Background),
        ..DeleteOptions::default()
    };
    if let Err(error) = cluster.delete(served, Some(namespace), name, &options) {
        tracing::debug!(%error, name, "simulated controller could not delete");
    }
}

/// A pod changed: a running Job pod finishes as told, and its Job catches up.
pub(super) fn pod_changed(app: &AppState, pod: &Value) {
    let Some((job_name, _)) = jobs::controller_of(pod, "Job") else {
        return;
    };
    let namespace = meta(pod, "namespace").to_owned();
    let job_at = (namespace.clone(), job_name.to_owned());
    let job = app.cluster.lock().store.get(&key("batch", "jobs"), &job_at);
    let Some(job) = job else {
        return;
    };
    let running = pod.pointer("/status/phase") == Some(&json!("Running"));
    if running && pod.pointer("/metadata/deletionTimestamp").is_none() {
        let outcome = match app.batch.job_pods(&namespace, &job) {
            JobPods::Succeed => Some(PodOutcome::Succeeded),
            JobPods::Fail => Some(PodOutcome::Failed),
            JobPods::KeepRunning => None,
        };
        if let Some(outcome) = outcome {
            let status = simulation::finish_pod(pod, outcome, &now());
            let at = (namespace.clone(), meta(pod, "name").to_owned());
            let rv = meta(pod, "resourceVersion");
            app.cluster
                .lock()
                .write_status_as_system(&key("", "pods"), &at, rv, status);
        }
    }
    sync_job(app, &job_at);
}

/// One step of the Job controller for the Job at `at`.
pub(super) fn sync_job(app: &AppState, at: &ObjectKey) {
    let mut cluster = app.cluster.lock();
    let Some(job) = cluster.store.get(&key("batch", "jobs"), at) else {
        return;
    };
    if jobs::ttl_expired(&job, jiff::Timestamp::now()) {
        // The TTL controller deletes in the foreground.
        let options = DeleteOptions {
            propagation: Some(Propagation::Foreground),
            ..DeleteOptions::default()
        };
        if let Some(served) = served(&cluster, "batch", "jobs") {
            let _ = cluster.delete(&served, Some(&at.0), &at.1, &options);
        }
        return;
    }
    let pods = owned_by(&cluster, &key("", "pods"), &at.0, meta(&job, "uid"));
    let pod_refs: Vec<&Value> = pods.iter().map(AsRef::as_ref).collect();
    let Some(step) = jobs::step(&job, &pod_refs, &now()) else {
        return;
    };
    let Some(pods_served) = served(&cluster, "", "pods") else {
        return;
    };
    for name in &step.delete {
        delete(&mut cluster, &pods_served, &at.0, name);
    }
    let mut created = 0;
    for index in &step.create {
        let pod = jobs::pod_from_template(&job, *index);
        match cluster.create(&pods_served, Some(&at.0), pod, &controller_options()) {
            Ok(_) => created += 1,
            Err(error) => {
                tracing::debug!(%error, job = at.1, "simulated Job controller could not create a pod");
                break;
            }
        }
    }
    let mut status = step.status;
    if created < step.create.len() {
        let active = status["active"].as_u64().unwrap_or(0) - (step.create.len() - created) as u64;
        status["active"] = json!(active);
        if active == 0 {
            status
                .as_object_mut()
                .expect("status is an object")
                .remove("active");
        }
    }
    cluster.write_status_as_system(
        &key("batch", "jobs"),
        at,
        meta(&job, "resourceVersion"),
        status,
    );
}

/// A Job changed: its CronJob, if any, catches up.
pub(super) fn job_changed(app: &AppState, job: &Value) {
    if let Some((cron_job, _)) = jobs::controller_of(job, "CronJob") {
        sync_cron_job(
            app,
            &(meta(job, "namespace").to_owned(), cron_job.to_owned()),
        );
    }
    sync_job(
        app,
        &(
            meta(job, "namespace").to_owned(),
            meta(job, "name").to_owned(),
        ),
    );
}

/// One step of the CronJob controller for the CronJob at `at`.
pub(super) fn sync_cron_job(app: &AppState, at: &ObjectKey) {
    let due = app.batch.cron_runs.lock().get(at).is_some_and(|n| *n > 0);
    let mut cluster = app.cluster.lock();
    let Some(cron_job) = cluster.store.get(&key("batch", "cronjobs"), at) else {
        return;
    };
    let owned = owned_by(
        &cluster,
        &key("batch", "jobs"),
        &at.0,
        meta(&cron_job, "uid"),
    );
    let job_refs: Vec<&Value> = owned.iter().map(AsRef::as_ref).collect();
    let Some(step) = cron_jobs::step(&cron_job, &job_refs, jiff::Timestamp::now(), due) else {
        return;
    };
    let Some(jobs_served) = served(&cluster, "batch", "jobs") else {
        return;
    };
    for name in &step.delete {
        delete(&mut cluster, &jobs_served, &at.0, name);
    }
    let mut status = step.status;
    if let Some(job) = step.create {
        let name = meta(&job, "name").to_owned();
        let created = match cluster.create(&jobs_served, Some(&at.0), job, &controller_options()) {
            Ok(created) => Some(created),
            // Already made for this time (upstream adopts it the same way).
            Err(_) => cluster
                .store
                .get(&key("batch", "jobs"), &(at.0.clone(), name)),
        };
        if let Some(created) = created {
            let reference = json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": meta(&created, "name"),
                "namespace": meta(&created, "namespace"),
                "uid": meta(&created, "uid"),
                "resourceVersion": meta(&created, "resourceVersion"),
            });
            match status["active"].as_array_mut() {
                Some(active) => active.push(reference),
                None => status["active"] = json!([reference]),
            }
        }
        if due && let Some(runs) = app.batch.cron_runs.lock().get_mut(at) {
            *runs = runs.saturating_sub(1);
        }
    }
    cluster.write_status_as_system(
        &key("batch", "cronjobs"),
        at,
        meta(&cron_job, "resourceVersion"),
        status,
    );
}

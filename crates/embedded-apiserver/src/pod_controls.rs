//! What tests make happen to simulated pods on purpose: a pod's containers
//! finish, or its node goes away. The statuses come from [`simulation`];
//! this writes them as the system would (no admission, usual reactions such
//! as quota usage).

use crate::EmbeddedApiServer;
use crate::cluster::now;
use crate::registry::ResourceKey;
use crate::simulation::{self, PodOutcome};
use crate::store::ObjectKey;
use crate::workloads::batch::JobPods;
use serde_json::Value;

/// The pod a test named does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pod {namespace}/{name} not found")]
pub struct PodNotFound {
    pub namespace: String,
    pub name: String,
}

impl EmbeddedApiServer {
    /// Makes every container of the pod exit, with `outcome`: the pod's
    /// phase becomes `Succeeded` or `Failed`. Returns the updated pod.
    pub fn finish_pod(
        &self,
        namespace: &str,
        name: &str,
        outcome: PodOutcome,
    ) -> Result<Value, PodNotFound> {
        self.write_pod_status(namespace, name, |pod, now| {
            simulation::finish_pod(pod, outcome, now)
        })
    }

    /// Fails the pod the way the control plane does when its node is lost
    /// (phase `Failed`, reason `NodeLost`). Returns the updated pod.
    pub fn lose_node(&self, namespace: &str, name: &str) -> Result<Value, PodNotFound> {
        self.write_pod_status(namespace, name, simulation::lose_node)
    }

    /// How the containers of the Job `name` in `namespace` end once running
    /// — or of every Job the CronJob `name` creates. Job pods succeed
    /// unless a test says otherwise.
    pub fn set_job_pods(&self, namespace: &str, name: &str, pods: JobPods) {
        self.app
            .batch
            .set_job_pods((namespace.to_owned(), name.to_owned()), pods);
    }

    /// Makes the next scheduled run of the CronJob `namespace/name` due now,
    /// as if its time had come (a CronJob runs at most once a minute).
    pub fn run_cron_job_now(&self, namespace: &str, name: &str) {
        self.app
            .batch
            .run_cron_job_now((namespace.to_owned(), name.to_owned()));
    }

    fn write_pod_status(
        &self,
        namespace: &str,
        name: &str,
        next: impl FnOnce(&Value, &str) -> Value,
    ) -> Result<Value, PodNotFound> {
        let not_found = || PodNotFound {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        let key = ResourceKey {
            group: String::new(),
            plural: "pods".into(),
        };
        let at: ObjectKey = (namespace.to_owned(), name.to_owned());
        let mut cluster = self.app.cluster.lock();
        let pod = cluster.store.get(&key, &at).ok_or_else(not_found)?;
        let status = next(&pod, &now());
        let rv = pod
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        // `None` means the status was already this one: the pod is unchanged.
        let written = cluster
            .write_status_as_system(&key, &at, &rv, status)
            .unwrap_or(pod);
        Ok((*written).clone())
    }
}

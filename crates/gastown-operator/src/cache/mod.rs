//! The operator's view of the cluster: one watch per kind it reads, each
//! feeding a reflector store that reconciles read from instead of the API.
//!
//! Kinds the operator creates are watched only where they carry its
//! `app.kubernetes.io/managed-by` label; Secrets are watched as metadata only
//! (the operator checks that referenced Secrets exist, and notices when they
//! change, without ever holding their values in its cache). Stores that also
//! trigger reconciles are shared streams, so one watch serves every controller.

use std::fmt::Debug;
use std::hash::Hash;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use gastown_api::{AgentPool, GasTown, Rig};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    PersistentVolumeClaim, Pod, PodCondition, PodSpec, PodStatus, ResourceQuota, Secret, Service,
    ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ReflectHandle, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::naming::MANAGED_BY;

mod town_index;

pub use town_index::{Indexed, TownIndex};

/// Which namespaces the operator serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Namespace(String),
}

impl Scope {
    pub fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match self {
            Scope::All => Api::all(client.clone()),
            Scope::Namespace(namespace) => Api::namespaced(client.clone(), namespace),
        }
    }
}

/// The selector of everything the operator creates.
pub fn managed_selector() -> String {
    format!("app.kubernetes.io/managed-by={MANAGED_BY}")
}

/// Read-only stores of every kind the operator reads; those of the kinds it
/// writes are indexed by town.
#[derive(Clone)]
pub struct Cache {
    pub towns: Store<GasTown>,
    pub rigs: Indexed<Rig>,
    pub pools: Indexed<AgentPool>,
    pub pods: Indexed<Pod>,
    pub stateful_sets: Indexed<StatefulSet>,
    pub deployments: Indexed<Deployment>,
    /// The backup CronJobs and their Jobs (which carry the CronJob's labels).
    pub cron_jobs: Indexed<CronJob>,
    pub jobs: Indexed<Job>,
    pub services: Indexed<Service>,
    pub config_maps: Indexed<ConfigMap>,
    pub claims: Indexed<PersistentVolumeClaim>,
    pub service_accounts: Indexed<ServiceAccount>,
    pub roles: Indexed<Role>,
    pub role_bindings: Indexed<RoleBinding>,
    pub network_policies: Indexed<NetworkPolicy>,
    pub quotas: Indexed<ResourceQuota>,
    pub priority_classes: Indexed<PriorityClass>,
    pub secrets: Store<PartialObjectMeta<Secret>>,
}

/// Change streams of the shared stores, for controllers to subscribe to.
#[derive(Clone)]
pub struct Subscriptions {
    pub towns: ReflectHandle<GasTown>,
    pub rigs: ReflectHandle<Rig>,
    pub pools: ReflectHandle<AgentPool>,
    pub pods: ReflectHandle<Pod>,
    pub stateful_sets: ReflectHandle<StatefulSet>,
    pub deployments: ReflectHandle<Deployment>,
    pub jobs: ReflectHandle<Job>,
    pub secrets: ReflectHandle<PartialObjectMeta<Secret>>,
}

/// The futures that drive the watches; they run until the process stops.
pub type Drivers = Vec<BoxFuture<'static, ()>>;

/// Bounded buffer of each shared stream; a subscriber that falls this far
/// behind slows the watch down rather than losing events.
const SHARED_BUFFER: usize = 1024;

fn drive<S, T>(stream: S) -> BoxFuture<'static, ()>
where
    S: Stream<Item = T> + Send + 'static,
{
    stream.for_each(|_| futures::future::ready(())).boxed()
}

/// The operator never reads `metadata.managedFields` (it applies, and compares
/// only the fields it sets); they are often most of an object's size, so the
/// caches do not keep them.
fn forget_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

/// What the pod cache keeps of a pod: its metadata (but managedFields) and
/// the few fields the operator reads — the node, the phase, the IP, the start
/// time, the Ready condition and each container's restarts and end (and,
/// while it crash-loops, what it last said). Pods are
/// most of what the operator watches, and their specs (which the API server
/// fills with defaults) most of a pod; a pod's drift is told by the spec hash
/// annotation (`write::ensure_pod`), never by comparing specs.
pub fn keep_what_is_read_of_pod(pod: &mut Pod) {
    forget_managed_fields(pod);
    pod.spec = pod.spec.take().map(|spec| PodSpec {
        node_name: spec.node_name,
        ..PodSpec::default()
    });
    pod.status = pod.status.take().map(|status| PodStatus {
        phase: status.phase,
        pod_ip: status.pod_ip,
        start_time: status.start_time,
        conditions: status.conditions.map(|conditions| {
            conditions
                .into_iter()
                .map(|c| PodCondition {
                    type_: c.type_,
                    status: c.status,
                    ..PodCondition::default()
                })
                .collect()
        }),
        init_container_statuses: status
            .init_container_statuses
            .map(|containers| containers.into_iter().map(keep_container).collect()),
        container_statuses: status
            .container_statuses
            .map(|containers| containers.into_iter().map(keep_container).collect()),
        ..PodStatus::default()
    });
}

/// What is read of a container's status: its restarts, its end, and while it
/// crash-loops, that and what it said when it last ended.
fn keep_container(c: ContainerStatus) -> ContainerStatus {
    let crash_looping = |w: &ContainerStateWaiting| w.reason.as_deref() == Some("CrashLoopBackOff");
    ContainerStatus {
        name: c.name,
        ready: c.ready,
        restart_count: c.restart_count,
        state: c.state.and_then(|state| {
            let waiting = state.waiting.filter(crash_looping);
            let terminated = state.terminated.map(|ended| ContainerStateTerminated {
                exit_code: ended.exit_code,
                finished_at: ended.finished_at,
                ..ContainerStateTerminated::default()
            });
            (terminated.is_some() || waiting.is_some()).then_some(ContainerState {
                terminated,
                waiting,
                ..ContainerState::default()
            })
        }),
        last_state: c.last_state.and_then(|last| {
            last.terminated.map(|ended| ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: ended.exit_code,
                    message: ended.message,
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            })
        }),
        ..ContainerStatus::default()
    }
}

fn plain<K>(api: Api<K>, config: watcher::Config, drivers: &mut Drivers) -> Indexed<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let by_town = TownIndex::default();
    let index = by_town.clone();
    drivers.push(drive(
        watcher(api, config)
            .default_backoff()
            .modify(forget_managed_fields)
            .inspect(move |event| index_event(&index, event))
            .reflect(writer),
    ));
    Indexed { store, by_town }
}

fn index_event<K: Resource<DynamicType = ()>>(
    index: &TownIndex<K>,
    event: &Result<watcher::Event<K>, watcher::Error>,
) {
    if let Ok(event) = event {
        index.observe(event);
    }
}

/// A store whose changes controllers subscribe to, keeping no managedFields.
fn shared<K>(
    api: Api<K>,
    config: watcher::Config,
    drivers: &mut Drivers,
) -> (Indexed<K>, ReflectHandle<K>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    shared_trimmed(api, config, forget_managed_fields, drivers)
}

/// A store whose changes controllers subscribe to; `keep` trims each object
/// to what the operator reads of it.
fn shared_trimmed<K>(
    api: Api<K>,
    config: watcher::Config,
    keep: fn(&mut K),
    drivers: &mut Drivers,
) -> (Indexed<K>, ReflectHandle<K>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let (store, writer): (Store<K>, Writer<K>) = reflector::store_shared(SHARED_BUFFER);
    let subscriber = writer
        .subscribe()
        .expect("a shared store always has a subscriber");
    let by_town = TownIndex::default();
    let index = by_town.clone();
    drivers.push(drive(
        watcher(api, config)
            .default_backoff()
            .modify(keep)
            .inspect(move |event| index_event(&index, event))
            .reflect_shared(writer),
    ));
    (Indexed { store, by_town }, subscriber)
}

impl Cache {
    /// Sets up every watch for `scope`. Nothing runs until the drivers are polled.
    pub fn start(client: &Client, scope: &Scope) -> (Cache, Subscriptions, Drivers) {
        let mut drivers = Drivers::new();
        let all = watcher::Config::default();
        let managed = watcher::Config::default().labels(&managed_selector());

        let (towns, towns_sub) = shared(scope.api::<GasTown>(client), all.clone(), &mut drivers);
        let towns = towns.store;
        let (rigs, rigs_sub) = shared(scope.api::<Rig>(client), all.clone(), &mut drivers);
        let (pools, pools_sub) = shared(scope.api::<AgentPool>(client), all.clone(), &mut drivers);
        let (pods, pods_sub) = shared_trimmed(
            scope.api::<Pod>(client),
            managed.clone(),
            keep_what_is_read_of_pod,
            &mut drivers,
        );
        let (stateful_sets, sts_sub) = shared(
            scope.api::<StatefulSet>(client),
            managed.clone(),
            &mut drivers,
        );
        let (deployments, deployments_sub) = shared(
            scope.api::<Deployment>(client),
            managed.clone(),
            &mut drivers,
        );
        // A backup Job's end moves the town's status.
        let (jobs, jobs_sub) = shared(scope.api::<Job>(client), managed.clone(), &mut drivers);

        // Metadata only: the operator never caches secret values.
        let (secrets, secrets_sub) = shared(
            scope.api::<PartialObjectMeta<Secret>>(client),
            all.clone(),
            &mut drivers,
        );
        let secrets = secrets.store;

        let cache = Cache {
            towns,
            rigs,
            pools,
            pods,
            stateful_sets,
            deployments,
            cron_jobs: plain(scope.api(client), managed.clone(), &mut drivers),
            jobs,
            services: plain(scope.api(client), managed.clone(), &mut drivers),
            config_maps: plain(scope.api(client), managed.clone(), &mut drivers),
            claims: plain(scope.api(client), managed.clone(), &mut drivers),
            service_accounts: plain(scope.api(client), managed.clone(), &mut drivers),
            roles: plain(scope.api(client), managed.clone(), &mut drivers),
            role_bindings: plain(scope.api(client), managed.clone(), &mut drivers),
            network_policies: plain(scope.api(client), managed.clone(), &mut drivers),
            quotas: plain(scope.api(client), managed.clone(), &mut drivers),
            priority_classes: plain(Api::all(client.clone()), managed, &mut drivers),
            secrets,
        };
        let subscriptions = Subscriptions {
            towns: towns_sub,
            rigs: rigs_sub,
            pools: pools_sub,
            pods: pods_sub,
            stateful_sets: sts_sub,
            deployments: deployments_sub,
            jobs: jobs_sub,
            secrets: secrets_sub,
        };
        (cache, subscriptions, drivers)
    }

    /// Resolves once every store has its first complete list, so that no
    /// reconcile ever acts on a partial view (and, say, deletes what it
    /// merely has not seen yet).
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        // No `..`: a store added to the cache must be waited for too.
        let Cache {
            towns,
            rigs,
            pools,
            pods,
            stateful_sets,
            deployments,
            cron_jobs,
            jobs,
            services,
            config_maps,
            claims,
            service_accounts,
            roles,
            role_bindings,
            network_policies,
            quotas,
            priority_classes,
            secrets,
        } = self;
        towns.wait_until_ready().await?;
        rigs.wait_until_ready().await?;
        pools.wait_until_ready().await?;
        pods.wait_until_ready().await?;
        stateful_sets.wait_until_ready().await?;
        deployments.wait_until_ready().await?;
        cron_jobs.wait_until_ready().await?;
        jobs.wait_until_ready().await?;
        services.wait_until_ready().await?;
        config_maps.wait_until_ready().await?;
        claims.wait_until_ready().await?;
        service_accounts.wait_until_ready().await?;
        roles.wait_until_ready().await?;
        role_bindings.wait_until_ready().await?;
        network_policies.wait_until_ready().await?;
        quotas.wait_until_ready().await?;
        priority_classes.wait_until_ready().await?;
        secrets.wait_until_ready().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::pool::ObservedPod;
    use crate::controllers::rig::housekeeping;
    use crate::controllers::{pod_finished, pod_ready};
    use crate::write::POD_SPEC_HASH_ANNOTATION;
    use kube::ResourceExt;

    /// A polecat pod as the API server returns it once it ran and ended.
    fn ended_polecat() -> Pod {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "gt-prod-gastown-polecat-ace",
                "namespace": "gastown",
                "uid": "7d8e0c3a-1111-4a2b-9c3d-000000000001",
                "resourceVersion": "4242",
                "labels": {"gastown.io/role": "polecat", "gastown.io/agent": "ace"},
                "annotations": {POD_SPEC_HASH_ANNOTATION: "00112233aabbccdd"},
                "managedFields": [{"manager": "gastown-operator", "operation": "Apply",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:containers": {}}}}]
            },
            "spec": {
                "nodeName": "node-a",
                "serviceAccountName": "gt-prod-gastown",
                "restartPolicy": "Never",
                "initContainers": [{"name": "git-clone", "image": "alpine/git:2.45",
                    "args": ["clone", "https://git.example.com/gastown.git", "/workspace"]}],
                "containers": [{
                    "name": "agent",
                    "image": "ghcr.io/gastown/agent:1.0",
                    "env": [{"name": "BD_HOST", "value": "prod-bd-daemon"},
                            {"name": "BD_TOKEN", "valueFrom": {"secretKeyRef":
                                {"name": "bd-token", "key": "token"}}}],
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                                  "limits": {"cpu": "1", "memory": "1Gi"}},
                    "securityContext": {"runAsNonRoot": true,
                        "capabilities": {"drop": ["ALL"]}},
                    "terminationMessagePath": "/dev/termination-log",
                    "imagePullPolicy": "IfNotPresent"
                }],
                "volumes": [{"name": "workspace", "emptyDir": {}}],
                "dnsPolicy": "ClusterFirst",
                "schedulerName": "default-scheduler"
            },
            "status": {
                "phase": "Succeeded",
                "podIP": "10.0.0.7",
                "hostIP": "192.168.1.4",
                "qosClass": "Burstable",
                "startTime": "2026-11-23T10:00:00Z",
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "PodCompleted",
                     "lastTransitionTime": "2026-11-23T10:05:00Z"},
                    {"type": "PodScheduled", "status": "True",
                     "lastTransitionTime": "2026-11-23T10:00:00Z"}
                ],
                "containerStatuses": [{
                    "name": "agent", "ready": false, "restartCount": 2,
                    "image": "ghcr.io/gastown/agent:1.0",
                    "imageID": "ghcr.io/gastown/agent@sha256:0123",
                    "containerID": "containerd://abc",
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                        "startedAt": "2026-11-23T10:01:00Z",
                        "finishedAt": "2026-11-23T10:05:00Z"}}
                }]
            }
        }))
        .expect("a valid pod")
    }

    #[test]
    fn the_pod_cache_keeps_every_field_the_operator_reads_and_little_else() {
        let full = ended_polecat();
        let mut kept = full.clone();
        keep_what_is_read_of_pod(&mut kept);

        assert_eq!(ObservedPod::from_pod(&kept), ObservedPod::from_pod(&full));
        assert_eq!(ObservedPod::from_pod(&kept).restarts, 2);
        assert_eq!(pod_ready(&kept), pod_ready(&full));
        assert!(pod_finished(&kept));
        assert!(housekeeping::finished_at(&full).is_some());
        assert_eq!(
            housekeeping::finished_at(&kept),
            housekeeping::finished_at(&full)
        );
        assert_eq!(kept.labels(), full.labels());
        assert_eq!(kept.annotations(), full.annotations());
        assert_eq!(kept.uid(), full.uid());
        assert_eq!(kept.resource_version(), full.resource_version());
        assert!(kept.metadata.managed_fields.is_none());

        let spec = kept.spec.as_ref().expect("the node is kept");
        assert!(spec.containers.is_empty() && spec.init_containers.is_none());
        let size = |pod: &Pod| serde_json::to_vec(pod).unwrap().len();
        assert!(
            size(&kept) * 2 < size(&full),
            "kept {} of {} bytes",
            size(&kept),
            size(&full)
        );
    }

    #[test]
    fn a_pod_the_kubelet_has_not_reported_on_stays_pending_in_the_cache() {
        let mut pending = ended_polecat();
        pending.status = None;
        let mut kept = pending.clone();
        keep_what_is_read_of_pod(&mut kept);
        assert_eq!(
            ObservedPod::from_pod(&kept),
            ObservedPod::from_pod(&pending)
        );
        assert!(kept.status.is_none());
    }
}

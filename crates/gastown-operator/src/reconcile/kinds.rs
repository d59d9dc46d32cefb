//! The kinds of object the operator writes, as a closed set.
//!
//! Each kind knows its cache store and its API, so the [`super::applier`],
//! pruning and the teardown executor handle every kind the same way; a kind
//! is one variant of [`ObjectKind`] and one [`Managed`] impl, and a `match`
//! over the enum that forgets one does not compile.

use std::fmt::{self, Debug};
use std::sync::Arc;

use gastown_api::{AgentPool, GasTown, Rig};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ResourceQuota, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::{Cache, Indexed};
use crate::context::Context;
use crate::error::Result;
use crate::write;

/// Every kind of object the operator creates and may delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    ConfigMap,
    Service,
    ServiceAccount,
    Role,
    RoleBinding,
    NetworkPolicy,
    PriorityClass,
    ResourceQuota,
    PersistentVolumeClaim,
    StatefulSet,
    Deployment,
    CronJob,
    Rig,
    AgentPool,
    Pod,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The kind as the user types it.
        fmt::Debug::fmt(self, f)
    }
}

/// A kind the operator watches: where its cached objects are.
pub trait Cached:
    Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug + Send + Sync + 'static
{
    /// The reflector store that watches this kind.
    fn store(cache: &Cache) -> &Store<Self>;

    /// Whether objects of this kind live in a namespace.
    const NAMESPACED: bool = true;

    /// The cached object `name` in `namespace`.
    fn cached(cache: &Cache, namespace: &str, name: &str) -> Option<Arc<Self>> {
        let reference = if Self::NAMESPACED {
            ObjectRef::new(name).within(namespace)
        } else {
            ObjectRef::new(name)
        };
        Self::store(cache).get(&reference)
    }
}

/// A kind the operator writes: its place in [`ObjectKind`] and its API.
pub trait Managed: Cached {
    const KIND: ObjectKind;

    /// Its store with the town index.
    fn indexed(cache: &Cache) -> &Indexed<Self>;

    /// The API of this kind in `namespace` (cluster-scoped kinds ignore it).
    fn api(client: &Client, namespace: &str) -> Api<Self>;
}

impl Cached for GasTown {
    fn store(cache: &Cache) -> &Store<Self> {
        &cache.towns
    }
}

macro_rules! namespaced {
    ($($kind:ident => $field:ident),* $(,)?) => {$(
        impl Cached for $kind {
            fn store(cache: &Cache) -> &Store<Self> {
                &cache.$field.store
            }
        }
        impl Managed for $kind {
            const KIND: ObjectKind = ObjectKind::$kind;
            fn indexed(cache: &Cache) -> &Indexed<Self> {
                &cache.$field
            }
            fn api(client: &Client, namespace: &str) -> Api<Self> {
                Api::namespaced(client.clone(), namespace)
            }
        }
    )*};
}

namespaced! {
    ConfigMap => config_maps,
    Service => services,
    ServiceAccount => service_accounts,
    Role => roles,
    RoleBinding => role_bindings,
    NetworkPolicy => network_policies,
    ResourceQuota => quotas,
    PersistentVolumeClaim => claims,
    StatefulSet => stateful_sets,
    Deployment => deployments,
    CronJob => cron_jobs,
    Rig => rigs,
    AgentPool => pools,
    Pod => pods,
}

/// Jobs are read (a backup's outcome) and created (an on-demand backup),
/// never applied or pruned: the CronJob that owns them keeps their history.
impl Cached for Job {
    fn store(cache: &Cache) -> &Store<Self> {
        &cache.jobs.store
    }
}

impl Cached for PriorityClass {
    const NAMESPACED: bool = false;
    fn store(cache: &Cache) -> &Store<Self> {
        &cache.priority_classes.store
    }
}

impl Managed for PriorityClass {
    const KIND: ObjectKind = ObjectKind::PriorityClass;
    fn indexed(cache: &Cache) -> &Indexed<Self> {
        &cache.priority_classes
    }
    fn api(client: &Client, _namespace: &str) -> Api<Self> {
        Api::all(client.clone())
    }
}

/// The cached object `namespace/name` of kind `K`.
pub fn cached<K: Cached>(ctx: &Context, namespace: &str, name: &str) -> Option<Arc<K>> {
    K::cached(&ctx.cache, namespace, name)
}

/// Deletes the cached object `name` of kind `K` unless it is gone or already
/// going. Returns whether a delete was sent.
pub async fn delete_cached<K: Managed>(ctx: &Context, namespace: &str, name: &str) -> Result<bool> {
    let observed = K::cached(&ctx.cache, namespace, name);
    write::delete(&K::api(&ctx.client, namespace), observed.as_deref()).await
}

/// [`delete_cached`] for a kind known only at run time.
pub async fn delete_of_kind(
    ctx: &Context,
    kind: ObjectKind,
    namespace: &str,
    name: &str,
) -> Result<bool> {
    match kind {
        ObjectKind::ConfigMap => delete_cached::<ConfigMap>(ctx, namespace, name).await,
        ObjectKind::Service => delete_cached::<Service>(ctx, namespace, name).await,
        ObjectKind::ServiceAccount => delete_cached::<ServiceAccount>(ctx, namespace, name).await,
        ObjectKind::Role => delete_cached::<Role>(ctx, namespace, name).await,
        ObjectKind::RoleBinding => delete_cached::<RoleBinding>(ctx, namespace, name).await,
        ObjectKind::NetworkPolicy => delete_cached::<NetworkPolicy>(ctx, namespace, name).await,
        ObjectKind::PriorityClass => delete_cached::<PriorityClass>(ctx, namespace, name).await,
        ObjectKind::ResourceQuota => delete_cached::<ResourceQuota>(ctx, namespace, name).await,
        ObjectKind::PersistentVolumeClaim => {
            delete_cached::<PersistentVolumeClaim>(ctx, namespace, name).await
        }
        ObjectKind::StatefulSet => delete_cached::<StatefulSet>(ctx, namespace, name).await,
        ObjectKind::Deployment => delete_cached::<Deployment>(ctx, namespace, name).await,
        ObjectKind::CronJob => delete_cached::<CronJob>(ctx, namespace, name).await,
        ObjectKind::Rig => delete_cached::<Rig>(ctx, namespace, name).await,
        ObjectKind::AgentPool => delete_cached::<AgentPool>(ctx, namespace, name).await,
        ObjectKind::Pod => delete_cached::<Pod>(ctx, namespace, name).await,
    }
}

//! One scope (all namespaces, or one namespace) for one leadership term: its
//! cache, the three controllers over the cache's shared streams, and the beads
//! mutation streams of its towns.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use gastown_api::{GasTown, Rig};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_stream::wrappers::{BroadcastStream, ReceiverStream};
use tokio_util::sync::CancellationToken;

use super::http::Health;
use super::{RuntimeError, Shared, beads_events, triggers};
use crate::cache::{Cache, Indexed, Scope, Subscriptions, managed_selector};
use crate::context::Context;
use crate::controllers::{self, pool, rig, town};

/// Runs `scope` until `stop` is cancelled, then waits for running reconciles
/// to finish.
pub(super) async fn run(
    client: Client,
    scope: Scope,
    shared: Shared,
    health: Health,
    stop: CancellationToken,
) -> Result<(), RuntimeError> {
    let (cache, subscriptions, drivers) = Cache::start(&client, &scope);
    let mut watches = JoinSet::new();
    for driver in drivers {
        watches.spawn(driver);
    }
    tracing::info!(?scope, "waiting for the caches to fill");
    tokio::select! {
        ready = cache.wait_until_ready() => ready.map_err(|_| RuntimeError::CacheStopped)?,
        () = stop.cancelled() => return Ok(()),
    }
    health.scope_ready();
    tracing::info!(?scope, "caches synced; starting controllers");

    let ctx = Arc::new(Context::new(
        client.clone(),
        cache.clone(),
        shared.metrics.clone(),
        shared.settings.clone(),
    ));
    let config = controller::Config::default().concurrency(shared.concurrency);
    let (town_trigger, town_triggers) = mpsc::channel(256);
    let beads = tokio::spawn(beads_events::supervise(
        ctx.clone(),
        subscriptions.towns.clone(),
        town_trigger,
        stop.clone(),
    ));

    let towns = town_controller(&ctx, &subscriptions, town_triggers, config.clone(), &stop);
    let rigs = rig_controller(&ctx, &subscriptions, &scope, &client, config.clone(), &stop);
    let pools = pool_controller(&ctx, &subscriptions, config, &stop);
    // Every subscription left unread would hold its watch back once its
    // buffer fills: only the controllers' own clones may outlive this point.
    drop(subscriptions);
    futures::join!(towns, rigs, pools);

    let _ = beads.await;
    watches.abort_all();
    Ok(())
}

/// A future the controllers accept as their graceful-shutdown trigger.
fn stopped(stop: &CancellationToken) -> impl Future<Output = ()> + Send + Sync + 'static {
    stop.clone().cancelled_owned()
}

/// Drives a controller's result stream, logging what it reports.
async fn drain<K, S, E1, E2>(controller: &'static str, results: S)
where
    K: Resource,
    S: Stream<Item = Result<(ObjectRef<K>, Action), controller::Error<E1, E2>>>,
    E1: std::error::Error + 'static,
    E2: std::error::Error + 'static,
{
    results
        .for_each(|result| async move {
            match result {
                Ok((object, action)) => {
                    tracing::trace!(controller, %object, ?action, "reconciled")
                }
                // Reconcile failures were logged by the error policy.
                Err(controller::Error::ReconcilerFailed(..)) => {}
                Err(error) => tracing::debug!(controller, %error, "controller"),
            }
        })
        .await;
    tracing::info!(controller, "controller stopped");
}

/// Stream of refs computed from the towns whose beads view changed.
fn on_beads_views<K, F>(ctx: &Context, map: F) -> impl Stream<Item = ObjectRef<K>> + Send + 'static
where
    K: Resource<DynamicType = ()> + 'static,
    F: Fn(&str, &str) -> Vec<ObjectRef<K>> + Send + 'static,
{
    // A lagging receiver only misses notices; the periodic resync catches up.
    BroadcastStream::new(ctx.beads_views.subscribe())
        .filter_map(|update| futures::future::ready(update.ok()))
        .flat_map(move |(namespace, town)| futures::stream::iter(map(&namespace, &town)))
}

fn town_controller(
    ctx: &Arc<Context>,
    subscriptions: &Subscriptions,
    beads_triggers: mpsc::Receiver<ObjectRef<GasTown>>,
    config: controller::Config,
    stop: &CancellationToken,
) -> impl Future<Output = ()> + use<> {
    let towns = ctx.cache.towns.clone();
    let results = Controller::for_shared_stream(subscriptions.towns.clone(), towns.clone())
        .with_config(config)
        // Rigs by label: the town's own and those applied on their own.
        .watches_shared_stream(subscriptions.rigs.clone(), |rig| triggers::town_of(&*rig))
        .watches_shared_stream(subscriptions.stateful_sets.clone(), |sts| {
            triggers::town_of(&*sts)
        })
        .watches_shared_stream(subscriptions.deployments.clone(), |deployment| {
            triggers::town_of(&*deployment)
        })
        .watches_shared_stream(subscriptions.pods.clone(), |pod| triggers::town_of(&*pod))
        .watches_shared_stream(subscriptions.jobs.clone(), |job| triggers::town_of(&*job))
        .watches_shared_stream(subscriptions.secrets.clone(), move |secret| {
            triggers::towns_in(secret.namespace().as_deref(), &towns.state())
        })
        .reconcile_on(ReceiverStream::new(beads_triggers))
        // A new view of the town's beads (read by its change stream's follower).
        .reconcile_on(on_beads_views(ctx, |namespace, town| {
            vec![ObjectRef::new(town).within(namespace)]
        }))
        .graceful_shutdown_on(stopped(stop))
        .run(town::reconcile, controllers::error_policy, ctx.clone());
    drain(town::CONTROLLER, results)
}

fn rig_controller(
    ctx: &Arc<Context>,
    subscriptions: &Subscriptions,
    scope: &Scope,
    client: &Client,
    config: controller::Config,
    stop: &CancellationToken,
) -> impl Future<Output = ()> + use<> {
    let rigs = ctx.cache.rigs.clone();
    let (by_pod, by_town, by_claim) = (rigs.clone(), rigs.clone(), rigs.clone());
    // Claims are not a shared stream of the cache: their own watch, by label.
    let claims = scope.api::<PersistentVolumeClaim>(client);
    let managed = watcher::Config::default().labels(&managed_selector());
    let results = Controller::for_shared_stream(subscriptions.rigs.clone(), rigs.store.clone())
        .with_config(config)
        .owns_shared_stream(subscriptions.pools.clone())
        .watches_shared_stream(subscriptions.pods.clone(), move |pod| {
            triggers::rigs_of_labelled(&*pod, &town_rigs_of(&by_pod, &*pod))
        })
        .watches_shared_stream(subscriptions.towns.clone(), move |town| {
            let namespace = town.namespace().unwrap_or_default();
            let name = town.name_any();
            triggers::rigs_of_town(
                &namespace,
                &name,
                town.uid().as_deref(),
                &by_town.of_town_or_unlabelled(&namespace, Some(&name)),
            )
        })
        .watches(claims, managed, move |claim| {
            triggers::rigs_of_labelled(&claim, &town_rigs_of(&by_claim, &claim))
        })
        .reconcile_on(on_beads_views(ctx, move |namespace, town| {
            let candidates = rigs.of_town_or_unlabelled(namespace, Some(town));
            triggers::rigs_of_town(namespace, town, None, &candidates)
        }))
        .graceful_shutdown_on(stopped(stop))
        .run(rig::reconcile, controllers::error_policy, ctx.clone());
    drain(rig::CONTROLLER, results)
}

/// The rigs of the town `object` is labelled with (all a pod's or a claim's
/// event can concern), from the town index rather than a scan per event.
fn town_rigs_of<K: Resource>(rigs: &Indexed<Rig>, object: &K) -> Vec<Arc<Rig>> {
    match (
        object.meta().namespace.as_deref(),
        object
            .meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(gastown_api::labels::TOWN)),
    ) {
        (Some(namespace), Some(town)) => rigs.of_town(namespace, town),
        _ => Vec::new(),
    }
}

/// The objects of `K` in `object`'s namespace that are its town's (by the
/// town label) or have no town label.
fn town_objects_of<K, O>(indexed: &Indexed<K>, object: &O) -> Vec<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
    O: Resource,
{
    let meta = object.meta();
    let Some(namespace) = meta.namespace.as_deref() else {
        return Vec::new();
    };
    let town = meta
        .labels
        .as_ref()
        .and_then(|l| l.get(gastown_api::labels::TOWN))
        .map(String::as_str);
    indexed.of_town_or_unlabelled(namespace, town)
}

fn pool_controller(
    ctx: &Arc<Context>,
    subscriptions: &Subscriptions,
    config: controller::Config,
    stop: &CancellationToken,
) -> impl Future<Output = ()> + use<> {
    let pools = ctx.cache.pools.clone();
    let rigs = ctx.cache.rigs.clone();
    let (by_pod, by_rig) = (pools.clone(), pools.clone());
    let results = Controller::for_shared_stream(subscriptions.pools.clone(), pools.store.clone())
        .with_config(config)
        // Candidates from the town index, not every pool: each of these
        // events concerns pools of one town (or pools without a town label).
        .watches_shared_stream(subscriptions.pods.clone(), move |pod| {
            if pod.labels().contains_key(pool::POOL_LABEL) {
                return triggers::pools_of_pod(&*pod, &[]);
            }
            triggers::pools_of_pod(&*pod, &town_objects_of(&by_pod, &*pod))
        })
        .watches_shared_stream(subscriptions.rigs.clone(), move |rig| {
            triggers::pools_of_rig(&rig, &town_objects_of(&by_rig, &*rig))
        })
        .reconcile_on(on_beads_views(ctx, move |namespace, town| {
            triggers::pools_of_town(
                namespace,
                town,
                &rigs.of_town_or_unlabelled(namespace, Some(town)),
                &pools.of_town_or_unlabelled(namespace, Some(town)),
            )
        }))
        .graceful_shutdown_on(stopped(stop))
        .run(pool::reconcile, controllers::error_policy, ctx.clone());
    drain(pool::CONTROLLER, results)
}

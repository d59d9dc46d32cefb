//! The town's dereference step: its identity, the Secrets it references
//! that are missing, its Rigs, and beads' view of it (read when beads changed
//! or a sync is due, and published for the town's rigs and pools).

use std::sync::Arc;

use beads_client::{Beads, project};
use gastown_api::{AgentRole, GasTown, Rig, labels};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;

use super::build::DoltObserved;
use crate::beads_view::BeadsView;
use crate::builders::town::TownRef;
use crate::builders::town::backup::RESTORE_CONTAINER;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::naming;
use crate::reconcile::desired::{Owner, Reclaim};
use crate::reconcile::kinds::cached;
use crate::reconcile::secrets::MissingSecrets;
use crate::relations::rig_belongs_to;

/// What a town's reconcile starts from.
pub struct Dereferenced {
    pub town_ref: TownRef,
    pub missing: MissingSecrets,
    /// Every Rig of the town ([`town_rigs`]).
    pub rigs: Vec<Arc<Rig>>,
    /// dolt's StatefulSet and claim, as far as a restore cares.
    pub dolt: DoltObserved,
}

pub fn dereference(town: &GasTown, ctx: &Context) -> Result<Dereferenced> {
    let town_ref = TownRef::new(town).ok_or_else(|| Error::NotStored {
        kind: "GasTown",
        name: town.name_any(),
    })?;
    let missing = MissingSecrets::of(&town.spec, |name| {
        ctx.secret_exists(&town_ref.namespace, name)
    });
    let statefulset =
        cached::<StatefulSet>(ctx, &town_ref.namespace, &naming::dolt(&town_ref.name));
    let dolt = DoltObserved {
        statefulset_restores: statefulset.map(|sts| {
            sts.spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref()?.init_containers.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.name == RESTORE_CONTAINER))
        }),
        claim_exists: cached::<PersistentVolumeClaim>(
            ctx,
            &town_ref.namespace,
            &naming::dolt_data_claim(&town_ref.name),
        )
        .is_some(),
    };
    Ok(Dereferenced {
        dolt,
        rigs: town_rigs(ctx, town),
        town_ref,
        missing,
    })
}

/// The town's objects, for pruning: labelled with the town and no rig (a
/// rig's objects are its own), Rigs by owner reference, its Mayor and
/// Deacon pods; dolt's claims are never pruned (they follow
/// `persistence.retainOnDelete` through the StatefulSet).
pub fn owner(town: &GasTown, town_ref: &TownRef) -> Owner {
    Owner {
        namespace: town_ref.namespace.clone(),
        labels: [
            (labels::TOWN.to_string(), town_ref.name.clone()),
            (
                "app.kubernetes.io/managed-by".to_string(),
                naming::MANAGED_BY.to_string(),
            ),
        ]
        .into(),
        narrower: &[labels::RIG],
        uid: town.uid().unwrap_or_default(),
        pod_roles: &[AgentRole::Mayor, AgentRole::Deacon],
        claims: Reclaim::Retain,
    }
}

/// Every Rig of the town: those it owns, and those applied on their own with
/// the `gastown.io/town` label naming it. All of them run on the town's bd
/// daemon, so all of them count in its status and drain with it.
pub fn town_rigs(ctx: &Context, town: &GasTown) -> Vec<Arc<Rig>> {
    let (namespace, name, uid) = (
        town.namespace().unwrap_or_default(),
        town.name_any(),
        town.uid(),
    );
    // Both carry the town label (the town applies it on the rigs it makes),
    // so the town index finds them without a scan of every rig.
    ctx.cache
        .rigs
        .of_town(&namespace, &name)
        .into_iter()
        .filter(|rig| rig_belongs_to(rig, &namespace, &name, uid.as_deref()))
        .collect()
}

/// The town's last beads view when reading beads again could tell nothing
/// new, so that the reconciles a converging town's pods cause do not each
/// ask beads (the profile in docs/benchmarks.md): the town's change stream
/// is up and has said nothing since that view was fetched, for the town's
/// current spec, within most of a sync interval (the periodic sync still
/// reads beads, covering anything a stream may miss). Towns that also read
/// rigs' own servers (`spec.daemon.rigServers`, no change stream) always
/// read again.
fn standing_view(
    town: &GasTown,
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Option<Arc<BeadsView>> {
    let streaming = ctx.beads_feeds.get(namespace, name).as_deref()
        == Some(crate::runtime::beads_events::FEED_STREAMING);
    let rig_servers = town
        .spec
        .daemon
        .rig_servers
        .as_ref()
        .is_some_and(|servers| !servers.is_empty());
    if !streaming || rig_servers {
        return None;
    }
    let interval = town.spec.sync_interval();
    ctx.beads_views.standing(
        namespace,
        name,
        town.metadata.generation,
        interval - interval / 10,
        Timestamp::now(),
    )
}

/// Where the operator reads this town's beads (shown in status).
pub fn daemon_endpoint(town: &GasTown, ctx: &Context) -> String {
    ctx.settings.daemon_override.clone().unwrap_or_else(|| {
        let endpoint = town
            .spec
            .daemon
            .endpoint(&naming::bd_daemon(&town.name_any()));
        format!("{}:{}", endpoint.host, endpoint.http_port)
    })
}

/// The merge requests of each rig whose own `bd serve` the town names
/// (`spec.daemon.rigServers`). A server that cannot be read leaves its rig's
/// queue unknown, and is said in the log; the town's own view still counts.
async fn rig_merge_requests(
    town: &GasTown,
    ctx: &Context,
) -> std::collections::BTreeMap<String, Vec<beads_client::Issue>> {
    let mut queues = std::collections::BTreeMap::new();
    for server in town.spec.daemon.rig_servers.iter().flatten() {
        let read = async {
            match ctx.rig_server_for(town, &server.rig, &server.url).await {
                Ok(Beads::Serve(client)) => client
                    .open_merge_requests()
                    .await
                    .map_err(|e| e.to_string()),
                Ok(Beads::Daemon(_)) => Err("not a bd serve client".to_string()),
                Err(error) => Err(error.to_string()),
            }
        };
        match read.await {
            Ok(requests) => {
                queues.insert(server.rig.clone(), requests);
            }
            Err(error) => {
                tracing::warn!(rig = %server.rig, url = %server.url, %error, "cannot read the rig's merge queue")
            }
        }
    }
    queues
}

/// Beads' view of the town: the last one while it still stands
/// ([`standing_view`]), else read anew (one batched set of queries) and
/// published, which wakes the town, its rigs and its pools when it differs.
pub async fn refresh_beads(town: &GasTown, ctx: &Context) -> Arc<BeadsView> {
    let (namespace, name) = (town.namespace().unwrap_or_default(), town.name_any());
    if let Some(view) = standing_view(town, ctx, &namespace, &name) {
        return view;
    }
    let ticket = ctx
        .beads_views
        .start_fetch(&namespace, &name, town.metadata.generation);
    let started = std::time::Instant::now();
    let fetched = async {
        let client = ctx.beads_for(town).await.map_err(|e| e.to_string())?;
        let mut snapshot = client.snapshot().await.map_err(|e| e.to_string())?;
        snapshot.rig_merge_requests = rig_merge_requests(town, ctx).await;
        Ok::<_, String>(snapshot)
    }
    .await;
    ctx.metrics
        .beads_request("town_snapshot", started.elapsed(), fetched.is_err());
    let now = Timestamp::now();
    let result = fetched.map(|snapshot| {
        let summary = project(&snapshot, now, ctx.settings.agent_staleness);
        (snapshot, summary)
    });
    match &result {
        Ok((snapshot, _)) => tracing::debug!(agents = snapshot.agents.len(), "read beads"),
        Err(error) => tracing::warn!(%error, "cannot read beads"),
    }
    ctx.beads_views.publish_fetched(
        &namespace,
        &name,
        BeadsView {
            fetched_at: now,
            result,
        },
        ticket,
    );
    ctx.beads_views
        .get(&namespace, &name)
        .expect("just published")
}

//! Makes the cluster match a [`Desired`]: applies every wanted object in an
//! explicit order, then prunes, in the reverse order, what the owner made and
//! no longer wants.
//!
//! Each write is skipped when it would change nothing ([`write::apply`]
//! compares with the cache; [`write::ensure_pod`] compares spec hashes), so a
//! reconcile that finds everything right sends no write.

use gastown_api::labels;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;

use super::desired::{Desired, Objects, Owner};
use super::kinds::{self, Managed};
use crate::builders::rig::claim_over;
use crate::context::Context;
use crate::error::Result;
use crate::write;

/// Applies `desired` for `owner`, then prunes.
pub async fn apply(ctx: &Context, owner: &Owner, desired: &Desired) -> Result<()> {
    // No `..`: a kind added to `Desired` must be handled here.
    let Desired {
        config_maps,
        services,
        service_accounts,
        roles,
        role_bindings,
        network_policies,
        priority_classes,
        quotas,
        claims,
        stateful_sets,
        deployments,
        cron_jobs,
        rigs,
        pools,
        pods,
    } = desired;
    let ns = owner.namespace.as_str();
    // Dependencies first: configuration and identity, then the ceiling and
    // the volumes, then what runs on them.
    apply_kind(ctx, ns, config_maps).await?;
    apply_kind(ctx, ns, services).await?;
    apply_kind(ctx, ns, service_accounts).await?;
    apply_kind(ctx, ns, roles).await?;
    apply_kind(ctx, ns, role_bindings).await?;
    apply_kind(ctx, ns, network_policies).await?;
    apply_kind(ctx, ns, priority_classes).await?;
    apply_kind(ctx, ns, quotas).await?;
    apply_claims(ctx, ns, claims).await?;
    apply_kind(ctx, ns, stateful_sets).await?;
    apply_kind(ctx, ns, deployments).await?;
    apply_kind(ctx, ns, cron_jobs).await?;
    apply_kind(ctx, ns, rigs).await?;
    apply_kind(ctx, ns, pools).await?;
    apply_pods(ctx, ns, pods).await?;

    // What runs goes before what it runs on.
    prune(ctx, owner, pods).await?;
    prune(ctx, owner, pools).await?;
    prune(ctx, owner, rigs).await?;
    prune(ctx, owner, cron_jobs).await?;
    prune(ctx, owner, deployments).await?;
    prune(ctx, owner, stateful_sets).await?;
    prune(ctx, owner, claims).await?;
    prune(ctx, owner, quotas).await?;
    prune(ctx, owner, priority_classes).await?;
    prune(ctx, owner, network_policies).await?;
    prune(ctx, owner, role_bindings).await?;
    prune(ctx, owner, roles).await?;
    prune(ctx, owner, service_accounts).await?;
    prune(ctx, owner, services).await?;
    prune(ctx, owner, config_maps).await?;
    Ok(())
}

async fn apply_kind<K: Managed>(ctx: &Context, ns: &str, objects: &Objects<K>) -> Result<()> {
    let api = K::api(&ctx.client, ns);
    for desired in &objects.wanted {
        let observed = K::cached(&ctx.cache, ns, &desired.name_any());
        write::apply(&api, observed.as_deref(), desired).await?;
    }
    Ok(())
}

/// Claims are applied within what the API server lets change on an existing
/// claim ([`claim_over`]); what the spec asks that cannot be applied is logged.
async fn apply_claims(
    ctx: &Context,
    ns: &str,
    objects: &Objects<PersistentVolumeClaim>,
) -> Result<()> {
    let api = PersistentVolumeClaim::api(&ctx.client, ns);
    for desired in &objects.wanted {
        let observed = kinds::cached::<PersistentVolumeClaim>(ctx, ns, &desired.name_any());
        let (claim, not_applied) = claim_over(desired.clone(), observed.as_deref());
        if let Some(not_applied) = not_applied {
            tracing::warn!(
                claim = %claim.name_any(),
                "the spec asks for what an existing claim cannot change: {not_applied}"
            );
        }
        write::apply(&api, observed.as_deref(), &claim).await?;
    }
    Ok(())
}

async fn apply_pods(ctx: &Context, ns: &str, objects: &Objects<Pod>) -> Result<()> {
    let api = Pod::api(&ctx.client, ns);
    for desired in &objects.wanted {
        let observed = kinds::cached::<Pod>(ctx, ns, &desired.name_any());
        write::ensure_pod(&api, observed.as_deref(), desired.clone()).await?;
    }
    Ok(())
}

async fn prune<K: Managed>(ctx: &Context, owner: &Owner, objects: &Objects<K>) -> Result<()> {
    // Only the owner's town's objects can be the owner's (both owners are
    // labelled with their town): the index finds them without a scan.
    let indexed = K::indexed(&ctx.cache);
    let cached = match owner.labels.get(labels::TOWN) {
        Some(town) => indexed.of_town(&owner.namespace, town),
        None => indexed.state(),
    };
    for name in owner.unwanted(K::KIND, objects, cached.iter().map(|o| o.as_ref())) {
        if kinds::delete_cached::<K>(ctx, &owner.namespace, &name).await? {
            tracing::info!(kind = %K::KIND, %name, "pruned an object no longer desired");
        }
    }
    Ok(())
}

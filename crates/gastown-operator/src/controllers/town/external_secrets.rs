//! The town's ExternalSecrets: rendered where the cluster serves that kind
//! (the external-secrets operator is optional), so they are discovered and
//! listed from the API rather than cached, and kept apart from the applier.

use gastown_api::{GasTown, labels};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};

use crate::builders::external_secret;
use crate::builders::town::TownRef;
use crate::conditions::Observed;
use crate::context::Context;
use crate::controllers::town_status::EXTERNAL_SECRETS_READY;
use crate::error::{Error, Result};
use crate::naming;
use crate::write;

/// Renders `spec.secrets.externalSecrets` as ExternalSecret objects where
/// the cluster serves that kind, and removes the ones no longer declared.
/// Returns the ExternalSecretsReady condition, or `None` when the town has
/// never declared any (then not even discovery is asked).
pub async fn reconcile(
    town: &GasTown,
    town_ref: &TownRef,
    ctx: &Context,
) -> Result<Option<Observed>> {
    let declared = town
        .spec
        .secrets
        .as_ref()
        .and_then(|s| s.external_secrets.as_deref())
        .unwrap_or_default();
    let rendered_before = town
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == EXTERNAL_SECRETS_READY));
    if declared.is_empty() && !rendered_before {
        return Ok(None);
    }
    let Some(resource) = ctx.external_secrets_resource().await? else {
        return Ok((!declared.is_empty()).then(|| {
            Observed::new(
                EXTERNAL_SECRETS_READY,
                false,
                "KindNotServed",
                format!(
                    "{} external secret(s) declared, but the cluster does not serve {}/{}: install the external-secrets operator",
                    declared.len(),
                    external_secret::GROUP,
                    external_secret::KIND
                ),
            )
        }));
    };
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &town_ref.namespace, &resource);
    let selector = format!(
        "{}={},app.kubernetes.io/component=external-secrets",
        labels::TOWN,
        town_ref.name
    );
    let existing = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| Error::kube(format!("list ExternalSecrets of town {}", town_ref.name), e))?;
    for spec in declared {
        let desired = write::stamped(&external_secret::external_secret(town_ref, &resource, spec));
        let observed = existing.items.iter().find(|o| o.name_any() == spec.name);
        if observed.is_some_and(|observed| write::in_sync(&desired, observed)) {
            continue;
        }
        api.patch(
            &spec.name,
            &PatchParams::apply(naming::FIELD_MANAGER).force(),
            &Patch::Apply(&desired),
        )
        .await
        .map_err(|e| {
            Error::kube(
                format!("apply ExternalSecret {}/{}", town_ref.namespace, spec.name),
                e,
            )
        })?;
    }
    for stale in existing
        .items
        .iter()
        .filter(|o| !declared.iter().any(|d| d.name == o.name_any()))
        .filter(|o| o.metadata.deletion_timestamp.is_none())
    {
        api.delete(&stale.name_any(), &DeleteParams::background())
            .await
            .map_err(|e| {
                Error::kube(
                    format!(
                        "delete ExternalSecret {}/{}",
                        town_ref.namespace,
                        stale.name_any()
                    ),
                    e,
                )
            })?;
    }
    Ok(Some(if declared.is_empty() {
        Observed::new(
            EXTERNAL_SECRETS_READY,
            true,
            "NoneDeclared",
            "no external secrets declared",
        )
    } else {
        Observed::new(
            EXTERNAL_SECRETS_READY,
            true,
            "Rendered",
            format!("{} ExternalSecret object(s) rendered", declared.len()),
        )
    }))
}

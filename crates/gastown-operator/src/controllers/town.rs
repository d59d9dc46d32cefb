//! The GasTown controller: infrastructure, one Rig per declared rig, the
//! town agents, status from beads, and the drain-order teardown.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use beads_client::{fetch_snapshot, project};
use gastown_api::gastown::{GasTownSpec, condition};
use gastown_api::template::{PodTemplate, merge};
use gastown_api::{AgentRole, GasTown, Rig, labels};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;

use super::draining::{delete_tracked, show_draining};
use super::town_status::{
    EXTERNAL_SECRETS_READY, RigObservation, StatusWrite, TownAgentObservation, TownObservation,
    Workload, town_status, when_to_write,
};
use super::{Teardown, get, pods_of, publish_transitions, reconcile_with};
use crate::apply::{self, PodOutcome};
use crate::beads_view::BeadsView;
use crate::builders::agent_pod::{AgentPodInput, DaemonConnection, agent_pod};
use crate::builders::external_secret;
use crate::builders::rig::rig_object;
use crate::builders::town::{self as infra, TownRef};
use crate::conditions::Observed;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::naming;
use crate::teardown::{self, Stage, Tracked};

pub const CONTROLLER: &str = "gastown";

pub async fn reconcile(town: Arc<GasTown>, ctx: Arc<Context>) -> Result<Action> {
    let context: &Context = &ctx;
    reconcile_with(
        CONTROLLER,
        naming::TOWN_FINALIZER,
        town,
        context,
        |town| async move { apply_town(&town, context).await },
        |town| async move { cleanup_town(&town, context).await },
    )
    .await
}

/// Secrets the spec references that do not exist, each with what needs it.
fn missing_secrets(
    spec: &GasTownSpec,
    exists: impl Fn(&str) -> bool,
) -> BTreeMap<String, &'static str> {
    let mut references: Vec<(&str, &'static str)> = Vec::new();
    if let Some(token) = &spec.daemon.token_secret_ref {
        references.push((
            &token.name,
            "the bd daemon token (spec.daemon.tokenSecretRef)",
        ));
    }
    if let Some(s3) = spec.dolt.as_ref().and_then(|d| d.s3.as_ref()) {
        references.push((
            &s3.credentials_secret_ref.name,
            "dolt's S3 credentials (spec.dolt.s3.credentialsSecretRef)",
        ));
    }
    if let Some(password) = spec
        .dolt
        .as_ref()
        .and_then(|d| d.root_password_secret_ref.as_ref())
    {
        references.push((
            &password.name,
            "dolt's root password (spec.dolt.rootPasswordSecretRef)",
        ));
    }
    if let Some(secrets) = &spec.secrets {
        if let Some(key) = &secrets.anthropic_api_key_secret_ref {
            references.push((
                &key.name,
                "the Anthropic API key (spec.secrets.anthropicApiKeySecretRef)",
            ));
        }
        if let Some(git) = &secrets.git_credentials_secret_ref {
            references.push((
                &git.name,
                "git credentials (spec.secrets.gitCredentialsSecretRef)",
            ));
        }
    }
    references
        .into_iter()
        .filter(|(name, _)| !exists(name))
        .map(|(name, what)| (name.to_string(), what))
        .collect()
}

fn blocked_by(missing: &BTreeMap<String, &'static str>, secret: Option<&str>) -> Option<String> {
    let name = secret?;
    missing
        .get(name)
        .map(|what| format!("Secret {name} ({what}) does not exist"))
}

struct Infrastructure {
    dolt: Workload,
    daemon: Workload,
}

async fn reconcile_infrastructure(
    town: &GasTown,
    town_ref: &TownRef,
    missing: &BTreeMap<String, &'static str>,
    ctx: &Context,
) -> Result<Infrastructure> {
    let ns = &town_ref.namespace;
    let spec = &town.spec;
    let cache = &ctx.cache;
    let sts_api: Api<StatefulSet> = ctx.api(ns);
    let deploy_api: Api<Deployment> = ctx.api(ns);
    let svc_api: Api<Service> = ctx.api(ns);
    let cm_api: Api<ConfigMap> = ctx.api(ns);
    let token_secret = spec
        .daemon
        .token_secret_ref
        .as_ref()
        .map(|r| r.name.as_str());
    let dolt_password_secret = spec
        .dolt
        .as_ref()
        .and_then(|d| d.root_password_secret_ref.as_ref())
        .map(|r| r.name.as_str());

    // dolt, unless the daemon is external (it brings its own database).
    let dolt_name = naming::dolt(&town_ref.name);
    let dolt_sts = get(&cache.stateful_sets, ns, &dolt_name);
    let dolt_policy = get(&cache.network_policies, ns, &dolt_name);
    let np_api: Api<NetworkPolicy> = ctx.api(ns);
    let dolt = match (&spec.dolt, spec.daemon.in_cluster()) {
        (Some(dolt), true) => {
            let s3_secret = dolt
                .s3
                .as_ref()
                .map(|s3| s3.credentials_secret_ref.name.as_str());
            let config = infra::dolt_config(town_ref, dolt);
            apply::apply(
                &cm_api,
                get(&cache.config_maps, ns, &naming::dolt_config(&town_ref.name)).as_deref(),
                &config,
            )
            .await?;
            let service = infra::dolt_service(town_ref);
            apply::apply(
                &svc_api,
                get(&cache.services, ns, &dolt_name).as_deref(),
                &service,
            )
            .await?;
            if dolt.network_policy_enabled() {
                let policy = infra::dolt_network_policy(town_ref);
                apply::apply(&np_api, dolt_policy.as_deref(), &policy).await?;
            } else {
                apply::delete(&np_api, dolt_policy.as_deref()).await?;
            }
            match blocked_by(missing, s3_secret)
                .or_else(|| blocked_by(missing, dolt_password_secret))
            {
                Some(reason) => Workload::Blocked(reason),
                None => {
                    apply::apply(
                        &sts_api,
                        dolt_sts.as_deref(),
                        &infra::dolt_statefulset(town_ref, dolt),
                    )
                    .await?;
                    if dolt_sts.as_ref().is_some_and(|s| {
                        ready_replicas(s.status.as_ref().and_then(|s| s.ready_replicas))
                    }) {
                        Workload::Ready
                    } else {
                        Workload::NotReady
                    }
                }
            }
        }
        _ => {
            // External daemon: nothing of ours may keep running.
            apply::delete(&np_api, dolt_policy.as_deref()).await?;
            apply::delete(&sts_api, dolt_sts.as_deref()).await?;
            Workload::External
        }
    };

    // The bd daemon.
    let daemon_name = naming::bd_daemon(&town_ref.name);
    let daemon_deployment = get(&cache.deployments, ns, &daemon_name);
    let daemon_service = get(&cache.services, ns, &daemon_name);
    let daemon = match (
        infra::bd_daemon_deployment(town_ref, &spec.daemon, spec.dolt.as_ref()),
        infra::bd_daemon_service(town_ref, &spec.daemon),
    ) {
        (Some(deployment), Some(service)) => {
            apply::apply(&svc_api, daemon_service.as_deref(), &service).await?;
            match blocked_by(missing, token_secret)
                .or_else(|| blocked_by(missing, dolt_password_secret))
            {
                Some(reason) => Workload::Blocked(reason),
                None => {
                    apply::apply(&deploy_api, daemon_deployment.as_deref(), &deployment).await?;
                    if daemon_deployment.as_ref().is_some_and(|d| {
                        ready_replicas(d.status.as_ref().and_then(|s| s.ready_replicas))
                    }) {
                        Workload::Ready
                    } else {
                        Workload::NotReady
                    }
                }
            }
        }
        _ => {
            apply::delete(&deploy_api, daemon_deployment.as_deref()).await?;
            apply::delete(&svc_api, daemon_service.as_deref()).await?;
            Workload::External
        }
    };

    // The RPC server, removed when disabled.
    let rpc_name = naming::rpc_server(&town_ref.name);
    let rpc_deployment = get(&cache.deployments, ns, &rpc_name);
    let rpc_service = get(&cache.services, ns, &rpc_name);
    match infra::rpc_server(town_ref, &spec.rpc_server(), &spec.daemon) {
        Some((deployment, service)) if blocked_by(missing, token_secret).is_none() => {
            apply::apply(&deploy_api, rpc_deployment.as_deref(), &deployment).await?;
            apply::apply(&svc_api, rpc_service.as_deref(), &service).await?;
        }
        Some(_) => {}
        None => {
            apply::delete(&deploy_api, rpc_deployment.as_deref()).await?;
            apply::delete(&svc_api, rpc_service.as_deref()).await?;
        }
    }
    Ok(Infrastructure { dolt, daemon })
}

fn ready_replicas(ready: Option<i32>) -> bool {
    ready.unwrap_or(0) >= 1
}

fn owned_by(rig: &Rig, town: &GasTown) -> bool {
    let uid = town.uid();
    rig.owner_references()
        .iter()
        .any(|o| Some(&o.uid) == uid.as_ref())
}

/// Every Rig of the town: those it owns, and those applied on their own with
/// the `gastown.io/town` label naming it. All of them run on the town's bd
/// daemon, so all of them count in its status and drain with it.
fn town_rigs(ctx: &Context, town: &GasTown) -> Vec<Arc<Rig>> {
    let name = town.name_any();
    ctx.cache
        .rigs
        .state()
        .into_iter()
        .filter(|rig| rig.namespace() == town.namespace())
        .filter(|rig| rig.town() == Some(name.as_str()) || owned_by(rig, town))
        .collect()
}

async fn reconcile_rigs(
    town: &GasTown,
    town_ref: &TownRef,
    ctx: &Context,
) -> Result<Vec<RigObservation>> {
    let api: Api<Rig> = ctx.api(&town_ref.namespace);
    // The town's own Rigs (one per spec.rigs[]) and those applied on their own.
    let (owned, standalone): (Vec<Arc<Rig>>, Vec<Arc<Rig>>) = town_rigs(ctx, town)
        .into_iter()
        .partition(|rig| owned_by(rig, town));
    let mut observations = Vec::new();
    let mut declared = BTreeSet::new();
    for spec in town.spec.rigs() {
        let desired = rig_object(
            &town_ref.name,
            &town_ref.namespace,
            &town_ref.owner,
            spec,
            false,
        );
        let name = desired.name_any();
        declared.insert(name.clone());
        let observed = owned.iter().find(|r| r.name_any() == name).cloned();
        apply::apply(&api, observed.as_deref(), &desired).await?;
        observations.push(RigObservation {
            name: spec.name.clone(),
            phase: observed
                .as_ref()
                .and_then(|r| r.status.as_ref().and_then(|s| s.phase)),
            reconciled: observed.as_ref().is_some_and(|r| {
                r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
                    && apply::in_sync(&desired, r)
            }),
        });
    }
    // A rig no longer declared goes through its own finalizer.
    for rig in owned.iter().filter(|r| !declared.contains(&r.name_any())) {
        apply::delete(&api, Some(rig.as_ref())).await?;
    }
    // Rigs applied on their own for this town are its rigs too.
    for rig in standalone
        .iter()
        .filter(|r| r.metadata.deletion_timestamp.is_none())
    {
        let status = rig.status.as_ref();
        observations.push(RigObservation {
            name: rig.spec.name.clone(),
            phase: status.and_then(|s| s.phase),
            reconciled: status.and_then(|s| s.observed_generation) == rig.metadata.generation,
        });
    }
    Ok(observations)
}

async fn reconcile_town_agent(
    town: &GasTown,
    town_ref: &TownRef,
    role: AgentRole,
    missing: &BTreeMap<String, &'static str>,
    ctx: &Context,
) -> Result<TownAgentObservation> {
    let spec = match role {
        AgentRole::Mayor => town.spec.mayor(),
        _ => town.spec.deacon(),
    };
    let ns = &town_ref.namespace;
    let api: Api<Pod> = ctx.api(ns);
    let pod_name = naming::agent_pod(&town_ref.name, None, role, role.as_str());
    let observed = get(&ctx.cache.pods, ns, &pod_name);
    if !spec.enabled() {
        apply::delete(&api, observed.as_deref()).await?;
        return Ok(TownAgentObservation {
            enabled: false,
            pod_name: None,
            pod_ready: false,
            blocked: None,
        });
    }
    let token = town.spec.daemon.token_secret_ref.as_ref();
    let anthropic = town
        .spec
        .secrets
        .as_ref()
        .and_then(|s| s.anthropic_api_key_secret_ref.as_ref());
    let blocked = blocked_by(missing, token.map(|t| t.name.as_str()))
        .or_else(|| blocked_by(missing, anthropic.map(|a| a.name.as_str())));
    if let Some(reason) = blocked {
        return Ok(TownAgentObservation {
            enabled: true,
            pod_name: None,
            pod_ready: false,
            blocked: Some(reason),
        });
    }
    let defaults = town.spec.defaults.clone().unwrap_or_default();
    let template = merge([&defaults, &PodTemplate::from(&spec)]);
    let daemon_host = naming::bd_daemon(&town_ref.name);
    let endpoint = town.spec.daemon.endpoint(&daemon_host);
    let bead_id = format!("gt-{}", role.as_str());
    let input = AgentPodInput {
        namespace: ns,
        town: &town_ref.name,
        role,
        agent: role.as_str(),
        bead_id: &bead_id,
        rig: None,
        template: &template,
        daemon: DaemonConnection {
            host: &endpoint.host,
            port: endpoint.port,
            token,
        },
        anthropic_api_key: anthropic,
    };
    let desired = match agent_pod(&input) {
        Ok(pod) => pod,
        Err(error) => {
            return Ok(TownAgentObservation {
                enabled: true,
                pod_name: None,
                pod_ready: false,
                blocked: Some(error.to_string()),
            });
        }
    };
    let outcome = apply::ensure_pod(&api, observed.as_deref(), desired).await?;
    let ready =
        outcome == PodOutcome::Unchanged && observed.as_deref().is_some_and(super::pod_ready);
    Ok(TownAgentObservation {
        enabled: true,
        pod_name: Some(pod_name),
        pod_ready: ready,
        blocked: None,
    })
}

/// Renders `spec.secrets.externalSecrets` as ExternalSecret objects where
/// the cluster serves that kind, and removes the ones no longer declared.
/// Returns the ExternalSecretsReady condition, or `None` when the town has
/// never declared any (then not even discovery is asked).
async fn reconcile_external_secrets(
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
        let desired = external_secret::external_secret(town_ref, &resource, spec);
        let observed = existing.items.iter().find(|o| o.name_any() == spec.name);
        if observed.is_some_and(|observed| apply::in_sync(&desired, observed)) {
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

/// Where the operator reads this town's beads (shown in status).
fn daemon_endpoint(town: &GasTown, ctx: &Context) -> String {
    ctx.settings.daemon_override.clone().unwrap_or_else(|| {
        let endpoint = town
            .spec
            .daemon
            .endpoint(&naming::bd_daemon(&town.name_any()));
        format!("{}:{}", endpoint.host, endpoint.http_port)
    })
}

/// Fetches beads' view of the town (one batched set of queries) and publishes
/// it for the town's rigs and pools.
async fn refresh_beads(town: &GasTown, ctx: &Context) -> Arc<BeadsView> {
    let started = std::time::Instant::now();
    let fetched = async {
        let client = ctx.beads_for(town).await.map_err(|e| e.to_string())?;
        fetch_snapshot(&client).await.map_err(|e| e.to_string())
    }
    .await;
    ctx.metrics
        .beads_request("town_snapshot", started.elapsed(), fetched.is_err());
    let now = Timestamp::now();
    let result = fetched.map(|snapshot| {
        let summary = project(&snapshot, now, ctx.settings.agent_staleness);
        (snapshot, summary)
    });
    if let Err(error) = &result {
        tracing::warn!(%error, "cannot read beads");
    }
    let (namespace, name) = (town.namespace().unwrap_or_default(), town.name_any());
    ctx.beads_views.publish(
        &namespace,
        &name,
        BeadsView {
            fetched_at: now,
            result,
        },
    );
    ctx.beads_views
        .get(&namespace, &name)
        .expect("just published")
}

async fn apply_town(town: &GasTown, ctx: &Context) -> Result<Action> {
    let town_ref = TownRef::new(town).ok_or_else(|| Error::NotStored {
        kind: "GasTown",
        name: town.name_any(),
    })?;
    let ns = town_ref.namespace.clone();
    let missing = missing_secrets(&town.spec, |name| ctx.secret_exists(&ns, name));
    let beads = refresh_beads(town, ctx).await;

    let infrastructure = reconcile_infrastructure(town, &town_ref, &missing, ctx).await?;
    let external_secrets = reconcile_external_secrets(town, &town_ref, ctx).await?;
    let rigs = reconcile_rigs(town, &town_ref, ctx).await?;
    let mayor = reconcile_town_agent(town, &town_ref, AgentRole::Mayor, &missing, ctx).await?;
    let deacon = reconcile_town_agent(town, &town_ref, AgentRole::Deacon, &missing, ctx).await?;

    let running_agent_pods = pods_of(&ctx.cache.pods, &ns, &[(labels::TOWN, &town_ref.name)])
        .filter(|pod| pod.labels().contains_key(labels::ROLE))
        .filter(|pod| pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count();
    let previous = ctx.statuses.current(town, town.status.as_ref());
    let observation = TownObservation {
        previous: previous.as_ref(),
        generation: town.metadata.generation,
        now: Timestamp::now(),
        draining: None,
        dolt: infrastructure.dolt,
        daemon: infrastructure.daemon,
        daemon_endpoint: daemon_endpoint(town, ctx),
        beads: beads
            .result
            .as_ref()
            .map(|(_, summary)| summary)
            .map_err(Clone::clone),
        mayor,
        deacon,
        rigs,
        running_agent_pods: i32::try_from(running_agent_pods).unwrap_or(i32::MAX),
        external_secrets,
    };
    let (status, transitions) = town_status(&observation);
    let mut next_sync = town.spec.sync_interval();
    match when_to_write(previous.as_ref(), &status, observation.now) {
        StatusWrite::Unchanged => {}
        StatusWrite::Now => {
            let api: Api<GasTown> = ctx.api(&ns);
            apply::patch_status(&api, &ctx.statuses, town, previous.as_ref(), &status).await?;
            // Transitions are against the status as last written, so a
            // deferred one is found again, and told, when it is written.
            publish_transitions(ctx, town, transitions).await;
        }
        StatusWrite::After(wait) => next_sync = next_sync.min(wait),
    }
    for (secret, what) in &missing {
        tracing::warn!(secret = %secret, "missing Secret needed for {what}");
    }
    Ok(Action::requeue(next_sync))
}

/// The drain-order teardown (see docs/architecture.md), one step per reconcile.
async fn cleanup_town(town: &GasTown, ctx: &Context) -> Result<Teardown> {
    let town_ref = TownRef::new(town).ok_or_else(|| Error::NotStored {
        kind: "GasTown",
        name: town.name_any(),
    })?;
    let ns = town_ref.namespace.clone();
    let cache = &ctx.cache;
    let deletion_started = town
        .metadata
        .deletion_timestamp
        .as_ref()
        .map_or_else(Timestamp::now, |t| t.0);
    let grace = town.spec.termination_grace_period();
    let deadline = deletion_started
        .checked_add(k8s_openapi::jiff::SignedDuration::try_from(grace).unwrap_or_default())
        .unwrap_or(deletion_started);

    let rigs = town_rigs(ctx, town);
    let rig_tracked: Vec<Tracked> = rigs
        .iter()
        .map(|r| Tracked::new("Rig", r.name_any(), r.metadata.deletion_timestamp.is_some()))
        .collect();
    let unmarked: Vec<Tracked> = rigs
        .iter()
        .filter(|r| {
            r.metadata.deletion_timestamp.is_none()
                && !r.annotations().contains_key(naming::DRAINING_ANNOTATION)
        })
        .map(|r| Tracked::new("Rig", r.name_any(), false))
        .collect();
    let town_pods: Vec<Arc<Pod>> =
        pods_of(&cache.pods, &ns, &[(labels::TOWN, &town_ref.name)]).collect();
    let pods_with_role = |roles: &[AgentRole]| -> Vec<Tracked> {
        town_pods
            .iter()
            .filter(|p| {
                p.labels()
                    .get(labels::ROLE)
                    .is_some_and(|r| roles.iter().any(|role| role.as_str() == r))
            })
            .filter(|p| !super::pod_finished(p))
            .map(|p| Tracked::new("Pod", p.name_any(), p.metadata.deletion_timestamp.is_some()))
            .collect()
    };
    let mut infrastructure = Vec::new();
    for name in [
        naming::rpc_server(&town_ref.name),
        naming::bd_daemon(&town_ref.name),
    ] {
        if let Some(d) = get(&cache.deployments, &ns, &name) {
            infrastructure.push(Tracked::new(
                "Deployment",
                name,
                d.metadata.deletion_timestamp.is_some(),
            ));
        }
    }
    if let Some(s) = get(&cache.stateful_sets, &ns, &naming::dolt(&town_ref.name)) {
        infrastructure.push(Tracked::new(
            "StatefulSet",
            s.name_any(),
            s.metadata.deletion_timestamp.is_some(),
        ));
    }
    let stages = vec![
        Stage::StopNewWork { unmarked },
        Stage::Drain {
            active: pods_with_role(&[AgentRole::Polecat]),
            deadline,
        },
        Stage::Remove {
            what: "rigs",
            remaining: rig_tracked,
        },
        Stage::Remove {
            what: "town agents",
            remaining: pods_with_role(&[AgentRole::Mayor, AgentRole::Deacon]),
        },
        Stage::Remove {
            what: "infrastructure workloads",
            remaining: infrastructure,
        },
    ];
    let action = teardown::next_action(&stages, Timestamp::now());
    tracing::info!(?action, "teardown");
    match action {
        teardown::Action::StopNewWork(rigs_to_mark) => {
            let api: Api<Rig> = ctx.api(&ns);
            for spec in town.spec.rigs() {
                let desired = rig_object(&town_ref.name, &ns, &town_ref.owner, spec, true);
                if rigs_to_mark.iter().any(|t| t.name == desired.name_any()) {
                    apply::apply(&api, None, &desired).await?;
                }
            }
            for rig in rigs
                .iter()
                .filter(|r| rigs_to_mark.iter().any(|t| t.name == r.name_any()))
            {
                let declared = town
                    .spec
                    .rigs()
                    .iter()
                    .any(|s| naming::rig_object(&town_ref.name, &s.name) == rig.name_any());
                if declared {
                    continue;
                }
                if owned_by(rig, town) {
                    // No longer in the spec: deleted, it drains on its own.
                    apply::delete(&api, Some(rig.as_ref())).await?;
                } else {
                    // Applied on its own: only the mark is ours to set.
                    mark_draining(&api, rig).await?;
                }
            }
            set_draining(town, ctx, "stopping new work: rigs marked draining").await?;
            Ok(Teardown::Continue(Action::requeue(Duration::from_secs(1))))
        }
        teardown::Action::Wait {
            progress,
            recheck_after,
        } => {
            set_draining(town, ctx, &progress).await?;
            Ok(Teardown::Continue(Action::requeue(recheck_after)))
        }
        teardown::Action::Delete(objects) => {
            for object in &objects {
                delete_tracked(ctx, &ns, object).await?;
            }
            let names: Vec<String> = objects
                .iter()
                .map(|o| format!("{} {}", o.kind, o.name))
                .collect();
            set_draining(town, ctx, &format!("deleting {}", names.join(", "))).await?;
            Ok(Teardown::Continue(Action::requeue(
                teardown::REMOVAL_RECHECK,
            )))
        }
        teardown::Action::Done => {
            // Services and the ConfigMap go with the town through their owner
            // references; claims follow dolt's retention policy.
            ctx.beads.forget(&ns, &town_ref.name);
            ctx.beads_views.forget(&ns, &town_ref.name);
            Ok(Teardown::Done)
        }
    }
}

/// Sets the draining annotation on a Rig the town does not own, by a server-side
/// apply of that annotation alone (the Rig's owner keeps every other field).
async fn mark_draining(api: &Api<Rig>, rig: &Rig) -> Result<()> {
    let mark = serde_json::json!({
        "apiVersion": "gastown.io/v1alpha1",
        "kind": "Rig",
        "metadata": {
            "name": rig.name_any(),
            "annotations": {naming::DRAINING_ANNOTATION: "true"},
        },
    });
    api.patch(
        &rig.name_any(),
        &PatchParams::apply(naming::FIELD_MANAGER).force(),
        &Patch::Apply(&mark),
    )
    .await
    .map_err(|e| Error::kube(format!("mark Rig {} draining", rig.name_any()), e))?;
    Ok(())
}

/// Shows teardown progress in status: phase Draining and a Ready condition that says why.
async fn set_draining(town: &GasTown, ctx: &Context, progress: &str) -> Result<()> {
    let ready = Observed::new(condition::READY, false, "Draining", progress);
    show_draining(ctx, town, town.status.as_ref(), vec![ready]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_secrets_name_what_needs_them() {
        let spec: GasTownSpec = serde_json::from_value(serde_json::json!({
            "dolt": {"image": "dolt:1", "s3": {"bucket": "b", "region": "r", "credentialsSecretRef": {"name": "aws"}},
                     "rootPasswordSecretRef": {"name": "dolt-root", "key": "password"}},
            "daemon": {"image": "bd:1", "tokenSecretRef": {"name": "bd-token", "key": "token"}},
            "secrets": {"anthropicApiKeySecretRef": {"name": "anthropic", "key": "key"}}
        }))
        .unwrap();
        let missing = missing_secrets(&spec, |name| name == "aws");
        assert_eq!(
            missing.keys().collect::<Vec<_>>(),
            ["anthropic", "bd-token", "dolt-root"]
        );
        assert!(missing["dolt-root"].contains("spec.dolt.rootPasswordSecretRef"));
        assert!(missing["bd-token"].contains("tokenSecretRef"));
        assert_eq!(
            blocked_by(&missing, Some("bd-token")).unwrap(),
            "Secret bd-token (the bd daemon token (spec.daemon.tokenSecretRef)) does not exist"
        );
        assert!(blocked_by(&missing, Some("aws")).is_none());
    }
}

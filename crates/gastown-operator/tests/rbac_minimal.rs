//! The chart's RBAC, proven rather than guessed.
//!
//! The chart (`charts/gastown-operator`, default values) is installed through
//! Helm's own library into an embedded API server that authorizes by RBAC.
//! The operator then runs in-process, leader election on, with a token of the
//! chart's ServiceAccount, and the life of a town passes without a single RBAC
//! refusal: the town converges to Running, the town's and the rig's agent pods
//! run, a polecat beads spawned gets its pod and loses it when beads says it is
//! done, the town gains and gives up an RPC server and an ExternalSecret (the
//! external-secrets operator's CRD is installed), its rig drops its
//! NetworkPolicy and lets its workspace go with it, and the deleted town
//! drains and goes.
//!
//! Then every permission is shown to be needed. The server logged every
//! request the operator made and RBAC's decision; for each verb of each rule
//! of the chart, the decisions are replayed against the chart's policy with
//! that one verb dropped, and so are the escalation checks of the Roles and
//! RoleBindings the operator wrote for its rigs' agents (which is why the
//! chart holds `pods/log`). A permission neither needs is unused and named,
//! unless [`NOT_EXERCISED`] explains it. Every permission the replay calls
//! needed is then confirmed by a real, shortened re-run with it dropped from
//! the chart's role: RBAC must refuse the operator something.
//!
//! Needs `HELM_SDK_PYTHON` (a python with PyPI `helm-sdkpy`); skipped loudly
//! without it.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use beads_testd::TestDaemon;
use common::{CONVERGE, NAMESPACE, RIG, TOWN, eventually, helm, minimal_town};
use embedded_apiserver::EmbeddedApiServer;
use embedded_apiserver::authz::Decision;
use embedded_apiserver::rbac::{self, Policy, RbacWrite, UserInfo};
use gastown_api::{GasTown, Phase};
use gastown_operator::cache::Scope;
use gastown_operator::context::Settings;
use gastown_operator::naming;
use gastown_operator::runtime::{LeaderElection, Runtime, RuntimeConfig, RuntimeError};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::core::GroupVersionKind;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const RELEASE: &str = "op";
const RELEASE_NAMESPACE: &str = "gastown-system";
/// The chart's full name for [`RELEASE`]: its ServiceAccount, roles and Lease.
const FULLNAME: &str = "op-gastown-operator";

/// Permissions the chart holds for situations this flow does not create, each
/// as (group, resource, verb, the reason it is still needed). The test fails
/// when one of them turns out exercised (then it belongs to the proven ones)
/// or when a permission outside this list is unused. Empty: every permission
/// is proven.
const NOT_EXERCISED: &[(&str, &str, &str, &str)] = &[];
/// Bounds each re-run with a dropped permission.
/// (Shorter than [`CONVERGE`], so that a re-run ends here rather than failing a step.)
const RERUN_BOUND: Duration = Duration::from_secs(50);

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

/// How the chart is installed, and the operator run as it would then be.
#[derive(Clone, Debug)]
struct Install {
    values: Value,
    scopes: Vec<Scope>,
}

impl Install {
    /// Default values: every namespace, cluster-wide RBAC.
    fn all_namespaces() -> Self {
        Install {
            values: json!({}),
            scopes: vec![Scope::All],
        }
    }

    /// `watchNamespaces: [<town's namespace>]`: a Role there, cluster-wide only PriorityClasses.
    fn town_namespace_only() -> Self {
        Install {
            values: json!({ "watchNamespaces": [NAMESPACE] }),
            scopes: vec![Scope::Namespace(NAMESPACE.into())],
        }
    }
}

/// A cluster in RBAC mode with the chart installed, the test daemon, and the
/// town's namespace and Secrets; the operator not yet running.
struct Cluster {
    server: EmbeddedApiServer,
    testd: TestDaemon,
    admin: Client,
    install: Install,
    _scratch: tempfile::TempDir,
}

impl Cluster {
    async fn start(python: &Path, install: &Install) -> Cluster {
        let server = common::rbac_server().await;
        let testd = common::seeded_daemon().await;
        let admin = server.client().unwrap();
        let post = PostParams::default();
        // The external-secrets operator is installed: towns may declare ExternalSecrets.
        Api::<CustomResourceDefinition>::all(admin.clone())
            .create(&post, &external_secrets_crd())
            .await
            .unwrap();
        Api::<Namespace>::all(admin.clone())
            .create(
                &post,
                &from_json(json!({ "metadata": { "name": NAMESPACE } })),
            )
            .await
            .unwrap();
        let secrets: Api<Secret> = Api::namespaced(admin.clone(), NAMESPACE);
        for (name, key, value) in [
            ("bd-daemon-token", "token", testd.token().to_string()),
            ("anthropic-api-key", "api-key", "sk-test-not-a-key".into()),
        ] {
            let secret = json!({ "metadata": { "name": name }, "stringData": { key: value } });
            secrets.create(&post, &from_json(secret)).await.unwrap();
        }
        // Watched namespaces must exist before the chart is installed.
        let scratch = tempfile::tempdir().unwrap();
        let kubeconfig = scratch.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        let release = helm::Release {
            python: python.to_owned(),
            kubeconfig,
            scratch: scratch.path().to_owned(),
            name: RELEASE.into(),
            namespace: RELEASE_NAMESPACE.into(),
        };
        release.install(&install.values).await;
        let towns: Api<GasTown> = Api::all(admin.clone());
        eventually("the chart's CRDs are served", CONVERGE, || async {
            towns.list(&ListParams::default()).await.ok()
        })
        .await;
        let external_secrets: Api<DynamicObject> =
            Api::all_with(admin.clone(), &external_secrets_resource());
        eventually("ExternalSecrets are served", CONVERGE, || async {
            external_secrets.list(&ListParams::default()).await.ok()
        })
        .await;
        Cluster {
            server,
            testd,
            admin,
            install: install.clone(),
            _scratch: scratch,
        }
    }

    fn operator_user() -> UserInfo {
        UserInfo::service_account(RELEASE_NAMESPACE, FULLNAME)
    }

    /// The operator as the chart deploys it (leader election on), with a
    /// token of the chart's ServiceAccount.
    fn start_operator(&self) -> Operator {
        let token = self
            .server
            .service_account_token(RELEASE_NAMESPACE, FULLNAME);
        let client = self.server.client_for_token(&token).unwrap();
        let runtime = Runtime::new(RuntimeConfig {
            settings: Settings {
                daemon_override: Some(self.testd.http_url()),
                ..Settings::default()
            },
            leader_election: Some(LeaderElection::new(FULLNAME, RELEASE_NAMESPACE)),
            scopes: self.install.scopes.clone(),
            ..RuntimeConfig::default()
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(runtime.run(client, stop.clone()));
        Operator { stop, task }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.admin.clone(), NAMESPACE)
    }

    async fn pods(&self) -> BTreeSet<String> {
        let pods: Api<Pod> = self.api();
        let listed = pods.list(&ListParams::default()).await.unwrap();
        listed
            .items
            .into_iter()
            .filter_map(|pod| pod.metadata.name)
            .collect()
    }

    async fn shutdown(self) {
        self.server.shutdown().await;
        self.testd.shutdown().await;
    }
}

struct Operator {
    stop: CancellationToken,
    task: JoinHandle<Result<(), RuntimeError>>,
}

impl Operator {
    async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}

fn polecat_pod(name: &str) -> String {
    format!("gt-{RIG}-polecat-{name}")
}

/// How each step of a town's life is awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Until {
    /// Until it is done; the test fails after [`CONVERGE`].
    Done,
    /// Until it is done or RBAC refused the operator something: a re-run
    /// with a permission dropped, which ends at the first refusal.
    DoneOrRefused,
}

impl Cluster {
    /// Waits until `done`; false when RBAC refused something first (re-runs only).
    async fn settle<F, Fut>(&self, what: &str, until: Until, mut done: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + CONVERGE;
        loop {
            if done().await {
                return true;
            }
            if until == Until::DoneOrRefused && !rbac_refusals(&self.server).is_empty() {
                return false;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {CONVERGE:?} waiting until {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn exists<K>(&self, name: &str) -> bool
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        self.api::<K>()
            .get_opt(name)
            .await
            .expect("a read")
            .is_some_and(|o| o.meta().deletion_timestamp.is_none())
    }

    async fn external_secret_exists(&self, name: &str) -> bool {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.admin.clone(), NAMESPACE, &external_secrets_resource());
        api.get_opt(name).await.expect("a read").is_some()
    }

    async fn patch_town(&self, patch: Value) {
        self.api::<GasTown>()
            .patch(TOWN, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("the town is edited");
    }
}

/// Whether the on-demand backup the town asks for on its second day has its Job.
async fn on_demand_backup_ran(cluster: &Cluster) -> bool {
    let jobs: Api<Job> = cluster.api();
    let listed = jobs.list(&ListParams::default()).await.expect("a list");
    listed.items.iter().any(|job| {
        job.annotations()
            .contains_key("gastown.io/backup-now-token")
    })
}

/// The ExternalSecret the town declares on its second day.
const EXTERNAL_SECRET: &str = "anthropic-from-vault";

fn external_secrets_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "external-secrets.io",
        "v1beta1",
        "ExternalSecret",
    ))
}

/// The external-secrets operator's ExternalSecret CRD, reduced to what the
/// API server needs to serve it.
fn external_secrets_crd() -> CustomResourceDefinition {
    from_json(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "externalsecrets.external-secrets.io" },
        "spec": {
            "group": "external-secrets.io",
            "scope": "Namespaced",
            "names": {
                "plural": "externalsecrets", "singular": "externalsecret",
                "kind": "ExternalSecret", "listKind": "ExternalSecretList",
            },
            "versions": [{
                "name": "v1beta1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                    }},
                }},
            }],
        },
    }))
}

/// The whole life of a town, each step awaited as `until` says: it converges,
/// its agents and beads' polecat run, the polecat finishes; on its second day
/// it gains an RPC server and an ExternalSecret and its rig drops the
/// NetworkPolicy and lets its workspace go with it; then it gives the RPC
/// server and the ExternalSecret up again; then it is deleted and drains.
/// The RBAC policy in force on the first day, with the operator's own Roles;
/// `None` when a re-run was refused something.
async fn town_life(cluster: &Cluster, until: Until) -> Option<Policy> {
    let towns: Api<GasTown> = cluster.api();
    towns
        .create(&PostParams::default(), &minimal_town())
        .await
        .expect("the town is created");
    let running = || async {
        let town = towns.get(TOWN).await.expect("the town");
        town.status.is_some_and(|s| s.phase == Some(Phase::Running))
    };
    if !cluster.settle("the town is Running", until, running).await {
        return None;
    }
    // The town's and the rig's agents run.
    let agents: BTreeSet<String> = [
        "gt-minimal-mayor",
        "gt-minimal-deacon",
        "gt-gastown-witness",
        "gt-gastown-refinery",
    ]
    .map(String::from)
    .into();
    let agents_run = || async { cluster.pods().await.is_superset(&agents) };
    if !cluster
        .settle("the agents' pods exist", until, agents_run)
        .await
    {
        return None;
    }
    // Beads' working polecat gets its pod; once beads says it is done, the pod goes.
    let nux = polecat_pod("nux");
    let nux_runs = || async { cluster.pods().await.contains(&nux) };
    if !cluster
        .settle("beads' polecat nux has a pod", until, nux_runs)
        .await
    {
        return None;
    }
    let bead = format!("gt-{RIG}-polecat-nux");
    cluster
        .testd
        .store()
        .update(&bead, |bead| bead.agent_state = Some("done".into()));
    let nux_gone = || async { !cluster.pods().await.contains(&nux) };
    if !cluster
        .settle("the finished polecat's pod is gone", until, nux_gone)
        .await
    {
        return None;
    }
    // The operator's own RBAC objects (each rig's agent Role and RoleBinding) exist now.
    let policy = cluster.server.rbac_policy();

    let rpc = naming::rpc_server(TOWN);
    let network_policy = naming::rig_agents(&naming::rig_object(TOWN, RIG));
    let backups = naming::dolt_backup(TOWN);
    cluster
        .patch_town(json!({
            "metadata": { "annotations": { naming::BACKUP_NOW_ANNOTATION: "day-two" } },
            "spec": {
            "dolt": { "backup": { "schedule": "0 3 * * *", "url": "gs://town-backups/minimal" } },
            "rpcServer": { "enabled": true, "image": "ghcr.io/gastown/gtmobile:0.1.0" },
            "secrets": { "externalSecrets": [{
                "name": EXTERNAL_SECRET,
                "secretStoreRef": { "name": "vault" },
                "data": [{ "secretKey": "api-key", "remoteKey": "gastown/anthropic" }],
            }]},
            "rigs": [{
                "name": RIG,
                "gitURL": format!("https://git.example.com/{RIG}.git"),
                "networkPolicy": { "enabled": false },
                "workspace": { "reclaimPolicy": "Delete" },
            }],
        }}))
        .await;
    let second_day = || async {
        cluster.exists::<Service>(&rpc).await
            && cluster.exists::<CronJob>(&backups).await
            && on_demand_backup_ran(cluster).await
            && cluster.external_secret_exists(EXTERNAL_SECRET).await
            && !cluster.exists::<NetworkPolicy>(&network_policy).await
    };
    if !cluster
        .settle("the second day's edit is done", until, second_day)
        .await
    {
        return None;
    }
    cluster
        .patch_town(json!({ "spec": {
            "rpcServer": { "enabled": false },
            "secrets": { "externalSecrets": null },
            "dolt": { "backup": null },
        }}))
        .await;
    let given_up = || async {
        !cluster.exists::<Service>(&rpc).await
            && !cluster.exists::<CronJob>(&backups).await
            && !cluster.external_secret_exists(EXTERNAL_SECRET).await
    };
    if !cluster
        .settle(
            "the RPC server and ExternalSecret are gone",
            until,
            given_up,
        )
        .await
    {
        return None;
    }

    towns
        .delete(TOWN, &DeleteParams::default())
        .await
        .expect("the town is deleted");
    let workspace = naming::rig_workspace(&naming::rig_object(TOWN, RIG));
    let drained = || async {
        towns.get_opt(TOWN).await.expect("a read").is_none()
            && !cluster.exists::<PersistentVolumeClaim>(&workspace).await
    };
    if !cluster
        .settle("the town drained and its workspace went", until, drained)
        .await
    {
        return None;
    }
    Some(policy)
}

/// One verb of one rule of one of the chart's roles.
#[derive(Clone, Debug)]
struct Permission {
    /// `None` for the ClusterRole, the namespace of a Role.
    namespace: Option<String>,
    role: String,
    rule: usize,
    verb: String,
    /// The rule, for messages.
    shown: String,
    /// The role's rules without this permission.
    rules_without: Vec<PolicyRule>,
}

impl Permission {
    fn describe(&self) -> String {
        let role = match &self.namespace {
            Some(ns) => format!("Role {ns}/{}", self.role),
            None => format!("ClusterRole {}", self.role),
        };
        format!(
            "{role} rule #{}: {} of {}",
            self.rule, self.verb, self.shown
        )
    }

    /// Whether this is `verb` on `group`/`resource`, to compare with [`NOT_EXERCISED`].
    fn matches(&self, group: &str, resource: &str, verb: &str) -> bool {
        self.verb == verb
            && self.shown.contains(&format!("APIGroups:[{group:?}]"))
            && self.shown.contains(&format!("{resource:?}"))
    }

    /// `policy` without this permission.
    fn dropped_from(&self, policy: &Policy) -> Policy {
        let mut dropped = policy.clone();
        let same = |meta: &ObjectMeta| {
            meta.name.as_deref() == Some(self.role.as_str()) && meta.namespace == self.namespace
        };
        if self.namespace.is_none() {
            for role in dropped
                .cluster_roles
                .iter_mut()
                .filter(|r| same(&r.metadata))
            {
                role.rules = Some(self.rules_without.clone());
            }
        } else {
            for role in dropped.roles.iter_mut().filter(|r| same(&r.metadata)) {
                role.rules = Some(self.rules_without.clone());
            }
        }
        dropped
    }
}

fn is_chart_object(metadata: &ObjectMeta) -> bool {
    metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/managed-by"))
        .is_some_and(|m| m == "Helm")
}

/// Every verb of every rule of the chart's ClusterRoles and Roles.
fn permissions(policy: &Policy) -> Vec<Permission> {
    let cluster_roles = policy.cluster_roles.iter().map(|r| (&r.metadata, &r.rules));
    let roles = policy.roles.iter().map(|r| (&r.metadata, &r.rules));
    let mut found = Vec::new();
    for (meta, rules) in cluster_roles
        .chain(roles)
        .filter(|(m, _)| is_chart_object(m))
    {
        let rules = rules.clone().unwrap_or_default();
        for (index, rule) in rules.iter().enumerate() {
            for verb in &rule.verbs {
                let mut rules_without = rules.clone();
                rules_without[index].verbs.retain(|v| v != verb);
                if rules_without[index].verbs.is_empty() {
                    rules_without.remove(index);
                }
                found.push(Permission {
                    namespace: meta.namespace.clone(),
                    role: meta.name.clone().unwrap_or_default(),
                    rule: index,
                    verb: verb.clone(),
                    shown: rbac::compact_string(rule),
                    rules_without,
                });
            }
        }
    }
    found
}

/// What RBAC refused the operator so far: requests, and Roles or bindings it
/// may not write (escalation).
fn rbac_refusals(server: &EmbeddedApiServer) -> Vec<String> {
    let requests = server
        .rbac_checks()
        .into_iter()
        .filter(|c| !c.allowed)
        .map(|c| rbac::forbidden_reason(&c.user, &c.request));
    let escalations = server
        .forbidden()
        .into_iter()
        .filter(|m| m.contains("attempting to grant"));
    requests.chain(escalations).collect()
}

/// The town's life again, with `permission` dropped from the chart's role,
/// until RBAC refuses the operator something or the flow ends; what was refused.
async fn rerun_without(python: &Path, install: &Install, permission: &Permission) -> Vec<String> {
    let cluster = Cluster::start(python, install).await;
    let post = PostParams::default();
    let rules = Some(permission.rules_without.clone());
    match &permission.namespace {
        None => {
            let roles: Api<ClusterRole> = Api::all(cluster.admin.clone());
            let mut role = roles.get(&permission.role).await.unwrap();
            role.rules = rules;
            roles.replace(&permission.role, &post, &role).await.unwrap();
        }
        Some(namespace) => {
            let roles: Api<Role> = Api::namespaced(cluster.admin.clone(), namespace);
            let mut role = roles.get(&permission.role).await.unwrap();
            role.rules = rules;
            roles.replace(&permission.role, &post, &role).await.unwrap();
        }
    }
    let operator = cluster.start_operator();
    let flow = town_life(&cluster, Until::DoneOrRefused);
    let _ = tokio::time::timeout(RERUN_BOUND, flow).await;
    operator.stop().await;
    let refused = rbac_refusals(&cluster.server);
    cluster.shutdown().await;
    refused
}

/// The Roles and RoleBindings the operator wrote, as their escalation checks see them.
fn operator_rbac_writes(policy: &Policy) -> Vec<(String, String, RbacWrite)> {
    let mut writes = Vec::new();
    let ours = |meta: &ObjectMeta| {
        meta.labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/managed-by"))
            .is_some_and(|m| m == gastown_operator::naming::MANAGED_BY)
    };
    let key = |meta: &ObjectMeta| {
        (
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        )
    };
    for role in policy.roles.iter().filter(|r| ours(&r.metadata)) {
        let (ns, name) = key(&role.metadata);
        writes.push((ns, name, RbacWrite::Role(role.clone())));
    }
    for binding in policy.role_bindings.iter().filter(|b| ours(&b.metadata)) {
        let (ns, name) = key(&binding.metadata);
        writes.push((ns, name, RbacWrite::RoleBinding(binding.clone())));
    }
    writes
}

/// Why `dropped` would have made the flow fail: the first request it refuses,
/// or the first of the operator's RBAC writes it refuses.
fn first_failure(
    checks: &[rbac::Checked],
    writes: &[(String, String, RbacWrite)],
    dropped: &Policy,
) -> Option<String> {
    let user = Cluster::operator_user();
    let refused = checks.iter().find(|check| {
        check.allowed && rbac::authorize(&user, &check.request, dropped) != Decision::Allow
    });
    if let Some(check) = refused {
        return Some(rbac::forbidden_reason(&user, &check.request));
    }
    writes.iter().find_map(|(namespace, name, write)| {
        rbac::check_write(&user, namespace, name, write, dropped)
            .err()
            .map(|reason| format!("writing {namespace}/{name}: {reason}"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_needs_every_permission_of_the_chart_and_no_more() {
    let Some(python) = helm::python() else { return };
    prove_minimal(&python, &Install::all_namespaces()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_one_namespace_needs_every_permission_of_its_role_and_no_more() {
    let Some(python) = helm::python() else { return };
    prove_minimal(&python, &Install::town_namespace_only()).await;
}

/// Installs the chart as `install` says, and proves its RBAC enough and minimal.
async fn prove_minimal(python: &Path, install: &Install) {
    let cluster = Cluster::start(python, install).await;
    let operator = cluster.start_operator();
    let policy = town_life(&cluster, Until::Done)
        .await
        .expect("the town's whole life passed");
    operator.stop().await;

    // The chart's RBAC is enough: RBAC refused the operator nothing, and no
    // Role or binding it wrote was an escalation.
    let checks = cluster.server.rbac_checks();
    let refused: Vec<String> = checks
        .iter()
        .filter(|c| !c.allowed)
        .map(|c| rbac::forbidden_reason(&c.user, &c.request))
        .collect();
    assert!(
        refused.is_empty(),
        "refused under the chart's RBAC:\n{}",
        refused.join("\n")
    );
    let forbidden = cluster.server.forbidden();
    let escalations: Vec<&String> = forbidden
        .iter()
        .filter(|m| m.contains("attempting to grant"))
        .collect();
    assert!(escalations.is_empty(), "{escalations:#?}");
    assert!(
        checks.iter().all(|c| c.user == Cluster::operator_user()),
        "only the operator's token was used"
    );

    // And it is no more than enough.
    let writes = operator_rbac_writes(&policy);
    assert!(
        writes
            .iter()
            .any(|(_, _, w)| matches!(w, RbacWrite::Role(_))),
        "the operator wrote its agents' Roles"
    );
    let permissions = permissions(&policy);
    assert!(permissions.len() > 20, "{permissions:#?}");
    let mut unused = Vec::new();
    let mut needed = Vec::new();
    for permission in &permissions {
        match first_failure(&checks, &writes, &permission.dropped_from(&policy)) {
            Some(failure) => needed.push((permission, failure)),
            None => unused.push(permission.clone()),
        }
    }
    let proofs: Vec<String> = needed
        .iter()
        .map(|(p, failure)| format!("{} → {failure}", p.describe()))
        .collect();
    eprintln!(
        "every needed permission and the refusal its absence causes:\n{}",
        proofs.join("\n")
    );
    // Confirmed by re-running the town's life with each needed permission dropped.
    for (permission, predicted) in &needed {
        let refused = rerun_without(python, install, permission).await;
        assert!(
            !refused.is_empty(),
            "without {} the operator was refused nothing within {RERUN_BOUND:?}; \
             predicted: {predicted}",
            permission.describe()
        );
    }
    let (excused, unexplained): (Vec<_>, Vec<_>) = unused.iter().partition(|p| {
        NOT_EXERCISED
            .iter()
            .any(|(group, resource, verb, _)| p.matches(group, resource, verb))
    });
    assert!(
        unexplained.is_empty(),
        "permissions of the chart that the operator never needed in a town's whole life:\n{}",
        unexplained
            .iter()
            .map(|p| p.describe())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (group, resource, verb, why) in NOT_EXERCISED {
        assert!(
            excused.iter().any(|p| p.matches(group, resource, verb)),
            "{verb} {group}/{resource} is listed as not exercised ({why}) but the flow needed it"
        );
    }
    cluster.shutdown().await;
}

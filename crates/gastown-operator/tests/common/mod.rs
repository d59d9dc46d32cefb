//! End-to-end harness: the embedded API server (workload simulation on), the
//! test bd daemon seeded with a town, the CRDs, and the operator in-process.

#![allow(dead_code)] // each test binary uses part of the harness

pub mod helm;
pub mod kubectl;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use beads_testd::{
    AgentStyle, Issue, Personality, TestDaemon, TestDaemonConfig, TownShape, seed_town,
};
use embedded_apiserver::{Config as ServerConfig, EmbeddedApiServer, RequestCounts};
use gastown_api::{GasTown, Phase};
use gastown_operator::context::Settings;
use gastown_operator::metrics::Metrics;
use gastown_operator::runtime::{Runtime, RuntimeConfig, RuntimeError};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const NAMESPACE: &str = "gastown";
pub const TOWN: &str = "minimal";
/// The rig the tests add to the minimal example (and seed in beads).
pub const RIG: &str = "gastown";
/// Upper bound of every wait for convergence.
pub const CONVERGE: Duration = Duration::from_secs(60);

struct Operator {
    stop: CancellationToken,
    task: JoinHandle<Result<(), RuntimeError>>,
    metrics: Arc<Metrics>,
}

pub struct Harness {
    pub server: EmbeddedApiServer,
    pub testd: TestDaemon,
    pub client: Client,
    operator: Option<Operator>,
}

impl Harness {
    /// Server, daemon (seeded with one rig), CRDs, namespace and Secrets; no operator yet.
    pub async fn start() -> Harness {
        Self::start_as(beads_personality()).await
    }

    /// [`Harness::start`] with the beads server `personality`, whatever the
    /// environment says.
    pub async fn start_as(personality: Personality) -> Harness {
        // RUST_LOG=gastown_operator=debug shows what the operator did.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_test_writer()
            .try_init();
        let server = EmbeddedApiServer::start(ServerConfig {
            simulate_workloads: true,
            simulated_node_labels: example_node_labels(),
            ..ServerConfig::default()
        })
        .await
        .expect("the embedded API server starts");
        let testd = seeded_daemon_as(personality).await;
        let client = server.client().expect("a client");
        install_crds(&client).await;
        create(&Api::<Namespace>::all(client.clone()), namespace(NAMESPACE)).await;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
        create(&secrets, secret("bd-daemon-token", "token", testd.token())).await;
        create(
            &secrets,
            secret("anthropic-api-key", "api-key", "sk-test-not-a-key"),
        )
        .await;
        Harness {
            server,
            testd,
            client,
            operator: None,
        }
    }

    /// Starts the operator in-process, reading every town's beads from the test daemon.
    pub fn start_operator(&mut self) {
        self.start_operator_with(|_| {});
    }

    /// [`Harness::start_operator`] with `adjust` applied to its settings.
    pub fn start_operator_with(&mut self, adjust: impl FnOnce(&mut Settings)) {
        assert!(self.operator.is_none(), "the operator runs already");
        let mut settings = Settings {
            daemon_override: Some(self.testd.http_url()),
            ..Settings::default()
        };
        adjust(&mut settings);
        let runtime = Runtime::new(RuntimeConfig {
            settings,
            ..RuntimeConfig::default()
        });
        let metrics = runtime.metrics();
        let stop = CancellationToken::new();
        let task = tokio::spawn(runtime.run(self.client.clone(), stop.clone()));
        self.operator = Some(Operator {
            stop,
            task,
            metrics,
        });
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.operator
            .as_ref()
            .expect("the operator runs")
            .metrics
            .clone()
    }

    /// Stops the operator gracefully and checks that it stopped cleanly.
    pub async fn stop_operator(&mut self) {
        let operator = self.operator.take().expect("the operator runs");
        operator.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), operator.task)
            .await
            .expect("the operator stops within 30 s")
            .expect("the operator task does not panic")
            .expect("the operator stops without error");
    }

    pub async fn shutdown(mut self) {
        if self.operator.is_some() {
            self.stop_operator().await;
        }
        self.server.shutdown().await;
        self.testd.shutdown().await;
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// Reconciles of `controller` so far.
    pub fn reconciles(&self, controller: &str) -> u64 {
        self.metrics()
            .reconciliations
            .with_label_values(&[controller])
            .get()
    }

    /// Failed reconciles of `controller`, whatever the error.
    pub fn reconcile_errors(&self, controller: &str) -> u64 {
        let prefix = format!("gastown_reconcile_errors_total{{controller=\"{controller}\"");
        self.metrics()
            .render()
            .lines()
            .filter(|line| line.starts_with(&prefix))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|count| count as u64)
            .sum()
    }
}

/// Which beads server the end-to-end tests run against: the bd daemon, or
/// with `GASTOWN_E2E_BEADS=serve` `bd serve` (`cargo xtask ci` runs the
/// suite's beads tests against both).
pub fn beads_personality() -> Personality {
    match std::env::var("GASTOWN_E2E_BEADS").as_deref() {
        Ok("serve") => Personality::Serve,
        Ok("daemon") | Err(_) => Personality::Daemon,
        Ok(other) => panic!("GASTOWN_E2E_BEADS={other}: expected daemon or serve"),
    }
}

/// The test daemon, seeded with a town that has the rig [`RIG`], its agents
/// written as the server's era writes them.
pub async fn seeded_daemon() -> TestDaemon {
    seeded_daemon_as(beads_personality()).await
}

pub async fn seeded_daemon_as(personality: Personality) -> TestDaemon {
    let testd = TestDaemon::start(TestDaemonConfig {
        personality,
        ..TestDaemonConfig::default()
    })
    .await
    .expect("the test daemon starts");
    let style = match personality {
        Personality::Daemon => AgentStyle::Columns,
        Personality::Serve => AgentStyle::GasTownToday,
    };
    seed_town(
        testd.store(),
        &[RIG],
        &TownShape {
            style,
            ..TownShape::default()
        },
    );
    if personality == Personality::Serve {
        testd.store().mark_agents_for_kubernetes();
    }
    testd
}

/// An agent bead as the harness's beads server era writes it, selected by
/// the default pool.
pub fn agent_bead(rig: Option<&str>, role: &str, name: &str, state: &str) -> Issue {
    agent_bead_as(beads_personality(), rig, role, name, state)
}

/// [`agent_bead`] for the server `personality`.
pub fn agent_bead_as(
    personality: Personality,
    rig: Option<&str>,
    role: &str,
    name: &str,
    state: &str,
) -> Issue {
    match personality {
        Personality::Daemon => Issue::agent(rig, role, name, state),
        Personality::Serve => Issue::gastown_agent(rig, role, name, state)
            .with_labels(["gt:agent", "execution_target:k8s"]),
    }
}

/// The labels the examples' node selectors ask for (`node-pool: agents` in
/// gastown-full.yaml, `node-type: agent-burst` for burst polecats): the
/// simulated node carries them, as a cluster running the examples would.
pub fn example_node_labels() -> std::collections::BTreeMap<String, String> {
    [("node-pool", "agents"), ("node-type", "agent-burst")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// An API server that authorizes by RBAC and, as OpenShift does, runs the
/// OwnerReferencesPermissionEnforcement admission plugin; workloads simulated.
pub async fn rbac_server() -> EmbeddedApiServer {
    EmbeddedApiServer::start(ServerConfig {
        simulate_workloads: true,
        simulated_node_labels: example_node_labels(),
        rbac: true,
        owner_references_permission_enforcement: true,
        ..ServerConfig::default()
    })
    .await
    .expect("the embedded API server starts")
}

/// Sends SIGTERM, as the kubelet does, and checks the process exits cleanly
/// within `grace`.
pub async fn terminate(process: &mut tokio::process::Child, grace: Duration) {
    let pid = process.id().expect("a running process").to_string();
    let sent = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(sent.success(), "SIGTERM is delivered");
    let exit = tokio::time::timeout(grace, process.wait())
        .await
        .unwrap_or_else(|_| panic!("the process stops within {grace:?} of SIGTERM"))
        .expect("an exit status");
    assert!(exit.success(), "a clean exit after SIGTERM: {exit}");
}

fn namespace(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

pub fn secret(name: &str, key: &str, value: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        data: Some([(key.to_string(), ByteString(value.as_bytes().to_vec()))].into()),
        ..Secret::default()
    }
}

pub async fn create<K>(api: &Api<K>, object: K)
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.create(&PostParams::default(), &object)
        .await
        .expect("the object is created");
}

async fn install_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in gastown_api::crds() {
        create(&crds, crd).await;
    }
    let towns: Api<GasTown> = Api::all(client.clone());
    eventually(
        "the GasTown CRD is served",
        Duration::from_secs(10),
        || async { towns.list(&ListParams::default()).await.ok() },
    )
    .await;
}

/// The repository's examples/ directory.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// examples/gastown-minimal.yaml with one rig (the one seeded in beads) and a
/// short sync interval, so that a test sees periodic resyncs.
pub fn minimal_town() -> GasTown {
    let text = std::fs::read_to_string(examples_dir().join("gastown-minimal.yaml"))
        .expect("examples/gastown-minimal.yaml is readable");
    let mut town: GasTown = serde_yaml::from_str(&text).expect("the example is a GasTown");
    assert_eq!(town.metadata.name.as_deref(), Some(TOWN));
    assert_eq!(town.metadata.namespace.as_deref(), Some(NAMESPACE));
    town.spec.rigs = Some(vec![
        serde_json::from_value(serde_json::json!({
            "name": RIG,
            "gitURL": format!("https://git.example.com/{RIG}.git"),
        }))
        .expect("a rig entry"),
    ]);
    town.spec.sync_interval = Some("2s".parse().expect("a Go duration"));
    if beads_personality() == Personality::Serve {
        town.spec.daemon.protocol = Some(gastown_api::gastown::BeadsProtocol::Serve);
    }
    // Beads' working polecats keep running until beads says otherwise; a
    // short grace period keeps teardowns within the tests' time limits.
    town.spec.termination_grace_period = Some("3s".parse().expect("a Go duration"));
    town
}

/// Polls `check` every 200 ms until it yields a value; panics naming `what`
/// after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn condition(town: &GasTown, type_: &str) -> Option<(String, String)> {
    town.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.message.clone()))
}

/// Creates the minimal town and waits until it is Running and the operator rests.
pub async fn converged_town(harness: &Harness) -> GasTown {
    harness
        .api::<GasTown>()
        .create(&PostParams::default(), &minimal_town())
        .await
        .expect("the town is created");
    running_town(harness).await;
    quiet_window(harness, Duration::from_secs(3)).await;
    harness.api::<GasTown>().get(TOWN).await.expect("the town")
}

pub async fn running_town(harness: &Harness) -> GasTown {
    let towns: Api<GasTown> = harness.api();
    eventually("the town is Running", CONVERGE, || async {
        let town = towns.get(TOWN).await.ok()?;
        let status = town.status.as_ref()?;
        (status.phase == Some(Phase::Running)).then_some(town)
    })
    .await
}

pub fn controller_owner(object: &impl ResourceExt) -> Option<&OwnerReference> {
    object
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
}

/// Write requests (any verb that changes state) to `resource`.
pub fn writes_to(counts: &RequestCounts, resource: &str) -> u64 {
    WRITE_VERBS
        .iter()
        .map(|verb| counts.count(verb, resource))
        .sum()
}

const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

pub fn writes_by_resource(counts: &RequestCounts) -> BTreeMap<String, u64> {
    counts
        .iter()
        .filter(|((verb, _), _)| WRITE_VERBS.contains(&verb.as_str()))
        .map(|((verb, resource), n)| (format!("{verb} {resource}"), *n))
        .collect()
}

/// Waits until the operator has sent no write for a whole `window`, and
/// returns how many GasTown reconciles ran in that window.
pub async fn quiet_window(harness: &Harness, window: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    loop {
        harness.server.reset_requests();
        let before = harness.reconciles("gastown");
        tokio::time::sleep(window).await;
        let counts = harness.server.requests();
        if counts.writes() == 0 {
            return harness.reconciles("gastown") - before;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the operator never stopped writing; writes in the last {window:?}: {:?}",
            writes_by_resource(&counts)
        );
    }
}

//! The workload simulation through the API: pods run and become Ready (or,
//! for known images given a spec their program refuses, crash-loop),
//! Deployments and StatefulSets report ready replicas, PVCs bind, and once
//! everything has settled the server writes nothing more.

use embedded_apiserver::simulation::PodOutcome;
use embedded_apiserver::{Config, EmbeddedApiServer};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, PostParams};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

const NAMESPACE: &str = "default";
const TEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longer than the simulation's periodic sweep (one second), so that a
/// sweep has certainly run within it.
const MORE_THAN_A_SWEEP: Duration = Duration::from_millis(2500);

async fn simulating_server() -> (EmbeddedApiServer, kube::Client) {
    let server = EmbeddedApiServer::start(Config {
        simulate_workloads: true,
        ..Config::default()
    })
    .await
    .expect("server starts");
    let client = server.client().unwrap();
    (server, client)
}

async fn create<K>(client: &kube::Client, object: Value) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), NAMESPACE);
    api.create(
        &PostParams::default(),
        &serde_json::from_value(object).unwrap(),
    )
    .await
    .unwrap();
    api
}

/// Polls the object until `settled` holds, for up to ten seconds.
async fn eventually<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    settled: impl Fn(&Value) -> bool,
) -> Value
where
    K: kube::Resource + Clone + DeserializeOwned + serde::Serialize + Debug,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let object = serde_json::to_value(api.get(name).await.unwrap()).unwrap();
        if settled(&object) {
            return object;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never became {what}: {object:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn bounded(body: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test finished in time");
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn agent_pod(name: &str) -> Value {
    json!({
        "metadata": { "name": name },
        "spec": {
            "initContainers": [{ "name": "clone", "image": "git" }],
            "containers": [{ "name": "agent", "image": "claude" }]
        }
    })
}

#[tokio::test]
async fn a_pod_runs_and_becomes_ready() {
    bounded(async {
        let (server, client) = simulating_server().await;
        let pods = create::<Pod>(&client, agent_pod("polecat-a")).await;
        let running = eventually(&pods, "polecat-a", "Running and Ready", |pod| {
            pod["status"]["phase"] == "Running"
                && condition(pod, "Ready").is_some_and(|c| c["status"] == "True")
        })
        .await;
        assert_eq!(running["status"]["containerStatuses"][0]["ready"], true);
        assert_eq!(
            running["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        assert!(
            running["status"]["podIP"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.244."))
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn workloads_report_ready_replicas_and_claims_bind() {
    bounded(async {
        let (server, client) = simulating_server().await;
        let template = json!({
            "metadata": { "labels": { "app": "web" } },
            "spec": { "containers": [{ "name": "web", "image": "nginx" }] }
        });
        let deployments = create::<Deployment>(
            &client,
            json!({
                "metadata": { "name": "web" },
                "spec": { "replicas": 3, "selector": { "matchLabels": { "app": "web" } }, "template": template }
            }),
        )
        .await;
        let sets = create::<StatefulSet>(
            &client,
            json!({
                "metadata": { "name": "refinery" },
                "spec": { "serviceName": "refinery", "selector": { "matchLabels": { "app": "web" } }, "template": template }
            }),
        )
        .await;
        let claims = create::<PersistentVolumeClaim>(
            &client,
            json!({
                "metadata": { "name": "workspace" },
                "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "5Gi" } } }
            }),
        )
        .await;

        let web = eventually(&deployments, "web", "ready", |d| d["status"]["readyReplicas"] == 3).await;
        assert_eq!(web["status"]["observedGeneration"], web["metadata"]["generation"]);
        assert_eq!(condition(&web, "Available").unwrap()["status"], "True");
        let refinery = eventually(&sets, "refinery", "ready", |s| s["status"]["readyReplicas"] == 1).await;
        assert_eq!(refinery["status"]["currentRevision"], refinery["status"]["updateRevision"]);
        let workspace = eventually(&claims, "workspace", "Bound", |c| c["status"]["phase"] == "Bound").await;
        assert_eq!(workspace["status"]["capacity"]["storage"], "5Gi");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_settled_cluster_writes_nothing_more() {
    bounded(async {
        let (server, client) = simulating_server().await;
        let pods = create::<Pod>(&client, agent_pod("polecat-a")).await;
        create::<Pod>(&client, agent_pod("polecat-b")).await;
        let claims = create::<PersistentVolumeClaim>(
            &client,
            json!({ "metadata": { "name": "ws" }, "spec": { "resources": { "requests": { "storage": "1Gi" } } } }),
        )
        .await;
        for name in ["polecat-a", "polecat-b"] {
            eventually(&pods, name, "Running", |pod| pod["status"]["phase"] == "Running").await;
        }
        eventually(&claims, "ws", "Bound", |c| c["status"]["phase"] == "Bound").await;
        let finished = server.finish_pod(NAMESPACE, "polecat-b", PodOutcome::Failed).unwrap();
        assert_eq!(finished["status"]["phase"], "Failed");

        let settled_at = server.resource_version();
        tokio::time::sleep(MORE_THAN_A_SWEEP).await;
        assert_eq!(server.resource_version(), settled_at, "the simulation kept writing");
        let failed = pods.get("polecat-b").await.unwrap();
        assert_eq!(failed.status.unwrap().phase.as_deref(), Some("Failed"), "a finished pod stays finished");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn without_simulation_pods_stay_pending() {
    bounded(async {
        let server = EmbeddedApiServer::start(Config::default()).await.unwrap();
        let client = server.client().unwrap();
        let pods = create::<Pod>(&client, agent_pod("polecat-a")).await;
        tokio::time::sleep(MORE_THAN_A_SWEEP).await;
        let pod = pods.get("polecat-a").await.unwrap();
        assert_ne!(pod.status.and_then(|s| s.phase).as_deref(), Some("Running"));
        server.shutdown().await;
    })
    .await;
}

/// A Dolt pod that keeps the image's entrypoint, mounts a server config
/// (which the entrypoint turns into `--config=…`) and passes its own
/// `--config` too.
fn dolt_with_two_configs(name: &str) -> Value {
    json!({
        "metadata": { "name": name },
        "spec": {
            "containers": [{
                "name": "dolt",
                "image": "dolthub/dolt-sql-server:1.81.6",
                "args": ["--config=/etc/dolt/servercfg.d/config.yaml"],
                "volumeMounts": [{ "name": "config", "mountPath": "/etc/dolt/servercfg.d", "readOnly": true }],
                "terminationMessagePolicy": "FallbackToLogsOnError"
            }],
            "volumes": [{ "name": "config", "configMap": { "name": "dolt-config" } }]
        }
    })
}

#[tokio::test]
async fn a_dolt_pod_given_a_second_config_crash_loops_with_dolts_message() {
    bounded(async {
        let (server, client) = simulating_server().await;
        let pods = create::<Pod>(&client, dolt_with_two_configs("dolt-0")).await;
        let pod = eventually(&pods, "dolt-0", "in CrashLoopBackOff", |pod| {
            pod.pointer("/status/containerStatuses/0/state/waiting/reason")
                == Some(&json!("CrashLoopBackOff"))
        })
        .await;
        assert_eq!(pod["status"]["phase"], "Running");
        assert_eq!(condition(&pod, "Ready").unwrap()["status"], "False");
        let dolt = &pod["status"]["containerStatuses"][0];
        assert_eq!(dolt["restartCount"], 1);
        let terminated = &dolt["lastState"]["terminated"];
        assert_eq!(terminated["exitCode"], 1);
        assert_eq!(terminated["reason"], "Error");
        let message = terminated["message"].as_str().unwrap();
        assert!(
            message.starts_with("error: multiple values provided for `config'"),
            "{message}"
        );

        let settled_at = server.resource_version();
        tokio::time::sleep(MORE_THAN_A_SWEEP).await;
        assert_eq!(
            server.resource_version(),
            settled_at,
            "a crash-looping pod settles too"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_deployment_of_crashing_pods_is_not_available() {
    bounded(async {
        let (server, client) = simulating_server().await;
        let template = dolt_with_two_configs("ignored");
        let deployments = create::<Deployment>(
            &client,
            json!({
                "metadata": { "name": "dolt" },
                "spec": {
                    "replicas": 1,
                    "selector": { "matchLabels": { "app": "dolt" } },
                    "template": { "metadata": { "labels": { "app": "dolt" } }, "spec": template["spec"] }
                }
            }),
        )
        .await;
        let dolt = eventually(&deployments, "dolt", "observed", |d| {
            d["status"]["observedGeneration"] == d["metadata"]["generation"]
        })
        .await;
        assert!(dolt["status"].get("readyReplicas").is_none(), "{:#}", dolt["status"]);
        let available = condition(&dolt, "Available").unwrap();
        assert_eq!(available["status"], "False");
        assert_eq!(available["reason"], "MinimumReplicasUnavailable");
        server.shutdown().await;
    })
    .await;
}

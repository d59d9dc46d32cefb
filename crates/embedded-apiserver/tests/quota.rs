//! ResourceQuota admission through the API, the way the operator caps one
//! rig's polecats: a PriorityClass per rig and a quota scoped to it.

use embedded_apiserver::simulation::PodOutcome;
use embedded_apiserver::{Config, EmbeddedApiServer};
use k8s_openapi::api::core::v1::{Namespace, Pod, ResourceQuota};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

const NAMESPACE: &str = "town";
const POLECAT_CLASS: &str = "gastown-town-rig-polecat";
const OTHER_CLASS: &str = "gastown-town-rig-witness";
const TEST_TIMEOUT: Duration = Duration::from_secs(30);

struct Town {
    server: EmbeddedApiServer,
    pods: Api<Pod>,
    quotas: Api<ResourceQuota>,
}

/// A server with the town's namespace, the rig's PriorityClasses and a quota
/// of two polecats, one CPU and 1Gi for pods of that class.
async fn town() -> Town {
    let server = EmbeddedApiServer::start(Config::default())
        .await
        .expect("server starts");
    let client = server.client().unwrap();
    let create = PostParams::default();
    let namespace: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": NAMESPACE } })).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&create, &namespace)
        .await
        .unwrap();
    // Pods may only name classes that exist (Priority admission).
    for class in [POLECAT_CLASS, OTHER_CLASS] {
        let class: PriorityClass = serde_json::from_value(
            json!({ "metadata": { "name": class }, "value": 1000, "globalDefault": false }),
        )
        .unwrap();
        Api::<PriorityClass>::all(client.clone())
            .create(&create, &class)
            .await
            .unwrap();
    }
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": { "name": "polecats" },
        "spec": {
            "hard": { "pods": "2", "requests.cpu": "1", "requests.memory": "1Gi" },
            "scopeSelector": { "matchExpressions": [
                { "scopeName": "PriorityClass", "operator": "In", "values": [POLECAT_CLASS] }
            ] }
        }
    }))
    .unwrap();
    let quotas = Api::namespaced(client.clone(), NAMESPACE);
    quotas.create(&create, &quota).await.unwrap();
    Town {
        server,
        pods: Api::namespaced(client, NAMESPACE),
        quotas,
    }
}

fn pod(name: &str, class: Option<&str>, requests: Value) -> Pod {
    let mut pod = json!({
        "metadata": { "name": name },
        "spec": { "containers": [{ "name": "agent", "image": "claude", "resources": { "requests": requests } }] }
    });
    if let Some(class) = class {
        pod["spec"]["priorityClassName"] = json!(class);
    }
    serde_json::from_value(pod).unwrap()
}

fn polecat(name: &str) -> Pod {
    pod(
        name,
        Some(POLECAT_CLASS),
        json!({ "cpu": "500m", "memory": "256Mi" }),
    )
}

impl Town {
    async fn create(&self, pod: Pod) -> Result<Pod, kube::Error> {
        self.pods.create(&PostParams::default(), &pod).await
    }

    async fn used(&self) -> Value {
        let quota = self.quotas.get("polecats").await.unwrap();
        serde_json::to_value(quota.status.unwrap().used.unwrap()).unwrap()
    }
}

/// The API's refusal: status code, reason and message.
fn refusal(result: Result<Pod, kube::Error>) -> (u16, String, String) {
    match result {
        Err(kube::Error::Api(status)) => {
            (status.code, status.reason.clone(), status.message.clone())
        }
        other => panic!("expected the API to refuse the pod, got {other:?}"),
    }
}

async fn bounded(body: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test finished in time");
}

#[tokio::test]
async fn an_over_quota_polecat_is_forbidden_with_upstreams_message() {
    bounded(async {
        let town = town().await;
        town.create(polecat("polecat-0")).await.unwrap();
        town.create(polecat("polecat-1")).await.unwrap();

        let (code, reason, message) = refusal(town.create(polecat("polecat-2")).await);
        assert_eq!((code, reason.as_str()), (403, "Forbidden"));
        assert_eq!(
            message,
            "pods \"polecat-2\" is forbidden: exceeded quota: polecats, requested: pods=1,requests.cpu=500m, \
             used: pods=2,requests.cpu=1, limited: pods=2,requests.cpu=1"
        );
        assert!(town.pods.get_opt("polecat-2").await.unwrap().is_none(), "nothing was stored");

        // Pods of no class, or another class, are outside the quota's scope.
        town.create(pod("crew-0", None, json!({ "cpu": "2", "memory": "2Gi" }))).await.unwrap();
        town.create(pod("witness", Some(OTHER_CLASS), json!({ "cpu": "2" }))).await.unwrap();
        town.server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_polecat_without_requests_is_forbidden() {
    bounded(async {
        let town = town().await;
        let (code, _, message) = refusal(town.create(pod("bare", Some(POLECAT_CLASS), json!({}))).await);
        assert_eq!(code, 403);
        assert_eq!(
            message,
            "pods \"bare\" is forbidden: failed quota: polecats: must specify requests.cpu for: agent; \
             requests.memory for: agent"
        );
        town.server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn quota_usage_follows_pods_and_finished_pods_free_their_share() {
    bounded(async {
        let town = town().await;
        assert_eq!(
            town.used().await,
            json!({ "pods": "0", "requests.cpu": "0", "requests.memory": "0" })
        );

        town.create(polecat("polecat-0")).await.unwrap();
        town.create(polecat("polecat-1")).await.unwrap();
        town.create(pod("crew-0", None, json!({ "cpu": "1", "memory": "1Gi" })))
            .await
            .unwrap();
        assert_eq!(
            town.used().await,
            json!({ "pods": "2", "requests.cpu": "1", "requests.memory": "512Mi" })
        );
        assert!(town.create(polecat("polecat-2")).await.is_err());

        // A polecat that finished no longer counts, so another one fits.
        let done = town
            .server
            .finish_pod(NAMESPACE, "polecat-0", PodOutcome::Succeeded)
            .unwrap();
        assert_eq!(done["status"]["phase"], "Succeeded");
        assert_eq!(
            town.used().await,
            json!({ "pods": "1", "requests.cpu": "500m", "requests.memory": "256Mi" })
        );
        town.create(polecat("polecat-2")).await.unwrap();

        // So does one whose node was lost, and one that was deleted.
        let lost = town.server.lose_node(NAMESPACE, "polecat-1").unwrap();
        assert_eq!(lost["status"]["reason"], "NodeLost");
        town.pods
            .delete("polecat-2", &DeleteParams::default())
            .await
            .unwrap();
        assert_eq!(
            town.used().await,
            json!({ "pods": "0", "requests.cpu": "0", "requests.memory": "0" })
        );
        town.server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn finishing_an_unknown_pod_says_which() {
    let server = EmbeddedApiServer::start(Config::default()).await.unwrap();
    let error = server
        .finish_pod("town", "ghost", PodOutcome::Failed)
        .unwrap_err();
    assert_eq!(error.to_string(), "pod town/ghost not found");
    server.shutdown().await;
}

//! Protocol features of kube-apiserver, through kube's `Client`: aggregated
//! discovery v2, PartialObjectMetadata (get, list, patch, metadata watches),
//! the `/scale` subresource, bootstrap objects, ServiceAccount tokens
//! (TokenRequest, TokenReview, authenticating as the ServiceAccount), the
//! 256 KiB annotation limit and upstream's key order in responses.

mod support;

use embedded_apiserver::{Config, EmbeddedApiServer};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenReview};
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::discovery::Discovery;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use support::with_server;

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

const GIZMO_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": { "name": "gizmos.example.com" },
  "spec": {
    "group": "example.com",
    "scope": "Namespaced",
    "names": { "plural": "gizmos", "singular": "gizmo", "kind": "Gizmo" },
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "subresources": {
        "status": {},
        "scale": { "specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size", "labelSelectorPath": ".status.selector" }
      },
      "schema": { "openAPIV3Schema": { "type": "object", "properties": {
        "spec": { "type": "object", "properties": { "size": { "type": "integer" } } },
        "status": { "type": "object", "properties": { "size": { "type": "integer" }, "selector": { "type": "string" } } }
      } } }
    }]
  }
}"#;

async fn install_gizmos(client: &kube::Client) -> Api<DynamicObject> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = serde_json::from_str(GIZMO_CRD).unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let resource = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Gizmo".into(),
        plural: "gizmos".into(),
    };
    let gizmos: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    support::eventually("gizmos served", || async {
        gizmos.list(&ListParams::default()).await.ok().map(|_| ())
    })
    .await;
    gizmos
}

#[tokio::test]
async fn kube_aggregated_discovery_reads_discovery_v2() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        install_gizmos(&client).await;
        // `run_aggregated` asks /api and /apis for APIGroupDiscoveryList only;
        // a plain APIGroupList reads as an empty list.
        let discovery = Discovery::new(client.clone())
            .run_aggregated()
            .await
            .unwrap();
        let apps = discovery.get("apps").expect("the apps group");
        let (deployments, caps) = apps
            .recommended_resources()
            .into_iter()
            .find(|(r, _)| r.plural == "deployments")
            .expect("deployments");
        assert_eq!(deployments.kind, "Deployment");
        assert!(caps.subresources.iter().any(|(s, _)| s.plural == "scale"));
        let core = discovery.get("").expect("the core group");
        assert!(core.recommended_kind("Pod").is_some());
        let gizmos = discovery.get("example.com").expect("the CRD's group");
        assert!(gizmos.recommended_kind("Gizmo").is_some());

        let raw = client.list_api_groups_aggregated().await.unwrap();
        let names: Vec<String> = raw
            .items
            .iter()
            .filter_map(|g| g.metadata.as_ref()?.name.clone())
            .collect();
        assert!(
            names.contains(&"certificates.k8s.io".to_owned()),
            "{names:?}"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn metadata_requests_get_partial_object_metadata() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let big = json!({ "metadata": { "name": "big", "labels": { "a": "b" } }, "data": { "blob": "x".repeat(10_000) } });
        config_maps.create(&PostParams::default(), &from_json(big)).await.unwrap();

        let meta = config_maps.get_metadata("big").await.unwrap();
        assert_eq!(meta.types.as_ref().unwrap().kind, "PartialObjectMetadata");
        assert_eq!(meta.metadata.labels.unwrap()["a"], "b");

        let list = config_maps.list_metadata(&ListParams::default()).await.unwrap();
        assert_eq!(list.types.kind, "PartialObjectMetadataList");
        let item = list.items.iter().find(|i| i.metadata.name.as_deref() == Some("big")).unwrap();
        assert_eq!(item.types.as_ref().unwrap().api_version, "meta.k8s.io/v1");

        let patch = Patch::Merge(json!({ "metadata": { "labels": { "c": "d" } } }));
        let patched = config_maps.patch_metadata("big", &PatchParams::default(), &patch).await.unwrap();
        assert_eq!(patched.types.as_ref().unwrap().kind, "PartialObjectMetadata");
        assert_eq!(patched.metadata.labels.unwrap()["c"], "d");

        // A metadata-only watch (what a lean operator uses for Secrets):
        // kube-runtime's metadata_watcher is now `watcher` over this Api.
        let metadata: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(client.clone(), "default");
        let mut events = watcher(metadata, watcher::Config::default())
            .applied_objects()
            .boxed();
        let mut seen = Vec::new();
        config_maps
            .create(&PostParams::default(), &from_json(json!({ "metadata": { "name": "later" } })))
            .await
            .unwrap();
        while let Some(object) = events.try_next().await.unwrap() {
            assert_eq!(object.types.as_ref().unwrap().kind, "PartialObjectMetadata");
            seen.push(object.metadata.name.unwrap());
            if seen.iter().any(|n| n == "later") {
                break;
            }
        }
        assert!(seen.contains(&"big".to_owned()), "{seen:?}");
        server
    })
    .await;
}

#[tokio::test]
async fn scale_subresource_of_a_custom_resource_and_a_deployment() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let gizmos = install_gizmos(&client).await;
        let gizmo: DynamicObject = from_json(json!({
            "apiVersion": "example.com/v1", "kind": "Gizmo",
            "metadata": { "name": "g" }, "spec": { "size": 2 }
        }));
        gizmos.create(&PostParams::default(), &gizmo).await.unwrap();
        let status = Patch::Merge(json!({ "status": { "size": 2, "selector": "app=g" } }));
        gizmos
            .patch_status("g", &PatchParams::default(), &status)
            .await
            .unwrap();
        let scale = gizmos.get_scale("g").await.unwrap();
        assert_eq!(scale.spec.unwrap().replicas, Some(2));
        let scale_status = scale.status.unwrap();
        assert_eq!(
            (scale_status.replicas, scale_status.selector.as_deref()),
            (2, Some("app=g"))
        );
        let patch = Patch::Merge(json!({ "spec": { "replicas": 5 } }));
        let scaled = gizmos
            .patch_scale("g", &PatchParams::default(), &patch)
            .await
            .unwrap();
        assert_eq!(scaled.spec.unwrap().replicas, Some(5));
        assert_eq!(gizmos.get("g").await.unwrap().data["spec"]["size"], 5);

        let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
        let deployment = from_json(json!({
            "metadata": { "name": "web" },
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": { "app": "web" } },
                "template": { "metadata": { "labels": { "app": "web" } },
                              "spec": { "containers": [{ "name": "web", "image": "nginx" }] } }
            }
        }));
        deployments
            .create(&PostParams::default(), &deployment)
            .await
            .unwrap();
        let scale = deployments.get_scale("web").await.unwrap();
        assert_eq!(scale.spec.unwrap().replicas, Some(1));
        assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=web"));
        let patch = Patch::Json::<()>(
            serde_json::from_value(
                json!([{ "op": "replace", "path": "/spec/replicas", "value": 3 }]),
            )
            .unwrap(),
        );
        deployments
            .patch_scale("web", &PatchParams::default(), &patch)
            .await
            .unwrap();
        assert_eq!(
            deployments.get("web").await.unwrap().spec.unwrap().replicas,
            Some(3)
        );
        let negative = Patch::Merge(json!({ "spec": { "replicas": -1 } }));
        let error = deployments
            .patch_scale("web", &PatchParams::default(), &negative)
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("must be greater than or equal to 0"),
            "{error}"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn bootstrap_service_endpoints_and_cluster_roles() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let service = Api::<Service>::namespaced(client.clone(), "default")
            .get("kubernetes")
            .await
            .unwrap();
        let spec = service.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.1"));
        let port = &spec.ports.unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some("https"), 443));
        let endpoints = Api::<Endpoints>::namespaced(client.clone(), "default")
            .get("kubernetes")
            .await
            .unwrap();
        let subset = &endpoints.subsets.unwrap()[0];
        assert_eq!(
            subset.ports.as_ref().unwrap()[0].port,
            i32::from(server.port())
        );

        let roles: Api<ClusterRole> = Api::all(client.clone());
        for name in ["cluster-admin", "admin", "edit", "view"] {
            roles
                .get(name)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let view = roles.get("view").await.unwrap();
        assert_eq!(
            view.metadata.labels.unwrap()["rbac.authorization.k8s.io/aggregate-to-edit"],
            "true"
        );
        assert!(view.aggregation_rule.is_some());
        server
    })
    .await;
}

/// `POST .../serviceaccounts/{name}/token` (kube has no typed call for it).
async fn request_token(
    client: &kube::Client,
    name: &str,
    seconds: i64,
) -> kube::Result<TokenRequest> {
    let body = json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": { "audiences": [], "expirationSeconds": seconds }
    });
    let request = http::Request::post(format!(
        "/api/v1/namespaces/default/serviceaccounts/{name}/token"
    ))
    .header(http::header::CONTENT_TYPE, "application/json")
    .body(serde_json::to_vec(&body).unwrap())
    .unwrap();
    client.request(request).await
}

#[tokio::test]
async fn token_requests_authenticate_as_the_service_account() {
    support::bounded(async {
        let server = EmbeddedApiServer::start(Config { rbac: true, ..Config::default() })
            .await
            .unwrap();
        let admin = server.client().unwrap();
        let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
        accounts
            .create(&PostParams::default(), &from_json(json!({ "metadata": { "name": "bot" } })))
            .await
            .unwrap();
        let too_short = request_token(&admin, "bot", 599).await.unwrap_err();
        assert!(too_short.to_string().contains("may not specify a duration less than 10 minutes"), "{too_short}");
        let issued = request_token(&admin, "bot", 600).await.unwrap();
        let status = issued.status.unwrap();
        let lifetime = status.expiration_timestamp.0.as_second() - jiff::Timestamp::now().as_second();
        assert!((590..=600).contains(&lifetime), "{lifetime}");
        let token = status.token;

        let reviews: Api<TokenReview> = Api::all(admin.clone());
        let review: TokenReview = from_json(json!({ "spec": { "token": token } }));
        let reviewed = reviews.create(&PostParams::default(), &review).await.unwrap().status.unwrap();
        assert_eq!(reviewed.authenticated, Some(true));
        let user = reviewed.user.unwrap();
        assert_eq!(user.username.as_deref(), Some("system:serviceaccount:default:bot"));
        assert!(user.groups.unwrap().contains(&"system:serviceaccounts:default".to_owned()));
        // Tokens of the RBAC mode are reviewed too.
        let minted = server.service_account_token("default", "other");
        let review: TokenReview = from_json(json!({ "spec": { "token": minted } }));
        let reviewed = reviews.create(&PostParams::default(), &review).await.unwrap();
        let username = reviewed.status.unwrap().user.unwrap().username;
        assert_eq!(username.as_deref(), Some("system:serviceaccount:default:other"));
        let forged: TokenReview = from_json(json!({ "spec": { "token": format!("{token}x") } }));
        let refused = reviews.create(&PostParams::default(), &forged).await.unwrap().status.unwrap();
        assert_ne!(refused.authenticated, Some(true));

        // The token authenticates, and the bootstrap `view` role authorizes reads only.
        let bot = server.client_for_token(&token).unwrap();
        let config_maps: Api<ConfigMap> = Api::namespaced(bot.clone(), "default");
        assert!(config_maps.list(&ListParams::default()).await.is_err());
        let binding: RoleBinding = from_json(json!({
            "metadata": { "name": "bot-view" },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view" },
            "subjects": [{ "kind": "ServiceAccount", "name": "bot", "namespace": "default" }],
        }));
        Api::<RoleBinding>::namespaced(admin.clone(), "default")
            .create(&PostParams::default(), &binding)
            .await
            .unwrap();
        config_maps.list(&ListParams::default()).await.unwrap();
        let write = config_maps
            .create(&PostParams::default(), &from_json(json!({ "metadata": { "name": "x" } })))
            .await
            .unwrap_err();
        assert!(write.to_string().contains("system:serviceaccount:default:bot"), "{write}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn annotations_may_not_exceed_256_kib_in_total() {
    with_server(|server| async move {
        let config_maps: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let half = "x".repeat(128 * 1024);
        let object =
            json!({ "metadata": { "name": "noted", "annotations": { "a": half, "b": half } } });
        let Err(error) = config_maps
            .create(&PostParams::default(), &from_json(object))
            .await
        else {
            panic!("a ConfigMap with 256 KiB of annotations was stored");
        };
        assert!(
            error
                .to_string()
                .contains("metadata.annotations: Too long: may not be more than 262144 bytes"),
            "{error}"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn responses_lead_with_kind_api_version_and_metadata() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let request = http::Request::get("/api/v1/namespaces/default/services/kubernetes")
            .body(Vec::new())
            .unwrap();
        let text = client.request_text(request).await.unwrap();
        assert!(
            text.starts_with(r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"kubernetes","namespace":"default","uid""#),
            "{}",
            &text[..120.min(text.len())]
        );
        server
    })
    .await;
}

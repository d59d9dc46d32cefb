//! Starting and stopping the server, its kubeconfig, and the authorization hook.

mod support;

use embedded_apiserver::authz::{Authorizer, Decision, RequestAttributes};
use embedded_apiserver::{Config, EmbeddedApiServer};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn shutdown_stops_serving_and_frees_the_port_even_with_open_watches() {
    support::bounded(async {
        let server = EmbeddedApiServer::start(Config::default()).await.unwrap();
        let port = server.port();
        assert_eq!(server.url(), format!("http://127.0.0.1:{port}"));
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let _watch = cms.watch(&Default::default(), "0").await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), server.shutdown())
            .await
            .expect("shutdown finishes");
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err(),
            "port closed"
        );
        // The same port can be served again.
        let again = EmbeddedApiServer::start(Config {
            port: Some(port),
            ..Config::default()
        })
        .await
        .unwrap();
        assert_eq!(again.port(), port);
        again.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_kubeconfig_points_kube_clients_at_the_server() {
    support::bounded(async {
        let server = EmbeddedApiServer::start(Config::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        server.write_kubeconfig(&path).unwrap();
        let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
        let options = kube::config::KubeConfigOptions::default();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .unwrap();
        assert_eq!(
            config.cluster_url.to_string().trim_end_matches('/'),
            server.url()
        );
        assert_eq!(config.default_namespace, "default");
        let client = kube::Client::try_from(config).unwrap();
        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        assert!(
            cms.list(&ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
        server.shutdown().await;
    })
    .await;
}

/// Refuses deletes to anyone without the `admin` token.
struct DeletesNeedAdmin;

impl Authorizer for DeletesNeedAdmin {
    fn authorize(&self, request: &RequestAttributes) -> Decision {
        if request.verb != "delete" || request.bearer_token.as_deref() == Some("admin") {
            return Decision::Allow;
        }
        Decision::Deny(format!(
            "User \"anonymous\" cannot delete resource {:?} in API group {:?} in the namespace {:?}",
            request.resource,
            request.api_group,
            request.namespace.as_deref().unwrap_or_default()
        ))
    }
}

#[tokio::test]
async fn the_authorizer_sees_every_resource_request() {
    support::bounded(async {
        let config = Config { authorizer: Arc::new(DeletesNeedAdmin), ..Config::default() };
        let server = EmbeddedApiServer::start(config).await.unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let cm = ConfigMap { metadata: ObjectMeta { name: Some("kept".into()), ..Default::default() }, ..Default::default() };
        cms.create(&PostParams::default(), &cm).await.unwrap();
        let refused = cms.delete("kept", &DeleteParams::default()).await.unwrap_err();
        match refused {
            kube::Error::Api(status) => {
                assert_eq!(status.code, 403);
                assert_eq!(
                    status.message,
                    "configmaps \"kept\" is forbidden: User \"anonymous\" cannot delete resource \"configmaps\" in API group \"\" in the namespace \"default\""
                );
            }
            other => panic!("expected 403, got {other}"),
        }

        let mut admin = kube::Config::new(server.url().parse().unwrap());
        admin.auth_info.token = Some("admin".to_owned().into());
        let admin_cms: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(admin).unwrap(), "default");
        admin_cms.delete("kept", &DeleteParams::default()).await.unwrap();
        server.shutdown().await;
    })
    .await;
}

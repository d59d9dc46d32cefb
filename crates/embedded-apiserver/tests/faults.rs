//! Fault injection and request accounting as tests see them.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use std::time::{Duration, Instant};
use support::with_server;

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Sends a raw request and returns status, Retry-After and body.
async fn raw(
    url: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, Option<String>, serde_json::Value) {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let request = http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_owned(),
        )))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry_after,
        serde_json::from_slice(&bytes).unwrap_or_default(),
    )
}

#[tokio::test]
async fn injected_status_codes_hit_only_the_chosen_verb_and_resource_n_times() {
    with_server(|server| async move {
        let faults = server.faults();
        faults.fail("create", "configmaps", 500, 2);
        faults.throttle("list", "configmaps", Duration::from_secs(3), 1);
        let url = server.url();
        let create = r#"{"metadata":{"name":"x"}}"#;
        let path = "/api/v1/namespaces/default/configmaps";

        let (code, _, status) = raw(&url, "POST", path, create).await;
        assert_eq!(
            (code, status["reason"].as_str()),
            (500, Some("InternalError"))
        );
        assert_eq!(
            raw(&url, "POST", "/api/v1/namespaces/default/secrets", create)
                .await
                .0,
            201
        );
        assert_eq!(raw(&url, "POST", path, create).await.0, 500);
        assert_eq!(
            raw(&url, "POST", path, create).await.0,
            201,
            "only two failures were asked for"
        );

        let (code, retry_after, status) = raw(&url, "GET", path, "").await;
        assert_eq!((code, retry_after.as_deref()), (429, Some("3")));
        assert_eq!(status["details"]["retryAfterSeconds"], 3);
        assert_eq!(raw(&url, "GET", path, "").await.0, 200);

        faults.fail("update", "configmaps", 409, 1);
        let (code, _, status) = raw(
            &url,
            "PUT",
            &format!("{path}/x"),
            r#"{"metadata":{"name":"x"}}"#,
        )
        .await;
        assert_eq!((code, status["reason"].as_str()), (409, Some("Conflict")));
        faults.fail("*", "configmaps", 403, 1);
        assert_eq!(raw(&url, "GET", &format!("{path}/x"), "").await.0, 403);
        server
    })
    .await;
}

#[tokio::test]
async fn added_latency_delays_requests() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        server.faults().set_latency(Duration::from_millis(300));
        let started = Instant::now();
        cms.create(&PostParams::default(), &cm("slow"))
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        server.faults().clear();
        server
    })
    .await;
}

#[tokio::test]
async fn requests_are_counted_by_verb_and_resource() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        server.reset_requests();
        cms.create(&PostParams::default(), &cm("a")).await.unwrap();
        cms.get("a").await.unwrap();
        cms.get("a").await.unwrap();
        cms.list(&Default::default()).await.unwrap();
        let counts = server.requests();
        assert_eq!(counts.count("create", "configmaps"), 1);
        assert_eq!(counts.count("get", "configmaps"), 2);
        assert_eq!(counts.count("list", "configmaps"), 1);
        assert_eq!(counts.writes(), 1);
        server.reset_requests();
        assert_eq!(server.requests().total(), 0);
        server
    })
    .await;
}

//! Optimistic concurrency, selectors and pagination.

mod support;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams, Preconditions};
use serde_json::json;
use support::with_server;

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

fn labelled(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn a_stale_resource_version_is_a_conflict() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let first = cms.create(&PostParams::default(), &labelled("cm", &[])).await.unwrap();
        let mut winner = first.clone();
        winner.data = Some([("who".to_owned(), "winner".to_owned())].into());
        cms.replace("cm", &PostParams::default(), &winner).await.unwrap();

        let mut loser = first.clone();
        loser.data = Some([("who".to_owned(), "loser".to_owned())].into());
        let conflict = api_error(cms.replace("cm", &PostParams::default(), &loser).await.unwrap_err());
        assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
        assert_eq!(
            conflict.message,
            "Operation cannot be fulfilled on configmaps \"cm\": the object has been modified; please apply your changes to the latest version and try again"
        );
        assert_eq!(cms.get("cm").await.unwrap().data.unwrap()["who"], "winner");

        let stale = DeleteParams {
            preconditions: Some(Preconditions { resource_version: first.metadata.resource_version, uid: None }),
            ..Default::default()
        };
        let refused = api_error(cms.delete("cm", &stale).await.unwrap_err());
        assert_eq!(refused.code, 409);
        assert!(refused.message.contains("Precondition failed: ResourceVersion in precondition"), "{}", refused.message);
        server
    })
    .await;
}

#[tokio::test]
async fn unchanged_updates_do_not_write() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let created = cms
            .create(&PostParams::default(), &labelled("same", &[("a", "b")]))
            .await
            .unwrap();
        let again = cms
            .replace("same", &PostParams::default(), &created)
            .await
            .unwrap();
        assert_eq!(
            again.metadata.resource_version,
            created.metadata.resource_version
        );
        server
    })
    .await;
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        for (name, labels) in [
            ("a", vec![("tier", "web"), ("env", "prod")]),
            ("b", vec![("tier", "web"), ("env", "dev")]),
            ("c", vec![("tier", "db")]),
        ] {
            cms.create(&PostParams::default(), &labelled(name, &labels))
                .await
                .unwrap();
        }
        let names = |list: kube::core::ObjectList<ConfigMap>| {
            list.items
                .into_iter()
                .map(|c| c.metadata.name.unwrap())
                .collect::<Vec<_>>()
        };
        let select = |selector: &str| ListParams::default().labels(selector);
        assert_eq!(
            names(cms.list(&select("tier=web")).await.unwrap()),
            vec!["a", "b"]
        );
        assert_eq!(
            names(cms.list(&select("env in (dev,test)")).await.unwrap()),
            vec!["b"]
        );
        assert_eq!(names(cms.list(&select("!env")).await.unwrap()), vec!["c"]);
        assert_eq!(
            names(cms.list(&select("tier,env notin (prod)")).await.unwrap()),
            vec!["b", "c"]
        );
        let by_name = ListParams::default().fields("metadata.name=c");
        assert_eq!(names(cms.list(&by_name).await.unwrap()), vec!["c"]);

        let unsupported = api_error(
            cms.list(&ListParams::default().fields("data.x=1"))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (unsupported.code, unsupported.message.as_str()),
            (400, "field label not supported: data.x")
        );
        server
    })
    .await;
}

#[tokio::test]
async fn pods_select_on_phase_and_node() {
    with_server(|server| async move {
        let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), "default");
        for (name, node) in [("p1", "n1"), ("p2", "n2")] {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": { "name": name },
                "spec": { "nodeName": node, "containers": [{ "name": "c", "image": "busybox" }] }
            }))
            .unwrap();
            pods.create(&PostParams::default(), &pod).await.unwrap();
        }
        let on_n2 = pods
            .list(&ListParams::default().fields("spec.nodeName=n2"))
            .await
            .unwrap();
        assert_eq!(on_n2.items.len(), 1);
        let pending = pods
            .list(&ListParams::default().fields("status.phase=Pending"))
            .await
            .unwrap();
        assert_eq!(pending.items.len(), 2, "new pods are Pending");
        server
    })
    .await;
}

#[tokio::test]
async fn pagination_with_limit_and_continue_sees_every_object_once() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        for ns in ["default", "kube-public"] {
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            for i in 0..7 {
                cms.create(
                    &PostParams::default(),
                    &labelled(&format!("cm-{i}"), &[("page", "yes")]),
                )
                .await
                .unwrap();
            }
        }
        let all: Api<ConfigMap> = Api::all(client);
        let mut seen = Vec::new();
        let mut params = ListParams::default().labels("page=yes").limit(3);
        let mut pages = 0;
        loop {
            let page = all.list(&params).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 3);
            seen.extend(page.items.iter().map(|c| {
                format!(
                    "{}/{}",
                    c.metadata.namespace.as_deref().unwrap(),
                    c.metadata.name.as_deref().unwrap()
                )
            }));
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => {
                    assert!(page.metadata.remaining_item_count.unwrap() > 0);
                    params = params.continue_token(&token);
                }
                None => break,
            }
        }
        assert_eq!(pages, 5);
        let mut expected: Vec<String> = ["default", "kube-public"]
            .iter()
            .flat_map(|ns| (0..7).map(move |i| format!("{ns}/cm-{i}")))
            .collect();
        expected.sort();
        assert_eq!(seen, expected);
        server
    })
    .await;
}

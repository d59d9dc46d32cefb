//! kube::Client create / get / update / patch / delete and watch against the server.

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::core::Status;
use serde_json::json;
use std::collections::BTreeMap;
use support::with_server;

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

fn api_error(err: kube::Error) -> Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn system_namespaces_exist_and_version_is_1_33() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let version = client.apiserver_version().await.unwrap();
        assert_eq!(
            (version.major.as_str(), version.minor.as_str()),
            ("1", "33")
        );
        let namespaces: Api<Namespace> = Api::all(client);
        let names: Vec<String> = namespaces
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        assert_eq!(names, vec!["default", "kube-public", "kube-system"]);
        server
    })
    .await;
}

#[tokio::test]
async fn create_get_update_patch_delete_a_config_map() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let created = cms
            .create(
                &PostParams::default(),
                &config_map("settings", &[("a", "1")]),
            )
            .await
            .unwrap();
        let uid = created.metadata.uid.clone().expect("uid set");
        assert!(created.metadata.creation_timestamp.is_some());
        assert_eq!(created.metadata.namespace.as_deref(), Some("default"));

        let fetched = cms.get("settings").await.unwrap();
        assert_eq!(fetched.metadata.uid.as_deref(), Some(uid.as_str()));

        let mut changed = fetched.clone();
        changed
            .data
            .as_mut()
            .unwrap()
            .insert("b".into(), "2".into());
        let updated = cms
            .replace("settings", &PostParams::default(), &changed)
            .await
            .unwrap();
        assert_ne!(
            updated.metadata.resource_version,
            fetched.metadata.resource_version
        );

        let patched = cms
            .patch(
                "settings",
                &PatchParams::default(),
                &Patch::Merge(json!({ "data": { "a": null, "c": "3" } })),
            )
            .await
            .unwrap();
        let keys: Vec<&String> = patched.data.as_ref().unwrap().keys().collect();
        assert_eq!(keys, vec!["b", "c"]);

        let duplicate = api_error(
            cms.create(&PostParams::default(), &config_map("settings", &[]))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (duplicate.code, duplicate.reason.as_str()),
            (409, "AlreadyExists")
        );
        assert_eq!(duplicate.message, "configmaps \"settings\" already exists");

        cms.delete("settings", &DeleteParams::default())
            .await
            .unwrap();
        let missing = api_error(cms.get("settings").await.unwrap_err());
        assert_eq!(
            (missing.code, missing.message.as_str()),
            (404, "configmaps \"settings\" not found")
        );
        server
    })
    .await;
}

#[tokio::test]
async fn invalid_names_and_missing_fields_are_refused_like_upstream() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let bad = api_error(cms.create(&PostParams::default(), &config_map("Bad_Name", &[])).await.unwrap_err());
        assert_eq!((bad.code, bad.reason.as_str()), (422, "Invalid"));
        assert!(
            bad.message.starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
            "{}",
            bad.message
        );
        // Typed clients cannot leave out a container's name, so send raw JSON.
        let raw = json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "p" }, "spec": { "containers": [{ "image": "x" }] } });
        let request = http::Request::post("/api/v1/namespaces/default/pods")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&raw).unwrap())
            .unwrap();
        let err = server.client().unwrap().request::<Pod>(request).await.unwrap_err();
        let err = api_error(err);
        assert_eq!(err.message, "Pod \"p\" is invalid: spec.containers[0].name: Required value");

        // Labels: keys are qualified names, values at most 63 plain characters.
        let mut labelled = config_map("labelled", &[]);
        labelled.metadata.labels = Some(BTreeMap::from([
            ("gastown.io/pool".to_string(), "p".repeat(64)),
            ("ok".to_string(), "fine".to_string()),
        ]));
        let err = api_error(cms.create(&PostParams::default(), &labelled).await.unwrap_err());
        assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
        assert_eq!(
            err.message,
            format!(
                "ConfigMap \"labelled\" is invalid: metadata.labels: Invalid value: \"{}\": must be no more than 63 characters",
                "p".repeat(64)
            )
        );
        labelled.metadata.labels = Some(BTreeMap::from([("bad key".to_string(), "-x".to_string())]));
        let err = api_error(cms.create(&PostParams::default(), &labelled).await.unwrap_err());
        assert!(
            err.message.contains("metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters")
                && err.message.contains("metadata.labels: Invalid value: \"-x\": a valid label must be an empty string"),
            "{}",
            err.message
        );
        server
    })
    .await;
}

#[tokio::test]
async fn generate_name_and_dry_run() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let mut template = config_map("", &[]);
        template.metadata.name = None;
        template.metadata.generate_name = Some("gen-".into());
        let created = cms.create(&PostParams::default(), &template).await.unwrap();
        let name = created.metadata.name.unwrap();
        assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

        let dry = PostParams {
            dry_run: true,
            ..Default::default()
        };
        cms.create(&dry, &config_map("dry", &[])).await.unwrap();
        assert!(cms.get_opt("dry").await.unwrap().is_none());
        server
    })
    .await;
}

#[tokio::test]
async fn watch_sees_added_modified_deleted_in_order() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let start = cms
            .list(&ListParams::default())
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        let mut events = cms
            .watch(&WatchParams::default().timeout(30), &start)
            .await
            .unwrap()
            .boxed();
        cms.create(&PostParams::default(), &config_map("w", &[("a", "1")]))
            .await
            .unwrap();
        cms.patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({ "data": { "a": "2" } })),
        )
        .await
        .unwrap();
        cms.delete("w", &DeleteParams::default()).await.unwrap();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            match events.try_next().await.unwrap().expect("stream open") {
                WatchEvent::Added(cm) => seen.push(("ADDED", cm.data.unwrap()["a"].clone())),
                WatchEvent::Modified(cm) => seen.push(("MODIFIED", cm.data.unwrap()["a"].clone())),
                WatchEvent::Deleted(cm) => seen.push(("DELETED", cm.data.unwrap()["a"].clone())),
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(e) => panic!("watch error {e:?}"),
            }
        }
        assert_eq!(
            seen,
            vec![
                ("ADDED", "1".to_owned()),
                ("MODIFIED", "2".to_owned()),
                ("DELETED", "2".to_owned())
            ]
        );
        server
    })
    .await;
}

#[tokio::test]
async fn built_ins_are_defaulted_and_pods_need_their_priority_class() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let pod = |class: Option<&str>| -> Pod {
            let mut pod = json!({ "metadata": { "name": "p" }, "spec": { "containers": [{ "name": "c", "image": "busybox:1.36" }] } });
            if let Some(class) = class {
                pod["spec"]["priorityClassName"] = json!(class);
            }
            serde_json::from_value(pod).unwrap()
        };
        let refused = api_error(pods.create(&PostParams::default(), &pod(Some("missing"))).await.unwrap_err());
        assert_eq!(
            (refused.code, refused.message.as_str()),
            (403, "pods \"p\" is forbidden: no PriorityClass with name missing was found")
        );

        let classes: Api<k8s_openapi::api::scheduling::v1::PriorityClass> = Api::all(client.clone());
        let class = serde_json::from_value(json!({ "metadata": { "name": "polecats" }, "value": 1000 })).unwrap();
        classes.create(&PostParams::default(), &class).await.unwrap();
        let created = pods.create(&PostParams::default(), &pod(Some("polecats"))).await.unwrap();
        let spec = created.spec.unwrap();
        assert_eq!(spec.priority, Some(1000));
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.containers[0].image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));

        let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client, "default");
        let service = serde_json::from_value(json!({ "metadata": { "name": "bd" }, "spec": { "ports": [{ "port": 9999 }] } })).unwrap();
        let created = services.create(&PostParams::default(), &service).await.unwrap().spec.unwrap();
        assert_eq!(created.type_.as_deref(), Some("ClusterIP"));
        assert!(created.cluster_ip.unwrap().starts_with("10.96."));
        server
    })
    .await;
}

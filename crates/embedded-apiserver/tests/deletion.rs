//! Finalizers, the three propagation policies, ownerReference garbage
//! collection and namespace deletion.

mod support;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{eventually, with_server};

fn cm(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn owned_by(name: &str, owner: &ConfigMap, block: bool) -> ConfigMap {
    let mut child = cm(name);
    child.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.metadata.name.clone().unwrap(),
        uid: owner.metadata.uid.clone().unwrap(),
        block_owner_deletion: Some(block),
        controller: Some(true),
    }]);
    child
}

fn with_finalizer(mut object: ConfigMap, finalizer: &str) -> ConfigMap {
    object.metadata.finalizers = Some(vec![finalizer.into()]);
    object
}

async fn exists(api: &Api<ConfigMap>, name: &str) -> bool {
    api.get_opt(name).await.unwrap().is_some()
}

async fn drop_finalizers(api: &Api<ConfigMap>, name: &str) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "finalizers": null } })),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn finalizers_hold_an_object_until_removed() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        cms.create(&PostParams::default(), &with_finalizer(cm("held"), "example.com/hold")).await.unwrap();
        let pending = cms.delete("held", &DeleteParams::default()).await.unwrap();
        let held = pending.left().expect("a held object is returned, not a Status");
        assert!(held.metadata.deletion_timestamp.is_some());
        assert!(exists(&cms, "held").await);

        let add = Patch::Merge(json!({ "metadata": { "finalizers": ["example.com/hold", "example.com/more"] } }));
        let refused = cms.patch("held", &PatchParams::default(), &add).await.unwrap_err();
        assert!(matches!(refused, kube::Error::Api(s) if s.code == 422 && s.message.contains("no new finalizers")));

        drop_finalizers(&cms, "held").await;
        assert!(!exists(&cms, "held").await);
        server
    })
    .await;
}

#[tokio::test]
async fn background_deletion_collects_dependents() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let owner = cms
            .create(&PostParams::default(), &cm("owner"))
            .await
            .unwrap();
        cms.create(&PostParams::default(), &owned_by("child", &owner, false))
            .await
            .unwrap();
        let grandchild_owner = cms.get("child").await.unwrap();
        cms.create(
            &PostParams::default(),
            &owned_by("grandchild", &grandchild_owner, false),
        )
        .await
        .unwrap();

        cms.delete("owner", &DeleteParams::background())
            .await
            .unwrap();
        assert!(!exists(&cms, "owner").await);
        assert!(!exists(&cms, "child").await);
        assert!(!exists(&cms, "grandchild").await);
        server
    })
    .await;
}

#[tokio::test]
async fn orphan_deletion_strips_owner_references() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let owner = cms
            .create(&PostParams::default(), &cm("owner"))
            .await
            .unwrap();
        cms.create(&PostParams::default(), &owned_by("child", &owner, true))
            .await
            .unwrap();
        cms.delete("owner", &DeleteParams::orphan()).await.unwrap();
        assert!(!exists(&cms, "owner").await);
        let child = cms.get("child").await.unwrap();
        assert!(child.metadata.owner_references.is_none());
        server
    })
    .await;
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let owner = cms
            .create(&PostParams::default(), &cm("owner"))
            .await
            .unwrap();
        let blocking = with_finalizer(owned_by("blocking", &owner, true), "example.com/slow");
        cms.create(&PostParams::default(), &blocking).await.unwrap();
        cms.create(&PostParams::default(), &owned_by("plain", &owner, false))
            .await
            .unwrap();

        cms.delete("owner", &DeleteParams::foreground())
            .await
            .unwrap();
        let waiting = cms.get("owner").await.unwrap();
        assert!(waiting.metadata.deletion_timestamp.is_some());
        assert_eq!(
            waiting.metadata.finalizers,
            Some(vec!["foregroundDeletion".to_owned()])
        );
        assert!(
            !exists(&cms, "plain").await,
            "non-blocking dependents are deleted"
        );
        let blocker = cms.get("blocking").await.unwrap();
        assert!(
            blocker.metadata.deletion_timestamp.is_some(),
            "blocking dependents are being deleted"
        );

        drop_finalizers(&cms, "blocking").await;
        assert!(!exists(&cms, "blocking").await);
        assert!(
            !exists(&cms, "owner").await,
            "the owner goes once nothing blocks it"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn dependents_of_missing_owners_are_collected() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let ghost = ConfigMap {
            metadata: ObjectMeta {
                name: Some("ghost".into()),
                uid: Some("no-such-uid".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        cms.create(&PostParams::default(), &owned_by("orphan", &ghost, false))
            .await
            .unwrap();
        assert!(!exists(&cms, "orphan").await);
        server
    })
    .await;
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_contents_then_itself() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace =
            serde_json::from_value(json!({ "metadata": { "name": "doomed" } })).unwrap();
        let created = namespaces.create(&PostParams::default(), &ns).await.unwrap();
        assert_eq!(created.status.unwrap().phase.as_deref(), Some("Active"));
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
        cms.create(&PostParams::default(), &cm("plain")).await.unwrap();
        cms.create(&PostParams::default(), &with_finalizer(cm("held"), "example.com/hold")).await.unwrap();

        namespaces.delete("doomed", &DeleteParams::default()).await.unwrap();
        let terminating = namespaces.get("doomed").await.unwrap();
        assert_eq!(terminating.status.unwrap().phase.as_deref(), Some("Terminating"));
        assert!(!exists(&cms, "plain").await);
        let refused = cms.create(&PostParams::default(), &cm("late")).await.unwrap_err();
        assert!(matches!(refused, kube::Error::Api(s) if s.code == 403 && s.message.contains("being terminated")));

        drop_finalizers(&cms, "held").await;
        eventually("namespace gone", || async { namespaces.get_opt("doomed").await.unwrap().is_none().then_some(()) })
            .await;

        let protected = namespaces.delete("default", &DeleteParams::default()).await.unwrap_err();
        assert!(matches!(protected, kube::Error::Api(s) if s.code == 403));
        server
    })
    .await;
}

#[tokio::test]
async fn delete_collection_removes_what_the_selector_matches() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        for (name, tier) in [("a", "web"), ("b", "web"), ("c", "db")] {
            let mut object = cm(name);
            object.metadata.labels = Some([("tier".to_owned(), tier.to_owned())].into());
            cms.create(&PostParams::default(), &object).await.unwrap();
        }
        let params = kube::api::ListParams::default().labels("tier=web");
        cms.delete_collection(&DeleteParams::default(), &params)
            .await
            .unwrap();
        let left: Vec<String> = cms
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        assert_eq!(left, vec!["c"]);
        server
    })
    .await;
}

//! CustomResourceDefinitions: creating one serves its kind; objects are
//! validated, defaulted and pruned by its schema; deleting it stops serving.

mod support;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::discovery::Discovery;
use serde_json::{Value, json};
use support::{eventually, with_server};

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "widgets.example.com" },
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": { "kind": "Widget", "plural": "widgets", "shortNames": ["wd"], "categories": ["all"] },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": { "status": {} },
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["size"],
                            "properties": {
                                "size": { "type": "integer", "minimum": 1 },
                                "color": { "type": "string", "enum": ["red", "blue"], "default": "red" },
                                "limit": {
                                    "type": "integer",
                                    "x-kubernetes-validations": [{ "rule": "self >= oldSelf", "message": "limit may not shrink" }]
                                }
                            }
                        },
                        "status": { "type": "object", "properties": { "ready": { "type": "boolean" } } }
                    }
                } }
            }]
        }
    }))
    .unwrap()
}

fn widgets(client: kube::Client) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    Api::namespaced_with(client, "default", &resource)
}

fn widget(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": name }, "spec": spec
    }))
    .unwrap()
}

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn a_crd_is_established_and_its_kind_discoverable() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let created = crds
            .create(&PostParams::default(), &widget_crd())
            .await
            .unwrap();
        let conditions = created.status.unwrap().conditions.unwrap();
        let established = conditions
            .iter()
            .find(|c| c.type_ == "Established")
            .unwrap();
        assert_eq!(established.status, "True");

        let discovery = Discovery::new(client).run().await.unwrap();
        let group = discovery.get("example.com").expect("group discovered");
        let (resource, caps) = group.recommended_kind("Widget").expect("kind discovered");
        assert_eq!(resource.plural, "widgets");
        assert!(caps.supports_operation(kube::discovery::verbs::WATCH));
        server
    })
    .await;
}

#[tokio::test]
async fn custom_objects_are_validated_defaulted_and_pruned() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        Api::<CustomResourceDefinition>::all(client.clone()).create(&PostParams::default(), &widget_crd()).await.unwrap();
        let widgets = widgets(client);

        let created = widgets
            .create(&PostParams::default(), &widget("w", json!({ "size": 2, "unknown": true })))
            .await
            .unwrap();
        assert_eq!(created.data["spec"], json!({ "size": 2, "color": "red" }));
        assert_eq!(created.metadata.generation, Some(1));

        let too_small = api_error(widgets.create(&PostParams::default(), &widget("small", json!({ "size": 0 }))).await.unwrap_err());
        assert_eq!(too_small.code, 422);
        assert!(
            too_small.message.starts_with("Widget.example.com \"small\" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"),
            "{}",
            too_small.message
        );
        let missing = api_error(widgets.create(&PostParams::default(), &widget("m", json!({}))).await.unwrap_err());
        assert!(missing.message.contains("spec.size: Required value"), "{}", missing.message);
        server
    })
    .await;
}

#[tokio::test]
async fn transition_rules_see_the_old_object_and_generation_follows_spec() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        Api::<CustomResourceDefinition>::all(client.clone())
            .create(&PostParams::default(), &widget_crd())
            .await
            .unwrap();
        let widgets = widgets(client);
        widgets
            .create(
                &PostParams::default(),
                &widget("w", json!({ "size": 1, "limit": 5 })),
            )
            .await
            .unwrap();

        let shrink = Patch::Merge(json!({ "spec": { "limit": 4 } }));
        let refused = api_error(
            widgets
                .patch("w", &PatchParams::default(), &shrink)
                .await
                .unwrap_err(),
        );
        assert!(
            refused.message.contains("limit may not shrink"),
            "{}",
            refused.message
        );

        let grown = widgets
            .patch(
                "w",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "limit": 6 } })),
            )
            .await
            .unwrap();
        assert_eq!(grown.metadata.generation, Some(2));

        let status = Patch::Merge(json!({ "status": { "ready": true }, "spec": { "size": 9 } }));
        let after_status = widgets
            .patch_status("w", &PatchParams::default(), &status)
            .await
            .unwrap();
        assert_eq!(after_status.data["status"]["ready"], true);
        assert_eq!(
            after_status.data["spec"]["size"], 1,
            "status writes leave spec alone"
        );
        assert_eq!(
            after_status.metadata.generation,
            Some(2),
            "status writes do not move generation"
        );

        let main = Patch::Merge(
            json!({ "status": { "ready": false }, "metadata": { "labels": { "a": "b" } } }),
        );
        let after_main = widgets
            .patch("w", &PatchParams::default(), &main)
            .await
            .unwrap();
        assert_eq!(
            after_main.data["status"]["ready"], true,
            "main-resource writes ignore status"
        );
        assert_eq!(
            after_main.metadata.generation,
            Some(2),
            "metadata changes do not move generation"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn deleting_the_crd_stops_serving_and_removes_its_objects() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        crds.create(&PostParams::default(), &widget_crd())
            .await
            .unwrap();
        let widgets = widgets(client.clone());
        widgets
            .create(&PostParams::default(), &widget("w", json!({ "size": 1 })))
            .await
            .unwrap();

        crds.delete("widgets.example.com", &DeleteParams::default())
            .await
            .unwrap();
        let gone = api_error(widgets.list(&Default::default()).await.unwrap_err());
        assert_eq!(gone.code, 404);

        // Serving it again starts from nothing.
        crds.create(&PostParams::default(), &widget_crd())
            .await
            .unwrap();
        let listed = eventually("widgets served again", || async {
            widgets.list(&Default::default()).await.ok()
        })
        .await;
        assert!(listed.items.is_empty());
        server
    })
    .await;
}

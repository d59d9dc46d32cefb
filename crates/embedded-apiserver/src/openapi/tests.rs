use super::*;
use crate::resource::PrinterColumn;

fn verbs() -> Vec<String> {
    [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
    .map(String::from)
    .into()
}

fn builtin(group: &str, kind: &str, plural: &str, namespaced: bool) -> ResourceInfo {
    ResourceInfo {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: vec![],
        categories: vec![],
        verbs: verbs(),
        status_subresource: true,
        printer_columns: vec![],
        schema: None,
        custom: false,
    }
}

fn widget_schema() -> Value {
    json!({
        "type": "object",
        "description": "A widget.",
        "properties": {
            "spec": {
                "type": "object",
                "description": "Desired state of the widget.",
                "required": ["size"],
                "properties": {
                    "size": { "type": "integer", "minimum": 1, "description": "How big." },
                    "daemon": { "type": "object", "description": "Daemon settings.", "properties": { "port": { "type": "integer" } } },
                },
            },
            "status": { "type": "object", "properties": { "phase": { "type": "string" } } },
        },
    })
}

fn widget() -> ResourceInfo {
    ResourceInfo {
        group: "example.gastown.io".into(),
        version: "v1alpha1".into(),
        kind: "Widget".into(),
        list_kind: "WidgetList".into(),
        plural: "widgets".into(),
        singular: "widget".into(),
        namespaced: true,
        short_names: vec!["wd".into()],
        categories: vec![],
        verbs: verbs(),
        status_subresource: true,
        printer_columns: vec![PrinterColumn {
            name: "Phase".into(),
            type_: "string".into(),
            format: None,
            description: None,
            priority: 0,
            json_path: ".status.phase".into(),
        }],
        schema: Some(widget_schema()),
        custom: true,
    }
}

fn served() -> Vec<ResourceInfo> {
    vec![
        builtin("", "Namespace", "namespaces", false),
        builtin("", "Pod", "pods", true),
        builtin("apps", "Deployment", "deployments", true),
        builtin("apps", "StatefulSet", "statefulsets", true),
        widget(),
    ]
}

/// The PATCH operation that kubectl's field-validation verifier would pick
/// for a kind: the first one whose GVK extension names it.
fn patch_operation<'a>(
    document: &'a Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<&'a Value> {
    let wanted = gvk_extension_entry(group, version, kind);
    document["paths"]
        .as_object()?
        .values()
        .filter_map(|item| item.get("patch"))
        .find(|op| op[GVK_EXTENSION] == wanted)
}

/// The component schema listing `kind` in its GVK extension, as kubectl's
/// apply and explain find it.
fn kind_schema<'a>(
    document: &'a Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<&'a Value> {
    let wanted = gvk_extension_entry(group, version, kind);
    document["components"]["schemas"]
        .as_object()?
        .values()
        .find(|schema| {
            schema[GVK_EXTENSION]
                .as_array()
                .is_some_and(|gvks| gvks.contains(&wanted))
        })
}

/// Resolves a property schema the way kubectl's `PatchMetaFromOpenAPIV3`
/// does: a single-element `allOf`, then a `$ref` into the components.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let schema = schema.pointer("/allOf/0").unwrap_or(schema);
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix(SCHEMA_REF_PREFIX)
                .expect("component reference");
            document["components"]["schemas"]
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not in the document"))
        }
        None => schema,
    }
}

fn all_references(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    builtin::visit_references(value, &mut |target| found.push(target.to_owned()));
    found
}

#[test]
fn index_links_every_group_version_with_a_hash() {
    let index = v3_index(&served());
    let paths = index["paths"].as_object().expect("paths");
    let keys: Vec<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["api/v1", "apis/apps/v1", "apis/example.gastown.io/v1alpha1"]
    );
    for (key, entry) in paths {
        let url = entry["serverRelativeURL"]
            .as_str()
            .expect("serverRelativeURL");
        let hash = url
            .strip_prefix(&format!("/openapi/v3/{key}?hash="))
            .unwrap_or_else(|| panic!("{url}"));
        assert_eq!(hash.len(), 32, "{url}");
    }
}

#[test]
fn index_hash_changes_with_the_document_only() {
    let url = |resources: &[ResourceInfo], key: &str| {
        v3_index(resources)["paths"][key]["serverRelativeURL"].clone()
    };
    let before = served();
    let mut after = served();
    after[4].schema.as_mut().unwrap()["properties"]["spec"]["properties"]["color"] =
        json!({ "type": "string" });
    assert_ne!(
        url(&before, "apis/example.gastown.io/v1alpha1"),
        url(&after, "apis/example.gastown.io/v1alpha1")
    );
    assert_eq!(url(&before, "apis/apps/v1"), url(&after, "apis/apps/v1"));
    assert_eq!(url(&before, "apis/apps/v1"), url(&served(), "apis/apps/v1"));
}

#[test]
fn unserved_group_version_has_no_document() {
    assert_eq!(v3_group_version("batch", "v1", &served()), None);
    assert_eq!(v3_group_version("apps", "v2", &served()), None);
}

#[test]
fn builtin_patch_operation_takes_field_validation_and_strategic_merge_patch() {
    let document = v3_group_version("apps", "v1", &served()).expect("apps/v1 is served");
    assert_eq!(document["openapi"], "3.0.0");
    let patch =
        patch_operation(&document, "apps", "v1", "Deployment").expect("PATCH for Deployment");
    let parameters = patch["parameters"].as_array().expect("parameters");
    assert!(
        parameters
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
    );
    let content = patch["requestBody"]["content"]
        .as_object()
        .expect("content");
    assert!(content.contains_key("application/strategic-merge-patch+json"));
    assert!(content.contains_key("application/apply-patch+yaml"));
    assert!(
        document["paths"]
            .get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status")
            .is_some()
    );
    assert!(
        document["paths"].get("/apis/apps/v1/deployments").is_some(),
        "list across namespaces"
    );
}

#[test]
fn builtin_kind_schemas_carry_their_gvk() {
    let document = v3_group_version("", "v1", &served()).expect("core/v1");
    let pod = kind_schema(&document, "", "v1", "Pod").expect("Pod schema");
    assert!(pod["properties"]["spec"].is_object());
    assert!(kind_schema(&document, "", "v1", "PodList").is_some());
    assert!(kind_schema(&document, "", "v1", "Namespace").is_some());
    assert!(
        kind_schema(&document, "apps", "v1", "Deployment").is_none(),
        "apps kinds stay in their own document"
    );
}

#[test]
fn strategic_merge_directives_are_reachable_the_way_kubectl_walks_them() {
    let document = v3_group_version("apps", "v1", &served()).expect("apps/v1");
    let deployment = kind_schema(&document, "apps", "v1", "Deployment").expect("Deployment");
    let spec = resolve(&document, &deployment["properties"]["spec"]);
    let template = resolve(&document, &spec["properties"]["template"]);
    let pod_spec = resolve(&document, &template["properties"]["spec"]);
    let containers = &pod_spec["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    let container = resolve(&document, &containers["items"]);
    assert_eq!(
        container["properties"]["env"]["x-kubernetes-patch-merge-key"],
        "name"
    );
    assert_eq!(
        container["properties"]["volumeMounts"]["x-kubernetes-patch-merge-key"],
        "mountPath"
    );
    assert_eq!(
        pod_spec["properties"]["volumes"]["x-kubernetes-patch-strategy"],
        "merge,retainKeys"
    );
    let metadata = resolve(&document, &deployment["properties"]["metadata"]);
    assert_eq!(
        metadata["properties"]["ownerReferences"]["x-kubernetes-patch-merge-key"],
        "uid"
    );
}

#[test]
fn every_reference_resolves_within_its_document() {
    let resources = served();
    for (group, version) in group_versions(&resources) {
        let document = v3_group_version(group, version, &resources).expect("served");
        let schemas = document["components"]["schemas"]
            .as_object()
            .expect("schemas");
        for target in all_references(&document) {
            assert!(
                schemas.contains_key(&target),
                "{group}/{version}: dangling reference to {target}"
            );
        }
    }
}

#[test]
fn custom_resource_schema_is_the_crd_schema_with_standard_fields() {
    let document =
        v3_group_version("example.gastown.io", "v1alpha1", &served()).expect("custom group");
    let schemas = &document["components"]["schemas"];
    let widget = &schemas["io.gastown.example.v1alpha1.Widget"];
    assert_eq!(
        widget[GVK_EXTENSION],
        json!([{ "group": "example.gastown.io", "kind": "Widget", "version": "v1alpha1" }])
    );
    assert_eq!(
        widget["properties"]["spec"]["properties"]["daemon"]["description"],
        "Daemon settings."
    );
    assert_eq!(widget["properties"]["spec"]["required"], json!(["size"]));
    assert_eq!(widget["properties"]["kind"]["type"], "string");
    assert_eq!(
        resolve(&document, &widget["properties"]["metadata"])["properties"]["name"]["type"],
        "string"
    );
    assert!(kind_schema(&document, "example.gastown.io", "v1alpha1", "WidgetList").is_some());
}

#[test]
fn custom_resource_patch_offers_no_strategic_merge_patch() {
    let document =
        v3_group_version("example.gastown.io", "v1alpha1", &served()).expect("custom group");
    let patch = patch_operation(&document, "example.gastown.io", "v1alpha1", "Widget")
        .expect("PATCH for Widget");
    let content = patch["requestBody"]["content"]
        .as_object()
        .expect("content");
    assert!(!content.contains_key("application/strategic-merge-patch+json"));
    assert!(content.contains_key("application/merge-patch+json"));
    assert!(
        patch["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .any(|p| p["name"] == "fieldValidation")
    );
}

/// `kubectl explain widgets` finds the kind through an operation at one of
/// the resource's paths, then the schema with that GVK.
#[test]
fn explain_can_find_the_kind_from_the_resource_paths() {
    let document =
        v3_group_version("example.gastown.io", "v1alpha1", &served()).expect("custom group");
    let list_path =
        &document["paths"]["/apis/example.gastown.io/v1alpha1/namespaces/{namespace}/widgets"];
    let gvk = &list_path["get"][GVK_EXTENSION];
    assert_eq!(
        gvk,
        &json!({ "group": "example.gastown.io", "kind": "Widget", "version": "v1alpha1" })
    );
    let schema =
        kind_schema(&document, "example.gastown.io", "v1alpha1", "Widget").expect("schema");
    assert_eq!(
        schema["properties"]["spec"]["description"],
        "Desired state of the widget."
    );
}

#[test]
fn verbs_decide_which_operations_exist() {
    let mut read_only = builtin("", "Namespace", "namespaces", false);
    read_only.verbs = vec!["get".into(), "list".into()];
    let document = v3_group_version("", "v1", &[read_only]).expect("core/v1");
    let item = &document["paths"]["/api/v1/namespaces/{name}"];
    assert!(item.get("get").is_some());
    assert!(item.get("patch").is_none());
    assert!(item.get("delete").is_none());
    assert!(
        document["paths"]["/api/v1/namespaces"]
            .get("post")
            .is_none()
    );
}

#[test]
fn cluster_scoped_resources_have_no_namespace_parameter() {
    let document = v3_group_version("", "v1", &served()).expect("core/v1");
    let item = &document["paths"]["/api/v1/namespaces/{name}"];
    let names: Vec<&Value> = item["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert_eq!(names, [&json!("name"), &json!("pretty")]);
}

#[test]
fn v2_merges_all_group_versions_with_definition_references() {
    let document = v2(&served());
    assert_eq!(document["swagger"], "2.0");
    let definitions = document["definitions"].as_object().expect("definitions");
    assert!(definitions.contains_key("io.k8s.api.apps.v1.Deployment"));
    assert!(definitions.contains_key("io.gastown.example.v1alpha1.Widget"));
    let serialized = document.to_string();
    assert!(
        !serialized.contains("#/components/schemas/"),
        "v2 references point into #/definitions/"
    );
    let patch =
        &document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert!(
        patch["consumes"]
            .as_array()
            .expect("consumes")
            .contains(&json!("application/strategic-merge-patch+json"))
    );
    let parameters = patch["parameters"].as_array().expect("parameters");
    assert!(
        parameters
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["type"] == "string")
    );
    assert!(parameters.iter().any(|p| p["in"] == "body"
        && p["schema"]["$ref"] == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"));
    assert_eq!(patch[GVK_EXTENSION]["kind"], "Deployment");
}

#[test]
fn v2_protobuf_is_a_document_header_in_wire_format() {
    let bytes = v2_protobuf(&served());
    // swagger = "2.0" (field 1), then info (field 2) holding title and version.
    assert_eq!(&bytes[..5], [0x0a, 3, b'2', b'.', b'0']);
    assert_eq!(bytes[5], 0x12);
    let info = &bytes[7..7 + usize::from(bytes[6])];
    assert_eq!(
        &info[..12],
        [
            0x0a, 10, b'K', b'u', b'b', b'e', b'r', b'n', b'e', b't', b'e', b's'
        ]
    );
    assert_eq!(&info[12..14], [0x12, API_VERSION_INFO.len() as u8]);
    assert_eq!(&info[14..], API_VERSION_INFO.as_bytes());
    // Empty paths (8) and definitions (9).
    assert_eq!(&bytes[7 + info.len()..], [0x42, 0, 0x4a, 0]);
}

#[test]
fn protobuf_is_recognised_in_both_spellings() {
    assert!(v2_protobuf_requested(
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    ));
    assert!(v2_protobuf_requested(
        "application/json, application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    ));
    assert!(!v2_protobuf_requested("application/json"));
}

#[test]
fn documents_follow_schema_changes_between_calls() {
    let mut resources = served();
    let description = |resources: &[ResourceInfo]| {
        let document =
            v3_group_version("example.gastown.io", "v1alpha1", resources).expect("served");
        document["components"]["schemas"]["io.gastown.example.v1alpha1.Widget"]["properties"]["spec"]["description"].clone()
    };
    assert_eq!(description(&resources), "Desired state of the widget.");
    resources[4].schema.as_mut().unwrap()["properties"]["spec"]["description"] = json!("Changed.");
    assert_eq!(description(&resources), "Changed.");
    resources[4].schema.as_mut().unwrap()["properties"]["spec"]["description"] =
        json!("Desired state of the widget.");
    assert_eq!(description(&resources), "Desired state of the widget.");
}

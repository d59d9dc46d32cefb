//! ExternalSecret objects (external-secrets.io) for `spec.secrets.externalSecrets`.
//! The kind is not part of Kubernetes, so it is built as a dynamic object for
//! whichever served version discovery found.

use gastown_api::gastown::ExternalSecretSpec;
use kube::api::{ApiResource, DynamicObject};
use serde_json::json;

use super::town::TownRef;

/// The API group of the external-secrets operator.
pub const GROUP: &str = "external-secrets.io";
/// The kind this builder makes.
pub const KIND: &str = "ExternalSecret";

/// The ExternalSecret that fills Secret `spec.name` from the store, owned by the town.
pub fn external_secret(
    town: &TownRef,
    resource: &ApiResource,
    spec: &ExternalSecretSpec,
) -> DynamicObject {
    let mut object = DynamicObject::new(&spec.name, resource).within(&town.namespace);
    object.metadata.labels = Some(town.component_labels("external-secrets"));
    object.metadata.owner_references = Some(vec![town.owner.clone()]);
    // Through the accessors: the schema has no defaults inside `externalSecrets[]`.
    let store_kind = spec.secret_store_ref.kind().as_str();
    let refresh_interval = spec.refresh_interval();
    let data: Vec<serde_json::Value> = spec
        .data
        .iter()
        .map(|entry| {
            let mut remote = json!({ "key": entry.remote_key });
            if let Some(property) = &entry.remote_property {
                remote["property"] = json!(property);
            }
            json!({ "secretKey": entry.secret_key, "remoteRef": remote })
        })
        .collect();
    object.data = json!({
        "spec": {
            "refreshInterval": refresh_interval.as_str(),
            "secretStoreRef": { "name": spec.secret_store_ref.name, "kind": store_kind },
            "target": { "name": spec.name, "creationPolicy": "Owner" },
            "data": data,
        }
    });
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::core::GroupVersionKind;

    #[test]
    fn renders_store_reference_target_and_keys() {
        let town = TownRef {
            name: "prod".into(),
            namespace: "ns".into(),
            owner: OwnerReference {
                api_version: "gastown.io/v1alpha1".into(),
                kind: "GasTown".into(),
                name: "prod".into(),
                uid: "u".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
        };
        let spec: ExternalSecretSpec = serde_json::from_value(json!({
            "name": "anthropic",
            "secretStoreRef": {"name": "vault", "kind": "ClusterSecretStore"},
            "data": [{"secretKey": "api-key", "remoteKey": "gastown/anthropic", "remoteProperty": "key"}]
        }))
        .unwrap();
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(GROUP, "v1beta1", KIND));
        let object = external_secret(&town, &resource, &spec);
        let value = serde_json::to_value(&object).unwrap();
        assert_eq!(value["apiVersion"], "external-secrets.io/v1beta1");
        assert_eq!(value["metadata"]["namespace"], "ns");
        assert_eq!(
            value["spec"]["secretStoreRef"]["kind"],
            "ClusterSecretStore"
        );
        assert_eq!(value["spec"]["target"]["name"], "anthropic");
        assert_eq!(value["spec"]["refreshInterval"], "1h");
        assert_eq!(
            value["spec"]["data"][0]["remoteRef"],
            json!({"key": "gastown/anthropic", "property": "key"})
        );
    }
}

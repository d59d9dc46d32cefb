//! Fields of built-in kinds that an update may not change, refused with
//! upstream's messages (`pkg/apis/apps/validation` and `pkg/apis/core/validation`).
//! Only the kinds whose immutable fields a controller is likely to run into are
//! covered: a StatefulSet's spec outside its updatable fields, and a
//! PersistentVolumeClaim's spec outside `resources.requests`.

use serde_json::Value;

use crate::errors::FieldError;
use crate::quota::quantity::Quantity;

const STATEFULSET_UPDATABLE: [&str; 6] = [
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

const STATEFULSET_FORBIDDEN: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

const CLAIM_FORBIDDEN: &str = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims";

/// What an update of `old` to `new` (both of kind `group/kind`, main resource)
/// changes that it may not.
pub fn update_errors(group: &str, kind: &str, old: &Value, new: &Value) -> Vec<FieldError> {
    match (group, kind) {
        ("apps", "StatefulSet") => statefulset(old, new),
        ("", "PersistentVolumeClaim") => claim(old, new),
        _ => Vec::new(),
    }
}

fn spec_without(object: &Value, fields: &[&str]) -> Value {
    let mut spec = object.get("spec").cloned().unwrap_or(Value::Null);
    if let Some(map) = spec.as_object_mut() {
        for field in fields {
            map.remove(*field);
        }
    }
    spec
}

fn statefulset(old: &Value, new: &Value) -> Vec<FieldError> {
    if spec_without(old, &STATEFULSET_UPDATABLE) == spec_without(new, &STATEFULSET_UPDATABLE) {
        Vec::new()
    } else {
        vec![FieldError::forbidden("spec", STATEFULSET_FORBIDDEN)]
    }
}

fn storage_request(claim: &Value) -> Option<Quantity> {
    claim
        .pointer("/spec/resources/requests/storage")
        .and_then(|q| match q {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.to_string().parse().ok(),
            _ => None,
        })
}

fn claim(old: &Value, new: &Value) -> Vec<FieldError> {
    let bound = new.pointer("/status/phase").and_then(Value::as_str) == Some("Bound")
        || old.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
    let mut old_spec = spec_without(old, &["volumeAttributesClassName"]);
    let mut new_spec = spec_without(new, &["volumeAttributesClassName"]);
    // The volume binder sets volumeName once.
    if old_spec.get("volumeName").is_none()
        && let (Some(old_map), Some(name)) = (old_spec.as_object_mut(), new_spec.get("volumeName"))
    {
        old_map.insert("volumeName".into(), name.clone());
    }
    // Only a bound claim may change its storage request.
    if bound {
        for spec in [&mut old_spec, &mut new_spec] {
            if let Some(requests) = spec
                .pointer_mut("/resources/requests")
                .and_then(Value::as_object_mut)
            {
                requests.remove("storage");
            }
        }
    }
    let mut errors = Vec::new();
    if old_spec != new_spec {
        errors.push(FieldError::forbidden("spec", CLAIM_FORBIDDEN));
    }
    if let (Some(before), Some(after)) = (storage_request(old), storage_request(new))
        && after < before
    {
        errors.push(FieldError::forbidden(
            "spec.resources.requests.storage",
            "field can not be less than previous value",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_statefulset_changes_only_its_updatable_fields() {
        let old = json!({"spec": {
            "replicas": 1, "serviceName": "dolt", "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"name": "dolt", "image": "dolt:1"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"resources": {"requests": {"storage": "10Gi"}}}}]
        }});
        let mut scaled_and_new_image = old.clone();
        scaled_and_new_image["spec"]["replicas"] = json!(3);
        scaled_and_new_image["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!("dolt:2");
        scaled_and_new_image["spec"]["minReadySeconds"] = json!(5);
        assert!(update_errors("apps", "StatefulSet", &old, &scaled_and_new_image).is_empty());

        let mut bigger_claims = old.clone();
        bigger_claims["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] =
            json!("20Gi");
        assert_eq!(
            messages(update_errors("apps", "StatefulSet", &old, &bigger_claims)),
            [format!("spec: Forbidden: {STATEFULSET_FORBIDDEN}")]
        );
        // The same change to a Deployment-shaped object of another kind is not checked here.
        assert!(update_errors("apps", "Deployment", &old, &bigger_claims).is_empty());
    }

    #[test]
    fn a_bound_claim_grows_but_never_shrinks_or_changes_class() {
        let old = json!({
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
                     "resources": {"requests": {"storage": "10Gi"}}, "volumeName": "pv-1"},
            "status": {"phase": "Bound"}
        });
        let mut grown = old.clone();
        grown["spec"]["resources"]["requests"]["storage"] = json!("20Gi");
        assert!(update_errors("", "PersistentVolumeClaim", &old, &grown).is_empty());

        let mut shrunk = old.clone();
        shrunk["spec"]["resources"]["requests"]["storage"] = json!("5Gi");
        assert_eq!(
            messages(update_errors("", "PersistentVolumeClaim", &old, &shrunk)),
            [
                "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
            ]
        );

        let mut other_class = old.clone();
        other_class["spec"]["storageClassName"] = json!("slow");
        assert_eq!(
            messages(update_errors(
                "",
                "PersistentVolumeClaim",
                &old,
                &other_class
            )),
            [format!("spec: Forbidden: {CLAIM_FORBIDDEN}")]
        );
    }

    #[test]
    fn a_pending_claim_keeps_its_request_but_may_be_bound_to_a_volume() {
        let old = json!({"spec": {"resources": {"requests": {"storage": "10Gi"}}},
                         "status": {"phase": "Pending"}});
        let mut grown = old.clone();
        grown["spec"]["resources"]["requests"]["storage"] = json!("20Gi");
        assert_eq!(
            messages(update_errors("", "PersistentVolumeClaim", &old, &grown)),
            [format!("spec: Forbidden: {CLAIM_FORBIDDEN}")]
        );
        let mut bound = old.clone();
        bound["spec"]["volumeName"] = json!("pv-1");
        bound["status"]["phase"] = json!("Bound");
        assert!(update_errors("", "PersistentVolumeClaim", &old, &bound).is_empty());
    }
}

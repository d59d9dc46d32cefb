//! `metav1.LabelSelector` objects (`matchLabels` and `matchExpressions`), as
//! Jobs, PodDisruptionBudgets and other controllers select pods with them
//! (`k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go`, `LabelSelectorAsSelector`).

use serde_json::{Map, Value};

/// Whether `labels` satisfy `selector`. An empty selector matches everything;
/// a null one (`None`) nothing, as upstream's `LabelSelectorAsSelector` has it.
pub fn matches(selector: Option<&Value>, labels: Option<&Map<String, Value>>) -> bool {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return false;
    };
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let labels_match = match_labels
        .into_iter()
        .flatten()
        .all(|(key, value)| label(key) == value.as_str());
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    labels_match
        && expressions.into_iter().flatten().all(|expression| {
            let key = expression["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = expression["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match expression["operator"].as_str().unwrap_or_default() {
                "In" => label(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => label(key).is_some(),
                "DoesNotExist" => label(key).is_none(),
                _ => false,
            }
        })
}

/// The labels of `object` (`metadata.labels`).
pub fn labels_of(object: &Value) -> Option<&Map<String, Value>> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn match_labels_and_expressions() {
        let labels = json!({ "app": "web", "tier": "front" });
        let labels = labels.as_object();
        let selector = |s: Value| matches(Some(&s), labels);
        assert!(selector(json!({})));
        assert!(selector(json!({ "matchLabels": { "app": "web" } })));
        assert!(!selector(json!({ "matchLabels": { "app": "db" } })));
        assert!(selector(json!({ "matchExpressions": [
            { "key": "tier", "operator": "In", "values": ["front", "back"] },
            { "key": "zone", "operator": "DoesNotExist" },
        ] })));
        assert!(!selector(
            json!({ "matchExpressions": [{ "key": "app", "operator": "NotIn", "values": ["web"] }] })
        ));
        assert!(!matches(None, labels));
    }
}

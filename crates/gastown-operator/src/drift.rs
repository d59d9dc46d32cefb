//! Deciding whether an object needs a write at all.
//!
//! The operator builds the desired state of each object it owns and applies it
//! with server-side apply. Sending an apply for an object that already matches
//! is still a write to the API server, so a steady-state reconcile first checks
//! whether everything it would send is already present in what it observed.
//! Fields the server or other managers add (defaults, status, annotations) do
//! not count as drift.

use serde_json::Value;

/// True when every field set in `desired` has the same value in `observed`.
///
/// Objects are compared key by key (extra keys in `observed` are fine); lists
/// must have the same length and match element by element, because the
/// operator always sends whole lists; scalars must be equal (see
/// [`scalars_match`]). Builders write quantities in the canonical form the API
/// server stores, so quantities compare as plain strings.
pub fn is_subset(desired: &Value, observed: &Value) -> bool {
    match (desired, observed) {
        (Value::Object(want), Value::Object(have)) => want.iter().all(|(key, want_value)| {
            match have.get(key) {
                Some(have_value) => is_subset(want_value, have_value),
                // An explicit null or empty value in the desired state means
                // "absent", which an absent field satisfies.
                None => is_empty(want_value),
            }
        }),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| is_subset(w, h))
        }
        (want, have) => scalars_match(want, have),
    }
}

/// [`is_subset`] for whole objects, reading `metadata.finalizers` as the set
/// it is: every finalizer `desired` names must be present, in any order, next
/// to any others (deletion modes and other controllers add their own).
pub fn object_is_subset(desired: &Value, observed: &Value) -> bool {
    let mut desired = desired.clone();
    let wanted = desired
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|meta| meta.remove("finalizers"));
    let present = observed
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array);
    let finalizers_present = match wanted {
        Some(Value::Array(wanted)) => wanted
            .iter()
            .all(|f| present.is_some_and(|present| present.contains(f))),
        Some(other) => is_empty(&other),
        None => true,
    };
    finalizers_present && is_subset(&desired, observed)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.values().all(is_empty),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Scalars are equal, allowing for the server's canonical form of numbers
/// written as strings (`"1"` vs `1`) — the API server stores integers sent in
/// int-or-string fields as sent, so only exact string or number equality and
/// integer-valued string/number pairs match.
pub fn scalars_match(want: &Value, have: &Value) -> bool {
    if want == have {
        return true;
    }
    match (want, have) {
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            n.as_i64().is_some_and(|n| s == &n.to_string())
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn observed_with_extra_server_fields_is_in_sync() {
        let desired = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}});
        let observed = json!({
            "metadata": {"labels": {"a": "1", "other": "x"}, "uid": "u", "resourceVersion": "7"},
            "spec": {"replicas": 1, "revisionHistoryLimit": 10},
            "status": {"readyReplicas": 1}
        });
        assert!(is_subset(&desired, &observed));
    }

    #[test]
    fn changed_scalar_is_drift() {
        let desired = json!({"spec": {"image": "agent:v2"}});
        let observed = json!({"spec": {"image": "agent:v1"}});
        assert!(!is_subset(&desired, &observed));
    }

    #[test]
    fn missing_field_is_drift_unless_desired_is_empty() {
        assert!(!is_subset(&json!({"spec": {"x": 1}}), &json!({"spec": {}})));
        assert!(is_subset(
            &json!({"spec": {"x": null, "y": {}, "z": []}}),
            &json!({"spec": {}})
        ));
    }

    #[test]
    fn lists_match_element_wise_and_by_length() {
        let desired = json!({"containers": [{"name": "a", "image": "i"}]});
        let defaulted =
            json!({"containers": [{"name": "a", "image": "i", "imagePullPolicy": "Always"}]});
        assert!(is_subset(&desired, &defaulted));
        let longer = json!({"containers": [{"name": "a", "image": "i"}, {"name": "b"}]});
        assert!(!is_subset(&desired, &longer));
        let reordered = json!({"args": ["b", "a"]});
        assert!(!is_subset(&json!({"args": ["a", "b"]}), &reordered));
    }

    #[test]
    fn finalizers_are_a_set() {
        let desired =
            json!({"metadata": {"finalizers": ["gastown.io/rig-cleanup"]}, "spec": {"a": 1}});
        let with_others = json!({
            "metadata": {"finalizers": ["foregroundDeletion", "gastown.io/rig-cleanup"]},
            "spec": {"a": 1}
        });
        assert!(object_is_subset(&desired, &with_others));
        let without = json!({"metadata": {"finalizers": ["foregroundDeletion"]}, "spec": {"a": 1}});
        assert!(!object_is_subset(&desired, &without));
        assert!(!object_is_subset(&desired, &json!({"spec": {"a": 1}})));
        let drifted =
            json!({"metadata": {"finalizers": ["gastown.io/rig-cleanup"]}, "spec": {"a": 2}});
        assert!(!object_is_subset(&desired, &drifted));
        assert!(object_is_subset(&json!({"spec": {"a": 1}}), &with_others));
    }

    #[test]
    fn integer_strings_match_numbers() {
        assert!(is_subset(&json!({"port": 9876}), &json!({"port": "9876"})));
        assert!(!is_subset(&json!({"port": 9876}), &json!({"port": "9877"})));
        assert!(!is_subset(&json!({"flag": true}), &json!({"flag": "true"})));
    }
}

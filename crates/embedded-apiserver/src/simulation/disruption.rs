//! The disruption controller (`pkg/controller/disruption/disruption.go`):
//! a PodDisruptionBudget's status from the pods its selector takes.
//!
//! Simpler than upstream in one respect: the expected pod count is the
//! number of selected pods for every kind of budget, where upstream asks
//! the pods' controllers for their scale when the budget is a percentage
//! or `maxUnavailable`.

use crate::label_selector::{labels_of, matches};
use serde_json::{Map, Value, json};

/// `intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)`.
fn scaled(value: &Value, total: i64) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(text) => {
            let percent = text.trim_end_matches('%').parse::<i64>().unwrap_or(0);
            (percent * total + 99) / 100
        }
        _ => 0,
    }
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The status the controller writes for `budget`, given the pods of its namespace.
pub fn budget_status(budget: &Value, pods: &[&Value], now: &str) -> Value {
    let selected: Vec<&Value> = pods
        .iter()
        .copied()
        .filter(|p| matches(budget.pointer("/spec/selector"), labels_of(p)))
        .collect();
    let current = budget.get("status").cloned().unwrap_or_else(|| json!({}));
    let name_of = |p: &Value| {
        p.pointer("/metadata/name")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    // Evictions the controller has not seen through yet: pods still there.
    let disrupted: Map<String, Value> = current["disruptedPods"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| {
            selected.iter().any(|p| {
                name_of(p).as_deref() == Some(name.as_str())
                    && p.pointer("/metadata/deletionTimestamp").is_none()
            })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let expected = selected.len() as i64;
    let desired = match (
        budget.pointer("/spec/maxUnavailable"),
        budget.pointer("/spec/minAvailable"),
    ) {
        (Some(max), _) => (expected - scaled(max, expected)).max(0),
        (None, Some(min)) => scaled(min, expected),
        (None, None) => 0,
    };
    let healthy = selected
        .iter()
        .filter(|p| {
            ready(p)
                && p.pointer("/metadata/deletionTimestamp").is_none()
                && name_of(p).is_none_or(|n| !disrupted.contains_key(&n))
        })
        .count() as i64;
    let allowed = (healthy - desired).max(0);
    let generation = budget
        .pointer("/metadata/generation")
        .cloned()
        .unwrap_or(json!(1));
    let (status, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let previous = current["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "DisruptionAllowed");
    let transition = previous
        .filter(|c| c["status"] == status)
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or(json!(now));
    let mut result = json!({
        "observedGeneration": generation,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "disruptionsAllowed": allowed,
        "expectedPods": expected,
        "conditions": [{
            "type": "DisruptionAllowed", "status": status, "reason": reason, "message": "",
            "observedGeneration": generation, "lastTransitionTime": transition,
        }],
    });
    if !disrupted.is_empty() {
        result["disruptedPods"] = Value::Object(disrupted);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool) -> Value {
        json!({
            "metadata": { "name": name, "labels": { "app": "db" } },
            "status": { "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] },
        })
    }

    #[test]
    fn budgets_count_ready_selected_pods() {
        let budget = json!({
            "metadata": { "generation": 2 },
            "spec": { "minAvailable": 1, "selector": { "matchLabels": { "app": "db" } } },
        });
        let (a, b) = (pod("a", true), pod("b", true));
        let status = budget_status(&budget, &[&a, &b], "now");
        assert_eq!(status["currentHealthy"], 2);
        assert_eq!(status["desiredHealthy"], 1);
        assert_eq!(status["disruptionsAllowed"], 1);
        assert_eq!(status["expectedPods"], 2);
        assert_eq!(status["observedGeneration"], 2);
        assert_eq!(status["conditions"][0]["reason"], "SufficientPods");
        let status = budget_status(&budget, &[&a], "now");
        assert_eq!(status["disruptionsAllowed"], 0);
        assert_eq!(status["conditions"][0]["reason"], "InsufficientPods");

        let max = json!({ "spec": { "maxUnavailable": "50%", "selector": {} } });
        let c = pod("c", false);
        let status = budget_status(&max, &[&a, &b, &c], "now");
        assert_eq!(status["desiredHealthy"], 1, "3 - ceil(1.5)");
        assert_eq!(status["disruptionsAllowed"], 1);
    }
}

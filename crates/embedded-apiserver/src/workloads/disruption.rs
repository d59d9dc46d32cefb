//! The disruption controller of the simulation: every budget of a
//! namespace gets its status recomputed when one of its pods or budgets changes.

use super::key;
use crate::cluster::now;
use crate::server::AppState;
use crate::simulation::disruption::budget_status;
use serde_json::Value;
use std::sync::Arc;

pub(super) fn sync_namespace(app: &AppState, namespace: &str) {
    let mut cluster = app.cluster.lock();
    let budgets_key = key("policy", "poddisruptionbudgets");
    let budgets: Vec<Arc<Value>> = cluster
        .store
        .range(&budgets_key, Some(namespace), None)
        .map(|(_, b)| Arc::clone(b))
        .collect();
    if budgets.is_empty() {
        return;
    }
    let pods: Vec<Arc<Value>> = cluster
        .store
        .range(&key("", "pods"), Some(namespace), None)
        .map(|(_, p)| Arc::clone(p))
        .collect();
    let pod_refs: Vec<&Value> = pods.iter().map(AsRef::as_ref).collect();
    let now = now();
    for budget in budgets {
        let status = budget_status(&budget, &pod_refs, &now);
        let name = budget
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let rv = budget
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        cluster.write_status_as_system(
            &budgets_key,
            &(namespace.to_owned(), name.to_owned()),
            rv,
            status,
        );
    }
}

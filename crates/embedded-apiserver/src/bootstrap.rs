//! Objects kube-apiserver creates at start: the `default/kubernetes`
//! Service with its Endpoints and EndpointSlice (pkg/controlplane/reconcilers
//! and controller/kubernetesservice), and the user-facing ClusterRoles of
//! the bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy,
//! testdata/cluster-roles.yaml), with `admin`, `edit` and `view` already
//! holding the rules the clusterrole-aggregation controller would give them.
//!
//! It also registers the read-only `componentstatuses` and one local
//! APIService per built-in group version.
//!
//! Left out: the `system:*` controller and node roles and their bindings
//! (no controller or kubelet identities exist here), the legacy
//! `extensions` group's rules, and rules on resources this server does not
//! serve other than those named in the aggregate roles.

use crate::cluster::{Cluster, Subresource, WriteOptions};
use serde_json::{Value, json};

const RBAC: &str = "rbac.authorization.k8s.io";
const READ: [&str; 3] = ["get", "list", "watch"];
const WRITE: [&str; 5] = ["create", "delete", "deletecollection", "patch", "update"];
const READ_WRITE: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({ "apiGroups": groups, "resources": resources, "verbs": verbs })
}

fn aggregate_to_view() -> Vec<Value> {
    vec![
        rule(
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
            &READ,
        ),
        rule(
            &[""],
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
            &READ,
        ),
        rule(&[""], &["namespaces"], &READ),
        rule(&["discovery.k8s.io"], &["endpointslices"], &READ),
        rule(
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
            &READ,
        ),
        rule(
            &["autoscaling"],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
            &READ,
        ),
        rule(
            &["batch"],
            &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
            &READ,
        ),
        rule(
            &["policy"],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
            &READ,
        ),
        rule(
            &["networking.k8s.io"],
            &["ingresses", "ingresses/status", "networkpolicies"],
            &READ,
        ),
    ]
}

fn aggregate_to_edit() -> Vec<Value> {
    vec![
        rule(
            &[""],
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
            &READ,
        ),
        rule(&[""], &["serviceaccounts"], &["impersonate"]),
        rule(
            &[""],
            &[
                "pods",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
            ],
            &WRITE,
        ),
        rule(&[""], &["pods/eviction"], &["create"]),
        rule(
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
            &WRITE,
        ),
        rule(&[""], &["serviceaccounts/token"], &["create"]),
        rule(
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
            &WRITE,
        ),
        rule(&["autoscaling"], &["horizontalpodautoscalers"], &WRITE),
        rule(&["batch"], &["cronjobs", "jobs"], &WRITE),
        rule(&["policy"], &["poddisruptionbudgets"], &WRITE),
        rule(
            &["networking.k8s.io"],
            &["ingresses", "networkpolicies"],
            &WRITE,
        ),
        rule(&["coordination.k8s.io"], &["leases"], &READ_WRITE),
    ]
}

fn aggregate_to_admin() -> Vec<Value> {
    vec![
        rule(
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews"],
            &["create"],
        ),
        rule(&[RBAC], &["rolebindings", "roles"], &READ_WRITE),
    ]
}

fn cluster_role(name: &str, labels: Value, aggregate: Option<&str>, rules: Vec<Value>) -> Value {
    let mut all_labels = json!({ "kubernetes.io/bootstrapping": "rbac-defaults" });
    if let (Some(map), Value::Object(extra)) = (all_labels.as_object_mut(), labels) {
        map.extend(extra);
    }
    let mut role = json!({
        "apiVersion": format!("{RBAC}/v1"),
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": all_labels,
            "annotations": { "rbac.authorization.kubernetes.io/autoupdate": "true" },
        },
        "rules": rules,
    });
    if let Some(label) = aggregate {
        role["aggregationRule"] = json!({
            "clusterRoleSelectors": [{ "matchLabels": { format!("{RBAC}/{label}"): "true" } }]
        });
    }
    role
}

/// The user-facing bootstrap ClusterRoles; aggregated roles carry the union
/// of what their selectors pick (view ⊂ edit ⊂ admin, by their labels).
pub fn cluster_roles() -> Vec<Value> {
    let label = |which: &str| json!({ format!("{RBAC}/aggregate-to-{which}"): "true" });
    let view = aggregate_to_view();
    let edit: Vec<Value> = aggregate_to_edit()
        .into_iter()
        .chain(view.clone())
        .collect();
    let admin: Vec<Value> = aggregate_to_admin()
        .into_iter()
        .chain(edit.clone())
        .collect();
    vec![
        cluster_role(
            "cluster-admin",
            json!({}),
            None,
            vec![
                rule(&["*"], &["*"], &["*"]),
                json!({ "nonResourceURLs": ["*"], "verbs": ["*"] }),
            ],
        ),
        cluster_role("admin", json!({}), Some("aggregate-to-admin"), admin),
        cluster_role("edit", label("admin"), Some("aggregate-to-edit"), edit),
        cluster_role("view", label("edit"), Some("aggregate-to-view"), view),
        cluster_role(
            "system:aggregate-to-admin",
            label("admin"),
            None,
            aggregate_to_admin(),
        ),
        cluster_role(
            "system:aggregate-to-edit",
            label("edit"),
            None,
            aggregate_to_edit(),
        ),
        cluster_role(
            "system:aggregate-to-view",
            label("view"),
            None,
            aggregate_to_view(),
        ),
    ]
}

/// The `default/kubernetes` Service (ClusterIP, 443 → the server's port),
/// its Endpoints and EndpointSlice. The first ClusterIP this server
/// allocates is 10.96.0.1, the address kubeadm clusters give it.
fn kubernetes_service(port: u16) -> Vec<(&'static str, &'static str, Value)> {
    let labels = json!({ "component": "apiserver", "provider": "kubernetes" });
    vec![
        (
            "",
            "services",
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": { "name": "kubernetes", "namespace": "default", "labels": labels },
                "spec": {
                    "type": "ClusterIP",
                    "sessionAffinity": "None",
                    "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": port }],
                },
            }),
        ),
        (
            "",
            "endpoints",
            json!({
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {
                    "name": "kubernetes", "namespace": "default",
                    // The apiserver's reconciler writes the slice itself.
                    "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" },
                },
                "subsets": [{
                    "addresses": [{ "ip": "127.0.0.1" }],
                    "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
                }],
            }),
        ),
        (
            "discovery.k8s.io",
            "endpointslices",
            json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {
                    "name": "kubernetes", "namespace": "default",
                    "labels": { "kubernetes.io/service-name": "kubernetes" },
                },
                "addressType": "IPv4",
                "endpoints": [{ "addresses": ["127.0.0.1"], "conditions": { "ready": true } }],
                "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
            }),
        ),
    ]
}

/// `componentstatuses`: upstream probes the scheduler, the controller
/// manager and etcd on each read (pkg/registry/core/componentstatus); here
/// they are always healthy.
fn component_statuses() -> Vec<(&'static str, &'static str, Value)> {
    ["controller-manager", "etcd-0", "scheduler"]
        .into_iter()
        .map(|name| {
            let status = json!({
                "apiVersion": "v1", "kind": "ComponentStatus",
                "metadata": { "name": name },
                "conditions": [{ "type": "Healthy", "status": "True", "message": "ok" }],
            });
            ("", "componentstatuses", status)
        })
        .collect()
}

/// One local APIService per built-in group version, as kube-aggregator's
/// autoregister controller creates them (`v1.apps`, `v1.` for the core group).
fn api_services(cluster: &Cluster) -> Vec<(&'static str, &'static str, Value)> {
    cluster
        .registry
        .group_versions()
        .into_iter()
        .filter(|(_, _, served)| served.iter().any(|s| !s.info.custom))
        .map(|(group, version, _)| {
            let service = json!({
                "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                "metadata": { "name": format!("{version}.{group}"), "labels": { "kube-aggregator.kubernetes.io/automanaged": "onstart" } },
                "spec": { "group": group, "version": version, "groupPriorityMinimum": 18000, "versionPriority": 15 },
            });
            ("apiregistration.k8s.io", "apiservices", service)
        })
        .collect()
}

/// Creates the bootstrap objects that are not there yet.
pub fn install(cluster: &mut Cluster, port: u16) {
    let roles = cluster_roles()
        .into_iter()
        .map(|r| (RBAC, "clusterroles", r));
    let objects: Vec<(&str, &str, Value)> = kubernetes_service(port)
        .into_iter()
        .chain(roles)
        .chain(component_statuses())
        .chain(api_services(cluster))
        .collect();
    for (group, plural, object) in objects {
        let served = cluster
            .registry
            .find(group, "v1", plural)
            .expect("bootstrap kinds are built in");
        let namespace = object["metadata"]["namespace"].as_str().map(str::to_owned);
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let at = (namespace.clone().unwrap_or_default(), name);
        if cluster.store.get(&served.key(), &at).is_some() {
            continue;
        }
        let created = cluster
            .create(
                &served,
                namespace.as_deref(),
                object,
                &WriteOptions::default(),
            )
            .expect("bootstrap objects are valid");
        // Statuses are dropped on create: local APIServices are Available.
        if plural == "apiservices" {
            let mut available = (*created).clone();
            available["status"] = json!({ "conditions": [{
                "type": "Available", "status": "True", "reason": "Local",
                "message": "Local APIServices are always available",
                "lastTransitionTime": created["metadata"]["creationTimestamp"],
            }] });
            let name = available["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            cluster
                .update(
                    &served,
                    None,
                    &name,
                    available,
                    Subresource::Status,
                    &WriteOptions::default(),
                )
                .expect("bootstrap statuses are valid");
        }
    }
}

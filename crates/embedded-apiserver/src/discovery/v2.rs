//! Aggregated discovery (`apidiscovery.k8s.io/v2`, GA in 1.30): `/api` and
//! `/apis` answer every group, version and resource in one document when the
//! client asks for it by `Accept`, as kubectl and kube's `run_aggregated` do.
//! Upstream: staging/src/k8s.io/apiserver/pkg/endpoints/discovery/aggregated
//! (the handler serves the list only for the exact `g`/`v`/`as` parameters).

use super::{Subresource, groups, subresources};
use crate::registry::{Registry, Served};
use serde_json::{Value, json};
use std::sync::Arc;

/// The Content-Type of an aggregated answer, which client-go checks before
/// reading the body as an `APIGroupDiscoveryList`.
pub const CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether an `Accept` header asks for the v2 list in JSON (protobuf ranges
/// are passed over: this server answers JSON only).
pub fn requested(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let params: Vec<&str> = parts.collect();
        matches!(media, "application/json" | "*/*" | "application/*")
            && ["g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"]
                .iter()
                .all(|wanted| params.contains(wanted))
    })
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "version": version, "kind": kind })
}

fn resource(served: &Served) -> Value {
    let info = &served.info;
    let mut entry = json!({
        "resource": info.plural,
        "responseKind": gvk(&info.group, &info.version, &info.kind),
        "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": info.singular,
        "verbs": info.verbs,
    });
    if !info.short_names.is_empty() {
        entry["shortNames"] = json!(info.short_names);
    }
    if !info.categories.is_empty() {
        entry["categories"] = json!(info.categories);
    }
    let subresources: Vec<Value> = subresources(served)
        .into_iter()
        .map(|Subresource { name, group, version, kind, verbs }| {
            json!({ "subresource": name, "responseKind": gvk(&group, &version, &kind), "verbs": verbs })
        })
        .collect();
    if !subresources.is_empty() {
        entry["subresources"] = json!(subresources);
    }
    entry
}

fn group_entry(registry: &Registry, group: &str, versions: &[String]) -> Value {
    let all = registry.group_versions();
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let resources: Vec<Value> = all
                .iter()
                .filter(|(g, v, _)| g == group && v == version)
                .flat_map(|(_, _, served)| served.iter().map(Arc::as_ref).map(resource))
                .collect();
            json!({ "version": version, "resources": resources, "freshness": "Current" })
        })
        .collect();
    json!({ "metadata": { "name": group, "creationTimestamp": null }, "versions": versions })
}

/// `GET /api` (`core`) or `GET /apis` as an `APIGroupDiscoveryList`.
pub fn list(registry: &Registry, core: bool) -> Value {
    let items: Vec<Value> = if core {
        vec![group_entry(registry, "", &["v1".to_owned()])]
    } else {
        groups(registry)
            .iter()
            .map(|(group, versions)| group_entry(registry, group, versions))
            .collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert!(requested(
            kube::core::discovery::v2::ACCEPT_AGGREGATED_DISCOVERY_V2
        ));
        assert!(requested(
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!requested("application/json, */*"));
        assert!(!requested(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
        ));
    }

    #[test]
    fn lists_groups_with_resources_and_subresources() {
        let registry = Registry::new();
        let apis = list(&registry, false);
        let apps = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "apps")
            .unwrap();
        let deployments = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(deployments["scope"], "Namespaced");
        assert!(
            deployments["subresources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["subresource"] == "scale" && s["responseKind"]["kind"] == "Scale")
        );
        let core = list(&registry, true);
        assert_eq!(core["items"][0]["metadata"]["name"], "");
    }
}

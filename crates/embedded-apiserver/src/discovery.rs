//! Discovery documents (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`),
//! in the plain (non-aggregated) form every kubectl accepts.

use crate::registry::{Registry, Served};
use serde_json::{Value, json};
use std::sync::Arc;

pub mod v2;

/// A subresource as discovery lists it.
pub struct Subresource {
    pub name: &'static str,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub verbs: Vec<&'static str>,
}

/// The subresources of a served resource with a discovery entry of their own.
pub fn subresources(served: &Served) -> Vec<Subresource> {
    let info = &served.info;
    let mut out = Vec::new();
    if info.status_subresource {
        out.push(Subresource {
            name: "status",
            group: info.group.clone(),
            version: info.version.clone(),
            kind: info.kind.clone(),
            verbs: vec!["get", "patch", "update"],
        });
    }
    if served.scale.is_some() {
        out.push(Subresource {
            name: "scale",
            group: "autoscaling".into(),
            version: "v1".into(),
            kind: "Scale".into(),
            verbs: vec!["get", "patch", "update"],
        });
    }
    out.extend(crate::subresources::discovered(served));
    out
}

/// The Kubernetes version this server claims; matches k8s-openapi's `v1_33` feature.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "gitVersion": "v1.33.0",
        "gitCommit": "embedded",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `GET /api`
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
        .collect();
    json!({ "name": group, "versions": versions, "preferredVersion": versions[0] })
}

/// Named groups with their versions, in discovery order.
fn groups(registry: &Registry) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (group, version, _) in registry.group_versions() {
        if group.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, versions)) => versions.push(version),
            None => groups.push((group, vec![version])),
        }
    }
    groups
}

/// `GET /apis`
pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = groups(registry)
        .iter()
        .map(|(g, vs)| group_entry(g, vs))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `GET /apis/<group>`, or `None` when the group is not served.
pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let (group, versions) = groups(registry).into_iter().find(|(g, _)| g == name)?;
    let mut entry = group_entry(&group, &versions);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

fn resource_entries(served: &Served) -> Vec<Value> {
    let info = &served.info;
    let mut main = json!({
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": info.verbs,
    });
    if !info.short_names.is_empty() {
        main["shortNames"] = json!(info.short_names);
    }
    if !info.categories.is_empty() {
        main["categories"] = json!(info.categories);
    }
    let mut entries = vec![main];
    for sub in subresources(served) {
        let mut entry = json!({
            "name": format!("{}/{}", info.plural, sub.name),
            "singularName": "",
            "namespaced": info.namespaced,
            "kind": sub.kind,
            "verbs": sub.verbs,
        });
        // Upstream names the group and version only where they differ (Scale).
        if sub.group != info.group || sub.version != info.version {
            entry["group"] = json!(sub.group);
            entry["version"] = json!(sub.version);
        }
        entries.push(entry);
    }
    entries
}

/// `GET /api/v1` or `/apis/<group>/<version>`, or `None` when not served.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let (_, _, served) = registry
        .group_versions()
        .into_iter()
        .find(|(g, v, _)| g == group && v == version)?;
    let resources: Vec<Value> = served
        .iter()
        .map(Arc::as_ref)
        .flat_map(resource_entries)
        .collect();
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resources_include_status_subresources() {
        let list = resource_list(&Registry::new(), "", "v1").unwrap();
        let resources = list["resources"].as_array().unwrap();
        let pods = resources.iter().find(|r| r["name"] == "pods").unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert!(
            resources
                .iter()
                .any(|r| r["name"] == "pods/status" && r["kind"] == "Pod")
        );
        assert!(resource_list(&Registry::new(), "", "v2").is_none());
    }

    #[test]
    fn groups_list_each_group_once_with_preferred_version() {
        let list = group_list(&Registry::new());
        let names: Vec<&str> = list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"apps") && names.contains(&"rbac.authorization.k8s.io"));
        assert_eq!(names.iter().filter(|n| **n == "apps").count(), 1);
        assert_eq!(
            group(&Registry::new(), "apps").unwrap()["preferredVersion"]["groupVersion"],
            "apps/v1"
        );
    }
}

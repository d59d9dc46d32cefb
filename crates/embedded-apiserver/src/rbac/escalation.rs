//! RBAC's escalation prevention, as upstream's Role and binding storage does
//! it (`pkg/registry/rbac`): nobody writes a Role granting what they do not
//! hold themselves unless allowed to `escalate`, and nobody binds a role
//! whose permissions they do not hold unless allowed to `bind` it.

use super::evaluate::{self, ALL};
use super::{Policy, UserInfo};
use crate::authz::{Decision, RequestAttributes};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub(super) const GROUP: &str = "rbac.authorization.k8s.io";

/// An RBAC object being written, decoded.
pub enum RbacWrite {
    Role(Role),
    ClusterRole(ClusterRole),
    RoleBinding(RoleBinding),
    ClusterRoleBinding(ClusterRoleBinding),
}

impl RbacWrite {
    /// The write of `object` of `kind`, or `None` for kinds RBAC does not guard.
    /// An object that does not decode was refused by validation before.
    pub fn decode(kind: &str, object: &Value) -> Option<Self> {
        Some(match kind {
            "Role" => Self::Role(decode(object)?),
            "ClusterRole" => Self::ClusterRole(decode(object)?),
            "RoleBinding" => Self::RoleBinding(decode(object)?),
            "ClusterRoleBinding" => Self::ClusterRoleBinding(decode(object)?),
            _ => return None,
        })
    }

    fn plural(&self) -> &'static str {
        match self {
            Self::Role(_) => "roles",
            Self::ClusterRole(_) => "clusterroles",
            Self::RoleBinding(_) => "rolebindings",
            Self::ClusterRoleBinding(_) => "clusterrolebindings",
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(object: &Value) -> Option<T> {
    T::deserialize(object).ok()
}

/// Whether `user` may write `object` (namespace `namespace`, empty for the
/// cluster kinds); the refusal's reason otherwise.
pub fn check_write(
    user: &UserInfo,
    namespace: &str,
    name: &str,
    object: &RbacWrite,
    policy: &Policy,
) -> Result<(), String> {
    if user.is_privileged() {
        return Ok(());
    }
    let rules = match object {
        RbacWrite::Role(Role { rules, .. }) | RbacWrite::ClusterRole(ClusterRole { rules, .. }) => {
            if allowed(user, "escalate", object.plural(), namespace, name, policy) {
                return Ok(());
            }
            rules.clone().unwrap_or_default()
        }
        RbacWrite::RoleBinding(RoleBinding { role_ref, .. })
        | RbacWrite::ClusterRoleBinding(ClusterRoleBinding { role_ref, .. }) => {
            let target = match role_ref.kind.as_str() {
                "Role" => "roles",
                "ClusterRole" => "clusterroles",
                _ => return Err(format!("unknown roleRef kind {:?}", role_ref.kind)),
            };
            if allowed(user, "bind", target, namespace, &role_ref.name, policy) {
                return Ok(());
            }
            role_ref_rules(role_ref, namespace, policy)?
        }
    };
    confirm_no_escalation(user, namespace, &rules, policy)
}

/// RBAC's answer to `verb` on an RBAC resource (`escalate`, `bind`).
fn allowed(
    user: &UserInfo,
    verb: &str,
    resource: &str,
    namespace: &str,
    name: &str,
    policy: &Policy,
) -> bool {
    let request = RequestAttributes {
        bearer_token: None,
        verb: verb.to_owned(),
        api_group: GROUP.to_owned(),
        resource: resource.to_owned(),
        subresource: None,
        namespace: Some(namespace.to_owned()).filter(|ns| !ns.is_empty()),
        name: Some(name.to_owned()).filter(|n| !n.is_empty()),
        non_resource_path: None,
    };
    evaluate::authorize(user, &request, policy) == Decision::Allow
}

/// The rules a roleRef names, as seen from a binding in `namespace`.
fn role_ref_rules(
    role_ref: &RoleRef,
    namespace: &str,
    policy: &Policy,
) -> Result<Vec<PolicyRule>, String> {
    policy
        .role_ref_rules(role_ref, namespace)
        .map(<[PolicyRule]>::to_vec)
        .ok_or_else(|| {
            let resource = if role_ref.kind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            format!("{resource}.{GROUP} {:?} not found", role_ref.name)
        })
}

/// Upstream's `ConfirmNoEscalation`: every permission in `rules` must be held
/// by `user` in `namespace` already.
pub fn confirm_no_escalation(
    user: &UserInfo,
    namespace: &str,
    rules: &[PolicyRule],
    policy: &Policy,
) -> Result<(), String> {
    let owned = policy.rules_for(user, namespace);
    let missing: Vec<PolicyRule> = rules
        .iter()
        .flat_map(breakdown)
        .filter(|wanted| !owned.iter().any(|held| covers(held, wanted)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let described: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
    Err(format!(
        "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        user.name,
        go_quoted(&user.groups),
        described.into_iter().collect::<Vec<_>>().join("\n")
    ))
}

fn list(items: &Option<Vec<String>>) -> &[String] {
    items.as_deref().unwrap_or_default()
}

fn has(items: &[String], wanted: &str) -> bool {
    items.iter().any(|item| item == wanted)
}

fn has_all(items: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| has(items, w))
}

/// A rule as rules of one verb, one group, one resource and one name each
/// (non-resource URLs: one URL and one verb each).
pub fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| Some(vec![s.clone()]);
    let mut parts = Vec::new();
    for group in list(&rule.api_groups) {
        for resource in list(&rule.resources) {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: vec![verb.clone()],
                    ..PolicyRule::default()
                };
                if list(&rule.resource_names).is_empty() {
                    parts.push(base);
                } else {
                    for name in list(&rule.resource_names) {
                        parts.push(PolicyRule {
                            resource_names: one(name),
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for url in list(&rule.non_resource_urls) {
        for verb in &rule.verbs {
            parts.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: vec![verb.clone()],
                ..PolicyRule::default()
            });
        }
    }
    parts
}

/// Whether `held` grants everything the broken-down rule `wanted` does.
pub fn covers(held: &PolicyRule, wanted: &PolicyRule) -> bool {
    let verbs = has(&held.verbs, ALL) || has_all(&held.verbs, &wanted.verbs);
    let groups = has(list(&held.api_groups), ALL)
        || has_all(list(&held.api_groups), list(&wanted.api_groups));
    let resources = resources_cover(list(&held.resources), list(&wanted.resources));
    let urls = list(&wanted.non_resource_urls).iter().all(|path| {
        list(&held.non_resource_urls)
            .iter()
            .any(|url| evaluate::non_resource_url_covers(url, path))
    });
    let held_names = list(&held.resource_names);
    let names = held_names.is_empty() || {
        let wanted_names = list(&wanted.resource_names);
        !wanted_names.is_empty() && has_all(held_names, wanted_names)
    };
    verbs && groups && resources && urls && names
}

/// `*`, each resource exactly, or a subresource through `*/subresource`.
fn resources_cover(held: &[String], wanted: &[String]) -> bool {
    has(held, ALL)
        || wanted.iter().all(|resource| {
            has(held, resource)
                || resource
                    .split_once('/')
                    .is_some_and(|(_, sub)| has(held, &format!("*/{sub}")))
        })
}

/// Missing permissions that differ only in their verb, as one rule.
fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    type Shape = (Vec<String>, Vec<String>, Vec<String>, Vec<String>);
    let mut merged: BTreeMap<Shape, Vec<String>> = BTreeMap::new();
    for rule in rules {
        let shape = (
            list(&rule.api_groups).to_vec(),
            list(&rule.resources).to_vec(),
            list(&rule.resource_names).to_vec(),
            list(&rule.non_resource_urls).to_vec(),
        );
        let verbs = merged.entry(shape).or_default();
        for verb in rule.verbs {
            if !verbs.contains(&verb) {
                verbs.push(verb);
            }
        }
    }
    let some = |v: Vec<String>| Some(v).filter(|v| !v.is_empty());
    merged
        .into_iter()
        .map(|((groups, resources, names, urls), verbs)| PolicyRule {
            api_groups: some(groups),
            resources: some(resources),
            resource_names: some(names),
            non_resource_urls: some(urls),
            verbs,
        })
        .collect()
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quoted(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// Upstream's `CompactString`: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`.
pub fn compact_string(rule: &PolicyRule) -> String {
    let mut parts = Vec::new();
    for (label, items) in [
        ("APIGroups", list(&rule.api_groups)),
        ("Resources", list(&rule.resources)),
        ("NonResourceURLs", list(&rule.non_resource_urls)),
        ("ResourceNames", list(&rule.resource_names)),
        ("Verbs", rule.verbs.as_slice()),
    ] {
        if !items.is_empty() {
            parts.push(format!("{label}:{}", go_quoted(items)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

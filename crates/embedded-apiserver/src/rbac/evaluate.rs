//! The pure RBAC decision: which rules apply to a user in a namespace, and
//! whether one of them allows a request. Follows upstream's RBAC authorizer
//! (`plugin/pkg/auth/authorizer/rbac`): ClusterRoleBindings grant everywhere,
//! RoleBindings only in their namespace, and `system:masters` is allowed
//! everything before RBAC is asked.

use super::{Policy, UserInfo};
use crate::authz::{Decision, RequestAttributes};
use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};

/// `*` in verbs, apiGroups, resources and nonResourceURLs.
pub(super) const ALL: &str = "*";

/// Whether `user` may do what `request` asks under `policy`.
pub fn authorize(user: &UserInfo, request: &RequestAttributes, policy: &Policy) -> Decision {
    let namespace = request.namespace.as_deref().unwrap_or_default();
    if user.is_privileged()
        || policy
            .rules_for(user, namespace)
            .iter()
            .any(|rule| rule_allows(rule, request))
    {
        Decision::Allow
    } else {
        Decision::Deny(forbidden_reason(user, request))
    }
}

/// Upstream's wording after `... is forbidden: `.
pub fn forbidden_reason(user: &UserInfo, request: &RequestAttributes) -> String {
    let name = &user.name;
    let verb = &request.verb;
    if let Some(path) = &request.non_resource_path {
        return format!("User {name:?} cannot {verb} path {path:?}");
    }
    let resource = match &request.subresource {
        Some(sub) => format!("{}/{sub}", request.resource),
        None => request.resource.clone(),
    };
    let group = &request.api_group;
    match request.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        Some(ns) => format!(
            "User {name:?} cannot {verb} resource {resource:?} in API group {group:?} in the namespace {ns:?}"
        ),
        None => format!(
            "User {name:?} cannot {verb} resource {resource:?} in API group {group:?} at the cluster scope"
        ),
    }
}

/// Whether a binding's subject names `user`. A ServiceAccount subject
/// without a namespace means the binding's own namespace.
pub(super) fn subject_matches(subject: &Subject, user: &UserInfo, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let namespace = subject
                .namespace
                .as_deref()
                .filter(|ns| !ns.is_empty())
                .unwrap_or(binding_namespace);
            !namespace.is_empty()
                && user.name == UserInfo::service_account_name(namespace, &subject.name)
        }
        _ => false,
    }
}

fn list(items: &Option<Vec<String>>) -> &[String] {
    items.as_deref().unwrap_or_default()
}

fn has(items: &[String], wanted: &str) -> bool {
    items.iter().any(|item| item == wanted)
}

/// Upstream's `RuleAllows`.
pub fn rule_allows(rule: &PolicyRule, request: &RequestAttributes) -> bool {
    let verb_matches = has(&rule.verbs, ALL) || has(&rule.verbs, &request.verb);
    if !verb_matches {
        return false;
    }
    if let Some(path) = &request.non_resource_path {
        return list(&rule.non_resource_urls)
            .iter()
            .any(|url| non_resource_url_covers(url, path));
    }
    let groups = list(&rule.api_groups);
    let group_matches = has(groups, ALL) || has(groups, &request.api_group);
    group_matches
        && resource_matches(
            list(&rule.resources),
            &request.resource,
            request.subresource.as_deref(),
        )
        && resource_name_matches(list(&rule.resource_names), request.name.as_deref())
}

/// `*`, the exact `resource[/subresource]`, or `*/subresource`.
fn resource_matches(rule_resources: &[String], resource: &str, subresource: Option<&str>) -> bool {
    rule_resources.iter().any(|candidate| {
        candidate == ALL
            || match subresource {
                None => candidate == resource,
                Some(sub) => candidate
                    .split_once('/')
                    .is_some_and(|(r, s)| (r == resource || r == ALL) && s == sub),
            }
    })
}

/// A rule without resourceNames allows every name; one with them allows only
/// requests that carry one of those names (never a create or an unfiltered list).
fn resource_name_matches(rule_names: &[String], name: Option<&str>) -> bool {
    rule_names.is_empty() || name.is_some_and(|name| has(rule_names, name))
}

/// An exact path, or a prefix when the rule's URL ends in `*`.
pub(super) fn non_resource_url_covers(rule_url: &str, path: &str) -> bool {
    rule_url == ALL
        || rule_url == path
        || rule_url
            .strip_suffix('*')
            .is_some_and(|prefix| path.starts_with(prefix))
}

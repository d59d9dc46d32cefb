use super::*;
use serde_json::json;

const NS: &str = "town";

fn sa() -> UserInfo {
    UserInfo::service_account(NS, "operator")
}

fn resource(
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> RequestAttributes {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r.to_owned(), Some(s.to_owned())),
        None => (resource.to_owned(), None),
    };
    RequestAttributes {
        bearer_token: None,
        verb: verb.into(),
        api_group: group.into(),
        resource,
        subresource,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        non_resource_path: None,
    }
}

fn path(verb: &str, path: &str) -> RequestAttributes {
    RequestAttributes {
        non_resource_path: Some(path.into()),
        ..resource(verb, "", "", None, None)
    }
}

fn role(namespace: Option<&str>, name: &str, rules: Value) -> Value {
    let kind = if namespace.is_some() {
        "Role"
    } else {
        "ClusterRole"
    };
    json!({ "kind": kind, "metadata": { "name": name, "namespace": namespace }, "rules": rules })
}

fn binding(namespace: Option<&str>, name: &str, role_kind: &str, subjects: Value) -> Value {
    let kind = if namespace.is_some() {
        "RoleBinding"
    } else {
        "ClusterRoleBinding"
    };
    json!({
        "kind": kind, "metadata": { "name": name, "namespace": namespace },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name },
        "subjects": subjects,
    })
}

fn operator_subject() -> Value {
    json!([{ "kind": "ServiceAccount", "name": "operator", "namespace": NS }])
}

/// The operator's ServiceAccount holds `rules` in namespace `town` through a Role.
fn namespaced(rules: Value) -> Policy {
    Policy::from_objects(&[
        role(Some(NS), "r", rules),
        binding(Some(NS), "r", "Role", operator_subject()),
    ])
}

fn allowed(policy: &Policy, request: &RequestAttributes) -> bool {
    authorize(&sa(), request, policy) == Decision::Allow
}

#[test]
fn rules_match_verbs_groups_resources_and_subresources() {
    let policy = namespaced(json!([
        { "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"] },
        { "apiGroups": ["gastown.io"], "resources": ["gastowns/status"], "verbs": ["patch"] },
        { "apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["update"] },
        { "apiGroups": ["*"], "resources": ["leases"], "verbs": ["*"] },
    ]));
    let table = [
        (resource("get", "", "pods", Some(NS), Some("p")), true),
        (resource("list", "", "pods", Some(NS), None), true),
        (resource("watch", "", "pods", Some(NS), None), false),
        (resource("get", "apps", "pods", Some(NS), Some("p")), false),
        (resource("get", "", "pods/log", Some(NS), Some("p")), false),
        (
            resource(
                "patch",
                "gastown.io",
                "gastowns/status",
                Some(NS),
                Some("t"),
            ),
            true,
        ),
        (
            resource("patch", "gastown.io", "gastowns", Some(NS), Some("t")),
            false,
        ),
        (
            resource("update", "apps", "deployments/scale", Some(NS), Some("d")),
            true,
        ),
        (
            resource("update", "apps", "deployments", Some(NS), Some("d")),
            false,
        ),
        (
            resource(
                "delete",
                "coordination.k8s.io",
                "leases",
                Some(NS),
                Some("l"),
            ),
            true,
        ),
        // A Role grants only in its namespace, and never cluster-wide.
        (
            resource("get", "", "pods", Some("elsewhere"), Some("p")),
            false,
        ),
        (resource("list", "", "pods", None, None), false),
    ];
    for (request, expected) in table {
        assert_eq!(allowed(&policy, &request), expected, "{request:?}");
    }
}

#[test]
fn resource_names_limit_named_requests_only() {
    let policy = namespaced(json!([
        { "apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["op"], "verbs": ["get", "patch", "create", "list"] },
    ]));
    let lease = |verb, name| resource(verb, "coordination.k8s.io", "leases", Some(NS), name);
    assert!(allowed(&policy, &lease("get", Some("op"))));
    assert!(allowed(&policy, &lease("patch", Some("op"))));
    assert!(!allowed(&policy, &lease("get", Some("other"))));
    // A create names no object when it is authorized; a list without a name selector neither.
    assert!(!allowed(&policy, &lease("create", None)));
    assert!(!allowed(&policy, &lease("list", None)));
    assert!(allowed(&policy, &lease("list", Some("op"))));
}

#[test]
fn subjects_are_users_groups_and_service_accounts() {
    let rules = json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }]);
    let get = resource("get", "", "pods", Some(NS), Some("p"));
    let cases = [
        (
            json!([{ "kind": "User", "name": "system:serviceaccount:town:operator" }]),
            true,
        ),
        (json!([{ "kind": "User", "name": "someone" }]), false),
        (
            json!([{ "kind": "Group", "name": "system:serviceaccounts:town" }]),
            true,
        ),
        (
            json!([{ "kind": "Group", "name": "system:serviceaccounts:other" }]),
            false,
        ),
        (
            json!([{ "kind": "Group", "name": "system:authenticated" }]),
            true,
        ),
        // Without a namespace, a ServiceAccount subject means the binding's namespace.
        (
            json!([{ "kind": "ServiceAccount", "name": "operator" }]),
            true,
        ),
        (
            json!([{ "kind": "ServiceAccount", "name": "operator", "namespace": "other" }]),
            false,
        ),
    ];
    for (subjects, expected) in cases {
        let policy = Policy::from_objects(&[
            role(Some(NS), "r", rules.clone()),
            binding(Some(NS), "r", "Role", subjects.clone()),
        ]);
        assert_eq!(allowed(&policy, &get), expected, "{subjects}");
    }
}

#[test]
fn cluster_roles_grant_everywhere_through_cluster_bindings_and_in_one_namespace_through_role_bindings()
 {
    let rules = json!([{ "apiGroups": ["scheduling.k8s.io", ""], "resources": ["priorityclasses", "pods"], "verbs": ["list"] }]);
    let everywhere = Policy::from_objects(&[
        role(None, "c", rules.clone()),
        binding(None, "c", "ClusterRole", operator_subject()),
    ]);
    assert!(allowed(
        &everywhere,
        &resource("list", "scheduling.k8s.io", "priorityclasses", None, None)
    ));
    assert!(allowed(
        &everywhere,
        &resource("list", "", "pods", Some("any"), None)
    ));

    let one_namespace = Policy::from_objects(&[
        role(None, "c", rules),
        binding(Some(NS), "c", "ClusterRole", operator_subject()),
    ]);
    assert!(allowed(
        &one_namespace,
        &resource("list", "", "pods", Some(NS), None)
    ));
    assert!(!allowed(
        &one_namespace,
        &resource("list", "", "pods", Some("any"), None)
    ));
    assert!(!allowed(
        &one_namespace,
        &resource("list", "scheduling.k8s.io", "priorityclasses", None, None)
    ));
}

#[test]
fn a_binding_to_a_missing_role_grants_nothing() {
    let policy = Policy::from_objects(&[binding(Some(NS), "gone", "Role", operator_subject())]);
    assert!(!allowed(
        &policy,
        &resource("get", "", "pods", Some(NS), Some("p"))
    ));
}

#[test]
fn non_resource_urls_come_from_cluster_roles_bound_cluster_wide() {
    let rules = json!([{ "nonResourceURLs": ["/healthz", "/apis/*"], "verbs": ["get"] }]);
    let policy = Policy::from_objects(&[
        role(None, "c", rules.clone()),
        binding(None, "c", "ClusterRole", operator_subject()),
    ]);
    assert!(allowed(&policy, &path("get", "/healthz")));
    assert!(allowed(&policy, &path("get", "/apis/apps/v1")));
    assert!(!allowed(&policy, &path("get", "/api/v1")));
    assert!(!allowed(&policy, &path("post", "/healthz")));
    let namespaced_binding = Policy::from_objects(&[
        role(None, "c", rules),
        binding(Some(NS), "c", "ClusterRole", operator_subject()),
    ]);
    assert!(!allowed(&namespaced_binding, &path("get", "/healthz")));
}

#[test]
fn masters_are_allowed_everything() {
    let request = resource("delete", "", "namespaces", None, Some("kube-system"));
    assert_eq!(
        authorize(&UserInfo::admin(), &request, &Policy::default()),
        Decision::Allow
    );
    assert_ne!(
        authorize(&UserInfo::anonymous(), &request, &Policy::default()),
        Decision::Allow
    );
}

#[test]
fn refusals_read_like_upstream() {
    let policy = Policy::default();
    let cases = [
        (
            resource("get", "", "pods", Some("ns"), Some("x")),
            r#"User "system:serviceaccount:town:operator" cannot get resource "pods" in API group "" in the namespace "ns""#,
        ),
        (
            resource(
                "patch",
                "gastown.io",
                "gastowns/status",
                Some("ns"),
                Some("t"),
            ),
            r#"User "system:serviceaccount:town:operator" cannot patch resource "gastowns/status" in API group "gastown.io" in the namespace "ns""#,
        ),
        (
            resource("list", "scheduling.k8s.io", "priorityclasses", None, None),
            r#"User "system:serviceaccount:town:operator" cannot list resource "priorityclasses" in API group "scheduling.k8s.io" at the cluster scope"#,
        ),
        (
            path("get", "/version"),
            r#"User "system:serviceaccount:town:operator" cannot get path "/version""#,
        ),
    ];
    for (request, message) in cases {
        assert_eq!(
            authorize(&sa(), &request, &policy),
            Decision::Deny(message.into())
        );
    }
}

fn rule(value: Value) -> PolicyRule {
    serde_json::from_value(value).unwrap()
}

#[test]
fn coverage_breaks_rules_down_and_honours_stars_subresources_and_names() {
    let held = |v| rule(v);
    let cases = [
        (
            json!({ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"] }),
            json!({ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }),
            true,
        ),
        (
            json!({ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }),
            json!({ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"] }),
            false,
        ),
        (
            json!({ "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] }),
            json!({ "apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["update"] }),
            true,
        ),
        (
            json!({ "apiGroups": [""], "resources": ["*/log"], "verbs": ["get"] }),
            json!({ "apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"] }),
            true,
        ),
        (
            json!({ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }),
            json!({ "apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"] }),
            false,
        ),
        // Names: an unrestricted rule covers a named one, not the other way round.
        (
            json!({ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }),
            json!({ "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"], "verbs": ["get"] }),
            true,
        ),
        (
            json!({ "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"], "verbs": ["get"] }),
            json!({ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }),
            false,
        ),
        (
            json!({ "nonResourceURLs": ["/apis/*"], "verbs": ["get"] }),
            json!({ "nonResourceURLs": ["/apis/apps"], "verbs": ["get"] }),
            true,
        ),
    ];
    for (owner, wanted, expected) in cases {
        let owner = held(owner);
        let all_covered = breakdown(&rule(wanted.clone()))
            .iter()
            .all(|part| covers(&owner, part));
        assert_eq!(all_covered, expected, "{owner:?} covering {wanted}");
    }
}

#[test]
fn breakdown_yields_one_permission_per_rule() {
    let parts = breakdown(&rule(json!({
        "apiGroups": ["", "apps"], "resources": ["pods"], "resourceNames": ["a", "b"], "verbs": ["get"]
    })));
    let shown: Vec<String> = parts.iter().map(compact_string).collect();
    assert_eq!(
        shown,
        [
            r#"{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get"]}"#,
            r#"{APIGroups:[""], Resources:["pods"], ResourceNames:["b"], Verbs:["get"]}"#,
            r#"{APIGroups:["apps"], Resources:["pods"], ResourceNames:["a"], Verbs:["get"]}"#,
            r#"{APIGroups:["apps"], Resources:["pods"], ResourceNames:["b"], Verbs:["get"]}"#,
        ]
    );
}

fn write(kind: &str, value: Value) -> RbacWrite {
    RbacWrite::decode(kind, &value).expect("an RBAC object")
}

#[test]
fn roles_may_grant_only_what_their_writer_holds_unless_it_may_escalate() {
    let holds = json!([
        { "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"] },
        { "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["create"] },
    ]);
    let policy = namespaced(holds.clone());
    let agent_role = |verbs: Value| {
        write(
            "Role",
            role(
                Some(NS),
                "agent",
                json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": verbs }]),
            ),
        )
    };
    assert_eq!(
        check_write(
            &sa(),
            NS,
            "agent",
            &agent_role(json!(["get", "watch"])),
            &policy
        ),
        Ok(())
    );
    let refused = check_write(
        &sa(),
        NS,
        "agent",
        &agent_role(json!(["get", "delete", "create"])),
        &policy,
    );
    assert_eq!(
        refused,
        Err(r#"user "system:serviceaccount:town:operator" (groups=["system:serviceaccounts" "system:serviceaccounts:town" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["pods"], Verbs:["delete" "create"]}"#
            .into())
    );
    // Held elsewhere does not count.
    assert!(
        check_write(
            &sa(),
            "other",
            "agent",
            &agent_role(json!(["get"])),
            &policy
        )
        .is_err()
    );

    let mut escalating = holds.as_array().unwrap().clone();
    escalating.push(json!({ "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"] }));
    let policy = namespaced(json!(escalating));
    assert_eq!(
        check_write(&sa(), NS, "agent", &agent_role(json!(["delete"])), &policy),
        Ok(())
    );
    assert_eq!(
        check_write(
            &UserInfo::admin(),
            NS,
            "agent",
            &agent_role(json!(["*"])),
            &Policy::default()
        ),
        Ok(())
    );
}

#[test]
fn bindings_need_the_roles_permissions_or_bind() {
    let agent = role(
        Some(NS),
        "agent",
        json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }]),
    );
    let agent_binding = write(
        "RoleBinding",
        binding(
            Some(NS),
            "agent",
            "Role",
            json!([{ "kind": "ServiceAccount", "name": "agent" }]),
        ),
    );
    let operator = |rules: Value| {
        let mut objects = vec![agent.clone()];
        objects.push(role(Some(NS), "r", rules));
        objects.push(binding(Some(NS), "r", "Role", operator_subject()));
        Policy::from_objects(&objects)
    };
    let holds_pods =
        operator(json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] }]));
    assert_eq!(
        check_write(&sa(), NS, "agent", &agent_binding, &holds_pods),
        Ok(())
    );

    let holds_nothing = operator(json!([]));
    assert!(check_write(&sa(), NS, "agent", &agent_binding, &holds_nothing).is_err());

    let may_bind = operator(
        json!([{ "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "resourceNames": ["agent"], "verbs": ["bind"] }]),
    );
    assert_eq!(
        check_write(&sa(), NS, "agent", &agent_binding, &may_bind),
        Ok(())
    );

    let missing_role = write(
        "RoleBinding",
        json!({ "kind": "RoleBinding", "metadata": { "name": "b", "namespace": NS },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "nope" }, "subjects": [] }),
    );
    assert_eq!(
        check_write(&sa(), NS, "b", &missing_role, &holds_pods),
        Err(r#"roles.rbac.authorization.k8s.io "nope" not found"#.into())
    );
}

#[test]
fn updates_touching_only_garbage_collection_fields_are_not_checked() {
    let old = role(Some(NS), "agent", json!([]));
    let mut new = old.clone();
    new["metadata"]["ownerReferences"] = json!([{ "uid": "u" }]);
    new["metadata"]["finalizers"] = json!(["f"]);
    assert!(only_garbage_collection_fields_change(&old, &new));
    new["rules"] = json!([{ "verbs": ["*"] }]);
    assert!(!only_garbage_collection_fields_change(&old, &new));
}

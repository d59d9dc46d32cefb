//! RBAC mode through kube::Client: a ServiceAccount's token is allowed what
//! its bindings grant and refused the rest with upstream's 403, tokens are
//! authenticated, and Roles or bindings cannot escalate.

mod support;

use embedded_apiserver::{Config, EmbeddedApiServer};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const NS: &str = "town";
const SA: &str = "operator";

async fn rbac_server() -> EmbeddedApiServer {
    EmbeddedApiServer::start(Config {
        rbac: true,
        ..Config::default()
    })
    .await
    .expect("server starts")
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a valid object")
}

/// As the admin: the namespace, and a Role bound to the ServiceAccount.
async fn grant(admin: &Client, rules: Value) {
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    if namespaces.get_opt(NS).await.unwrap().is_none() {
        let namespace = from_json(json!({ "metadata": { "name": NS } }));
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
    }
    let roles: Api<Role> = Api::namespaced(admin.clone(), NS);
    let role = from_json(json!({ "metadata": { "name": SA }, "rules": rules }));
    roles.create(&PostParams::default(), &role).await.unwrap();
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), NS);
    let binding = from_json(json!({
        "metadata": { "name": SA },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SA },
        "subjects": [{ "kind": "ServiceAccount", "name": SA, "namespace": NS }],
    }));
    bindings
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

fn status(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

fn config_map(name: &str) -> ConfigMap {
    from_json(json!({ "metadata": { "name": name } }))
}

#[tokio::test]
async fn a_service_account_may_do_what_its_role_grants_and_nothing_else() {
    let server = rbac_server().await;
    support::bounded(async {
        let admin = server.client().unwrap();
        grant(
            &admin,
            json!([{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create"] }]),
        )
        .await;
        let token = server.service_account_token(NS, SA);
        let operator = server.client_for_token(&token).unwrap();
        let maps: Api<ConfigMap> = Api::namespaced(operator.clone(), NS);
        maps.create(&PostParams::default(), &config_map("c1")).await.unwrap();
        maps.get("c1").await.unwrap();
        assert_eq!(maps.list(&ListParams::default()).await.unwrap().items.len(), 1);

        let refused = status(maps.delete("c1", &Default::default()).await.unwrap_err());
        assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
        assert_eq!(
            refused.message,
            r#"configmaps "c1" is forbidden: User "system:serviceaccount:town:operator" cannot delete resource "configmaps" in API group "" in the namespace "town""#
        );
        let elsewhere: Api<ConfigMap> = Api::namespaced(operator.clone(), "default");
        let refused = status(elsewhere.list(&ListParams::default()).await.unwrap_err());
        assert_eq!(
            refused.message,
            r#"configmaps is forbidden: User "system:serviceaccount:town:operator" cannot list resource "configmaps" in API group "" in the namespace "default""#
        );
        let pods: Api<Pod> = Api::all(operator);
        let refused = status(pods.list(&ListParams::default()).await.unwrap_err());
        assert!(refused.message.ends_with("at the cluster scope"), "{}", refused.message);
        assert_eq!(server.forbidden().len(), 3, "{:#?}", server.forbidden());
        // The decision log: the admin's requests are not in it, the operator's all are.
        let checks = server.rbac_checks();
        let decided: Vec<(&str, bool)> = checks
            .iter()
            .map(|c| (c.request.verb.as_str(), c.allowed))
            .collect();
        assert_eq!(
            decided,
            [("create", true), ("get", true), ("list", true), ("delete", false), ("list", false), ("list", false)]
        );
        assert!(checks.iter().all(|c| c.user.name == "system:serviceaccount:town:operator"
            && c.request.bearer_token.is_none()));
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn tokens_are_authenticated_and_discovery_is_open_to_the_authenticated() {
    let server = rbac_server().await;
    support::bounded(async {
        let unknown = server.client_for_token("not-a-token").unwrap();
        let refused = status(unknown.apiserver_version().await.unwrap_err());
        assert_eq!(
            (refused.code, refused.message.as_str()),
            (401, "Unauthorized")
        );

        // Bootstrap policy: discovery for every authenticated user, nothing more.
        let token = server.service_account_token(NS, SA);
        let operator = server.client_for_token(&token).unwrap();
        operator.apiserver_version().await.unwrap();
        operator.list_api_groups().await.unwrap();
        let namespaces: Api<Namespace> = Api::all(operator);
        let refused = status(namespaces.list(&ListParams::default()).await.unwrap_err());
        assert_eq!(refused.code, 403);

        // Without credentials (client-go sends no token over plain HTTP): the admin.
        let anonymous = Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
        Api::<Namespace>::all(anonymous)
            .list(&ListParams::default())
            .await
            .unwrap();

        // The admin's kubeconfig carries its token.
        assert!(server.kubeconfig_yaml().contains("token: "));
        assert!(server.kubeconfig_yaml_for_token(&token).contains(&token));
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn resource_names_and_apply_that_creates() {
    let server = rbac_server().await;
    support::bounded(async {
        let admin = server.client().unwrap();
        grant(
            &admin,
            json!([
                { "apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["op"], "verbs": ["get", "patch"] },
            ]),
        )
        .await;
        let token = server.service_account_token(NS, SA);
        let leases: Api<Lease> = Api::namespaced(server.client_for_token(&token).unwrap(), NS);
        let apply = PatchParams::apply("test");
        let lease = json!({ "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": { "name": "op" } });
        // Applying a missing object creates it, which needs `create` (not limited by name).
        let refused = status(leases.patch("op", &apply, &Patch::Apply(&lease)).await.unwrap_err());
        assert!(refused.message.contains("cannot create resource \"leases\""), "{}", refused.message);

        let admin_leases: Api<Lease> = Api::namespaced(admin, NS);
        admin_leases.patch("op", &apply, &Patch::Apply(&lease)).await.unwrap();
        leases.get("op").await.unwrap();
        leases.patch("op", &apply, &Patch::Apply(&lease)).await.unwrap();
        let refused = status(leases.get("other").await.unwrap_err());
        assert_eq!(refused.code, 403);
        // A list narrowed to the name is a request for that name.
        let narrowed = ListParams::default().fields("metadata.name=op");
        let refused = status(leases.list(&narrowed).await.unwrap_err());
        assert_eq!(refused.code, 403, "list is not granted, even by name");
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn roles_and_bindings_cannot_grant_more_than_their_writer_holds() {
    let server = rbac_server().await;
    support::bounded(async {
        let admin = server.client().unwrap();
        grant(
            &admin,
            json!([
                { "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"] },
                { "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "patch"] },
            ]),
        )
        .await;
        let token = server.service_account_token(NS, SA);
        let operator = server.client_for_token(&token).unwrap();
        let roles: Api<Role> = Api::namespaced(operator.clone(), NS);
        let agent = |verbs: Value| -> Role {
            from_json(json!({ "metadata": { "name": "agent" }, "rules": [{ "apiGroups": [""], "resources": ["pods"], "verbs": verbs }] }))
        };
        let refused = status(roles.create(&PostParams::default(), &agent(json!(["get", "delete"]))).await.unwrap_err());
        assert_eq!(refused.code, 403);
        assert!(
            refused.message.starts_with(r#"roles.rbac.authorization.k8s.io "agent" is forbidden: user "system:serviceaccount:town:operator""#)
                && refused.message.ends_with(r#"is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}"#),
            "{}",
            refused.message
        );
        roles.create(&PostParams::default(), &agent(json!(["get"]))).await.unwrap();
        // Server-side apply goes through the same check on the object it produces.
        let widened = json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": { "name": "agent" },
            "rules": [{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch"] }] });
        let refused = status(roles.patch("agent", &PatchParams::apply("op").force(), &Patch::Apply(&widened)).await.unwrap_err());
        assert!(refused.message.contains(r#"Verbs:["watch"]"#), "{}", refused.message);

        let bindings: Api<RoleBinding> = Api::namespaced(operator, NS);
        let bind = |role: &str| -> RoleBinding {
            from_json(json!({
                "metadata": { "name": role },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role },
                "subjects": [{ "kind": "ServiceAccount", "name": "agent" }],
            }))
        };
        // Binding a Role whose permissions it holds needs no `bind`; binding one it does not is refused.
        bindings.create(&PostParams::default(), &bind("agent")).await.unwrap();
        let admin_roles: Api<Role> = Api::namespaced(admin, NS);
        let secret_reader: Role = from_json(json!({ "metadata": { "name": "secrets" },
            "rules": [{ "apiGroups": [""], "resources": ["secrets"], "verbs": ["get"] }] }));
        admin_roles.create(&PostParams::default(), &secret_reader).await.unwrap();
        let refused = status(bindings.create(&PostParams::default(), &bind("secrets")).await.unwrap_err());
        assert!(refused.message.contains(r#"Resources:["secrets"]"#), "{}", refused.message);
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn owner_references_that_block_deletion_need_the_owners_finalizers_when_enforced() {
    let server = EmbeddedApiServer::start(Config {
        rbac: true,
        owner_references_permission_enforcement: true,
        ..Config::default()
    })
    .await
    .expect("server starts");
    support::bounded(async {
        let admin = server.client().unwrap();
        grant(
            &admin,
            json!([{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "patch"] }]),
        )
        .await;
        let owner = Api::<ConfigMap>::namespaced(admin.clone(), NS)
            .create(&PostParams::default(), &config_map("owner"))
            .await
            .unwrap();
        let owned_by = |name: &str, block: bool| -> ConfigMap {
            from_json(json!({ "metadata": { "name": name, "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                "uid": owner.metadata.uid, "blockOwnerDeletion": block,
            }]}}))
        };
        let token = server.service_account_token(NS, SA);
        let operator = server.client_for_token(&token).unwrap();
        let maps: Api<ConfigMap> = Api::namespaced(operator, NS);
        let post = PostParams::default();

        // Creating with a reference is the creator's right; blocking the owner's deletion is not.
        let refused = status(maps.create(&post, &owned_by("blocking", true)).await.unwrap_err());
        assert_eq!(refused.code, 403);
        assert_eq!(
            refused.message,
            "configmaps \"blocking\" is forbidden: cannot set blockOwnerDeletion if an \
             ownerReference refers to a resource you can't set finalizers on: , <nil>"
        );
        maps.create(&post, &owned_by("plain", false)).await.unwrap();
        // Changing the references of an existing object needs delete on it.
        let patch = json!({ "metadata": { "ownerReferences": null } });
        let refused = status(
            maps.patch("plain", &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            refused.message,
            "configmaps \"plain\" is forbidden: cannot set an ownerRef on a resource you \
             can't delete: , <nil>"
        );
        // What the refusals asked for are recorded as decisions.
        let checks = server.rbac_checks();
        let asked = |verb: &str, subresource: Option<&str>| {
            checks.iter().any(|c| {
                !c.allowed
                    && c.request.verb == verb
                    && c.request.subresource.as_deref() == subresource
            })
        };
        assert!(asked("update", Some("finalizers")) && asked("delete", None));

        // Granted both, the same writes pass.
        let roles: Api<Role> = Api::namespaced(admin.clone(), NS);
        let more = json!({ "rules": [
            { "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "patch", "delete"] },
            { "apiGroups": [""], "resources": ["configmaps/finalizers"], "verbs": ["update"] },
        ]});
        roles
            .patch(SA, &PatchParams::default(), &Patch::Merge(&more))
            .await
            .unwrap();
        maps.create(&post, &owned_by("blocking", true)).await.unwrap();
        maps.patch("plain", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    })
    .await;

    // Off (kube-apiserver's default), RBAC alone decides.
    let server = rbac_server().await;
    support::bounded(async {
        let admin = server.client().unwrap();
        grant(
            &admin,
            json!([{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"] }]),
        )
        .await;
        let owner = Api::<ConfigMap>::namespaced(admin.clone(), NS)
            .create(&PostParams::default(), &config_map("owner"))
            .await
            .unwrap();
        let token = server.service_account_token(NS, SA);
        let maps: Api<ConfigMap> = Api::namespaced(server.client_for_token(&token).unwrap(), NS);
        let blocking: ConfigMap = from_json(json!({ "metadata": { "name": "blocking",
            "ownerReferences": [{ "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                "uid": owner.metadata.uid, "blockOwnerDeletion": true }]}}));
        maps.create(&PostParams::default(), &blocking)
            .await
            .unwrap();
    })
    .await;
}

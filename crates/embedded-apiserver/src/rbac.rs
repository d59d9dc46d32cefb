//! Authentication by bearer token and authorization by RBAC, as kube-apiserver
//! does with `--authorization-mode=RBAC`. Opt-in ([`Config::rbac`](crate::Config)):
//! without it every request is allowed, as before.
//!
//! - Tokens map to users: the server's own client is an admin (group
//!   `system:masters`, allowed everything); tests mint ServiceAccount tokens
//!   with [`EmbeddedApiServer::service_account_token`](crate::EmbeddedApiServer::service_account_token).
//!   An unknown token gets 401. A request without credentials is the admin's,
//!   like kube-apiserver's former insecure port: client-go (kubectl, Helm)
//!   never sends a bearer token over plain HTTP, so the server's kubeconfig
//!   could not authenticate otherwise. kube-rs clients do send tokens.
//! - Every request, resource or not, is checked against the stored Roles,
//!   ClusterRoles and their bindings ([`authorize`], pure); a refusal is
//!   upstream's 403 `... is forbidden: User "..." cannot ...`.
//! - Writes of Roles and bindings go through escalation prevention
//!   ([`check_write`]): granting or binding permissions one does not hold
//!   needs `escalate` or `bind`.
//! - Optionally, the OwnerReferencesPermissionEnforcement admission plugin
//!   ([`owner_references`]): owner references that block their owner's
//!   deletion need `update` of the owner's `finalizers`.
//! - The server starts with upstream's bootstrap roles that matter here:
//!   `cluster-admin` for `system:masters`, `system:discovery` and
//!   `system:public-info-viewer`.
//! - Tests read what happened: every decision for a non-admin user
//!   ([`EmbeddedApiServer::rbac_checks`](crate::EmbeddedApiServer::rbac_checks))
//!   and every 403 ([`EmbeddedApiServer::forbidden`](crate::EmbeddedApiServer::forbidden)),
//!   enough to prove a policy minimal by replaying the decisions without one
//!   permission (gastown-operator's `tests/rbac_minimal.rs`).

mod escalation;
mod evaluate;
mod owner_references;
#[cfg(test)]
mod tests;

pub use escalation::{
    RbacWrite, breakdown, check_write, compact_string, confirm_no_escalation, covers,
};
pub use evaluate::{authorize, forbidden_reason, rule_allows};
pub(crate) use owner_references::OwnerReferencesAdmission;

use crate::authz::{Decision, RequestAttributes};
use crate::cluster::{Cluster, WriteOptions};
use crate::errors::{ApiError, ApiResult};
use crate::registry::{ResourceKey, Served};
use crate::server::AppState;
use crate::store::Store;
use escalation::GROUP;
use evaluate::subject_matches;
use http::{HeaderMap, StatusCode, header};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The group whose members are allowed everything.
pub const MASTERS: &str = "system:masters";
const AUTHENTICATED: &str = "system:authenticated";
const UNAUTHENTICATED: &str = "system:unauthenticated";

/// Who sends a request, as authentication found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The identity of the server's own client and kubeconfig.
    pub fn admin() -> Self {
        Self {
            name: "system:admin".into(),
            groups: vec![MASTERS.into(), AUTHENTICATED.into()],
        }
    }

    /// A request without credentials.
    pub fn anonymous() -> Self {
        Self {
            name: "system:anonymous".into(),
            groups: vec![UNAUTHENTICATED.into()],
        }
    }

    /// `system:serviceaccount:<namespace>:<name>` with upstream's groups.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            name: Self::service_account_name(namespace, name),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                AUTHENTICATED.into(),
            ],
        }
    }

    pub fn service_account_name(namespace: &str, name: &str) -> String {
        format!("system:serviceaccount:{namespace}:{name}")
    }

    /// Members of `system:masters` pass authorization and escalation checks.
    pub fn is_privileged(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }
}

/// The RBAC objects in force.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub roles: Vec<Role>,
    pub cluster_roles: Vec<ClusterRole>,
    pub role_bindings: Vec<RoleBinding>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
}

fn resource_key(plural: &str) -> ResourceKey {
    ResourceKey {
        group: GROUP.into(),
        plural: plural.into(),
    }
}

impl Policy {
    /// The policy made of `objects` (any kinds; non-RBAC ones are ignored).
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut policy = Policy::default();
        for object in objects {
            let kind = object["kind"].as_str().unwrap_or_default();
            match RbacWrite::decode(kind, object) {
                Some(RbacWrite::Role(role)) => policy.roles.push(role),
                Some(RbacWrite::ClusterRole(role)) => policy.cluster_roles.push(role),
                Some(RbacWrite::RoleBinding(binding)) => policy.role_bindings.push(binding),
                Some(RbacWrite::ClusterRoleBinding(binding)) => {
                    policy.cluster_role_bindings.push(binding)
                }
                None => {}
            }
        }
        policy
    }

    /// The RBAC objects stored now.
    pub(crate) fn from_store(store: &Store) -> Self {
        let kinds = [
            ("roles", "Role"),
            ("clusterroles", "ClusterRole"),
            ("rolebindings", "RoleBinding"),
            ("clusterrolebindings", "ClusterRoleBinding"),
        ];
        let mut objects = Vec::new();
        for (plural, kind) in kinds {
            let key = resource_key(plural);
            for (_, object) in store.range(&key, None, None) {
                // The collection implies the kind; stored objects need not say it.
                let mut object = (**object).clone();
                object["kind"] = json!(kind);
                objects.push(object);
            }
        }
        Self::from_objects(&objects)
    }

    /// The rules a binding in `namespace` (empty for a ClusterRoleBinding)
    /// grants through `role_ref`; `None` when the role does not exist.
    pub fn role_ref_rules(&self, role_ref: &RoleRef, namespace: &str) -> Option<&[PolicyRule]> {
        let rules = match role_ref.kind.as_str() {
            "ClusterRole" => self
                .cluster_roles
                .iter()
                .find(|r| r.metadata.name.as_deref() == Some(role_ref.name.as_str()))?
                .rules
                .as_deref(),
            "Role" if !namespace.is_empty() => self
                .roles
                .iter()
                .find(|r| {
                    r.metadata.name.as_deref() == Some(role_ref.name.as_str())
                        && r.metadata.namespace.as_deref() == Some(namespace)
                })?
                .rules
                .as_deref(),
            _ => return None,
        };
        Some(rules.unwrap_or_default())
    }

    /// Every rule `user` holds in `namespace`: through ClusterRoleBindings,
    /// and through the namespace's RoleBindings (none when it is empty).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<&PolicyRule> {
        let binds = |subjects: &Option<Vec<_>>, binding_namespace: &str| {
            subjects
                .iter()
                .flatten()
                .any(|s| subject_matches(s, user, binding_namespace))
        };
        let cluster_wide = self
            .cluster_role_bindings
            .iter()
            .filter(|b| binds(&b.subjects, ""))
            .filter_map(|b| self.role_ref_rules(&b.role_ref, ""));
        let in_namespace = self
            .role_bindings
            .iter()
            .filter(|b| !namespace.is_empty() && b.metadata.namespace.as_deref() == Some(namespace))
            .filter(|b| binds(&b.subjects, namespace))
            .filter_map(|b| self.role_ref_rules(&b.role_ref, namespace));
        cluster_wide.chain(in_namespace).flatten().collect()
    }
}

/// The server's RBAC state: who each token is, and the policy as last read.
pub(crate) struct Rbac {
    tokens: Mutex<HashMap<String, Arc<UserInfo>>>,
    admin_token: String,
    /// The policy and the store resourceVersion it was read at.
    policy: Mutex<Option<(u64, Arc<Policy>)>>,
    /// Messages of the 403s answered so far, oldest first.
    refusals: Mutex<Vec<String>>,
    /// Every request RBAC decided for a user outside `system:masters`, oldest first,
    /// and the authorizations admission asked for them.
    checked: Arc<Mutex<Vec<Checked>>>,
    /// Whether OwnerReferencesPermissionEnforcement admits writes.
    enforce_owner_references: bool,
}

/// One request RBAC decided (tokens removed).
#[derive(Clone, Debug)]
pub struct Checked {
    pub user: UserInfo,
    pub request: RequestAttributes,
    pub allowed: bool,
}

fn mint_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Rbac {
    pub(crate) fn new(enforce_owner_references: bool) -> Self {
        let admin_token = mint_token();
        let tokens = HashMap::from([(admin_token.clone(), Arc::new(UserInfo::admin()))]);
        Self {
            tokens: Mutex::new(tokens),
            admin_token,
            policy: Mutex::new(None),
            refusals: Mutex::new(Vec::new()),
            checked: Arc::new(Mutex::new(Vec::new())),
            enforce_owner_references,
        }
    }

    /// The OwnerReferencesPermissionEnforcement plugin, when it is on.
    pub(crate) fn owner_references_admission(&self) -> Option<OwnerReferencesAdmission> {
        self.enforce_owner_references
            .then(|| OwnerReferencesAdmission {
                checked: Arc::clone(&self.checked),
            })
    }

    pub(crate) fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// A new token that authenticates as `user`.
    pub(crate) fn mint(&self, user: UserInfo) -> String {
        let token = mint_token();
        self.tokens.lock().insert(token.clone(), Arc::new(user));
        token
    }

    /// The user a token minted here authenticates as.
    pub(crate) fn user_of(&self, token: &str) -> Option<Arc<UserInfo>> {
        self.tokens.lock().get(token).cloned()
    }

    /// The request's user: its bearer token's, the admin without credentials
    /// (see the module docs), 401 for an unknown token.
    fn authenticate(&self, headers: &HeaderMap) -> ApiResult<Arc<UserInfo>> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(Arc::new(UserInfo::admin()));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        token
            .and_then(|t| self.tokens.lock().get(t).cloned())
            .ok_or_else(|| ApiError::Other {
                code: StatusCode::UNAUTHORIZED,
                message: "Unauthorized".into(),
            })
    }

    /// The stored policy, re-read only after the store changed.
    fn policy(&self, app: &AppState) -> Arc<Policy> {
        let cluster = app.cluster.lock();
        let rv = cluster.store.current_rv();
        let mut cached = self.policy.lock();
        match &*cached {
            Some((at, policy)) if *at == rv => Arc::clone(policy),
            _ => {
                let policy = Arc::new(Policy::from_store(&cluster.store));
                *cached = Some((rv, Arc::clone(&policy)));
                policy
            }
        }
    }

    pub(crate) fn refusals(&self) -> Vec<String> {
        self.refusals.lock().clone()
    }

    pub(crate) fn checked(&self) -> Vec<Checked> {
        self.checked.lock().clone()
    }
}

/// Keeps a 403's message for [`EmbeddedApiServer::forbidden`](crate::EmbeddedApiServer::forbidden).
pub(crate) fn record_refusal(app: &AppState, error: &ApiError) {
    if let Some(rbac) = &app.rbac {
        rbac.refusals.lock().push(error.to_string());
    }
}

/// The user a request comes from; `None` when RBAC is off.
pub(crate) fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
) -> ApiResult<Option<Arc<UserInfo>>> {
    let Some(rbac) = &app.rbac else {
        return Ok(None);
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(user) = bearer.and_then(|t| app.service_account_tokens.user(app, t.trim())) {
        return Ok(Some(Arc::new(user)));
    }
    rbac.authenticate(headers).map(Some)
}

/// The authorization step of every request: RBAC when it is on, then the
/// configured [`Authorizer`](crate::authz::Authorizer).
pub(crate) fn authorize_request(
    app: &AppState,
    user: Option<&UserInfo>,
    request: &RequestAttributes,
) -> Decision {
    if let (Some(rbac), Some(user)) = (&app.rbac, user) {
        let decision = authorize(user, request, &rbac.policy(app));
        if !user.is_privileged() {
            rbac.checked.lock().push(Checked {
                user: user.clone(),
                request: RequestAttributes {
                    bearer_token: None,
                    ..request.clone()
                },
                allowed: decision == Decision::Allow,
            });
        }
        if decision != Decision::Allow {
            return decision;
        }
    }
    app.authorizer.authorize(request)
}

/// Escalation prevention for a write of an RBAC object by `options.requester`
/// (no requester: the system or RBAC off). `old` is the object before an update.
pub(crate) fn admit_write(
    cluster: &Cluster,
    served: &Served,
    options: &WriteOptions,
    object: &Value,
    old: Option<&Value>,
) -> ApiResult<()> {
    let Some(user) = &options.requester else {
        return Ok(());
    };
    if served.info.group != GROUP || served.info.custom {
        return Ok(());
    }
    if old.is_some_and(|old| only_garbage_collection_fields_change(old, object)) {
        return Ok(());
    }
    let Some(write) = RbacWrite::decode(&served.info.kind, object) else {
        return Ok(());
    };
    let meta = |field: &str| object["metadata"][field].as_str().unwrap_or_default();
    let (namespace, name) = (meta("namespace"), meta("name"));
    let policy = Policy::from_store(&cluster.store);
    check_write(user, namespace, name, &write, &policy).map_err(|reason| ApiError::Forbidden {
        resource: served.qualified(),
        name: name.to_owned(),
        reason,
    })
}

/// OwnerReferencesPermissionEnforcement for a write by `options.requester`,
/// when the plugin is on. `old` is the object before an update.
pub(crate) fn admit_owner_references(
    cluster: &Cluster,
    served: &Served,
    options: &WriteOptions,
    object: &Value,
    old: Option<&Value>,
) -> ApiResult<()> {
    match (&options.requester, &options.owner_references) {
        (Some(user), Some(admission)) => admission.admit(cluster, served, user, object, old),
        _ => Ok(()),
    }
}

/// Upstream lets anyone who may update an RBAC object change the fields
/// garbage collection needs (owner references, finalizers) without checks.
fn only_garbage_collection_fields_change(old: &Value, new: &Value) -> bool {
    let strip = |object: &Value| {
        let mut object = object.clone();
        if let Some(meta) = object["metadata"].as_object_mut() {
            for field in [
                "ownerReferences",
                "finalizers",
                "resourceVersion",
                "managedFields",
                "generation",
            ] {
                meta.remove(field);
            }
        }
        object
    };
    strip(old) == strip(new)
}

/// Upstream's bootstrap policy, as far as this server needs it.
fn bootstrap_objects() -> Vec<(&'static str, Value)> {
    let metadata = |name: &str| {
        json!({
            "name": name,
            "labels": { "kubernetes.io/bootstrapping": "rbac-defaults" },
            "annotations": { "rbac.authorization.kubernetes.io/autoupdate": "true" },
        })
    };
    let role = |name: &str, rules: Value| {
        (
            "clusterroles",
            json!({ "apiVersion": format!("{GROUP}/v1"), "kind": "ClusterRole", "metadata": metadata(name), "rules": rules }),
        )
    };
    let binding = |name: &str, groups: &[&str]| {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({ "apiGroup": GROUP, "kind": "Group", "name": g }))
            .collect();
        (
            "clusterrolebindings",
            json!({
                "apiVersion": format!("{GROUP}/v1"), "kind": "ClusterRoleBinding", "metadata": metadata(name),
                "roleRef": { "apiGroup": GROUP, "kind": "ClusterRole", "name": name },
                "subjects": subjects,
            }),
        )
    };
    let public_info = ["/healthz", "/livez", "/readyz", "/version", "/version/"];
    let mut discovery = vec![
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/openapi",
        "/openapi/*",
    ];
    discovery.extend(public_info);
    vec![
        role(
            "cluster-admin",
            json!([
                { "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] },
                { "nonResourceURLs": ["*"], "verbs": ["*"] },
            ]),
        ),
        binding("cluster-admin", &[MASTERS]),
        role(
            "system:discovery",
            json!([{ "nonResourceURLs": discovery, "verbs": ["get"] }]),
        ),
        binding("system:discovery", &[AUTHENTICATED]),
        role(
            "system:public-info-viewer",
            json!([{ "nonResourceURLs": public_info, "verbs": ["get"] }]),
        ),
        binding(
            "system:public-info-viewer",
            &[AUTHENTICATED, UNAUTHENTICATED],
        ),
    ]
}

/// Stores the bootstrap roles and bindings.
pub(crate) fn bootstrap(cluster: &mut Cluster) {
    for (plural, object) in bootstrap_objects() {
        let served = cluster
            .registry
            .find(GROUP, "v1", plural)
            .expect("RBAC kinds are built in");
        cluster
            .create(&served, None, object, &WriteOptions::default())
            .expect("bootstrap RBAC objects are valid");
    }
}

//! The OwnerReferencesPermissionEnforcement admission plugin, opt-in
//! ([`Config::owner_references_permission_enforcement`](crate::Config)), as
//! kube-apiserver runs it when `--enable-admission-plugins` names it
//! (OpenShift does by default):
//!
//! - changing an existing object's owner references needs `delete` on the
//!   object (setting them while creating needs nothing: the creator could have
//!   not created it);
//! - a reference that newly has `blockOwnerDeletion: true` needs `update` of
//!   the owner's `finalizers` subresource, in the dependent's namespace.
//!
//! Each authorization it asks is recorded like a request's, so a test
//! replaying decisions sees the permissions it needs.

use super::{Checked, Policy, UserInfo, authorize};
use crate::authz::{Decision, RequestAttributes};
use crate::cluster::Cluster;
use crate::errors::{ApiError, ApiResult};
use crate::registry::Served;
use parking_lot::Mutex;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// The plugin for one write: where its decisions are recorded.
#[derive(Clone)]
pub(crate) struct OwnerReferencesAdmission {
    pub(crate) checked: Arc<Mutex<Vec<Checked>>>,
}

impl fmt::Debug for OwnerReferencesAdmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerReferencesAdmission")
            .finish_non_exhaustive()
    }
}

impl OwnerReferencesAdmission {
    /// Admits the write of `object` (`old`: before an update) by `user`.
    pub(crate) fn admit(
        &self,
        cluster: &Cluster,
        served: &Served,
        user: &UserInfo,
        object: &Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        let new_refs = owner_references(object);
        let old_refs = old.map(owner_references);
        let changing = match &old_refs {
            None => !new_refs.is_empty(),
            Some(old_refs) => *old_refs != new_refs,
        };
        if !changing || user.is_privileged() {
            return Ok(());
        }
        let meta = |field: &str| object["metadata"][field].as_str().map(str::to_owned);
        let namespace = meta("namespace").filter(|ns| !ns.is_empty());
        let name = meta("name").unwrap_or_default();
        let forbidden = |reason: String| ApiError::Forbidden {
            resource: served.qualified(),
            name: name.clone(),
            reason,
        };
        let policy = Policy::from_store(&cluster.store);
        if old.is_some() {
            let delete = RequestAttributes {
                bearer_token: None,
                verb: "delete".into(),
                api_group: served.info.group.clone(),
                resource: served.info.plural.clone(),
                subresource: None,
                namespace: namespace.clone(),
                name: Some(name.clone()),
                non_resource_path: None,
            };
            if !self.decide(user, delete, &policy) {
                return Err(forbidden(
                    "cannot set an ownerRef on a resource you can't delete: , <nil>".into(),
                ));
            }
        }
        for owner in newly_blocking(&new_refs, old_refs.as_deref().unwrap_or_default()) {
            let api_version = owner["apiVersion"].as_str().unwrap_or_default();
            let kind = owner["kind"].as_str().unwrap_or_default();
            let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
            let Some(resource) = resource_of(cluster, group, kind) else {
                return Err(forbidden(format!(
                    "cannot set blockOwnerDeletion in this case because cannot find \
                     RESTMapping for APIVersion {api_version} Kind {kind}: no matches for \
                     kind \"{kind}\" in version \"{api_version}\""
                )));
            };
            let finalize = RequestAttributes {
                bearer_token: None,
                verb: "update".into(),
                api_group: group.into(),
                resource,
                subresource: Some("finalizers".into()),
                // Owners live in their dependent's namespace (or in none).
                namespace: namespace.clone(),
                name: owner["name"].as_str().map(str::to_owned),
                non_resource_path: None,
            };
            if !self.decide(user, finalize, &policy) {
                return Err(forbidden(
                    "cannot set blockOwnerDeletion if an ownerReference refers to a resource \
                     you can't set finalizers on: , <nil>"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    fn decide(&self, user: &UserInfo, request: RequestAttributes, policy: &Policy) -> bool {
        let allowed = authorize(user, &request, policy) == Decision::Allow;
        self.checked.lock().push(Checked {
            user: user.clone(),
            request,
            allowed,
        });
        allowed
    }
}

fn owner_references(object: &Value) -> Vec<Value> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn blocks(reference: &Value) -> bool {
    reference["blockOwnerDeletion"].as_bool() == Some(true)
}

/// Blocking references that are new (by uid) or did not block before.
fn newly_blocking<'a>(new: &'a [Value], old: &[Value]) -> impl Iterator<Item = &'a Value> {
    new.iter()
        .filter(|reference| blocks(reference))
        .filter(|reference| {
            !old.iter()
                .any(|before| before["uid"] == reference["uid"] && blocks(before))
        })
}

/// The resource (plural) serving `kind` of `group`, in any version.
fn resource_of(cluster: &Cluster, group: &str, kind: &str) -> Option<String> {
    cluster
        .registry
        .all()
        .find(|served| served.info.group == group && served.info.kind == kind)
        .map(|served| served.info.plural.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference(uid: &str, block: Option<bool>) -> Value {
        let mut reference = json!({ "apiVersion": "gastown.io/v1alpha1", "kind": "GasTown",
            "name": "t", "uid": uid });
        if let Some(block) = block {
            reference["blockOwnerDeletion"] = json!(block);
        }
        reference
    }

    #[test]
    fn only_references_that_start_blocking_need_the_owners_finalizers() {
        let old = [reference("a", Some(true)), reference("b", Some(false))];
        let new = [
            reference("a", Some(true)),
            reference("b", Some(true)),
            reference("c", Some(true)),
            reference("d", None),
        ];
        let uids: Vec<&str> = newly_blocking(&new, &old)
            .map(|r| r["uid"].as_str().unwrap())
            .collect();
        assert_eq!(uids, ["b", "c"]);
        assert_eq!(newly_blocking(&new, &[]).count(), 3);
    }
}

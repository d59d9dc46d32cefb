//! How the operator's objects relate, in one place: which town a Rig belongs
//! to, and whether a Rig takes new work. The controllers, their dereference
//! steps and the watch triggers all ask these.

use gastown_api::{GasTown, Rig, labels};
use kube::{Resource, ResourceExt};

/// Whether `rig` belongs to the town `town` in `namespace`: owned by it (by
/// `town_uid` when known, else by kind and name) or applied on its own with
/// the `gastown.io/town` label naming it.
pub fn rig_belongs_to(rig: &Rig, namespace: &str, town: &str, town_uid: Option<&str>) -> bool {
    if rig.namespace().as_deref() != Some(namespace) {
        return false;
    }
    let labelled = rig.labels().get(labels::TOWN).map(String::as_str) == Some(town);
    let owned = rig.owner_references().iter().any(|o| match town_uid {
        Some(uid) => o.uid == uid,
        None => o.kind == GasTown::kind(&()) && o.name == town,
    });
    labelled || owned
}

/// Whether `town` owns `rig` (it declares it in `spec.rigs`).
pub fn town_owns(town: &GasTown, rig: &Rig) -> bool {
    let uid = town.uid();
    rig.owner_references()
        .iter()
        .any(|o| Some(&o.uid) == uid.as_ref())
}

/// Whether the rig must stop taking new work: it is being deleted, or its
/// town is and has marked it.
pub fn rig_draining(rig: &Rig) -> bool {
    rig.metadata.deletion_timestamp.is_some()
        || rig
            .annotations()
            .contains_key(crate::naming::DRAINING_ANNOTATION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn rig(namespace: &str, label: Option<&str>, owner: Option<(&str, &str)>) -> Rig {
        let mut rig = Rig::new(
            "r",
            serde_json::from_value(serde_json::json!({"name": "r"})).unwrap(),
        );
        rig.metadata.namespace = Some(namespace.into());
        rig.metadata.labels =
            label.map(|town| [(labels::TOWN.to_string(), town.to_string())].into());
        rig.metadata.owner_references = owner.map(|(name, uid)| {
            vec![OwnerReference {
                api_version: GasTown::api_version(&()).into(),
                kind: "GasTown".into(),
                name: name.into(),
                uid: uid.into(),
                ..Default::default()
            }]
        });
        rig
    }

    #[test]
    fn a_rig_belongs_to_the_town_that_owns_or_labels_it_in_its_namespace() {
        let owned = rig("ns", None, Some(("prod", "u1")));
        assert!(rig_belongs_to(&owned, "ns", "prod", Some("u1")));
        assert!(rig_belongs_to(&owned, "ns", "prod", None));
        // A town of the same name that is not the owner (recreated: new uid).
        assert!(!rig_belongs_to(&owned, "ns", "prod", Some("u2")));
        assert!(!rig_belongs_to(&owned, "other", "prod", Some("u1")));

        let labelled = rig("ns", Some("prod"), None);
        assert!(rig_belongs_to(&labelled, "ns", "prod", Some("u1")));
        assert!(!rig_belongs_to(&labelled, "ns", "dev", None));
        assert!(!rig_belongs_to(&labelled, "other", "prod", None));
    }
}

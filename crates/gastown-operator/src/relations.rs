//! How the operator's objects relate, in one place: which town a Rig belongs
//! to, and whether a Rig takes new work. The controllers, their dereference
//! steps and the watch triggers all ask these.

use gastown_api::{GasTown, Rig, labels};
use kube::{Resource, ResourceExt};

/// Whether `rig` belongs to the town `town` in `namespace`: owned by it (by
/// `town_uid` when known, else by kind and name) or applied on its own with
/// the `gastown.io/town` label naming it.
pub fn rig_belongs_to(rig: &Rig, namespace: &str, town: &str, town_uid: Option<&str>) -> bool {
    if rig.metadata.namespace.as_deref() != Some(namespace) {
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
    let uid = town.metadata.uid.as_ref();
    rig.owner_references().iter().any(|o| Some(&o.uid) == uid)
}

/// Whether the rig must stop taking new work: it is being deleted, or its
/// town is (or is drained) and has marked it.
pub fn rig_draining(rig: &Rig) -> bool {
    rig.metadata.deletion_timestamp.is_some()
        || rig
            .annotations()
            .contains_key(crate::naming::DRAINING_ANNOTATION)
}

/// When and by whom the town was drained (the value of its
/// `gastown.io/drain` annotation), if it is. A town being deleted drains
/// anyway; this is the drain a user asked for.
pub fn drain_requested(town: &GasTown) -> Option<&str> {
    town.annotations()
        .get(labels::DRAIN_ANNOTATION)
        .map(String::as_str)
}

/// Why `rig` of `town` starts no new polecats, for its status; `None` when it
/// does. A Rig the town declares carries the draining mark in both cases; a
/// Rig applied on its own follows its town's drain request without one.
pub fn rig_drain_reason(rig: &Rig, town: &GasTown) -> Option<String> {
    let marked = rig_draining(rig);
    if town.metadata.deletion_timestamp.is_some() && marked {
        return Some("the town is being deleted: no new polecats".to_string());
    }
    if let Some(requested) = drain_requested(town) {
        return Some(drained_message(requested));
    }
    marked.then(|| "the town is being deleted: no new polecats".to_string())
}

/// What a town drained by request says, in its status and its rigs'.
pub fn drained_message(requested: &str) -> String {
    let requested = if requested.is_empty() {
        String::new()
    } else {
        format!(" ({requested})")
    };
    format!(
        "the town is drained by request{requested}: no new polecats start, running ones finish; remove the annotation {} (kubectl gastown resume) to undo it",
        labels::DRAIN_ANNOTATION
    )
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

    fn town(annotation: Option<&str>, deleted: bool) -> GasTown {
        let mut town: GasTown = serde_json::from_value(serde_json::json!({
            "apiVersion": "gastown.io/v1alpha1", "kind": "GasTown",
            "metadata": {"name": "prod", "namespace": "ns"},
            "spec": {"daemon": {"image": "bd:1"}, "dolt": {"image": "dolt:1"}},
        }))
        .unwrap();
        town.metadata.annotations = annotation
            .map(|value| [(labels::DRAIN_ANNOTATION.to_string(), value.to_string())].into());
        if deleted {
            town.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
                ));
        }
        town
    }

    #[test]
    fn a_drained_town_stops_its_rigs_and_says_why() {
        let mut marked = rig("ns", None, Some(("prod", "u1")));
        marked.metadata.annotations = Some(
            [(
                crate::naming::DRAINING_ANNOTATION.to_string(),
                "true".to_string(),
            )]
            .into(),
        );
        let labelled = rig("ns", Some("prod"), None);

        assert_eq!(rig_drain_reason(&labelled, &town(None, false)), None);
        let requested = town(Some("2026-12-05T10:00:00Z by ann"), false);
        assert_eq!(
            drain_requested(&requested),
            Some("2026-12-05T10:00:00Z by ann")
        );
        for rig in [&marked, &labelled] {
            let reason = rig_drain_reason(rig, &requested).expect("draining");
            assert!(
                reason.contains("drained by request (2026-12-05T10:00:00Z by ann)"),
                "{reason}"
            );
        }
        // Deletion wins over a drain request, and a marked rig of a town
        // being deleted says so.
        let deleted = rig_drain_reason(&marked, &town(Some("x"), true)).expect("draining");
        assert!(deleted.contains("being deleted"), "{deleted}");
        assert!(rig_drain_reason(&marked, &town(None, false)).is_some());
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

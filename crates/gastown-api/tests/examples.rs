//! The examples in `examples/` are valid against the generated CRDs and parse into the Rust
//! types without losing a field, and the accessors resolve the schema's defaults. Schemas are
//! checked the way kube-apiserver checks them (prune, default, OpenAPI validation, list
//! uniqueness, CEL) by the `structural-schema` crate; `refusals.rs` holds the bad objects.

mod common;

use common::*;
use gastown_api::{AgentPool, GasTown, Rig};
use serde_json::{Value, json};

#[test]
fn every_example_is_admitted_and_round_trips_through_the_rust_types() {
    let files = example_files();
    assert!(
        files.len() >= 3,
        "examples/ holds the minimal town, the full town and an AgentPool: {files:?}"
    );
    for file in files {
        let object = example(&file);
        if let Err(errors) = admit(&object, None) {
            panic!("{file} is refused: {errors:#?}");
        }
        assert_eq!(
            typed_round_trip(&object),
            object,
            "{file}: the Rust types lose or change fields"
        );
    }
}

/// The API server stores every list of every example exactly as written: defaulting adds
/// nothing inside list items. A client-side `kubectl apply` (a JSON merge patch, which
/// replaces lists whole) of an unchanged example therefore finds nothing to send.
#[test]
fn admission_leaves_every_list_as_written() {
    fn lists_as_written(path: &str, written: &Value, admitted: &Value, changed: &mut Vec<String>) {
        match written {
            Value::Array(_) if admitted != written => {
                changed.push(format!("{path}: {written} became {admitted}"));
            }
            Value::Object(fields) => {
                for (name, value) in fields {
                    lists_as_written(
                        &format!("{path}.{name}"),
                        value,
                        admitted.get(name).unwrap_or(&Value::Null),
                        changed,
                    );
                }
            }
            _ => {}
        }
    }
    for file in example_files() {
        let written = example(&file);
        let admitted = admit(&written, None).unwrap_or_else(|e| panic!("{file}: {e:#?}"));
        let mut changed = Vec::new();
        lists_as_written("", &written, &admitted, &mut changed);
        assert!(changed.is_empty(), "{file}: {changed:#?}");
    }
}

/// The defaults the schema leaves out of list items are resolved by the accessors.
#[test]
fn accessors_resolve_the_defaults_of_list_items() {
    let town: GasTown = serde_json::from_value(json!({
        "apiVersion": "gastown.io/v1alpha1",
        "kind": "GasTown",
        "metadata": {"name": "t"},
        "spec": {
            "daemon": {"external": {"host": "bd"}},
            "rigs": [{"name": "r"}],
            "secrets": {"externalSecrets": [{
                "name": "s",
                "secretStoreRef": {"name": "store"},
                "data": [{"secretKey": "k", "remoteKey": "rk"}]
            }]}
        }
    }))
    .unwrap();
    let rig = &town.spec.rigs()[0];
    let polecats = rig.polecats();
    assert_eq!(polecats.max_count(), 5);
    assert_eq!(polecats.cpu().0, "500m");
    assert_eq!(polecats.memory().0, "1Gi");
    assert_eq!(
        polecats.max_runtime(),
        std::time::Duration::from_secs(2 * 3600)
    );
    assert_eq!(
        polecats.cleanup_after(),
        std::time::Duration::from_secs(300)
    );
    assert_eq!(rig.workspace().size().0, "10Gi");
    assert_eq!(
        rig.workspace().reclaim_policy(),
        gastown_api::rig::ReclaimPolicy::Retain
    );
    assert!(rig.witness().enabled() && rig.refinery().enabled());
    assert!(rig.network_policy().enabled());
    let secret = &town
        .spec
        .secrets
        .as_ref()
        .unwrap()
        .external_secrets
        .as_ref()
        .unwrap()[0];
    assert_eq!(secret.refresh_interval().as_str(), "1h");
    assert_eq!(
        secret.secret_store_ref.kind(),
        gastown_api::gastown::SecretStoreKind::SecretStore
    );
}

#[test]
fn admitted_examples_still_parse_and_carry_the_schema_defaults() {
    let admitted = admit(&example("gastown-minimal.yaml"), None).unwrap();
    let town: GasTown = serde_json::from_value(admitted).unwrap();
    let spec = &town.spec;
    assert_eq!(spec.daemon.port, Some(9876));
    assert_eq!(spec.daemon.http_port, Some(9080));
    assert_eq!(
        spec.termination_grace_period.as_ref().map(|d| d.as_str()),
        Some("10m")
    );
    assert_eq!(spec.sync_interval.as_ref().map(|d| d.as_str()), Some("60s"));
    assert_eq!(spec.mayor.as_ref().and_then(|m| m.enabled), Some(true));
    assert_eq!(spec.deacon.as_ref().and_then(|m| m.enabled), Some(true));
    assert_eq!(
        spec.rpc_server.as_ref().and_then(|r| r.enabled),
        Some(false)
    );
    let persistence = spec
        .dolt
        .as_ref()
        .and_then(|d| d.persistence.as_ref())
        .unwrap();
    assert_eq!(persistence.retain_on_delete, Some(true));
    assert_eq!(
        persistence.size.as_ref().map(|q| q.0.as_str()),
        Some("10Gi")
    );

    let admitted = admit(&example("rig-standalone.yaml"), None).unwrap();
    let rig: Rig = serde_json::from_value(admitted).unwrap();
    let polecats = rig.spec.polecats.as_ref().unwrap();
    assert_eq!(polecats.max_count, Some(5));
    assert_eq!(polecats.cpu.as_ref().map(|q| q.0.as_str()), Some("500m"));
    assert_eq!(polecats.memory.as_ref().map(|q| q.0.as_str()), Some("1Gi"));
    assert_eq!(
        polecats.max_runtime.as_ref().map(|d| d.as_str()),
        Some("2h")
    );
    assert_eq!(
        polecats.cleanup_after.as_ref().map(|d| d.as_str()),
        Some("5m")
    );
    let workspace = rig.spec.workspace.as_ref().unwrap();
    assert_eq!(workspace.size.as_ref().map(|q| q.0.as_str()), Some("10Gi"));
    assert_eq!(
        workspace.reclaim_policy,
        Some(gastown_api::rig::ReclaimPolicy::Retain)
    );
    assert_eq!(
        rig.spec.witness.as_ref().and_then(|w| w.enabled),
        Some(true)
    );
    assert_eq!(
        rig.spec.network_policy.as_ref().and_then(|n| n.enabled),
        Some(true)
    );

    assert_eq!(rig.town(), Some("production"));

    let mut pool = example("agentpool-polecats.yaml");
    pool["spec"].as_object_mut().unwrap().remove("beadSelector");
    let pool: AgentPool = serde_json::from_value(admit(&pool, None).unwrap()).unwrap();
    assert_eq!(
        pool.spec.bead_selector,
        Some(vec!["execution_target:k8s".to_string()])
    );
}

/// The typed accessors give objects that never met an API server the same defaults.
#[test]
fn accessors_agree_with_the_schema_defaults() {
    let raw: GasTown = serde_json::from_value(example("gastown-minimal.yaml")).unwrap();
    let admitted: GasTown =
        serde_json::from_value(admit(&example("gastown-minimal.yaml"), None).unwrap()).unwrap();
    assert_eq!(
        raw.spec.termination_grace_period(),
        admitted.spec.termination_grace_period()
    );
    assert_eq!(raw.spec.sync_interval(), admitted.spec.sync_interval());
    assert_eq!(
        raw.spec.daemon.endpoint("svc"),
        admitted.spec.daemon.endpoint("svc")
    );
    assert_eq!(raw.spec.mayor().enabled(), admitted.spec.mayor().enabled());
    assert_eq!(
        raw.spec.rpc_server().enabled(),
        admitted.spec.rpc_server().enabled()
    );
    assert_eq!(
        raw.spec.rpc_server().port(),
        admitted.spec.rpc_server().port()
    );
    let (raw_dolt, dolt) = (raw.spec.dolt.unwrap(), admitted.spec.dolt.unwrap());
    assert_eq!(raw_dolt.persistence().size(), dolt.persistence().size());
    assert_eq!(
        raw_dolt.persistence().retain_on_delete(),
        dolt.persistence().retain_on_delete()
    );

    let raw: Rig = serde_json::from_value(example("rig-standalone.yaml")).unwrap();
    let admitted: Rig =
        serde_json::from_value(admit(&example("rig-standalone.yaml"), None).unwrap()).unwrap();
    let (a, b) = (raw.spec.polecats(), admitted.spec.polecats());
    assert_eq!(
        (
            a.max_count(),
            a.cpu(),
            a.memory(),
            a.max_runtime(),
            a.cleanup_after()
        ),
        (
            b.max_count(),
            b.cpu(),
            b.memory(),
            b.max_runtime(),
            b.cleanup_after()
        )
    );
    assert_eq!(
        raw.spec.workspace().size(),
        admitted.spec.workspace().size()
    );
    assert_eq!(
        raw.spec.workspace().reclaim_policy(),
        admitted.spec.workspace().reclaim_policy()
    );
    assert_eq!(
        raw.spec.network_policy().enabled(),
        admitted.spec.network_policy().enabled()
    );
    assert_eq!(
        raw.spec.witness().enabled(),
        admitted.spec.witness().enabled()
    );
}

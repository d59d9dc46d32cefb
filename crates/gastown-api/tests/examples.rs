//! The examples in `examples/` are valid against the generated CRDs and parse into the Rust
//! types without losing a field; a table of bad objects is refused with messages that name
//! the field. Schemas are checked the way kube-apiserver checks them (prune, default,
//! OpenAPI validation, list uniqueness, CEL) by the `structural-schema` crate.

use gastown_api::{AgentPool, GasTown, Rig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use structural_schema::StructuralSchema;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn example(file: &str) -> Value {
    let path = examples_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn example_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    files.sort();
    files
}

/// The structural schema of `kind`, built once per test binary (building compiles every CEL
/// rule of the CRD).
fn schema(kind: &str) -> &'static StructuralSchema {
    static SCHEMAS: OnceLock<HashMap<String, StructuralSchema>> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        gastown_api::crds()
            .into_iter()
            .map(|crd| {
                let kind = crd.spec.names.kind.clone();
                let open_api = crd.spec.versions[0]
                    .schema
                    .as_ref()
                    .and_then(|s| s.open_api_v3_schema.as_ref())
                    .expect("derived CRDs carry a schema");
                let open_api = serde_json::to_value(open_api).unwrap();
                let schema = StructuralSchema::new(&open_api)
                    .unwrap_or_else(|e| panic!("{kind} schema is not structural: {e}"));
                (kind, schema)
            })
            .collect()
    });
    schemas
        .get(kind)
        .unwrap_or_else(|| panic!("no CRD for kind {kind}"))
}

fn kind_of(object: &Value) -> &str {
    object["kind"].as_str().expect("examples have a kind")
}

/// Admits `object` (and `old`, for updates) like the API server; returns the errors' text.
fn admit(object: &Value, old: Option<&Value>) -> Result<Value, Vec<String>> {
    let schema = schema(kind_of(object));
    let mut object = object.clone();
    let old = old.map(|old| {
        let mut old = old.clone();
        schema
            .admit(&mut old, None)
            .expect("the old object is valid");
        old
    });
    match schema.admit(&mut object, old.as_ref()) {
        Ok(()) => Ok(object),
        Err(errors) => Err(errors.iter().map(ToString::to_string).collect()),
    }
}

/// The typed form of `object`, serialized back: equal to the input when no field was lost.
fn typed_round_trip(object: &Value) -> Value {
    fn via<T: serde::de::DeserializeOwned + serde::Serialize>(object: &Value) -> Value {
        let typed: T = serde_json::from_value(object.clone())
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", object["metadata"]["name"]));
        serde_json::to_value(typed).unwrap()
    }
    match kind_of(object) {
        "GasTown" => via::<GasTown>(object),
        "Rig" => via::<Rig>(object),
        "AgentPool" => via::<AgentPool>(object),
        other => panic!("unexpected kind {other}"),
    }
}

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

/// Sets the value at a JSON pointer (a list index one past the end appends).
fn set(object: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = object
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent} in the example"));
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => {
            let index: usize = key.parse().unwrap();
            if index == items.len() {
                items.push(value);
            } else {
                items[index] = value;
            }
        }
        _ => panic!("{pointer} is not inside an object or list"),
    }
}

fn remove(object: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    object
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|map| map.remove(key))
        .unwrap_or_else(|| panic!("no {pointer} in the example"));
}

struct BadObject {
    /// What the case shows.
    name: &'static str,
    /// The example it starts from.
    example: &'static str,
    /// How the example is broken.
    change: fn(&mut Value),
    /// For updates: the stored object is the unchanged example.
    update: bool,
    /// Path of the field the error must name.
    field: &'static str,
    /// A part of the error message.
    message: &'static str,
}

fn bad_objects() -> Vec<BadObject> {
    const TOWN: &str = "gastown-full.yaml";
    const MINIMAL: &str = "gastown-minimal.yaml";
    const RIG: &str = "rig-standalone.yaml";
    const POOL: &str = "agentpool-polecats.yaml";
    let case = |name, example, change, field, message| BadObject {
        name,
        example,
        change,
        update: false,
        field,
        message,
    };
    vec![
        case(
            "daemon port above 65535",
            MINIMAL,
            |o| set(o, "/spec/daemon/port", json!(70000)),
            "spec.daemon.port",
            "should be less than or equal to 65535",
        ),
        case(
            "daemon port 0",
            MINIMAL,
            |o| set(o, "/spec/daemon/port", json!(0)),
            "spec.daemon.port",
            "should be greater than or equal to 1",
        ),
        case(
            "daemon is required",
            MINIMAL,
            |o| remove(o, "/spec/daemon"),
            "spec.daemon",
            "Required value",
        ),
        case(
            "daemon image and external both set",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/daemon/external",
                    json!({"host": "bd.example.com"}),
                )
            },
            "spec.daemon",
            "set exactly one of daemon.image",
        ),
        case(
            "bd serve in the cluster without a token",
            MINIMAL,
            |o| {
                set(o, "/spec/daemon/protocol", json!("serve"));
                remove(o, "/spec/daemon/tokenSecretRef");
            },
            "spec.daemon.tokenSecretRef",
            "set spec.daemon.tokenSecretRef",
        ),
        case(
            "rig servers without bd serve",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/daemon/rigServers",
                    json!([{"rig": "gastown", "url": "http://beads-gastown:7777"}]),
                )
            },
            "spec.daemon.rigServers",
            "it needs spec.daemon.protocol: serve",
        ),
        case(
            "unknown beads protocol",
            MINIMAL,
            |o| set(o, "/spec/daemon/protocol", json!("grpc")),
            "spec.daemon.protocol",
            "Unsupported value",
        ),
        case(
            "external server by host and url at once",
            MINIMAL,
            |o| {
                remove(o, "/spec/daemon/image");
                remove(o, "/spec/dolt");
                set(
                    o,
                    "/spec/daemon/external",
                    json!({"host": "bd.example.com", "url": "http://bd.example.com:7777"}),
                );
            },
            "spec.daemon.external",
            "set exactly one of daemon.external.host",
        ),
        case(
            "external url with a separate port",
            MINIMAL,
            |o| {
                remove(o, "/spec/daemon/image");
                remove(o, "/spec/dolt");
                set(
                    o,
                    "/spec/daemon/external",
                    json!({"url": "http://bd.example.com:7777", "httpPort": 7777}),
                );
            },
            "spec.daemon.external",
            "daemon.external.url carries the port",
        ),
        case(
            "external url with a path",
            MINIMAL,
            |o| {
                remove(o, "/spec/daemon/image");
                remove(o, "/spec/dolt");
                set(
                    o,
                    "/spec/daemon/external",
                    json!({"url": "http://bd.example.com:7777/v0"}),
                );
            },
            "spec.daemon.external.url",
            "should match",
        ),
        case(
            "daemon with neither image nor external",
            MINIMAL,
            |o| remove(o, "/spec/daemon/image"),
            "spec.daemon",
            "set exactly one of daemon.image",
        ),
        case(
            "dolt required for an in-cluster daemon",
            MINIMAL,
            |o| remove(o, "/spec/dolt"),
            "spec.dolt",
            "spec.dolt is required unless spec.daemon.external",
        ),
        case(
            "dolt forbidden with an external daemon",
            MINIMAL,
            |o| {
                remove(o, "/spec/daemon/image");
                set(
                    o,
                    "/spec/daemon/external",
                    json!({"host": "bd.example.com"}),
                );
            },
            "spec.dolt",
            "spec.dolt must not be set when spec.daemon.external is set",
        ),
        case(
            "dolt's S3 field, which never backed anything up",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/dolt/s3",
                    json!({"bucket": "backups", "region": "us-east-1",
                           "credentialsSecretRef": {"name": "aws"}}),
                )
            },
            "spec.dolt.s3",
            "use spec.dolt.backup with url aws://[dynamo-table:bucket]/path",
        ),
        case(
            "an aws:// backup without its DynamoDB table (dolt refuses it, D6)",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/dolt/backup",
                    json!({"schedule": "0 3 * * *", "url": "aws://[backups]/prod"}),
                )
            },
            "spec.dolt.backup.url",
            "aws://[dynamo-table:bucket]/path",
        ),
        case(
            "a backup URL of a scheme dolt does not back up to",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/dolt/backup",
                    json!({"schedule": "@daily", "url": "https://backups.example.com/prod"}),
                )
            },
            "spec.dolt.backup.url",
            "must be a Dolt backup URL",
        ),
        case(
            "a backup URL with a quote (it goes into SQL)",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/dolt/backup",
                    json!({"schedule": "@daily", "url": "gs://bucket/it's"}),
                )
            },
            "spec.dolt.backup.url",
            "must be a Dolt backup URL",
        ),
        case(
            "a restore URL with a trailing slash",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/dolt/restoreFrom",
                    json!({"url": "file:///backups/prod/", "databases": ["beads"]}),
                )
            },
            "spec.dolt.restoreFrom.url",
            "without a trailing '/'",
        ),
        case(
            "a backup schedule that is no cron schedule",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/dolt/backup",
                    json!({"schedule": "nightly", "url": "gs://bucket/prod"}),
                )
            },
            "spec.dolt.backup.schedule",
            "should match",
        ),
        case(
            "no failed backup Job kept (the status reads failures from them)",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/dolt/backup",
                    json!({"schedule": "@daily", "url": "gs://bucket/prod", "failedJobsHistoryLimit": 0}),
                )
            },
            "spec.dolt.backup.failedJobsHistoryLimit",
            "should be greater than or equal to 1",
        ),
        case(
            "token secret ref without key",
            MINIMAL,
            |o| remove(o, "/spec/daemon/tokenSecretRef/key"),
            "spec.daemon.tokenSecretRef.key",
            "Required value",
        ),
        case(
            "rpc server enabled without image",
            MINIMAL,
            |o| set(o, "/spec/rpcServer", json!({"enabled": true})),
            "spec.rpcServer.image",
            "spec.rpcServer.image is required when spec.rpcServer.enabled is true",
        ),
        case(
            "malformed memory quantity",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/defaults/resources",
                    json!({"requests": {"memory": "1GB"}}),
                )
            },
            "spec.defaults.resources.requests.memory",
            "should match",
        ),
        case(
            "unknown image pull policy",
            MINIMAL,
            |o| set(o, "/spec/defaults/imagePullPolicy", json!("Sometimes")),
            "spec.defaults.imagePullPolicy",
            "Unsupported value: \"Sometimes\"",
        ),
        case(
            "malformed duration",
            MINIMAL,
            |o| set(o, "/spec/terminationGracePeriod", json!("10 minutes")),
            "spec.terminationGracePeriod",
            "should match",
        ),
        case(
            "duplicate env names",
            MINIMAL,
            |o| {
                set(
                    o,
                    "/spec/defaults/env",
                    json!([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]),
                )
            },
            "spec.defaults.env[1]",
            "Duplicate value",
        ),
        case(
            "rig name with capitals",
            TOWN,
            |o| set(o, "/spec/rigs/1/name", json!("Beads")),
            "spec.rigs[1].name",
            "should match '^[a-z]([-a-z0-9]*[a-z0-9])?$'",
        ),
        case(
            "rig name with an underscore (no Kubernetes name may hold one)",
            TOWN,
            |o| set(o, "/spec/rigs/1/name", json!("my_beads")),
            "spec.rigs[1].name",
            "should match",
        ),
        case(
            "rig name ending with a dash",
            TOWN,
            |o| set(o, "/spec/rigs/1/name", json!("beads-")),
            "spec.rigs[1].name",
            "should match",
        ),
        case(
            "town name with a dot",
            MINIMAL,
            |o| set(o, "/metadata/name", json!("my.town")),
            "<nil>",
            "metadata.name of a GasTown must be at most 40 characters and contain no '.'",
        ),
        case(
            "town name over 40 characters",
            MINIMAL,
            |o| set(o, "/metadata/name", json!("t".repeat(41))),
            "<nil>",
            "metadata.name of a GasTown must be at most 40 characters",
        ),
        case(
            "town and rig names together over 52 characters",
            TOWN,
            |o| {
                set(o, "/metadata/name", json!("t".repeat(13)));
                set(o, "/spec/rigs/1/name", json!("r".repeat(40)));
            },
            "<nil>",
            "each spec.rigs[].name together must be at most 52 characters",
        ),
        case(
            "duplicate rig names",
            TOWN,
            |o| set(o, "/spec/rigs/1/name", json!("gastown")),
            "spec.rigs[1]",
            "Duplicate value",
        ),
        case(
            "duplicate crew names",
            TOWN,
            |o| set(o, "/spec/rigs/0/crew/1/name", json!("max")),
            "spec.rigs[0].crew[1]",
            "Duplicate value",
        ),
        case(
            "crew name with capitals",
            TOWN,
            |o| set(o, "/spec/rigs/0/crew/0/name", json!("Max")),
            "spec.rigs[0].crew[0].name",
            "should match",
        ),
        case(
            "unknown reclaim policy",
            TOWN,
            |o| set(o, "/spec/rigs/0/workspace/reclaimPolicy", json!("Keep")),
            "spec.rigs[0].workspace.reclaimPolicy",
            "Unsupported value: \"Keep\"",
        ),
        case(
            "polecat maxCount above the cap",
            TOWN,
            |o| set(o, "/spec/rigs/0/polecats/maxCount", json!(101)),
            "spec.rigs[0].polecats.maxCount",
            "should be less than or equal to 100",
        ),
        case(
            "negative polecat maxCount",
            TOWN,
            |o| set(o, "/spec/rigs/0/polecats/maxCount", json!(-1)),
            "spec.rigs[0].polecats.maxCount",
            "should be greater than or equal to 0",
        ),
        case(
            "role override for a town role",
            TOWN,
            |o| {
                set(
                    o,
                    "/spec/rigs/0/roleOverrides/mayor",
                    json!({"image": "x:1"}),
                )
            },
            "spec.rigs[0].roleOverrides",
            "keys must be rig roles",
        ),
        case(
            "git URL that is not a URL",
            RIG,
            |o| set(o, "/spec/gitURL", json!("not a url")),
            "spec.gitURL",
            "should match",
        ),
        case(
            "standalone rig name with a dot",
            RIG,
            |o| set(o, "/spec/name", json!("tools.v2")),
            "spec.name",
            "should match",
        ),
        case(
            "Rig object name over 54 characters",
            RIG,
            |o| set(o, "/metadata/name", json!("r".repeat(55))),
            "<nil>",
            "metadata.name of a Rig must be at most 54 characters",
        ),
        case(
            "AgentPool name over 63 characters",
            POOL,
            |o| set(o, "/metadata/name", json!("p".repeat(64))),
            "<nil>",
            "metadata.name of an AgentPool must be at most 63 characters",
        ),
        BadObject {
            update: true,
            ..case(
                "rig name changed",
                RIG,
                |o| set(o, "/spec/name", json!("tools2")),
                "spec.name",
                "spec.name is immutable",
            )
        },
        case(
            "unknown agent role",
            POOL,
            |o| set(o, "/spec/role", json!("captain")),
            "spec.role",
            "Unsupported value: \"captain\"",
        ),
        case(
            "rig role without rig",
            POOL,
            |o| remove(o, "/spec/rig"),
            "spec.rig",
            "spec.rig is required for the rig roles",
        ),
        case(
            "town role with a rig",
            POOL,
            |o| set(o, "/spec/role", json!("mayor")),
            "spec.rig",
            "must be unset for the town roles",
        ),
        case(
            "more than one witness",
            POOL,
            |o| {
                set(o, "/spec/role", json!("witness"));
                set(o, "/spec/maxCount", json!(2));
            },
            "spec.maxCount",
            "spec.maxCount must be 0 or 1",
        ),
        case(
            "empty bead selector label",
            POOL,
            |o| set(o, "/spec/beadSelector/0", json!("")),
            "spec.beadSelector[0]",
            "should be at least 1 chars long",
        ),
        BadObject {
            update: true,
            ..case(
                "pool role changed",
                POOL,
                |o| set(o, "/spec/role", json!("crew")),
                "spec.role",
                "spec.role is immutable",
            )
        },
        BadObject {
            update: true,
            ..case(
                "dolt volume size changed",
                TOWN,
                |o| set(o, "/spec/dolt/persistence/size", json!("200Gi")),
                "spec.dolt.persistence",
                "size and storageClassName cannot change",
            )
        },
        BadObject {
            update: true,
            ..case(
                "dolt storage class set later",
                MINIMAL,
                |o| {
                    set(
                        o,
                        "/spec/dolt/persistence",
                        json!({"storageClassName": "fast"}),
                    )
                },
                "spec.dolt.persistence",
                "size and storageClassName cannot change",
            )
        },
        BadObject {
            update: true,
            ..case(
                "pool rig changed",
                POOL,
                |o| set(o, "/spec/rig", json!("beads")),
                "spec.rig",
                "spec.rig is immutable",
            )
        },
    ]
}

#[test]
fn bad_objects_are_refused_naming_the_field() {
    let mut failures = Vec::new();
    for case in bad_objects() {
        let original = example(case.example);
        let mut object = original.clone();
        (case.change)(&mut object);
        let old = case.update.then_some(&original);
        match admit(&object, old) {
            Ok(_) => failures.push(format!("{}: accepted", case.name)),
            Err(errors) => {
                let named = errors.iter().any(|e| {
                    e.starts_with(&format!("{}: ", case.field)) && e.contains(case.message)
                });
                if !named {
                    failures.push(format!(
                        "{}: expected an error on {} containing {:?}, got {errors:#?}",
                        case.name, case.field, case.message
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad objects misjudged:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn unchanged_objects_pass_their_transition_rules() {
    for file in [
        "rig-standalone.yaml",
        "agentpool-polecats.yaml",
        "gastown-full.yaml",
    ] {
        let object = example(file);
        assert!(
            admit(&object, Some(&object)).is_ok(),
            "{file}: an unchanged update is refused"
        );
    }
}

#[test]
fn dolt_retain_on_delete_may_change_while_its_volume_may_not() {
    let original = example("gastown-full.yaml");
    let mut changed = original.clone();
    set(
        &mut changed,
        "/spec/dolt/persistence/retainOnDelete",
        json!(false),
    );
    assert!(
        admit(&changed, Some(&original)).is_ok(),
        "retainOnDelete is the StatefulSet's updatable claim retention policy"
    );
}

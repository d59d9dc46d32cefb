//! A table of bad objects, each one of the examples broken in one way, is refused at
//! admission with a message that names the field, as kube-apiserver would refuse it at
//! `kubectl apply`.

mod common;

use common::*;
use serde_json::{Value, json};

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

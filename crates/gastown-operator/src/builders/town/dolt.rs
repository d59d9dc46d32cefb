//! dolt: the SQL server holding the town's beads — its config, headless
//! Service, NetworkPolicy and StatefulSet, built to the contract of the
//! `dolthub/dolt-sql-server` image (container-contracts.md §1).

use std::collections::BTreeMap;

use gastown_api::backup::DoltRestore;
use gastown_api::gastown::{BeadsProtocol, DoltSpec};
use gastown_api::{SecretKeyRef, labels};
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, Probe, Service, ServiceSpec, Volume, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::backup::{BACKUP_COMPONENT, restore_init_container, server_backup_env};
use super::{
    TERMINATION_MESSAGE_POLICY, TownRef, env, env_from_secret, pod_template, port, selector,
    service_port, tcp_probe, volume_mount,
};
use crate::builders::security::container_security_context;
use crate::naming;

/// Port of dolt's MySQL-protocol listener. The image's entrypoint waits on
/// 3306 whatever the config says (D1), and the config pins it.
pub const DOLT_PORT: i32 = 3306;
/// The data directory: the image's WORKDIR and VOLUME (D2), on the claim.
const DOLT_DATA_MOUNT: &str = "/var/lib/dolt";
/// Where the image looks for its server config (D1).
const DOLT_CONFIG_MOUNT: &str = "/etc/dolt/servercfg.d";
/// A writable home: every `dolt` command writes `$HOME/.dolt/config_global.json`
/// and exits 1 ("Failed to load the global config") when it cannot (D4); the
/// image has no user of its own (D2) and runs here as uid 1000.
const DOLT_HOME: &str = "/home/dolt";
/// The first release whose server reads `DOLT_ROOT_HOST`/`DOLT_ROOT_PASSWORD`
/// (v1.46.0, 2025-01-15; D3): an older one silently leaves root without the password.
const ROOT_PASSWORD_SINCE: (u64, u64, u64) = (1, 46, 0);

/// dolt's `config.yaml`: the user's keys as given, with what the pod depends
/// on pinned — the listener on every address at [`DOLT_PORT`] (YAML
/// `listener.host` defaults to `localhost`, unreachable from other pods; with
/// `--config`, sql-server ignores its other flags, D3) and the data and
/// privilege directories on the claim (the beads chart's layout, B3).
pub fn dolt_config(town: &TownRef, dolt: &DoltSpec) -> ConfigMap {
    let mut config: BTreeMap<String, serde_json::Value> = dolt.config.clone().unwrap_or_default();
    let listener = config
        .entry("listener".into())
        .or_insert_with(|| serde_json::json!({}));
    if let Some(listener) = listener.as_object_mut() {
        listener.insert("host".into(), "0.0.0.0".into());
        listener.insert("port".into(), DOLT_PORT.into());
    }
    config.insert("data_dir".into(), DOLT_DATA_MOUNT.into());
    config.insert(
        "cfg_dir".into(),
        format!("{DOLT_DATA_MOUNT}/.doltcfg").into(),
    );
    let yaml =
        serde_yaml::to_string(&config).expect("a map of JSON values always serialises to YAML");
    ConfigMap {
        metadata: town.meta(naming::dolt_config(&town.name), "dolt", true),
        data: Some(BTreeMap::from([("config.yaml".to_string(), yaml)])),
        ..Default::default()
    }
}

/// The headless Service giving the dolt pod a stable name.
pub fn dolt_service(town: &TownRef) -> Service {
    Service {
        metadata: town.meta(naming::dolt(&town.name), "dolt", true),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(town.component_labels("dolt")),
            ports: Some(vec![service_port("mysql", DOLT_PORT)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Lets only the town's beads server reach dolt's SQL port — and with `bd
/// serve`, the town's agents: every other pod goes through them. Owned by
/// the town: its early removal only opens dolt up.
pub fn dolt_network_policy(
    town: &TownRef,
    protocol: BeadsProtocol,
    backups: bool,
) -> NetworkPolicy {
    let mut from = vec![NetworkPolicyPeer {
        pod_selector: Some(selector(&town.component_labels("bd-daemon"))),
        ..Default::default()
    }];
    if backups {
        // The backup Jobs are clients of the server (backup.rs).
        from.push(NetworkPolicyPeer {
            pod_selector: Some(selector(&town.component_labels(BACKUP_COMPONENT))),
            ..Default::default()
        });
    }
    if protocol == BeadsProtocol::Serve {
        // With bd serve, agents' bd and gt use Dolt directly (bd-serve-v0.md
        // §1): the town's agent pods, and no one else's.
        from.push(NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some([(labels::TOWN.to_string(), town.name.clone())].into()),
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: labels::ROLE.into(),
                    operator: "Exists".into(),
                    values: None,
                }]),
            }),
            ..Default::default()
        });
    }
    NetworkPolicy {
        metadata: town.meta(naming::dolt(&town.name), "dolt", true),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(&town.component_labels("dolt"))),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: Some(vec![NetworkPolicyPort {
                    protocol: Some("TCP".into()),
                    port: Some(IntOrString::Int(DOLT_PORT)),
                    end_port: None,
                }]),
            }]),
            egress: None,
        }),
    }
}

/// `major.minor.patch` of an image tag such as `dolthub/dolt-sql-server:1.81.6`
/// (a leading `v` allowed); `None` for `latest`, a digest or anything else.
fn tag_version(image: &str) -> Option<(u64, u64, u64)> {
    let (_, tag) = image.split('@').next()?.rsplit_once(':')?;
    if tag.contains('/') {
        return None; // a registry port, not a tag
    }
    let mut parts = tag.trim_start_matches('v').splitn(3, '.');
    let number = |part: Option<&str>| -> Option<u64> {
        let digits: String = part?.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    Some((
        number(parts.next())?,
        number(parts.next())?,
        number(parts.next())?,
    ))
}

/// Why dolt's image must not run as configured, if so: a root password is
/// set but the image's version predates the variable that carries it, so
/// root would silently have none.
pub fn dolt_image_refusal(dolt: &DoltSpec) -> Option<String> {
    dolt.root_password_secret_ref.as_ref()?;
    let version = tag_version(&dolt.image)?;
    (version < ROOT_PASSWORD_SINCE).then(|| {
        let (major, minor, patch) = ROOT_PASSWORD_SINCE;
        format!(
            "dolt image {} predates DOLT_ROOT_PASSWORD (dolt v{major}.{minor}.{patch}): root would have no password; use dolthub/dolt-sql-server {major}.{minor}.{patch} or later",
            dolt.image
        )
    })
}

/// The dolt StatefulSet. Its claim is kept when the town goes unless
/// `persistence.retainOnDelete` is false.
///
/// The image's entrypoint is bypassed, as the beads chart does (B3): it
/// appends its own `--config=<the yaml in servercfg.d>` (a second one makes
/// dolt exit) and overrides `DOLT_ROOT_PATH` (D1). sql-server itself creates
/// `root@$DOLT_ROOT_HOST` with `DOLT_ROOT_PASSWORD` — on its first start only,
/// when `privileges.db` does not exist yet (D3); the bd daemon creates its
/// database (B4). With `restore`, an init container restores the backup
/// into the empty volume before the server first starts.
pub fn dolt_statefulset(
    town: &TownRef,
    dolt: &DoltSpec,
    restore: Option<&DoltRestore>,
) -> StatefulSet {
    let labels = town.component_labels("dolt");
    let persistence = dolt.persistence();
    let when_deleted = if persistence.retain_on_delete() {
        "Retain"
    } else {
        "Delete"
    };
    // The bd daemon runs in its own pod: root must be allowed from any host
    // (dolt creates root@localhost only by default), behind the password if set.
    let mut container_env = vec![env("HOME", DOLT_HOME), env("DOLT_ROOT_HOST", "%")];
    if let Some(SecretKeyRef { name, key }) = &dolt.root_password_secret_ref {
        container_env.push(env_from_secret("DOLT_ROOT_PASSWORD", name, key));
    }
    let mount = volume_mount;
    let container = Container {
        name: "dolt".into(),
        image: Some(dolt.image.clone()),
        command: Some(vec![
            "dolt".into(),
            "sql-server".into(),
            format!("--config={DOLT_CONFIG_MOUNT}/config.yaml"),
        ]),
        working_dir: Some(DOLT_DATA_MOUNT.into()),
        ports: Some(vec![port("mysql", DOLT_PORT)]),
        env: Some(container_env),
        env_from: server_backup_env(dolt),
        resources: dolt.resources.clone(),
        volume_mounts: Some(vec![
            mount("data", DOLT_DATA_MOUNT, false),
            mount("config", DOLT_CONFIG_MOUNT, true),
            mount("home", DOLT_HOME, false),
        ]),
        // TCP on the SQL port, as the beads chart probes (B3); a large
        // database may take minutes to open, hence the startup probe.
        startup_probe: Some(Probe {
            failure_threshold: Some(60),
            ..tcp_probe("mysql", 5)
        }),
        readiness_probe: Some(tcp_probe("mysql", 5)),
        liveness_probe: Some(tcp_probe("mysql", 20)),
        termination_message_policy: Some(TERMINATION_MESSAGE_POLICY.into()),
        security_context: Some(container_security_context()),
        ..Default::default()
    };
    let config_volume = Volume {
        name: "config".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: naming::dolt_config(&town.name),
            ..Default::default()
        }),
        ..Default::default()
    };
    let home_volume = Volume {
        name: "home".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    };
    let mut template = pod_template(
        labels.clone(),
        vec![container],
        Some(vec![config_volume, home_volume]),
    );
    if let (Some(restore), Some(spec)) = (restore, template.spec.as_mut()) {
        spec.init_containers = Some(vec![restore_init_container(dolt, restore, DOLT_DATA_MOUNT)]);
    }
    StatefulSet {
        metadata: town.meta(naming::dolt(&town.name), "dolt", false),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(naming::dolt(&town.name)),
            selector: selector(&labels),
            template,
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    ..Default::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    storage_class_name: persistence.storage_class_name.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            persistence.size(),
                        )])),
                        limits: None,
                    }),
                    ..Default::default()
                }),
                status: None,
            }]),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(when_deleted.into()),
                    when_scaled: Some("Retain".into()),
                },
            ),
            ..Default::default()
        }),
        status: None,
    }
}

//! The agent pod template and its layered merge.
//!
//! An agent pod is described by up to five layers, from least to most specific:
//!
//! 1. `GasTown.spec.defaults`
//! 2. `Rig.spec.podOverrides`
//! 3. `Rig.spec.roleOverrides[role]`
//! 4. `AgentPool.spec.template`
//! 5. per-agent values the operator reads from beads
//!
//! [`merge`] folds them into a [`ResolvedTemplate`] with these rules:
//! - scalars (image, pull policy, service account, affinity as a whole): the most specific
//!   layer that sets a value wins;
//! - maps (nodeSelector, labels, annotations, and env keyed by variable name): merged, the more
//!   specific layer's keys win;
//! - lists (tolerations, volumes, volumeMounts): replaced whole by the most specific layer
//!   that sets them (an empty list clears them);
//! - resources: merged per key of `requests` and of `limits`;
//! - storage: size and storage class each follow the scalar rule.
//!
//! The merge is pure: no I/O, no defaults beyond what the layers say.

use crate::common::{AgentRole, AgentSpec, ImagePullPolicy, SecretRef, StorageSpec};
use k8s_openapi::{
    api::core::v1::{
        Affinity, EnvVar, Probe, ResourceRequirements, Toleration, Volume, VolumeMount,
    },
    apimachinery::pkg::api::resource::Quantity,
};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One layer of an agent pod template. Every field is optional: an unset field leaves the value of the less specific layers in place.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    /// Container image of the agent, e.g. `ghcr.io/example/gastown-agent:1.2.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512), regex(pattern = crate::schema::IMAGE_PATTERN))]
    pub image: Option<String>,

    /// When to pull the image: Always, IfNotPresent or Never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// Compute resources. Merged per key: a layer that sets only `limits.memory` keeps the cpu and memory requests of the layers below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::resource_requirements")]
    pub resources: Option<ResourceRequirements>,

    /// Persistent workspace volume for roles that keep one (crew). Polecats, mayor and deacon always work on an ephemeral volume; witness and refinery share the rig's workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,

    /// Environment variables, merged by name with those of the layers below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 64),
        schema_with = "crate::schema::without_nested_descriptions::<Option<Vec<EnvVar>>>"
    )]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["name".into()]))]
    pub env: Option<Vec<EnvVar>>,

    /// Node labels the pod must be scheduled on; merged by key with the layers below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 32))]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Tolerations of the pod; a layer that sets them replaces those of the layers below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 32),
        schema_with = "crate::schema::without_nested_descriptions::<Option<Vec<Toleration>>>"
    )]
    pub tolerations: Option<Vec<Toleration>>,

    /// Extra volumes of the pod; a layer that sets them replaces those of the layers below. The names `workspace` and `tmp` belong to the agent's own volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16), schema_with = "crate::schema::volumes")]
    #[x_kube(validation = kube::core::Rule::new(crate::schema::NO_RESERVED_VOLUME_NAMES_RULE).message("volumes: the names workspace and tmp are reserved for the agent's own volumes"))]
    pub volumes: Option<Vec<Volume>>,

    /// Where the agent container mounts the extra volumes; a layer that sets them replaces those of the layers below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 16),
        schema_with = "crate::schema::without_nested_descriptions::<Option<Vec<VolumeMount>>>"
    )]
    pub volume_mounts: Option<Vec<VolumeMount>>,

    /// Scheduling affinity of the pod; a layer that sets it replaces the one below whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::without_nested_descriptions::<Option<Affinity>>")]
    pub affinity: Option<Affinity>,

    /// ServiceAccount the pod runs as; the operator's per-rig account when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::schema::DNS_SUBDOMAIN_PATTERN))]
    pub service_account_name: Option<String>,

    /// Extra labels on the pod; merged by key. The operator's own `gastown.io/*` labels win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 32))]
    pub labels: Option<BTreeMap<String, String>>,

    /// Extra annotations on the pod; merged by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 32))]
    pub annotations: Option<BTreeMap<String, String>>,

    /// The agent container's startup and liveness probes; each field replaces that of the layers below. By default the operator checks that Claude Code runs (`pgrep -f 'claude|node'`), as upstream Gas Town does: a custom image needs `pgrep`, or other probes here, or `enabled: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<AgentProbes>,

    /// Secret holding Claude Code's OAuth credentials under the key `credentials.json`, mounted at `/tmp/claude-credentials` (upstream's agent image copies it into `~/.claude` unless a newer copy is already on the workspace). Replaces `spec.secrets.claudeCredentialsSecretRef` of the town for the agents of this layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_credentials_secret_ref: Option<SecretRef>,
}

/// The agent container's probes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentProbes {
    /// Whether the agent container is probed at all. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Replaces the default startup probe (every 5 s, up to 5 min).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::without_nested_descriptions::<Option<Probe>>")]
    pub startup: Option<Probe>,
    /// Replaces the default liveness probe (every 15 s after 30 s; restarted after 3 failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::without_nested_descriptions::<Option<Probe>>")]
    pub liveness: Option<Probe>,
}

impl From<&AgentSpec> for PodTemplate {
    /// A singleton agent's image and resources as a template layer.
    fn from(agent: &AgentSpec) -> Self {
        PodTemplate {
            image: agent.image.clone(),
            resources: agent.resources.clone(),
            ..PodTemplate::default()
        }
    }
}

/// The result of merging all layers: what the operator puts into the agent's pod.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvedTemplate {
    /// Container image; `None` when no layer names one (the operator refuses to start the pod).
    pub image: Option<String>,
    /// Image pull policy; Kubernetes' own default applies when `None`.
    pub image_pull_policy: Option<ImagePullPolicy>,
    /// Resource requests, by resource name.
    pub requests: BTreeMap<String, Quantity>,
    /// Resource limits, by resource name.
    pub limits: BTreeMap<String, Quantity>,
    /// Persistent volume request (size and class each from the most specific layer).
    pub storage: StorageSpec,
    /// Environment variables in first-definition order, each with its most specific value.
    pub env: Vec<EnvVar>,
    /// Node selector.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Extra volumes.
    pub volumes: Vec<Volume>,
    /// Mounts of the extra volumes in the agent container.
    pub volume_mounts: Vec<VolumeMount>,
    /// Affinity.
    pub affinity: Option<Affinity>,
    /// ServiceAccount name.
    pub service_account_name: Option<String>,
    /// Extra pod labels.
    pub labels: BTreeMap<String, String>,
    /// Extra pod annotations.
    pub annotations: BTreeMap<String, String>,
    /// Whether the agent container is probed (default true).
    pub probes_enabled: Option<bool>,
    /// A startup probe replacing the operator's default.
    pub startup_probe: Option<Probe>,
    /// A liveness probe replacing the operator's default.
    pub liveness_probe: Option<Probe>,
    /// Secret with Claude Code's `credentials.json`, when a layer names one.
    pub claude_credentials: Option<SecretRef>,
}

/// The workspace volume an agent works in, which depends on its role.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkspaceVolume {
    /// An `emptyDir`, gone with the pod (polecats, mayor, deacon).
    Ephemeral,
    /// The rig's shared workspace claim (witness, refinery).
    RigWorkspace,
    /// A claim of the agent's own (crew), with the resolved size and class.
    OwnClaim(StorageSpec),
}

/// Size of a crew member's own workspace when no layer sets one.
pub const DEFAULT_CREW_STORAGE_SIZE: &str = "10Gi";

impl ResolvedTemplate {
    /// The resolved resources as a container's `resources`.
    pub fn resources(&self) -> ResourceRequirements {
        let non_empty = |map: &BTreeMap<String, Quantity>| (!map.is_empty()).then(|| map.clone());
        ResourceRequirements {
            requests: non_empty(&self.requests),
            limits: non_empty(&self.limits),
            claims: None,
        }
    }

    /// The workspace volume of an agent of `role` under this template.
    pub fn workspace_volume(&self, role: AgentRole) -> WorkspaceVolume {
        match role {
            AgentRole::Polecat | AgentRole::Mayor | AgentRole::Deacon => WorkspaceVolume::Ephemeral,
            AgentRole::Witness | AgentRole::Refinery => WorkspaceVolume::RigWorkspace,
            AgentRole::Crew => WorkspaceVolume::OwnClaim(StorageSpec {
                size: Some(
                    self.storage
                        .size
                        .clone()
                        .unwrap_or_else(|| Quantity(DEFAULT_CREW_STORAGE_SIZE.into())),
                ),
                storage_class_name: self.storage.storage_class_name.clone(),
            }),
        }
    }

    /// Lays `layer` over what has been resolved so far.
    fn apply(&mut self, layer: &PodTemplate) {
        override_scalar(&mut self.image, &layer.image);
        override_scalar(&mut self.image_pull_policy, &layer.image_pull_policy);
        override_scalar(&mut self.affinity, &layer.affinity);
        override_scalar(&mut self.service_account_name, &layer.service_account_name);
        if let Some(resources) = &layer.resources {
            merge_map(&mut self.requests, &resources.requests);
            merge_map(&mut self.limits, &resources.limits);
        }
        if let Some(storage) = &layer.storage {
            override_scalar(&mut self.storage.size, &storage.size);
            override_scalar(
                &mut self.storage.storage_class_name,
                &storage.storage_class_name,
            );
        }
        if let Some(env) = &layer.env {
            merge_env(&mut self.env, env);
        }
        merge_map(&mut self.node_selector, &layer.node_selector);
        merge_map(&mut self.labels, &layer.labels);
        merge_map(&mut self.annotations, &layer.annotations);
        replace_list(&mut self.tolerations, &layer.tolerations);
        replace_list(&mut self.volumes, &layer.volumes);
        replace_list(&mut self.volume_mounts, &layer.volume_mounts);
        if let Some(probes) = &layer.probes {
            override_scalar(&mut self.probes_enabled, &probes.enabled);
            override_scalar(&mut self.startup_probe, &probes.startup);
            override_scalar(&mut self.liveness_probe, &probes.liveness);
        }
        override_scalar(
            &mut self.claude_credentials,
            &layer.claude_credentials_secret_ref,
        );
    }
}

/// Merges template layers ordered from least to most specific (see the module docs).
pub fn merge<'a>(layers: impl IntoIterator<Item = &'a PodTemplate>) -> ResolvedTemplate {
    layers
        .into_iter()
        .fold(ResolvedTemplate::default(), |mut resolved, layer| {
            resolved.apply(layer);
            resolved
        })
}

fn override_scalar<T: Clone>(resolved: &mut Option<T>, layer: &Option<T>) {
    if let Some(value) = layer {
        *resolved = Some(value.clone());
    }
}

fn replace_list<T: Clone>(resolved: &mut Vec<T>, layer: &Option<Vec<T>>) {
    if let Some(list) = layer {
        *resolved = list.clone();
    }
}

fn merge_map<V: Clone>(resolved: &mut BTreeMap<String, V>, layer: &Option<BTreeMap<String, V>>) {
    if let Some(layer) = layer {
        resolved.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// Env is a map keyed by variable name that keeps its order: a redefined variable keeps its place, a new one is appended.
fn merge_env(resolved: &mut Vec<EnvVar>, layer: &[EnvVar]) {
    for var in layer {
        match resolved
            .iter_mut()
            .find(|existing| existing.name == var.name)
        {
            Some(existing) => *existing = var.clone(),
            None => resolved.push(var.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EnvVarSource, NodeAffinity, SecretKeySelector};

    fn q(text: &str) -> Quantity {
        Quantity(text.into())
    }

    fn quantities(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), q(v))).collect())
    }

    fn strings(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn env(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        }
    }

    fn toleration(key: &str) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            ..Toleration::default()
        }
    }

    fn volume(name: &str) -> Volume {
        Volume {
            name: name.into(),
            ..Volume::default()
        }
    }

    fn mount(name: &str, path: &str) -> VolumeMount {
        VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            ..VolumeMount::default()
        }
    }

    fn resources(
        requests: &[(&str, &str)],
        limits: &[(&str, &str)],
    ) -> Option<ResourceRequirements> {
        Some(ResourceRequirements {
            requests: quantities(requests),
            limits: quantities(limits),
            claims: None,
        })
    }

    /// Seed 001 §4.4: a polecat in the gastown rig.
    ///
    /// | Field        | GasTown      | Rig      | Role              | Resolved          |
    /// | image        | agent:latest | —        | —                 | agent:latest      |
    /// | cpu request  | 500m         | 1        | 500m              | 500m              |
    /// | memory limit | 4Gi          | 8Gi      | 4Gi               | 4Gi               |
    /// | nodeSelector | —            | —        | {node-type: burst}| {node-type: burst}|
    /// | storage      | PVC 10Gi     | PVC 20Gi | — (EmptyDir)      | EmptyDir          |
    #[test]
    fn seed_worked_example_polecat_in_gastown_rig() {
        let town = PodTemplate {
            image: Some("agent:latest".into()),
            resources: resources(&[("cpu", "500m")], &[("memory", "4Gi")]),
            storage: Some(StorageSpec {
                size: Some(q("10Gi")),
                storage_class_name: None,
            }),
            ..PodTemplate::default()
        };
        let rig = PodTemplate {
            resources: resources(&[("cpu", "1")], &[("memory", "8Gi")]),
            storage: Some(StorageSpec {
                size: Some(q("20Gi")),
                storage_class_name: None,
            }),
            ..PodTemplate::default()
        };
        let polecat_role = PodTemplate {
            resources: resources(&[("cpu", "500m")], &[("memory", "4Gi")]),
            node_selector: strings(&[("node-type", "burst")]),
            ..PodTemplate::default()
        };

        let resolved = merge([&town, &rig, &polecat_role]);

        assert_eq!(resolved.image.as_deref(), Some("agent:latest"));
        assert_eq!(resolved.requests.get("cpu"), Some(&q("500m")));
        assert_eq!(resolved.limits.get("memory"), Some(&q("4Gi")));
        assert_eq!(
            resolved.node_selector,
            strings(&[("node-type", "burst")]).unwrap()
        );
        assert_eq!(
            resolved.workspace_volume(AgentRole::Polecat),
            WorkspaceVolume::Ephemeral
        );
        // The same layers give a crew member the rig's 20Gi claim.
        assert_eq!(
            resolved.workspace_volume(AgentRole::Crew),
            WorkspaceVolume::OwnClaim(StorageSpec {
                size: Some(q("20Gi")),
                storage_class_name: None
            })
        );
    }

    #[test]
    fn merge_rules_table() {
        struct Case {
            name: &'static str,
            layers: Vec<PodTemplate>,
            check: fn(&ResolvedTemplate),
        }
        let cases = vec![
            Case {
                name: "no layers resolve to nothing",
                layers: vec![],
                check: |r| assert_eq!(r, &ResolvedTemplate::default()),
            },
            Case {
                name: "scalar: the more specific layer wins when set",
                layers: vec![
                    PodTemplate {
                        image: Some("base".into()),
                        image_pull_policy: Some(ImagePullPolicy::Always),
                        service_account_name: Some("town".into()),
                        ..Default::default()
                    },
                    PodTemplate {
                        image: Some("specific".into()),
                        ..Default::default()
                    },
                ],
                check: |r| {
                    assert_eq!(r.image.as_deref(), Some("specific"));
                    assert_eq!(r.image_pull_policy, Some(ImagePullPolicy::Always));
                    assert_eq!(r.service_account_name.as_deref(), Some("town"));
                },
            },
            Case {
                name: "scalar: an unset specific layer keeps the base",
                layers: vec![
                    PodTemplate {
                        image: Some("base".into()),
                        ..Default::default()
                    },
                    PodTemplate::default(),
                    PodTemplate::default(),
                ],
                check: |r| assert_eq!(r.image.as_deref(), Some("base")),
            },
            Case {
                name: "maps: merged, specific keys win",
                layers: vec![
                    PodTemplate {
                        node_selector: strings(&[("zone", "a"), ("pool", "agents")]),
                        labels: strings(&[("team", "core")]),
                        annotations: strings(&[("a", "1")]),
                        ..Default::default()
                    },
                    PodTemplate {
                        node_selector: strings(&[("zone", "b")]),
                        labels: strings(&[("tier", "burst")]),
                        ..Default::default()
                    },
                ],
                check: |r| {
                    assert_eq!(
                        r.node_selector,
                        strings(&[("zone", "b"), ("pool", "agents")]).unwrap()
                    );
                    assert_eq!(
                        r.labels,
                        strings(&[("team", "core"), ("tier", "burst")]).unwrap()
                    );
                    assert_eq!(r.annotations, strings(&[("a", "1")]).unwrap());
                },
            },
            Case {
                name: "env: merged by name, order of first definition kept",
                layers: vec![
                    PodTemplate {
                        env: Some(vec![env("A", "1"), env("B", "1")]),
                        ..Default::default()
                    },
                    PodTemplate {
                        env: Some(vec![env("C", "2"), env("A", "2")]),
                        ..Default::default()
                    },
                ],
                check: |r| {
                    assert_eq!(r.env, vec![env("A", "2"), env("B", "1"), env("C", "2")]);
                },
            },
            Case {
                name: "env: a secret reference replaces a literal value of the same name",
                layers: vec![
                    PodTemplate {
                        env: Some(vec![env("TOKEN", "literal")]),
                        ..Default::default()
                    },
                    PodTemplate {
                        env: Some(vec![EnvVar {
                            name: "TOKEN".into(),
                            value: None,
                            value_from: Some(EnvVarSource {
                                secret_key_ref: Some(SecretKeySelector {
                                    name: "s".into(),
                                    key: "k".into(),
                                    optional: None,
                                }),
                                ..Default::default()
                            }),
                        }]),
                        ..Default::default()
                    },
                ],
                check: |r| {
                    assert_eq!(r.env.len(), 1);
                    assert_eq!(r.env[0].value, None);
                    assert!(r.env[0].value_from.is_some());
                },
            },
            Case {
                name: "lists: tolerations replaced whole",
                layers: vec![
                    PodTemplate {
                        tolerations: Some(vec![toleration("a"), toleration("b")]),
                        ..Default::default()
                    },
                    PodTemplate {
                        tolerations: Some(vec![toleration("c")]),
                        ..Default::default()
                    },
                ],
                check: |r| assert_eq!(r.tolerations, vec![toleration("c")]),
            },
            Case {
                name: "lists: an empty list clears, an unset list keeps",
                layers: vec![
                    PodTemplate {
                        tolerations: Some(vec![toleration("a")]),
                        ..Default::default()
                    },
                    PodTemplate {
                        tolerations: Some(vec![]),
                        ..Default::default()
                    },
                    PodTemplate::default(),
                ],
                check: |r| assert!(r.tolerations.is_empty()),
            },
            Case {
                name: "lists: volumes and their mounts replaced whole",
                layers: vec![
                    PodTemplate {
                        volumes: Some(vec![volume("a"), volume("b")]),
                        volume_mounts: Some(vec![mount("a", "/a")]),
                        ..Default::default()
                    },
                    PodTemplate {
                        volumes: Some(vec![volume("c")]),
                        ..Default::default()
                    },
                ],
                check: |r| {
                    assert_eq!(r.volumes, vec![volume("c")]);
                    assert_eq!(r.volume_mounts, vec![mount("a", "/a")]);
                },
            },
            Case {
                name: "resources: merged per requests/limits key",
                layers: vec![
                    PodTemplate {
                        resources: resources(
                            &[("cpu", "500m"), ("memory", "1Gi")],
                            &[("cpu", "2"), ("memory", "4Gi")],
                        ),
                        ..Default::default()
                    },
                    PodTemplate {
                        resources: resources(&[], &[("memory", "8Gi")]),
                        ..Default::default()
                    },
                    PodTemplate {
                        resources: Some(ResourceRequirements {
                            requests: quantities(&[("cpu", "1")]),
                            limits: None,
                            claims: None,
                        }),
                        ..Default::default()
                    },
                ],
                check: |r| {
                    assert_eq!(
                        r.requests,
                        quantities(&[("cpu", "1"), ("memory", "1Gi")]).unwrap()
                    );
                    assert_eq!(
                        r.limits,
                        quantities(&[("cpu", "2"), ("memory", "8Gi")]).unwrap()
                    );
                },
            },
            Case {
                name: "storage: size and class resolved independently",
                layers: vec![
                    PodTemplate {
                        storage: Some(StorageSpec {
                            size: Some(q("10Gi")),
                            storage_class_name: Some("gp3".into()),
                        }),
                        ..Default::default()
                    },
                    PodTemplate {
                        storage: Some(StorageSpec {
                            size: Some(q("50Gi")),
                            storage_class_name: None,
                        }),
                        ..Default::default()
                    },
                ],
                check: |r| {
                    assert_eq!(r.storage.size, Some(q("50Gi")));
                    assert_eq!(r.storage.storage_class_name.as_deref(), Some("gp3"));
                },
            },
            Case {
                name: "affinity: replaced whole",
                layers: vec![
                    PodTemplate {
                        affinity: Some(Affinity {
                            node_affinity: Some(NodeAffinity::default()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    PodTemplate {
                        affinity: Some(Affinity::default()),
                        ..Default::default()
                    },
                ],
                check: |r| assert_eq!(r.affinity, Some(Affinity::default())),
            },
        ];
        for case in cases {
            let resolved = merge(&case.layers);
            // Report which case failed: assertions inside `check` name the field.
            eprintln!("case: {}", case.name);
            (case.check)(&resolved);
        }
    }

    #[test]
    fn resolved_resources_omit_empty_maps() {
        let resolved = merge([&PodTemplate {
            resources: resources(&[("cpu", "1")], &[]),
            ..Default::default()
        }]);
        let resources = resolved.resources();
        assert_eq!(resources.requests, quantities(&[("cpu", "1")]));
        assert_eq!(resources.limits, None);
    }

    #[test]
    fn crew_without_storage_gets_the_default_claim_size() {
        let resolved = merge([]);
        assert_eq!(
            resolved.workspace_volume(AgentRole::Crew),
            WorkspaceVolume::OwnClaim(StorageSpec {
                size: Some(q(DEFAULT_CREW_STORAGE_SIZE)),
                storage_class_name: None
            })
        );
        assert_eq!(
            resolved.workspace_volume(AgentRole::Witness),
            WorkspaceVolume::RigWorkspace
        );
    }

    #[test]
    fn singleton_agent_spec_is_a_layer() {
        let agent = AgentSpec {
            enabled: None,
            image: Some("witness:1".into()),
            resources: resources(&[("cpu", "250m")], &[]),
        };
        let resolved = merge([
            &PodTemplate {
                image: Some("agent:1".into()),
                resources: resources(&[("memory", "1Gi")], &[]),
                ..Default::default()
            },
            &PodTemplate::from(&agent),
        ]);
        assert_eq!(resolved.image.as_deref(), Some("witness:1"));
        assert_eq!(
            resolved.requests,
            quantities(&[("cpu", "250m"), ("memory", "1Gi")]).unwrap()
        );
    }
}

//! Building the pods of a rig's agents: the template layers, the daemon
//! connection and the Secrets, shared by the Rig controller (witness,
//! refinery, crew) and the AgentPool controller (beads-spawned agents).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ResourceRequirements;

use gastown_api::template::{PodTemplate, ResolvedTemplate, merge};
use gastown_api::{AgentRole, GasTown, Rig, SecretKeyRef, SecretRef};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crate::builders::agent_pod::{
    AgentPodError, AgentPodInput, DaemonConnection, RigContext, agent_pod,
};
use crate::builders::rig::RigRef;
use crate::reconcile::secrets::{MissingSecrets, SecretNames};

/// Everything a rig's agent pods are made from, resolved once per reconcile.
pub struct RigAgents {
    pub town: Arc<GasTown>,
    pub rig: Arc<Rig>,
    pub rig_ref: RigRef,
    connection: DaemonConnection,
    /// The first referenced Secret that does not exist, as a reason.
    missing_secret: Option<String>,
}

impl RigAgents {
    /// `missing`: the Secrets the town references that do not exist.
    pub fn new(
        town: Arc<GasTown>,
        rig: Arc<Rig>,
        rig_ref: RigRef,
        missing: &MissingSecrets,
    ) -> Self {
        let connection = DaemonConnection::of(&town.spec, &town.name_any());
        let secrets = SecretNames::of(&town.spec);
        let missing_secret = missing.blocking([
            secrets.agents_beads,
            secrets.anthropic_api_key,
            secrets.claude_credentials,
            secrets.git_credentials,
        ]);
        Self {
            connection,
            town,
            rig,
            rig_ref,
            missing_secret,
        }
    }

    /// Why no agent pod may be created now, if so.
    pub fn blocked(&self) -> Option<&str> {
        self.missing_secret.as_deref()
    }

    /// Template layers 1–3 (town defaults, rig overrides, role overrides),
    /// then `pool` (layer 4) and `agent` (layer 5) when given.
    pub fn template(
        &self,
        role: AgentRole,
        pool: Option<&PodTemplate>,
        agent: Option<&PodTemplate>,
    ) -> ResolvedTemplate {
        let defaults = self.town.spec.defaults.clone().unwrap_or_default();
        let rig_layer = self.rig.spec.pod_overrides.clone().unwrap_or_default();
        let role_layer = self
            .rig
            .spec
            .role_override(role)
            .cloned()
            .unwrap_or_default();
        let empty = PodTemplate::default();
        let sizing = match role {
            AgentRole::Polecat => polecat_sizing(&self.rig),
            _ => PodTemplate::default(),
        };
        merge([
            &defaults,
            &rig_layer,
            &role_layer,
            &sizing,
            pool.unwrap_or(&empty),
            agent.unwrap_or(&empty),
        ])
    }

    fn anthropic(&self) -> Option<&SecretKeyRef> {
        self.town
            .spec
            .secrets
            .as_ref()
            .and_then(|s| s.anthropic_api_key_secret_ref.as_ref())
    }

    fn git_credentials(&self) -> Option<&SecretRef> {
        self.town
            .spec
            .secrets
            .as_ref()
            .and_then(|s| s.git_credentials_secret_ref.as_ref())
    }

    /// The pod of agent `agent` (bead `bead_id`) of `role`.
    pub fn pod(
        &self,
        role: AgentRole,
        agent: &str,
        bead_id: &str,
        template: &ResolvedTemplate,
    ) -> Result<Pod, AgentPodError> {
        let priority_class = self.rig_ref.priority_class();
        let input = AgentPodInput {
            namespace: &self.rig_ref.namespace,
            town: &self.rig_ref.town,
            role,
            agent,
            bead_id,
            rig: Some(RigContext {
                name: &self.rig_ref.name,
                object_name: &self.rig_ref.object_name,
                git_url: self.rig.spec.git_url.as_deref(),
                default_branch: self.rig.spec.default_branch.as_deref(),
                git_credentials: self.git_credentials(),
                polecat_priority_class: &priority_class,
            }),
            template,
            daemon: self.connection.clone(),
            anthropic_api_key: self.anthropic(),
            claude_credentials: self
                .town
                .spec
                .secrets
                .as_ref()
                .and_then(|s| s.claude_credentials_secret_ref.as_ref()),
        };
        agent_pod(&input)
    }
}

/// Each polecat requests the rig's per-polecat cpu and memory
/// (`spec.polecats`), which is what the rig's quota is sized by; a pool's
/// template can still set other resources.
fn polecat_sizing(rig: &Rig) -> PodTemplate {
    let policy = rig.spec.polecats();
    PodTemplate {
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), policy.cpu()),
                ("memory".to_string(), policy.memory()),
            ])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The bead id of a rig agent, as Gas Town names them.
pub fn bead_id(rig: &str, role: AgentRole, agent: &str) -> String {
    format!("gt-{rig}-{}-{agent}", role.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polecats_request_what_the_rig_quota_is_sized_by() {
        let rig = Rig::new(
            "prod-gastown",
            serde_json::from_value(serde_json::json!({
                "name": "gastown", "polecats": {"cpu": "750m", "memory": "2Gi"}
            }))
            .unwrap(),
        );
        let requests = polecat_sizing(&rig).resources.unwrap().requests.unwrap();
        assert_eq!(requests["cpu"].0, "750m");
        assert_eq!(requests["memory"].0, "2Gi");
        let defaults = polecat_sizing(&Rig::new(
            "r",
            serde_json::from_value(serde_json::json!({"name": "r"})).unwrap(),
        ));
        assert_eq!(
            defaults.resources.unwrap().requests.unwrap()["cpu"].0,
            "500m"
        );
    }
}

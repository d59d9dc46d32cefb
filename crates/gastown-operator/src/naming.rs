//! Names and labels of everything the operator creates, in one place so that
//! builders, controllers, watches and teardown agree.
//!
//! Agent pods follow Gas Town's own convention, `gt-<rig>-<role>-<agent>`
//! (town agents: `gt-<town>-<role>`); infrastructure is prefixed with the town.

use std::collections::BTreeMap;

use gastown_api::{AgentRole, labels};

/// Field manager of every server-side apply the operator sends.
pub const FIELD_MANAGER: &str = "gastown-operator";
/// `app.kubernetes.io/managed-by` value on every object the operator creates.
pub const MANAGED_BY: &str = "gastown-operator";
/// Finalizer of GasTown objects.
pub const TOWN_FINALIZER: &str = "gastown.io/cleanup";
/// Finalizer of Rig objects.
pub const RIG_FINALIZER: &str = "gastown.io/rig-cleanup";
/// Finalizer of AgentPool objects.
pub const POOL_FINALIZER: &str = "gastown.io/pool-cleanup";
/// Annotation a town puts on its rigs when it is being deleted: no new polecats.
pub const DRAINING_ANNOTATION: &str = "gastown.io/draining";
/// Annotation on polecat pods running longer than the rig's `maxRuntime`.
pub const OVERTIME_ANNOTATION: &str = "gastown.io/overtime";

pub fn dolt(town: &str) -> String {
    format!("{town}-dolt")
}
/// The CronJob that backs dolt up (at most 40 + 12 characters: a CronJob's
/// name may have 52).
pub fn dolt_backup(town: &str) -> String {
    format!("{town}-dolt-backup")
}
/// dolt's data claim, as its StatefulSet names it (`<template>-<set>-<ordinal>`).
pub fn dolt_data_claim(town: &str) -> String {
    format!("data-{town}-dolt-0")
}
pub use gastown_api::labels::BACKUP_NOW_ANNOTATION;
pub fn dolt_config(town: &str) -> String {
    format!("{town}-dolt-config")
}
pub fn bd_daemon(town: &str) -> String {
    format!("{town}-bd-daemon")
}
pub fn rpc_server(town: &str) -> String {
    format!("{town}-rpc")
}
/// The Rig object a town keeps for its rig `rig`.
pub fn rig_object(town: &str, rig: &str) -> String {
    format!("{town}-{rig}")
}
/// The rig's shared workspace claim (witness and refinery).
pub fn rig_workspace(rig_object: &str) -> String {
    format!("{rig_object}-workspace")
}
/// A crew member's own workspace claim.
pub fn crew_workspace(rig_object: &str, crew: &str) -> String {
    format!("{rig_object}-crew-{crew}")
}
/// ServiceAccount, Role and RoleBinding of the rig's agents.
pub fn rig_agents(rig_object: &str) -> String {
    format!("{rig_object}-agents")
}
/// The ResourceQuota capping the rig's polecats.
pub fn polecat_quota(rig_object: &str) -> String {
    format!("{rig_object}-polecats")
}
/// The default polecat AgentPool of a rig.
pub fn polecat_pool(rig_object: &str) -> String {
    format!("{rig_object}-polecats")
}
/// The rig's PriorityClass. PriorityClasses are cluster-scoped, so the name
/// carries the namespace too.
pub fn polecat_priority_class(namespace: &str, rig_object: &str) -> String {
    format!("gastown-{namespace}-{rig_object}-polecat")
}

/// Pod name of an agent: `gt-<rig>-<role>-<agent>`, or `gt-<town>-<role>` for
/// the town's mayor and deacon. Rig singletons (witness, refinery) are
/// `gt-<rig>-<role>`.
pub fn agent_pod(town: &str, rig: Option<&str>, role: AgentRole, agent: &str) -> String {
    match rig {
        None => format!("gt-{town}-{}", role.as_str()),
        Some(rig) if role.is_singleton() => format!("gt-{rig}-{}", role.as_str()),
        Some(rig) => format!("gt-{rig}-{}-{agent}", role.as_str()),
    }
}

/// Labels on every object of a town.
pub fn town_labels(town: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            labels::APP_NAME.to_string(),
            labels::APP_NAME_VALUE.to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGED_BY.to_string(),
        ),
        (labels::TOWN.to_string(), town.to_string()),
    ])
}

/// Labels on every object of a rig.
pub fn rig_labels(town: &str, rig: &str) -> BTreeMap<String, String> {
    let mut labels = town_labels(town);
    labels.insert(labels::RIG.to_string(), rig.to_string());
    labels
}

/// Labels of an agent pod.
pub fn agent_labels(
    town: &str,
    rig: Option<&str>,
    role: AgentRole,
    agent: &str,
) -> BTreeMap<String, String> {
    let mut labels = match rig {
        Some(rig) => rig_labels(town, rig),
        None => town_labels(town),
    };
    labels.insert(labels::ROLE.to_string(), role.as_str().to_string());
    labels.insert(labels::AGENT.to_string(), agent.to_string());
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_pod_names_follow_the_gas_town_convention() {
        assert_eq!(
            agent_pod("prod", Some("gastown"), AgentRole::Polecat, "furiosa"),
            "gt-gastown-polecat-furiosa"
        );
        assert_eq!(
            agent_pod("prod", Some("gastown"), AgentRole::Crew, "max"),
            "gt-gastown-crew-max"
        );
        assert_eq!(
            agent_pod("prod", Some("gastown"), AgentRole::Witness, "witness"),
            "gt-gastown-witness"
        );
        assert_eq!(
            agent_pod("prod", None, AgentRole::Mayor, "mayor"),
            "gt-prod-mayor"
        );
    }

    #[test]
    fn agent_labels_identify_town_rig_role_and_agent() {
        let labels = agent_labels("prod", Some("gastown"), AgentRole::Polecat, "nux");
        assert_eq!(labels["gastown.io/town"], "prod");
        assert_eq!(labels["gastown.io/rig"], "gastown");
        assert_eq!(labels["gastown.io/role"], "polecat");
        assert_eq!(labels["gastown.io/agent"], "nux");
        assert_eq!(labels["app.kubernetes.io/name"], "gastown");
        let town_agent = agent_labels("prod", None, AgentRole::Mayor, "mayor");
        assert!(!town_agent.contains_key("gastown.io/rig"));
    }
}

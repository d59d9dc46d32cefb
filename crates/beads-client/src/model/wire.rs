//! Arguments and answers of the operations the operator uses.

use serde::{Deserialize, Serialize};

use super::issue::IssueStatus;
use super::open_enum;
use crate::lenient;

/// Arguments of `list`. Empty fields are left out of the request.
/// `labels` must all match; `labels_any` needs one match.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ListQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<IssueStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels_any: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_status: Vec<IssueStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// ISO 8601.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_after: Option<String>,
}

impl ListQuery {
    /// Issues that are neither closed nor tombstoned.
    pub fn not_closed() -> Self {
        Self {
            exclude_status: vec![IssueStatus::Closed, IssueStatus::Tombstone],
            ..Self::default()
        }
    }
}

open_enum! {
    /// The daemon's own verdict on its health.
    pub enum HealthStatus {
        Healthy => "healthy",
        Degraded => "degraded",
        Unhealthy => "unhealthy",
    }
}

impl Default for HealthStatus {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

/// Answer of `health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthReport {
    #[serde(deserialize_with = "lenient::null_default")]
    pub status: HealthStatus,
    #[serde(deserialize_with = "lenient::null_default")]
    pub version: String,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub client_version: Option<String>,
    #[serde(deserialize_with = "lenient::null_default")]
    pub compatible: bool,
    #[serde(deserialize_with = "lenient::null_default")]
    pub uptime_seconds: f64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub db_response_ms: f64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub active_connections: i64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub max_connections: i64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub memory_alloc_mb: u64,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub error: Option<String>,
}

/// Answer of `GET /healthz` (200 healthy/degraded, 503 unhealthy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Liveness {
    #[serde(deserialize_with = "lenient::null_default")]
    pub status: HealthStatus,
    #[serde(deserialize_with = "lenient::null_default")]
    pub version: String,
    /// e.g. `"123s"`.
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub uptime: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub error: Option<String>,
}

/// Answer of `GET /readyz`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Readiness {
    pub ready: bool,
    /// Why not, when not ready.
    pub reason: Option<String>,
}

/// Answer of `stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    #[serde(deserialize_with = "lenient::null_default")]
    pub total_issues: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub open_issues: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub in_progress_issues: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub closed_issues: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub blocked_issues: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub deferred_issues: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub ready_issues: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub tombstone_issues: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub pinned_issues: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub epics_eligible_for_closure: u64,
    #[serde(deserialize_with = "lenient::null_default")]
    pub average_lead_time_hours: f64,
}

open_enum! {
    /// `pod_status` as the operator reports it to `agent_pod_status`.
    pub enum PodStatus {
        Pending => "pending",
        Running => "running",
        Terminating => "terminating",
        Terminated => "terminated",
    }
}

/// One entry of `agent_pod_list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentPodInfo {
    #[serde(deserialize_with = "lenient::null_default")]
    pub agent_id: String,
    #[serde(deserialize_with = "lenient::null_default")]
    pub pod_name: String,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub pod_ip: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub pod_node: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub pod_status: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub screen_session: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub agent_state: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub rig: Option<String>,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub role_type: Option<String>,
}

/// Answer of `agent_pod_list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentPodList {
    #[serde(deserialize_with = "lenient::null_default")]
    pub agents: Vec<AgentPodInfo>,
}

/// Arguments of `agent_pod_register`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentPodRegistration {
    pub agent_id: String,
    pub pod_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_status: Option<PodStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_session: Option<String>,
}

/// Answer of `agent_pod_register`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentPodRegistered {
    #[serde(deserialize_with = "lenient::null_default")]
    pub agent_id: String,
    #[serde(deserialize_with = "lenient::null_default")]
    pub pod_name: String,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub pod_status: Option<String>,
}

/// Answer of `agent_pod_status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentPodStatusChanged {
    #[serde(deserialize_with = "lenient::null_default")]
    pub agent_id: String,
    #[serde(deserialize_with = "lenient::non_empty_string")]
    pub pod_status: Option<String>,
}

/// Answer of `agent_pod_deregister`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentPodDeregistered {
    #[serde(deserialize_with = "lenient::null_default")]
    pub agent_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_sends_only_what_is_set() {
        let query = ListQuery {
            labels_any: vec!["gt:agent".into()],
            ..ListQuery::not_closed()
        };
        assert_eq!(
            serde_json::to_value(&query).unwrap(),
            serde_json::json!({"labels_any": ["gt:agent"], "exclude_status": ["closed", "tombstone"]})
        );
    }

    #[test]
    fn health_decodes_partial_answers() {
        let health: HealthReport = serde_json::from_str(
            r#"{"status":"degraded","version":"0.49.1","uptime_seconds":12.5,"x":1}"#,
        )
        .unwrap();
        assert_eq!(health.status, HealthStatus::Degraded);
        assert_eq!(health.version, "0.49.1");
        assert_eq!(health.active_connections, 0);
        let odd: HealthReport = serde_json::from_str(r#"{"status":"sleepy"}"#).unwrap();
        assert_eq!(odd.status, HealthStatus::Other("sleepy".into()));
    }
}

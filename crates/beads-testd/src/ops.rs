//! The operations, independent of transport: a request is an operation, its raw `args` bytes and the
//! caller's identity; the answer is the daemon's `{success, data, error}`. HTTP and TCP only differ in
//! how they frame this.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Instant;

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::faults::{Faults, HealthFault};
use crate::issue::{Issue, gastown, status};
use crate::query::{GroupBy, IssueFilter, QueryArgs, ReadyArgs};
use crate::requests::RequestRecorder;
use crate::store::BeadStore;

/// The connection limit the daemon reports in `health`.
const MAX_CONNECTIONS: i32 = 100;

/// The operations this daemon serves, with their HTTP method names and wire operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    List,
    Show,
    Count,
    Create,
    Update,
    Close,
    Health,
    Status,
    Ping,
    Stats,
    Ready,
    Blocked,
    Metrics,
    GetMutations,
    AgentPodRegister,
    AgentPodDeregister,
    AgentPodStatus,
    AgentPodList,
}

const OPERATIONS: [(Operation, &str, &str); 18] = [
    (Operation::List, "List", "list"),
    (Operation::Show, "Show", "show"),
    (Operation::Count, "Count", "count"),
    (Operation::Create, "Create", "create"),
    (Operation::Update, "Update", "update"),
    (Operation::Close, "Close", "close"),
    (Operation::Health, "Health", "health"),
    (Operation::Status, "Status", "status"),
    (Operation::Ping, "Ping", "ping"),
    (Operation::Stats, "Stats", "stats"),
    (Operation::Ready, "Ready", "ready"),
    (Operation::Blocked, "Blocked", "blocked"),
    (Operation::Metrics, "Metrics", "metrics"),
    (Operation::GetMutations, "GetMutations", "get_mutations"),
    (
        Operation::AgentPodRegister,
        "AgentPodRegister",
        "agent_pod_register",
    ),
    (
        Operation::AgentPodDeregister,
        "AgentPodDeregister",
        "agent_pod_deregister",
    ),
    (
        Operation::AgentPodStatus,
        "AgentPodStatus",
        "agent_pod_status",
    ),
    (Operation::AgentPodList, "AgentPodList", "agent_pod_list"),
];

impl Operation {
    /// From an HTTP path segment: `List` → `list`.
    pub fn from_method(method: &str) -> Option<Operation> {
        OPERATIONS
            .iter()
            .find(|(_, m, _)| *m == method)
            .map(|(op, _, _)| *op)
    }

    /// From a TCP request's `operation`.
    pub fn from_name(name: &str) -> Option<Operation> {
        OPERATIONS
            .iter()
            .find(|(_, _, n)| *n == name)
            .map(|(op, _, _)| *op)
    }

    pub fn name(self) -> &'static str {
        OPERATIONS
            .iter()
            .find(|(op, _, _)| *op == self)
            .map(|(_, _, n)| *n)
            .unwrap_or("unknown")
    }
}

/// One request, as either transport delivers it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub operation: Operation,
    /// The raw `args` JSON (the HTTP body); empty when none was sent.
    pub args: &'a [u8],
    pub actor: &'a str,
    pub client_version: &'a str,
}

/// The daemon's answer: `data` on success, `error` on failure (`health` may carry both).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub success: bool,
    pub data: Option<Value>,
    pub error: Option<String>,
}

impl Reply {
    fn ok(data: Value) -> Reply {
        Reply {
            success: true,
            data: Some(data),
            error: None,
        }
    }

    fn fail(error: impl Into<String>) -> Reply {
        Reply {
            success: false,
            data: None,
            error: Some(error.into()),
        }
    }

    fn from_result(result: Result<Value, String>) -> Reply {
        result.map_or_else(Reply::fail, Reply::ok)
    }
}

/// Connection counters shared by both listeners.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    active: AtomicI32,
    total: AtomicU64,
}

/// Counts a connection as active until dropped.
pub(crate) struct ConnectionGuard(Arc<Connections>);

impl Connections {
    pub fn open(self: &Arc<Self>) -> ConnectionGuard {
        self.active.fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(Arc::clone(self))
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Everything the operations and both listeners share.
pub(crate) struct Backend {
    pub store: BeadStore,
    pub faults: Faults,
    pub requests: RequestRecorder,
    pub connections: Arc<Connections>,
    pub version: String,
    pub token: String,
    pub http_addr: String,
    pub started: Instant,
}

impl Backend {
    pub fn dispatch(&self, call: Call<'_>) -> Reply {
        match call.operation {
            Operation::List => Reply::from_result(self.list(call)),
            Operation::Show => Reply::from_result(self.show(call)),
            Operation::Count => Reply::from_result(self.count(call)),
            Operation::Create => Reply::from_result(self.create(call)),
            Operation::Update => Reply::from_result(self.update(call)),
            Operation::Close => Reply::from_result(self.close(call)),
            Operation::Health => self.health(call),
            Operation::Status => Reply::ok(self.status()),
            Operation::Ping => Reply::ok(json!({"message": "pong", "version": self.version})),
            Operation::Stats => Reply::ok(self.stats()),
            Operation::Ready => Reply::from_result(self.ready(call)),
            Operation::Blocked => Reply::from_result(self.blocked(call)),
            Operation::Metrics => Reply::ok(self.metrics()),
            Operation::GetMutations => Reply::from_result(self.get_mutations(call)),
            Operation::AgentPodRegister => Reply::from_result(self.agent_pod_register(call)),
            Operation::AgentPodDeregister => Reply::from_result(self.agent_pod_deregister(call)),
            Operation::AgentPodStatus => Reply::from_result(self.agent_pod_status(call)),
            Operation::AgentPodList => Reply::from_result(self.agent_pod_list(call)),
        }
    }

    /// The health the daemon reports: `(status, error)`.
    pub fn health_status(&self) -> (&'static str, Option<String>) {
        match self.faults.health() {
            HealthFault::Healthy => ("healthy", None),
            HealthFault::Degraded(error) => ("degraded", Some(error)),
            HealthFault::Unhealthy(error) => ("unhealthy", Some(error)),
        }
    }

    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn list(&self, call: Call<'_>) -> Result<Value, String> {
        let args: QueryArgs = required_args(call)?;
        let filter = IssueFilter::try_from(&args)?;
        let issues = self.store.read(|beads| filter.select(beads.values()));
        to_value(&issues)
    }

    fn show(&self, call: Call<'_>) -> Result<Value, String> {
        let args: IdArgs = required_args(call)?;
        let issue = self
            .store
            .get(&args.id)
            .ok_or_else(|| format!("issue not found: {}", args.id))?;
        let mut data = to_value(&issue)?;
        if let (Some(parent), Some(object)) = (issue.parent_id(), data.as_object_mut()) {
            object.insert("parent".into(), Value::from(parent));
        }
        Ok(data)
    }

    fn count(&self, call: Call<'_>) -> Result<Value, String> {
        let mut args: QueryArgs = required_args(call)?;
        args.limit = 0; // `count` has no limit
        let filter = IssueFilter::try_from(&args)?;
        let group_by = GroupBy::parse(&args.group_by)?;
        let selected = self.store.read(|beads| filter.select(beads.values()));
        Ok(match group_by {
            None => json!({ "count": selected.len() }),
            Some(group_by) => {
                let groups: Vec<Value> = group_by
                    .count(&selected)
                    .into_iter()
                    .map(|(group, count)| json!({"group": group, "count": count}))
                    .collect();
                json!({"total": selected.len(), "groups": groups})
            }
        })
    }

    fn create(&self, call: Call<'_>) -> Result<Value, String> {
        let args: CreateArgs = required_args(call)?;
        if args.title.trim().is_empty() {
            return Err("title is required".into());
        }
        let id = if args.id.is_empty() {
            self.fresh_id()
        } else {
            args.id.clone()
        };
        if self.store.get(&id).is_some() {
            return Err(format!("issue already exists: {id}"));
        }
        let mut issue = Issue::new(id, args.title)
            .with_description(&args.description)
            .with_priority(args.priority.unwrap_or(2))
            .with_labels(args.labels);
        if !args.issue_type.is_empty() {
            issue.issue_type = args.issue_type;
        }
        issue.assignee = non_empty(args.assignee);
        issue.role_type = non_empty(args.role_type);
        issue.rig = non_empty(args.rig);
        if !args.parent.is_empty() {
            issue = issue.with_parent(&args.parent);
        }
        self.store.insert_as(call.actor, issue.clone());
        to_value(&issue)
    }

    fn update(&self, call: Call<'_>) -> Result<Value, String> {
        let args: UpdateArgs = required_args(call)?;
        let updated = self
            .store
            .update_as(call.actor, &args.id, |issue| args.apply(issue))
            .ok_or_else(|| format!("failed to update issue: issue not found: {}", args.id))?;
        to_value(&updated)
    }

    fn close(&self, call: Call<'_>) -> Result<Value, String> {
        let args: IdArgs = required_args(call)?;
        let closed = self
            .store
            .update_as(call.actor, &args.id, |issue| {
                issue.status = status::CLOSED.to_owned()
            })
            .ok_or_else(|| format!("failed to close issue: issue not found: {}", args.id))?;
        to_value(&closed)
    }

    fn health(&self, call: Call<'_>) -> Reply {
        let (status, error) = self.health_status();
        let mut data = json!({
            "status": status,
            "version": self.version,
            "compatible": true,
            "uptime_seconds": self.uptime_seconds(),
            "db_response_ms": 0.0,
            "active_connections": self.connections.active.load(Ordering::Relaxed),
            "max_connections": MAX_CONNECTIONS,
            "memory_alloc_mb": 0,
        });
        if !call.client_version.is_empty() {
            data["client_version"] = Value::from(call.client_version);
        }
        if let Some(error) = &error {
            data["error"] = Value::from(error.as_str());
        }
        // Like the daemon, an unhealthy daemon answers with the health data *and* a failure.
        let success = status != "unhealthy";
        Reply {
            success,
            data: Some(data),
            error: error.filter(|_| !success),
        }
    }

    fn status(&self) -> Value {
        json!({
            "version": self.version,
            "workspace_path": "/testd",
            "database_path": "/testd/.beads/beads.db",
            "socket_path": "",
            "pid": std::process::id(),
            "uptime_seconds": self.uptime_seconds(),
            "last_activity_time": Timestamp::now().to_string(),
            "exclusive_lock_active": false,
            "auto_commit": false,
            "auto_push": false,
            "auto_pull": false,
            "local_mode": true,
            "sync_interval": "5s",
            "daemon_mode": "events",
            "http_addr": self.http_addr,
        })
    }

    fn stats(&self) -> Value {
        self.store.read(|beads| {
            let with_status = |wanted: &str| beads.values().filter(|i| i.status == wanted).count();
            let lead_times: Vec<f64> = beads
                .values()
                .filter_map(|i| {
                    i.closed_at.map(|closed| {
                        (closed.as_second() - i.created_at.as_second()) as f64 / 3600.0
                    })
                })
                .collect();
            let average_lead_time_hours = if lead_times.is_empty() {
                0.0
            } else {
                lead_times.iter().sum::<f64>() / lead_times.len() as f64
            };
            json!({
                "total_issues": beads.len() - with_status(status::TOMBSTONE),
                "open_issues": with_status(status::OPEN),
                "in_progress_issues": with_status(status::IN_PROGRESS),
                "closed_issues": with_status(status::CLOSED),
                "blocked_issues": with_status(status::BLOCKED),
                "deferred_issues": with_status(status::DEFERRED),
                "ready_issues": with_status(status::OPEN),
                "tombstone_issues": with_status(status::TOMBSTONE),
                "pinned_issues": with_status(status::PINNED),
                "epics_eligible_for_closure": 0,
                "average_lead_time_hours": average_lead_time_hours,
            })
        })
    }

    fn ready(&self, call: Call<'_>) -> Result<Value, String> {
        let args: ReadyArgs = optional_args(call)?;
        let filter = IssueFilter::from(&args);
        to_value(&self.store.read(|beads| filter.select(beads.values())))
    }

    fn blocked(&self, call: Call<'_>) -> Result<Value, String> {
        let args: BlockedArgs = optional_args(call)?;
        let blocked: Vec<Value> = self.store.read(|beads| {
            beads
                .values()
                .filter(|i| i.status == status::BLOCKED)
                .filter(|i| {
                    args.parent_id.is_empty() || i.parent_id() == Some(args.parent_id.as_str())
                })
                .map(|i| {
                    let blockers: Vec<&str> = i
                        .dependencies
                        .iter()
                        .filter(|d| d.dep_type == "blocks")
                        .map(|d| d.depends_on_id.as_str())
                        .collect();
                    let mut value = serde_json::to_value(i).unwrap_or_default();
                    value["blocked_by_count"] = json!(blockers.len());
                    value["blocked_by"] = json!(blockers);
                    value
                })
                .collect()
        });
        Ok(Value::Array(blocked))
    }

    fn metrics(&self) -> Value {
        let operations: Vec<Value> = self
            .requests
            .snapshot()
            .by_operation()
            .into_iter()
            .map(|(operation, tally)| {
                json!({
                    "operation": operation,
                    "total_count": tally.requests,
                    "success_count": tally.requests - tally.failures,
                    "error_count": tally.failures,
                    "latency": {"min_ms": 0.0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0},
                })
            })
            .collect();
        json!({
            "timestamp": Timestamp::now().to_string(),
            "uptime_seconds": self.uptime_seconds(),
            "operations": operations,
            "total_connections": self.connections.total.load(Ordering::Relaxed),
            "active_connections": self.connections.active.load(Ordering::Relaxed),
            "rejected_connections": 0,
            "memory_alloc_mb": 0,
            "memory_sys_mb": 0,
            "goroutine_count": 0,
            "slow_query_threshold_ms": 0.0,
            "total_slow_queries": 0,
            "total_dedup_hits": 0,
            "total_dedup_misses": 0,
            "dedup_hit_ratio": 0.0,
            "saved_queries": 0,
        })
    }

    fn get_mutations(&self, call: Call<'_>) -> Result<Value, String> {
        let args: GetMutationsArgs = required_args(call)?;
        let events = self.store.mutations_since(args.since);
        // The daemon marshals an empty Go slice as `null`.
        if events.is_empty() {
            Ok(Value::Null)
        } else {
            to_value(&events)
        }
    }

    fn agent_pod_register(&self, call: Call<'_>) -> Result<Value, String> {
        let args: AgentPodRegisterArgs = required_args(call)?;
        require(&args.agent_id, "agent_id")?;
        require(&args.pod_name, "pod_name")?;
        let pod_status = if args.pod_status.is_empty() {
            "running".to_owned()
        } else {
            args.pod_status.clone()
        };
        self.store
            .update_as(call.actor, &args.agent_id, |issue| {
                issue.pod_name = non_empty(args.pod_name.clone());
                issue.pod_ip = non_empty(args.pod_ip.clone());
                issue.pod_node = non_empty(args.pod_node.clone());
                issue.pod_status = Some(pod_status.clone());
                issue.screen_session = non_empty(args.screen_session.clone());
                issue.last_activity = Some(Timestamp::now());
            })
            .ok_or_else(|| not_found("register pod for agent", &args.agent_id))?;
        Ok(json!({"agent_id": args.agent_id, "pod_name": args.pod_name, "pod_status": pod_status}))
    }

    fn agent_pod_deregister(&self, call: Call<'_>) -> Result<Value, String> {
        let args: AgentIdArgs = required_args(call)?;
        require(&args.agent_id, "agent_id")?;
        self.store
            .update_as(call.actor, &args.agent_id, |issue| {
                issue.pod_name = None;
                issue.pod_ip = None;
                issue.pod_node = None;
                issue.pod_status = None;
                issue.screen_session = None;
                issue.last_activity = Some(Timestamp::now());
            })
            .ok_or_else(|| not_found("deregister pod for agent", &args.agent_id))?;
        Ok(json!({"agent_id": args.agent_id}))
    }

    fn agent_pod_status(&self, call: Call<'_>) -> Result<Value, String> {
        let args: AgentPodStatusArgs = required_args(call)?;
        require(&args.agent_id, "agent_id")?;
        require(&args.pod_status, "pod_status")?;
        self.store
            .update_as(call.actor, &args.agent_id, |issue| {
                issue.pod_status = Some(args.pod_status.clone());
                issue.last_activity = Some(Timestamp::now());
            })
            .ok_or_else(|| not_found("update pod status for agent", &args.agent_id))?;
        Ok(json!({"agent_id": args.agent_id, "pod_status": args.pod_status}))
    }

    /// Agent beads (label `gt:agent`) with a pod; `rig` filters on the bead's `rig` *field*, as the daemon
    /// does (agents whose rig lives only in the description are not matched).
    fn agent_pod_list(&self, call: Call<'_>) -> Result<Value, String> {
        let args: AgentPodListArgs = optional_args(call)?;
        let agents: Vec<Value> = self.store.read(|beads| {
            beads
                .values()
                .filter(|i| i.has_label(gastown::AGENT_LABEL))
                .filter(|i| i.pod_name.as_deref().is_some_and(|p| !p.is_empty()))
                .filter(|i| args.rig.is_empty() || i.rig.as_deref() == Some(args.rig.as_str()))
                .map(|i| {
                    let mut agent = json!({
                        "agent_id": i.id,
                        "pod_name": i.pod_name,
                        "pod_status": i.pod_status.clone().unwrap_or_default(),
                    });
                    for (key, value) in [
                        ("pod_ip", &i.pod_ip),
                        ("pod_node", &i.pod_node),
                        ("screen_session", &i.screen_session),
                        ("agent_state", &i.agent_state),
                        ("rig", &i.rig),
                        ("role_type", &i.role_type),
                    ] {
                        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                            agent[key] = Value::from(value);
                        }
                    }
                    agent
                })
                .collect()
        });
        // An empty Go slice marshals as `null`.
        Ok(json!({ "agents": if agents.is_empty() { Value::Null } else { Value::Array(agents) } }))
    }

    /// An unused id of the form `gt-<n>` for `create` without an id.
    fn fresh_id(&self) -> String {
        (self.store.len() + 1..)
            .map(|n| format!("gt-{n}"))
            .find(|id| self.store.get(id).is_none())
            .unwrap_or_default()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IdArgs {
    id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BlockedArgs {
    parent_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GetMutationsArgs {
    since: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateArgs {
    id: String,
    title: String,
    description: String,
    issue_type: String,
    priority: Option<i64>,
    assignee: String,
    labels: Vec<String>,
    parent: String,
    role_type: String,
    rig: String,
}

/// `update` args: absent fields are left alone; an empty string clears an optional field.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UpdateArgs {
    id: String,
    title: Option<String>,
    description: Option<String>,
    status: Option<String>,
    priority: Option<i64>,
    assignee: Option<String>,
    issue_type: Option<String>,
    add_labels: Vec<String>,
    remove_labels: Vec<String>,
    set_labels: Vec<String>,
    hook_bead: Option<String>,
    role_bead: Option<String>,
    agent_state: Option<String>,
    /// `true`: stamp `last_activity` with now.
    last_activity: Option<bool>,
    role_type: Option<String>,
    rig: Option<String>,
    pod_name: Option<String>,
    pod_ip: Option<String>,
    pod_node: Option<String>,
    pod_status: Option<String>,
    screen_session: Option<String>,
}

impl UpdateArgs {
    fn apply(&self, issue: &mut Issue) {
        let set = |field: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                field.clone_from(value);
            }
        };
        set(&mut issue.title, &self.title);
        set(&mut issue.description, &self.description);
        set(&mut issue.status, &self.status);
        set(&mut issue.issue_type, &self.issue_type);
        if let Some(priority) = self.priority {
            issue.priority = priority;
        }
        for (field, value) in [
            (&mut issue.assignee, &self.assignee),
            (&mut issue.hook_bead, &self.hook_bead),
            (&mut issue.role_bead, &self.role_bead),
            (&mut issue.agent_state, &self.agent_state),
            (&mut issue.role_type, &self.role_type),
            (&mut issue.rig, &self.rig),
            (&mut issue.pod_name, &self.pod_name),
            (&mut issue.pod_ip, &self.pod_ip),
            (&mut issue.pod_node, &self.pod_node),
            (&mut issue.pod_status, &self.pod_status),
            (&mut issue.screen_session, &self.screen_session),
        ] {
            if let Some(value) = value {
                *field = non_empty(value.clone());
            }
        }
        if self.last_activity == Some(true) {
            issue.last_activity = Some(Timestamp::now());
        }
        if !self.set_labels.is_empty() {
            issue.labels.clone_from(&self.set_labels);
        }
        for label in &self.add_labels {
            if !issue.has_label(label) {
                issue.labels.push(label.clone());
            }
        }
        issue.labels.retain(|l| !self.remove_labels.contains(l));
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AgentPodRegisterArgs {
    agent_id: String,
    pod_name: String,
    pod_ip: String,
    pod_node: String,
    pod_status: String,
    screen_session: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AgentIdArgs {
    agent_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AgentPodStatusArgs {
    agent_id: String,
    pod_status: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AgentPodListArgs {
    rig: String,
}

/// Args the daemon insists on: an empty body is an error, as in the daemon (Go's `json.Unmarshal` of
/// nothing fails).
fn required_args<T: DeserializeOwned + Default>(call: Call<'_>) -> Result<T, String> {
    if call.args.iter().all(u8::is_ascii_whitespace) {
        return Err(format!(
            "invalid {} args: unexpected end of JSON input",
            call.operation.name()
        ));
    }
    optional_args(call)
}

/// Args that may be absent. `null` values count as absent, as they do for the daemon.
fn optional_args<T: DeserializeOwned + Default>(call: Call<'_>) -> Result<T, String> {
    if call.args.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let invalid = |e: serde_json::Error| format!("invalid {} args: {e}", call.operation.name());
    let mut value: Value = serde_json::from_slice(call.args).map_err(invalid)?;
    match &mut value {
        Value::Null => return Ok(T::default()),
        Value::Object(fields) => fields.retain(|_, v| !v.is_null()),
        _ => {}
    }
    serde_json::from_value(value).map_err(invalid)
}

fn require(value: &str, name: &str) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("{name} is required"))
    } else {
        Ok(())
    }
}

fn not_found(action: &str, id: &str) -> String {
    format!("failed to {action} {id}: issue not found: {id}")
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| format!("failed to encode answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::Issue;

    fn backend() -> Backend {
        let store = BeadStore::default();
        Backend {
            faults: Faults::new(store.clone()),
            store,
            requests: RequestRecorder::default(),
            connections: Arc::default(),
            version: "1.2.3".into(),
            token: "t".into(),
            http_addr: "127.0.0.1:1".into(),
            started: Instant::now(),
        }
    }

    fn call(backend: &Backend, operation: Operation, args: Value) -> Reply {
        let args = if args.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&args).unwrap()
        };
        backend.dispatch(Call {
            operation,
            args: &args,
            actor: "tester",
            client_version: "",
        })
    }

    #[test]
    fn method_and_operation_names_round_trip() {
        for (op, method, name) in OPERATIONS {
            assert_eq!(Operation::from_method(method), Some(op));
            assert_eq!(Operation::from_name(name), Some(op));
            assert_eq!(op.name(), name);
        }
        assert_eq!(Operation::from_method("list"), None);
        assert_eq!(Operation::from_name("List"), None);
    }

    #[test]
    fn args_parsing_follows_the_daemon() {
        let b = backend();
        let reply = call(&b, Operation::List, Value::Null);
        assert_eq!(
            reply.error.as_deref(),
            Some("invalid list args: unexpected end of JSON input")
        );
        let reply = call(&b, Operation::List, json!({"labels": null, "limit": null}));
        assert!(reply.success, "{reply:?}");
        let reply = call(&b, Operation::List, json!({"limit": "ten"}));
        assert!(
            reply
                .error
                .unwrap()
                .starts_with("invalid list args: invalid type")
        );
        assert!(call(&b, Operation::AgentPodList, Value::Null).success);
    }

    #[test]
    fn update_applies_fields_labels_and_emits_as_the_actor() {
        let b = backend();
        b.store
            .insert(Issue::agent(Some("gastown"), "polecat", "nux", "working").with_labels(["x"]));
        let reply = call(
            &b,
            Operation::Update,
            json!({"id": "gt-gastown-polecat-nux", "agent_state": "stuck", "add_labels": ["y"], "remove_labels": ["x"], "hook_bead": "gt-7"}),
        );
        let data = reply.data.expect("update answers the issue");
        assert_eq!(data["agent_state"], "stuck");
        assert_eq!(data["hook_bead"], "gt-7");
        let labels = data["labels"].as_array().unwrap();
        assert!(labels.contains(&json!("y")) && !labels.contains(&json!("x")));
        let events = b.store.mutations_since(0);
        assert_eq!(events.last().unwrap().kind, "update");
        assert_eq!(events.last().unwrap().actor, "tester");

        call(
            &b,
            Operation::Update,
            json!({"id": "gt-gastown-polecat-nux", "status": "in_progress"}),
        );
        let last = b.store.mutations_since(0).pop().unwrap();
        assert_eq!(
            (
                last.kind.as_str(),
                last.old_status.as_str(),
                last.new_status.as_str()
            ),
            ("status", "open", "in_progress")
        );

        let reply = call(
            &b,
            Operation::Update,
            json!({"id": "gt-nope", "status": "closed"}),
        );
        assert_eq!(
            reply.error.as_deref(),
            Some("failed to update issue: issue not found: gt-nope")
        );
    }

    #[test]
    fn agent_pod_lifecycle() {
        let b = backend();
        b.store
            .insert(Issue::agent(Some("gastown"), "polecat", "nux", "working"));
        b.store
            .insert(Issue::agent(Some("beads"), "crew", "max", "idle"));
        let id = "gt-gastown-polecat-nux";

        assert_eq!(
            call(&b, Operation::AgentPodList, json!({})).data,
            Some(json!({"agents": null}))
        );
        let reply = call(
            &b,
            Operation::AgentPodRegister,
            json!({"agent_id": id, "pod_name": "p1", "pod_ip": "10.0.0.1"}),
        );
        assert_eq!(
            reply.data,
            Some(json!({"agent_id": id, "pod_name": "p1", "pod_status": "running"}))
        );
        let issue = b.store.get(id).unwrap();
        assert_eq!(
            (issue.pod_name.as_deref(), issue.pod_ip.as_deref()),
            (Some("p1"), Some("10.0.0.1"))
        );

        let listed = call(&b, Operation::AgentPodList, json!({"rig": "gastown"}))
            .data
            .unwrap();
        assert_eq!(listed["agents"][0]["agent_id"], id);
        assert_eq!(listed["agents"][0]["role_type"], "polecat");
        assert_eq!(listed["agents"][0]["agent_state"], "working");
        assert!(listed["agents"][0].get("pod_node").is_none());
        assert_eq!(
            call(&b, Operation::AgentPodList, json!({"rig": "beads"})).data,
            Some(json!({"agents": null}))
        );

        call(
            &b,
            Operation::AgentPodStatus,
            json!({"agent_id": id, "pod_status": "terminating"}),
        );
        assert_eq!(
            b.store.get(id).unwrap().pod_status.as_deref(),
            Some("terminating")
        );
        call(&b, Operation::AgentPodDeregister, json!({"agent_id": id}));
        let issue = b.store.get(id).unwrap();
        assert!(issue.pod_name.is_none() && issue.pod_status.is_none() && issue.pod_ip.is_none());

        let kinds: Vec<String> = b
            .store
            .mutations_since(0)
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["create", "create", "update", "update", "update"]);

        let reply = call(&b, Operation::AgentPodRegister, json!({"agent_id": id}));
        assert_eq!(reply.error.as_deref(), Some("pod_name is required"));
        let reply = call(
            &b,
            Operation::AgentPodStatus,
            json!({"agent_id": "gt-x", "pod_status": "running"}),
        );
        assert_eq!(
            reply.error.as_deref(),
            Some("failed to update pod status for agent gt-x: issue not found: gt-x")
        );
    }

    #[test]
    fn health_follows_the_fault_switch() {
        let b = backend();
        let reply = call(&b, Operation::Health, Value::Null);
        assert!(reply.success);
        assert_eq!(reply.data.as_ref().unwrap()["status"], "healthy");
        assert_eq!(reply.data.as_ref().unwrap()["version"], "1.2.3");

        b.faults.set_health(HealthFault::Degraded("db slow".into()));
        let reply = call(&b, Operation::Health, Value::Null);
        assert!(reply.success);
        assert_eq!(reply.data.as_ref().unwrap()["status"], "degraded");
        assert_eq!(reply.data.as_ref().unwrap()["error"], "db slow");

        b.faults
            .set_health(HealthFault::Unhealthy("db gone".into()));
        let reply = call(&b, Operation::Health, Value::Null);
        assert!(!reply.success);
        assert_eq!(reply.error.as_deref(), Some("db gone"));
        assert_eq!(reply.data.unwrap()["status"], "unhealthy");
    }

    #[test]
    fn stats_count_and_mutations() {
        let b = backend();
        assert_eq!(
            call(&b, Operation::GetMutations, json!({"since": 0})).data,
            Some(Value::Null)
        );
        b.store.insert(Issue::new("gt-1", "a"));
        b.store
            .insert(Issue::new("gt-2", "b").with_status("in_progress"));
        b.store
            .insert(Issue::new("gt-3", "c").with_status("closed"));
        b.store
            .insert(Issue::new("gt-4", "d").with_status("tombstone"));
        let stats = call(&b, Operation::Stats, Value::Null).data.unwrap();
        assert_eq!(stats["total_issues"], 3);
        assert_eq!(stats["open_issues"], 1);
        assert_eq!(stats["in_progress_issues"], 1);
        assert_eq!(stats["closed_issues"], 1);
        assert_eq!(stats["tombstone_issues"], 1);

        assert_eq!(
            call(&b, Operation::Count, json!({"exclude_status": ["closed"]})).data,
            Some(json!({"count": 2}))
        );
        let grouped = call(&b, Operation::Count, json!({"group_by": "status"}))
            .data
            .unwrap();
        assert_eq!(grouped["total"], 3);

        let events = call(&b, Operation::GetMutations, json!({"since": 0}))
            .data
            .unwrap();
        assert_eq!(events.as_array().unwrap().len(), 4);
        let second = events[1]["Timestamp"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap();
        let after = call(
            &b,
            Operation::GetMutations,
            json!({"since": second.as_millisecond()}),
        )
        .data
        .unwrap();
        assert_eq!(after.as_array().unwrap().len(), 2);
    }

    #[test]
    fn create_show_and_close() {
        let b = backend();
        let created = call(
            &b,
            Operation::Create,
            json!({"title": "new work", "labels": ["rig:gastown"], "parent": "gt-epic"}),
        )
        .data
        .unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let shown = call(&b, Operation::Show, json!({ "id": id })).data.unwrap();
        assert_eq!(shown["title"], "new work");
        assert_eq!(shown["parent"], "gt-epic");
        let closed = call(&b, Operation::Close, json!({ "id": id }))
            .data
            .unwrap();
        assert_eq!(closed["status"], "closed");
        assert!(closed.get("closed_at").is_some());
        assert_eq!(
            call(&b, Operation::Show, json!({"id": "gt-none"}))
                .error
                .as_deref(),
            Some("issue not found: gt-none")
        );
        assert_eq!(
            call(&b, Operation::Create, json!({"title": " "}))
                .error
                .as_deref(),
            Some("title is required")
        );
    }
}

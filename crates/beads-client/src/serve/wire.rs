//! `bd serve` (beads HTTP API v0) answers, decoded tolerantly: members of an
//! unexpected type are dropped rather than failing a whole answer, and absent
//! members are `null` (bd-serve-v0.md §2).

use std::collections::HashSet;

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::lenient;
use crate::model::{Issue, PodFields};

/// Media type of every `bd serve` error body (bd-serve-v0.md §2).
pub(crate) const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Our metadata key for the pod running an agent: `{"name","ip","node","status"}`.
/// Gas Town reads nothing from metadata (bd-serve-v0.md §4, §5 "record pod state").
pub const POD_METADATA_KEY: &str = "k8s_pod";

/// A problem body (bd-serve-v0.md §2 "Problem body"). Only the members this client
/// acts on are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problem {
    pub status: Option<u16>,
    pub title: Option<String>,
    /// Stable code; the vocabulary grows (§2), so unknown codes are kept as text.
    pub code: String,
    pub detail: Option<String>,
    pub request_id: Option<String>,
    pub param: Option<String>,
    pub reason: Option<String>,
    /// `events_journal_truncated` members (§2, §3.9).
    pub since: Option<u64>,
    pub floor: Option<u64>,
    pub head: Option<u64>,
}

impl Problem {
    /// A problem from a JSON body; `None` unless it is an object with a string `code`.
    pub fn parse(body: &[u8]) -> Option<Self> {
        Self::from_value(&serde_json::from_slice(body).ok()?)
    }

    pub fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        let text = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .and_then(lenient::non_empty)
        };
        Some(Self {
            status: object
                .get("status")
                .and_then(as_u64)
                .and_then(|s| u16::try_from(s).ok()),
            title: text("title"),
            code: text("code")?,
            detail: text("detail"),
            request_id: text("request_id"),
            param: text("param"),
            reason: text("reason"),
            since: object.get("since").and_then(as_u64),
            floor: object.get("floor").and_then(as_u64),
            head: object.get("head").and_then(as_u64),
        })
    }

    /// One line for an error message: detail (or title), then param, reason and
    /// request id when present.
    pub fn describe(&self) -> String {
        let mut text = self
            .detail
            .clone()
            .or_else(|| self.title.clone())
            .unwrap_or_else(|| self.code.clone());
        let extras: Vec<String> = [
            ("param", &self.param),
            ("reason", &self.reason),
            ("request_id", &self.request_id),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|value| format!("{key} {value}")))
        .collect();
        if !extras.is_empty() {
            text.push_str(&format!(" ({})", extras.join(", ")));
        }
        text
    }
}

/// `GET /v0/beads/context` (bd-serve-v0.md §3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerContext {
    pub api_version: String,
    pub bd_version: String,
    pub database: String,
    pub project_id: String,
    /// Operation tokens (`issues.list`, `events.watch`, …) and behaviour tokens.
    pub capabilities: Vec<String>,
}

impl ServerContext {
    /// `None` unless the answer looks like a v0 context (an object naming
    /// `api_version` or `capabilities`).
    pub fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        if !object.contains_key("api_version") && !object.contains_key("capabilities") {
            return None;
        }
        let text = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Some(Self {
            api_version: text("api_version"),
            bd_version: text("bd_version"),
            database: text("database"),
            project_id: text("project_id"),
            capabilities: strings(object.get("capabilities")),
        })
    }

    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// One page of `GET /v0/beads/issues` (bd-serve-v0.md §3.4):
/// `{"items":[…],"has_more":bool,"next_cursor":"…"}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct IssuePage {
    pub items: Vec<Value>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

impl IssuePage {
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let object = value.as_object().ok_or("a list answer is not an object")?;
        let items = match object.get("items") {
            Some(Value::Array(items)) => items.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err("`items` is not an array".into()),
        };
        Ok(Self {
            items,
            has_more: object
                .get("has_more")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            next_cursor: object
                .get("next_cursor")
                .and_then(Value::as_str)
                .and_then(lenient::non_empty),
        })
    }
}

/// Most pages one listing may take (at 200 a page: 200 000 beads).
const MAX_PAGES: usize = 1000;

/// Keyset paging over `next_cursor` (bd-serve-v0.md §3.4: the cursor comes with
/// `has_more`, filters stay identical). Refuses to loop on a server that repeats a
/// cursor or claims more without giving one.
#[derive(Debug, Default)]
pub(crate) struct Pager {
    seen: HashSet<String>,
    pages: usize,
}

impl Pager {
    /// The cursor of the next page, `None` when done.
    pub fn next_cursor(&mut self, page: &IssuePage) -> Result<Option<String>, String> {
        self.pages += 1;
        if !page.has_more {
            return Ok(None);
        }
        let cursor = page
            .next_cursor
            .clone()
            .ok_or("`has_more` without a `next_cursor`")?;
        if !self.seen.insert(cursor.clone()) {
            return Err(format!("the cursor {cursor:?} came back twice"));
        }
        if self.pages >= MAX_PAGES {
            return Err(format!("more than {MAX_PAGES} pages"));
        }
        Ok(Some(cursor))
    }
}

/// A journal record (bd-serve-v0.md §3.9 `EventRecord`); only what the change
/// feed needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Gapless, per server.
    pub seq: u64,
    pub op: String,
    pub issue_id: String,
    /// Absent = a system write.
    pub actor: Option<String>,
    /// Not ordered; use `seq`.
    pub ts: Option<Timestamp>,
}

impl EventRecord {
    /// `None` for anything without an integer `seq`.
    pub fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            seq: object.get("seq").and_then(as_u64)?,
            op: text("op").unwrap_or_default(),
            issue_id: text("issue_id").unwrap_or_default(),
            actor: text("actor").and_then(|a| lenient::non_empty(&a)),
            ts: text("ts").as_deref().and_then(lenient::parse_timestamp),
        })
    }
}

/// `GET /v0/beads/events` (bd-serve-v0.md §3.9): `{"records":[…],"head":n}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsPage {
    pub records: Vec<EventRecord>,
    pub head: u64,
}

impl EventsPage {
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let object = value
            .as_object()
            .ok_or("an events answer is not an object")?;
        let records = match object.get("records") {
            Some(Value::Array(records)) => records
                .iter()
                .filter_map(|record| {
                    let decoded = EventRecord::from_value(record);
                    if decoded.is_none() {
                        tracing::warn!("skipping a journal record without a seq");
                    }
                    decoded
                })
                .collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err("`records` is not an array".into()),
        };
        let head = object
            .get("head")
            .and_then(as_u64)
            .ok_or("no integer `head`")?;
        Ok(Self { records, head })
    }
}

/// Members of the model's [`Issue`] a v0 `Issue` may carry, with their JSON type
/// (bd-serve-v0.md §3 "Issue"). Anything else — `metadata`, `ephemeral`,
/// `parent`, legacy agent columns — is not copied: over v0 the agent fields live
/// only in `description` lines (§4).
const STRING_MEMBERS: [&str; 9] = [
    "id",
    "title",
    "description",
    "status",
    "issue_type",
    "assignee",
    "created_at",
    "updated_at",
    "closed_at",
];
const INTEGER_MEMBERS: [&str; 4] = [
    "priority",
    "dependency_count",
    "dependent_count",
    "comment_count",
];

/// A v0 `Issue` (or `IssueWithCounts`) as the model's [`Issue`], with the pod
/// fields taken from metadata key [`POD_METADATA_KEY`]. Members of an unexpected
/// type are dropped; only a missing `id` makes the row unusable.
pub(crate) fn decode_issue(value: &Value) -> Result<Issue, String> {
    let object = value.as_object().ok_or("an issue is not an object")?;
    let mut clean = Map::new();
    for key in STRING_MEMBERS {
        if let Some(text @ Value::String(_)) = object.get(key) {
            clean.insert(key.to_owned(), text.clone());
        }
    }
    for key in INTEGER_MEMBERS {
        if let Some(number) = object.get(key).filter(|v| v.is_i64() || v.is_u64()) {
            clean.insert(key.to_owned(), number.clone());
        }
    }
    clean.insert(
        "labels".to_owned(),
        Value::from(strings(object.get("labels"))),
    );
    let mut issue: Issue =
        serde_json::from_value(Value::Object(clean)).map_err(|error| error.to_string())?;
    if issue.id.is_empty() {
        return Err("an issue without an id".into());
    }
    let pod = pod_from_metadata(object.get("metadata"));
    issue.pod_name = pod.name;
    issue.pod_ip = pod.ip;
    issue.pod_node = pod.node;
    issue.pod_status = pod.status;
    issue.screen_session = pod.screen_session;
    Ok(issue)
}

/// The pod recorded under [`POD_METADATA_KEY`]. `metadata` may hold any JSON
/// (bd-serve-v0.md §3): a non-object, a missing key or a non-object value is no pod.
/// A metadata object encoded as a JSON string (older writers) is read too.
pub fn pod_from_metadata(metadata: Option<&Value>) -> PodFields {
    let decoded;
    let metadata = match metadata {
        Some(Value::String(text)) => {
            decoded = serde_json::from_str::<Value>(text).ok();
            decoded.as_ref()
        }
        other => other,
    };
    let Some(pod) = metadata
        .and_then(|m| m.get(POD_METADATA_KEY))
        .and_then(Value::as_object)
    else {
        return PodFields::default();
    };
    let text = |key: &str| match pod.get(key) {
        Some(Value::String(text)) => lenient::non_empty(text),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    PodFields {
        name: text("name"),
        ip: text("ip"),
        node: text("node"),
        // §5's example calls it `phase`; we write `status`.
        status: text("status").or_else(|| text("phase")),
        screen_session: text("screen_session"),
    }
}

/// The [`POD_METADATA_KEY`] value we write: present members only.
pub(crate) fn pod_metadata(pod: &PodFields) -> Value {
    let mut object = Map::new();
    for (key, value) in [
        ("name", &pod.name),
        ("ip", &pod.ip),
        ("node", &pod.node),
        ("status", &pod.status),
        ("screen_session", &pod.screen_session),
    ] {
        if let Some(value) = value {
            object.insert(key.to_owned(), Value::from(value.as_str()));
        }
    }
    Value::Object(object)
}

/// An unsigned integer, also from a decimal string (`int64` members).
fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// The string elements of an array; anything else is empty.
fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

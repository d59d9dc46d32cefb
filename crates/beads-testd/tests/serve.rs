//! The bd serve (HTTP API v0) personality over raw HTTP: one test per item of the checklist of
//! bd-serve-v0.md §6 and per serve fault.

use std::future::Future;
use std::time::Duration;

use beads_testd::{
    AgentStyle, Issue, MAX_WATCH_STREAMS, Personality, Scope, TestDaemon, TestDaemonConfig,
    TownShape, seed_town, serve_op,
};
use futures::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const TOKEN: &str = "serve-token";
const LIMIT: Duration = Duration::from_secs(10);

async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("test step did not finish in time")
}

fn config() -> TestDaemonConfig {
    TestDaemonConfig {
        token: TOKEN.into(),
        version: "1.2.3".into(),
        personality: Personality::Serve,
        heartbeat_interval: Duration::from_millis(100),
        ..TestDaemonConfig::default()
    }
}

async fn serve_with(config: TestDaemonConfig) -> TestDaemon {
    TestDaemon::start(config).await.expect("bd serve starts")
}

async fn serve() -> TestDaemon {
    serve_with(config()).await
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(LIMIT).build().unwrap()
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = bounded(request.send()).await.expect("answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(daemon: &TestDaemon, path: &str) -> Answer {
    send(
        client()
            .get(format!("{}{path}", daemon.http_url()))
            .bearer_auth(TOKEN),
    )
    .await
}

async fn patch(daemon: &TestDaemon, id: &str, body: Value) -> Answer {
    send(
        client()
            .patch(format!("{}/v0/beads/issues/{id}", daemon.http_url()))
            .bearer_auth(TOKEN)
            .json(&body),
    )
    .await
}

async fn cas(daemon: &TestDaemon, id: &str, body: Value) -> Answer {
    send(
        client()
            .post(format!(
                "{}/v0/beads/issues/{id}:casMetadata",
                daemon.http_url()
            ))
            .bearer_auth(TOKEN)
            .json(&body),
    )
    .await
}

fn assert_problem(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.headers["content-type"], "application/problem+json",
        "{}",
        answer.body
    );
    assert_eq!(answer.body["status"], status);
    assert_eq!(answer.body["code"], code, "{}", answer.body);
    assert!(answer.body["title"].is_string());
}

fn ids(answer: &Answer) -> Vec<String> {
    answer.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", answer.body))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// An open `events:watch` stream, read block by block.
struct Watch {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Watch {
    async fn open(daemon: &TestDaemon, query: &str, last_event_id: Option<&str>) -> Watch {
        let mut request = client()
            .get(format!(
                "{}/v0/beads/events:watch{query}",
                daemon.http_url()
            ))
            .bearer_auth(TOKEN);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = bounded(request.send()).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-store");
        Watch {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next block's text, or None when the server closed the stream.
    async fn block(&mut self) -> Option<String> {
        bounded(async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    return Some(self.buffer.drain(..end + 2).collect());
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return None,
                }
            }
        })
        .await
    }

    /// The next record frame `(id, data)`, skipping heartbeats.
    async fn record(&mut self) -> (i64, Value) {
        loop {
            let block = self.block().await.expect("stream open");
            if block.starts_with(": heartbeat") {
                continue;
            }
            let mut lines = block.lines().filter(|l| !l.is_empty());
            let id = lines
                .next()
                .unwrap()
                .strip_prefix("id: ")
                .unwrap()
                .parse()
                .unwrap();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            assert_eq!(
                lines.next(),
                None,
                "one-line data, unnamed event: {block:?}"
            );
            return (id, serde_json::from_str(data).unwrap());
        }
    }
}

// §6: Host check before auth (and before routing).
#[tokio::test]
async fn host_check_comes_first() {
    let daemon = serve_with(TestDaemonConfig {
        allowed_hosts: vec!["beads-town.gt.svc".into()],
        ..config()
    })
    .await;
    let port = daemon.http_addr().port();
    for path in ["/v0/beads/context", "/nowhere", "/healthz"] {
        let answer = send(
            client()
                .get(format!("{}{path}", daemon.http_url()))
                .header("Host", format!("evil.example:{port}")),
        )
        .await;
        assert_problem(&answer, 400, "invalid_argument");
        assert_eq!(answer.body["param"], "Host");
        assert_eq!(answer.body["reason"], "invalid_value");
    }
    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "BEADS-TOWN.gt.svc".to_owned(),
    ] {
        let answer = send(
            client()
                .get(format!("{}/healthz", daemon.http_url()))
                .header("Host", host),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    // A loopback bind does not admit other IP literals.
    let answer = send(
        client()
            .get(format!("{}/healthz", daemon.http_url()))
            .header("Host", "10.0.0.7"),
    )
    .await;
    assert_problem(&answer, 400, "invalid_argument");
}

// §1: a wildcard bind admits any IP-literal Host, never an unlisted DNS name.
#[tokio::test]
async fn wildcard_bind_admits_ip_literals_only() {
    let daemon = serve_with(TestDaemonConfig {
        bind_ip: "0.0.0.0".parse().unwrap(),
        ..config()
    })
    .await;
    assert!(daemon.http_url().starts_with("http://127.0.0.1:"));
    let with_host = |host: &'static str| {
        client()
            .get(format!("{}/healthz", daemon.http_url()))
            .header("Host", host)
    };
    assert_eq!(send(with_host("10.0.0.7:7777")).await.status, 200);
    assert_eq!(send(with_host("[fd00::7]:7777")).await.status, 200);
    assert_problem(
        &send(with_host("beads-town")).await,
        400,
        "invalid_argument",
    );
}

// §6: 404 problem for unknown path or method, no auth needed.
#[tokio::test]
async fn unknown_paths_and_methods_are_404_problems_without_auth() {
    let daemon = serve().await;
    let url = daemon.http_url();
    for request in [
        client().get(format!("{url}/health")),
        client().get(format!("{url}/readyz")),
        client().post(format!("{url}/v0/beads/issues")),
        client().delete(format!("{url}/v0/beads/issues/gt-1")),
        client().get(format!("{url}/v0/beads/issues/gt-1:casMetadata")),
        client().post(format!("{url}/bd.v1.BeadsService/List")),
    ] {
        let answer = send(request).await;
        assert_problem(&answer, 404, "not_found");
    }
    assert_eq!(daemon.requests().count(serve_op::UNKNOWN), 6);
}

// §6: unknown query parameter → 400 on every route.
#[tokio::test]
async fn unknown_query_parameters_are_400_on_every_route() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "one"));
    let url = daemon.http_url();
    let requests = [
        client().get(format!("{url}/healthz?probe=1")),
        client().get(format!("{url}/v0/beads/ready?probe=1")),
        client().get(format!("{url}/v0/beads/context?probe=1")),
        client().get(format!("{url}/v0/beads/issues?probe=1")),
        client().get(format!("{url}/v0/beads/issues:count?probe=1")),
        client().get(format!("{url}/v0/beads/issues/gt-1?probe=1")),
        client()
            .patch(format!("{url}/v0/beads/issues/gt-1?probe=1"))
            .json(&json!({"actor": "t", "patch": {"title": "x"}})),
        client()
            .post(format!("{url}/v0/beads/issues/gt-1:casMetadata?probe=1"))
            .json(&json!({"actor": "t", "key": "k", "value": 1})),
        client().get(format!("{url}/v0/beads/events?since=0&probe=1")),
        client().get(format!("{url}/v0/beads/events:watch?since=0&probe=1")),
    ];
    for request in requests {
        let answer = send(request.bearer_auth(TOKEN)).await;
        assert_problem(&answer, 400, "invalid_argument");
        assert_eq!(answer.body["reason"], "unknown_parameter");
        assert_eq!(answer.body["param"], "probe");
    }
    assert_eq!(daemon.store().get("gt-1").unwrap().title, "one");
}

// §6: body Content-Type check; unknown body members are 400.
#[tokio::test]
async fn bodies_need_json_content_type_and_known_members() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "one"));
    let body = json!({"actor": "t", "patch": {"title": "x"}}).to_string();
    let answer = send(
        client()
            .patch(format!("{}/v0/beads/issues/gt-1", daemon.http_url()))
            .bearer_auth(TOKEN)
            .header("Content-Type", "text/plain")
            .body(body.clone()),
    )
    .await;
    assert_problem(&answer, 400, "invalid_argument");
    assert_eq!(answer.body["param"], "Content-Type");

    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "t", "patch": {"title": "x"}, "colour": 1}),
    )
    .await;
    assert_problem(&answer, 400, "invalid_argument");
    assert_eq!(answer.body["param"], "colour");
    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "t", "patch": {"colour": "x"}}),
    )
    .await;
    assert_problem(&answer, 400, "invalid_argument");
    let answer = patch(&daemon, "gt-1", json!({"patch": {"title": "x"}})).await;
    assert_problem(&answer, 400, "invalid_argument");
    assert_eq!(answer.body["param"], "actor");
    let answer = cas(
        &daemon,
        "gt-1",
        json!({"actor": "t", "key": "k", "extra": 1}),
    )
    .await;
    assert_problem(&answer, 400, "invalid_argument");
    assert_eq!(daemon.store().get("gt-1").unwrap().title, "one");
    assert_eq!(daemon.store().journal_head(), 1, "nothing was written");
}

// §6: token auth with /healthz exempt and WWW-Authenticate.
#[tokio::test]
async fn bearer_auth_everywhere_but_healthz() {
    let daemon = serve().await;
    let url = daemon.http_url();
    let answer = send(client().get(format!("{url}/healthz"))).await;
    assert_eq!(
        (answer.status, answer.body.clone()),
        (200, json!({"status": "ok"}))
    );
    for request in [
        client().get(format!("{url}/v0/beads/context")),
        client().get(format!("{url}/v0/beads/ready?limit=1")),
        client()
            .get(format!("{url}/v0/beads/issues"))
            .bearer_auth("wrong"),
        client()
            .get(format!("{url}/v0/beads/events?since=0"))
            .header("Authorization", format!("Basic {TOKEN}")),
    ] {
        let answer = send(request).await;
        assert_problem(&answer, 401, "unauthenticated");
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
    }
    // The scheme is case-insensitive.
    let answer = send(
        client()
            .get(format!("{url}/v0/beads/context"))
            .header("Authorization", format!("bearer {TOKEN}")),
    )
    .await;
    assert_eq!(answer.status, 200);
    // A tenant's token reaches that tenant only.
    let tenant = daemon.add_tenant("rig-db-token").unwrap();
    tenant.store().insert(Issue::new("rig-1", "of the rig"));
    let answer = send(
        client()
            .get(format!("{url}/v0/beads/issues"))
            .bearer_auth("rig-db-token"),
    )
    .await;
    assert_eq!(ids(&answer), ["rig-1"]);
    assert_eq!(tenant.requests().count(serve_op::LIST), 1);

    // No token configured: never 401.
    let open = serve_with(TestDaemonConfig {
        token: String::new(),
        ..config()
    })
    .await;
    let answer = send(client().get(format!("{}/v0/beads/context", open.http_url()))).await;
    assert_eq!(answer.status, 200);
    let answer = send(
        client()
            .get(format!("{}/v0/beads/issues", open.http_url()))
            .bearer_auth("x"),
    )
    .await;
    assert_eq!(answer.status, 200);
}

// §6: success is always 200; Cache-Control: no-store on every answer; request_id in problems.
#[tokio::test]
async fn successes_are_200_and_nothing_is_cached() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "one"));
    let ok = patch(
        &daemon,
        "gt-1",
        json!({"actor": "t", "patch": {"title": "x"}}),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(ok.headers["cache-control"], "no-store");
    let problem = get(&daemon, "/v0/beads/issues/gt-404").await;
    assert_problem(&problem, 404, "not_found");
    assert_eq!(problem.headers["cache-control"], "no-store");
    let request_id = problem.body["request_id"].as_str().unwrap();
    let (prefix, seq) = request_id.split_once('-').unwrap();
    assert!(prefix.len() == 8 && prefix.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(
        seq.len() == 6 && seq.chars().all(|c| c.is_ascii_digit()),
        "{request_id}"
    );
    let again = get(&daemon, "/v0/beads/issues/gt-404").await;
    assert_ne!(again.body["request_id"], problem.body["request_id"]);
    assert!(
        again.body["request_id"]
            .as_str()
            .unwrap()
            .starts_with(prefix)
    );
}

// §3.3: identity and capabilities.
#[tokio::test]
async fn context_reports_identity_and_capabilities() {
    let daemon = serve().await;
    assert_eq!(daemon.personality(), Personality::Serve);
    let answer = get(&daemon, "/v0/beads/context").await;
    assert_eq!(answer.status, 200);
    let body = &answer.body;
    assert_eq!(body["api_version"], "v0");
    assert_eq!(body["bd_version"], "1.2.3");
    assert_eq!(body["backend"], "dolt");
    assert_eq!(body["dolt_mode"], "server");
    assert_eq!(body["database"], "beads");
    assert_eq!(body["project_id"], "testd-project");
    assert!(body["schema_version"].is_i64());
    let caps: Vec<&str> = body["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for wanted in [
        "issues.list",
        "issues.count",
        "issues.update",
        "issues.casMetadata",
        "events.watch",
    ] {
        assert!(caps.contains(&wanted), "{wanted}");
    }
}

// Fault: capabilities_without.
#[tokio::test]
async fn capabilities_fault_removes_tokens() {
    let daemon = serve().await;
    daemon
        .faults()
        .capabilities_without(&["issues.casMetadata", "events.watch"]);
    let caps = get(&daemon, "/v0/beads/context").await.body["capabilities"].clone();
    assert!(
        !caps
            .as_array()
            .unwrap()
            .contains(&json!("issues.casMetadata"))
    );
    assert!(!caps.as_array().unwrap().contains(&json!("events.watch")));
    assert!(caps.as_array().unwrap().contains(&json!("issues.list")));
    daemon.faults().clear();
    let caps = get(&daemon, "/v0/beads/context").await.body["capabilities"].clone();
    assert!(caps.as_array().unwrap().contains(&json!("events.watch")));
}

// §6: limit defaults 50 / 100 / 1000 and the non-loopback `limit=0` 400.
#[tokio::test]
async fn limit_defaults_and_unlimited_reads() {
    let daemon = serve().await;
    for n in 0..1100 {
        daemon
            .store()
            .insert(Issue::new(format!("gt-{n:04}"), "work"));
    }
    let list = get(&daemon, "/v0/beads/issues").await;
    assert_eq!(
        (ids(&list).len(), list.body["has_more"].clone()),
        (50, json!(true))
    );
    let ready = get(&daemon, "/v0/beads/ready").await;
    assert_eq!(ids(&ready).len(), 100);
    let events = get(&daemon, "/v0/beads/events?since=0").await;
    assert_eq!(events.body["records"].as_array().unwrap().len(), 1000);
    assert_eq!(events.body["head"], 1100);
    for path in ["/v0/beads/issues?limit=0", "/v0/beads/ready?limit=0"] {
        let answer = get(&daemon, path).await;
        assert_problem(&answer, 400, "invalid_argument");
        assert_eq!(answer.body["param"], "limit");
    }
    assert_problem(
        &get(&daemon, "/v0/beads/events?since=0&limit=0").await,
        400,
        "invalid_argument",
    );

    let loopback = serve_with(TestDaemonConfig {
        allow_non_loopback: false,
        ..config()
    })
    .await;
    for n in 0..60 {
        loopback
            .store()
            .insert(Issue::new(format!("gt-{n}"), "work"));
    }
    let all = get(&loopback, "/v0/beads/issues?limit=0").await;
    assert_eq!(
        (ids(&all).len(), all.body["has_more"].clone()),
        (60, json!(false))
    );
    assert!(all.body.get("next_cursor").is_none());
}

// §6: cursor bound to sort.
#[tokio::test]
async fn keyset_cursor_pages_and_is_bound_to_its_sort() {
    let daemon = serve().await;
    let base = jiff::Timestamp::from_second(1_700_000_000).unwrap();
    for n in 0..7 {
        daemon.store().insert(
            Issue::new(format!("gt-{n}"), "work")
                .with_priority(n % 3)
                .with_created_at(base + jiff::SignedDuration::from_secs(n / 2)),
        );
    }
    for sort in ["created", "priority"] {
        let mut seen = Vec::new();
        let mut path = format!("/v0/beads/issues?sort={sort}&limit=3");
        loop {
            let page = get(&daemon, &path).await;
            seen.extend(ids(&page));
            match page.body["next_cursor"].as_str() {
                Some(cursor) => {
                    assert_eq!(page.body["has_more"], true);
                    path = format!("/v0/beads/issues?sort={sort}&limit=3&cursor={cursor}");
                }
                None => break,
            }
        }
        let everything = ids(&get(&daemon, &format!("/v0/beads/issues?sort={sort}")).await);
        assert_eq!(seen, everything, "{sort}");
        assert_eq!(seen.len(), 7);
    }
    // created: created_at DESC, id ASC.
    assert_eq!(
        ids(&get(&daemon, "/v0/beads/issues?limit=3").await),
        ["gt-6", "gt-4", "gt-5"]
    );
    let first = get(&daemon, "/v0/beads/issues?sort=created&limit=2").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let mismatched = get(
        &daemon,
        &format!("/v0/beads/issues?sort=priority&cursor={cursor}"),
    )
    .await;
    assert_problem(&mismatched, 400, "invalid_cursor");
    assert_problem(
        &get(&daemon, "/v0/beads/issues?cursor=zz").await,
        400,
        "invalid_cursor",
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues?sort=title").await,
        400,
        "invalid_argument",
    );
}

// §6: count includes closed, list hides it.
#[tokio::test]
async fn count_includes_closed_and_list_hides_it() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "open"));
    daemon
        .store()
        .insert(Issue::new("gt-2", "done").with_status("closed"));
    daemon
        .store()
        .insert(Issue::new("gt-3", "hooked").with_status("hooked"));
    let mut listed = ids(&get(&daemon, "/v0/beads/issues").await);
    listed.sort();
    assert_eq!(listed, ["gt-1", "gt-3"]);
    assert_eq!(
        ids(&get(&daemon, "/v0/beads/issues?status=closed").await),
        ["gt-2"]
    );
    assert_eq!(
        ids(&get(&daemon, "/v0/beads/issues?status=open,closed").await).len(),
        2
    );
    let count = get(&daemon, "/v0/beads/issues:count").await;
    assert_eq!(count.body, json!({"total": 3}));
    let count = get(&daemon, "/v0/beads/issues:count?status=closed").await;
    assert_eq!(count.body["total"], 1);
    let count = get(&daemon, "/v0/beads/issues:count?status=open,closed").await;
    assert_eq!(count.body["total"], 0, "status is ONE value; unknown ⇒ 0");
    let grouped = get(&daemon, "/v0/beads/issues:count?group_by=status").await;
    assert_eq!(
        grouped.body["groups"],
        json!({"open": 1, "closed": 1, "hooked": 1})
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues:count?group_by=colour").await,
        400,
        "invalid_argument",
    );
}

// §6: `revision` is a string; it changes on every write; expected_version guards a patch.
#[tokio::test]
async fn revision_is_a_string_and_guards_patches() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "one"));
    let first = get(&daemon, "/v0/beads/issues/gt-1").await;
    let revision = first.body["revision"]
        .as_str()
        .expect("a string")
        .to_owned();
    revision.parse::<i64>().expect("a signed 64-bit decimal");
    assert!(ids(&get(&daemon, "/v0/beads/issues").await).contains(&"gt-1".to_owned()));
    assert!(
        get(&daemon, "/v0/beads/issues").await.body["items"][0]
            .get("revision")
            .is_none()
    );

    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "op", "patch": {"description": "line"}, "expected_version": revision}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["changed"], true);
    assert_eq!(answer.body["issue"]["description"], "line");
    let second = answer.body["revision"].as_str().unwrap().to_owned();
    assert_ne!(second, revision);
    assert_eq!(
        get(&daemon, "/v0/beads/issues/gt-1").await.body["revision"],
        second
    );

    let stale = patch(
        &daemon,
        "gt-1",
        json!({"actor": "op", "patch": {"description": "lost"}, "expected_version": revision}),
    )
    .await;
    assert_problem(&stale, 409, "precondition_failed");
    assert_eq!(stale.body["param"], "expected_version");
    assert_eq!(daemon.store().get("gt-1").unwrap().description, "line");
    // A store write reminted it too.
    daemon.store().update("gt-1", |i| i.priority = 1);
    assert_ne!(
        get(&daemon, "/v0/beads/issues/gt-1").await.body["revision"],
        second
    );
    // No change, no write.
    let same = patch(
        &daemon,
        "gt-1",
        json!({"actor": "op", "patch": {"priority": 1}}),
    )
    .await;
    assert_eq!(same.body["changed"], false);
    assert_problem(
        &patch(
            &daemon,
            "gt-404",
            json!({"actor": "op", "patch": {"priority": 1}}),
        )
        .await,
        404,
        "not_found",
    );
}

// §3.7: the patch members the operator uses.
#[tokio::test]
async fn patch_members_and_metadata_operations() {
    let daemon = serve().await;
    daemon.store().insert(
        Issue::new("gt-1", "one")
            .with_labels(["a", "b"])
            .with_metadata(json!({"keep": 1, "drop": 2})),
    );
    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "gastown-operator", "patch": {
            "status": "in_progress", "assignee": "gastown/crew/joe", "add_labels": ["c"],
            "remove_labels": ["a"], "priority": 0,
            "metadata": {"merge": {"m": true}, "set": {"k8s_pod": {"name": "gt-x", "ip": "10.0.0.7"}}, "unset": ["drop"]}
        }}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let issue = &answer.body["issue"];
    assert_eq!(issue["status"], "in_progress");
    assert_eq!(issue["assignee"], "gastown/crew/joe");
    assert_eq!(issue["labels"], json!(["b", "c"]));
    assert_eq!(
        issue["metadata"],
        json!({"keep": 1, "m": true, "k8s_pod": {"name": "gt-x", "ip": "10.0.0.7"}})
    );
    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "o", "patch": {"metadata": {"replace": [1, "x"]}}}),
    )
    .await;
    assert_eq!(answer.body["issue"]["metadata"], json!([1, "x"]));
    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "o", "patch": {"assignee": "", "labels": []}}),
    )
    .await;
    assert!(answer.body["issue"].get("assignee").is_none());
    assert_problem(
        &patch(
            &daemon,
            "gt-1",
            json!({"actor": "o", "patch": {"priority": 9}}),
        )
        .await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &patch(&daemon, "gt-1", json!({"actor": "o", "patch": {}})).await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &patch(
            &daemon,
            "gt-1",
            json!({"actor": " ", "patch": {"title": "t"}}),
        )
        .await,
        400,
        "invalid_argument",
    );
}

// §6: lost CAS = 200.
#[tokio::test]
async fn cas_metadata_swaps_or_reports_the_current_value() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "one"));
    let pod = json!({"name": "gt-x", "phase": "Pending"});
    // Omitted `expected` = the key must be absent.
    let won = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "k8s_pod", "value": pod}),
    )
    .await;
    assert_eq!(won.status, 200);
    assert_eq!(won.body["swapped"], true);
    let lost = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "k8s_pod", "value": {"name": "other"}}),
    )
    .await;
    assert_eq!(lost.status, 200, "a lost race is a 200");
    assert_eq!(lost.body["swapped"], false);
    assert_eq!(lost.body["current"], pod);
    // Build `expected` from the last `current`; explicit null is a real value.
    let swapped = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "k8s_pod", "expected": pod, "value": null}),
    )
    .await;
    assert_eq!(swapped.body["swapped"], true);
    assert_eq!(
        daemon.store().get("gt-1").unwrap().metadata,
        json!({"k8s_pod": null})
    );
    // Numbers compare as written.
    daemon
        .store()
        .update("gt-1", |i| i.metadata = json!({"n": 1}));
    let as_written = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "n", "expected": 1.0, "value": 2}),
    )
    .await;
    assert_eq!(as_written.body["swapped"], false);
    // Omitted `value` deletes the key; then `current` is absent.
    let deleted = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "n", "expected": 1}),
    )
    .await;
    assert_eq!(deleted.body, json!({"swapped": true}));
    let absent = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "n", "expected": 1}),
    )
    .await;
    assert_eq!(absent.body, json!({"swapped": false}));
    assert_problem(
        &cas(&daemon, "gt-1", json!({"actor": "op", "key": "1bad"})).await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &cas(&daemon, "gt-404", json!({"actor": "op", "key": "k"})).await,
        404,
        "not_found",
    );
    daemon
        .store()
        .update("gt-1", |i| i.metadata = json!("not an object"));
    assert_problem(
        &cas(&daemon, "gt-1", json!({"actor": "op", "key": "k"})).await,
        500,
        "internal",
    );
}

// §3.9: the journal records every write, gapless, with actor only for API writes.
#[tokio::test]
async fn journal_poll_records_every_write() {
    let daemon = serve().await;
    let store = daemon.store();
    store.insert(Issue::new("gt-1", "one"));
    patch(
        &daemon,
        "gt-1",
        json!({"actor": "gastown-operator", "patch": {"title": "renamed"}}),
    )
    .await;
    store.close("gt-1");
    store.delete("gt-1");
    let answer = get(&daemon, "/v0/beads/events?since=0").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["head"], 4);
    let records = answer.body["records"].as_array().unwrap();
    let ops: Vec<&str> = records.iter().map(|r| r["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["create", "update", "close", "delete"]);
    let seqs: Vec<i64> = records.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert!(
        records[0].get("actor").is_none(),
        "store writes are system writes"
    );
    assert_eq!(records[1]["actor"], "gastown-operator");
    assert_eq!(records[1]["issue"]["title"], "renamed");
    assert!(records[3]["issue"].is_null() && records[3].get("issue").is_some());
    assert!(records[0]["ts"].is_string());
    let later = get(&daemon, "/v0/beads/events?since=2&limit=1").await;
    assert_eq!(later.body["records"][0]["seq"], 3);
    assert_problem(
        &get(&daemon, "/v0/beads/events").await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &get(&daemon, "/v0/beads/events?since=-1").await,
        400,
        "invalid_argument",
    );
}

// §6 journal 409; fault journal_disabled.
#[tokio::test]
async fn disabled_journal_is_409_on_both_routes() {
    let daemon = serve().await;
    daemon.faults().journal_disabled(true);
    let poll = get(&daemon, "/v0/beads/events?since=0").await;
    assert_problem(&poll, 409, "events_journal_disabled");
    let watch = get(&daemon, "/v0/beads/events:watch?since=0").await;
    assert_problem(&watch, 409, "events_journal_disabled");
    daemon.faults().journal_disabled(false);
    assert_eq!(get(&daemon, "/v0/beads/events?since=0").await.status, 200);
}

// §6 journal 410; fault prune_journal_through.
#[tokio::test]
async fn pruned_journal_is_410_with_since_floor_head() {
    let daemon = serve().await;
    for n in 0..6 {
        daemon.store().insert(Issue::new(format!("gt-{n}"), "x"));
    }
    daemon.faults().prune_journal_through(3);
    let gone = get(&daemon, "/v0/beads/events?since=1").await;
    assert_problem(&gone, 410, "events_journal_truncated");
    assert_eq!(
        (
            gone.body["since"].clone(),
            gone.body["floor"].clone(),
            gone.body["head"].clone()
        ),
        (json!(1), json!(4), json!(6))
    );
    let resumed = get(&daemon, "/v0/beads/events?since=3").await;
    assert_eq!(resumed.body["records"][0]["seq"], 4);
    let watch = get(&daemon, "/v0/beads/events:watch?since=2").await;
    assert_problem(&watch, 410, "events_journal_truncated");
}

// §6 watch framing: `retry: 3000` first, `id` + one-line `data`, `: heartbeat` when idle.
#[tokio::test]
async fn watch_frames_records_and_heartbeats() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "one"));
    let mut watch = Watch::open(&daemon, "?since=0", None).await;
    assert_eq!(watch.block().await.unwrap(), "retry: 3000\n\n");
    let (id, data) = watch.record().await;
    assert_eq!(
        (id, data["seq"].clone(), data["op"].clone()),
        (1, json!(1), json!("create"))
    );
    assert_eq!(watch.block().await.unwrap(), ": heartbeat\n\n");
    daemon.store().update("gt-1", |i| i.title = "live".into());
    let (id, data) = watch.record().await;
    assert_eq!(id, 2);
    assert_eq!(data["issue"]["title"], "live");
    assert_eq!(daemon.requests().count(serve_op::WATCH), 1);
}

// §6 Last-Event-ID precedence; `since` required and validated anyway.
#[tokio::test]
async fn last_event_id_beats_since() {
    let daemon = serve().await;
    for n in 0..3 {
        daemon.store().insert(Issue::new(format!("gt-{n}"), "x"));
    }
    let mut watch = Watch::open(&daemon, "?since=0", Some("2")).await;
    watch.block().await.unwrap();
    assert_eq!(watch.record().await.0, 3);
    let mut empty_header = Watch::open(&daemon, "?since=1", Some("")).await;
    empty_header.block().await.unwrap();
    assert_eq!(empty_header.record().await.0, 2);
    let missing_since = send(
        client()
            .get(format!("{}/v0/beads/events:watch", daemon.http_url()))
            .bearer_auth(TOKEN)
            .header("Last-Event-ID", "2"),
    )
    .await;
    assert_problem(&missing_since, 400, "invalid_argument");
    assert_eq!(missing_since.body["param"], "since");
    let bad_header = send(
        client()
            .get(format!(
                "{}/v0/beads/events:watch?since=0",
                daemon.http_url()
            ))
            .bearer_auth(TOKEN)
            .header("Last-Event-ID", "abc"),
    )
    .await;
    assert_problem(&bad_header, 400, "invalid_argument");
    assert_eq!(bad_header.body["param"], "Last-Event-ID");
}

// §6 48-stream 503.
#[tokio::test]
async fn the_49th_watch_is_refused() {
    let daemon = serve().await;
    let mut open = Vec::new();
    for _ in 0..MAX_WATCH_STREAMS {
        open.push(Watch::open(&daemon, "?since=0", None).await);
    }
    let refused = get(&daemon, "/v0/beads/events:watch?since=0").await;
    assert_problem(&refused, 503, "events_watch_saturated");
    assert!(refused.headers.contains_key("retry-after"));
    // Other tenants have their own limit.
    let tenant = daemon.add_tenant("other").unwrap();
    let other = send(
        client()
            .get(format!("{}/v0/beads/events?since=0", daemon.http_url()))
            .bearer_auth(tenant.token()),
    )
    .await;
    assert_eq!(other.status, 200);
    drop(open.pop());
    bounded(async {
        loop {
            let response = client()
                .get(format!(
                    "{}/v0/beads/events:watch?since=0",
                    daemon.http_url()
                ))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

// Fault: watch_saturated.
#[tokio::test]
async fn watch_saturated_fault() {
    let daemon = serve().await;
    daemon.faults().watch_saturated(true);
    let refused = get(&daemon, "/v0/beads/events:watch?since=0").await;
    assert_problem(&refused, 503, "events_watch_saturated");
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(
        get(&daemon, "/v0/beads/events?since=0").await.status,
        200,
        "poll instead"
    );
    daemon.faults().watch_saturated(false);
    Watch::open(&daemon, "?since=0", None).await;
}

// Fault: a prune overtakes an open watch that fell behind (a client that does not read).
#[tokio::test]
async fn prune_overtaking_an_open_watch_ends_it_with_truncated() {
    let daemon = serve().await;
    let mut watch = Watch::open(&daemon, "?since=0", None).await;
    assert_eq!(watch.block().await.unwrap(), "retry: 3000\n\n");
    // More than the socket buffers and the stream's queue hold: the stream falls behind.
    let padding = "x".repeat(8 * 1024);
    for n in 0..3000 {
        daemon
            .store()
            .insert(Issue::new(format!("gt-{n}"), "x").with_description(&padding));
    }
    daemon.faults().prune_journal_through(3000);
    let mut last_seq = 0;
    let mut truncated = None;
    while let Some(block) = watch.block().await {
        if let Some(rest) = block.strip_prefix("retry: 60000\nevent: truncated\ndata: ") {
            truncated = Some(serde_json::from_str::<Value>(rest.trim_end()).unwrap());
        } else if let Some(id) = block.strip_prefix("id: ") {
            last_seq = id.lines().next().unwrap().parse().unwrap();
        }
    }
    let problem = truncated.expect("event: truncated before the stream closed");
    assert_eq!(problem["code"], "events_journal_truncated");
    assert_eq!(
        (problem["floor"].clone(), problem["head"].clone()),
        (json!(3001), json!(3000))
    );
    assert_eq!(problem["since"], last_seq);
    assert!(last_seq < 3000);
}

// Fault: busy.
#[tokio::test]
async fn busy_fault_answers_503_with_retry_after() {
    let daemon = serve().await;
    daemon.faults().busy(2, 7);
    assert_eq!(
        get(&daemon, "/v0/beads/context").await.status,
        200,
        "no DB slot needed"
    );
    assert_eq!(
        send(client().get(format!("{}/healthz", daemon.http_url())))
            .await
            .status,
        200
    );
    for path in ["/v0/beads/ready?limit=1", "/v0/beads/issues"] {
        let answer = get(&daemon, path).await;
        assert_problem(&answer, 503, "busy");
        assert_eq!(answer.headers["retry-after"], "7");
    }
    assert_eq!(get(&daemon, "/v0/beads/ready?limit=1").await.status, 200);
}

// The shared fault machinery works on serve operation names.
#[tokio::test]
async fn one_shot_faults_and_the_request_log_use_route_names() {
    let daemon = serve().await;
    daemon
        .faults()
        .fail_next(Scope::operation(serve_op::LIST), 1, "database is locked");
    let failed = get(&daemon, "/v0/beads/issues").await;
    assert_problem(&failed, 500, "internal");
    assert_eq!(
        failed.body["detail"], "internal error",
        "the cause stays in the server log"
    );
    assert_eq!(get(&daemon, "/v0/beads/issues").await.status, 200);
    let log = daemon.requests();
    assert_eq!(log.count(serve_op::LIST), 2);
    assert_eq!(log.by_operation()[serve_op::LIST].failures, 1);
    get(&daemon, "/v0/beads/issues/gt-1").await;
    assert_eq!(daemon.requests().count(serve_op::GET), 1);
}

// §3.2: the ready set.
#[tokio::test]
async fn ready_is_open_unblocked_durable_work() {
    let daemon = serve().await;
    let store = daemon.store();
    store.insert(Issue::new("gt-work", "work"));
    store.insert(Issue::new("gt-blocker", "blocker"));
    let mut blocked = Issue::new("gt-blocked", "blocked");
    blocked.dependencies.push(beads_testd::Dependency {
        issue_id: "gt-blocked".into(),
        depends_on_id: "gt-blocker".into(),
        dep_type: "blocks".into(),
        created_at: blocked.created_at,
    });
    store.insert(blocked);
    store.insert(Issue::merge_request("gastown", "gt-mr-1", "open"));
    store.insert(Issue::agent(Some("gastown"), "witness", "witness", "idle").with_status("open"));
    store.insert(Issue::new("gt-wisp", "wisp").with_ephemeral(true));
    store.insert(Issue::new("gt-doing", "doing").with_status("in_progress"));
    let mut ready = ids(&get(&daemon, "/v0/beads/ready").await);
    ready.sort();
    assert_eq!(ready, ["gt-blocker", "gt-work"]);
    store.close("gt-blocker");
    assert_eq!(
        ids(&get(&daemon, "/v0/beads/ready").await),
        ["gt-blocked", "gt-work"]
    );
    let one = get(&daemon, "/v0/beads/ready?limit=1").await;
    assert_eq!(one.body["has_more"], true);
    assert!(one.body["items"][0]["dependency_count"].is_u64());
}

// §4/§5 recipes against a town written as Gas Town writes it today.
#[tokio::test]
async fn gas_town_today_recipes() {
    let daemon = serve().await;
    let shape = TownShape {
        style: AgentStyle::GasTownToday,
        ..TownShape::default()
    };
    seed_town(daemon.store(), &["gastown"], &shape);

    let agents = get(
        &daemon,
        "/v0/beads/issues?label=gt:agent&include_infra=true&limit=200",
    )
    .await;
    let agent_ids = ids(&agents);
    assert_eq!(agent_ids.len(), 9);
    assert!(agent_ids.contains(&"hq-mayor".to_owned()));
    let nux = agents.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "gt-gastown-polecat-nux")
        .unwrap();
    assert!(
        nux["description"]
            .as_str()
            .unwrap()
            .contains("\nagent_state: working\n")
    );
    assert!(nux.get("agent_state").is_none(), "no agent columns in v0");

    // MRs are wisps: count needs include_infra.
    let queued = "/v0/beads/issues:count?label=gt:merge-request&status=open";
    assert_eq!(get(&daemon, queued).await.body["total"], 0);
    assert_eq!(
        get(&daemon, &format!("{queued}&include_infra=true"))
            .await
            .body["total"],
        2
    );
    assert!(ids(&get(&daemon, "/v0/beads/issues?label=gt:merge-request").await).is_empty());
    assert_eq!(
        ids(&get(
            &daemon,
            "/v0/beads/issues?label=gt:merge-request&include_ephemeral=true"
        )
        .await)
        .len(),
        3
    );

    let hooked = get(
        &daemon,
        "/v0/beads/issues?status=hooked&assignee=gastown/polecats/nux&include_ephemeral=true",
    )
    .await;
    assert_eq!(ids(&hooked), ["gastown-task-0"]);

    // Helpers write the description line and the hook the current way.
    assert!(
        daemon
            .store()
            .set_agent_state("gt-gastown-polecat-nux", "stuck")
    );
    let nux = get(&daemon, "/v0/beads/issues/gt-gastown-polecat-nux").await;
    assert!(
        nux.body["description"]
            .as_str()
            .unwrap()
            .contains("\nagent_state: stuck\n")
    );
    daemon
        .store()
        .insert(Issue::new("gastown-task-9", "more work"));
    assert!(
        daemon
            .store()
            .hook_work("gt-gastown-crew-max", "gastown-task-9")
    );
    let crew_hook = get(
        &daemon,
        "/v0/beads/issues?status=hooked&assignee=gastown/crew/max",
    )
    .await;
    assert_eq!(ids(&crew_hook), ["gastown-task-9"]);
}

// §3.4 filters: infra types, labels, metadata, parent.
#[tokio::test]
async fn list_filters() {
    let daemon = serve().await;
    let store = daemon.store();
    store.insert(Issue::new("gt-epic", "epic").with_type("epic"));
    store.insert(
        Issue::new("gt-a", "a")
            .with_parent("gt-epic")
            .with_labels(["x", "y"]),
    );
    store.insert(
        Issue::new("gt-b", "b")
            .with_parent("gt-a")
            .with_labels(["x"])
            .with_metadata(json!({"k": "v", "n": 3})),
    );
    store.insert(Issue::agent(Some("gastown"), "crew", "joe", "idle"));
    store.insert(Issue::new("gt-gate", "gate").with_type("gate"));
    let sorted = |answer: Answer| {
        let mut ids = ids(&answer);
        ids.sort();
        ids
    };
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues").await),
        ["gt-a", "gt-b", "gt-epic"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?include_infra=true").await).len(),
        4
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?include_gates=true").await).len(),
        4
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?parent=gt-epic").await),
        ["gt-a", "gt-b"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?label=x&label=y").await),
        ["gt-a"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?label=x&exclude_label=y").await),
        ["gt-b"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?label_any=y&label_any=nope").await),
        ["gt-a"]
    );
    assert_eq!(
        sorted(
            get(
                &daemon,
                "/v0/beads/issues?metadata_field=k=v&metadata_field=n=3"
            )
            .await
        ),
        ["gt-b"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?has_metadata_key=n").await),
        ["gt-b"]
    );
    assert_eq!(
        sorted(get(&daemon, "/v0/beads/issues?type=epic").await),
        ["gt-epic"]
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues?type=spaceship").await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues?metadata_field=1bad=x").await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &get(&daemon, "/v0/beads/issues?include_infra=maybe").await,
        400,
        "invalid_argument",
    );
}

// §2: Bd-Project-Id mismatch.
#[tokio::test]
async fn project_mismatch_is_400() {
    let daemon = serve().await;
    let answer = send(
        client()
            .get(format!("{}/v0/beads/issues", daemon.http_url()))
            .bearer_auth(TOKEN)
            .header("Bd-Project-Id", "another"),
    )
    .await;
    assert_problem(&answer, 400, "invalid_argument");
    assert_eq!(answer.body["reason"], "project_mismatch");
    assert_eq!(answer.body["server_project_id"], "testd-project");
    let context = send(
        client()
            .get(format!("{}/v0/beads/context", daemon.http_url()))
            .bearer_auth(TOKEN)
            .header("Bd-Project-Id", "another"),
    )
    .await;
    assert_eq!(context.status, 200, "not checked on /context");
}

// The daemon personality stays the default and does not serve v0.
#[tokio::test]
async fn daemon_personality_is_the_default() {
    let daemon = serve_with(TestDaemonConfig {
        token: TOKEN.into(),
        ..TestDaemonConfig::default()
    })
    .await;
    assert_eq!(daemon.personality(), Personality::Daemon);
    let answer = get(&daemon, "/v0/beads/context").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body["error"], "invalid endpoint");
}

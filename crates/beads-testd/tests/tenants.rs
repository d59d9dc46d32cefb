//! Tenants: one daemon serving several independent stores, chosen by the request's token on HTTP,
//! on the event stream and on TCP.

mod common;

use beads_testd::{Issue, Scope, TenantError, Transport};
use common::{Events, TOKEN, Tcp, daemon, json, rpc, rpc_with};
use serde_json::{Value, json};

const TOKEN_A: &str = "tenant-a-token";
const TOKEN_B: &str = "tenant-b-token";

/// The ids of a `list` answer, sorted.
fn ids(list: &Value) -> Vec<&str> {
    let mut ids: Vec<&str> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|issue| issue["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

async fn list_as(daemon: &beads_testd::TestDaemon, token: &str) -> Value {
    let (code, body) = rpc_with(daemon, "List", Some(token), "{}".into()).await;
    assert_eq!(code, 200, "{body}");
    json(&body)
}

#[tokio::test]
async fn http_lists_see_only_their_tenants_beads() {
    let daemon = daemon().await;
    let a = daemon.add_tenant(TOKEN_A).unwrap();
    let b = daemon.add_tenant(TOKEN_B).unwrap();
    daemon
        .store()
        .insert(Issue::new("gt-default", "of the default tenant"));
    a.store().insert(Issue::new("gt-a1", "of a"));
    a.store().insert(Issue::new("gt-a2", "of a"));
    b.store().insert(Issue::new("gt-b1", "of b"));

    assert_eq!(ids(&list_as(&daemon, TOKEN_A).await), ["gt-a1", "gt-a2"]);
    assert_eq!(ids(&list_as(&daemon, TOKEN_B).await), ["gt-b1"]);
    assert_eq!(ids(&list_as(&daemon, TOKEN).await), ["gt-default"]);
    daemon.shutdown().await;
}

#[tokio::test]
async fn the_tcp_token_field_selects_the_tenant() {
    let daemon = daemon().await;
    let a = daemon.add_tenant(TOKEN_A).unwrap();
    a.store().insert(Issue::new("gt-a1", "of a"));
    daemon
        .store()
        .insert(Issue::new("gt-default", "of the default tenant"));

    let mut tcp = Tcp::connect(&daemon).await;
    let answer = tcp.call_as(TOKEN_A, "list", json!({})).await;
    assert_eq!(ids(&answer["data"]), ["gt-a1"]);
    let answer = tcp.call("list", json!({})).await;
    assert_eq!(ids(&answer["data"]), ["gt-default"]);
    assert_eq!(a.requests().count_on(Transport::Tcp, "list"), 1);
    assert_eq!(daemon.requests().count_on(Transport::Tcp, "list"), 1);
    daemon.shutdown().await;
}

#[tokio::test]
async fn writes_land_in_the_callers_tenant() {
    let daemon = daemon().await;
    let a = daemon.add_tenant(TOKEN_A).unwrap();
    let (code, body) = rpc_with(
        &daemon,
        "Create",
        Some(TOKEN_A),
        json!({"id": "gt-new", "title": "made via a"}).to_string(),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(a.store().get("gt-new").is_some());
    assert!(daemon.store().is_empty());
    daemon.shutdown().await;
}

#[tokio::test]
async fn event_streams_carry_only_their_tenants_mutations() {
    let daemon = daemon().await;
    let a = daemon.add_tenant(TOKEN_A).unwrap();
    let b = daemon.add_tenant(TOKEN_B).unwrap();
    let mut events_a = Events::open_as(&daemon, TOKEN_A, "").await;
    let mut events_b = Events::open_as(&daemon, TOKEN_B, "").await;

    // B changes first: had B's events reached A's stream, they would come before A's own.
    b.store().insert(Issue::new("gt-b1", "of b"));
    daemon
        .store()
        .insert(Issue::new("gt-default", "of the default tenant"));
    a.store().insert(Issue::new("gt-a1", "of a"));
    b.store().insert(Issue::new("gt-b2", "of b"));

    let first_a = events_a.next_mutation().await.data.unwrap();
    assert_eq!(first_a["IssueID"], "gt-a1");
    for expected in ["gt-b1", "gt-b2"] {
        let frame = events_b.next_mutation().await.data.unwrap();
        assert_eq!(frame["IssueID"], expected);
    }
    // `get_mutations` reads the same per-tenant history.
    let (_, body) = rpc_with(
        &daemon,
        "GetMutations",
        Some(TOKEN_A),
        json!({"since": 0}).to_string(),
    )
    .await;
    let mutations = json(&body);
    let issue_ids: Vec<&str> = mutations
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["IssueID"].as_str().unwrap())
        .collect();
    assert_eq!(issue_ids, ["gt-a1"]);
    daemon.shutdown().await;
}

#[tokio::test]
async fn requests_and_faults_are_kept_per_tenant() {
    let daemon = daemon().await;
    let a = daemon.add_tenant(TOKEN_A).unwrap();
    let b = daemon.add_tenant(TOKEN_B).unwrap();
    a.faults()
        .fail_next(Scope::operation("list"), 1, "database is locked");

    let (code, body) = rpc_with(&daemon, "List", Some(TOKEN_B), "{}".into()).await;
    assert_eq!(code, 200, "a fault of A does not touch B: {body}");
    let (code, body) = rpc_with(&daemon, "List", Some(TOKEN_A), "{}".into()).await;
    assert_eq!(code, 500);
    assert_eq!(json(&body)["error"], "database is locked");
    rpc(&daemon, "Stats", json!({})).await;

    assert_eq!(a.requests().by_operation()["list"].failures, 1);
    assert_eq!(b.requests().count("list"), 1);
    assert_eq!(b.requests().total(), 1);
    assert_eq!(daemon.requests().count("list"), 0);
    assert_eq!(daemon.requests().count("stats"), 1);
    let everyone: beads_testd::RequestLog = daemon.tenants().iter().map(|t| t.requests()).sum();
    assert_eq!(everyone.total(), 3);

    a.reset_requests();
    assert_eq!(a.requests().total(), 0);
    assert_eq!(b.requests().total(), 1);
    daemon.shutdown().await;
}

#[tokio::test]
async fn unknown_tokens_are_refused_as_by_a_single_tenant_daemon() {
    let daemon = daemon().await;
    let a = daemon.add_tenant(TOKEN_A).unwrap();
    a.store().insert(Issue::new("gt-a1", "of a"));

    let (code, body) = rpc_with(&daemon, "List", Some("nope"), "{}".into()).await;
    assert_eq!(
        (code, json(&body)["error"].clone()),
        (401, json!("invalid token"))
    );
    let mut tcp = Tcp::connect(&daemon).await;
    let answer = tcp.call_as("nope", "list", json!({})).await;
    assert_eq!(answer["success"], false);
    assert_eq!(
        answer["error"],
        "authentication failed: invalid or missing token"
    );
    // Refusals are the default tenant's, as they would be on a daemon without tenants.
    assert_eq!(daemon.requests().by_operation()["list"].failures, 2);
    assert_eq!(a.requests().total(), 0);
    daemon.shutdown().await;
}

#[tokio::test]
async fn tenants_are_found_by_token_and_tokens_are_unique() {
    let daemon = daemon().await;
    let a = daemon.add_tenant(TOKEN_A).unwrap();
    assert_eq!(daemon.tenant(TOKEN_A).unwrap().token(), a.token());
    assert_eq!(daemon.tenant(TOKEN).unwrap().token(), daemon.token());
    assert_eq!(daemon.default_tenant().token(), TOKEN);
    assert!(daemon.tenant("nope").is_none());
    assert_eq!(
        daemon.add_tenant(TOKEN_A).unwrap_err(),
        TenantError::DuplicateToken
    );
    assert_eq!(daemon.tenants().len(), 2);
    daemon.shutdown().await;
}

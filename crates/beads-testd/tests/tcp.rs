//! The newline-delimited JSON listener over a raw TcpStream.

mod common;

use beads_testd::{HealthFault, Issue, MAX_LINE_BYTES, Scope, TownShape, Transport, seed_town};
use common::{TOKEN, Tcp, daemon, json};
use serde_json::{Value, json};

#[tokio::test]
async fn many_requests_on_one_connection_with_the_envelope() {
    let daemon = daemon().await;
    seed_town(daemon.store(), &["gastown", "beads"], &TownShape::default());
    let mut tcp = Tcp::connect(&daemon).await;

    let answer = tcp.call("ping", json!({})).await;
    assert_eq!(
        answer,
        json!({"success": true, "data": {"message": "pong", "version": "9.8.7"}})
    );

    let answer = tcp
        .call(
            "list",
            json!({"labels_any": ["role:witness", "role:refinery"], "labels": ["rig:beads"]}),
        )
        .await;
    assert_eq!(answer["success"], true);
    let mut ids: Vec<&str> = answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["gt-beads-refinery-refinery", "gt-beads-witness-witness"]
    );

    let answer = tcp.call("stats", json!({})).await;
    assert_eq!(answer["data"]["total_issues"], daemon.store().len());
    let answer = tcp.call("health", json!({})).await;
    assert_eq!(answer["data"]["status"], "healthy");
    assert_eq!(answer["data"]["client_version"], "9.8.7");
    assert!(answer["data"]["active_connections"].as_i64().unwrap() >= 1);

    let answer = tcp
        .call(
            "agent_pod_register",
            json!({"agent_id": "gt-beads-witness-witness", "pod_name": "w-0"}),
        )
        .await;
    assert_eq!(answer["data"]["pod_status"], "running");
    let answer = tcp.call("agent_pod_list", json!({"rig": "beads"})).await;
    assert_eq!(
        answer["data"]["agents"][0]["agent_id"],
        "gt-beads-witness-witness"
    );
    let last = daemon.store().mutations_since(0).pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.actor.as_str()),
        ("update", "tcp-tester")
    );

    let answer = tcp
        .call("get_mutations", json!({"since": last.unix_ms() - 1}))
        .await;
    assert_eq!(answer["data"].as_array().unwrap().len(), 1);
    assert_eq!(answer["data"][0]["IssueID"], "gt-beads-witness-witness");

    assert_eq!(daemon.requests().count_on(Transport::Tcp, "list"), 1);
    assert_eq!(daemon.requests().count_on(Transport::Http, "list"), 0);
    daemon.shutdown().await;
}

#[tokio::test]
async fn the_token_field_authenticates_each_request() {
    let daemon = daemon().await;
    let mut tcp = Tcp::connect(&daemon).await;
    let refused =
        json!({"success": false, "error": "authentication failed: invalid or missing token"});
    let answer = tcp.raw(r#"{"operation":"ping","args":{}}"#).await.unwrap();
    assert_eq!(json(&answer), refused);
    let answer = tcp
        .raw(r#"{"operation":"ping","args":{},"token":"wrong"}"#)
        .await
        .unwrap();
    assert_eq!(json(&answer), refused);
    assert_eq!(
        tcp.call("ping", json!({})).await["success"],
        true,
        "the connection stays usable"
    );

    daemon.faults().set_reject_tokens(true);
    assert_eq!(tcp.call("ping", json!({})).await, refused);
    daemon.shutdown().await;
}

#[tokio::test]
async fn bad_lines_unknown_operations_and_daemon_errors() {
    let daemon = daemon().await;
    let mut tcp = Tcp::connect(&daemon).await;
    let answer = json(&tcp.raw("this is not json").await.unwrap());
    assert_eq!(answer["success"], false);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid request: "),
        "{answer}"
    );

    let answer = tcp.call("teleport", json!({})).await;
    assert_eq!(
        answer,
        json!({"success": false, "error": "unknown operation: teleport"})
    );

    let line = json!({"operation": "list", "token": TOKEN}).to_string();
    let answer = json(&tcp.raw(&line).await.unwrap());
    assert_eq!(
        answer,
        json!({"success": false, "error": "invalid list args: unexpected end of JSON input"})
    );

    let answer = tcp.call("show", json!({"id": "gt-nope"})).await;
    assert_eq!(
        answer,
        json!({"success": false, "error": "issue not found: gt-nope"})
    );

    let answer = tcp.call("get_mutations", json!({"since": 0})).await;
    assert_eq!(
        answer,
        json!({"success": true, "data": null}),
        "nothing happened yet"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn unhealthy_health_fails_but_carries_the_data() {
    let daemon = daemon().await;
    daemon
        .faults()
        .set_health(HealthFault::Unhealthy("database ping failed".into()));
    let mut tcp = Tcp::connect(&daemon).await;
    let answer = tcp.call("health", json!({})).await;
    assert_eq!(answer["success"], false);
    assert_eq!(answer["error"], "database ping failed");
    assert_eq!(answer["data"]["status"], "unhealthy");
    daemon.shutdown().await;
}

#[tokio::test]
async fn fail_drop_and_malformed_faults() {
    let daemon = daemon().await;
    daemon.store().insert(Issue::new("gt-1", "one"));
    let mut tcp = Tcp::connect(&daemon).await;

    daemon.faults().fail_next(
        Scope::operation("list").on(Transport::Tcp),
        1,
        "too many connections",
    );
    assert_eq!(
        tcp.call("list", json!({})).await,
        json!({"success": false, "error": "too many connections"})
    );
    assert_eq!(tcp.call("list", json!({})).await["data"][0]["id"], "gt-1");

    daemon.faults().malform_next(Scope::any(), 1);
    let line = json!({"operation": "stats", "args": {}, "token": TOKEN}).to_string();
    let answer = tcp.raw(&line).await.unwrap();
    assert!(serde_json::from_str::<Value>(&answer).is_err(), "{answer}");

    daemon.faults().drop_next(Scope::operation("stats"), 1);
    assert_eq!(tcp.raw(&line).await, None, "closed without an answer");

    let mut again = Tcp::connect(&daemon).await;
    assert_eq!(again.call("stats", json!({})).await["success"], true);
    daemon.shutdown().await;
}

#[tokio::test]
async fn lines_over_ten_megabytes_are_refused_and_skipped() {
    let daemon = daemon().await;
    let mut tcp = Tcp::connect(&daemon).await;
    let huge = format!(
        r#"{{"operation":"list","token":"{TOKEN}","args":{{"query":"{}"}}}}"#,
        "x".repeat(MAX_LINE_BYTES)
    );
    let answer = json(&tcp.raw(&huge).await.expect("an answer, not a hang-up"));
    assert_eq!(answer["success"], false);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("exceeds 10485760 bytes"),
        "{answer}"
    );
    assert_eq!(
        tcp.call("ping", json!({})).await["success"],
        true,
        "the rest of the line was skipped"
    );
    assert_eq!(daemon.requests().count_on(Transport::Tcp, "list"), 0);
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_daemon_without_a_token_does_not_authenticate() {
    let daemon = beads_testd::TestDaemon::start(beads_testd::TestDaemonConfig {
        token: String::new(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut tcp = Tcp::connect(&daemon).await;
    let answer = json(&tcp.raw(r#"{"operation":"ping","args":{}}"#).await.unwrap());
    assert_eq!(answer["success"], true);
    daemon.shutdown().await;
}

#[tokio::test]
async fn latency_outlasts_a_short_client_timeout() {
    let daemon = daemon().await;
    daemon.faults().set_latency(
        Scope::transport(Transport::Tcp),
        std::time::Duration::from_secs(5),
    );
    let mut tcp = Tcp::connect(&daemon).await;
    let line = json!({"operation": "ping", "args": {}, "token": TOKEN}).to_string();
    let slow = tokio::time::timeout(std::time::Duration::from_millis(100), tcp.raw(&line)).await;
    assert!(
        slow.is_err(),
        "no answer within the client's timeout: {slow:?}"
    );
    daemon.shutdown().await;
}

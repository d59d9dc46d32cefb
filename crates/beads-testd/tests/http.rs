//! The HTTP listener over raw HTTP: every endpoint, authentication, and every fault.

mod common;

use std::time::Duration;

use beads_testd::{HealthFault, Issue, Scope, TownShape, Transport, seed_town};
use common::{TOKEN, bounded, daemon, http, json, rpc, rpc_with};
use serde_json::json;

#[tokio::test]
async fn probes_answer_without_a_token() {
    let daemon = daemon().await;
    for path in ["/healthz", "/health"] {
        let response = bounded(http().get(format!("{}{path}", daemon.http_url())).send())
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let body = json(&response.text().await.unwrap());
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["version"], "9.8.7");
        assert!(body["uptime"].as_str().unwrap().ends_with('s'), "{body}");
        assert!(body.get("error").is_none());
    }
    let response = bounded(http().get(format!("{}/readyz", daemon.http_url())).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        json(&response.text().await.unwrap()),
        json!({"status": "ready"})
    );
    assert_eq!(daemon.requests().count_on(Transport::Http, "healthz"), 2);
    daemon.shutdown().await;
}

#[tokio::test]
async fn authenticated_endpoints_refuse_missing_malformed_and_wrong_tokens() {
    let daemon = daemon().await;
    let cases = [
        (None, "missing Authorization header"),
        (
            Some("Basic czNjcmV0"),
            "invalid Authorization header format",
        ),
        (Some("Bearer wrong"), "invalid token"),
    ];
    for (authorization, message) in cases {
        for (method, path) in [
            ("POST", "/bd.v1.BeadsService/List"),
            ("GET", "/metrics"),
            ("GET", "/events"),
        ] {
            let mut request = http()
                .request(
                    method.parse().unwrap(),
                    format!("{}{path}", daemon.http_url()),
                )
                .body("{}");
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            let response = bounded(request.send()).await.unwrap();
            assert_eq!(response.status(), 401, "{path} with {authorization:?}");
            assert_eq!(
                json(&response.text().await.unwrap()),
                json!({ "error": message }),
                "{path}"
            );
        }
    }
    daemon.shutdown().await;
}

#[tokio::test]
async fn every_rpc_method_answers_with_bare_data() {
    let daemon = daemon().await;
    seed_town(daemon.store(), &["gastown", "beads"], &TownShape::default());

    let (code, body) = rpc(
        &daemon,
        "List",
        json!({"labels": ["gt:agent", "rig:gastown"], "exclude_status": ["closed"]}),
    )
    .await;
    assert_eq!(code, 200);
    let agents = json(&body);
    assert_eq!(
        agents.as_array().unwrap().len(),
        2 + 3 + 2,
        "witness, refinery, 3 polecats, 2 crew: {body}"
    );
    assert!(agents.as_array().unwrap().iter().all(|a| {
        a["labels"]
            .as_array()
            .unwrap()
            .contains(&json!("rig:gastown"))
    }));

    let (_, body) = rpc(&daemon, "Show", json!({"id": "gt-gastown-polecat-nux"})).await;
    let nux = json(&body);
    assert_eq!(nux["role_type"], "polecat");
    assert_eq!(nux["hook_bead"], "gastown-task-0");

    let (_, body) = rpc(
        &daemon,
        "Count",
        json!({"labels": ["gt:merge-request"], "exclude_status": ["closed"]}),
    )
    .await;
    assert_eq!(json(&body), json!({"count": 6}));

    let (_, body) = rpc(&daemon, "Health", json!({})).await;
    let health = json(&body);
    assert_eq!(health["status"], "healthy");
    for key in [
        "version",
        "compatible",
        "uptime_seconds",
        "db_response_ms",
        "active_connections",
        "max_connections",
        "memory_alloc_mb",
    ] {
        assert!(health.get(key).is_some(), "health lacks {key}: {health}");
    }

    let (_, body) = rpc(&daemon, "Stats", json!({})).await;
    let stats = json(&body);
    assert_eq!(stats["total_issues"], daemon.store().len());
    for key in [
        "open_issues",
        "in_progress_issues",
        "closed_issues",
        "blocked_issues",
        "ready_issues",
        "average_lead_time_hours",
    ] {
        assert!(stats.get(key).is_some(), "stats lacks {key}: {stats}");
    }

    let (_, body) = rpc(&daemon, "Ping", json!({})).await;
    assert_eq!(json(&body), json!({"message": "pong", "version": "9.8.7"}));
    let (_, body) = rpc(&daemon, "Status", json!({})).await;
    assert_eq!(json(&body)["http_addr"], daemon.http_addr().to_string());

    let (_, body) = rpc(
        &daemon,
        "Ready",
        json!({"labels": ["gt:merge-request", "rig:beads"]}),
    )
    .await;
    assert_eq!(
        json(&body).as_array().unwrap().len(),
        2,
        "queued merge requests are ready work"
    );
    daemon
        .store()
        .update("beads-mr-0", |i| i.status = "blocked".into());
    let (_, body) = rpc(&daemon, "Blocked", json!({})).await;
    assert_eq!(json(&body)[0]["id"], "beads-mr-0");

    let (code, body) = rpc(&daemon, "Metrics", json!({})).await;
    assert_eq!(code, 200);
    let list_metrics = json(&body)["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["operation"] == "list")
        .cloned();
    assert_eq!(list_metrics.unwrap()["total_count"], 1);
    daemon.shutdown().await;
}

#[tokio::test]
async fn agent_pod_calls_update_the_agent_bead_and_emit_mutations() {
    let daemon = daemon().await;
    daemon
        .store()
        .insert(Issue::agent(Some("gastown"), "polecat", "nux", "spawning"));
    let id = "gt-gastown-polecat-nux";
    let before = daemon.store().mutations_since(0).len();

    let (_, body) = rpc(&daemon, "AgentPodList", json!({})).await;
    assert_eq!(json(&body), json!({"agents": null}));

    let (code, body) = rpc(
        &daemon,
        "AgentPodRegister",
        json!({"agent_id": id, "pod_name": "gt-gastown-polecat-nux", "pod_ip": "10.1.2.3", "pod_node": "node-a"}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        json(&body),
        json!({"agent_id": id, "pod_name": "gt-gastown-polecat-nux", "pod_status": "running"})
    );

    let (_, body) = rpc(&daemon, "AgentPodList", json!({"rig": "gastown"})).await;
    let listed = &json(&body)["agents"][0];
    assert_eq!(listed["pod_ip"], "10.1.2.3");
    assert_eq!(listed["pod_node"], "node-a");
    assert_eq!(listed["agent_state"], "spawning");

    rpc(
        &daemon,
        "AgentPodStatus",
        json!({"agent_id": id, "pod_status": "terminating"}),
    )
    .await;
    assert_eq!(
        daemon.store().get(id).unwrap().pod_status.as_deref(),
        Some("terminating")
    );
    rpc(&daemon, "AgentPodDeregister", json!({"agent_id": id})).await;
    assert!(daemon.store().get(id).unwrap().pod_name.is_none());

    let events = daemon.store().mutations_since(0);
    assert_eq!(events.len() - before, 3);
    assert!(
        events[before..]
            .iter()
            .all(|e| e.kind == "update" && e.issue_id == id)
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn update_over_http_emits_status_mutations_as_the_actor() {
    let daemon = daemon().await;
    daemon
        .store()
        .insert(Issue::merge_request("gastown", "gt-mr-1", "open"));
    let since = daemon.store().mutations_since(0)[0].unix_ms();

    let response = bounded(
        http()
            .post(format!("{}/bd.v1.BeadsService/Update", daemon.http_url()))
            .bearer_auth(TOKEN)
            .header("X-BD-Actor", "refinery")
            .body(
                json!({"id": "gt-mr-1", "status": "in_progress", "add_labels": ["claimed"]})
                    .to_string(),
            )
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        json(&response.text().await.unwrap())["status"],
        "in_progress"
    );

    let (_, body) = rpc(&daemon, "GetMutations", json!({ "since": since })).await;
    let events = json(&body);
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events[0]["Type"], "status");
    assert_eq!(events[0]["Actor"], "refinery");
    assert_eq!(events[0]["old_status"], "open");
    assert_eq!(events[0]["new_status"], "in_progress");
    assert!(
        events[0]["labels"]
            .as_array()
            .unwrap()
            .contains(&json!("claimed"))
    );

    let (_, body) = rpc(&daemon, "GetMutations", json!({"since": events[0]["Timestamp"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_millisecond()})).await;
    assert_eq!(body, "null", "nothing newer: the daemon's Go nil slice");
    daemon.shutdown().await;
}

#[tokio::test]
async fn daemon_errors_are_500_and_unknown_methods_404() {
    let daemon = daemon().await;
    let (code, body) = rpc(&daemon, "Show", json!({"id": "gt-missing"})).await;
    assert_eq!(
        (code, json(&body)),
        (500, json!({"error": "issue not found: gt-missing"}))
    );
    let (code, body) = rpc_with(&daemon, "List", Some(TOKEN), String::new()).await;
    assert_eq!(
        (code, json(&body)),
        (
            500,
            json!({"error": "invalid list args: unexpected end of JSON input"})
        )
    );
    let (code, body) = rpc(&daemon, "Teleport", json!({})).await;
    assert_eq!(
        (code, json(&body)),
        (404, json!({"error": "unknown method: Teleport"}))
    );
    let response = bounded(
        http()
            .get(format!("{}/bd.v1.BeadsService/List", daemon.http_url()))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 405);
    daemon.shutdown().await;
}

#[tokio::test]
async fn wrong_token_mode_refuses_even_the_right_token() {
    let daemon = daemon().await;
    daemon.faults().set_reject_tokens(true);
    let (code, body) = rpc(&daemon, "Ping", json!({})).await;
    assert_eq!(
        (code, json(&body)),
        (401, json!({"error": "invalid token"}))
    );
    daemon.faults().set_reject_tokens(false);
    assert_eq!(rpc(&daemon, "Ping", json!({})).await.0, 200);
    daemon.shutdown().await;
}

#[tokio::test]
async fn fail_next_answers_500_with_the_text_then_recovers() {
    let daemon = daemon().await;
    daemon
        .faults()
        .fail_next(Scope::operation("list"), 2, "database is locked");
    for _ in 0..2 {
        let (code, body) = rpc(&daemon, "List", json!({})).await;
        assert_eq!(
            (code, json(&body)),
            (500, json!({"error": "database is locked"}))
        );
    }
    assert_eq!(
        rpc(&daemon, "Stats", json!({})).await.0,
        200,
        "other operations are unaffected"
    );
    assert_eq!(
        rpc(&daemon, "List", json!({})).await,
        (200, "[]".to_owned())
    );
    let log = daemon.requests();
    assert_eq!(log.count_on(Transport::Http, "list"), 3);
    assert_eq!(log.by_operation()["list"].failures, 2);
    daemon.shutdown().await;
}

#[tokio::test]
async fn faults_scoped_to_tcp_leave_http_alone() {
    let daemon = daemon().await;
    daemon
        .faults()
        .fail_next(Scope::transport(Transport::Tcp), 1, "tcp only");
    daemon
        .faults()
        .drop_next(Scope::transport(Transport::Tcp), 1);
    assert_eq!(rpc(&daemon, "Ping", json!({})).await.0, 200);
    daemon.shutdown().await;
}

#[tokio::test]
async fn drop_next_closes_the_connection_without_an_answer() {
    let daemon = daemon().await;
    daemon.faults().drop_next(Scope::operation("stats"), 1);
    let error = bounded(
        http()
            .post(format!("{}/bd.v1.BeadsService/Stats", daemon.http_url()))
            .bearer_auth(TOKEN)
            .body("{}")
            .send(),
    )
    .await
    .expect_err("the daemon hung up");
    assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
    assert_eq!(
        rpc(&daemon, "Stats", json!({})).await.0,
        200,
        "the next request is answered"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn malform_next_answers_a_body_that_is_not_json() {
    let daemon = daemon().await;
    daemon.faults().malform_next(Scope::operation("list"), 1);
    daemon.faults().malform_next(Scope::operation("healthz"), 1);
    let (code, body) = rpc(&daemon, "List", json!({})).await;
    assert_eq!(code, 200);
    assert!(
        serde_json::from_str::<serde_json::Value>(&body).is_err(),
        "{body}"
    );
    let response = bounded(http().get(format!("{}/healthz", daemon.http_url())).send())
        .await
        .unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&response.text().await.unwrap()).is_err());
    assert_eq!(rpc(&daemon, "List", json!({})).await.1, "[]");
    daemon.shutdown().await;
}

#[tokio::test]
async fn latency_outlasts_a_short_client_timeout() {
    let daemon = daemon().await;
    daemon
        .faults()
        .set_latency(Scope::operation("list"), Duration::from_secs(5));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let error = bounded(
        client
            .post(format!("{}/bd.v1.BeadsService/List", daemon.http_url()))
            .bearer_auth(TOKEN)
            .body("{}")
            .send(),
    )
    .await
    .expect_err("slower than the client's timeout");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(
        rpc(&daemon, "Ping", json!({})).await.0,
        200,
        "only list is slow"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn degraded_unhealthy_and_not_ready() {
    let daemon = daemon().await;
    let get = |path: &'static str| {
        let url = format!("{}{path}", daemon.http_url());
        async move {
            let response = bounded(http().get(url).send()).await.unwrap();
            (
                response.status().as_u16(),
                json(&response.text().await.unwrap()),
            )
        }
    };

    daemon.faults().set_health(HealthFault::Degraded(
        "database ping failed: i/o timeout".into(),
    ));
    let (code, body) = get("/healthz").await;
    assert_eq!(
        (code, &body["status"], &body["error"]),
        (
            200,
            &json!("degraded"),
            &json!("database ping failed: i/o timeout")
        )
    );
    let (code, body) = get("/readyz").await;
    assert_eq!(
        (code, body),
        (
            503,
            json!({"status": "not ready", "reason": "database ping failed: i/o timeout"})
        )
    );
    let (code, body) = rpc(&daemon, "Health", json!({})).await;
    assert_eq!((code, &json(&body)["status"]), (200, &json!("degraded")));

    daemon
        .faults()
        .set_health(HealthFault::Unhealthy("store closed".into()));
    let (code, body) = get("/healthz").await;
    assert_eq!(
        (code, &body["status"], &body["error"]),
        (503, &json!("unhealthy"), &json!("store closed"))
    );
    let (code, body) = rpc(&daemon, "Health", json!({})).await;
    assert_eq!((code, json(&body)), (500, json!({"error": "store closed"})));

    daemon.faults().set_health(HealthFault::Healthy);
    daemon.faults().set_not_ready(Some("loading"));
    let (code, body) = get("/readyz").await;
    assert_eq!(
        (code, body),
        (503, json!({"status": "not ready", "reason": "loading"}))
    );
    daemon.faults().clear();
    assert_eq!(get("/readyz").await.0, 200);
    daemon.shutdown().await;
}

#[tokio::test]
async fn kept_alive_connections_serve_many_requests() {
    let daemon = daemon().await;
    let client = http();
    for n in 0..20 {
        let response = bounded(
            client
                .post(format!("{}/bd.v1.BeadsService/Ping", daemon.http_url()))
                .bearer_auth(TOKEN)
                .body("{}")
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200, "request {n}");
        response.bytes().await.unwrap();
    }
    assert_eq!(daemon.requests().count("ping"), 20);
    daemon.shutdown().await;
}

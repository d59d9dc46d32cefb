//! Cross-cutting wire rules (bd-serve-v0.md §1, §2) and the shared faults.

use super::*;

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

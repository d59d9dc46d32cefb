//! The client against the test daemon, on both transports: typed answers, every
//! failure mode as its typed error, retries for reads only, and no token leaks.

mod common;

use std::time::Duration;

use beads_client::{
    AgentPodRegistration, BeadsError, HealthStatus, IssueStatus, ListQuery, PodStatus, Token,
};
use beads_testd::{HealthFault, Issue, Scope, TownShape, seed_town};
use common::{SECRET, client, daemon, endpoints, fast_config, within};

#[tokio::test]
async fn typed_operations_on_both_transports() {
    let daemon = daemon().await;
    seed_town(daemon.store(), &["gastown", "beads"], &TownShape::default());
    for (transport, url) in endpoints(&daemon) {
        let client = client(&url, fast_config());

        let health = within("health", client.health()).await.expect("health");
        assert_eq!(health.status, HealthStatus::Healthy, "{transport}");
        assert!(!health.version.is_empty(), "{transport}");

        let stats = within("stats", client.stats()).await.expect("stats");
        assert_eq!(
            stats.total_issues,
            daemon.store().len() as u64,
            "{transport}"
        );

        let polecats = ListQuery {
            labels: vec!["rig:gastown".into(), "role:polecat".into()],
            ..ListQuery::not_closed()
        };
        let listed = within("list", client.list(&polecats)).await.expect("list");
        assert_eq!(listed.len(), 3, "{transport}: three polecats in gastown");
        assert!(
            listed
                .iter()
                .all(|i| i.rig() == Some("gastown") && i.is_agent()),
            "{transport}"
        );

        let by_ids = ListQuery {
            ids: vec!["gt-mayor".into(), "gt-deacon".into()],
            ..ListQuery::default()
        };
        let mut ids: Vec<_> = within("list ids", client.list(&by_ids))
            .await
            .expect("list ids")
            .into_iter()
            .map(|issue| issue.id)
            .collect();
        ids.sort();
        assert_eq!(ids, ["gt-deacon", "gt-mayor"], "{transport}");

        let closed_mrs = ListQuery {
            labels_any: vec!["gt:merge-request".into()],
            status: Some(IssueStatus::Closed),
            ..ListQuery::default()
        };
        let closed = within("list closed", client.list(&closed_mrs))
            .await
            .expect("list closed");
        assert!(
            !closed.is_empty() && closed.iter().all(|i| i.is_closed()),
            "{transport}"
        );

        let nothing = ListQuery {
            labels: vec!["no-such-label".into()],
            ..ListQuery::default()
        };
        assert!(
            client.list(&nothing).await.expect("empty list").is_empty(),
            "{transport}"
        );
    }
}

#[tokio::test]
async fn agent_pod_round_trip_on_both_transports() {
    let daemon = daemon().await;
    daemon
        .store()
        .insert(Issue::agent(Some("gastown"), "polecat", "nux", "spawning"));
    for (transport, url) in endpoints(&daemon) {
        let client = client(&url, fast_config());
        let registered = client
            .agent_pod_register(&AgentPodRegistration {
                agent_id: "gt-gastown-polecat-nux".into(),
                pod_name: format!("pod-{transport}"),
                pod_ip: Some("10.0.0.7".into()),
                pod_status: Some(PodStatus::Pending),
                ..AgentPodRegistration::default()
            })
            .await
            .expect("register");
        assert_eq!(registered.pod_name, format!("pod-{transport}"));

        client
            .agent_pod_status("gt-gastown-polecat-nux", PodStatus::Running)
            .await
            .expect("status");
        let pods = client
            .agent_pod_list(Some("gastown"))
            .await
            .expect("pod list");
        let pod = pods
            .iter()
            .find(|p| p.agent_id == "gt-gastown-polecat-nux")
            .expect("listed");
        assert_eq!(pod.pod_name, format!("pod-{transport}"), "{transport}");
        assert_eq!(pod.pod_status.as_deref(), Some("running"), "{transport}");
        assert_eq!(pod.pod_ip.as_deref(), Some("10.0.0.7"), "{transport}");

        client
            .agent_pod_deregister("gt-gastown-polecat-nux")
            .await
            .expect("deregister");
        let pods = client
            .agent_pod_list(Some("gastown"))
            .await
            .expect("pod list");
        assert!(
            pods.iter().all(|p| p.agent_id != "gt-gastown-polecat-nux"),
            "{transport}: {pods:?}"
        );
    }
}

#[tokio::test]
async fn wrong_token_is_unauthorized() {
    let daemon = daemon().await;
    for (transport, url) in endpoints(&daemon) {
        let wrong = beads_client::BeadsClient::with_config(
            url.parse().unwrap(),
            Token::new("not-the-token"),
            fast_config(),
        )
        .unwrap();
        let error = wrong.list(&ListQuery::default()).await.unwrap_err();
        assert!(
            matches!(error, BeadsError::Unauthorized { .. }),
            "{transport}: {error}"
        );
        assert_eq!(
            daemon.requests().count("list"),
            1,
            "{transport}: 401 is not retried"
        );
        daemon.reset_requests();

        daemon.faults().set_reject_tokens(true);
        let error = client(&url, fast_config()).stats().await.unwrap_err();
        assert!(
            matches!(error, BeadsError::Unauthorized { .. }),
            "{transport}: {error}"
        );
        daemon.faults().clear();
    }
}

#[tokio::test]
async fn closed_port_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("tcp://127.0.0.1:{port}"),
    ] {
        let error = client(&url, fast_config()).health().await.unwrap_err();
        assert!(
            matches!(error, BeadsError::Unreachable { .. }),
            "{url}: {error}"
        );
        assert!(
            error.to_string().contains(&format!("127.0.0.1:{port}")),
            "names the endpoint: {error}"
        );
    }
}

#[tokio::test]
async fn slow_answers_time_out() {
    let daemon = daemon().await;
    daemon
        .faults()
        .set_latency(Scope::any(), Duration::from_secs(5));
    for (transport, url) in endpoints(&daemon) {
        let config = beads_client::ClientConfig {
            request_timeout: Duration::from_millis(200),
            read_retries: 0,
            ..fast_config()
        };
        let error = within("timeout", client(&url, config).list(&ListQuery::default()))
            .await
            .unwrap_err();
        assert!(
            matches!(error, BeadsError::TimedOut { .. }),
            "{transport}: {error}"
        );
    }
}

#[tokio::test]
async fn malformed_answers_are_protocol_violations() {
    let daemon = daemon().await;
    for (transport, url) in endpoints(&daemon) {
        daemon.faults().malform_next(Scope::operation("list"), 1);
        let error = client(&url, fast_config())
            .list(&ListQuery::default())
            .await
            .unwrap_err();
        assert!(
            matches!(error, BeadsError::Protocol { .. }),
            "{transport}: {error}"
        );
    }
}

#[tokio::test]
async fn daemon_errors_carry_the_daemon_text_and_writes_are_not_retried() {
    let daemon = daemon().await;
    daemon
        .store()
        .insert(Issue::agent(Some("gastown"), "crew", "max", "idle"));
    for (transport, url) in endpoints(&daemon) {
        daemon.reset_requests();
        daemon.faults().fail_next(
            Scope::operation("agent_pod_register"),
            1,
            "database is locked",
        );
        let error = client(&url, fast_config())
            .agent_pod_register(&AgentPodRegistration {
                agent_id: "gt-gastown-crew-max".into(),
                pod_name: "p".into(),
                ..AgentPodRegistration::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&error, BeadsError::Daemon { message, .. } if message == "database is locked"),
            "{transport}: {error}"
        );
        assert_eq!(
            daemon.requests().count("agent_pod_register"),
            1,
            "{transport}: a write is sent once"
        );

        daemon
            .faults()
            .drop_next(Scope::operation("agent_pod_deregister"), 1);
        let error = client(&url, fast_config())
            .agent_pod_deregister("gt-gastown-crew-max")
            .await
            .unwrap_err();
        assert!(
            matches!(error, BeadsError::Unreachable { .. }),
            "{transport}: {error}"
        );
        assert_eq!(
            daemon.requests().count("agent_pod_deregister"),
            1,
            "{transport}: a write is sent once"
        );
    }
}

#[tokio::test]
async fn reads_are_retried_with_backoff() {
    let daemon = daemon().await;
    seed_town(daemon.store(), &["gastown"], &TownShape::default());
    for (transport, url) in endpoints(&daemon) {
        daemon.reset_requests();
        daemon
            .faults()
            .fail_next(Scope::operation("list"), 2, "busy");
        daemon.faults().drop_next(Scope::operation("stats"), 1);
        let client = client(&url, fast_config());
        let listed = client
            .list(&ListQuery::not_closed())
            .await
            .expect("third attempt succeeds");
        assert!(!listed.is_empty(), "{transport}");
        assert_eq!(daemon.requests().count("list"), 3, "{transport}");
        client.stats().await.expect("second attempt succeeds");
        assert_eq!(daemon.requests().count("stats"), 2, "{transport}");

        daemon
            .faults()
            .fail_next(Scope::operation("list"), 10, "still busy");
        let error = client.list(&ListQuery::default()).await.unwrap_err();
        assert!(
            matches!(error, BeadsError::Daemon { .. }),
            "{transport}: {error}"
        );
        assert_eq!(
            daemon.requests().count("list"),
            3 + 4,
            "{transport}: one try and three retries"
        );
        daemon.faults().clear();
    }
}

#[tokio::test]
async fn health_probes_report_degraded_and_unhealthy() {
    let daemon = daemon().await;
    for (transport, url) in endpoints(&daemon) {
        let client = client(&url, fast_config());
        daemon.faults().clear();
        assert!(
            client.readiness().await.expect("readiness").ready,
            "{transport}"
        );
        assert_eq!(
            client.liveness().await.expect("liveness").status,
            HealthStatus::Healthy
        );

        daemon
            .faults()
            .set_health(HealthFault::Degraded("slow stats query".into()));
        let live = client.liveness().await.expect("liveness");
        assert_eq!(live.status, HealthStatus::Degraded, "{transport}");
        let ready = client.readiness().await.expect("readiness");
        assert!(!ready.ready, "{transport}");
        assert!(
            ready.reason.is_some_and(|r| r.contains("slow")),
            "{transport}"
        );

        daemon
            .faults()
            .set_health(HealthFault::Unhealthy("database gone".into()));
        let snapshot = beads_client::fetch_snapshot(&client)
            .await
            .expect("snapshot still taken");
        assert_eq!(
            snapshot.health.status,
            HealthStatus::Unhealthy,
            "{transport}"
        );
        assert!(
            snapshot
                .health
                .error
                .is_some_and(|e| e.contains("database gone")),
            "{transport}"
        );
        if transport == "http" {
            let live = client.liveness().await.expect("503 is still an answer");
            assert_eq!(live.status, HealthStatus::Unhealthy);
        }
    }
}

#[tokio::test]
async fn the_token_never_appears_in_errors_or_debug_output() {
    let daemon = daemon().await;
    let mut rendered = Vec::new();
    for (_, url) in endpoints(&daemon) {
        let client = client(&url, fast_config());
        rendered.push(format!("{client:?}"));

        // A daemon that echoes the token back in its error text.
        daemon.faults().fail_next(
            Scope::operation("agent_pod_deregister"),
            1,
            &format!("bad request from {SECRET}"),
        );
        rendered.push(error_texts(
            client.agent_pod_deregister("x").await.unwrap_err(),
        ));
        daemon.faults().set_reject_tokens(true);
        rendered.push(error_texts(
            client.list(&ListQuery::default()).await.unwrap_err(),
        ));
        daemon.faults().clear();
        daemon.faults().malform_next(Scope::operation("stats"), 1);
        rendered.push(error_texts(client.stats().await.unwrap_err()));
        daemon
            .faults()
            .drop_next(Scope::operation("agent_pod_status"), 1);
        rendered.push(error_texts(
            client
                .agent_pod_status("x", PodStatus::Running)
                .await
                .unwrap_err(),
        ));
        daemon
            .faults()
            .set_latency(Scope::operation("health"), Duration::from_secs(2));
        let slow = beads_client::BeadsClient::with_config(
            url.parse().unwrap(),
            Token::new(SECRET),
            beads_client::ClientConfig {
                request_timeout: Duration::from_millis(100),
                read_retries: 0,
                ..fast_config()
            },
        )
        .unwrap();
        rendered.push(error_texts(slow.health().await.unwrap_err()));
        rendered.push(format!("{slow:?}"));
        daemon.faults().clear();
    }
    let closed = client("tcp://127.0.0.1:1", fast_config());
    rendered.push(error_texts(closed.health().await.unwrap_err()));

    assert!(
        rendered.iter().any(|text| text.contains("***")),
        "redaction is visible: {rendered:#?}"
    );
    for text in &rendered {
        assert!(!text.contains(SECRET), "token leaked into: {text}");
    }
}

fn error_texts(error: BeadsError) -> String {
    format!("{error} | {error:?}")
}

#[tokio::test]
async fn one_snapshot_is_four_requests_whatever_the_town_size() {
    let daemon = daemon().await;
    let rigs = ["r1", "r2", "r3", "r4", "r5", "r6"];
    seed_town(daemon.store(), &rigs, &TownShape::default());
    for (transport, url) in endpoints(&daemon) {
        let client = client(&url, fast_config());
        daemon.reset_requests();
        let snapshot = within("snapshot", beads_client::fetch_snapshot(&client))
            .await
            .expect("snapshot");
        let requests = daemon.requests();
        assert_eq!(requests.total(), 4, "{transport}: {requests:?}");
        assert_eq!(
            (requests.count("health"), requests.count("list")),
            (1, 3),
            "{transport}"
        );

        let summary = beads_client::project(
            &snapshot,
            beads_client::jiff::Timestamp::now(),
            Duration::from_secs(600),
        );
        assert_eq!(summary.daemon.status, HealthStatus::Healthy, "{transport}");
        assert_eq!(summary.rigs.len(), rigs.len(), "{transport}");
        for rig in &summary.rigs {
            // seed_town: polecats working, done, stuck; two idle crew; a fresh witness,
            // a refinery last active an hour ago; 2 queued + 1 processing + 1 closed MR.
            assert_eq!(rig.polecats, ["nux", "toast"], "{transport} {}", rig.name);
            assert_eq!(rig.crew_count, 2, "{transport} {}", rig.name);
            assert!(rig.witness_alive, "{transport} {}", rig.name);
            assert!(!rig.refinery_alive, "{transport} {}", rig.name);
            assert_eq!(
                (rig.merge_queue_depth, rig.merge_queue_in_processing),
                (Some(3), Some(1)),
                "{transport}"
            );
            assert_eq!(rig.hooked_work.len(), 2, "{transport} {}", rig.name);
        }
        assert!(summary.mayor.is_some_and(|m| m.alive), "{transport}");
        assert_eq!(
            summary.deacon.and_then(|d| d.state),
            Some(beads_client::AgentState::Idle)
        );
    }
}

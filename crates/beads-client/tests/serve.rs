//! The `bd serve` backend and the neutral [`Beads`] interface against the test
//! server's `bd serve` personality (bd-serve-v0.md).

mod common;

use std::time::{Duration, Instant};

use beads_client::serve::{IssueQuery, POD_METADATA_KEY};
use beads_client::{
    AgentPodRegistration, Beads, BeadsError, Change, ClientConfig, HealthStatus, PodFields,
    PodStatus, Protocol, ServeClient, Token, jiff::Timestamp, project,
};
use beads_testd::{
    AgentStyle, Personality, TestDaemon, TestDaemonConfig, TownShape, seed_town, serve_op,
};
use common::{SECRET, fast_config, within};
use futures::{Stream, StreamExt};

async fn serve() -> TestDaemon {
    TestDaemon::start(TestDaemonConfig {
        token: SECRET.to_owned(),
        personality: Personality::Serve,
        heartbeat_interval: Duration::from_millis(100),
        ..TestDaemonConfig::default()
    })
    .await
    .expect("test bd serve starts")
}

fn today() -> TownShape {
    TownShape {
        style: AgentStyle::GasTownToday,
        ..TownShape::default()
    }
}

fn connect(server: &TestDaemon, config: ClientConfig) -> Beads {
    Beads::connect(
        Protocol::Serve,
        &server.http_url(),
        Token::new(SECRET),
        config,
    )
    .expect("client")
}

fn serve_client(server: &TestDaemon) -> ServeClient {
    ServeClient::new(&server.http_url(), Token::new(SECRET), fast_config()).expect("client")
}

/// The next item of a change stream, bounded in time.
async fn next_change<S>(changes: &mut S, within_time: Duration) -> Result<Change, BeadsError>
where
    S: Stream<Item = Result<Change, BeadsError>> + Unpin,
{
    tokio::time::timeout(within_time, changes.next())
        .await
        .unwrap_or_else(|_| panic!("no change within {within_time:?}"))
        .expect("the stream never ends")
}

/// The next `At` position, skipping transient errors.
async fn next_position<S>(changes: &mut S, within_time: Duration) -> u64
where
    S: Stream<Item = Result<Change, BeadsError>> + Unpin,
{
    let deadline = Instant::now() + within_time;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_change(changes, left).await {
            Ok(Change::At { position }) => return position,
            Ok(other) => panic!("expected a position, got {other:?}"),
            Err(error) => eprintln!("transient: {error}"),
        }
    }
}

/// Drives the (lazy) stream until it has asked for `events:watch`, asserting that
/// it yields nothing meanwhile.
async fn quiet_until_watching<S>(server: &TestDaemon, changes: &mut S)
where
    S: Stream<Item = Result<Change, BeadsError>> + Unpin,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.requests().count(serve_op::WATCH) == 0 {
        assert!(Instant::now() < deadline, "no watch");
        if let Ok(item) = tokio::time::timeout(Duration::from_millis(10), changes.next()).await {
            panic!("nothing happened, yet the stream yielded {item:?}");
        }
    }
    // Let the server register the stream before anything changes.
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(50), changes.next()).await {
        panic!("nothing happened, yet the stream yielded {item:?}");
    }
}

fn touch(server: &TestDaemon, id: &str) {
    assert!(server.store().update(id, |issue| issue.title.push('!')));
}

#[tokio::test]
async fn snapshot_of_a_town_as_gas_town_keeps_it_today() {
    let server = serve().await;
    seed_town(server.store(), &["gastown", "beads"], &today());
    let beads = connect(&server, fast_config());
    assert_eq!(beads.protocol(), Protocol::Serve);

    let snapshot = within("snapshot", beads.snapshot())
        .await
        .expect("snapshot");
    assert_eq!(snapshot.server.protocol, Protocol::Serve);
    assert!(!snapshot.server.version.is_empty());
    assert!(
        snapshot
            .server
            .capabilities
            .iter()
            .any(|c| c == "events.watch")
    );
    assert_eq!(snapshot.health.status, HealthStatus::Healthy);
    assert_eq!(snapshot.merge_requests, None, "MRs live in rig databases");
    // Mayor, deacon; per rig a witness, a refinery, 3 polecats, 2 crew.
    assert_eq!(snapshot.agents.len(), 2 + 2 * 7, "{:#?}", snapshot.agents);

    let requests = server.requests();
    assert_eq!(requests.count(serve_op::CONTEXT), 1);
    assert_eq!(requests.count(serve_op::READY), 1);
    assert_eq!(requests.count(serve_op::LIST), 3, "{requests:?}");

    let summary = project(&snapshot, Timestamp::now(), Duration::from_secs(600));
    assert_eq!(summary.rigs.len(), 2);
    for rig in &summary.rigs {
        // Polecats cycle working, done, stuck: nux and toast are live.
        assert_eq!(rig.polecats, ["nux", "toast"], "{}", rig.name);
        assert_eq!(rig.crew_count, 2, "{}", rig.name);
        assert!(rig.witness_alive, "{}", rig.name);
        assert!(!rig.refinery_alive, "an hour idle: {}", rig.name);
        assert_eq!(rig.merge_queue_depth, None, "unknown, not 0");
        assert_eq!(rig.merge_queue_in_processing, None);
        let mut hooked: Vec<_> = rig
            .hooked_work
            .iter()
            .map(|h| (h.agent.clone(), h.bead.clone()))
            .collect();
        hooked.sort();
        let task = |n: u32| format!("{}-task-{n}", rig.name);
        assert_eq!(
            hooked,
            [("nux".to_owned(), task(0)), ("toast".to_owned(), task(2))],
            "hooked work by assignee identity path"
        );
    }
    assert!(summary.mayor.is_some_and(|m| m.alive));
    assert!(summary.deacon.is_some_and(|d| d.live));
}

#[tokio::test]
async fn large_towns_are_listed_page_by_page() {
    let server = serve().await;
    let shape = TownShape {
        polecats_per_rig: 260,
        ..today()
    };
    seed_town(server.store(), &["gastown"], &shape);
    let snapshot = within("snapshot", connect(&server, fast_config()).snapshot())
        .await
        .expect("snapshot");
    assert_eq!(snapshot.agents.len(), 2 + 2 + 260 + 2);
    let mut ids: Vec<_> = snapshot.agents.iter().map(|a| a.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), snapshot.agents.len(), "no row twice");
    // Two pages of agents by label, one by type, one of hooked work (130 < 200).
    assert_eq!(server.requests().count(serve_op::LIST), 4);
    let hooked = snapshot
        .agents
        .iter()
        .filter(|a| a.hook_bead.is_some())
        .count();
    assert_eq!(hooked, 130, "working and stuck polecats, half of 260");
}

#[tokio::test]
async fn pod_state_round_trips_through_metadata() {
    let server = serve().await;
    seed_town(server.store(), &["gastown"], &today());
    let id = "gt-gastown-polecat-nux";
    server.store().update(id, |issue| {
        issue.metadata = serde_json::json!({"owner": {"team": 7}});
    });
    let description = server.store().get(id).expect("agent").description;
    let beads = connect(&server, fast_config());
    let pod_of = |snapshot: &beads_client::TownSnapshot| {
        snapshot
            .agent_beads()
            .find(|a| a.id == id)
            .expect("agent")
            .pod
    };

    let registration = AgentPodRegistration {
        agent_id: id.into(),
        pod_name: "gt-gastown-polecat-nux-0".into(),
        pod_ip: Some("10.0.0.7".into()),
        pod_node: Some("node-1".into()),
        pod_status: Some(PodStatus::Pending),
        ..AgentPodRegistration::default()
    };
    within("register", beads.register_pod(&registration))
        .await
        .expect("register");
    let pod = pod_of(&beads.snapshot().await.expect("snapshot"));
    assert_eq!(pod.name.as_deref(), Some("gt-gastown-polecat-nux-0"));
    assert_eq!(pod.ip.as_deref(), Some("10.0.0.7"));
    assert_eq!(pod.status.as_deref(), Some("pending"));

    within("status", beads.pod_status(id, PodStatus::Running, &pod))
        .await
        .expect("status");
    let running = pod_of(&beads.snapshot().await.expect("snapshot"));
    assert_eq!(
        running,
        PodFields {
            status: Some("running".into()),
            ..pod.clone()
        }
    );
    let stored = server.store().get(id).expect("agent");
    assert_eq!(
        stored.description, description,
        "Gas Town's description untouched"
    );
    assert_eq!(stored.metadata["owner"]["team"], 7, "other keys survive");
    assert_eq!(stored.metadata[POD_METADATA_KEY]["node"], "node-1");

    within("deregister", beads.deregister_pod(id))
        .await
        .expect("deregister");
    let gone = pod_of(&beads.snapshot().await.expect("snapshot"));
    assert_eq!(gone, PodFields::default());
    let stored = server.store().get(id).expect("agent");
    assert!(stored.metadata.get(POD_METADATA_KEY).is_none());
    assert_eq!(stored.metadata["owner"]["team"], 7);
    assert_eq!(server.requests().count(serve_op::PATCH), 3);

    // Writes carry our actor (§3.7), which the journal records.
    let page = serve_client(&server).events(0, None).await.expect("events");
    let ours = page
        .records
        .iter()
        .filter(|r| r.actor.as_deref() == Some("gastown-operator"))
        .count();
    assert_eq!(ours, 3);

    let missing = beads.deregister_pod("gt-no-such-agent").await.unwrap_err();
    assert!(
        matches!(&missing, BeadsError::Problem { status: 404, code, .. } if code == "not_found"),
        "{missing}"
    );
}

#[tokio::test]
async fn changes_arrive_by_watch_within_a_second_and_skip_our_own_writes() {
    let server = serve().await;
    seed_town(server.store(), &["gastown"], &today());
    let beads = connect(&server, fast_config());
    let head = server.store().journal_head() as u64;
    let mut changes = Box::pin(beads.changes(None));
    // Connected once the watch is open; nothing of the backlog is replayed.
    quiet_until_watching(&server, &mut changes).await;

    // Our own write is journaled but not announced; the next foreign one is.
    let registration = AgentPodRegistration {
        agent_id: "gt-gastown-polecat-nux".into(),
        pod_name: "nux-0".into(),
        ..AgentPodRegistration::default()
    };
    beads.register_pod(&registration).await.expect("own write");
    let started = Instant::now();
    touch(&server, "gt-gastown-witness");
    let position = next_position(&mut changes, Duration::from_secs(1)).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(position, head + 2, "own write at head+1 skipped");

    touch(&server, "hq-mayor");
    touch(&server, "hq-deacon");
    let next = next_position(&mut changes, Duration::from_secs(2)).await;
    let last = next_position(&mut changes, Duration::from_secs(2)).await;
    assert_eq!((next, last), (position + 1, position + 2));
    assert_eq!(
        server.requests().count(serve_op::EVENTS),
        1,
        "one head probe, then watch only"
    );
}

#[tokio::test]
async fn watch_reconnects_with_last_event_id_and_deduplicates() {
    let server = serve().await;
    seed_town(server.store(), &["gastown"], &today());
    let head = server.store().journal_head() as u64;
    let mut changes = Box::pin(connect(&server, fast_config()).changes(Some(head - 2)));
    assert_eq!(
        next_position(&mut changes, Duration::from_secs(2)).await,
        head - 1
    );
    assert_eq!(
        next_position(&mut changes, Duration::from_secs(2)).await,
        head
    );
    server.faults().cut_event_streams();
    tokio::time::sleep(Duration::from_millis(100)).await;
    touch(&server, "hq-mayor");
    assert_eq!(
        next_position(&mut changes, Duration::from_secs(3)).await,
        head + 1,
        "no record repeated or lost across the reconnect"
    );
}

#[tokio::test]
async fn journal_off_degrades_to_relisting_and_recovers() {
    let server = serve().await;
    seed_town(server.store(), &["gastown"], &today());
    server.faults().journal_disabled(true);
    let mut changes = Box::pin(connect(&server, fast_config()).changes(None));

    let degraded = next_change(&mut changes, Duration::from_secs(2)).await;
    let Ok(Change::Degraded { reason }) = degraded else {
        panic!("expected Degraded, got {degraded:?}")
    };
    assert!(reason.contains("events_journal_disabled"), "{reason}");
    for _ in 0..2 {
        // config.mutations.relist_interval = 100 ms in the tests.
        let tick = next_change(&mut changes, Duration::from_secs(1)).await;
        assert!(matches!(tick, Ok(Change::Relist)), "{tick:?}");
    }

    server.faults().journal_disabled(false);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_change(&mut changes, left).await {
            Ok(Change::Restored) => break,
            Ok(Change::Relist) => {}
            other => panic!("expected Relist or Restored, got {other:?}"),
        }
    }
    touch(&server, "hq-mayor");
    let position = next_position(&mut changes, Duration::from_secs(2)).await;
    assert_eq!(position, server.store().journal_head() as u64);
}

#[tokio::test]
async fn a_pruned_journal_is_announced_and_resumed_from_the_floor() {
    let server = serve().await;
    seed_town(server.store(), &["gastown"], &today());
    let head = server.store().journal_head() as u64;
    server.faults().prune_journal_through(10);
    let mut changes = Box::pin(connect(&server, fast_config()).changes(Some(3)));
    assert_eq!(
        next_position(&mut changes, Duration::from_secs(2)).await,
        10,
        "floor - 1: the caller relists"
    );
    for expected in 11..=head {
        assert_eq!(
            next_position(&mut changes, Duration::from_secs(2)).await,
            expected
        );
    }
}

#[tokio::test]
async fn a_saturated_watch_falls_back_to_polling() {
    let server = serve().await;
    seed_town(server.store(), &["gastown"], &today());
    server.faults().watch_saturated(true);
    let head = server.store().journal_head() as u64;
    let mut changes = Box::pin(connect(&server, fast_config()).changes(Some(head)));
    quiet_until_watching(&server, &mut changes).await;
    touch(&server, "hq-mayor");
    assert_eq!(
        next_position(&mut changes, Duration::from_secs(2)).await,
        head + 1
    );
    assert!(server.requests().count(serve_op::EVENTS) >= 1, "polled");
}

#[tokio::test]
async fn busy_503_is_retried_after_its_retry_after() {
    let server = serve().await;
    seed_town(server.store(), &["gastown"], &today());
    let client = serve_client(&server);
    client.context().await.expect("context");
    server.faults().busy(1, 1);
    let started = Instant::now();
    let query = IssueQuery {
        label: vec!["gt:agent".into()],
        include_infra: true,
        ..IssueQuery::default()
    };
    let agents = within("list", client.list_issues(&query))
        .await
        .expect("list");
    assert_eq!(agents.len(), 9);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After, not the 5-20 ms backoff: {:?}",
        started.elapsed()
    );
    assert_eq!(server.requests().count(serve_op::LIST), 2);

    // Busy beyond the retries: a transient Problem carrying Retry-After.
    server.faults().busy(10, 0);
    let error = client.list_issues(&query).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(error.problem_code(), Some("busy"));
    assert_eq!(error.retry_after(), Some(Duration::ZERO));
}

#[tokio::test]
async fn a_wrong_token_is_a_clear_unauthorized_error_never_retried() {
    let server = serve().await;
    let wrong = "wrong-token-9d1e";
    let beads = Beads::connect(
        Protocol::Serve,
        &server.http_url(),
        Token::new(wrong),
        fast_config(),
    )
    .unwrap();
    let error = within("snapshot", beads.snapshot()).await.unwrap_err();
    assert!(
        matches!(error, BeadsError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    let text = format!("{error} {error:?} {beads:?}");
    assert!(text.contains("refused the token"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(SECRET), "{text}");
    assert_eq!(server.requests().count(serve_op::CONTEXT), 1, "not retried");

    // Detection still recognises bd serve by its 401 problem.
    let detected = Beads::detect(&server.http_url(), Token::new(wrong), fast_config())
        .await
        .unwrap();
    assert_eq!(detected.protocol(), Protocol::Serve);
}

#[tokio::test]
async fn detect_tells_serve_from_the_daemon() {
    let server = serve().await;
    let detected = Beads::detect(&server.http_url(), Token::new(SECRET), fast_config())
        .await
        .unwrap();
    assert_eq!(detected.protocol(), Protocol::Serve);
    assert_eq!(detected.endpoint(), format!("{}/", server.http_url()));

    let daemon = common::daemon().await;
    for url in [daemon.http_url(), daemon.tcp_url()] {
        let detected = Beads::detect(&url, Token::new(SECRET), fast_config())
            .await
            .unwrap();
        assert_eq!(detected.protocol(), Protocol::Daemon, "{url}");
        detected.snapshot().await.expect("daemon snapshot");
    }
    let closed = Beads::detect("http://127.0.0.1:1", None, fast_config()).await;
    assert!(
        matches!(closed, Err(BeadsError::Unreachable { .. })),
        "{closed:?}"
    );
}

#[tokio::test]
async fn a_missing_capability_is_named() {
    let server = serve().await;
    seed_town(server.store(), &["gastown"], &today());
    server.faults().capabilities_without(&["issues.update"]);
    let beads = connect(&server, fast_config());
    beads.snapshot().await.expect("reads need no issues.update");
    let error = beads.deregister_pod("hq-mayor").await.unwrap_err();
    assert!(
        matches!(&error, BeadsError::MissingCapability { capability, .. } if capability == "issues.update"),
        "{error:?}"
    );
    assert!(error.to_string().contains("issues.update"));
    assert_eq!(server.requests().count(serve_op::PATCH), 0, "not attempted");

    server
        .faults()
        .capabilities_without(&["issues.list", "ready.list"]);
    let fresh = connect(&server, fast_config());
    let error = fresh.snapshot().await.unwrap_err();
    assert!(error.to_string().contains("\"issues.list\""), "{error}");
}

#[tokio::test]
async fn without_events_capabilities_the_feed_relists() {
    let server = serve().await;
    server
        .faults()
        .capabilities_without(&["events.list", "events.watch"]);
    let mut changes = Box::pin(connect(&server, fast_config()).changes(None));
    let degraded = next_change(&mut changes, Duration::from_secs(2)).await;
    assert!(
        matches!(&degraded, Ok(Change::Degraded { reason }) if reason.contains("events.watch")),
        "{degraded:?}"
    );
    let tick = next_change(&mut changes, Duration::from_secs(1)).await;
    assert!(matches!(tick, Ok(Change::Relist)), "{tick:?}");
    assert_eq!(server.requests().count(serve_op::WATCH), 0, "never asked");
    assert_eq!(server.requests().count(serve_op::EVENTS), 0, "never asked");
}

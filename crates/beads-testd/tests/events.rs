//! `GET /events`: live mutations for every change, keepalives, filters, `since` resume, and faults.

mod common;

use beads_testd::{Issue, Scope};
use common::{Events, TOKEN, bounded, daemon, http, json, rpc};
use serde_json::json;

#[tokio::test]
async fn every_change_is_a_mutation_frame() {
    let daemon = daemon().await;
    let mut events = Events::open(&daemon, "").await;
    let store = daemon.store();

    store.insert(Issue::agent(Some("gastown"), "polecat", "nux", "spawning"));
    store.update("gt-gastown-polecat-nux", |i| {
        i.agent_state = Some("working".into())
    });
    store.update("gt-gastown-polecat-nux", |i| {
        i.status = "in_progress".into()
    });
    rpc(
        &daemon,
        "AgentPodRegister",
        json!({"agent_id": "gt-gastown-polecat-nux", "pod_name": "p"}),
    )
    .await;
    rpc(
        &daemon,
        "Update",
        json!({"id": "gt-gastown-polecat-nux", "add_labels": ["x"]}),
    )
    .await;
    store.close("gt-gastown-polecat-nux");
    store.delete("gt-gastown-polecat-nux");

    let mut kinds = Vec::new();
    let mut last_id = 0;
    for _ in 0..7 {
        let frame = events.next_mutation().await;
        assert_eq!(frame.event.as_deref(), Some("mutation"));
        let id = frame.id.expect("every frame has an id");
        assert!(id > last_id, "ids increase");
        last_id = id;
        let data = frame.data.expect("JSON data");
        assert_eq!(data["IssueID"], "gt-gastown-polecat-nux");
        let timestamp: jiff::Timestamp = data["Timestamp"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            timestamp.as_millisecond(),
            id,
            "the id is the event's unix ms"
        );
        kinds.push(data["Type"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        kinds,
        [
            "create", "update", "status", "update", "update", "status", "delete"
        ]
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn idle_streams_send_keepalive_comments() {
    let daemon = daemon().await; // keepalive every 100 ms
    let mut events = Events::open(&daemon, "").await;
    let frame = events.next().await.expect("stream open");
    assert_eq!(frame.comment.as_deref(), Some("keepalive"));
    assert!(frame.id.is_none() && frame.data.is_none());
    daemon.shutdown().await;
}

#[tokio::test]
async fn resuming_with_since_replays_exactly_the_missed_events() {
    let daemon = daemon().await;
    let store = daemon.store();
    let mut events = Events::open(&daemon, "").await;
    store.insert(Issue::new("gt-1", "one"));
    store.insert(Issue::new("gt-2", "two"));
    events.next_mutation().await;
    let last_seen = events.next_mutation().await.id.unwrap();

    // The client goes away; life goes on without it.
    daemon.faults().cut_event_streams();
    assert_eq!(events.next().await, None, "the stream ended");
    for n in 3..=6 {
        store.insert(Issue::new(format!("gt-{n}"), "later"));
    }

    let mut resumed = Events::open(&daemon, &format!("?since={last_seen}")).await;
    store.insert(Issue::new("gt-7", "live"));
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            resumed.next_mutation().await.data.unwrap()["IssueID"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        ids,
        ["gt-3", "gt-4", "gt-5", "gt-6", "gt-7"],
        "nothing lost, nothing repeated"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn since_zero_replays_nothing_and_bad_since_is_400() {
    let daemon = daemon().await;
    daemon.store().insert(Issue::new("gt-old", "before"));
    let mut events = Events::open(&daemon, "?since=0").await;
    daemon.store().insert(Issue::new("gt-new", "after"));
    assert_eq!(
        events.next_mutation().await.data.unwrap()["IssueID"],
        "gt-new"
    );

    let response = bounded(
        http()
            .get(format!("{}/events?since=yesterday", daemon.http_url()))
            .bearer_auth(TOKEN)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        json(&response.text().await.unwrap()),
        json!({"error": "invalid 'since' parameter: must be unix ms"})
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn filters_by_type_and_by_issue() {
    let daemon = daemon().await;
    let store = daemon.store();
    let mut updates = Events::open(&daemon, "?filter=type:update").await;
    let mut one_issue = Events::open(&daemon, "?filter=issue:gt-2").await;
    store.insert(Issue::new("gt-1", "one"));
    store.insert(Issue::new("gt-2", "two"));
    store.update("gt-1", |i| i.title = "one!".into());
    store.update("gt-2", |i| i.title = "two!".into());

    let first = updates.next_mutation().await.data.unwrap();
    let second = updates.next_mutation().await.data.unwrap();
    assert_eq!(
        (&first["Type"], &first["IssueID"]),
        (&json!("update"), &json!("gt-1"))
    );
    assert_eq!(
        (&second["Type"], &second["IssueID"]),
        (&json!("update"), &json!("gt-2"))
    );

    let first = one_issue.next_mutation().await.data.unwrap();
    let second = one_issue.next_mutation().await.data.unwrap();
    assert_eq!(
        (&first["Type"], &first["IssueID"]),
        (&json!("create"), &json!("gt-2"))
    );
    assert_eq!(
        (&second["Type"], &second["Title"]),
        (&json!("update"), &json!("two!"))
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn injected_garbage_and_unknown_event_types_reach_the_stream() {
    let daemon = daemon().await;
    let mut events = Events::open(&daemon, "").await;
    daemon
        .faults()
        .inject_into_event_streams("event: mystery\ndata: {\"what\":1}\n\n");
    daemon
        .faults()
        .inject_into_event_streams("garbage without a field name\n\n");
    daemon.store().insert(Issue::new("gt-1", "after the noise"));

    let mystery = events.next_mutation().await;
    assert_eq!(mystery.event.as_deref(), Some("mystery"));
    let garbage = events.next_mutation().await;
    assert_eq!(garbage.other, ["garbage without a field name"]);
    assert_eq!(
        events.next_mutation().await.data.unwrap()["IssueID"],
        "gt-1"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn event_faults_fail_drop_and_malform_the_stream() {
    let daemon = daemon().await;
    daemon
        .faults()
        .fail_next(Scope::operation("events"), 1, "subscriber limit reached");
    let response = bounded(
        http()
            .get(format!("{}/events", daemon.http_url()))
            .bearer_auth(TOKEN)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(
        json(&response.text().await.unwrap()),
        json!({"error": "subscriber limit reached"})
    );

    daemon.faults().drop_next(Scope::operation("events"), 1);
    let dropped = bounded(
        http()
            .get(format!("{}/events", daemon.http_url()))
            .bearer_auth(TOKEN)
            .send(),
    )
    .await;
    assert!(dropped.is_err(), "closed without an answer: {dropped:?}");

    daemon.faults().malform_next(Scope::operation("events"), 1);
    let mut events = Events::open(&daemon, "").await;
    let first = events.next().await.unwrap();
    assert!(
        first.id.is_none() && first.event.is_none() && first.comment.is_none(),
        "garbage first: {first:?}"
    );
    daemon.store().insert(Issue::new("gt-1", "x"));
    assert_eq!(
        events.next_mutation().await.data.unwrap()["IssueID"],
        "gt-1",
        "then a normal stream"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let daemon = daemon().await;
    let mut events = Events::open(&daemon, "").await;
    bounded(daemon.shutdown()).await;
    while let Some(frame) = events.next().await {
        assert!(
            frame.comment.is_some(),
            "only keepalives before the end: {frame:?}"
        );
    }
}

#[tokio::test]
async fn slow_readers_resume_without_losing_or_repeating_events() {
    let daemon = beads_testd::TestDaemon::start(beads_testd::TestDaemonConfig {
        token: TOKEN.into(),
        history_capacity: 5000,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut events = Events::open(&daemon, "").await;
    // Far more than the stream buffers hold while nobody reads: the daemon may cut this stream.
    for n in 0..3000 {
        daemon
            .store()
            .insert(Issue::new(format!("gt-{n}"), "burst"));
    }

    let mut seen = Vec::new();
    let mut last_id = None;
    while seen.len() < 3000 {
        match events.next().await {
            Some(frame) => {
                if let (Some(id), Some(data)) = (frame.id, frame.data) {
                    last_id = Some(id);
                    seen.push(data["IssueID"].as_str().unwrap().to_owned());
                }
            }
            None => {
                // Cut before the first event: resume from the beginning of the history.
                let since = last_id.unwrap_or(1);
                events = Events::open(&daemon, &format!("?since={since}")).await;
            }
        }
    }
    let expected: Vec<String> = (0..3000).map(|n| format!("gt-{n}")).collect();
    assert_eq!(seen, expected);
    daemon.shutdown().await;
}

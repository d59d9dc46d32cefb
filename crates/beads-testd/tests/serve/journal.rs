//! The events journal: poll and watch (bd-serve-v0.md §3.9, §3.10).

use super::*;

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

//! The mutation stream against the test daemon: SSE resume after cuts without loss
//! or repetition, surviving garbage, and the polling fallback on TCP.

mod common;

use beads_client::{BeadsError, MutationEvent, MutationKind};
use beads_testd::{Issue, Scope};
use common::{client, daemon, fast_config, within};
use futures::{Stream, StreamExt};

/// Reads until `n` events arrived; returns their issue ids and how many errors
/// were yielded on the way.
async fn take_events<S>(stream: &mut S, n: usize) -> (Vec<String>, Vec<BeadsError>)
where
    S: Stream<Item = Result<MutationEvent, BeadsError>> + Unpin,
{
    within("mutation events", async {
        let mut ids = Vec::new();
        let mut errors = Vec::new();
        while ids.len() < n {
            match stream.next().await.expect("the stream never ends") {
                Ok(event) => ids.push(event.issue_id),
                Err(error) => errors.push(error),
            }
        }
        (ids, errors)
    })
    .await
}

fn create(daemon: &beads_testd::TestDaemon, ids: &[&str]) {
    for id in ids {
        daemon.store().insert(Issue::new(*id, format!("bead {id}")));
    }
}

#[tokio::test]
async fn sse_resumes_after_cuts_without_losing_or_repeating() {
    let daemon = daemon().await;
    create(&daemon, &["a1", "a2", "a3"]);
    let client = client(&daemon.http_url(), fast_config());
    let mut stream = Box::pin(client.mutations(Some(0)));

    let (ids, _) = take_events(&mut stream, 3).await;
    assert_eq!(ids, ["a1", "a2", "a3"], "replay from since=0");

    // Noise the reader must skip: unknown event types, garbage, bad data, comments.
    daemon
        .faults()
        .inject_into_event_streams("event: surprise\ndata: {\"x\":1}\n\n");
    daemon
        .faults()
        .inject_into_event_streams("garbage without a colon\n\n");
    daemon
        .faults()
        .inject_into_event_streams("id: 99\nevent: mutation\ndata: {not json\n\n");
    daemon.faults().inject_into_event_streams(": a comment\n\n");
    create(&daemon, &["b1"]);
    let (ids, _) = take_events(&mut stream, 1).await;
    assert_eq!(ids, ["b1"]);

    // Cut the stream and change things while the client is away.
    daemon.faults().cut_event_streams();
    create(&daemon, &["c1", "c2"]);
    daemon
        .store()
        .update("a1", |issue| issue.title = "renamed".into());
    let (ids, _) = take_events(&mut stream, 3).await;
    assert_eq!(ids, ["c1", "c2", "a1"], "resumed after the last id seen");

    // The next reconnect starts with a garbage line; cut twice in a row.
    daemon.faults().malform_next(Scope::operation("events"), 1);
    daemon.faults().cut_event_streams();
    daemon.faults().cut_event_streams();
    create(&daemon, &["d1"]);
    let (ids, _) = take_events(&mut stream, 1).await;
    assert_eq!(ids, ["d1"], "nothing repeated after repeated reconnects");
    assert!(daemon.requests().count("events") >= 2, "it did reconnect");

    create(&daemon, &["sentinel"]);
    let (ids, _) = take_events(&mut stream, 1).await;
    assert_eq!(ids, ["sentinel"]);
}

#[tokio::test]
async fn sse_reports_refused_reconnects_and_recovers() {
    let daemon = daemon().await;
    let client = client(&daemon.http_url(), fast_config());
    create(&daemon, &["a"]);
    let mut stream = Box::pin(client.mutations(Some(0)));
    assert_eq!(take_events(&mut stream, 1).await.0, ["a"]);

    daemon.faults().set_reject_tokens(true);
    daemon.faults().cut_event_streams();
    let refused = within("an error item", stream.next()).await.expect("item");
    assert!(
        matches!(refused, Err(BeadsError::Unauthorized { .. })),
        "{refused:?}"
    );

    create(&daemon, &["b"]);
    daemon.faults().clear();
    let (ids, _) = take_events(&mut stream, 1).await;
    assert_eq!(ids, ["b"], "the event made while refused is delivered once");
}

#[tokio::test]
async fn tcp_polls_get_mutations_and_survives_failed_polls() {
    let daemon = daemon().await;
    create(&daemon, &["a1", "a2"]);
    let client = client(&daemon.tcp_url(), fast_config());
    let mut stream = Box::pin(client.mutations(Some(0)));
    assert_eq!(take_events(&mut stream, 2).await.0, ["a1", "a2"]);

    daemon
        .faults()
        .drop_next(Scope::operation("get_mutations"), 4);
    daemon
        .faults()
        .malform_next(Scope::operation("get_mutations"), 1);
    create(&daemon, &["b1", "b2"]);
    daemon.store().delete("a2");
    let (ids, errors) = take_events(&mut stream, 3).await;
    assert_eq!(ids, ["b1", "b2", "a2"]);
    assert!(!errors.is_empty(), "failed polls are reported");

    create(&daemon, &["sentinel"]);
    assert_eq!(
        take_events(&mut stream, 1).await.0,
        ["sentinel"],
        "no repeats"
    );
}

#[tokio::test]
async fn polling_from_now_skips_the_backlog() {
    let daemon = daemon().await;
    create(&daemon, &["old1", "old2"]);
    let client = client(&daemon.tcp_url(), fast_config());
    let mut stream = Box::pin(client.mutations(None));
    // Let the first poll set the starting point (a second poll proves it finished).
    let next = stream.next();
    tokio::pin!(next);
    within("two polls", async {
        loop {
            tokio::select! {
                item = &mut next => panic!("nothing new yet, got {item:?}"),
                _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => {}
            }
            if daemon.requests().count("get_mutations") >= 2 {
                break;
            }
        }
    })
    .await;
    create(&daemon, &["new"]);
    let event = within("new event", next)
        .await
        .expect("item")
        .expect("event");
    assert_eq!(event.issue_id, "new");
    assert_eq!(event.kind, MutationKind::Create);
}

#[tokio::test]
async fn sse_from_now_skips_the_backlog_and_survives_an_early_cut() {
    let daemon = daemon().await;
    create(&daemon, &["old1", "old2"]);
    let client = client(&daemon.http_url(), fast_config());
    let mut stream = Box::pin(client.mutations(None));
    let next = stream.next();
    tokio::pin!(next);
    // Wait for the SSE connection (made after the baseline was taken).
    within("connected", async {
        while daemon.requests().count("events") == 0 {
            tokio::select! {
                item = &mut next => panic!("nothing new yet, got {item:?}"),
                _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => {}
            }
        }
    })
    .await;
    daemon.faults().cut_event_streams();
    create(&daemon, &["new1", "new2"]);
    let first = within("first event", next)
        .await
        .expect("item")
        .expect("event");
    assert_eq!(first.issue_id, "new1", "the backlog is skipped");
    assert_eq!(take_events(&mut stream, 1).await.0, ["new2"]);
}

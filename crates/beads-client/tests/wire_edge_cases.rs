//! Wire situations the test daemon does not stage, played by minimal hand-made
//! servers on loopback: a daemon without `/events` (404), and an oversize TCP line.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use beads_client::{BeadsError, ListQuery};
use common::{client, fast_config, within};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// An HTTP daemon with `GetMutations` but no `/events`.
#[derive(Default)]
struct PollOnlyDaemon {
    events: Mutex<Vec<serde_json::Value>>,
    sse_attempts: AtomicUsize,
    polls: AtomicUsize,
}

impl PollOnlyDaemon {
    fn push(&self, millis: u64, issue: &str) {
        let at = beads_client::jiff::Timestamp::from_millisecond(millis as i64).unwrap();
        self.events.lock().unwrap().push(serde_json::json!({
            "Type": "update", "IssueID": issue, "Timestamp": at.to_string(),
        }));
    }

    /// Events strictly newer than `since`, as the daemon answers `get_mutations`.
    fn since(&self, since: u64) -> Vec<serde_json::Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|event| {
                let at: beads_client::jiff::Timestamp =
                    event["Timestamp"].as_str().unwrap().parse().unwrap();
                at.as_millisecond() as u64 > since
            })
            .cloned()
            .collect()
    }

    async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let daemon = Arc::clone(&self);
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut request_line = String::new();
                    if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut content_length = 0;
                    loop {
                        let mut header = String::new();
                        stream.read_line(&mut header).await.unwrap();
                        if header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            content_length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; content_length];
                    stream.read_exact(&mut body).await.unwrap();
                    let path = request_line.split_whitespace().nth(1).unwrap_or("");
                    let (status, answer) = if path.starts_with("/events") {
                        daemon.sse_attempts.fetch_add(1, Ordering::SeqCst);
                        ("404 Not Found", "404 page not found".to_owned())
                    } else if path == "/bd.v1.BeadsService/GetMutations" {
                        daemon.polls.fetch_add(1, Ordering::SeqCst);
                        let args: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        let events = daemon.since(args["since"].as_u64().unwrap_or(0));
                        ("200 OK", serde_json::to_string(&events).unwrap())
                    } else {
                        (
                            "404 Not Found",
                            r#"{"error":"invalid endpoint"}"#.to_owned(),
                        )
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if stream
                        .get_mut()
                        .write_all(response.as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    }
}

#[tokio::test]
async fn without_sse_the_stream_polls_get_mutations() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let daemon = Arc::new(PollOnlyDaemon::default());
    daemon.push(1_000, "a");
    daemon.push(1_000, "b"); // same millisecond
    let server = tokio::spawn(Arc::clone(&daemon).serve(listener));

    let client = client(&url, fast_config());
    let mut stream = Box::pin(client.mutations(Some(0)));
    async fn next_id<S>(stream: &mut S) -> String
    where
        S: futures::Stream<Item = Result<beads_client::MutationEvent, BeadsError>> + Unpin,
    {
        within("event", stream.next())
            .await
            .expect("never ends")
            .expect("no error")
            .issue_id
    }
    assert_eq!(next_id(&mut stream).await, "a");
    assert_eq!(next_id(&mut stream).await, "b");
    daemon.push(1_000, "c"); // late arrival in an already-seen millisecond
    daemon.push(2_000, "d");
    assert_eq!(next_id(&mut stream).await, "c");
    assert_eq!(next_id(&mut stream).await, "d");
    daemon.push(3_000, "e");
    assert_eq!(next_id(&mut stream).await, "e", "nothing repeated");

    assert_eq!(
        daemon.sse_attempts.load(Ordering::SeqCst),
        1,
        "a 404 on /events is not retried"
    );
    assert!(daemon.polls.load(Ordering::SeqCst) >= 3);
    server.abort();
}

#[tokio::test]
async fn an_oversize_tcp_answer_is_a_protocol_violation() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut stream = BufReader::new(stream);
        let mut request = String::new();
        stream.read_line(&mut request).await.unwrap();
        // 10 MB and one byte of answer, without a newline.
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..10 {
            if stream.get_mut().write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = stream.get_mut().write_all(b"xx").await;
    });
    let config = beads_client::ClientConfig {
        read_retries: 0,
        ..fast_config()
    };
    let error = within("oversize", client(&url, config).list(&ListQuery::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, BeadsError::Protocol { detail, .. } if detail.contains("longer than")),
        "{error}"
    );
    server.abort();
}

//! The bd serve (HTTP API v0) personality over raw HTTP: one test per item of the checklist of
//! bd-serve-v0.md §6 and per serve fault.

use std::future::Future;
pub use std::time::Duration;

pub use beads_testd::{
    AgentStyle, Issue, MAX_WATCH_STREAMS, Personality, Scope, TestDaemon, TestDaemonConfig,
    TownShape, seed_town, serve_op,
};
use futures::StreamExt;
use reqwest::header::HeaderMap;
pub use serde_json::{Value, json};

const TOKEN: &str = "serve-token";
const LIMIT: Duration = Duration::from_secs(10);

async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("test step did not finish in time")
}

fn config() -> TestDaemonConfig {
    TestDaemonConfig {
        token: TOKEN.into(),
        version: "1.2.3".into(),
        personality: Personality::Serve,
        heartbeat_interval: Duration::from_millis(100),
        ..TestDaemonConfig::default()
    }
}

async fn serve_with(config: TestDaemonConfig) -> TestDaemon {
    TestDaemon::start(config).await.expect("bd serve starts")
}

async fn serve() -> TestDaemon {
    serve_with(config()).await
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(LIMIT).build().unwrap()
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = bounded(request.send()).await.expect("answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(daemon: &TestDaemon, path: &str) -> Answer {
    send(
        client()
            .get(format!("{}{path}", daemon.http_url()))
            .bearer_auth(TOKEN),
    )
    .await
}

async fn patch(daemon: &TestDaemon, id: &str, body: Value) -> Answer {
    send(
        client()
            .patch(format!("{}/v0/beads/issues/{id}", daemon.http_url()))
            .bearer_auth(TOKEN)
            .json(&body),
    )
    .await
}

async fn cas(daemon: &TestDaemon, id: &str, body: Value) -> Answer {
    send(
        client()
            .post(format!(
                "{}/v0/beads/issues/{id}:casMetadata",
                daemon.http_url()
            ))
            .bearer_auth(TOKEN)
            .json(&body),
    )
    .await
}

fn assert_problem(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.headers["content-type"], "application/problem+json",
        "{}",
        answer.body
    );
    assert_eq!(answer.body["status"], status);
    assert_eq!(answer.body["code"], code, "{}", answer.body);
    assert!(answer.body["title"].is_string());
}

fn ids(answer: &Answer) -> Vec<String> {
    answer.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {}", answer.body))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// An open `events:watch` stream, read block by block.
struct Watch {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Watch {
    async fn open(daemon: &TestDaemon, query: &str, last_event_id: Option<&str>) -> Watch {
        let mut request = client()
            .get(format!(
                "{}/v0/beads/events:watch{query}",
                daemon.http_url()
            ))
            .bearer_auth(TOKEN);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = bounded(request.send()).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-store");
        Watch {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next block's text, or None when the server closed the stream.
    async fn block(&mut self) -> Option<String> {
        bounded(async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    return Some(self.buffer.drain(..end + 2).collect());
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return None,
                }
            }
        })
        .await
    }

    /// The next record frame `(id, data)`, skipping heartbeats.
    async fn record(&mut self) -> (i64, Value) {
        loop {
            let block = self.block().await.expect("stream open");
            if block.starts_with(": heartbeat") {
                continue;
            }
            let mut lines = block.lines().filter(|l| !l.is_empty());
            let id = lines
                .next()
                .unwrap()
                .strip_prefix("id: ")
                .unwrap()
                .parse()
                .unwrap();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            assert_eq!(
                lines.next(),
                None,
                "one-line data, unnamed event: {block:?}"
            );
            return (id, serde_json::from_str(data).unwrap());
        }
    }
}

#[path = "serve/journal.rs"]
mod journal;
#[path = "serve/reads.rs"]
mod reads;
#[path = "serve/wire.rs"]
mod wire;
#[path = "serve/writes.rs"]
mod writes;

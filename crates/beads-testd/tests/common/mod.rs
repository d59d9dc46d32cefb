//! Raw clients for the integration tests: reqwest for HTTP, a line-oriented TcpStream for NDJSON.
#![allow(dead_code)] // each test binary uses a different part

use std::future::Future;
use std::time::Duration;

use beads_testd::{TestDaemon, TestDaemonConfig};
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub const TOKEN: &str = "s3cret-token";

/// Every wait in these tests is bounded by this.
pub const LIMIT: Duration = Duration::from_secs(10);

pub async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("test step did not finish in time")
}

pub async fn daemon() -> TestDaemon {
    TestDaemon::start(TestDaemonConfig {
        token: TOKEN.into(),
        version: "9.8.7".into(),
        keepalive_interval: Duration::from_millis(100),
        ..TestDaemonConfig::default()
    })
    .await
    .expect("test daemon starts")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(LIMIT).build().unwrap()
}

/// `POST /bd.v1.BeadsService/<method>` with the right token: (status, body text).
pub async fn rpc(daemon: &TestDaemon, method: &str, args: Value) -> (u16, String) {
    rpc_with(daemon, method, Some(TOKEN), args.to_string()).await
}

pub async fn rpc_with(
    daemon: &TestDaemon,
    method: &str,
    token: Option<&str>,
    body: String,
) -> (u16, String) {
    let mut request = http()
        .post(format!("{}/bd.v1.BeadsService/{method}", daemon.http_url()))
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = bounded(request.send()).await.expect("request answered");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// One NDJSON connection.
pub struct Tcp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Tcp {
    pub async fn connect(daemon: &TestDaemon) -> Tcp {
        let stream = bounded(TcpStream::connect(daemon.tcp_addr()))
            .await
            .unwrap();
        let (reader, writer) = stream.into_split();
        Tcp {
            reader: BufReader::new(reader),
            writer,
        }
    }

    /// Sends one line, returns the answer line (None when the daemon closed the connection).
    pub async fn raw(&mut self, line: &str) -> Option<String> {
        bounded(async {
            self.writer.write_all(line.as_bytes()).await.ok()?;
            self.writer.write_all(b"\n").await.ok()?;
            let mut answer = String::new();
            match self.reader.read_line(&mut answer).await {
                Ok(0) | Err(_) => None,
                Ok(_) => Some(answer.trim_end().to_owned()),
            }
        })
        .await
    }

    /// A request with the right token.
    pub async fn call(&mut self, operation: &str, args: Value) -> Value {
        self.call_as(TOKEN, operation, args).await
    }

    /// A request with `token` (e.g. a tenant's).
    pub async fn call_as(&mut self, token: &str, operation: &str, args: Value) -> Value {
        let request = serde_json::json!({
            "operation": operation, "args": args, "actor": "tcp-tester", "request_id": "r-1",
            "client_version": "9.8.7", "timeout_ms": 0, "token": token,
        });
        json(&self.raw(&request.to_string()).await.expect("answer line"))
    }
}

/// An open `GET /events` stream, read frame by frame.
pub struct Events {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

/// One SSE block: its comment, `id`, `event` and `data` lines, or raw text that is none of those.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Frame {
    pub comment: Option<String>,
    pub id: Option<i64>,
    pub event: Option<String>,
    pub data: Option<Value>,
    pub other: Vec<String>,
}

impl Events {
    pub async fn open(daemon: &TestDaemon, query: &str) -> Events {
        Events::open_as(daemon, TOKEN, query).await
    }

    /// A stream authenticated with `token` (e.g. a tenant's).
    pub async fn open_as(daemon: &TestDaemon, token: &str, query: &str) -> Events {
        let response = bounded(
            http()
                .get(format!("{}/events{query}", daemon.http_url()))
                .bearer_auth(token)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next block, or None when the daemon ended the stream.
    pub async fn next(&mut self) -> Option<Frame> {
        bounded(async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    return Some(parse_block(&block));
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return None,
                }
            }
        })
        .await
    }

    /// The next mutation frame, skipping keepalives.
    pub async fn next_mutation(&mut self) -> Frame {
        loop {
            let frame = self.next().await.expect("stream still open");
            if frame.comment.is_none() {
                return frame;
            }
        }
    }
}

fn parse_block(block: &str) -> Frame {
    let mut frame = Frame::default();
    for line in block.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix(": ") {
            frame.comment = Some(comment.to_owned());
        } else if let Some(id) = line.strip_prefix("id: ") {
            frame.id = id.parse().ok();
        } else if let Some(event) = line.strip_prefix("event: ") {
            frame.event = Some(event.to_owned());
        } else if let Some(data) = line.strip_prefix("data: ") {
            frame.data = serde_json::from_str(data).ok();
        } else {
            frame.other.push(line.to_owned());
        }
    }
    frame
}

//! bd serve's answers: `application/problem+json` problems with a stable `code` and a
//! `request_id`, and 200 JSON successes, every one with `Cache-Control: no-store`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Request ids: 8 hex digits per process (here: per test server), `-`, a 6-digit sequence.
// bd-serve-v0.md §2 (problem body: request_id)
pub(crate) struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    pub fn new(salt: u64) -> RequestIds {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mixed = (nanos ^ salt.rotate_left(17) ^ u64::from(std::process::id()))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        RequestIds {
            prefix: format!("{:08x}", (mixed >> 32) as u32),
            next: AtomicU64::new(1),
        }
    }

    pub fn mint(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % 1_000_000;
        format!("{}-{n:06}", self.prefix)
    }
}

/// One problem, built up and then turned into a response.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub status: StatusCode,
    pub body: Map<String, Value>,
    retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        let mut body = Map::new();
        body.insert("status".into(), json!(status.as_u16()));
        body.insert(
            "title".into(),
            json!(status.canonical_reason().unwrap_or("Error")),
        );
        body.insert("code".into(), json!(code));
        body.insert("detail".into(), json!(detail.into()));
        Problem {
            status,
            body,
            retry_after: None,
        }
    }

    /// 400 `invalid_argument` naming `param`, with `reason` (`unknown_parameter`, `invalid_value`, …).
    // bd-serve-v0.md §2 (problem table)
    pub fn invalid(param: &str, reason: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "invalid_argument", detail)
            .with("param", param)
            .with("reason", reason)
    }

    /// 400 `invalid_argument`, reason `unknown_parameter`.
    // bd-serve-v0.md §2: unknown query parameter on any route.
    pub fn unknown_parameter(param: &str) -> Problem {
        Problem::invalid(
            param,
            "unknown_parameter",
            format!("unknown query parameter {param:?}"),
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 503 with `Retry-After` (`busy`, `events_watch_saturated`, `db_unavailable`).
    pub fn unavailable(code: &str, retry_after_secs: u64, detail: &str) -> Problem {
        let mut problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE, code, detail);
        problem.retry_after = Some(retry_after_secs);
        problem
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Problem {
        self.body.insert(key.to_owned(), value.into());
        self
    }

    /// The body with its `request_id`, as sent (also the `data` of an `event: truncated`).
    pub fn into_body(mut self, request_id: &str) -> Value {
        self.body.insert("request_id".into(), json!(request_id));
        Value::Object(self.body)
    }

    pub fn into_response(self, request_id: &str) -> Response {
        let status = self.status;
        let retry_after = self.retry_after;
        let unauthenticated = status == StatusCode::UNAUTHORIZED;
        let body = self.into_body(request_id).to_string();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        no_store(headers);
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if unauthenticated {
            // bd-serve-v0.md §2: a 401 carries `WWW-Authenticate: Bearer`.
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `Cache-Control: no-store` on every answer.
// bd-serve-v0.md §1 ("Every response has `Cache-Control: no-store`")
pub(crate) fn no_store(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A success: always exactly 200, JSON.
// bd-serve-v0.md §2: success is 200 only, `application/json; charset=utf-8`.
pub(crate) fn ok(body: &Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    no_store(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_eight_hex_dash_six_digits() {
        let ids = RequestIds::new(7);
        let first = ids.mint();
        let (prefix, seq) = first.split_once('-').unwrap();
        assert_eq!(prefix.len(), 8);
        assert!(prefix.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(seq, "000001");
        assert!(ids.mint().ends_with("-000002"));
    }

    #[test]
    fn problems_carry_status_title_code() {
        let body = Problem::unknown_parameter("colour").into_body("0000abcd-000001");
        assert_eq!(body["status"], 400);
        assert_eq!(body["title"], "Bad Request");
        assert_eq!(body["code"], "invalid_argument");
        assert_eq!(body["reason"], "unknown_parameter");
        assert_eq!(body["param"], "colour");
        assert_eq!(body["request_id"], "0000abcd-000001");
    }
}

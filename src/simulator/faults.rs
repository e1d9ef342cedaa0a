//! Injected faults: "fail the next N matching requests" with a status, a delay, a broken
//! body or expired tokens. Faults wait in a queue and are consumed first-match in the
//! order added; `/_sim/` routes are never faulted.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::counters::Endpoint;
use super::errors::{for_status, html_page, json_response};
use super::render::{naive_secs, rfc3339_ns};
use super::tenants::Tenant;

/// A broken body to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultBody {
    /// 200 with invalid JSON.
    Malformed,
    /// The real response with its body cut in half.
    Truncated,
    /// The status (default 502) with an HTML proxy page.
    Html,
    /// A 200 page with no items and no cursor.
    Empty,
    /// The real answer's status and headers, half its body, then the connection is cut.
    Reset,
    /// `resource_statuses` only: the real page, with an `after` cursor that leads back
    /// to the newest item, a new one every time: paging that never ends.
    Endless,
}

/// One fault (`POST /_sim/faults`). Absent fields: any endpoint, any tenant, no skip,
/// fire once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Only this endpoint; None = any API route.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// Only requests whose token scope (or requested scope, for token requests) is this
    /// customer (UUID or numeric id).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Let this many matching requests through first.
    #[serde(default)]
    pub skip: u32,
    /// Fire this many times (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Answer with this status and the endpoint's error body.
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds to send with the fault's answer.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Wait this long first (then answer normally, or with the fault).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    #[serde(default)]
    pub body: Option<FaultBody>,
    /// Expire every outstanding token, then handle the request normally (a real 401).
    #[serde(default)]
    pub expire_tokens: bool,
}

fn one() -> u32 {
    1
}

impl Default for Fault {
    fn default() -> Self {
        Fault {
            endpoint: None,
            tenant: None,
            skip: 0,
            count: 1,
            status: None,
            retry_after: None,
            delay_ms: None,
            body: None,
            expire_tokens: false,
        }
    }
}

impl Fault {
    /// Rejects faults that cannot fire or do nothing.
    pub fn validate(&self) -> Result<(), String> {
        if self.count == 0 {
            return Err("count must be at least 1".into());
        }
        if let Some(s) = self.status
            && !(100..=599).contains(&s)
        {
            return Err(format!("status {s} is not an HTTP status"));
        }
        if self.body == Some(FaultBody::Endless)
            && self.endpoint != Some(Endpoint::ResourceStatuses)
        {
            return Err("body \"endless\" needs endpoint \"resource_statuses\"".into());
        }
        if self.status.is_none()
            && self.body.is_none()
            && self.delay_ms.is_none()
            && !self.expire_tokens
        {
            return Err(
                "a fault needs at least one of status, body, delay_ms, expire_tokens".into(),
            );
        }
        Ok(())
    }

    fn matches(&self, endpoint: Endpoint, tenant: Option<&Tenant>) -> bool {
        let endpoint_ok = self.endpoint.is_none_or(|e| e == endpoint);
        let tenant_ok = self.tenant.as_deref().is_none_or(|want| {
            tenant.is_some_and(|t| {
                t.uuid.eq_ignore_ascii_case(want.trim()) || t.numeric_id == want.trim()
            })
        });
        endpoint_ok && tenant_ok
    }
}

/// Faults waiting to fire, in the order added.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    list: Vec<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        self.list.push(fault);
    }

    pub(crate) fn clear(&mut self) {
        self.list.clear();
    }

    pub(crate) fn pending(&self) -> &[Fault] {
        &self.list
    }

    /// The fault this request triggers, if any. The first matching fault decides: while
    /// it still skips, the request passes untouched.
    pub(crate) fn take(&mut self, endpoint: Endpoint, tenant: Option<&Tenant>) -> Option<Fault> {
        let i = self.list.iter().position(|f| f.matches(endpoint, tenant))?;
        let f = &mut self.list[i];
        if f.skip > 0 {
            f.skip -= 1;
            return None;
        }
        let fired = f.clone();
        f.count = f.count.saturating_sub(1);
        if f.count == 0 {
            self.list.remove(i);
        }
        Some(fired)
    }
}

/// What the handler does after a fault fired (delay and token expiry already applied).
pub(crate) enum Outcome {
    /// Handle the request, then break its answer as told.
    Proceed(Alter),
    /// Answer with this instead.
    Respond(Response),
}

/// How a handled request's answer is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alter {
    Intact,
    /// The body cut in half.
    Truncate,
    /// Half the body, then the connection cut.
    Reset,
    /// A cursor that leads back to the start (`resource_statuses`).
    Endless,
}

impl Alter {
    /// Whether the client gets the page's items whole (for `items_served`).
    pub(crate) fn delivers_items(self) -> bool {
        matches!(self, Alter::Intact | Alter::Endless)
    }
}

/// Turns a fired fault into an outcome: waits `delay_ms`, then picks the answer.
/// `expire` expires all tokens; `now` is simulated time (for empty pages).
pub(crate) async fn enact(
    endpoint: Endpoint,
    fault: Option<Fault>,
    expire: impl FnOnce(),
    now: i64,
) -> Outcome {
    let Some(f) = fault else {
        return Outcome::Proceed(Alter::Intact);
    };
    if let Some(ms) = f.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if f.expire_tokens {
        expire();
    }
    let status = f.status.and_then(|s| StatusCode::from_u16(s).ok());
    let mut resp = match f.body {
        Some(FaultBody::Truncated) => return Outcome::Proceed(Alter::Truncate),
        Some(FaultBody::Reset) => return Outcome::Proceed(Alter::Reset),
        Some(FaultBody::Endless) => return Outcome::Proceed(Alter::Endless),
        Some(FaultBody::Malformed) => {
            let body =
                r#"{"items":[{"context":{"id":"0817bef5-05ae-4f1f-9b31-1c092f11c12b","name":"#;
            with_type(
                status.unwrap_or(StatusCode::OK),
                body.to_string(),
                "application/json",
            )
        }
        Some(FaultBody::Html) => html_page(status.unwrap_or(StatusCode::BAD_GATEWAY)),
        Some(FaultBody::Empty) => {
            json_response(status.unwrap_or(StatusCode::OK), &empty_body(endpoint, now))
        }
        None => match status {
            Some(s) => for_status(endpoint, s),
            None => return Outcome::Proceed(Alter::Intact),
        },
    };
    if let Some(secs) = f.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Outcome::Respond(resp)
}

/// A successful answer with nothing in it, in the endpoint's shape.
fn empty_body(endpoint: Endpoint, now: i64) -> serde_json::Value {
    match endpoint {
        Endpoint::ResourceStatuses => {
            json!({ "items": [], "paging": { "cursors": {} }, "timestamp": rfc3339_ns(now) })
        }
        Endpoint::Tenants => {
            json!({ "timestamp": naive_secs(now), "paging": { "cursors": {} }, "items": [] })
        }
        Endpoint::TenantChildren => json!({ "items": [] }),
        Endpoint::PlatformAlerts => json!({ "items": [], "paging": { "cursors": {} } }),
        Endpoint::Token | Endpoint::BcToken | Endpoint::Clients => json!({}),
    }
}

fn with_type(status: StatusCode, body: String, content_type: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// The same response with its body cut in half (what a dropped connection leaves).
pub(crate) async fn truncate(resp: Response) -> Response {
    let (parts, half) = halve(resp).await;
    Response::from_parts(parts, Body::from(half))
}

/// A response's status and headers, and the first half of its body.
async fn halve(resp: Response) -> (axum::http::response::Parts, bytes::Bytes) {
    let (parts, body) = resp.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    (parts, bytes.slice(..bytes.len() / 2))
}

/// The same response's status and headers and half its body, then an error that makes
/// the server drop the connection (what a reset mid-transfer leaves the client).
pub(crate) async fn reset(resp: Response) -> Response {
    let (mut parts, half) = halve(resp).await;
    parts.headers.remove(header::CONTENT_LENGTH);
    // The half goes out first (a moment before the error, or the server would drop the
    // connection before even the status line), then the stream fails, once.
    let chunks = futures_util::stream::unfold(Some(Some(half)), |state| async move {
        match state? {
            Some(half) => Some((Ok(half), Some(None))),
            None => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let cut = std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset (injected by the simulator)",
                );
                Some((Err::<bytes::Bytes, _>(cut), None))
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_then_count_first_match() {
        let mut q = FaultQueue::default();
        q.push(Fault {
            endpoint: Some(Endpoint::ResourceStatuses),
            skip: 1,
            count: 2,
            status: Some(503),
            ..Fault::default()
        });
        q.push(Fault {
            status: Some(500),
            ..Fault::default()
        });
        assert!(
            q.take(Endpoint::ResourceStatuses, None).is_none(),
            "skipped"
        );
        assert_eq!(
            q.take(Endpoint::Token, None).and_then(|f| f.status),
            Some(500)
        );
        assert_eq!(
            q.take(Endpoint::ResourceStatuses, None)
                .and_then(|f| f.status),
            Some(503)
        );
        assert_eq!(
            q.take(Endpoint::ResourceStatuses, None)
                .and_then(|f| f.status),
            Some(503)
        );
        assert!(q.take(Endpoint::ResourceStatuses, None).is_none());
        assert!(q.pending().is_empty());
    }

    #[test]
    fn validation_and_defaults() {
        let f: Fault = serde_json::from_str(r#"{"status":429,"retry_after":3}"#).expect("parses");
        assert_eq!((f.count, f.skip, f.endpoint), (1, 0, None));
        assert!(f.validate().is_ok());
        assert!(Fault::default().validate().is_err());
        assert!(
            Fault {
                status: Some(1000),
                ..Fault::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Fault {
                count: 0,
                expire_tokens: true,
                ..Fault::default()
            }
            .validate()
            .is_err()
        );
        assert!(serde_json::from_str::<Fault>(r#"{"endpoint":"nope","status":500}"#).is_err());
        assert!(serde_json::from_str::<Fault>(r#"{"stauts":500}"#).is_err());
    }
}

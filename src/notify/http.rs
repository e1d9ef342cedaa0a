//! One HTTP POST for the HTTP channels (Slack, Teams, PagerDuty, webhook) and the one
//! place its outcome is classified: delivered, retryable (with `Retry-After`) or
//! permanent.
//!
//! 408, 429, 5xx, timeouts and connection failures are retryable; any other status
//! outside the channel's success set is permanent. Reasons name the channel, its type,
//! the HTTP status and a short excerpt of the answer, never the URL (for Slack, Teams
//! and webhooks the URL is the secret): transport errors are described with
//! `reqwest::Error::without_url`. This module sends once: no retrying, sleeping or rate
//! limiting (the outbox worker does those, for every channel alike).

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use super::{Delivered, Rendered, SendError};

/// Most bytes of an answer read: enough for any error message a service sends.
const MAX_BODY: usize = 16 * 1024;
/// Most characters of an answer quoted in a reason or a delivery detail.
const EXCERPT_CHARS: usize = 200;

/// Which channel is speaking, for reasons: `channel NAME (TYPE)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Who<'a> {
    pub name: &'a str,
    pub kind: &'static str,
}

impl std::fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "channel {} ({})", self.name, self.kind)
    }
}

/// Which statuses mean the service took the message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Accept {
    /// Exactly these (Slack 200; Teams 200 or 202; PagerDuty 202).
    Codes(&'static [u16]),
    /// Any 2xx (webhooks).
    Any2xx,
}

impl Accept {
    fn accepts(self, status: StatusCode) -> bool {
        match self {
            Accept::Codes(codes) => codes.contains(&status.as_u16()),
            Accept::Any2xx => status.is_success(),
        }
    }

    fn expected(self) -> String {
        match self {
            Accept::Codes(codes) => {
                let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
                codes.join(" or ")
            }
            Accept::Any2xx => "2xx".to_string(),
        }
    }
}

/// The JSON body of a rendered message; an email rendering sent to an HTTP channel is
/// a permanent error (a template mix-up: sending again will not help).
pub(crate) fn json_of<'m>(
    who: Who<'_>,
    message: &'m Rendered,
) -> Result<&'m serde_json::Value, SendError> {
    match message {
        Rendered::Json(value) => Ok(value),
        Rendered::Email { .. } => Err(SendError::Permanent {
            reason: format!("{who}: got an email message; this channel sends JSON"),
        }),
    }
}

/// What a service answered: status, headers and the first [`MAX_BODY`] bytes.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as text for a person: whitespace collapsed, at most [`EXCERPT_CHARS`].
    pub fn excerpt(&self) -> String {
        excerpt(&self.body)
    }
}

/// POST `body` as JSON with `headers` to `url`, once, and read the answer; a transport
/// failure is a retryable [`SendError`]. Timeouts are the client's own.
pub(crate) async fn post_json(
    who: Who<'_>,
    http: &reqwest::Client,
    url: &reqwest::Url,
    headers: &HeaderMap,
    body: &serde_json::Value,
) -> Result<Answer, SendError> {
    let body = serde_json::to_vec(body).map_err(|e| SendError::Permanent {
        reason: format!("{who}: the message does not serialize as JSON: {e}"),
    })?;
    let mut request_headers = HeaderMap::new();
    request_headers.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Configured headers come last, so a channel may set its own Content-Type.
    for (name, value) in headers {
        request_headers.insert(name.clone(), value.clone());
    }
    let response = http
        .post(url.clone())
        .headers(request_headers)
        .body(body)
        .send()
        .await
        .map_err(|e| transport_error(who, e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_capped(response).await;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Up to [`MAX_BODY`] bytes of the body. A body that fails mid-read is cut where it
/// failed: the status has already said what happened.
async fn read_capped(mut response: reqwest::Response) -> Bytes {
    let mut buf = Vec::new();
    while buf.len() < MAX_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_BODY - buf.len();
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    Bytes::from(buf)
}

/// Classify `answer`: a status in `success` is delivered; 408, 429 and 5xx retryable
/// (with `Retry-After`); anything else permanent. A 2xx outside `success` is
/// permanent too: the service may have taken the message, so sending it again could
/// post it twice.
pub(crate) fn classify(
    who: Who<'_>,
    answer: &Answer,
    success: Accept,
) -> Result<Delivered, SendError> {
    classify_at(who, answer, success, Utc::now())
}

/// [`classify`] with the clock given (for an HTTP-date `Retry-After`).
pub(crate) fn classify_at(
    who: Who<'_>,
    answer: &Answer,
    success: Accept,
    now: DateTime<Utc>,
) -> Result<Delivered, SendError> {
    let status = answer.status;
    let excerpt = answer.excerpt();
    if success.accepts(status) {
        let detail = if excerpt.is_empty() {
            status_text(status)
        } else {
            format!("{} {excerpt}", status.as_u16())
        };
        return Ok(Delivered { detail });
    }
    let reason = status_reason(who, status, &excerpt);
    if retryable_status(status) {
        Err(SendError::Retryable {
            retry_after: retry_after(&answer.headers, now),
            reason,
        })
    } else if status.is_success() {
        Err(SendError::Permanent {
            reason: format!(
                "{reason} (expected {}; not sent again, as the service may have taken it)",
                success.expected()
            ),
        })
    } else {
        Err(SendError::Permanent { reason })
    }
}

/// `channel NAME (TYPE): HTTP 429 Too Many Requests: "excerpt"`.
pub(crate) fn status_reason(who: Who<'_>, status: StatusCode, excerpt: &str) -> String {
    if excerpt.is_empty() {
        format!("{who}: HTTP {}", status_text(status))
    } else {
        format!("{who}: HTTP {}: {excerpt:?}", status_text(status))
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(text) => format!("{} {text}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// 408, 429 and 5xx: the service may take the same message later.
pub(crate) fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// A request that got no answer (timeout, refused or reset connection, TLS failure):
/// retryable. Described without the URL.
pub(crate) fn transport_error(who: Who<'_>, error: reqwest::Error) -> SendError {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let error = error.without_url();
    let mut chain = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        let text = e.to_string();
        if !chain.iter().any(|c: &String| c.contains(&text)) {
            chain.push(text);
        }
        source = e.source();
    }
    SendError::Retryable {
        retry_after: None,
        reason: format!("{who}: {what}: {}", chain.join(": ")),
    }
}

/// `Retry-After` as delta-seconds or an HTTP date (against the answer's `Date`, else
/// `now`); a date in the past is zero.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = http_date(value)?;
    let server_now = headers
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(http_date)
        .unwrap_or(now);
    Some((when - server_now).to_std().unwrap_or(Duration::ZERO))
}

/// An HTTP date (IMF-fixdate; RFC 2822 parsing reads it).
fn http_date(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Text for a person: lossy UTF-8, control characters and runs of whitespace as one
/// space, at most [`EXCERPT_CHARS`] characters (then "...").
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut chars = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if chars >= EXCERPT_CHARS {
            out.push_str("...");
            return out;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: Who<'static> = Who {
        name: "noc",
        kind: "webhook",
    };

    const ONLY_200: Accept = Accept::Codes(&[200]);

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: Bytes::from(body.to_string()),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn success_codes_are_per_channel() {
        let ok = classify_at(WHO, &answer(200, &[], "ok"), ONLY_200, now()).unwrap();
        assert_eq!(ok.detail, "200 ok");
        let ok = classify_at(
            WHO,
            &answer(202, &[], ""),
            Accept::Codes(&[200, 202]),
            now(),
        )
        .unwrap();
        assert_eq!(ok.detail, "202 Accepted");
        let err =
            classify_at(WHO, &answer(200, &[], ""), Accept::Codes(&[202]), now()).unwrap_err();
        match err {
            SendError::Permanent { reason } => {
                assert!(reason.contains("HTTP 200 OK"), "{reason}");
                assert!(reason.contains("expected 202"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn webhooks_take_any_2xx() {
        for code in [200, 201, 202, 204] {
            assert!(classify_at(WHO, &answer(code, &[], ""), Accept::Any2xx, now()).is_ok());
        }
        assert!(classify_at(WHO, &answer(302, &[], ""), Accept::Any2xx, now()).is_err());
    }

    #[test]
    fn retryable_and_permanent_statuses() {
        for code in [408, 429, 500, 502, 503, 504] {
            let err = classify_at(WHO, &answer(code, &[], ""), ONLY_200, now()).unwrap_err();
            assert!(
                matches!(
                    err,
                    SendError::Retryable {
                        retry_after: None,
                        ..
                    }
                ),
                "{code}: {err:?}"
            );
        }
        for code in [301, 400, 401, 403, 404, 410, 413, 422] {
            let err = classify_at(WHO, &answer(code, &[], "nope"), ONLY_200, now()).unwrap_err();
            assert!(
                matches!(err, SendError::Permanent { .. }),
                "{code}: {err:?}"
            );
        }
    }

    #[test]
    fn reasons_name_channel_status_and_body() {
        let err = classify_at(
            WHO,
            &answer(400, &[], "invalid_payload\n\n  missing text"),
            ONLY_200,
            now(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            SendError::Permanent {
                reason:
                    "channel noc (webhook): HTTP 400 Bad Request: \"invalid_payload missing text\""
                        .into()
            }
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let a = answer(429, &[("retry-after", "7")], "");
        assert_eq!(retry_after(&a.headers, now()), Some(Duration::from_secs(7)));
        let a = answer(503, &[("retry-after", "Mon, 23 Nov 2026 10:00:30 GMT")], "");
        assert_eq!(
            retry_after(&a.headers, now()),
            Some(Duration::from_secs(30))
        );
        // Against the server's clock when it sends one.
        let a = answer(
            503,
            &[
                ("retry-after", "Mon, 23 Nov 2026 10:00:30 GMT"),
                ("date", "Mon, 23 Nov 2026 10:00:20 GMT"),
            ],
            "",
        );
        assert_eq!(
            retry_after(&a.headers, now()),
            Some(Duration::from_secs(10))
        );
        let a = answer(503, &[("retry-after", "Mon, 23 Nov 2026 09:00:00 GMT")], "");
        assert_eq!(retry_after(&a.headers, now()), Some(Duration::ZERO));
        let a = answer(503, &[("retry-after", "soon")], "");
        assert_eq!(retry_after(&a.headers, now()), None);
        let err = classify_at(
            WHO,
            &answer(429, &[("retry-after", "12")], "slow down"),
            ONLY_200,
            now(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            SendError::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(12)
        ));
    }

    #[test]
    fn excerpts_are_short_single_line_text() {
        assert_eq!(excerpt(b"  a\r\n\tb  "), "a b");
        assert_eq!(excerpt(b""), "");
        let long = "é".repeat(500);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 3);
        assert!(e.ends_with("..."));
        assert_eq!(excerpt(&[0xff, b'x']), "\u{fffd}x");
    }
}

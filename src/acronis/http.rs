//! One HTTP exchange with the API, retried where retrying is right.
//!
//! 408, 429, 5xx and transport failures (including a body cut off mid-read) are
//! retried with exponential backoff and jitter, honouring `Retry-After` up to a bound.
//! Everything else comes back to the caller, which decides what a 401 or a 4xx means.
//! No authentication logic lives here.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::{RequestBuilder, StatusCode, header::HeaderMap};

use super::error::{ApiError, ApiErrorKind, error_message};

/// How requests are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff step; doubled each retry.
    pub backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one fails the request.
    pub max_retry_after: Duration,
}

/// A response the retry loop did not swallow: a success, or a status for the caller.
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// How many attempts it took.
    pub attempts: u32,
}

impl Response {
    /// The server's clock (`Date` header), if it sent a readable one.
    pub fn server_date(&self) -> Option<DateTime<Utc>> {
        header_date(&self.headers, reqwest::header::DATE)
    }

    /// The body as the JSON type `T`, or a decode error naming tenant and endpoint
    /// (and whether the body was cut short).
    pub fn json<T: for<'de> serde::Deserialize<'de>>(
        &self,
        tenant: Option<&str>,
        endpoint: &str,
    ) -> Result<T, ApiError> {
        // Checked as UTF-8 once, whole: parsing a `str` skips checking each string
        // again (5% of a full pass's CPU at 100k). A body that is not UTF-8 goes
        // to the byte parser, whose error says where.
        let parsed = match std::str::from_utf8(&self.body) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(&self.body),
        };
        parsed.map_err(|e| {
            let what = if e.is_eof() {
                "the body ends early (truncated)"
            } else {
                "the body is not the documented JSON"
            };
            ApiError::new(
                tenant,
                endpoint,
                ApiErrorKind::Decode {
                    message: format!("{what}: {e}"),
                },
            )
        })
    }

    /// The API's error message from the body.
    pub fn error_message(&self) -> String {
        error_message(&self.body)
    }

    /// A non-retryable status as an error.
    pub fn into_error(self, tenant: Option<&str>, endpoint: &str) -> ApiError {
        let message = self.error_message();
        ApiError::new(
            tenant,
            endpoint,
            ApiErrorKind::Status {
                status: self.status.as_u16(),
                message,
                attempts: self.attempts,
            },
        )
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// A header holding an HTTP date (RFC 7231, which RFC 2822 parsing accepts).
fn header_date(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<DateTime<Utc>> {
    let v = headers.get(name)?.to_str().ok()?;
    DateTime::parse_from_rfc2822(v.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = header_date(headers, reqwest::header::RETRY_AFTER)?;
    let server_now = header_date(headers, reqwest::header::DATE).unwrap_or_else(Utc::now);
    Some((when - server_now).to_std().unwrap_or(Duration::ZERO))
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): backoff * 2^(retry-1), plus up to 50% jitter.
    fn backoff(&self, retry: u32) -> Duration {
        let base = self.backoff.saturating_mul(1u32 << (retry - 1).min(16));
        let jitter = rand::rng().random_range(0.0..0.5);
        base.mul_f64(1.0 + jitter)
    }

    /// Send the request built by `build` until it succeeds, fails for good, or retries run out.
    /// `build` is called once per attempt.
    pub async fn send(
        &self,
        tenant: Option<&str>,
        endpoint: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt > self.max_retries;
            let outcome = match build().send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(body) => Ok(Response {
                            status,
                            headers,
                            body,
                            attempts: attempt,
                        }),
                        Err(e) => Err(describe(&e, "reading the response body")),
                    }
                }
                Err(e) => Err(describe(&e, "sending the request")),
            };
            let wait = match outcome {
                Ok(resp) if !retryable(resp.status) => return Ok(resp),
                Ok(resp) => {
                    let asked = retry_after(&resp.headers);
                    if let Some(wait) = asked
                        && wait > self.max_retry_after
                    {
                        return Err(ApiError::new(
                            tenant,
                            endpoint,
                            ApiErrorKind::RetryAfterTooLong {
                                status: resp.status.as_u16(),
                                wait,
                                limit: self.max_retry_after,
                            },
                        ));
                    }
                    if last {
                        return Err(resp.into_error(tenant, endpoint));
                    }
                    tracing::warn!(
                        tenant,
                        endpoint,
                        status = resp.status.as_u16(),
                        attempt,
                        "retrying after {}",
                        resp.error_message()
                    );
                    // Exactly what the server asked for (never earlier), else our own backoff.
                    asked.unwrap_or_else(|| self.backoff(attempt))
                }
                Err(message) => {
                    if last {
                        return Err(ApiError::new(
                            tenant,
                            endpoint,
                            ApiErrorKind::Transport {
                                message,
                                attempts: attempt,
                            },
                        ));
                    }
                    tracing::warn!(tenant, endpoint, attempt, "retrying after {message}");
                    self.backoff(attempt)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// A transport error in words, without the URL (which could carry query data).
fn describe(e: &reqwest::Error, doing: &str) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection broke"
    } else {
        "transport error"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        format!("{kind} while {doing}")
    } else {
        format!("{kind} while {doing}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"),
        );
        h.insert(
            "date",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(30)));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let p = RetryPolicy {
            max_retries: 3,
            backoff: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(60),
        };
        for (retry, base) in [(1, 1.0), (2, 2.0), (3, 4.0)] {
            let w = p.backoff(retry).as_secs_f64();
            assert!(w >= base && w <= base * 1.5, "retry {retry}: {w}");
        }
    }
}

//! Errors from the Acronis API, each naming the tenant, the endpoint, the HTTP status
//! and the API's own message, whichever of its error shapes it used.
//!
//! Never carries a token or the client secret: messages are built from the endpoint
//! path (no query string), the status and the server's error text.

use std::fmt;
use std::time::Duration;

/// What went wrong talking to the API.
#[derive(Debug, thiserror::Error)]
pub struct ApiError {
    /// The tenant being worked on, when there is one.
    pub tenant: Option<String>,
    /// Method and path, e.g. `GET /api/resource_management/v4/resource_statuses`.
    pub endpoint: String,
    pub kind: ApiErrorKind,
}

#[derive(Debug)]
pub enum ApiErrorKind {
    /// A non-success status the worker does not retry (or retried until it gave up).
    Status {
        status: u16,
        message: String,
        attempts: u32,
    },
    /// The server asked to wait longer than `max_retry_after`.
    RetryAfterTooLong {
        status: u16,
        wait: Duration,
        limit: Duration,
    },
    /// Connection, TLS, timeout or body-read failure after all retries.
    Transport { message: String, attempts: u32 },
    /// A 2xx whose body is not what the API documents.
    Decode { message: String },
}

impl ApiError {
    pub fn new(tenant: Option<&str>, endpoint: &str, kind: ApiErrorKind) -> ApiError {
        ApiError {
            tenant: tenant.map(str::to_string),
            endpoint: endpoint.to_string(),
            kind,
        }
    }

    /// The HTTP status, when the failure was one.
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            ApiErrorKind::Status { status, .. }
            | ApiErrorKind::RetryAfterTooLong { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = &self.tenant {
            write!(f, "tenant {t}: ")?;
        }
        write!(f, "{}: ", self.endpoint)?;
        let tries = |n: u32| {
            if n > 1 {
                format!(" (after {n} attempts)")
            } else {
                String::new()
            }
        };
        match &self.kind {
            ApiErrorKind::Status {
                status,
                message,
                attempts,
            } => {
                write!(f, "HTTP {status}: {message}{}", tries(*attempts))
            }
            ApiErrorKind::RetryAfterTooLong {
                status,
                wait,
                limit,
            } => write!(
                f,
                "HTTP {status}: the API asked to retry after {}s, longer than max_retry_after ({}s); giving up for this poll",
                wait.as_secs(),
                limit.as_secs()
            ),
            ApiErrorKind::Transport { message, attempts } => {
                write!(f, "{message}{}", tries(*attempts))
            }
            ApiErrorKind::Decode { message } => write!(f, "invalid response body: {message}"),
        }
    }
}

/// The error text from a response body, whichever shape the API used:
/// Resource Management `{"domain","code","message"}`, Account Management
/// `{"error":{"code","domain","message"}}`, OAuth `{"error","error_description"}`,
/// or something that is not JSON at all (e.g. a proxy's HTML page).
pub fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        // Account Management nests the error object.
        let obj = match v.get("error") {
            Some(inner @ serde_json::Value::Object(_)) => inner,
            _ => &v,
        };
        if let Some(err) = obj.get("error").and_then(text) {
            // OAuth shape.
            return match obj.get("error_description").and_then(text) {
                Some(d) if !d.is_empty() => format!("{err}: {d}"),
                _ => err,
            };
        }
        let code = obj.get("code").and_then(text);
        let message = obj.get("message").and_then(text);
        match (code, message) {
            (Some(c), Some(m)) => return format!("{c}: {m}"),
            (Some(c), None) => return c,
            (None, Some(m)) => return m,
            (None, None) => {}
        }
        return format!("unrecognised error body: {}", clip(&v.to_string(), 200));
    }
    let text = String::from_utf8_lossy(body);
    let squeezed = strip_tags(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if squeezed.is_empty() {
        "empty response body".to_string()
    } else {
        format!("non-JSON response body: {}", clip(&squeezed, 200))
    }
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_shape_yields_its_message() {
        assert_eq!(
            error_message(br#"{"domain":"Access","code":"AuthenticationTimeout","message":"token expired","context":{}}"#),
            "AuthenticationTimeout: token expired"
        );
        assert_eq!(
            error_message(br#"{"error":{"code":404,"domain":null,"message":"Client not found","details":{"info":null}}}"#),
            "404: Client not found"
        );
        assert_eq!(
            error_message(br#"{"error":"invalid_client","error_description":"bad credentials"}"#),
            "invalid_client: bad credentials"
        );
        assert_eq!(
            error_message(b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"),
            "non-JSON response body: 502 Bad Gateway nginx"
        );
        assert_eq!(error_message(b""), "empty response body");
        assert!(error_message(br#"{"weird":1}"#).starts_with("unrecognised error body"));
    }

    #[test]
    fn display_names_tenant_endpoint_and_status() {
        let e = ApiError::new(
            Some("3b6f"),
            "GET /api/resource_management/v4/resource_statuses",
            ApiErrorKind::Status {
                status: 403,
                message: "AccessDeniedError: no".into(),
                attempts: 1,
            },
        );
        assert_eq!(
            e.to_string(),
            "tenant 3b6f: GET /api/resource_management/v4/resource_statuses: HTTP 403: AccessDeniedError: no"
        );
    }
}

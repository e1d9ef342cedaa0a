//! The error bodies of the real services, so clients meet the shapes they will meet in
//! production: the IdP's OAuth shape, Account Management's `{"error":{...}}`, Resource
//! Management's flat `{domain, code, message, context}`, and plain JSON for `/_sim/`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Endpoint;

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// IdP: `{"error":"invalid_client","error_description":"..."}`.
pub(crate) fn oauth(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// Account Management: `{"error":{"code","domain","message","details":{"info":null},"context":{}}}`.
pub(crate) fn account(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({ "error": {
            "code": code,
            "domain": "PlatformAccountServer",
            "message": message,
            "details": { "info": null },
            "context": {},
        }}),
    )
}

/// Resource Management: `{"domain","code","message","context"}`.
pub(crate) fn rm(
    status: StatusCode,
    domain: &str,
    code: &str,
    message: &str,
    context: Value,
) -> Response {
    json_response(
        status,
        &json!({ "domain": domain, "code": code, "message": message, "context": context }),
    )
}

/// RM 400 `BadRequestError` in domain `General`.
pub(crate) fn rm_bad_request(message: &str) -> Response {
    rm(
        StatusCode::BAD_REQUEST,
        "General",
        "BadRequestError",
        message,
        json!({}),
    )
}

/// `/_sim/` errors: `{"error":"..."}`.
pub(crate) fn control(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

/// The endpoint's own error body for an arbitrary status (used by injected faults).
pub(crate) fn for_status(endpoint: Endpoint, status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Injected failure");
    let message = format!("{reason} (injected by the simulator)");
    match endpoint {
        Endpoint::Token | Endpoint::BcToken => {
            let error = match status.as_u16() {
                400 => "invalid_request",
                401 => "invalid_client",
                403 => "access_denied",
                429 => "too_many_requests",
                503 => "temporarily_unavailable",
                _ => "server_error",
            };
            oauth(status, error, &message)
        }
        Endpoint::Clients | Endpoint::Tenants | Endpoint::TenantChildren => {
            let code = reason.replace(' ', "");
            account(status, &code, &message)
        }
        Endpoint::ResourceStatuses | Endpoint::PlatformAlerts => {
            let (domain, code) = match status.as_u16() {
                401 => ("Access", "UnauthorizedRequest".to_string()),
                403 => ("Access", "AccessDeniedError".to_string()),
                400 => ("General", "BadRequestError".to_string()),
                404 => ("General", "NotFoundError".to_string()),
                409 => ("General", "DataConflictError".to_string()),
                500 => ("General", "InternalServerError".to_string()),
                _ => ("General", format!("{}Error", reason.replace(' ', ""))),
            };
            rm(status, domain, &code, &message, json!({}))
        }
    }
}

/// The proxy page a load balancer shows when the service behind it is down.
pub(crate) fn html_page(status: StatusCode) -> Response {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
        body,
    )
        .into_response()
}

//! The identity provider: `POST /api/2/idp/token` and `POST /bc/idp/token`.
//!
//! `client_credentials` (Basic auth, or `client_id`/`client_secret` in the form) gives a
//! base token over the partner subtree; the jwt-bearer grant exchanges a base token for
//! one scoped to a customer. Errors use the OAuth shape.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::auth::{TokenCheck, basic, bearer};
use super::clock::NS_PER_SEC;
use super::counters::Endpoint;
use super::errors::{json_response, oauth};
use super::query::Params;
use super::tenants::{Kind, PARTNER, SCOPE_URN, Scope};
use super::world::World;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The tenant id named by a form's `scope`, if any (fault matching needs it early).
pub(crate) fn requested_scope(body: &[u8]) -> Option<String> {
    let params = Params::parse(std::str::from_utf8(body).ok()?).ok()?;
    let scope = params.single("scope").ok()??;
    scope.trim().strip_prefix(SCOPE_URN).map(str::to_string)
}

pub(crate) fn token(
    w: &mut World,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let now = w.sync();
    let params = match std::str::from_utf8(body)
        .map_err(|_| "the form body is not UTF-8".to_string())
        .and_then(Params::parse)
    {
        Ok(p) => p,
        Err(e) => return oauth(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    let grant = match params.single("grant_type") {
        Ok(Some(g)) => g.trim(),
        Ok(None) => {
            return oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            );
        }
        Err(e) => return oauth(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    let scope = match grant {
        "client_credentials" => match client_credentials(w, headers, &params) {
            Ok(()) => Scope::Partner,
            Err(resp) => return resp,
        },
        JWT_BEARER if endpoint == Endpoint::Token && !w.config.api2_jwt_bearer => {
            return oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "the jwt-bearer grant is not enabled on this endpoint; use /bc/idp/token",
            );
        }
        JWT_BEARER => match jwt_bearer(w, headers, &params, now) {
            Ok(scope) => scope,
            Err(resp) => return resp,
        },
        other => {
            let msg = format!("grant_type {other:?} is not supported");
            return oauth(StatusCode::BAD_REQUEST, "unsupported_grant_type", &msg);
        }
    };
    let lifetime = w.token_lifetime_ns();
    let issued = w.tokens.issue(scope, now, lifetime);
    let mut resp = json_response(
        StatusCode::OK,
        &json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_on": issued.expires_ns.div_euclid(NS_PER_SEC),
            "id_token": issued.id_token,
        }),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn client_credentials(w: &World, headers: &HeaderMap, params: &Params) -> Result<(), Response> {
    let unauthorized = |msg: &str| oauth(StatusCode::UNAUTHORIZED, "invalid_client", msg);
    let form = || -> Result<Option<(String, String)>, String> {
        match (params.single("client_id")?, params.single("client_secret")?) {
            (Some(id), Some(secret)) => Ok(Some((id.to_string(), secret.to_string()))),
            _ => Ok(None),
        }
    };
    let creds = match basic(headers) {
        Some(c) => Some(c),
        None => form().map_err(|e| oauth(StatusCode::BAD_REQUEST, "invalid_request", &e))?,
    };
    let Some((id, secret)) = creds else {
        return Err(unauthorized(
            "client authentication is required (Basic auth or client_id/client_secret)",
        ));
    };
    if id != w.client_id || secret != w.client_secret {
        return Err(unauthorized("client authentication failed"));
    }
    Ok(())
}

fn jwt_bearer(
    w: &World,
    headers: &HeaderMap,
    params: &Params,
    now: i64,
) -> Result<Scope, Response> {
    let bad = |msg: &str| oauth(StatusCode::BAD_REQUEST, "invalid_request", msg);
    let denied = |msg: &str| oauth(StatusCode::FORBIDDEN, "access_denied", msg);
    let assertion = match params.single("assertion") {
        Ok(Some(a)) if !a.trim().is_empty() => a.trim(),
        Ok(_) => return Err(bad("assertion is required for the jwt-bearer grant")),
        Err(e) => return Err(bad(&e)),
    };
    for token in bearer(headers).into_iter().chain([assertion]) {
        match w.tokens.check(token, now) {
            TokenCheck::Valid(Scope::Partner) => {}
            TokenCheck::Valid(Scope::Customer(_)) => {
                return Err(denied(
                    "the assertion must be the API client's own token, not a scoped one",
                ));
            }
            TokenCheck::Expired(_) => {
                return Err(oauth(
                    StatusCode::UNAUTHORIZED,
                    "invalid_grant",
                    "the token has expired",
                ));
            }
            TokenCheck::Unknown => {
                return Err(oauth(
                    StatusCode::UNAUTHORIZED,
                    "invalid_grant",
                    "the token is not valid",
                ));
            }
        }
    }
    let scope = match params.single("scope") {
        Ok(Some(s)) => s.trim(),
        Ok(None) => return Err(bad("scope is required for the jwt-bearer grant")),
        Err(e) => return Err(bad(&e)),
    };
    let Some(tenant_id) = scope.strip_prefix(SCOPE_URN) else {
        return Err(bad(&format!(
            "scope must look like {SCOPE_URN}<tenant uuid>"
        )));
    };
    match w.tenants.find(tenant_id) {
        Some(t) if w.tenants.get(t).kind == Kind::Customer && w.tenants.in_subtree(t, PARTNER) => {
            Ok(Scope::Customer(t))
        }
        _ => Err(denied(&format!(
            "scope {scope:?} is not a customer tenant this client may access"
        ))),
    }
}

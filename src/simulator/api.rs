//! The HTTP surface: the Acronis routes and `/_sim/`, a `Date` header in simulated time on
//! every response, and the gate every API request passes (count it, maybe fire a fault).
//!
//! Handlers never hold the world's lock across an await: they lock, work, unlock, and
//! only then sleep (fault delays) or rewrite bodies (truncation).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::counters::Endpoint;
use super::errors::rm;
use super::faults::{self, Alter, Fault, Outcome};
use super::render::http_date;
use super::{Simulator, account, alerts, control, idp, statuses};

pub(crate) fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/api/2/idp/token", post(api2_token))
        .route("/bc/idp/token", post(bc_token))
        .route("/api/2/clients/{id}", get(client))
        .route("/api/2/tenants", get(tenants))
        .route("/api/2/tenants/{id}/children", get(children))
        .route(
            "/api/resource_management/v4/resource_statuses",
            get(resource_statuses),
        )
        .route("/api/alert_manager/v1/alerts", get(platform_alerts))
        .merge(control::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(sim.clone(), date_header))
        .with_state(sim)
}

/// Every response is dated in simulated time, so `expires_on - Date` is a token's lifetime.
async fn date_header(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let now = sim.world().clock.now_ns();
    if let Ok(v) = HeaderValue::from_str(&http_date(now)) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

async fn not_found() -> Response {
    rm(
        StatusCode::NOT_FOUND,
        "General",
        "NotFoundError",
        "no such endpoint",
        json!({}),
    )
}

/// Runs `handle` unless the fault answers instead; applies delay, expiry and truncation.
/// `handle` is told how its answer will be broken (a cut body's items are not counted).
async fn gate(
    sim: &Simulator,
    endpoint: Endpoint,
    fault: Option<Fault>,
    handle: impl FnOnce(Alter) -> Response,
) -> Response {
    let now = sim.world().clock.now_ns();
    let expire = || {
        sim.expire_tokens_counted();
    };
    match faults::enact(endpoint, fault, expire, now).await {
        Outcome::Respond(resp) => resp,
        Outcome::Proceed(alter @ (Alter::Intact | Alter::Endless)) => handle(alter),
        Outcome::Proceed(Alter::Truncate) => faults::truncate(handle(Alter::Truncate)).await,
        Outcome::Proceed(Alter::Reset) => faults::reset(handle(Alter::Reset)).await,
    }
}

async fn api2_token(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    token(sim, Endpoint::Token, headers, body).await
}

async fn bc_token(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    token(sim, Endpoint::BcToken, headers, body).await
}

async fn token(sim: Simulator, endpoint: Endpoint, headers: HeaderMap, body: Bytes) -> Response {
    let requested = idp::requested_scope(&body);
    let fault = sim.world().admit(endpoint, &headers, requested.as_deref());
    gate(&sim, endpoint, fault, |_| {
        idp::token(&mut sim.world(), endpoint, &headers, &body)
    })
    .await
}

async fn client(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let fault = sim.world().admit(Endpoint::Clients, &headers, None);
    gate(&sim, Endpoint::Clients, fault, |_| {
        account::client(&mut sim.world(), &headers, &id)
    })
    .await
}

async fn tenants(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let fault = sim.world().admit(Endpoint::Tenants, &headers, None);
    let query = query.unwrap_or_default();
    gate(&sim, Endpoint::Tenants, fault, |_| {
        account::tenants(&mut sim.world(), &headers, &query)
    })
    .await
}

async fn children(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let fault = sim.world().admit(Endpoint::TenantChildren, &headers, None);
    gate(&sim, Endpoint::TenantChildren, fault, |_| {
        account::children(&mut sim.world(), &headers, &id)
    })
    .await
}

async fn resource_statuses(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let fault = sim
        .world()
        .admit(Endpoint::ResourceStatuses, &headers, None);
    let query = query.unwrap_or_default();
    gate(&sim, Endpoint::ResourceStatuses, fault, |alter| {
        statuses::list(&mut sim.world(), &headers, &query, alter)
    })
    .await
}

async fn platform_alerts(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let fault = sim.world().admit(Endpoint::PlatformAlerts, &headers, None);
    let query = query.unwrap_or_default();
    gate(&sim, Endpoint::PlatformAlerts, fault, |alter| {
        alerts::list(&mut sim.world(), &headers, &query, alter)
    })
    .await
}

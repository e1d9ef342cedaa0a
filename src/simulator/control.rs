//! The `/_sim/` control API: JSON in, JSON out, each route a thin wrapper over a
//! [`Simulator`] method. Never counted, never faulted. Documented in `docs/simulator.md`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::clock::to_ns;
use super::errors::{control, json_response};
use super::query::{Params, parse_bool, parse_int, parse_time};
use super::render::rfc3339_ns;
use super::{ConfigPatch, Fault, ResourcePatch, SimError, Simulator};
use crate::config::parse_duration;

pub(crate) fn routes() -> Router<Simulator> {
    Router::new()
        .route("/_sim/clock", get(clock).post(change_clock))
        .route("/_sim/fleet", get(fleet))
        .route("/_sim/resources", get(resources))
        .route(
            "/_sim/resources/{id}",
            get(resource).post(patch_resource).delete(delete_resource),
        )
        .route("/_sim/touch", post(touch))
        .route("/_sim/tenants/{id}", post(patch_tenant))
        .route("/_sim/alerts", get(list_alerts).post(raise_alert))
        .route("/_sim/alerts/{id}", post(update_alert))
        .route(
            "/_sim/faults",
            get(faults).post(add_faults).delete(clear_faults),
        )
        .route("/_sim/tokens/expire", post(expire_tokens))
        .route("/_sim/config", get(config).post(change_config))
        .route("/_sim/counters", get(counters))
        .route("/_sim/counters/reset", post(reset_counters))
}

type Answer = Result<Response, Response>;

fn ok(body: Value) -> Answer {
    Ok(json_response(StatusCode::OK, &body))
}

fn bad(msg: impl AsRef<str>) -> Response {
    control(StatusCode::BAD_REQUEST, msg.as_ref())
}

fn refused(e: SimError) -> Response {
    let status = match e {
        SimError::UnknownResource(_) | SimError::UnknownTenant(_) => StatusCode::NOT_FOUND,
        SimError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    control(status, &e.to_string())
}

/// A JSON body; an empty body reads as `{}`.
fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, Response> {
    serde_json::to_value(v).map_err(|e| control(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
}

fn clock_state(sim: &Simulator) -> Value {
    let now = to_ns(sim.now());
    json!({ "now": rfc3339_ns(now), "frozen": sim.is_frozen() })
}

async fn clock(State(sim): State<Simulator>) -> Answer {
    ok(clock_state(&sim))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    advance: Option<String>,
    advance_secs: Option<u64>,
    set: Option<String>,
    frozen: Option<bool>,
}

async fn change_clock(State(sim): State<Simulator>, bytes: Bytes) -> Answer {
    let change: ClockChange = body(&bytes)?;
    let moves = [
        change.advance.is_some(),
        change.advance_secs.is_some(),
        change.set.is_some(),
    ];
    if moves.iter().filter(|m| **m).count() > 1 {
        return Err(bad("give one of advance, advance_secs, set"));
    }
    let advance = match (&change.advance, change.advance_secs) {
        (Some(text), _) => Some(parse_duration(text).map_err(bad)?),
        (None, Some(secs)) => Some(std::time::Duration::from_secs(secs)),
        (None, None) => None,
    };
    let set = change
        .set
        .as_deref()
        .map(|t| parse_time("set", t))
        .transpose()
        .map_err(bad)?;
    if let Some(frozen) = change.frozen {
        sim.freeze(frozen);
    }
    if let Some(by) = advance {
        sim.advance(by);
    }
    if let Some(ns) = set {
        sim.set_now(super::clock::from_ns(ns)).map_err(refused)?;
    }
    ok(clock_state(&sim))
}

async fn fleet(State(sim): State<Simulator>) -> Answer {
    ok(to_value(&sim.fleet_info())?)
}

async fn resources(State(sim): State<Simulator>, RawQuery(query): RawQuery) -> Answer {
    let p = Params::parse(&query.unwrap_or_default()).map_err(bad)?;
    let tenant = p.single("tenant").map_err(bad)?;
    let status = p.single("status").map_err(bad)?;
    let limit = match p.single("limit").map_err(bad)? {
        Some(v) => usize::try_from(parse_int("limit", v).map_err(bad)?)
            .map_err(|_| bad("limit must be >= 0"))?,
        None => 1000,
    };
    let items = sim
        .resources_where(tenant, status, limit)
        .map_err(refused)?;
    ok(json!({ "items": to_value(&items)? }))
}

async fn resource(State(sim): State<Simulator>, Path(id): Path<String>) -> Answer {
    ok(to_value(&sim.resource(&id).map_err(refused)?)?)
}

async fn patch_resource(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let patch: ResourcePatch = body(&bytes)?;
    sim.set_resource(&id, patch).map_err(refused)?;
    ok(to_value(&sim.resource(&id).map_err(refused)?)?)
}

async fn delete_resource(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let p = Params::parse(&query.unwrap_or_default()).map_err(bad)?;
    let purge = match p.single("purge").map_err(bad)? {
        Some(v) => parse_bool("purge", v).map_err(bad)?,
        None => false,
    };
    sim.delete_resource(&id, purge).map_err(refused)?;
    ok(json!({ "id": id, "deleted": true, "purged": purge }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Touch {
    #[serde(default = "one")]
    count: usize,
    tenant: Option<String>,
}

fn one() -> usize {
    1
}

async fn touch(State(sim): State<Simulator>, bytes: Bytes) -> Answer {
    let t: Touch = body(&bytes)?;
    if let Some(tenant) = &t.tenant {
        sim.resources(Some(tenant), 0).map_err(refused)?;
    }
    ok(json!({ "ids": sim.touch(t.count, t.tenant.as_deref()) }))
}

async fn faults(State(sim): State<Simulator>) -> Answer {
    ok(json!({ "pending": to_value(&sim.faults())? }))
}

async fn add_faults(State(sim): State<Simulator>, bytes: Bytes) -> Answer {
    let value: Value = body(&bytes)?;
    let list: Vec<Fault> = match value {
        Value::Array(_) => serde_json::from_value(value),
        other => serde_json::from_value(other).map(|f| vec![f]),
    }
    .map_err(|e| bad(format!("invalid fault: {e}")))?;
    for (i, f) in list.iter().enumerate() {
        f.validate().map_err(|e| bad(format!("fault {i}: {e}")))?;
    }
    let queued = list.len();
    for f in list {
        sim.add_fault(f);
    }
    ok(json!({ "queued": queued, "pending": to_value(&sim.faults())? }))
}

async fn clear_faults(State(sim): State<Simulator>) -> Answer {
    sim.clear_faults();
    ok(json!({ "pending": [] }))
}

async fn expire_tokens(State(sim): State<Simulator>) -> Answer {
    ok(json!({ "expired": sim.expire_tokens_counted() }))
}

/// `{"enabled": bool}`: switch a customer (or unit) on or off in Account Management.
async fn patch_tenant(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TenantPatch {
        enabled: bool,
    }
    let patch: TenantPatch = body(&bytes)?;
    sim.set_tenant_enabled(&id, patch.enabled)
        .map_err(refused)?;
    ok(json!({ "id": id, "enabled": patch.enabled }))
}

async fn list_alerts(State(sim): State<Simulator>) -> Answer {
    ok(json!({ "items": sim.alerts() }))
}

async fn raise_alert(State(sim): State<Simulator>, bytes: Bytes) -> Answer {
    let spec: super::AlertSpec = body(&bytes)?;
    ok(sim.raise_alert(spec).map_err(refused)?)
}

async fn update_alert(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let update: super::AlertUpdate = body(&bytes)?;
    ok(sim.update_alert(&id, update).map_err(refused)?)
}

async fn config(State(sim): State<Simulator>) -> Answer {
    ok(to_value(&sim.config())?)
}

async fn change_config(State(sim): State<Simulator>, bytes: Bytes) -> Answer {
    let patch: ConfigPatch = body(&bytes)?;
    ok(to_value(&sim.configure(patch).map_err(refused)?)?)
}

async fn counters(State(sim): State<Simulator>) -> Answer {
    ok(to_value(&sim.counters())?)
}

async fn reset_counters(State(sim): State<Simulator>) -> Answer {
    sim.reset_counters();
    ok(to_value(&sim.counters())?)
}

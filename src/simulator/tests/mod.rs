//! Module-level tests: determinism, evolution, scopes and paging through the world and the
//! handlers, without a socket (`tests/simulator_api/` at the crate root covers HTTP).
//! This file holds the shared helpers.

mod control;
mod evolution;
mod listing;

pub(super) use std::collections::{HashMap, HashSet};
pub(super) use std::time::{Duration, Instant};

use axum::body::to_bytes;
pub(super) use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::render::Item;
use super::settings::TimeFields;
pub(super) use super::tenants::Scope;
pub(super) use super::{ResourcePatch, SimOptions, Simulator, statuses};

pub(super) fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).expect("valid time")
}

pub(super) fn sim(fleet: usize, seed: u64) -> Simulator {
    let sim = Simulator::new(SimOptions {
        fleet,
        seed,
        start: Some(start()),
        ..SimOptions::default()
    });
    sim.freeze(true);
    sim
}

/// Every machine as RM would show it (deleted ones included), in generation order.
pub(super) fn fleet_json(sim: &Simulator) -> String {
    let mut w = sim.world();
    w.sync();
    let items: Vec<Item> = (0..w.store.len() as u32)
        .map(|ix| w.store.get(ix))
        .map(|r| Item {
            r,
            tenant_id: w.tenants.get(r.owner).context_id(),
            tenant_name: &w.tenants.get(r.owner).name,
            numeric_tenant: &w.tenants.get(r.owner).numeric_id,
            time_fields: TimeFields::Mixed,
            show_deleted: true,
            show_attributes: true,
            now: 0,
        })
        .collect();
    serde_json::to_string(&items).expect("serializes")
}

pub(super) fn bearer_for(sim: &Simulator, scope: Scope) -> HeaderMap {
    let mut w = sim.world();
    let now = w.sync();
    let lifetime = w.token_lifetime_ns();
    let token = w.tokens.issue(scope, now, lifetime).access_token;
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("ascii"),
    );
    h
}

pub(super) async fn list(sim: &Simulator, headers: &HeaderMap, query: &str) -> (StatusCode, Value) {
    let resp = statuses::list(
        &mut sim.world(),
        headers,
        query,
        crate::simulator::faults::Alter::Intact,
    );
    let status = resp.status();
    let bytes = to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).expect("json body"))
}

pub(super) fn customer(sim: &Simulator, n: usize) -> u32 {
    sim.world()
        .tenants
        .customers()
        .nth(n)
        .expect("customer exists")
}

//! `GET /api/resource_management/v4/resource_statuses`: authorize the token, parse the
//! filters, pick the index sets the scope and `tenant_id` allow, page by keyset and write
//! the items. Errors use RM's flat `{domain, code, message, context}` shape.

use std::collections::BTreeSet;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::auth::{TokenCheck, bearer};
use super::cursor::Cursor;
use super::errors::{rm, rm_bad_request};
use super::faults::Alter;
use super::model::{Key, ResIx, Resource};
use super::paging::{self, Direction, Order, Window};
use super::query::{Compare, Params, parse_bool, parse_compare, parse_int};
use super::render::{Item, rfc3339_ns};
use super::seed::parse_uuid;
use super::store::Store;
use super::tenants::{Kind, PARTNER, SCOPE_URN, Scope, TenantIx};
use super::world::World;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// The parsed query.
struct Query {
    types: Vec<String>,
    tenant_ids: Vec<String>,
    resource_ids: Option<Vec<u128>>,
    agent_ids: Option<Vec<u128>>,
    order: Option<Order>,
    limit: usize,
    cursor: Option<Cursor>,
    include_deleted: bool,
    include_attributes: bool,
    window: Window,
}

impl Query {
    fn parse(raw: &str) -> Result<Query, String> {
        let p = Params::parse(raw)?;
        let uuids = |names: &[&str]| -> Result<Option<Vec<u128>>, String> {
            let mut values = Vec::new();
            for name in names {
                for v in p.multi(name)? {
                    values.push(
                        parse_uuid(&v).ok_or_else(|| format!("{name}: {v:?} is not a UUID"))?,
                    );
                }
            }
            Ok(names.iter().any(|n| p.has(n)).then_some(values))
        };
        let order = match p.single("order")?.map(str::trim) {
            None => None,
            Some("asc(updated_at)" | "updated_at") => Some(Order::Asc),
            Some("desc(updated_at)") => Some(Order::Desc),
            Some(other) => {
                return Err(format!(
                    "order {other:?} is not supported (asc(updated_at), desc(updated_at), updated_at)"
                ));
            }
        };
        let limit = match p.single("limit")? {
            Some(v) => parse_int("limit", v)?,
            None => DEFAULT_LIMIT,
        };
        let cursor = match (p.single("after")?, p.single("before")?) {
            (Some(_), Some(_)) => return Err("give either after or before, not both".into()),
            (Some(c), None) => Some((Direction::After, c)),
            (None, Some(c)) => Some((Direction::Before, c)),
            (None, None) => None,
        };
        let cursor = match cursor {
            Some((direction, text)) => {
                let c = Cursor::decode(text)?;
                if c.direction != direction {
                    return Err(
                        "the cursor was issued for the other direction (after/before)".into(),
                    );
                }
                if order.is_some_and(|o| o != c.order) {
                    return Err("the cursor was issued for a different order".into());
                }
                Some(c)
            }
            None => None,
        };
        let mut window = Window::default();
        for v in p.all("updated_at") {
            match parse_compare("updated_at", v)? {
                Compare::Gt(t) => window.narrow_lo(std::ops::Bound::Excluded((t, u128::MAX))),
                Compare::Ge(t) => window.narrow_lo(std::ops::Bound::Included((t, 0))),
                Compare::Lt(t) => window.narrow_hi(std::ops::Bound::Excluded((t, 0))),
                Compare::Le(t) => window.narrow_hi(std::ops::Bound::Included((t, u128::MAX))),
            }
        }
        Ok(Query {
            types: p.multi("type")?,
            tenant_ids: p.multi("tenant_id")?,
            resource_ids: uuids(&["resource_id", "id"])?,
            agent_ids: uuids(&["agent_id"])?,
            order,
            limit: limit.clamp(1, MAX_LIMIT) as usize,
            cursor,
            include_deleted: p
                .single("include_deleted")?
                .map(|v| parse_bool("include_deleted", v))
                .transpose()?
                .unwrap_or(false),
            include_attributes: p
                .single("include_attributes")?
                .map(|v| parse_bool("include_attributes", v))
                .transpose()?
                .unwrap_or(false),
            window,
        })
    }
}

/// The disjoint index sets to read: the whole fleet, or customers and units.
enum Reach {
    All,
    Tenants(Vec<TenantIx>),
}

impl Reach {
    fn covers(&self, r: &Resource) -> bool {
        match self {
            Reach::All => true,
            Reach::Tenants(list) => list.contains(&r.customer) || list.contains(&r.owner),
        }
    }
}

/// The reach of a scope narrowed by `tenant_id` values, or the 403 to answer.
fn reach(w: &World, scope: Scope, tenant_ids: &[String]) -> Result<Reach, Response> {
    if tenant_ids.is_empty() {
        return Ok(match scope {
            Scope::Partner => Reach::All,
            Scope::Customer(c) => Reach::Tenants(vec![c]),
        });
    }
    let mut customers = BTreeSet::new();
    let mut units = BTreeSet::new();
    for id in tenant_ids {
        let t = match w.tenants.find(id) {
            Some(t) if w.tenants.in_subtree(t, scope.root()) => t,
            _ => return Err(access_denied(w, scope, id)),
        };
        if t == PARTNER {
            return Ok(Reach::All);
        }
        for s in w.tenants.subtree(t) {
            match w.tenants.get(s).kind {
                Kind::Customer => {
                    customers.insert(s);
                }
                Kind::Unit => {
                    units.insert(s);
                }
                _ => {}
            }
        }
    }
    let units = units.into_iter().filter(|u| {
        w.tenants
            .get(*u)
            .customer
            .is_none_or(|c| !customers.contains(&c))
    });
    let mut list: Vec<TenantIx> = customers.iter().copied().collect();
    list.extend(units);
    Ok(Reach::Tenants(list))
}

fn access_denied(w: &World, scope: Scope, id: &str) -> Response {
    let have = format!("{SCOPE_URN}{}", w.tenants.get(scope.root()).uuid);
    let need = format!("{SCOPE_URN}{}", id.trim());
    let message = format!("tenant {id:?} is outside the token's scope");
    rm(
        StatusCode::FORBIDDEN,
        "Access",
        "AccessDeniedError",
        &message,
        json!({ "scope": have, "required_scope": need }),
    )
}

#[derive(Serialize)]
struct Reply<'a> {
    items: Vec<Item<'a>>,
    paging: Paging,
    timestamp: String,
}

#[derive(Serialize)]
struct Paging {
    cursors: Cursors,
}

#[derive(Serialize)]
struct Cursors {
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// The token's scope, or the 401 to answer.
pub(crate) fn authenticate(w: &World, headers: &HeaderMap, now: i64) -> Result<Scope, Response> {
    let unauthorized =
        |code: &str, msg: &str| rm(StatusCode::UNAUTHORIZED, "Access", code, msg, json!({}));
    match bearer(headers).map(|t| w.tokens.check(t, now)) {
        None => Err(unauthorized(
            "UnauthorizedRequest",
            "an access token is required (Authorization: Bearer ...)",
        )),
        Some(TokenCheck::Unknown) => Err(unauthorized(
            "UnauthorizedRequest",
            "the access token is not valid",
        )),
        Some(TokenCheck::Expired(_)) => Err(unauthorized(
            "AuthenticationTimeout",
            "the access token has expired",
        )),
        Some(TokenCheck::Valid(scope)) => Ok(scope),
    }
}

/// With `resource_id`/`id`/`agent_id` filters: the keys of those machines within reach
/// (both kinds given: machines matching both). None without such filters.
fn explicit_ids(store: &Store, q: &Query, reach: &Reach) -> Option<BTreeSet<Key>> {
    if q.resource_ids.is_none() && q.agent_ids.is_none() {
        return None;
    }
    let by_agent: Vec<ResIx> = q
        .agent_ids
        .iter()
        .flatten()
        .filter_map(|&u| store.find_agent(u))
        .collect();
    let candidates: Vec<ResIx> = match &q.resource_ids {
        Some(ids) => ids
            .iter()
            .filter_map(|&u| store.find(u))
            .filter(|ix| q.agent_ids.is_none() || by_agent.contains(ix))
            .collect(),
        None => by_agent,
    };
    Some(
        candidates
            .into_iter()
            .map(|ix| store.get(ix))
            .filter(|r| reach.covers(r))
            .map(Resource::key)
            .collect(),
    )
}

/// Answers one request; an intact page's items count in `items_served`, and an
/// `Endless` fault replaces the `after` cursor with one back to the start.
pub(crate) fn list(w: &mut World, headers: &HeaderMap, raw_query: &str, alter: Alter) -> Response {
    let now = w.sync();
    let scope = match authenticate(w, headers, now) {
        Ok(scope) => scope,
        Err(resp) => return resp,
    };
    let q = match Query::parse(raw_query) {
        Ok(q) => q,
        Err(e) => return rm_bad_request(&e),
    };
    if !w.config.or_lookups {
        let params = Params::parse(raw_query).unwrap_or_default();
        if ["resource_id", "id"]
            .iter()
            .any(|n| params.all(n).any(|v| v.trim_start().starts_with("or(")))
        {
            return rm_bad_request(
                "resource_id: or(...) is not supported here; give one id or a comma-separated list",
            );
        }
    }
    let reach = match reach(w, scope, &q.tenant_ids) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let order = q.cursor.map(|c| c.order).or(q.order).unwrap_or(Order::Asc);
    // `type=` filters by exact names (a machine, or one VM type).
    let wanted_type = |r: &Resource| q.types.is_empty() || q.types.iter().any(|t| t == r.kind);
    let store = &w.store;
    let picked = explicit_ids(store, &q, &reach);
    let sets: Vec<&BTreeSet<Key>> = match (&picked, &reach) {
        (Some(set), _) => vec![set],
        (None, Reach::All) => vec![store.all()],
        (None, Reach::Tenants(list)) => list.iter().map(|&t| store.tenant_set(t)).collect(),
    };
    let visible = |k: &Key| {
        store.by_key(k).map_or(q.include_deleted, |r| {
            wanted_type(r) && (q.include_deleted || r.deleted_ns.is_none())
        })
    };
    let cursor = q.cursor.map(|c| (c.direction, c.key));
    let page = paging::page(&sets, &q.window, order, cursor, q.limit, visible);
    let make_cursor = |direction, key| {
        Cursor {
            direction,
            order,
            key,
        }
        .encode()
    };
    let items: Vec<Item> = page
        .keys
        .iter()
        .filter_map(|k| store.by_key(k))
        .map(|r| {
            let owner = w.tenants.get(r.owner);
            Item {
                r,
                tenant_id: owner.context_id(),
                tenant_name: &owner.name,
                numeric_tenant: &owner.numeric_id,
                time_fields: w.config.time_fields,
                show_deleted: q.include_deleted,
                show_attributes: q.include_attributes,
                now,
            }
        })
        .collect();
    let served = items.len() as u64;
    let reply = Reply {
        items,
        paging: Paging {
            cursors: Cursors {
                before: page.before.map(|k| make_cursor(Direction::Before, k)),
                after: if alter == Alter::Endless {
                    Some(make_cursor(Direction::After, start_over(order)))
                } else {
                    page.after.map(|k| make_cursor(Direction::After, k))
                },
            },
        },
        timestamp: rfc3339_ns(now),
    };
    let body = match serde_json::to_vec(&reply) {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("could not write the page: {e}");
            return rm(
                StatusCode::INTERNAL_SERVER_ERROR,
                "General",
                "InternalServerError",
                &msg,
                json!({}),
            );
        }
    };
    if alter.delivers_items() {
        w.counters.items_served += served;
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// A key before every real one in `order`, different at each call: an `after` cursor
/// that serves the listing again from its start, and never repeats.
fn start_over(order: Order) -> Key {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = u128::from(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    match order {
        Order::Desc => (i64::MAX, n),
        Order::Asc => (i64::MIN, n),
    }
}

//! Account Management: `GET /api/2/clients/{id}`, `GET /api/2/tenants` (children of a
//! parent, a subtree, or a list of UUIDs; paged with self-contained cursors) and
//! `GET /api/2/tenants/{id}/children`. Errors use the `{"error":{...}}` shape.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::auth::{TokenCheck, bearer};
use super::cursor::{decode_opaque, encode_opaque};
use super::errors::{account, json_response};
use super::query::{Params, parse_bool, parse_int};
use super::render::naive_secs;
use super::tenants::{Kind, Scope, TenantIx, Tenants, secs_to_ns};
use super::world::World;

const MAX_LIMIT: i64 = 5000;

/// The token's scope, or the 401 to answer.
fn authorize(w: &World, headers: &HeaderMap, now: i64) -> Result<Scope, Response> {
    let unauthorized = |msg: &str| account(StatusCode::UNAUTHORIZED, "Unauthorized", msg);
    let Some(token) = bearer(headers) else {
        return Err(unauthorized(
            "an access token is required (Authorization: Bearer ...)",
        ));
    };
    match w.tokens.check(token, now) {
        TokenCheck::Valid(scope) => Ok(scope),
        TokenCheck::Expired(_) => Err(unauthorized("the access token has expired")),
        TokenCheck::Unknown => Err(unauthorized("the access token is not valid")),
    }
}

/// A tenant the token may see, or the 404/403 to answer.
fn visible_tenant(w: &World, scope: Scope, id: &str) -> Result<TenantIx, Response> {
    if id.trim() == w.tenants.root_parent {
        return Err(forbidden(id));
    }
    let t = w
        .tenants
        .find(id)
        .ok_or_else(|| not_found(&format!("tenant {id:?} not found")))?;
    if w.tenants.in_subtree(t, scope.root()) {
        Ok(t)
    } else {
        Err(forbidden(id))
    }
}

fn forbidden(id: &str) -> Response {
    account(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &format!("access to tenant {id:?} is denied for this token"),
    )
}

fn not_found(msg: &str) -> Response {
    account(StatusCode::NOT_FOUND, "NotFound", msg)
}

fn bad_request(msg: &str) -> Response {
    account(StatusCode::BAD_REQUEST, "BadRequest", msg)
}

pub(crate) fn client(w: &mut World, headers: &HeaderMap, id: &str) -> Response {
    let now = w.sync();
    if let Err(resp) = authorize(w, headers, now) {
        return resp;
    }
    if id != w.client_id {
        return not_found(&format!("client {id:?} not found"));
    }
    let partner = w.tenants.get(0);
    json_response(
        StatusCode::OK,
        &json!({
            "client_id": w.client_id,
            "tenant_id": partner.uuid,
            "type": "api_client",
            "data": { "client_name": "acronis-watch simulator" },
            "status": "enabled",
            "token_endpoint_auth_method": "client_secret_basic",
            "created_by": partner.uuid,
            "redirect_uris": [],
            "last_access_at": null,
        }),
    )
}

pub(crate) fn children(w: &mut World, headers: &HeaderMap, id: &str) -> Response {
    let now = w.sync();
    let t = match authorize(w, headers, now).and_then(|scope| visible_tenant(w, scope, id)) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let items: Vec<&str> = w
        .tenants
        .get(t)
        .children
        .iter()
        .map(|&c| w.tenants.get(c).uuid.as_str())
        .collect();
    json_response(StatusCode::OK, &json!({ "items": items }))
}

/// What `GET /api/2/tenants` was asked, as stored in its cursor.
struct Listing {
    selector: &'static str,
    value: String,
    offset: usize,
    limit: usize,
    lod: &'static str,
    allow_deleted: bool,
}

impl Listing {
    fn from_params(p: &Params) -> Result<Listing, String> {
        if let Some(after) = p.single("after")? {
            return Listing::from_cursor(after);
        }
        let mut chosen = Vec::new();
        for selector in ["parent_id", "subtree_root_id", "uuids"] {
            if let Some(v) = p.single(selector)? {
                chosen.push((selector, v.to_string()));
            }
        }
        let [(selector, value)] = <[_; 1]>::try_from(chosen).map_err(|_| {
            "exactly one of parent_id, subtree_root_id, uuids is required".to_string()
        })?;
        let limit = match p.single("limit")? {
            Some(v) => parse_int("limit", v)?,
            None => MAX_LIMIT,
        };
        if limit < 1 {
            return Err("limit must be at least 1".into());
        }
        let lod = match p.single("lod")?.map(str::trim) {
            None | Some("full") => "full",
            Some("basic") => "basic",
            Some("stamps") => "stamps",
            Some(other) => return Err(format!("lod {other:?} is not one of stamps, basic, full")),
        };
        let allow_deleted = p
            .single("allow_deleted")?
            .map(|v| parse_bool("allow_deleted", v))
            .transpose()?;
        if let Some(v) = p.single("updated_since")? {
            super::query::parse_time("updated_since", v)?;
        }
        Ok(Listing {
            selector,
            value,
            offset: 0,
            limit: limit.min(MAX_LIMIT) as usize,
            lod,
            allow_deleted: allow_deleted.unwrap_or(false),
        })
    }

    fn from_cursor(text: &str) -> Result<Listing, String> {
        let bad = || "invalid after cursor".to_string();
        let f = decode_opaque("t1", text).ok_or_else(bad)?;
        let [selector, value, offset, limit, lod, deleted] =
            <[String; 6]>::try_from(f).map_err(|_| bad())?;
        let pick = |v: &str, options: &[&'static str]| options.iter().copied().find(|o| *o == v);
        Ok(Listing {
            selector: pick(&selector, &["parent_id", "subtree_root_id", "uuids"])
                .ok_or_else(bad)?,
            value,
            offset: offset.parse().map_err(|_| bad())?,
            limit: limit
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT as usize).contains(l))
                .ok_or_else(bad)?,
            lod: pick(&lod, &["stamps", "basic", "full"]).ok_or_else(bad)?,
            allow_deleted: deleted == "1",
        })
    }

    fn cursor_at(&self, offset: usize) -> String {
        let fields = [
            self.selector,
            &self.value,
            &offset.to_string(),
            &self.limit.to_string(),
            self.lod,
            if self.allow_deleted { "1" } else { "0" },
        ];
        encode_opaque("t1", &fields)
    }
}

pub(crate) fn tenants(w: &mut World, headers: &HeaderMap, query: &str) -> Response {
    let now = w.sync();
    let scope = match authorize(w, headers, now) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let listing = match Params::parse(query).and_then(|p| Listing::from_params(&p)) {
        Ok(l) => l,
        Err(e) => return bad_request(&e),
    };
    let selected: Vec<TenantIx> = match listing.selector {
        "parent_id" => match visible_tenant(w, scope, &listing.value) {
            Ok(t) => w.tenants.get(t).children.clone(),
            Err(resp) => return resp,
        },
        "subtree_root_id" => match visible_tenant(w, scope, &listing.value) {
            Ok(t) => w.tenants.subtree(t),
            Err(resp) => return resp,
        },
        _ => {
            let ids: Vec<&str> = listing
                .value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if ids.is_empty() || ids.len() > 100 {
                return bad_request("uuids takes 1 to 100 comma-separated UUIDs");
            }
            let mut out = Vec::new();
            for id in ids {
                match visible_tenant(w, scope, id) {
                    Ok(t) => out.push(t),
                    Err(resp) if resp.status() == StatusCode::NOT_FOUND => {}
                    Err(resp) => return resp,
                }
            }
            out
        }
    };
    let end = listing
        .offset
        .saturating_add(listing.limit)
        .min(selected.len());
    let page = selected.get(listing.offset.min(end)..end).unwrap_or(&[]);
    let items: Vec<Value> = page
        .iter()
        .map(|&t| tenant_json(&w.tenants, t, listing.lod))
        .collect();
    let mut cursors = Map::new();
    if end < selected.len() {
        cursors.insert("after".into(), Value::String(listing.cursor_at(end)));
    }
    json_response(
        StatusCode::OK,
        &json!({ "timestamp": naive_secs(now), "paging": { "cursors": cursors }, "items": items }),
    )
}

fn tenant_json(tenants: &Tenants, ix: TenantIx, lod: &str) -> Value {
    let t = tenants.get(ix);
    let parent = t.parent.map_or(tenants.root_parent.as_str(), |p| {
        tenants.get(p).uuid.as_str()
    });
    let mut v = json!({ "id": t.uuid, "version": t.version });
    if lod == "stamps" {
        return v;
    }
    let basic = json!({
        "parent_id": parent,
        "name": t.name,
        "kind": t.kind.as_str(),
        "enabled": t.enabled,
        "created_at": naive_secs(secs_to_ns(t.created_s)),
        "updated_at": naive_secs(secs_to_ns(t.updated_s)),
        "deleted_at": null,
    });
    merge(&mut v, basic);
    if lod == "full" {
        merge(
            &mut v,
            json!({
                "contacts": [],
                "offering_items": [],
                "language": "en",
                "has_children": !t.children.is_empty(),
                "ancestral_access": true,
                "customer_type": if t.kind == Kind::Customer { "default" } else { "" },
                "internal_tag": null,
                "mfa_status": "disabled",
            }),
        );
    }
    v
}

fn merge(into: &mut Value, more: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, more) {
        a.extend(b);
    }
}

//! Alert Manager (`GET /api/alert_manager/v1/alerts`, acronis-api.md §8): the
//! platform's own alerts per tenant. Alerts are raised as machines fail (a machine
//! whose status turns error or critical raises `BackupFailed`; one back to normal has
//! its open alerts dismissed), at start for the machines already critical, and over
//! `/_sim/alerts` (raise, update, dismiss).
//!
//! What the list serves, as the vendor's samples use it: camelCase items, newest
//! `createdAt` first, `limit`, `updated_at=gt(<Unix ns>)` (also `ge`, `lt`, `le`),
//! `show_deleted=true` for dismissed alerts, `severity` (`or(...)` or one), `category`
//! and `type` filters, and an `after` cursor (the filters are sent again beside it).
//! A scoped token sees its customer's alerts (units included); the base token all.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{json_response, rm_bad_request};
use super::faults::Alter;
use super::query::Params;
use super::render::rfc3339_ns;
use super::seed::{Salt, hash, uuid, uuid_string};
use super::tenants::{Scope, TenantIx};
use super::world::World;

/// Most alerts one page brings.
const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 100;

/// One platform alert.
#[derive(Debug, Clone)]
pub(crate) struct SimAlert {
    pub id: String,
    /// The customer or unit it is about.
    pub tenant: TenantIx,
    pub kind: String,
    pub category: String,
    pub severity: String,
    pub created_ns: i64,
    pub updated_ns: i64,
    pub deleted_ns: Option<i64>,
    /// The machine (id, name), if it is about one.
    pub resource: Option<(String, String)>,
    pub title: Option<String>,
    pub description: Option<String>,
}

/// Every alert the datacenter raised, oldest first.
#[derive(Debug, Default)]
pub(crate) struct AlertBook {
    pub list: Vec<SimAlert>,
    raised: u64,
}

/// What `/_sim/alerts` takes to raise an alert; absent fields get a failed backup's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// A customer or unit (UUID or numeric id); default: the machine's owner, or the
    /// first customer.
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    /// The machine it is about (its `id`).
    #[serde(default)]
    pub resource_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// What `/_sim/alerts/{id}` changes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertUpdate {
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// true: dismiss it (as `DELETE` does on the platform); false: bring it back.
    #[serde(default)]
    pub dismissed: Option<bool>,
}

const SEVERITIES: [&str; 5] = ["ok", "information", "warning", "error", "critical"];

/// A severity the platform uses, or why not.
pub(crate) fn check_severity(s: &str) -> Result<(), super::SimError> {
    if SEVERITIES.contains(&s) {
        return Ok(());
    }
    Err(super::SimError::Invalid(format!(
        "severity {s:?}: expected one of {}",
        SEVERITIES.join(", ")
    )))
}

impl AlertBook {
    /// Raise an alert at `now`; its id follows from the seed and how many were raised.
    pub(crate) fn raise(&mut self, seed: u64, now: i64, mut a: SimAlert) -> &SimAlert {
        self.raised += 1;
        a.id = uuid_string(uuid(
            hash(seed, Salt::PlatformAlert, &[self.raised, 1]),
            hash(seed, Salt::PlatformAlert, &[self.raised, 2]),
        ));
        a.created_ns = now;
        a.updated_ns = now;
        self.list.push(a);
        self.list.last().expect("just pushed")
    }

    /// Dismiss the open alerts about machine `resource` at `now`.
    pub(crate) fn dismiss_for(&mut self, resource: &str, now: i64) {
        for a in &mut self.list {
            if a.deleted_ns.is_none() && a.resource.as_ref().is_some_and(|(id, _)| id == resource) {
                a.deleted_ns = Some(now);
                a.updated_ns = now;
            }
        }
    }

    pub(crate) fn open_for(&self, resource: &str) -> bool {
        self.list.iter().any(|a| {
            a.deleted_ns.is_none() && a.resource.as_ref().is_some_and(|(id, _)| id == resource)
        })
    }
}

/// A failed backup's alert about a machine.
pub(crate) fn backup_failed(tenant: TenantIx, id: &str, name: &str, severity: &str) -> SimAlert {
    SimAlert {
        id: String::new(),
        tenant,
        kind: "BackupFailed".into(),
        category: "backup".into(),
        severity: severity.into(),
        created_ns: 0,
        updated_ns: 0,
        deleted_ns: None,
        resource: Some((id.to_string(), name.to_string())),
        title: None,
        description: Some(format!("Backup of '{name}' failed.")),
    }
}

/// The API item of `a`.
pub(crate) fn item(w: &World, a: &SimAlert) -> Value {
    let t = w.tenants.get(a.tenant);
    let mut details = serde_json::Map::new();
    if let Some((id, name)) = &a.resource {
        details.insert("resourceId".into(), json!(id));
        details.insert("resourceName".into(), json!(name));
    }
    if let Some(title) = &a.title {
        details.insert("title".into(), json!(title));
    }
    if let Some(d) = &a.description {
        details.insert("description".into(), json!(d));
    }
    json!({
        "id": a.id,
        "type": a.kind,
        "category": a.category,
        "severity": a.severity,
        "tenant": { "id": t.numeric_id, "uuid": t.uuid },
        "tenantID": t.uuid,
        "createdAt": rfc3339_ns(a.created_ns),
        "receivedAt": rfc3339_ns(a.created_ns),
        "updatedAt": rfc3339_ns(a.updated_ns),
        "deletedAt": a.deleted_ns.map(rfc3339_ns),
        "details": details,
        "context": {},
        "schemaVersion": 1,
    })
}

/// One filter on `updatedAt` (Unix ns).
fn time_filter(v: &str) -> Result<Box<dyn Fn(i64) -> bool>, String> {
    let v = v.trim();
    let (op, arg) = match v.split_once('(') {
        Some((op, rest)) => (op, rest.strip_suffix(')').ok_or("unclosed (")?),
        None => ("eq", v),
    };
    let n: i64 = arg
        .trim()
        .parse()
        .map_err(|_| format!("updated_at: {arg:?} is not a Unix time in nanoseconds"))?;
    Ok(match op {
        "gt" => Box::new(move |t| t > n),
        "ge" => Box::new(move |t| t >= n),
        "lt" => Box::new(move |t| t < n),
        "le" => Box::new(move |t| t <= n),
        "eq" => Box::new(move |t| t == n),
        _ => return Err(format!("updated_at: unknown operator {op}")),
    })
}

/// `severity=critical` or `severity=or(error,critical)`.
fn names(v: &str) -> Vec<String> {
    let v = v.trim();
    let inner = v
        .strip_prefix("or(")
        .and_then(|r| r.strip_suffix(')'))
        .or_else(|| v.strip_prefix("eq(").and_then(|r| r.strip_suffix(')')))
        .unwrap_or(v);
    inner.split(',').map(|s| s.trim().to_string()).collect()
}

/// `GET /api/alert_manager/v1/alerts`.
pub(crate) fn list(w: &mut World, headers: &HeaderMap, raw: &str, alter: Alter) -> Response {
    let now = w.sync();
    let scope = match super::statuses::authenticate(w, headers, now) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return rm_bad_request(&e),
    };
    let one = |n: &str| params.single(n);
    let parsed = (|| -> Result<_, String> {
        let updated = one("updated_at")?.map(time_filter).transpose()?;
        let show_deleted = matches!(one("show_deleted")?, Some("true" | "1"));
        let only_deleted = matches!(one("show_deleted_only")?, Some("true" | "1"));
        let limit = match one("limit")? {
            Some(l) => l
                .parse::<usize>()
                .map_err(|_| format!("limit: {l:?} is not a number"))?
                .clamp(1, MAX_LIMIT),
            None => DEFAULT_LIMIT,
        };
        let offset = match one("after")? {
            Some(c) => c
                .strip_prefix("am1.")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| format!("after: {c:?} is not a cursor this server issued"))?,
            None => 0,
        };
        let severities = one("severity")?.map(names);
        let categories = one("category")?.map(names);
        let types = one("type")?.map(names);
        Ok((
            updated,
            show_deleted,
            only_deleted,
            limit,
            offset,
            severities,
            categories,
            types,
        ))
    })();
    let (updated, show_deleted, only_deleted, limit, offset, severities, categories, types) =
        match parsed {
            Ok(p) => p,
            Err(e) => return rm_bad_request(&e),
        };
    let tenants = &w.tenants;
    let visible = |a: &SimAlert| {
        let reach = match scope {
            Scope::Partner => true,
            Scope::Customer(c) => a.tenant == c || tenants.get(a.tenant).customer == Some(c),
        };
        let deleted = a.deleted_ns.is_some();
        reach
            && (if only_deleted {
                deleted
            } else {
                show_deleted || !deleted
            })
            && updated.as_ref().is_none_or(|f| f(a.updated_ns))
            && severities.as_ref().is_none_or(|s| s.contains(&a.severity))
            && categories.as_ref().is_none_or(|s| s.contains(&a.category))
            && types.as_ref().is_none_or(|s| s.contains(&a.kind))
    };
    // Newest createdAt first (desc(created_at), the samples' order).
    let mut matching: Vec<&SimAlert> = w.list_alerts().iter().filter(|a| visible(a)).collect();
    matching.sort_by(|a, b| b.created_ns.cmp(&a.created_ns).then(b.id.cmp(&a.id)));
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|a| item(w, a))
        .collect();
    let end = offset + page.len();
    let after = (end < matching.len()).then(|| format!("am1.{end}"));
    let _ = alter;
    json_response(
        StatusCode::OK,
        &json!({
            "items": page,
            "paging": { "cursors": { "after": after } },
        }),
    )
}

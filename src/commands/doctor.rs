//! `doctor [--tenant ID]`: first contact with a datacenter. Runs, in order, each step
//! the worker depends on and prints what it observed and what that means for this
//! config. Exit 0 when the config can work, 1 when a step failed (the message says
//! which and what to do). Nothing is stored; no token is printed.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Exit;
use crate::acronis::client::{AcronisClient, Scope, WatchedTenant};
use crate::acronis::error::ApiError;
use crate::acronis::model::{AggregateStatus, PlatformAlert};
use crate::config::{Config, TenantSelection, resource_type};
use crate::model::human_duration;

const STATUSES: &str = "/api/resource_management/v4/resource_statuses";
const ALERTS: &str = "/api/alert_manager/v1/alerts";
/// Items a sample page asks for.
const SAMPLE: u32 = 100;
/// Most tenants whose resource types are surveyed.
const SURVEY: usize = 20;

/// What the steps found, printed as they go.
#[derive(Default)]
struct Doctor {
    step: usize,
    failed: usize,
}

impl Doctor {
    fn step(&mut self, title: &str) {
        self.step += 1;
        println!("\n{}. {title}", self.step);
    }

    fn ok(&self, line: impl AsRef<str>) {
        println!("   ok    {}", line.as_ref());
    }

    fn note(&self, line: impl AsRef<str>) {
        println!("   note  {}", line.as_ref());
    }

    fn fail(&mut self, line: impl AsRef<str>, todo: &str) {
        self.failed += 1;
        println!("   FAIL  {}", line.as_ref());
        println!("         what to do: {todo}");
    }
}

fn lifetime(d: std::time::Duration) -> String {
    human_duration(chrono::Duration::from_std(d).unwrap_or_default())
}

pub async fn run(cfg: Config, tenant: Option<String>) -> Exit {
    let client = match AcronisClient::new(&cfg.acronis) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    println!(
        "acronis-watch doctor: {} as client {}",
        cfg.acronis.datacenter_url, cfg.acronis.client_id
    );
    let mut d = Doctor::default();
    let done = diagnose(&mut d, &client, &cfg, tenant.as_deref()).await;
    println!();
    if d.failed == 0 && done {
        println!("This config can work: `acronis-watch once` polls as shown above.");
        Exit::Ok
    } else {
        println!(
            "{} step(s) failed: fix what they say, then run `acronis-watch doctor` again.",
            d.failed.max(1)
        );
        Exit::Failed
    }
}

/// Every step; false when one failed so that the rest cannot run.
async fn diagnose(
    d: &mut Doctor,
    client: &AcronisClient,
    cfg: &Config,
    only: Option<&str>,
) -> bool {
    d.step("Base token (client_credentials)");
    match client.tokens().base().await {
        Ok(t) => d.ok(format!(
            "issued; lifetime {} (the worker renews it before it runs out)",
            lifetime(t.lifetime)
        )),
        Err(e) => {
            d.fail(
                format!("no token: {e}"),
                "check datacenter_url (your datacenter's URL, e.g. https://eu2-cloud.acronis.com), \
                 client_id and client_secret (an API client created in the management portal)",
            );
            return false;
        }
    }

    d.step("API client");
    let own = match client.own_tenant().await {
        Ok(own) => {
            d.ok(format!(
                "belongs to tenant {} ({})",
                own.id,
                own.name.as_deref().unwrap_or("no name given")
            ));
            own
        }
        Err(e) => {
            d.fail(
                format!("cannot read the client's own record: {e}"),
                "the client_id must be the API client's id, and the client must not be disabled",
            );
            return false;
        }
    };

    d.step("Tenants");
    let Some((target, survey)) = tenants(d, client, cfg, &own, only).await else {
        return false;
    };

    if let Scope::Tenant(id) = &target.scope {
        d.step("Tenant-scoped token (jwt-bearer exchange)");
        match client.tokens().scoped(id).await {
            Ok(t) => d.ok(format!(
                "exchanged for {id}; lifetime {}",
                lifetime(t.lifetime)
            )),
            Err(e) => {
                d.fail(
                    format!("the exchange for {id} failed: {e}"),
                    "the API client needs access to the customer (create it at the partner \
                     level), or leave `tenants` out to poll with the base token",
                );
                return false;
            }
        }
    }

    let read = statuses(d, client, cfg, &target, &survey).await;
    if read {
        attributes(d, client, &target).await;
    }
    alert_manager(d, client, &target).await;
    read
}

/// Step 3: what `tenants` selects; returns the tenant the next steps read, and the
/// tenants whose resource types are surveyed (it first).
async fn tenants(
    d: &mut Doctor,
    client: &AcronisClient,
    cfg: &Config,
    own: &WatchedTenant,
    only: Option<&str>,
) -> Option<(WatchedTenant, Vec<WatchedTenant>)> {
    let scoped = |id: &str, name: Option<String>| WatchedTenant {
        id: id.to_string(),
        name,
        scope: Scope::Tenant(id.to_string()),
    };
    let infos = match &cfg.acronis.tenants {
        TenantSelection::Own => {
            d.ok(format!(
                "`tenants` is omitted: one poll at the client's own scope ({}) with the base token",
                own.id
            ));
            let target = match only {
                Some(id) => scoped(id, None),
                None => own.clone(),
            };
            return Some((target.clone(), vec![target]));
        }
        TenantSelection::Children => client.customers_below(&own.id).await,
        TenantSelection::List(ids) => client.tenants_by_id(ids).await,
    };
    let infos = match infos {
        Ok(i) => i,
        Err(e) => {
            d.fail(
                format!("cannot list tenants: {e}"),
                "the API client must be able to read Account Management (`/api/2/tenants`)",
            );
            return None;
        }
    };
    let (on, off): (Vec<_>, Vec<_>) = infos.iter().partition(|t| t.enabled != Some(false));
    let named = |t: &&crate::acronis::client::TenantInfo| {
        format!("{} ({})", t.id, t.name.as_deref().unwrap_or("no name"))
    };
    if let TenantSelection::List(ids) = &cfg.acronis.tenants {
        for id in ids {
            if !infos.iter().any(|t| &t.id == id) {
                d.fail(
                    format!("tenant {id} (in `tenants`) is not known to the API"),
                    "use the customer tenants' UUIDs, as the management portal shows them",
                );
            }
        }
    }
    d.ok(format!(
        "{} customer tenant(s) found, {} disabled",
        infos.len(),
        off.len()
    ));
    for t in on.iter().take(5) {
        d.note(format!("watched: {}", named(t)));
    }
    if on.len() > 5 {
        d.note(format!("... and {} more watched", on.len() - 5));
    }
    for t in &off {
        d.note(format!(
            "disabled (enabled: false), not polled: {}",
            named(t)
        ));
    }
    if on.is_empty() {
        d.fail(
            "no enabled customer tenant: nothing would be polled",
            "check that the API client is at the partner level with customers below it, or \
             leave `tenants` out to poll the client's own scope",
        );
        return None;
    }
    let pick = match only {
        Some(id) => on.iter().find(|t| t.id == id).copied().or_else(|| {
            d.note(format!(
                "--tenant {id} is not among the watched tenants; reading it anyway"
            ));
            None
        }),
        None => on.first().copied(),
    };
    let target = match pick {
        Some(t) => scoped(&t.id, t.name.clone()),
        None => scoped(only.unwrap_or_default(), None),
    };
    let mut survey = vec![target.clone()];
    if only.is_none() {
        survey.extend(
            on.iter()
                .filter(|t| t.id != target.id)
                .map(|t| scoped(&t.id, t.name.clone())),
        );
    }
    Some((target, survey))
}

/// Steps 5 and 6: a page as the worker asks for it, and one without the type filter.
async fn statuses(
    d: &mut Doctor,
    client: &AcronisClient,
    cfg: &Config,
    target: &WatchedTenant,
    survey: &[WatchedTenant],
) -> bool {
    let types = &cfg.acronis.resource_types;
    let base: Vec<(&str, String)> = vec![
        ("order", "desc(updated_at)".to_string()),
        ("limit", SAMPLE.to_string()),
    ];
    d.step(&format!(
        "resource_statuses of {} as the worker asks for it",
        target.id
    ));
    let mut query = base.clone();
    match resource_type::api_filter(types) {
        Some(filter) => {
            d.note(format!("sent: type={filter}"));
            query.push(("type", filter));
        }
        None => d.note(format!(
            "resource_types {types:?} has a family (`.*`): no type filter is sent, and the \
             worker keeps the types it matches"
        )),
    }
    let page = match client
        .probe(&target.scope, Some(&target.id), STATUSES, &query)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            d.fail(format!("the request failed: {e}"), advice(&e));
            return false;
        }
    };
    let items = page["items"].as_array().map_or(0, Vec::len);
    d.ok(format!(
        "{items} item(s) on the first page (limit {SAMPLE})"
    ));
    match page.get("timestamp").and_then(Value::as_str) {
        Some(t) => d.ok(format!(
            "the page carries `timestamp` ({t}): the incremental poll's watermark is server time"
        )),
        None => {
            d.note("no `timestamp` on the page: the watermark falls back to the newest updated_at")
        }
    }
    match page
        .pointer("/paging/cursors/after")
        .and_then(Value::as_str)
    {
        Some(_) => d.ok("the page carries a cursor (`paging.cursors.after`): paging works"),
        None if items as u32 >= SAMPLE => d.note(
            "a full page without `paging.cursors.after`: the worker would stop after it; \
             report this (acronis-api.md §4.2)",
        ),
        None => d.ok("no further cursor: this tenant fits in one page"),
    }

    d.step(&format!(
        "resource_statuses without the type filter (what the tenants have; the first {SAMPLE} of each)"
    ));
    let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
    let mut no_updated_at = 0;
    let shown = survey.len().min(SURVEY);
    for tenant in &survey[..shown] {
        let name = tenant.name.as_deref().unwrap_or(&tenant.id);
        let page = match client
            .probe(&tenant.scope, Some(&tenant.id), STATUSES, &base)
            .await
        {
            Ok(p) => p,
            Err(e) if tenant.id == target.id => {
                d.fail(
                    format!("tenant {name}: the request failed: {e}"),
                    advice(&e),
                );
                return false;
            }
            Err(e) => {
                d.note(format!("tenant {name}: the request failed: {e}"));
                continue;
            }
        };
        let empty = Vec::new();
        let items = page["items"].as_array().unwrap_or(&empty);
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for item in items {
            let kind = item
                .pointer("/context/type")
                .and_then(Value::as_str)
                .unwrap_or("(no type)");
            *kinds.entry(kind.to_string()).or_default() += 1;
            if let Some(s) = item.pointer("/aggregate/status").and_then(Value::as_str)
                && matches!(AggregateStatus::parse(s), AggregateStatus::Unknown(_))
            {
                *unknown.entry(s.to_string()).or_default() += 1;
            }
            if item
                .pointer("/context/updated_at")
                .and_then(Value::as_str)
                .is_none()
            {
                no_updated_at += 1;
            }
        }
        let watched = |kind: &str| kind == "(no type)" || resource_type::any_matches(types, kind);
        let seen: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} x {k}")).collect();
        if seen.is_empty() {
            d.ok(format!("tenant {name}: no resources yet"));
        } else {
            d.ok(format!("tenant {name}: {}", seen.join(", ")));
        }
        for (kind, n) in kinds.iter().filter(|(k, _)| !watched(k)) {
            d.note(format!(
                "tenant {name}: {n} resources of type {kind} are not watched by resource_types"
            ));
        }
    }
    if survey.len() > shown {
        d.note(format!(
            "{} more tenant(s) not read here (`doctor --tenant ID` reads one)",
            survey.len() - shown
        ));
    }
    for (status, n) in &unknown {
        d.note(format!(
            "{n} x status {status:?}: a status the worker does not know; kept, counted as \
             `other` in digests, and a rule can name it only after an upgrade"
        ));
    }
    if no_updated_at > 0 {
        d.note(format!(
            "{no_updated_at} item(s) without context.updated_at: incremental polls cannot \
             see their changes; full passes (full_resync_every) will"
        ));
    }
    d.note(
        "whether a status change moves updated_at is unconfirmed: with incremental = \"auto\" \
         every full pass checks it (see `state tenants`, incremental_misses)",
    );
    true
}

/// Step 7: `include_attributes` (agent and CyberFit data).
async fn attributes(d: &mut Doctor, client: &AcronisClient, target: &WatchedTenant) {
    d.step("Attributes (include_attributes=true)");
    let query = [
        ("include_attributes", "true".to_string()),
        ("limit", "10".to_string()),
    ];
    match client
        .probe(&target.scope, Some(&target.id), STATUSES, &query)
        .await
    {
        Ok(page) => {
            let empty = Vec::new();
            let items = page["items"].as_array().unwrap_or(&empty);
            let mut names: BTreeMap<String, usize> = BTreeMap::new();
            for a in items
                .iter()
                .filter_map(|i| i.pointer("/context/attributes").and_then(Value::as_array))
                .flatten()
            {
                let name = a["name"].as_str().unwrap_or("(no name)");
                *names.entry(name.to_string()).or_default() += 1;
            }
            if names.is_empty() {
                d.note(format!(
                    "{} item(s), none with context.attributes: agent and CyberFit data are \
                     not available here",
                    items.len()
                ));
            } else {
                let list: Vec<String> = names.iter().map(|(n, c)| format!("{n} ({c})")).collect();
                d.ok(format!("attributes present: {}", list.join(", ")));
            }
        }
        Err(e) => d.note(format!(
            "include_attributes was refused ({e}): agent and CyberFit data are not available"
        )),
    }
}

/// Step 8: Alert Manager (the platform's own alerts), read as platform rules read it:
/// the open alerts, then an incremental read with dismissed ones.
async fn alert_manager(d: &mut Doctor, client: &AcronisClient, target: &WatchedTenant) {
    d.step("Alert Manager (platform alerts, for source = \"platform\" rules)");
    let open = [
        ("order", "desc(created_at)".to_string()),
        ("limit", SAMPLE.to_string()),
    ];
    let page = match client
        .probe(&target.scope, Some(&target.id), ALERTS, &open)
        .await
    {
        Ok(page) => page,
        Err(e) => {
            d.note(format!(
                "not reachable ({e}): platform rules cannot read alerts with this client (each \
                 failed read is logged and counted; resource polling is not affected); give \
                 the API client a role that can read alerts, or remove the platform rules"
            ));
            return;
        }
    };
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let read: Vec<_> = items.iter().map(PlatformAlert::from_json).collect();
    let bad = read.iter().filter(|r| r.is_err()).count();
    let alerts: Vec<PlatformAlert> = read.into_iter().flatten().collect();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for a in &alerts {
        *kinds
            .entry(format!("{} {} ({})", a.severity, a.kind, a.category))
            .or_default() += 1;
    }
    let summary = kinds
        .iter()
        .map(|(k, n)| format!("{n} x {k}"))
        .collect::<Vec<_>>()
        .join(", ");
    d.ok(format!(
        "reachable; {} open alert(s) on a first page of {SAMPLE}{}",
        alerts.len(),
        if summary.is_empty() {
            String::new()
        } else {
            format!(": {summary}")
        }
    ));
    if bad > 0 {
        d.note(format!(
            "{bad} item(s) have no id and would be passed over (logged once per read)"
        ));
    }
    if alerts.iter().any(|a| a.updated_at.is_none()) {
        d.note(
            "some alerts carry no updatedAt: incremental reads cannot move past them; the \
             complete listing with each full pass still resolves dismissed ones",
        );
    }
    let incremental = [
        ("order", "desc(created_at)".to_string()),
        ("limit", "1".to_string()),
        ("updated_at", "gt(0)".to_string()),
        ("show_deleted", "true".to_string()),
    ];
    match client
        .probe(&target.scope, Some(&target.id), ALERTS, &incremental)
        .await
    {
        Ok(_) => d.ok("updated_at=gt(...) with show_deleted=true is accepted (incremental reads)"),
        Err(e) => d.note(format!(
            "an incremental read was refused ({e}): platform rules would fail each read \
             between full passes; report the message"
        )),
    }
}

fn advice(e: &ApiError) -> &'static str {
    match e.status() {
        Some(401) | Some(403) => {
            "the token lacks the scope `urn:acronis.com::resource_management::read`: give the API \
             client a role that can read protection status"
        }
        Some(404) => "the datacenter_url may point at the wrong host: use your datacenter's URL",
        Some(400) => "the server refused a parameter; report the message above",
        _ => "check connectivity to the datacenter and try again",
    }
}

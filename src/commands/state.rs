//! `state ...`: what the state directory holds, as a table or JSON.

use std::collections::HashMap;

use serde::Serialize;

use crate::acronis::model::{Policy, Timestamp};
use crate::cli::ResourcesArgs;
use crate::config::Config;
use crate::model::{TenantNames, TenantPoll, TenantRecord, tenant_name};
use crate::state::Store;

use super::Exit;

/// The flat JSON shape of SPEC §2.
#[derive(Serialize)]
struct ResourceRow<'a> {
    tenant_id: &'a str,
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    status: &'a str,
    updated_at: Option<Timestamp>,
    policies: &'a [Policy],
}

/// Open the store for reading; a missing directory is reported, not created.
fn open(cfg: &Config) -> Result<Store, Exit> {
    if !cfg.state.path.exists() {
        eprintln!(
            "error: no state at {} (nothing has been polled yet)",
            cfg.state.path.display()
        );
        return Err(Exit::Failed);
    }
    Store::open(&cfg.state.path, cfg.state.cache_mb).map_err(|e| {
        eprintln!("error: {e}");
        Exit::Failed
    })
}

pub fn resources(cfg: &Config, args: ResourcesArgs) -> Exit {
    let store = match open(cfg) {
        Ok(s) => s,
        Err(exit) => return exit,
    };
    let names = TenantNames::configured(cfg.tenant_names()).with_api(
        store
            .tenants()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.name.map(|n| (t.id, n))),
    );
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = if args.json {
        write_json(&store, args.tenant.as_deref(), &mut out)
    } else {
        write_table(&store, args.tenant.as_deref(), &names, &mut out)
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

fn write_json(
    store: &Store,
    tenant: Option<&str>,
    out: &mut impl std::io::Write,
) -> Result<(), String> {
    // Streamed: one record in memory at a time.
    out.write_all(b"[").map_err(|e| e.to_string())?;
    for (i, r) in store.resources(tenant).enumerate() {
        let r = r.map_err(|e| e.to_string())?;
        if i > 0 {
            out.write_all(b",\n").map_err(|e| e.to_string())?;
        }
        let row = ResourceRow {
            tenant_id: &r.tenant_id,
            id: &r.id,
            name: &r.name,
            kind: &r.kind,
            status: r.status.as_str(),
            updated_at: r.updated_at,
            policies: &r.policies,
        };
        serde_json::to_writer(&mut *out, &row).map_err(|e| e.to_string())?;
    }
    out.write_all(b"]\n").map_err(|e| e.to_string())
}

fn write_table(
    store: &Store,
    tenant: Option<&str>,
    names: &TenantNames,
    out: &mut impl std::io::Write,
) -> Result<(), String> {
    let w = |out: &mut dyn std::io::Write, cols: [&str; 5]| {
        writeln!(
            out,
            "{:<24} {:<28} {:<22} {:<30} {}",
            cols[0], cols[1], cols[2], cols[3], cols[4]
        )
        .map_err(|e| e.to_string())
    };
    w(
        out,
        ["TENANT", "NAME", "STATUS", "UPDATED", "LAST BACKUP OK"],
    )?;
    let mut count = 0;
    for r in store.resources(tenant) {
        let r = r.map_err(|e| e.to_string())?;
        count += 1;
        let tenant = names.name(&r.tenant_id);
        let backup = r
            .policies
            .iter()
            .find(|p| p.kind == "policy.backup.machine")
            .map(|p| {
                p.last_success_run.map_or("never".to_string(), |t| {
                    t.0.format("%Y-%m-%d %H:%M").to_string()
                })
            })
            .unwrap_or_else(|| "-".to_string());
        let updated = r.updated_at.map_or("-".to_string(), |t| {
            t.0.format("%Y-%m-%d %H:%M:%S").to_string()
        });
        w(
            out,
            [
                &clip(&tenant, 24),
                &clip(&r.name, 28),
                r.status.as_str(),
                &updated,
                &backup,
            ],
        )?;
    }
    writeln!(out, "{count} resource(s)").map_err(|e| e.to_string())
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

/// `state tenants`: one row per tenant polled at least once or in the directory.
#[derive(Serialize)]
struct TenantRow<'a> {
    id: &'a str,
    /// The same as `id` (the name earlier versions printed).
    tenant_id: &'a str,
    name: Option<&'a str>,
    /// false: a customer the API shows disabled, not polled.
    enabled: bool,
    /// "incremental" or "full" (after a miss under `incremental = "auto"`); none for a
    /// tenant never polled.
    mode: Option<&'static str>,
    incremental_misses: u64,
    /// Server time the next incremental poll reads back to (minus the overlap).
    watermark: Option<String>,
    last_poll: Option<String>,
    last_full_resync: Option<String>,
}

pub fn tenants(cfg: &Config, json: bool) -> Exit {
    let store = match open(cfg) {
        Ok(s) => s,
        Err(exit) => return exit,
    };
    let (polls, known) = match store.tenant_polls().and_then(|p| Ok((p, store.tenants()?))) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    let directory: HashMap<&str, &TenantRecord> =
        known.iter().map(|t| (t.id.as_str(), t)).collect();
    let polled: HashMap<&str, &TenantPoll> = polls.iter().map(|(id, p)| (id.as_str(), p)).collect();
    let mut ids: Vec<&str> = polled.keys().chain(directory.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<TenantRow> = ids
        .into_iter()
        .map(|id| {
            let record = directory.get(id);
            let poll = polled.get(id);
            let time = |f: fn(&TenantPoll) -> &Timestamp| poll.map(|p| rfc3339(&f(p).0));
            TenantRow {
                id,
                tenant_id: id,
                name: tenant_name(
                    record.and_then(|r| r.name.as_deref()),
                    cfg.tenants.get(id).and_then(|s| s.name.as_deref()),
                ),
                enabled: record.is_none_or(|r| r.enabled),
                mode: poll.map(|p| p.mode.as_str()),
                incremental_misses: poll.map_or(0, |p| p.incremental_misses),
                watermark: time(|p| &p.watermark),
                last_poll: time(|p| &p.last_poll),
                last_full_resync: time(|p| &p.last_full_resync),
            }
        })
        .collect();
    if json {
        return print_json(&rows);
    }
    let mut table = vec![
        [
            "TENANT",
            "NAME",
            "ENABLED",
            "MODE",
            "MISSES",
            "WATERMARK",
            "LAST POLL",
            "LAST FULL RESYNC",
        ]
        .map(String::from),
    ];
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".to_string());
    for row in &rows {
        table.push([
            row.id.to_string(),
            row.name.unwrap_or("-").to_string(),
            if row.enabled { "yes" } else { "no" }.to_string(),
            row.mode.unwrap_or("-").to_string(),
            row.incremental_misses.to_string(),
            dash(&row.watermark),
            dash(&row.last_poll),
            dash(&row.last_full_resync),
        ]);
    }
    print_table(&table);
    let disabled = rows.iter().filter(|r| !r.enabled).count();
    println!(
        "{} tenant(s) polled, {disabled} disabled (not polled)",
        polls.len()
    );
    Exit::Ok
}

/// `state alerts`: SPEC §2's flat rows.
#[derive(Serialize)]
struct AlertRow<'a> {
    key: &'a str,
    rule: &'a str,
    tenant_id: &'a str,
    resource_id: &'a str,
    policy: Option<&'a str>,
    status: &'a str,
    severity: &'a str,
    fired_at: String,
    resolved_at: Option<String>,
    last_notified_at: Option<String>,
}

/// Every record `read` yields from the store, or the exit status after saying why not.
fn read_all<T>(
    cfg: &Config,
    read: impl FnOnce(&Store) -> Result<Vec<T>, crate::state::StateError>,
) -> Result<Vec<T>, Exit> {
    let store = open(cfg)?;
    read(&store).map_err(|e| {
        eprintln!("error: {e}");
        Exit::Failed
    })
}

fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub fn alerts(cfg: &Config, json: bool) -> Exit {
    let records = match read_all(cfg, |store| store.alerts().collect()) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    let rows: Vec<AlertRow> = records
        .iter()
        .map(|a| AlertRow {
            key: &a.key,
            rule: &a.rule,
            tenant_id: &a.tenant_id,
            resource_id: &a.resource_id,
            policy: a.policy.as_deref(),
            status: a.status.as_str(),
            severity: a.severity.as_str(),
            fired_at: rfc3339(&a.fired_at),
            resolved_at: a.resolved_at.as_ref().map(rfc3339),
            last_notified_at: a.last_notified_at.as_ref().map(rfc3339),
        })
        .collect();
    if json {
        return print_json(&rows);
    }
    let mut table = vec![
        [
            "STATUS",
            "SEVERITY",
            "RULE",
            "RESOURCE",
            "SINCE",
            "LAST NOTIFIED",
            "KEY",
        ]
        .map(String::from),
    ];
    for (a, row) in records.iter().zip(&rows) {
        let since = match &row.resolved_at {
            Some(t) => t.clone(),
            None => row.fired_at.clone(),
        };
        table.push([
            row.status.to_string(),
            row.severity.to_string(),
            row.rule.to_string(),
            a.resource_name.clone(),
            since,
            row.last_notified_at.clone().unwrap_or_else(|| "-".into()),
            row.key.to_string(),
        ]);
    }
    print_table(&table);
    println!(
        "{} alert(s), {} firing",
        rows.len(),
        rows.iter().filter(|r| r.status == "firing").count()
    );
    Exit::Ok
}

/// `state outbox`: SPEC §2's flat rows.
#[derive(Serialize)]
struct OutboxRow<'a> {
    id: u64,
    channel: &'a str,
    rule: &'a str,
    status: &'a str,
    alerts: Vec<&'a str>,
    /// Alerts in the message beyond `alerts` (counted, not listed).
    more: usize,
    attempts: u32,
    next_attempt_at: String,
    last_error: Option<&'a str>,
}

pub fn outbox(cfg: &Config, json: bool) -> Exit {
    match read_all(cfg, |store| store.outbox().collect()) {
        Ok(items) => print_items(&items, json, "queued"),
        Err(exit) => exit,
    }
}

/// `state dead`: the same rows as the outbox, for the dead letters.
pub fn dead(cfg: &Config, json: bool) -> Exit {
    match read_all(cfg, |store| store.dead().collect()) {
        Ok(items) => print_items(&items, json, "dead"),
        Err(exit) => exit,
    }
}

/// `state retry-dead`: every dead letter back to the outbox, due at once.
/// `state reset-incremental [--tenant ID]`.
pub fn reset_incremental(cfg: &Config, tenant: Option<&str>) -> Exit {
    let store = match open(cfg) {
        Ok(s) => s,
        Err(exit) => return exit,
    };
    if let Some(t) = tenant
        && !matches!(store.tenant_poll(t), Ok(Some(_)))
    {
        eprintln!("error: tenant {t} was never polled (see `state tenants`)");
        return Exit::Failed;
    }
    match store
        .reset_incremental(tenant)
        .and_then(|r| store.flush_blocking().map(|_| r))
    {
        Ok(reset) => {
            for t in &reset {
                println!("{t}: back on incremental polls");
            }
            println!(
                "{} tenant(s) reset; the next full pass checks them again",
                reset.len()
            );
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

pub fn retry_dead(cfg: &Config) -> Exit {
    let store = match open(cfg) {
        Ok(s) => s,
        Err(exit) => return exit,
    };
    let moved = store
        .retry_dead()
        .and_then(|n| store.flush_blocking().map(|_| n));
    match moved {
        Ok(n) => {
            println!("{n} dead letter(s) moved back to the outbox");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

fn print_items(items: &[crate::model::OutboxItem], json: bool, what: &str) -> Exit {
    let rows: Vec<OutboxRow> = items
        .iter()
        .map(|i| OutboxRow {
            id: i.id,
            channel: &i.channel,
            rule: &i.rule.name,
            status: i.status.as_str(),
            alerts: i.alerts.iter().map(|a| a.key.as_str()).collect(),
            more: i.more,
            attempts: i.attempts,
            next_attempt_at: rfc3339(&i.next_attempt_at),
            last_error: i.last_error.as_deref(),
        })
        .collect();
    if json {
        return print_json(&rows);
    }
    let mut table = vec![
        [
            "ID",
            "CHANNEL",
            "RULE",
            "STATUS",
            "ALERTS",
            "ATTEMPTS",
            "NEXT ATTEMPT",
            "LAST ERROR",
        ]
        .map(String::from),
    ];
    for (i, row) in items.iter().zip(&rows) {
        table.push([
            row.id.to_string(),
            row.channel.to_string(),
            row.rule.to_string(),
            row.status.to_string(),
            i.count().to_string(),
            row.attempts.to_string(),
            row.next_attempt_at.clone(),
            row.last_error.unwrap_or("-").to_string(),
        ]);
    }
    print_table(&table);
    println!("{} item(s) {what}", rows.len());
    Exit::Ok
}

fn print_json(rows: &impl Serialize) -> Exit {
    match serde_json::to_string_pretty(rows) {
        Ok(s) => {
            println!("{s}");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

/// Columns padded to their widest cell (the last column is not padded).
fn print_table<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", line.trim_end());
    }
}

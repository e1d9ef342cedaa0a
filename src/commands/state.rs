//! `state ...`: what the state directory holds, as a table or JSON.

use std::collections::HashMap;

use serde::Serialize;

use crate::acronis::model::{Policy, Timestamp};
use crate::cli::ResourcesArgs;
use crate::config::Config;
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
    let names: HashMap<String, String> = store
        .tenants()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| t.name.map(|n| (t.id, n)))
        .collect();
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
    names: &HashMap<String, String>,
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
        let tenant = names
            .get(&r.tenant_id)
            .cloned()
            .unwrap_or_else(|| r.tenant_id.clone());
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

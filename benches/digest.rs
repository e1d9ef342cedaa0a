//! Digest benchmark (issue 6): `cargo bench --bench digest`.
//!
//! Every digest of 1,000 tenants with 100 machines each (100,000 machines; a mix of
//! statuses, 3% critical with a firing alert each), as `run` does at a cron tick:
//! read each tenant's resources and firing alerts, compare with its previous digest,
//! render the shipped templates (text and HTML), and queue them with the tenants'
//! records in one transaction. Target: < 2 s. Printed: the build alone, the render,
//! and the whole tick, twice (the second compares with the first's records).
//!
//! Knobs: `DIGEST_BENCH_TENANTS` (default 1,000), `DIGEST_BENCH_MACHINES` (per tenant,
//! default 100).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acronis_watch::acronis::model::{AggregateStatus, Policy, Timestamp};
use acronis_watch::alerts::AlertSettings;
use acronis_watch::digest;
use acronis_watch::evaluate::commit_page;
use acronis_watch::model::Severity;
use acronis_watch::model::{PageCommit, StoredResource, TenantRecord};
use acronis_watch::notify::Renderer;
use acronis_watch::rules::{Condition, Matcher, Rule, RuleSet};
use acronis_watch::state::Store;
use chrono::{DateTime, Utc};

fn main() {
    let tenants: usize = knob("DIGEST_BENCH_TENANTS", 1_000);
    let machines: usize = knob("DIGEST_BENCH_MACHINES", 100);
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = config(dir.path(), tenants);
    let store = Store::open(&config.state.path, config.state.cache_mb).expect("the store opens");
    let eval = AlertSettings {
        rules: Arc::new(RuleSet {
            rules: vec![critical_rule()],
        }),
        ..AlertSettings::default()
    };
    let renderer = Renderer::shipped(&config).expect("the shipped templates compile");
    let t0: DateTime<Utc> = "2026-11-23T07:00:00Z".parse().expect("a time");

    let started = Instant::now();
    let mut records = Vec::new();
    for t in 0..tenants {
        let page = PageCommit {
            tenant: tenant_id(t),
            upserts: (0..machines).map(|k| resource(t, k, t0)).collect(),
            ..Default::default()
        };
        commit_page(&store, &page, &eval, t0).expect("a page commits");
        records.push(TenantRecord {
            enabled: true,
            id: tenant_id(t),
            name: Some(format!("Customer {t}")),
            scope: "tenant".into(),
        });
    }
    store.put_tenants(&records).expect("tenants recorded");
    println!(
        "stored {} machines of {tenants} tenants, {} alerts firing, in {:.1} s",
        tenants * machines,
        store.alerts().count(),
        started.elapsed().as_secs_f64()
    );

    let recipients = digest::recipients(&store, &config).expect("recipients");
    assert_eq!(recipients.len(), tenants);
    for (week, now) in [t0, t0 + chrono::Duration::days(7)].into_iter().enumerate() {
        let started = Instant::now();
        let built =
            digest::build_all(&store, &eval, "Europe/Berlin", &recipients, now).expect("built");
        let build = started.elapsed();
        let started = Instant::now();
        let mut bytes = 0;
        for b in &built {
            if let Ok(acronis_watch::notify::Rendered::Email { text, html, .. }) =
                renderer.render_digest(&b.context, now)
            {
                bytes += text.len() + html.len();
            }
        }
        let render = started.elapsed();
        let started = Instant::now();
        let (queued, errors) = digest::queue(
            &store,
            &config,
            &eval,
            &renderer,
            &recipients,
            Some(now),
            now,
        )
        .expect("queued");
        let tick = started.elapsed();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(queued.len(), tenants);
        println!(
            "week {}: build {:.0} ms, render {:.0} ms ({:.1} MB of mail), whole tick (build + render + queue) {:.0} ms  (target < 2000 ms)",
            week + 1,
            ms(build),
            ms(render),
            bytes as f64 / 1e6,
            ms(tick)
        );
    }
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A worker.toml with an email channel, a `[digest]`, and every tenant with `digest_to`.
fn config(dir: &std::path::Path, tenants: usize) -> acronis_watch::config::Config {
    let mut text = String::from(
        r#"
[acronis]
datacenter_url = "https://eu2-cloud.acronis.com"
client_id = "bench"
client_secret = "bench"

[state]
path = "state"

[[channel]]
name = "mail"
type = "email"
smtp = "smtp+plain://127.0.0.1:2525"
from = "MSP <alerts@msp.example>"
to = ["noc@msp.example"]

[digest]
cron = "0 0 8 * * Mon"
timezone = "Europe/Berlin"
channel = "mail"
"#,
    );
    for t in 0..tenants {
        let _ = write!(
            text,
            "\n[tenant.\"{}\"]\ndigest_to = [\"it@customer{t}.example\"]\n",
            tenant_id(t)
        );
    }
    let path = dir.join("worker.toml");
    std::fs::write(&path, text).expect("config written");
    acronis_watch::config::load(&path).expect("a valid config")
}

fn tenant_id(i: usize) -> String {
    format!("{i:08x}-0000-4000-8000-000000000000")
}

/// Statuses in the proportions of a real fleet: mostly healthy, 3% critical.
fn status(k: usize) -> &'static str {
    match k % 100 {
        0..=2 => "critical",
        3..=6 => "error",
        7..=11 => "warning",
        12 => "interaction_required",
        13 => "no_policies_applied",
        14 => "degraded",
        15..=40 => "idle",
        _ => "ok",
    }
}

fn resource(tenant: usize, k: usize, now: DateTime<Utc>) -> StoredResource {
    let day = chrono::Duration::hours(24);
    let success = now - chrono::Duration::hours(2 + (k % 40) as i64);
    StoredResource {
        tenant_id: tenant_id(tenant),
        id: format!("{tenant:08x}-{k:04x}-4000-8000-{k:012x}"),
        name: format!("host-{k}"),
        kind: "resource.machine".into(),
        api_tenant_id: Some(format!("{}", 1_000_000 + tenant)),
        agent_id: None,
        external_id: None,
        status: AggregateStatus::parse(status(k)),
        plans: Some("Daily backup".into()),
        created_at: Some(Timestamp(now - day * 30)),
        updated_at: Some(Timestamp(now)),
        policies: vec![Policy {
            kind: "policy.backup.machine".into(),
            last_run: Some(Timestamp(success)),
            last_success_run: Some(Timestamp(success)),
            next_run: Some(Timestamp(success + day)),
        }],
        agent: None,
        cyberfit: None,
    }
}

fn critical_rule() -> Rule {
    Rule {
        name: "machine-critical".into(),
        description: "A machine is critical".into(),
        severity: Severity::Critical,
        notify: vec![],
        condition: Condition::Status(vec![AggregateStatus::parse("critical")]),
        matcher: Matcher::default(),
        repeat: None,
        resolve: false,
        group_window: Duration::ZERO,
        flap: None,
        file: "rules/bench.toml".into(),
        line: 1,
    }
}

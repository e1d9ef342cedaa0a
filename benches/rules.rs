//! Evaluation benchmarks (issue 4): `cargo bench --bench rules`.
//!
//! 1. An evaluation tick with no due deadline at 1,000,000 indexed resources
//!    (target < 1 ms): the deadline index is read from its start to `now`, nothing else.
//! 2. One page of 500 changed resources against 27 rules (status, stale, overdue, last
//!    run failed, agent offline and disabled, CyberFit, a platform rule; flap on the
//!    status rules), committed with its alert
//!    records, deadlines and outbox items in one sled transaction (target < 5 ms).
//!
//! Also printed: the pure evaluation alone, and a storm page where every resource
//! transitions (no target; it writes ~1,000 alert records and outbox items).
//!
//! Knobs: `RULES_BENCH_RESOURCES` (default 1,000,000; fewer for a quick run),
//! `RULES_BENCH_CACHE_MB` (sled page cache, default 64), `RULES_BENCH_ROUNDS` (pages
//! measured, default 40).

use std::sync::Arc;
use std::time::{Duration, Instant};

use acronis_watch::acronis::model::{AggregateStatus, Policy, Timestamp};
use acronis_watch::alerts::AlertSettings;
use acronis_watch::evaluate::{commit_page, run_deadlines};
use acronis_watch::model::Severity;
use acronis_watch::model::{Agent, PageCommit, StoredResource};
use acronis_watch::rules::{Condition, Flap, Matcher, PlatformFilter, Rule, RuleSet};
use acronis_watch::state::Store;
use chrono::{DateTime, Utc};

const PAGE: usize = 500;
const TENANTS: usize = 20;

fn main() {
    let total: usize = std::env::var("RULES_BENCH_RESOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("a temp dir");
    // state.cache_mb: sled's page cache. At 1M resources (~300 MB of records) the
    // pages a commit touches are often not cached at the default.
    let cache_mb: u64 = std::env::var("RULES_BENCH_CACHE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let store = Store::open(&dir.path().join("state"), cache_mb).expect("the store opens");
    println!("state.cache_mb = {cache_mb}");
    let eval = if std::env::var_os("RULES_BENCH_NO_RULES").is_some() {
        AlertSettings::default()
    } else {
        evaluator()
    };
    let t0: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().expect("a time");

    // Index `total` resources: every one gets deadlines from the time-based rules.
    let started = Instant::now();
    let per_tenant = total / TENANTS;
    for tenant in 0..TENANTS {
        let mut i = 0;
        while i < per_tenant {
            let n = PAGE.min(per_tenant - i);
            let page = PageCommit {
                tenant: tenant_id(tenant),
                upserts: (i..i + n).map(|k| resource(tenant, k, "ok", t0)).collect(),
                ..Default::default()
            };
            commit_page(&store, &page, &eval, t0).expect("a page commits");
            i += n;
        }
    }
    let indexed = store.deadline_count();
    println!(
        "indexed {indexed} resources with deadlines in {:.1} s ({} rules)",
        started.elapsed().as_secs_f64(),
        eval.rules.len()
    );

    // 0. The pure part alone: every rule on 500 resources, no sled.
    let mut pure = Vec::new();
    let resources: Vec<StoredResource> = (0..PAGE).map(|k| resource(0, k, "ok", t0)).collect();
    let ctx = eval.at(t0 + chrono::Duration::hours(1));
    for _ in 0..200 {
        let started = Instant::now();
        for r in &resources {
            let mut read = |_: &str| -> Result<_, std::convert::Infallible> { Ok(None) };
            let p =
                acronis_watch::alerts::plan(&ctx, Some(r), &Default::default(), Some(r), &mut read)
                    .expect("infallible");
            std::hint::black_box(p);
        }
        pure.push(started.elapsed());
    }
    report(
        "pure evaluation of 500 resources x 26 rules (no sled)",
        &mut pure,
        Duration::from_millis(5),
    );

    // 1. Ticks with nothing due.
    let mut ticks = Vec::new();
    for i in 0..2000 {
        let now = t0 + chrono::Duration::seconds(i);
        let started = Instant::now();
        let mut looked_at = 0;
        run_deadlines(&store, &eval, now, |done| looked_at += done.resources).expect("a tick");
        ticks.push(started.elapsed());
        assert_eq!(looked_at, 0, "nothing is due yet");
    }
    report(
        "tick, no deadline due",
        &mut ticks,
        Duration::from_millis(1),
    );

    // 2. Pages of 500 changed resources against 26 rules: every resource's backup
    // ran (its deadlines move) and 1 in 20 changes status (so it fires or resolves).
    let mut pages = Vec::new();
    let (mut enqueued, mut alerts) = (0, 0);
    let rounds: usize = std::env::var("RULES_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    for round in 0..rounds {
        let now = t0 + chrono::Duration::minutes(5 * (round as i64 + 1));
        let tenant = round % TENANTS;
        let page = PageCommit {
            tenant: tenant_id(tenant),
            upserts: (0..PAGE)
                .map(|k| {
                    let status = if k % 20 == round % 20 {
                        "critical"
                    } else {
                        "ok"
                    };
                    resource(tenant, k, status, now)
                })
                .collect(),
            ..Default::default()
        };
        let started = Instant::now();
        let done = commit_page(&store, &page, &eval, now).expect("a page commits");
        pages.push(started.elapsed());
        enqueued += done.enqueued;
        alerts += done.alerts.len();
    }
    report(
        "page of 500 changed resources (5% change status) x 26 rules, one transaction",
        &mut pages,
        Duration::from_millis(5),
    );
    println!(
        "  ({alerts} alert records written, {enqueued} outbox items created over {rounds} pages)"
    );

    // 3. A storm: every resource of the page turns critical (then ok again), so each
    // fires (resolves) two rules on two channels: 1,000 alert records and ~1,000
    // outbox items per page.
    let mut pages = Vec::new();
    let (mut enqueued, mut alerts) = (0, 0);
    for round in 0..20usize {
        let status = if round % 2 == 0 { "critical" } else { "ok" };
        let now = t0 + chrono::Duration::hours(5 + round as i64);
        let tenant = TENANTS - 1;
        let page = PageCommit {
            tenant: tenant_id(tenant),
            upserts: (0..PAGE)
                .map(|k| resource(tenant, k, status, now))
                .collect(),
            ..Default::default()
        };
        let started = Instant::now();
        let done = commit_page(&store, &page, &eval, now).expect("a page commits");
        pages.push(started.elapsed());
        enqueued += done.enqueued;
        alerts += done.alerts.len();
    }
    report(
        "storm page: 500 resources all transitioning x 26 rules",
        &mut pages,
        Duration::from_millis(50),
    );
    println!("  ({alerts} alert records written, {enqueued} outbox items created over 20 pages)");
}

fn report(what: &str, samples: &mut [Duration], target: Duration) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    let median = pct(0.5);
    println!(
        "{what}: median {:.3} ms, p90 {:.3} ms, max {:.3} ms (target < {} ms: {})",
        ms(median),
        ms(pct(0.9)),
        ms(pct(1.0)),
        target.as_millis(),
        if median < target { "met" } else { "MISSED" }
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn tenant_id(i: usize) -> String {
    format!("{i:08x}-0000-4000-8000-000000000000")
}

fn resource(tenant: usize, k: usize, status: &str, now: DateTime<Utc>) -> StoredResource {
    let day = chrono::Duration::hours(24);
    let success = now - chrono::Duration::hours(2);
    StoredResource {
        tenant_id: tenant_id(tenant),
        id: format!("{tenant:08x}-{k:04x}-4000-8000-{k:012x}"),
        name: format!("host-{k}"),
        kind: "resource.machine".into(),
        api_tenant_id: Some(format!("{}", 1_000_000 + tenant)),
        agent_id: None,
        external_id: None,
        status: AggregateStatus::parse(status),
        plans: Some("Daily backup".into()),
        created_at: Some(Timestamp(now - day * 30)),
        updated_at: Some(Timestamp(now)),
        policies: vec![
            Policy {
                kind: "policy.backup.machine".into(),
                last_run: Some(Timestamp(success)),
                last_success_run: Some(Timestamp(success)),
                next_run: Some(Timestamp(success + day)),
            },
            Policy {
                kind: "policy.security.antimalware_protection".into(),
                last_run: Some(Timestamp(success)),
                last_success_run: Some(Timestamp(success)),
                next_run: Some(Timestamp(success + day)),
            },
        ],
        // Agent data as `include_attributes` gives it: one agent in 20 offline, one
        // score in 5 poor.
        agent: Some(Agent {
            online: Some(k % 20 != 7),
            enabled: Some(k % 50 != 3),
            version: Some("15.0.36137".into()),
            offline_since: (k % 20 == 7).then(|| Timestamp(now - chrono::Duration::hours(3))),
        }),
        cyberfit: Some(if k.is_multiple_of(5) { 400 } else { 700 }),
    }
}

/// 26 rules: status rules with assorted filters (and flap), stale, overdue and
/// last-run-failed rules on two policies, the agent and CyberFit conditions and a
/// platform rule (which never applies to a resource), all notifying two channels.
fn evaluator() -> AlertSettings {
    let mut rules = Vec::new();
    let statuses = [
        "critical",
        "error",
        "warning",
        "interaction_required",
        "no_policies_applied",
    ];
    for (i, s) in statuses.iter().enumerate() {
        for (j, names) in [vec![], vec!["host-*".to_string()]].into_iter().enumerate() {
            rules.push(rule(
                &format!("status-{i}-{j}"),
                Condition::Status(vec![AggregateStatus::parse(s)]),
                Matcher::new(vec!["resource.machine".into()], vec![], &names).expect("globs"),
                j == 0,
            ));
        }
    }
    for (i, policy) in [
        "policy.backup.machine",
        "policy.security.antimalware_protection",
    ]
    .iter()
    .enumerate()
    {
        for hours in [26u64, 48, 72] {
            rules.push(rule(
                &format!("stale-{i}-{hours}"),
                Condition::Stale {
                    policy: policy.to_string(),
                    older_than: Duration::from_secs(hours * 3600),
                },
                Matcher::default(),
                false,
            ));
        }
        for hours in [2u64, 6] {
            rules.push(rule(
                &format!("overdue-{i}-{hours}"),
                Condition::Overdue {
                    policy: policy.to_string(),
                    overdue_by: Duration::from_secs(hours * 3600),
                },
                Matcher::default(),
                false,
            ));
        }
    }
    for policy in [
        "policy.backup.machine",
        "policy.security.antimalware_protection",
    ] {
        rules.push(rule(
            &format!("failed-{policy}"),
            Condition::LastRunFailed {
                policy: policy.to_string(),
            },
            Matcher::default(),
            false,
        ));
    }
    for (name, condition) in [
        (
            "agent-offline",
            Condition::AgentOfflineFor(Duration::from_secs(2 * 3600)),
        ),
        ("agent-disabled", Condition::AgentDisabled),
        ("cyberfit-low", Condition::CyberfitBelow(579)),
        ("platform", Condition::Platform(PlatformFilter::default())),
    ] {
        rules.push(rule(name, condition, Matcher::default(), false));
    }
    // Flap detection on the status rules: every firing keeps its change times.
    for r in rules.iter_mut().filter(|r| r.name.starts_with("status-")) {
        r.flap = Some(Flap {
            changes: 4,
            within: Duration::from_secs(3600),
        });
    }
    assert_eq!(rules.len(), 26);
    AlertSettings {
        rules: Arc::new(RuleSet { rules }),
        ..AlertSettings::default()
    }
}

fn rule(name: &str, condition: Condition, matcher: Matcher, grouped: bool) -> Rule {
    Rule {
        name: name.into(),
        description: format!("benchmark rule {name}"),
        severity: Severity::Critical,
        notify: vec!["chat".into(), "mail".into()],
        condition,
        matcher,
        repeat: Some(Duration::from_secs(4 * 3600)),
        resolve: true,
        group_window: if grouped {
            Duration::from_secs(30)
        } else {
            Duration::ZERO
        },
        flap: None,
        file: "rules/bench.toml".into(),
        line: 1,
    }
}

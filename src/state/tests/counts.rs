//! The counts against a real sled directory: after any sequence of polls, deletions,
//! deadline ticks, rule changes and forgotten tenants they equal a recount from
//! scratch; a schema-1 directory is counted at open.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;
use crate::alerts::AlertSettings;
use crate::evaluate::forget_tenant;
use crate::evaluate::tests::{deadlines, recheck};
use crate::model::Severity;
use crate::rules::tests::{backup, h, machine, stale_rule, status_rule, t};
use crate::rules::{Rule, RuleSet};

fn eval(rules: Vec<Rule>) -> AlertSettings {
    AlertSettings {
        rules: Arc::new(RuleSet { rules }),
        ..AlertSettings::default()
    }
}

/// The rules of the `n`th rule set: they differ in what fires and at what severity.
fn rules(n: u8) -> AlertSettings {
    let mut critical = status_rule(&["critical"]);
    critical.name = "machine-critical".into();
    critical.severity = Severity::Critical;
    let mut bad = status_rule(&["critical", "error"]);
    bad.severity = if n.is_multiple_of(2) {
        Severity::Warning
    } else {
        Severity::Critical
    };
    match n % 3 {
        0 => eval(vec![critical, stale_rule(26)]),
        1 => eval(vec![bad, stale_rule(48)]),
        _ => eval(vec![critical, bad]),
    }
}

/// What the counts must be: every stored resource and alert counted now.
fn recount(store: &Store) -> Counts {
    let mut c = Counts::default();
    for r in store.resources(None) {
        *c.resources
            .entry(r.unwrap().status.as_str().to_string())
            .or_default() += 1;
    }
    for a in store.alerts() {
        let a = a.unwrap();
        if a.status == crate::model::AlertStatus::Firing {
            *c.firing
                .entry(a.rule.clone())
                .or_default()
                .entry(a.severity.as_str().to_string())
                .or_default() += 1;
        }
    }
    c
}

fn host(tenant: &str, id: u8, status: &str, success: DateTime<Utc>) -> StoredResource {
    let mut r = machine(&format!("m{id}"), status);
    r.tenant_id = tenant.to_string();
    r.policies = vec![backup(Some(success), Some(success), None)];
    r
}

#[derive(Debug, Clone)]
enum Op {
    /// A page of (machine, status index, hours since its last backup).
    Poll {
        tenant: u8,
        items: Vec<(u8, u8, u8)>,
    },
    Delete {
        tenant: u8,
        ids: Vec<u8>,
    },
    /// Time passes by this many hours and due deadlines run.
    Tick(u8),
    Rules(u8),
    Forget(u8),
}

const STATUSES: [&str; 5] = ["ok", "warning", "error", "critical", "not_protected"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2u8, prop::collection::vec((0..12u8, 0..5u8, 0..60u8), 1..8))
            .prop_map(|(tenant, items)| Op::Poll { tenant, items }),
        1 => (0..2u8, prop::collection::vec(0..12u8, 1..4))
            .prop_map(|(tenant, ids)| Op::Delete { tenant, ids }),
        1 => (1..30u8).prop_map(Op::Tick),
        1 => (0..3u8).prop_map(Op::Rules),
        1 => (0..2u8).prop_map(Op::Forget),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn counts_always_equal_a_recount(ops in prop::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 4).unwrap();
        let mut now = t("2026-11-23T12:00:00Z");
        let mut ev = rules(0);
        for op in ops {
            match op {
                Op::Poll { tenant, items } => {
                    let tenant = format!("tenant-{tenant}");
                    let mut upserts: Vec<StoredResource> = Vec::new();
                    for (id, status, age) in items {
                        upserts.retain(|r| r.id != format!("m{id}"));
                        upserts.push(host(&tenant, id, STATUSES[status as usize], now - h(age as i64)));
                    }
                    let page = PageCommit { tenant, upserts, ..PageCommit::default() };
                    commit_page(&store, &page, &ev, now).unwrap();
                }
                Op::Delete { tenant, mut ids } => {
                    ids.sort();
                    ids.dedup();
                    let page = PageCommit {
                        tenant: format!("tenant-{tenant}"),
                        deletes: ids.iter().map(|id| format!("m{id}")).collect(),
                        ..PageCommit::default()
                    };
                    commit_page(&store, &page, &ev, now).unwrap();
                }
                Op::Tick(hours) => {
                    now += h(hours as i64);
                    deadlines(&store, &ev, now).unwrap();
                }
                Op::Rules(n) => {
                    ev = rules(n);
                    recheck(&store, &ev, now).unwrap();
                }
                Op::Forget(tenant) => {
                    forget_tenant(&store, &format!("tenant-{tenant}"), &ev, now).unwrap();
                }
            }
            prop_assert_eq!(store.counts().unwrap(), recount(&store));
        }
    }
}

#[test]
fn a_tenant_is_counted_apart_and_leaves_no_record_when_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let now = t("2026-11-23T12:00:00Z");
    let ev = rules(0);
    for (tenant, statuses) in [
        ("tenant-a", ["ok", "critical", "critical"]),
        ("tenant-b", ["ok", "ok", "warning"]),
    ] {
        let upserts = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| host(tenant, i as u8, s, now))
            .collect();
        let page = PageCommit {
            tenant: tenant.into(),
            upserts,
            ..PageCommit::default()
        };
        commit_page(&store, &page, &ev, now).unwrap();
    }
    let a = store.tenant_counts("tenant-a").unwrap();
    assert_eq!(a.resources["ok"], 1);
    assert_eq!(a.resources["critical"], 2);
    assert_eq!(a.firing["machine-critical"]["critical"], 2);
    assert_eq!(store.counts().unwrap().resources["ok"], 3);

    forget_tenant(&store, "tenant-a", &ev, now).unwrap();
    assert_eq!(store.tenant_counts("tenant-a").unwrap(), Counts::default());
    assert!(
        store.counts.get(b"tenant-a").unwrap().is_none(),
        "no empty record is left behind"
    );
    let total = store.counts().unwrap();
    assert_eq!(total.resources.get("critical"), None);
    assert!(total.firing.is_empty(), "{total:?}");
}

#[test]
fn a_schema_1_directory_is_counted_once_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let now = t("2026-11-23T12:00:00Z");
    let expected = {
        let store = Store::open(dir.path(), 4).unwrap();
        let upserts = ["ok", "critical", "error", "critical"]
            .iter()
            .enumerate()
            .map(|(i, s)| host("tenant-1", i as u8, s, now - h(30)))
            .collect();
        let page = PageCommit {
            tenant: "tenant-1".into(),
            upserts,
            ..PageCommit::default()
        };
        commit_page(&store, &page, &rules(0), now).unwrap();
        let expected = store.counts().unwrap();
        assert_eq!(expected, recount(&store));
        assert_eq!(expected.firing["backup-stale"]["warning"], 4);
        // What a schema-1 directory looks like: no counts.
        store.counts.clear().unwrap();
        store.meta.insert(SCHEMA_KEY, &1u32.to_be_bytes()).unwrap();
        store.flush_blocking().unwrap();
        expected
    };
    let store = tests::reopen(dir.path());
    assert_eq!(store.counts().unwrap(), expected);
    assert_eq!(
        store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
        Some(&SCHEMA_VERSION.to_be_bytes()[..])
    );
}

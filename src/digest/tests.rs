//! Building a digest from stored data: totals, order, changes, caps.

use super::*;
use crate::model::Told;
use crate::rules::RuleSet;
use crate::rules::tests::{backup, machine, stale_rule, status_rule, t};

fn evaluator() -> AlertSettings {
    let mut critical = status_rule(&["critical"]);
    critical.name = "machine-critical".into();
    critical.severity = Severity::Critical;
    AlertSettings {
        rules: std::sync::Arc::new(RuleSet {
            rules: vec![critical, stale_rule(26)],
        }),
        ..AlertSettings::default()
    }
}

fn firing(rule: &str, resource: &str, severity: Severity, at: &str) -> AlertRecord {
    AlertRecord {
        key: format!("{rule}/tenant-1/{resource}"),
        rule: rule.into(),
        tenant_id: "tenant-1".into(),
        resource_id: resource.into(),
        resource_name: format!("host-{resource}"),
        policy: None,
        status: AlertStatus::Firing,
        severity,
        fired_at: t(at),
        resolved_at: None,
        last_notified_at: Some(t(at)),
        told: Told::Firing,
        changes: Vec::new(),
        flapping_since: None,
        found_at: None,
    }
}

fn tenant(resources: Vec<StoredResource>, firing: Vec<AlertRecord>) -> TenantData {
    TenantData {
        tenant: TenantRef {
            id: "tenant-1".into(),
            name: "Contoso".into(),
        },
        resources,
        firing,
    }
}

const NOW: &str = "2026-11-23T08:00:00Z";

#[test]
fn totals_follow_spec_section_5() {
    let statuses = [
        "ok",
        "idle",
        "scheduled",
        "running",
        "cancelling",
        "warning",
        "error",
        "critical",
        "critical",
        "interaction_required",
        "no_policies_applied",
        "not_protected",
        "quarantined",
    ];
    let resources = statuses
        .iter()
        .enumerate()
        .map(|(i, s)| machine(&format!("m{i:02}"), s))
        .collect();
    let built = build(
        &tenant(resources, vec![]),
        None,
        &evaluator(),
        "UTC",
        t(NOW),
    );
    let totals = built.context.totals;
    assert_eq!(
        (
            totals.machines,
            totals.ok,
            totals.warning,
            totals.error,
            totals.critical,
            totals.interaction_required,
            totals.not_protected,
            totals.other
        ),
        (13, 5, 1, 1, 2, 1, 2, 1)
    );
    // The unknown status is kept as the API named it.
    assert!(
        built
            .context
            .machines
            .iter()
            .any(|m| m.status == "quarantined")
    );
}

#[test]
fn problems_come_first_worst_first() {
    let mut stale = machine("b", "ok");
    stale.policies = vec![backup(
        Some(t("2026-11-20T00:00:00Z")),
        Some(t("2026-11-20T00:00:00Z")),
        None,
    )];
    let resources = vec![
        machine("a", "ok"),
        stale,
        machine("c", "critical"),
        machine("d", "warning"),
    ];
    let alerts = vec![
        firing(
            "backup-stale",
            "b",
            Severity::Warning,
            "2026-11-21T02:00:00Z",
        ),
        firing(
            "machine-critical",
            "c",
            Severity::Critical,
            "2026-11-22T10:00:00Z",
        ),
    ];
    let built = build(
        &tenant(resources, alerts),
        None,
        &evaluator(),
        "UTC",
        t(NOW),
    );
    let c = &built.context;
    let order: Vec<&str> = c.machines.iter().map(|m| m.id.as_str()).collect();
    // c (critical, firing), d (warning status, no alert), b (ok status, stale alert), a.
    assert_eq!(order, ["c", "d", "b", "a"]);
    assert_eq!(c.machines[0].since, Some(t("2026-11-22T10:00:00Z")));
    assert_eq!(c.machines[2].since, Some(t("2026-11-21T02:00:00Z")));
    assert!(c.machines[1].problem && !c.machines[3].problem);
    assert_eq!(
        c.machines[2].last_success_run,
        Some(t("2026-11-20T00:00:00Z"))
    );
    let rules: Vec<&str> = c.problems.iter().map(|p| p.rule.name.as_str()).collect();
    assert_eq!(rules, ["machine-critical", "backup-stale"]);
    assert_eq!(c.problems[0].alert.tenant.name, "Contoso");
    assert!(
        c.problems[1]
            .alert
            .summary
            .contains("last successful backup")
    );
    assert!(c.changes.first);
    assert_eq!(c.from, t(NOW) - chrono::Duration::days(7));
}

#[test]
fn changes_compare_with_the_previous_digest() {
    let eval = evaluator();
    let week1 = build(
        &tenant(
            vec![machine("a", "critical"), machine("b", "ok")],
            vec![firing(
                "machine-critical",
                "a",
                Severity::Critical,
                "2026-11-15T00:00:00Z",
            )],
        ),
        None,
        &eval,
        "UTC",
        t("2026-11-16T08:00:00Z"),
    );
    let week2 = build(
        &tenant(
            vec![machine("a", "ok"), machine("c", "critical")],
            vec![firing(
                "machine-critical",
                "c",
                Severity::Critical,
                "2026-11-20T00:00:00Z",
            )],
        ),
        Some(&week1.record),
        &eval,
        "UTC",
        t(NOW),
    );
    let ch = &week2.context.changes;
    assert!(!ch.first);
    assert_eq!(
        (
            ch.new_problems,
            ch.resolved_problems,
            ch.machines_added,
            ch.machines_removed
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(ch.new, ["host-c: machine-critical"]);
    assert_eq!(ch.resolved, ["host-a: machine-critical"]);
    assert_eq!(ch.added, ["host-c"]);
    assert_eq!(ch.removed, ["host-b"]);
    assert_eq!(week2.context.from, t("2026-11-16T08:00:00Z"));
}

#[test]
fn alerts_of_removed_rules_or_vanished_machines_are_not_shown() {
    let built = build(
        &tenant(
            vec![machine("a", "critical")],
            vec![
                firing("gone-rule", "a", Severity::Error, "2026-11-20T00:00:00Z"),
                firing(
                    "machine-critical",
                    "zz",
                    Severity::Critical,
                    "2026-11-20T00:00:00Z",
                ),
            ],
        ),
        None,
        &evaluator(),
        "UTC",
        t(NOW),
    );
    assert!(built.context.problems.is_empty());
    assert!(built.record.problems.is_empty());
}

#[test]
fn big_tenants_list_a_bounded_number_of_machines() {
    let n = MAX_MACHINES + 50;
    let resources = (0..n)
        .map(|i| machine(&format!("m{i:04}"), if i == n - 1 { "error" } else { "ok" }))
        .collect();
    let built = build(
        &tenant(resources, vec![]),
        None,
        &evaluator(),
        "UTC",
        t(NOW),
    );
    assert_eq!(built.context.machines.len(), MAX_MACHINES);
    assert_eq!(built.context.machines_more, 50);
    assert_eq!(built.context.totals.machines, n);
    // The one problem is listed, although it sorts last by name.
    assert_eq!(built.context.machines[0].status, "error");
    // Every machine is remembered, so next week's "removed" is exact.
    assert_eq!(built.record.machines.len(), n);
}

#[test]
fn the_chart_adds_up_to_100_percent_and_shows_every_status_present() {
    let mut resources: Vec<StoredResource> = (0..997)
        .map(|i| machine(&format!("m{i:04}"), "ok"))
        .collect();
    resources.push(machine("x1", "critical"));
    resources.push(machine("x2", "warning"));
    resources.push(machine("x3", "warning"));
    let built = build(
        &tenant(resources, vec![]),
        None,
        &evaluator(),
        "UTC",
        t(NOW),
    );
    let ctx = built.context.to_json(t(NOW), None);
    let chart = ctx["chart"].as_array().unwrap();
    let statuses: Vec<&str> = chart
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["critical", "warning", "ok"]);
    let sum: u64 = chart.iter().map(|s| s["percent"].as_u64().unwrap()).sum();
    assert_eq!(sum, 100);
    assert!(chart.iter().all(|s| s["percent"].as_u64().unwrap() >= 1));
}

#[test]
fn agents_offline_longest_first_and_the_lowest_cyberfit_scores() {
    use crate::acronis::model::Timestamp;
    use crate::model::Agent;
    let agent = |online: bool, since: Option<&str>| {
        Some(Agent {
            online: Some(online),
            enabled: Some(true),
            version: Some("15.0.36137".into()),
            offline_since: since.map(|s| Timestamp(t(s))),
        })
    };
    let mut resources = Vec::new();
    for (id, online, since, score) in [
        ("a", false, Some("2026-11-22T08:00:00Z"), Some(700)),
        ("b", false, Some("2026-11-20T08:00:00Z"), Some(400)),
        ("c", true, None, Some(578)),
        ("d", false, None, None),
        ("e", true, None, Some(850)),
        ("f", true, None, Some(12)),
        ("g", true, None, Some(600)),
        ("h", true, None, Some(601)),
    ] {
        let mut m = machine(id, "ok");
        m.agent = agent(online, since);
        m.cyberfit = score;
        resources.push(m);
    }
    let built = build(
        &tenant(resources, vec![]),
        None,
        &evaluator(),
        "UTC",
        t(NOW),
    );
    let c = &built.context;
    let offline: Vec<&str> = c.agents_offline.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        offline,
        ["host-b", "host-a", "host-d"],
        "longest first, unknown last"
    );
    assert_eq!(c.agents_offline_count, 3);
    assert_eq!(c.agents_offline[0].since, Some(t("2026-11-20T08:00:00Z")));
    let lowest: Vec<(&str, u32)> = c
        .cyberfit_lowest
        .iter()
        .map(|s| (s.name.as_str(), s.score))
        .collect();
    assert_eq!(
        lowest,
        [
            ("host-f", 12),
            ("host-b", 400),
            ("host-c", 578),
            ("host-g", 600),
            ("host-h", 601)
        ]
    );
    let json = c.to_json(t(NOW), None);
    assert_eq!(json["agents_offline"][0]["since_human"], "3d");
    assert_eq!(json["cyberfit_lowest"][0]["score"], 12);
}

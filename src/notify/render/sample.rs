//! Made-up notifications and a digest, for `check` (every template is rendered with
//! these before the worker starts), `preview` and the snapshot tests. Between them
//! they take every branch the shipped templates have: single and grouped, firing,
//! repeated and resolved, with and without a policy, listed and only counted alerts.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::digest::{Changes, DigestContext, DigestMachine, DigestProblem, Totals};
use crate::model::{
    AlertSnapshot, AlertStatus, OutboxItem, PolicySnapshot, ResourceRef, RuleInfo, Severity,
    TenantRef,
};
use crate::rules::Rule;

/// The instant samples are rendered at: Monday 2 March 2026, 09:30 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0)
        .single()
        .expect("a valid fixed date")
}

const MACHINES: [&str; 6] = [
    "SQL-01",
    "FS-02",
    "DC-01",
    "WS-ACCT-07",
    "EXCH-01",
    "WEB-03",
];
const TENANTS: [(&str, &str); 3] = [
    ("3b6f0c2e-9d1a-4c57-8f2e-1a2b3c4d5e6f", "Contoso"),
    ("1047", "Fabrikam"),
    ("7f0e8d9c-aaaa-4bbb-8ccc-0123456789ab", "Northwind Traders"),
];

/// A rule as samples use it.
pub fn rule(name: &str, severity: Severity) -> RuleInfo {
    RuleInfo {
        name: name.into(),
        description: "A protected machine is in critical state".into(),
        severity,
    }
}

/// Alert `i` of a sample: a machine of one of three tenants, fired `i * 47 + 12`
/// minutes before [`now`]; with a policy snapshot when `policy` names one.
pub fn alert(
    rule: &RuleInfo,
    i: usize,
    policy: Option<&str>,
    status: AlertStatus,
    now: DateTime<Utc>,
) -> AlertSnapshot {
    let name = format!(
        "{}{}",
        MACHINES[i % MACHINES.len()],
        if i < MACHINES.len() {
            String::new()
        } else {
            format!("-{}", i / MACHINES.len())
        }
    );
    let (tenant_id, tenant_name) = TENANTS[i % TENANTS.len()];
    let fired_at = now - Duration::minutes(12 + 47 * i as i64);
    let resolved = status == AlertStatus::Resolved;
    let policy = policy.map(|kind| PolicySnapshot {
        kind: kind.into(),
        last_run: Some(now - Duration::hours(7)),
        last_success_run: Some(now - Duration::hours(31)),
        next_run: Some(now + Duration::hours(17)),
    });
    let summary = match (&policy, resolved) {
        _ if status == AlertStatus::Flapping => {
            format!("{name} changed state 4 times within 1h: held until it is stable for 1h")
        }
        (Some(_), false) => format!("{name}: backup last succeeded 1d 7h ago"),
        (Some(_), true) => format!("{name}: backup succeeded again"),
        (None, false) => format!("{name} is {} (was ok)", rule.severity.as_str()),
        (None, true) => format!("{name} is ok again (was {})", rule.severity.as_str()),
    };
    AlertSnapshot {
        key: format!(
            "{}/{tenant_id}/{:08x}-0000-4000-8000-{i:012x}",
            rule.name,
            i + 1
        ),
        status: status.as_str().into(),
        severity: rule.severity,
        fired_at,
        resolved_at: resolved.then_some(now - Duration::minutes(2)),
        tenant: TenantRef {
            id: tenant_id.into(),
            name: tenant_name.into(),
        },
        resource: ResourceRef {
            id: format!("{:08x}-0000-4000-8000-{i:012x}", i + 1),
            name,
            kind: "resource.machine".into(),
            agent_id: i
                .is_multiple_of(2)
                .then(|| format!("agent-{:04}", 1000 + i)),
        },
        aggregate_status: if resolved {
            "ok"
        } else {
            rule.severity.as_str()
        }
        .into(),
        previous_status: Some(
            if resolved {
                rule.severity.as_str()
            } else {
                "ok"
            }
            .into(),
        ),
        policy,
        summary,
        repeat: false,
        // The context's optional parts present, so templates and strict mode see them.
        agent: Some(crate::model::AgentSnapshot {
            online: Some(!i.is_multiple_of(3)),
            enabled: Some(true),
            version: Some("15.0.36137".into()),
        }),
        cyberfit: Some(480 + 37 * (i as u32 % 10)),
        plans: vec!["Servers daily".into(), "Antimalware".into()],
        platform: None,
    }
}

/// A platform rule's alert: Alert Manager's words for a failed backup of a machine.
pub fn platform_item(now: DateTime<Utc>) -> OutboxItem {
    let info = RuleInfo {
        name: "platform-critical".into(),
        description: "Critical alerts raised by Acronis Cyber Protect Cloud".into(),
        severity: Severity::Critical,
    };
    let mut out = item(info, None, AlertStatus::Firing, 1, 1, now);
    let a = &mut out.alerts[0];
    a.key = format!(
        "platform-critical/{}/7f3c2a10-0000-4000-8000-000000000001",
        a.tenant.id
    );
    a.summary = format!(
        "{}: Backup failed (Alert Manager, critical)",
        a.resource.name
    );
    a.resource.kind = "platform.alert".into();
    a.aggregate_status = "critical".into();
    a.previous_status = None;
    a.agent = None;
    a.cyberfit = None;
    a.plans = Vec::new();
    a.platform = Some(crate::model::PlatformSnapshot {
        id: "7f3c2a10-0000-4000-8000-000000000001".into(),
        kind: "BackupFailed".into(),
        category: "backup".into(),
        severity: "critical".into(),
        title: "Backup failed".into(),
        description: Some("Backup of 'SQL-01' failed: the destination storage is full.".into()),
    });
    out
}

/// An outbox item of `count` sample alerts, `listed` of them in full and the rest
/// only counted (`more`).
pub fn item(
    rule: RuleInfo,
    policy: Option<&str>,
    status: AlertStatus,
    count: usize,
    listed: usize,
    now: DateTime<Utc>,
) -> OutboxItem {
    let listed = listed.min(count);
    let alerts = (0..listed)
        .map(|i| alert(&rule, i, policy, status, now))
        .collect();
    let mut item = OutboxItem::new("sample", rule, status, now, None);
    item.id = 1;
    item.alerts = alerts;
    item.more = count - listed;
    item
}

/// What `check` renders every notification template with.
pub fn items(now: DateTime<Utc>) -> Vec<OutboxItem> {
    let critical = rule("machine-critical", Severity::Critical);
    let stale = RuleInfo {
        name: "backup-stale".into(),
        description: "No successful backup for more than 26 hours".into(),
        severity: Severity::Warning,
    };
    let mut grouped = item(critical.clone(), None, AlertStatus::Firing, 3, 3, now);
    grouped.alerts[1].policy = Some(PolicySnapshot {
        kind: "policy.backup.machine".into(),
        last_run: None,
        last_success_run: None,
        next_run: None,
    });
    grouped.alerts[2].repeat = true;
    grouped.alerts[2].previous_status = None;
    grouped.alerts[2].resource.agent_id = None;
    let mut repeat = item(critical.clone(), None, AlertStatus::Firing, 1, 1, now);
    repeat.alerts[0].repeat = true;
    vec![
        item(critical.clone(), None, AlertStatus::Firing, 1, 1, now),
        grouped,
        item(critical, None, AlertStatus::Resolved, 2, 2, now),
        item(
            stale.clone(),
            Some("policy.backup.machine"),
            AlertStatus::Firing,
            7,
            2,
            now,
        ),
        item(
            stale,
            Some("policy.backup.machine"),
            AlertStatus::Resolved,
            1,
            1,
            now,
        ),
        repeat,
        item(
            rule("machine-critical", Severity::Critical),
            None,
            AlertStatus::Flapping,
            1,
            1,
            now,
        ),
        platform_item(now),
    ]
}

/// What `preview --rule` shows for `rule`: it firing (three machines when it groups,
/// one when not), and resolving when it notifies that.
pub fn for_rule(rule: &Rule, now: DateTime<Utc>) -> Vec<OutboxItem> {
    let info = RuleInfo {
        name: rule.name.clone(),
        description: rule.description.clone(),
        severity: rule.severity,
    };
    if rule.condition.is_platform() {
        let mut firing = platform_item(now);
        firing.rule = info.clone();
        let mut out = vec![firing.clone()];
        if rule.resolve {
            let mut resolved = firing;
            resolved.status = AlertStatus::Resolved;
            for a in &mut resolved.alerts {
                a.status = AlertStatus::Resolved.as_str().into();
                a.resolved_at = Some(now);
            }
            out.push(resolved);
        }
        return out;
    }
    let policy = rule.condition.policy();
    let n = if rule.group_window.is_zero() { 1 } else { 3 };
    let mut out = vec![item(info.clone(), policy, AlertStatus::Firing, n, n, now)];
    if rule.resolve {
        out.push(item(info.clone(), policy, AlertStatus::Resolved, 1, 1, now));
    }
    if rule.flap.is_some() {
        out.push(item(info, policy, AlertStatus::Flapping, 1, 1, now));
    }
    out
}

/// A sample digest of one tenant.
pub fn digest(now: DateTime<Utc>) -> DigestContext {
    let critical = rule("machine-critical", Severity::Critical);
    let stale = RuleInfo {
        name: "backup-stale".into(),
        description: "No successful backup for more than 26 hours".into(),
        severity: Severity::Warning,
    };
    let statuses = [
        "ok",
        "ok",
        "critical",
        "warning",
        "ok",
        "no_policies_applied",
    ];
    let machines = MACHINES
        .iter()
        .zip(statuses)
        .enumerate()
        .map(|(i, (name, status))| DigestMachine {
            id: format!("{:08x}-0000-4000-8000-{i:012x}", i + 1),
            name: (*name).into(),
            kind: "resource.machine".into(),
            status: status.into(),
            last_success_run: (status != "no_policies_applied")
                .then(|| now - Duration::hours(3 + 9 * i as i64)),
            problem: status != "ok",
            since: matches!(status, "critical" | "warning")
                .then(|| now - Duration::hours(2 + i as i64)),
        })
        .collect::<Vec<_>>();
    // Problems first, as the digest builder orders them.
    let mut machines = machines;
    machines.sort_by_key(|m| !m.problem);
    let mut problems = vec![
        DigestProblem {
            alert: alert(&critical, 2, None, AlertStatus::Firing, now),
            rule: critical,
        },
        DigestProblem {
            alert: alert(
                &stale,
                3,
                Some("policy.backup.machine"),
                AlertStatus::Firing,
                now,
            ),
            rule: stale,
        },
    ];
    for p in &mut problems {
        p.alert.tenant = TenantRef {
            id: TENANTS[0].0.into(),
            name: TENANTS[0].1.into(),
        };
    }
    DigestContext {
        tenant: TenantRef {
            id: TENANTS[0].0.into(),
            name: TENANTS[0].1.into(),
        },
        from: now - Duration::days(7),
        to: now,
        timezone: "Europe/Berlin".into(),
        totals: Totals {
            machines: 6,
            ok: 3,
            warning: 1,
            error: 0,
            critical: 1,
            interaction_required: 0,
            not_protected: 1,
            other: 0,
        },
        machines,
        machines_more: 0,
        problems,
        changes: Changes {
            first: false,
            new_problems: 1,
            resolved_problems: 2,
            machines_added: 1,
            machines_removed: 0,
            new: vec![format!("{}: machine-critical", MACHINES[2])],
            resolved: vec![
                format!("{}: backup-stale", MACHINES[0]),
                format!("{}: machine-error", MACHINES[4]),
            ],
            added: vec![MACHINES[5].to_string()],
            removed: Vec::new(),
        },
        agents_offline: vec![crate::notify::render::DigestAgent {
            name: MACHINES[3].to_string(),
            since: Some(now - Duration::hours(30)),
            version: Some("15.0.36137".into()),
        }],
        agents_offline_count: 1,
        cyberfit_lowest: vec![
            crate::notify::render::DigestScore {
                name: MACHINES[1].to_string(),
                score: 455,
            },
            crate::notify::render::DigestScore {
                name: MACHINES[0].to_string(),
                score: 610,
            },
        ],
    }
}

/// How many alerts `check` scales its sample data up to (the render budget's test).
pub const SCALED: usize = 1000;

/// What `check` also renders every notification template with: [`SCALED`] alerts,
/// all listed, firing and resolved.
pub fn scaled_items(now: DateTime<Utc>) -> Vec<OutboxItem> {
    let stale = RuleInfo {
        name: "backup-stale".into(),
        description: "No successful backup for more than 26 hours".into(),
        severity: Severity::Warning,
    };
    [AlertStatus::Firing, AlertStatus::Resolved]
        .into_iter()
        .map(|status| {
            item(
                stale.clone(),
                Some("policy.backup.machine"),
                status,
                SCALED,
                SCALED,
                now,
            )
        })
        .collect()
}

/// The sample digest with [`SCALED`] machines and as many problems.
pub fn scaled_digest(now: DateTime<Utc>) -> DigestContext {
    let mut d = digest(now);
    let machines = d.machines.clone();
    let problems = d.problems.clone();
    d.machines = (0..SCALED)
        .map(|i| {
            let mut m = machines[i % machines.len()].clone();
            m.name = format!("{}-{i}", m.name);
            m
        })
        .collect();
    d.problems = (0..SCALED)
        .map(|i| problems[i % problems.len()].clone())
        .collect();
    d.totals.machines = SCALED;
    d
}

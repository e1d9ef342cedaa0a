//! Made-up notifications: what `preview` renders for a rule, and the clearly marked
//! message `test-notify` sends. Nothing here comes from the API or the state.

use chrono::{DateTime, Utc};

use super::notification::{
    AlertSnapshot, NotifyStatus, OutboxItem, PolicySnapshot, ResourceRef, RuleInfo, TenantRef,
};
use crate::rules::{Condition, Rule, Severity};

/// A notification `rule` could send to `channel`: three alerts for a grouping rule,
/// one otherwise; resolved if `resolved`.
pub fn sample_item(rule: &Rule, channel: &str, resolved: bool, now: DateTime<Utc>) -> OutboxItem {
    let status = if resolved {
        NotifyStatus::Resolved
    } else {
        NotifyStatus::Firing
    };
    let count = if rule.group_window.is_zero() { 1 } else { 3 };
    let alerts = (1..=count)
        .map(|i| sample_alert(rule, i, resolved, now))
        .collect();
    OutboxItem {
        id: 0,
        channel: channel.to_string(),
        rule: RuleInfo {
            name: rule.name.clone(),
            description: rule.description.clone(),
            severity: rule.severity,
        },
        status,
        alerts,
        more: 0,
        created_at: now,
        open_until: None,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
    }
}

fn sample_alert(rule: &Rule, i: usize, resolved: bool, now: DateTime<Utc>) -> AlertSnapshot {
    let hours = chrono::Duration::hours;
    let fired_at = now - hours(3) - chrono::Duration::minutes(12);
    let name = format!("SAMPLE-SERVER-{i:02}");
    let (aggregate, previous, policy, summary) = match &rule.condition {
        Condition::Status(list) => {
            let bad = list.first().map_or("critical", |s| s.as_str()).to_string();
            let now_status = if resolved {
                "ok".to_string()
            } else {
                bad.clone()
            };
            let summary = if resolved {
                format!("{name} is ok now")
            } else {
                format!("{name} is {bad} (was ok)")
            };
            (now_status, Some("ok".to_string()), None, summary)
        }
        Condition::Stale { policy, older_than } => {
            let age = chrono::Duration::from_std(*older_than).unwrap_or_default() + hours(3);
            let last_success = now - age;
            let p = PolicySnapshot {
                kind: policy.clone(),
                last_run: Some(now - hours(2)),
                last_success_run: Some(if resolved {
                    now - hours(1)
                } else {
                    last_success
                }),
                next_run: Some(now + hours(20)),
            };
            let summary = if resolved {
                format!("{name}: backup succeeded an hour ago")
            } else {
                format!(
                    "{name}: last successful backup {} ago",
                    super::human_duration(age)
                )
            };
            (
                "warning".to_string(),
                Some("ok".to_string()),
                Some(p),
                summary,
            )
        }
        Condition::Overdue { policy, overdue_by } => {
            let due = now - chrono::Duration::from_std(*overdue_by).unwrap_or_default() - hours(1);
            let p = PolicySnapshot {
                kind: policy.clone(),
                last_run: Some(due - hours(24)),
                last_success_run: Some(due - hours(24)),
                next_run: Some(due),
            };
            let summary = format!(
                "{name}: backup was due {} ago and has not run",
                super::human_duration(now - due)
            );
            ("ok".to_string(), None, Some(p), summary)
        }
    };
    AlertSnapshot {
        key: format!("{}/sample-tenant/sample-resource-{i}", rule.name),
        status: if resolved { "resolved" } else { "firing" }.to_string(),
        severity: rule.severity,
        fired_at,
        resolved_at: resolved.then_some(now),
        tenant: TenantRef {
            id: "sample-tenant".into(),
            name: "Contoso (sample)".into(),
        },
        resource: ResourceRef {
            id: format!("sample-resource-{i}"),
            name,
            kind: "resource.machine".into(),
            agent_id: None,
        },
        aggregate_status: aggregate,
        previous_status: previous,
        policy,
        summary,
        repeat: false,
    }
}

/// The message `test-notify` sends: marked as a test in every field a person reads.
pub fn test_item(channel: &str, now: DateTime<Utc>) -> OutboxItem {
    let alert = AlertSnapshot {
        key: "test-notify/acronis-watch/test".into(),
        status: "firing".into(),
        severity: Severity::Info,
        fired_at: now,
        resolved_at: None,
        tenant: TenantRef {
            id: "test".into(),
            name: "TEST (acronis-watch test-notify)".into(),
        },
        resource: ResourceRef {
            id: "test".into(),
            name: "TEST NOTIFICATION".into(),
            kind: "resource.machine".into(),
            agent_id: None,
        },
        aggregate_status: "ok".into(),
        previous_status: None,
        policy: None,
        summary: "This is a test notification from acronis-watch test-notify: nothing is wrong."
            .into(),
        repeat: false,
    };
    OutboxItem {
        id: 0,
        channel: channel.to_string(),
        rule: RuleInfo {
            name: "test-notify".into(),
            description:
                "TEST: a notification sent by `acronis-watch test-notify`; nothing is wrong".into(),
            severity: Severity::Info,
        },
        status: NotifyStatus::Firing,
        alerts: vec![alert],
        more: 0,
        created_at: now,
        open_until: None,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
    }
}

//! The clearly marked message `test-notify` sends. Nothing here comes from the API
//! or the state.

use chrono::{DateTime, Utc};

use crate::model::{
    AlertSnapshot, AlertStatus, OutboxItem, ResourceRef, RuleInfo, Severity, TenantRef,
};

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
        agent: None,
        cyberfit: None,
        plans: Vec::new(),
        platform: None,
    };
    let rule = RuleInfo {
        name: "test-notify".into(),
        description: "TEST: a notification sent by `acronis-watch test-notify`; nothing is wrong"
            .into(),
        severity: Severity::Info,
    };
    let mut item = OutboxItem::new(channel, rule, AlertStatus::Firing, now, None);
    item.alerts.push(alert);
    item
}

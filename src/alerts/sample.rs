//! The clearly marked message `test-notify` sends. Nothing here comes from the API
//! or the state.

use chrono::{DateTime, Utc};

use super::notification::{
    AlertSnapshot, NotifyStatus, OutboxItem, ResourceRef, RuleInfo, TenantRef,
};
use crate::rules::Severity;

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
        digest: None,
    }
}

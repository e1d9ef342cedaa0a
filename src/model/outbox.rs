//! What a notification carries: a self-contained snapshot of each alert at the moment
//! it changed, so an outbox item renders later (after a restart, a retry or a change
//! of the resource) exactly as it was when enqueued.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AlertStatus, Severity};

/// Most alerts an outbox item lists in full; beyond it they are only counted (no
/// channel shows more than a few dozen: Slack's 50 blocks, Teams' 20 KB).
pub const MAX_ITEM_ALERTS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub name: String,
    pub description: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub agent_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    #[serde(rename = "type")]
    pub kind: String,
    pub last_run: Option<DateTime<Utc>>,
    pub last_success_run: Option<DateTime<Utc>>,
    pub next_run: Option<DateTime<Utc>>,
}

/// One alert as a notification shows it (SPEC §5 `alerts[]`, less `since`, which is
/// computed when rendering).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSnapshot {
    pub key: String,
    /// `firing` or `resolved`.
    pub status: String,
    pub severity: Severity,
    pub fired_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub tenant: TenantRef,
    pub resource: ResourceRef,
    pub aggregate_status: String,
    pub previous_status: Option<String>,
    pub policy: Option<PolicySnapshot>,
    /// One line for a person, e.g. "SQL-01 is critical (was ok)".
    pub summary: String,
    /// A `repeat` of a firing already notified.
    #[serde(default)]
    pub repeat: bool,
    /// The resource's agent, where the API gave it (`include_attributes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentSnapshot>,
    /// The CyberFit score, where the API gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cyberfit: Option<u32>,
    /// Protection plan names (`aggregate.names`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<String>,
    /// The Alert Manager alert (platform rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformSnapshot>,
}

/// An Alert Manager alert as a notification shows it, in the platform's words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSnapshot {
    pub id: String,
    /// The platform's alert type, e.g. `BackupFailed`.
    pub kind: String,
    pub category: String,
    /// The platform's own severity name.
    pub severity: String,
    pub title: String,
    pub description: Option<String>,
}

/// A resource's agent as an alert shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    pub online: Option<bool>,
    pub enabled: Option<bool>,
    pub version: Option<String>,
}

/// One queued message for one channel: an alert, or a group of firings (or
/// resolutions) of one rule (the `outbox` tree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub id: u64,
    pub channel: String,
    pub rule: RuleInfo,
    pub status: AlertStatus,
    /// The alerts, in the order they joined (at most [`MAX_ITEM_ALERTS`]).
    pub alerts: Vec<AlertSnapshot>,
    /// Alerts beyond `alerts`, counted only ("... and N more").
    #[serde(default)]
    pub more: usize,
    pub created_at: DateTime<Utc>,
    /// A group takes more alerts until this instant (its window); then it is due.
    pub open_until: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// A status digest, rendered when it was queued (`alerts` is empty then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestMail>,
}

/// A tenant's rendered digest and where it goes (the tenant's `digest_to`, not the
/// channel's `to`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestMail {
    pub tenant: TenantRef,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl OutboxItem {
    /// A new item for `channel`, with no alerts yet and no id (the store gives it one
    /// when it is queued): due at `now`, or when its group's window closes.
    pub fn new(
        channel: &str,
        rule: RuleInfo,
        status: AlertStatus,
        now: DateTime<Utc>,
        open_until: Option<DateTime<Utc>>,
    ) -> OutboxItem {
        OutboxItem {
            id: 0,
            channel: channel.to_string(),
            rule,
            status,
            alerts: Vec::new(),
            more: 0,
            created_at: now,
            open_until,
            attempts: 0,
            next_attempt_at: open_until.unwrap_or(now),
            last_error: None,
            digest: None,
        }
    }

    /// Alerts in the message, listed or counted.
    pub fn count(&self) -> usize {
        self.alerts.len() + self.more
    }

    /// Add an alert (replacing an earlier snapshot of the same alert), or count it
    /// once the list is full.
    pub fn push(&mut self, alert: AlertSnapshot) {
        if let Some(same) = self.alerts.iter_mut().find(|a| a.key == alert.key) {
            *same = alert;
        } else if self.alerts.len() < MAX_ITEM_ALERTS {
            self.alerts.push(alert);
        } else {
            self.more += 1;
        }
    }
}

/// The group an alert's notification joins for one channel: firings (or resolutions)
/// of one rule within its `group_window` are one message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub rule: String,
    pub channel: String,
    pub status: AlertStatus,
}

/// A duration as a person reads it in alert summaries and templates (`since`):
/// "3h 12m", "2d 4h", "45s", the two largest units.
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, mins) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

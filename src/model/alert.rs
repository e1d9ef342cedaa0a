//! Alerts as stored: one rule firing for one resource (or one policy of it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How bad an alert is (also PagerDuty's `severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub const NAMES: [&'static str; 4] = ["critical", "error", "warning", "info"];

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "critical" => Some(Severity::Critical),
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// `rule/tenant/resource[/policy]`: one rule firing for one resource (or policy).
pub fn alert_key(rule: &str, tenant: &str, resource: &str, policy: Option<&str>) -> String {
    match policy {
        Some(p) => format!("{rule}/{tenant}/{resource}/{p}"),
        None => format!("{rule}/{tenant}/{resource}"),
    }
}

/// Whether an alert fires; also what a notification says of it (the template
/// context's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// What the channels were last told about an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Told {
    /// Nothing yet (silenced since it fired), or nothing is owed.
    Nothing,
    Firing,
    Resolved,
}

/// One alert as stored (the `alerts` tree, keyed by [`alert_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub key: String,
    pub rule: String,
    pub tenant_id: String,
    pub resource_id: String,
    pub resource_name: String,
    pub policy: Option<String>,
    pub status: AlertStatus,
    pub severity: Severity,
    pub fired_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub last_notified_at: Option<DateTime<Utc>>,
    pub told: Told,
    /// When the worker found it firing, when that was after `fired_at`: a change the
    /// incremental polls missed, found by a full pass and dated when it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_at: Option<DateTime<Utc>>,
}

impl AlertRecord {
    /// Whether a notification is owed (channels do not know its current state).
    pub fn owes(&self, resolve: bool) -> bool {
        match self.status {
            AlertStatus::Firing => self.told != Told::Firing,
            AlertStatus::Resolved => resolve && self.told == Told::Firing,
        }
    }
}

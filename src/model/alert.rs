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

    /// A platform alert's severity (`ok information warning error critical`) as ours:
    /// `ok` and `information` are info; anything unknown is a warning.
    pub fn from_platform(s: &str) -> Severity {
        match s {
            "critical" => Severity::Critical,
            "error" => Severity::Error,
            "ok" | "information" | "info" => Severity::Info,
            _ => Severity::Warning,
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
    /// Only a notification's status: the alert changed state too often (its rule's
    /// `flap`), and is held until it is stable. A record is firing or resolved.
    Flapping,
}

impl AlertStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
            AlertStatus::Flapping => "flapping",
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
    /// That it flaps: nothing more until it has been stable for the rule's window.
    Flapping,
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
    /// When its state changed (fired or resolved) within its rule's `flap` window,
    /// oldest first; empty for a rule without `flap`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<DateTime<Utc>>,
    /// Since when it flaps: channels were told "flapping" and hear nothing more until
    /// it has been stable for the rule's `flap.within`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping_since: Option<DateTime<Utc>>,
}

impl AlertRecord {
    /// Whether a notification is owed (channels do not know its current state).
    pub fn owes(&self, resolve: bool) -> bool {
        if self.flapping_since.is_some() {
            // Held: what is owed is decided when it is stable again.
            return false;
        }
        match self.status {
            AlertStatus::Firing | AlertStatus::Flapping => self.told != Told::Firing,
            // After "flapping", the final state is told even without `resolve`.
            AlertStatus::Resolved => {
                (resolve && self.told == Told::Firing) || self.told == Told::Flapping
            }
        }
    }
}

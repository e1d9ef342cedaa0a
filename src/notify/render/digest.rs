//! The digest's template context (SPEC §5): what the digest builder hands the
//! renderer for one tenant. The builder fills a [`DigestContext`]; this turns it into
//! the JSON the `digest.*` templates see, times as RFC 3339 and problems shaped like a
//! notification's `alerts[]` plus their rule.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::context::{alert, rfc3339};
use crate::alerts::{AlertSnapshot, RuleInfo, TenantRef};

/// Everything one tenant's digest shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestContext {
    pub tenant: TenantRef,
    /// The period the digest covers (the previous digest to now).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// IANA name of the zone the dates are shown in (`[digest].timezone`).
    pub timezone: String,
    pub totals: Totals,
    pub machines: Vec<DigestMachine>,
    /// Alerts firing now.
    pub problems: Vec<DigestProblem>,
    pub changes: Changes,
}

/// Machines by status (SPEC §5: `ok` counts idle, scheduled, running, cancelling;
/// `not_protected` counts no_policies_applied; `other` what the worker does not know).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub machines: usize,
    pub ok: usize,
    pub warning: usize,
    pub error: usize,
    pub critical: usize,
    pub interaction_required: usize,
    pub not_protected: usize,
    pub other: usize,
}

/// One machine of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMachine {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// The aggregate status as the API names it.
    pub status: String,
    pub last_success_run: Option<DateTime<Utc>>,
}

/// A firing alert and its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestProblem {
    pub rule: RuleInfo,
    pub alert: AlertSnapshot,
}

/// What changed since the previous digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    /// No previous digest to compare with.
    pub first: bool,
    pub new_problems: usize,
    pub resolved_problems: usize,
    pub machines_added: usize,
    pub machines_removed: usize,
}

impl DigestContext {
    /// The template context at `now`; `console_url` as in notifications.
    pub fn to_json(&self, now: DateTime<Utc>, console_url: Option<&str>) -> Value {
        let machines: Vec<Value> = self
            .machines
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "name": m.name,
                    "type": m.kind,
                    "status": m.status,
                    "last_success_run": m.last_success_run.map(rfc3339),
                })
            })
            .collect();
        let problems: Vec<Value> = self
            .problems
            .iter()
            .map(|p| {
                let mut v = alert(&p.alert, now);
                v["rule"] = json!({
                    "name": p.rule.name,
                    "description": p.rule.description,
                    "severity": p.rule.severity.as_str(),
                });
                v
            })
            .collect();
        json!({
            "tenant": { "id": self.tenant.id, "name": self.tenant.name },
            "period": { "from": rfc3339(self.from), "to": rfc3339(self.to) },
            "timezone": self.timezone,
            "totals": self.totals,
            "machines": machines,
            "problems": problems,
            "changes": self.changes,
            "console_url": console_url,
            "now": rfc3339(now),
        })
    }
}

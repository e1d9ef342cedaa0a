//! The digest's template context (SPEC §5): what the digest builder hands the
//! renderer for one tenant. The builder fills a [`DigestContext`]; this turns it into
//! the JSON the `digest.*` templates see, times as RFC 3339 and problems shaped like a
//! notification's `alerts[]` plus their rule.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::context::{alert, rfc3339};
use crate::model::human_duration;
use crate::model::{AlertSnapshot, RuleInfo, TenantRef};

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
    /// Problems first, at most [`crate::digest::MAX_MACHINES`].
    pub machines: Vec<DigestMachine>,
    /// Machines beyond `machines`, counted only.
    pub machines_more: usize,
    /// Alerts firing now, worst first.
    pub problems: Vec<DigestProblem>,
    pub changes: Changes,
    /// Machines whose agent is offline, longest offline first, at most
    /// [`crate::digest::MAX_AGENTS`] (agent data: `include_attributes`).
    pub agents_offline: Vec<DigestAgent>,
    /// All of them, listed or not.
    pub agents_offline_count: usize,
    /// The lowest CyberFit scores, lowest first, at most [`crate::digest::LOWEST_SCORES`].
    pub cyberfit_lowest: Vec<DigestScore>,
}

/// A machine whose agent is offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestAgent {
    pub name: String,
    /// When a poll first saw it offline.
    pub since: Option<DateTime<Utc>>,
    pub version: Option<String>,
}

/// A machine's CyberFit score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestScore {
    pub name: String,
    pub score: u32,
}

/// Machines by status (SPEC §5: `ok` counts idle, scheduled, running, cancelling;
/// `not_protected` counts not_protected and no_policies_applied; `other` what the worker does not know).
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
    /// A firing alert, or a status worse than the healthy ones.
    pub problem: bool,
    /// When its earliest firing alert fired.
    pub since: Option<DateTime<Utc>>,
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
    /// "machine: rule" of new problems, sorted, at most [`crate::digest::MAX_CHANGE_NAMES`];
    /// likewise for the other lists.
    pub new: Vec<String>,
    pub resolved: Vec<String>,
    /// Machine names.
    pub added: Vec<String>,
    pub removed: Vec<String>,
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
                    "problem": m.problem,
                    "since": m.since.map(rfc3339),
                    "since_human": m.since.map(|t| human_duration(now - t)),
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
            "machines_more": self.machines_more,
            "chart": chart(&self.totals),
            "problems": problems,
            "changes": self.changes,
            "agents_offline": self.agents_offline.iter().map(|a| json!({
                "name": a.name,
                "since": a.since.map(rfc3339),
                "since_human": a.since.map(|t| human_duration(now - t)),
                "version": a.version,
            })).collect::<Vec<_>>(),
            "agents_offline_count": self.agents_offline_count,
            "cyberfit_lowest": self.cyberfit_lowest.iter().map(|s| json!({
                "name": s.name,
                "score": s.score,
            })).collect::<Vec<_>>(),
            "console_url": console_url,
            "now": rfc3339(now),
        })
    }
}

/// Colours of the status chart, as in the shipped template's totals.
const CHART: [(&str, &str); 7] = [
    ("critical", "#c5221f"),
    ("error", "#e8710a"),
    ("warning", "#b08000"),
    ("interaction_required", "#1a73e8"),
    ("not_protected", "#8c959f"),
    ("other", "#d0d7de"),
    ("ok", "#1e8e3e"),
];

/// The inline status chart: one segment per status present, worst first, with
/// whole percentages that add up to 100 (largest remainders get the rounding; a
/// status present is at least 1%), so a
/// template draws it as table cells: no image, nothing external.
fn chart(totals: &Totals) -> Value {
    let counts = [
        totals.critical,
        totals.error,
        totals.warning,
        totals.interaction_required,
        totals.not_protected,
        totals.other,
        totals.ok,
    ];
    let all: usize = counts.iter().sum();
    if all == 0 {
        return json!([]);
    }
    let mut percent: Vec<usize> = counts.iter().map(|c| c * 100 / all).collect();
    let mut order: Vec<usize> = (0..counts.len()).filter(|i| counts[*i] > 0).collect();
    order.sort_by_key(|i| std::cmp::Reverse((counts[*i] * 100) % all));
    let missing = 100 - percent.iter().sum::<usize>();
    for i in order.iter().cycle().take(missing) {
        percent[*i] += 1;
    }
    // A status present is never drawn 0% wide: its 1% comes from the widest.
    for i in 0..counts.len() {
        if counts[i] > 0 && percent[i] == 0 {
            let widest = (0..counts.len()).max_by_key(|j| percent[*j]).unwrap_or(i);
            percent[widest] -= 1;
            percent[i] = 1;
        }
    }
    let segments: Vec<Value> = CHART
        .iter()
        .zip(counts)
        .zip(percent)
        .filter(|((_, count), _)| *count > 0)
        .map(|(((status, color), count), percent)| {
            json!({
                "status": status,
                "label": status.replace('_', " "),
                "count": count,
                "percent": percent,
                "color": color,
            })
        })
        .collect();
    Value::Array(segments)
}

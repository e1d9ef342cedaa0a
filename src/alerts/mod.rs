//! The alert lifecycle: what a rule's transition does to an alert (fire, repeat,
//! resolve), whether channels are told now or later (silences), and the notifications
//! that result, ready for the outbox.
//!
//! Stage four of the pipeline (poll -> store -> evaluate -> **transition + enqueue** ->
//! deliver). Everything here is pure: `plan` takes a resource before and after a
//! change plus a reader of stored alerts and returns what to write; the state module
//! writes it, in the same sled transaction as the resource itself. Nothing here does
//! I/O, sleeps or reads a clock.

mod lifecycle;
mod notification;
mod plan;
mod sample;
mod silence;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use lifecycle::{Notify, Step, step};
pub use notification::{
    AlertSnapshot, DigestMail, MAX_ITEM_ALERTS, NotifyStatus, OutboxItem, PolicySnapshot,
    ResourceRef, RuleInfo, TenantRef,
};
pub use plan::{
    EvalContext, LiveAlert, Notification, ResourcePlan, Watch, firing_snapshot, human_duration,
    plan,
};
pub use sample::test_item;
pub use silence::{Silenced, Silences};

use crate::rules::Severity;

/// `rule/tenant/resource[/policy]`: one rule firing for one resource (or policy).
pub fn alert_key(rule: &str, tenant: &str, resource: &str, policy: Option<&str>) -> String {
    match policy {
        Some(p) => format!("{rule}/{tenant}/{resource}/{p}"),
        None => format!("{rule}/{tenant}/{resource}"),
    }
}

/// Whether an alert fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl AlertRecord {
    /// What evaluation needs of it.
    pub fn prior(&self) -> crate::rules::Prior {
        crate::rules::Prior {
            firing: self.status == AlertStatus::Firing,
            last_notified_at: self.last_notified_at,
        }
    }

    /// Whether a notification is owed (channels do not know its current state).
    pub fn owes(&self, resolve: bool) -> bool {
        match self.status {
            AlertStatus::Firing => self.told != Told::Firing,
            AlertStatus::Resolved => resolve && self.told == Told::Firing,
        }
    }
}

/// Everything evaluation needs besides the data: rules, silences, routing, names.
#[derive(Clone, Default)]
pub struct Evaluator {
    pub rules: std::sync::Arc<crate::rules::RuleSet>,
    pub silences: std::sync::Arc<Silences>,
    /// Channels that never group: PagerDuty gets one event per alert.
    pub ungrouped: std::sync::Arc<std::collections::HashSet<String>>,
    /// Tenant display names by id.
    pub tenant_names: std::sync::Arc<std::collections::HashMap<String, String>>,
    /// A hash of everything that decides transitions and deadlines (rules and
    /// silences): when the state recorded another, every resource is re-evaluated.
    pub fingerprint: u64,
}

impl Evaluator {
    pub fn new(rules: crate::rules::RuleSet, config: &crate::config::Config) -> Evaluator {
        let mut text = String::new();
        for r in rules.iter() {
            text.push_str(&format!(
                "{}|{:x}|{:?}|{}|{}\n",
                r.name,
                r.condition_hash(),
                r.repeat,
                r.resolve,
                r.notify.is_empty()
            ));
        }
        for s in &config.silences {
            let window = match &s.window {
                crate::config::SilenceWindow::Fixed { starts, ends } => {
                    format!("{starts:?}-{ends:?}")
                }
                crate::config::SilenceWindow::Recurring {
                    cron,
                    duration,
                    timezone,
                    ..
                } => format!("{cron}|{duration:?}|{timezone}"),
            };
            text.push_str(&format!("silence|{:?}|{:?}|{window}\n", s.rule, s.matcher));
        }
        let names = config
            .tenants
            .iter()
            .filter_map(|(id, t)| t.name.clone().map(|n| (id.clone(), n)))
            .collect();
        Evaluator {
            fingerprint: crate::config::fnv1a64(text.as_bytes()),
            silences: std::sync::Arc::new(Silences::new(&config.silences)),
            ungrouped: std::sync::Arc::new(
                config
                    .channels
                    .iter()
                    .filter(|c| c.kind.type_name() == "pagerduty")
                    .map(|c| c.name.clone())
                    .collect(),
            ),
            tenant_names: std::sync::Arc::new(names),
            rules: std::sync::Arc::new(rules),
        }
    }

    /// The same, with names from the API (worker.toml's `[tenant."ID"].name` is used
    /// only where the API gives none).
    pub fn with_tenant_names(&self, api: impl IntoIterator<Item = (String, String)>) -> Evaluator {
        let mut names = (*self.tenant_names).clone();
        names.extend(api.into_iter().filter(|(_, name)| !name.trim().is_empty()));
        Evaluator {
            tenant_names: std::sync::Arc::new(names),
            ..self.clone()
        }
    }

    /// The same rules notifying nobody: alerts still fire and resolve in state, and
    /// nothing is queued (for data this worker stops watching).
    pub fn silent(&self) -> Evaluator {
        let mut rules = (*self.rules).clone();
        for r in &mut rules.rules {
            r.notify.clear();
        }
        Evaluator {
            rules: std::sync::Arc::new(rules),
            ..self.clone()
        }
    }

    /// A view for one evaluation instant.
    pub fn at(&self, now: DateTime<Utc>) -> EvalContext<'_> {
        EvalContext {
            rules: &self.rules,
            silences: &self.silences,
            now,
            tenant_names: &self.tenant_names,
        }
    }
}

/// One log event per alert transition a commit wrote at `now`; returns how many of each.
pub fn log_transitions(records: &[AlertRecord], now: DateTime<Utc>) -> Transitions {
    let mut counted = Transitions::default();
    for r in records {
        let what = match r.status {
            AlertStatus::Firing if r.fired_at == now => {
                counted.fired += 1;
                "alert fired"
            }
            AlertStatus::Resolved if r.resolved_at == Some(now) => {
                counted.resolved += 1;
                "alert resolved"
            }
            AlertStatus::Firing if r.last_notified_at == Some(now) => {
                counted.renotified += 1;
                "alert notified again"
            }
            _ => continue,
        };
        tracing::info!(
            rule = %r.rule,
            tenant = %r.tenant_id,
            alert_key = %r.key,
            severity = r.severity.as_str(),
            resource = %r.resource_name,
            "{what}"
        );
    }
    counted
}

/// How many alerts a batch of records fired, resolved and notified again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transitions {
    pub fired: usize,
    pub resolved: usize,
    pub renotified: usize,
}

impl std::ops::AddAssign for Transitions {
    fn add_assign(&mut self, other: Transitions) {
        self.fired += other.fired;
        self.resolved += other.resolved;
        self.renotified += other.renotified;
    }
}

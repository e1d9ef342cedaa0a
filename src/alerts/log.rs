//! What a committed evaluation did to alerts, told to the log: one event per
//! transition, and the counts.

use chrono::{DateTime, Utc};

use crate::model::{AlertRecord, AlertStatus};

/// One log event per alert transition a commit wrote at `now`; returns how many of each.
pub fn log_transitions(records: &[AlertRecord], now: DateTime<Utc>) -> Transitions {
    let mut counted = Transitions::default();
    for r in records {
        let what = match r.status {
            AlertStatus::Firing if r.fired_at == now || r.found_at == Some(now) => {
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

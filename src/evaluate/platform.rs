//! An Alert Manager read of one tenant, committed with its evaluation: the open
//! platform alerts, the alert records the platform rules decided, the outbox items and
//! the tenant's Alert Manager watermark, in one transaction (the watermark is never
//! durable without the alerts it covers).
//!
//! Every stored platform alert is looked at again with each read: they are few (open
//! alerts), and that is how `repeat`, a silence's end and a flapping alert's settling
//! are noticed, at the next poll.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::CommitReport;
use super::change::{Pending, finish};
use crate::acronis::model::PlatformAlert;
use crate::alerts::{AlertSettings, log_transitions, plan_platform};
use crate::state::{StateError, Store};

/// What one Alert Manager read of a tenant brought.
#[derive(Debug, Default)]
pub struct PlatformRead {
    pub tenant: String,
    pub alerts: Vec<PlatformAlert>,
    /// A full listing of the open alerts: a stored alert it lacks is gone (dismissed).
    pub complete: bool,
    /// The newest `updatedAt` read (Unix ns), committed with what it covers.
    pub watermark: Option<i64>,
}

/// Commit `read` evaluated at `now`; each alert transition is logged once the commit
/// is done.
pub fn commit_platform(
    store: &Store,
    read: &PlatformRead,
    settings: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<CommitReport, StateError> {
    let mut report = commit_quietly(store, read, settings, now)?;
    report.transitions = log_transitions(&report.alerts, now);
    Ok(report)
}

/// [`commit_platform`] without logging (for a tenant this worker stops watching).
pub(super) fn commit_quietly(
    store: &Store,
    read: &PlatformRead,
    settings: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<CommitReport, StateError> {
    let stored: BTreeMap<String, PlatformAlert> = store
        .platform_alerts(&read.tenant)?
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect();
    // (the alert as now known, whether it is open)
    let mut looks: BTreeMap<&str, (&PlatformAlert, bool)> = stored
        .iter()
        .map(|(id, a)| (id.as_str(), (a, !read.complete && !a.dismissed)))
        .collect();
    for a in &read.alerts {
        looks.insert(a.id.as_str(), (a, !a.dismissed));
    }
    let ctx = settings.at(now);
    let tenant = read.tenant.as_str();
    store.evaluation_tx(|tx| {
        let mut pending = Pending::default();
        for (id, (alert, open)) in &looks {
            let plan = plan_platform(&ctx, tenant, alert, *open, &mut |k| tx.alert(k))?;
            for rec in &plan.records {
                tx.put_alert(rec)?;
                pending.report.alerts.push(rec.clone());
            }
            pending.notifications.extend(plan.notifications);
            pending.report.resources += 1;
            // Kept while open, or while an alert on it still owes a notification.
            if *open || !plan.watch.live.is_empty() {
                let keep = PlatformAlert {
                    dismissed: !open,
                    ..(*alert).clone()
                };
                if stored.get(*id) != Some(&keep) {
                    tx.put_platform_alert(tenant, &keep)?;
                    pending.report.written += 1;
                }
            } else if stored.contains_key(*id) {
                tx.remove_platform_alert(tenant, id)?;
                pending.report.written += 1;
            }
        }
        if let Some(w) = read.watermark {
            tx.set_platform_watermark(tenant, w)?;
        }
        finish(tx, settings, pending, now)
    })
}

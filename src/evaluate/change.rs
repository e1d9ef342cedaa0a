//! One resource inside an evaluation transaction: read it (with its watch) and the
//! alerts that can matter, plan every rule on it, and write what the plan says; then,
//! for the whole transaction, route the notifications into the outbox.

use chrono::{DateTime, Utc};

use super::{Change, CommitReport};
use crate::acronis::model::Timestamp;
use crate::alerts::{AlertSettings, Notification, PlanContext, plan, route};
use crate::model::{Agent, Miss, MissCheck, StatusChange, StoredResource, Watch};
use crate::state::{EvalTx, ResourceAt, TxResult};

/// What a transaction's resources led to, before the notifications are routed.
#[derive(Default)]
pub(super) struct Pending {
    pub report: CommitReport,
    pub notifications: Vec<Notification>,
}

/// Look at the resource at `at` for `change` and stage everything it leads to. With
/// `check` (a full pass checking the incremental passes), a polled change that those
/// passes could not have seen is counted as a miss, and an alert it fires is dated
/// when the data says the change happened.
pub(super) fn look_at(
    tx: &EvalTx<'_>,
    ctx: &PlanContext<'_>,
    at: &ResourceAt,
    change: Change<'_>,
    check: Option<&MissCheck>,
    out: &mut Pending,
) -> TxResult<()> {
    let (old, watch) = match tx.resource(at)? {
        Some((r, w)) => (Some(r), w),
        None => (None, Watch::default()),
    };
    let new = match change {
        Change::Polled(r) => Some(r),
        Change::Deleted => None,
        Change::DeadlineDue | Change::RulesChanged => old.as_ref(),
    };
    if old.is_none() && new.is_none() {
        return Ok(());
    }
    let carried;
    let new = match (new, change) {
        (Some(n), Change::Polled(_)) => match offline_since(old.as_ref(), n, ctx.now) {
            Some(since) => {
                carried = StoredResource {
                    agent: n.agent.clone().map(|a| Agent {
                        offline_since: Some(since),
                        ..a
                    }),
                    ..n.clone()
                };
                Some(&carried)
            }
            None => Some(n),
        },
        (n, _) => n,
    };
    let mut occurred = None;
    if let (Some(check), Some(o), Change::Polled(n)) = (check, &old, change)
        && let Some(what) = o.moved(n)
        && n.updated_at.is_some_and(|u| u < check.covered_before)
    {
        occurred = o.moved_at(n).map(|t| t.0);
        out.report.misses += 1;
        out.report.first_miss.get_or_insert_with(|| Miss {
            id: n.id.clone(),
            name: n.name.clone(),
            what,
            updated_at: n.updated_at,
        });
    }
    let ctx = &ctx.occurred_at(occurred);
    let mut plan = plan(ctx, old.as_ref(), &watch, new, &mut |key| tx.alert(key))?;
    // The resource's one index entry: an entry at or before its next wake stays
    // (early, never late: when it comes due the resource is looked at and the entry
    // moves on), so a page whose deadlines all moved later costs no index writes.
    let entry = match change {
        Change::DeadlineDue => None,
        _ => watch.indexed,
    };
    let wake = if new.is_some() { plan.watch.wake } else { None };
    plan.watch.indexed = match (entry, wake) {
        (Some(e), Some(w)) if e <= w => Some(e),
        (e, w) => {
            tx.move_deadline(at, e, w)?;
            w
        }
    };
    // A resource read as it was stored, whose watch stays, is not written: a full
    // pass of an unchanged fleet writes nothing but its bookkeeping.
    match new {
        Some(r) if old.as_ref() != Some(r) || plan.watch != watch => {
            tx.put_resource(at, r, &plan.watch)?;
            out.report.written += 1;
        }
        Some(_) => {}
        None => tx.remove_resource(at)?,
    }
    if let Some(o) = &old {
        let changed = match (new, change) {
            (Some(n), Change::Polled(_)) => o.status != n.status,
            (None, _) => true,
            _ => false,
        };
        if changed {
            out.report.changes.push(StatusChange {
                tenant: at.tenant.clone(),
                id: at.id.clone(),
                name: new.map_or(&o.name, |n| &n.name).clone(),
                from: Some(o.status.clone()),
                to: new.map(|n| n.status.clone()),
            });
        }
    }
    tx.count_resource(
        &at.tenant,
        old.as_ref().map(|r| r.status.as_str()),
        new.map(|r| r.status.as_str()),
    );
    for rec in plan.records {
        tx.put_alert(&rec)?;
        out.report.alerts.push(rec);
    }
    out.notifications.extend(plan.notifications);
    out.report.resources += 1;
    Ok(())
}

/// The time an agent polled offline has been offline since, when `polled` does not
/// carry it yet: the API gives none, so it is the first poll that saw it offline
/// (`now`), kept from the stored record while the agent stays offline.
fn offline_since(
    old: Option<&StoredResource>,
    polled: &StoredResource,
    now: DateTime<Utc>,
) -> Option<Timestamp> {
    let agent = polled.agent.as_ref()?;
    if agent.online != Some(false) || agent.offline_since.is_some() {
        return None;
    }
    let before = old
        .and_then(|o| o.agent.as_ref())
        .filter(|a| a.online == Some(false))
        .and_then(|a| a.offline_since);
    Some(before.unwrap_or(Timestamp(now)))
}

/// Route what the transaction's resources led to into the outbox.
pub(super) fn finish(
    tx: &EvalTx<'_>,
    settings: &AlertSettings,
    mut pending: Pending,
    now: DateTime<Utc>,
) -> TxResult<CommitReport> {
    let notes = std::mem::take(&mut pending.notifications);
    let routed = route(settings, notes, now, &mut |key| tx.group(key), &mut || {
        tx.next_id()
    })?;
    for r in &routed.items {
        tx.put_item(&r.item)?;
        if let Some(key) = &r.opens {
            tx.open_group(key, &r.item)?;
        }
    }
    pending.report.enqueued = routed.created;
    Ok(pending.report)
}

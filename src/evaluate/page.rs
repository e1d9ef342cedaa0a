//! A poll's page, committed with its evaluation: the resources, their alerts and
//! deadlines, the outbox items, and (on a poll's last page) the tenant's new
//! watermark, in one transaction, so the watermark is never durable without the items
//! it covers.

use chrono::{DateTime, Utc};

use super::change::{Pending, finish, look_at};
use super::{Change, CommitReport};
use crate::alerts::{AlertSettings, log_transitions};
use crate::model::{PageCommit, PollMode};
use crate::state::{ResourceAt, StateError, Store};

/// Commit `page` evaluated at `now` with `settings`; each alert transition is logged
/// once the commit is done.
pub fn commit_page(
    store: &Store,
    page: &PageCommit,
    settings: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<CommitReport, StateError> {
    let mut report = commit_quietly(store, page, settings, now)?;
    report.transitions = log_transitions(&report.alerts, now);
    Ok(report)
}

/// [`commit_page`] without logging (for data this worker stops watching).
pub(super) fn commit_quietly(
    store: &Store,
    page: &PageCommit,
    settings: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<CommitReport, StateError> {
    let ids = page.upserts.iter().map(|r| r.id.as_str());
    let mut upserts: Vec<(ResourceAt, Change<'_>)> = store
        .locate(&page.tenant, ids)?
        .into_iter()
        .zip(page.upserts.iter().map(Change::Polled))
        .collect();
    // Key order: sled's leaf updates favour it.
    upserts.sort_by(|a, b| a.0.cmp(&b.0));
    let ids = page.deletes.iter().map(String::as_str);
    let deletes: Vec<(ResourceAt, Change<'_>)> = store
        .locate(&page.tenant, ids)?
        .into_iter()
        .map(|at| (at, Change::Deleted))
        .collect();
    let ctx = settings.at(now);
    store.evaluation_tx(|tx| {
        let mut pending = Pending::default();
        let check = page.check.as_ref();
        for (at, change) in upserts.iter().chain(&deletes) {
            look_at(tx, &ctx, at, *change, check, &mut pending)?;
        }
        if let Some(poll) = &page.poll {
            let mut poll = poll.clone();
            poll.incremental_misses += pending.report.misses as u64;
            if pending.report.misses > 0 && check.is_some_and(|c| c.full_on_miss) {
                poll.mode = PollMode::Full;
            }
            tx.put_tenant_poll(page.poll_tenant.as_ref().unwrap_or(&page.tenant), &poll)?;
        }
        finish(tx, settings, pending, now)
    })
}

//! A poll's page, committed with its evaluation: the resources, their alerts and
//! deadlines, the outbox items, and (on a poll's last page) the tenant's new
//! watermark, in one transaction, so the watermark is never durable without the items
//! it covers.

use chrono::{DateTime, Utc};

use super::change::{Pending, finish, look_at};
use super::{Change, CommitReport};
use crate::alerts::{AlertSettings, log_transitions};
use crate::model::{PageCommit, PollMode};
use crate::state::{Fingerprints, ResourceAt, StateError, Store};

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

/// [`commit_page`] for a page of a full pass: resources `known` says are stored as
/// the page has them are not looked at (they change nothing: their alerts already
/// follow from them, and what time alone changes is the deadline index's job), so a
/// full pass of an unchanged fleet stays reads.
pub fn commit_known(
    store: &Store,
    page: &PageCommit,
    known: &Fingerprints,
    settings: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<CommitReport, StateError> {
    let mut report = commit_inner(store, page, Some(known), settings, now)?;
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
    commit_inner(store, page, None, settings, now)
}

fn commit_inner(
    store: &Store,
    page: &PageCommit,
    known: Option<&Fingerprints>,
    settings: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<CommitReport, StateError> {
    let ids = page.upserts.iter().map(|r| r.id.as_str());
    let mut upserts: Vec<(ResourceAt, Change<'_>)> = Vec::with_capacity(page.upserts.len());
    let mut unchanged = 0;
    for (at, r) in store
        .locate(&page.tenant, ids)?
        .into_iter()
        .zip(&page.upserts)
    {
        if known.is_some_and(|k| k.unchanged(&at, r)) {
            unchanged += 1;
        } else {
            upserts.push((at, Change::Polled(r)));
        }
    }
    // Key order: sled's leaf updates favour it.
    upserts.sort_by(|a, b| a.0.cmp(&b.0));
    let ids = page.deletes.iter().map(String::as_str);
    let deletes: Vec<(ResourceAt, Change<'_>)> = store
        .locate(&page.tenant, ids)?
        .into_iter()
        .map(|at| (at, Change::Deleted))
        .collect();
    let ctx = settings.at(now);
    if upserts.is_empty() && deletes.is_empty() && page.poll.is_none() {
        return Ok(CommitReport {
            resources: unchanged,
            ..CommitReport::default()
        });
    }
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
        let mut report = finish(tx, settings, pending, now)?;
        report.resources += unchanged;
        Ok(report)
    })
}

//! Stored resources looked at again without a poll: those whose deadline came due,
//! every one after the rules or silences changed, and the ones of a tenant this worker
//! no longer watches (deleted without notifications). In batches, one transaction each,
//! each batch handed to the caller as it commits: a tick that finds 100k resources due
//! keeps one batch's records in memory, not 100k.

use chrono::{DateTime, Utc};

use super::change::{Pending, finish, look_at};
use super::page::commit_quietly;
use super::{Change, CommitReport};
use crate::alerts::{AlertSettings, Transitions, log_transitions};
use crate::model::PageCommit;
use crate::state::{DueEntry, ResourceAt, StateError, Store};

/// Most resources looked at per transaction by a tick or a re-evaluation.
const BATCH: usize = 256;

/// What a run of batches did, summed (the alert records themselves are logged batch by
/// batch as they commit, and not kept).
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Resources looked at.
    pub resources: usize,
    pub transitions: Transitions,
    /// Outbox items created.
    pub enqueued: usize,
}

impl Summary {
    /// Count a committed batch in.
    pub fn add(&mut self, done: &CommitReport) {
        self.transitions += done.transitions;
        self.resources += done.resources;
        self.enqueued += done.enqueued;
    }
}

/// Look at every resource whose deadline is due at `now` (the deadline index is read
/// from its start up to `now`, nothing else), handing each committed batch to `each`.
pub fn run_deadlines(
    store: &Store,
    settings: &AlertSettings,
    now: DateTime<Utc>,
    mut each: impl FnMut(CommitReport),
) -> Result<(), StateError> {
    loop {
        let due = store.due_deadlines(now, BATCH)?;
        if due.is_empty() {
            return Ok(());
        }
        // The due entries go whatever happens; each resource gets its new one.
        each(recheck(store, settings, &due, &[], now)?);
    }
}

/// Look at every stored resource if the rules or silences changed since the state
/// last recorded them (by `settings.fingerprint`), then record the new fingerprint;
/// false if nothing had changed.
pub fn recheck_all(
    store: &Store,
    settings: &AlertSettings,
    now: DateTime<Utc>,
    mut each: impl FnMut(CommitReport),
) -> Result<bool, StateError> {
    if store.rules_fingerprint()? == Some(settings.fingerprint) {
        return Ok(false);
    }
    let mut from: Option<ResourceAt> = None;
    loop {
        let batch = store.resources_after(from.as_ref(), BATCH)?;
        let Some(last) = batch.last().cloned() else {
            break;
        };
        each(recheck(store, settings, &[], &batch, now)?);
        from = Some(last);
    }
    store.set_rules_fingerprint(settings.fingerprint)?;
    Ok(true)
}

/// Look at stored resources as they stand, in one transaction: those of `due`
/// (removing their entries) and those of `changed`.
fn recheck(
    store: &Store,
    settings: &AlertSettings,
    due: &[DueEntry],
    changed: &[ResourceAt],
    now: DateTime<Utc>,
) -> Result<CommitReport, StateError> {
    let ctx = settings.at(now);
    let mut report = store.evaluation_tx(|tx| {
        let mut pending = Pending::default();
        for d in due {
            tx.drop_deadline(d)?;
        }
        for d in due {
            look_at(
                tx,
                &ctx,
                &d.resource,
                Change::DeadlineDue,
                None,
                &mut pending,
            )?;
        }
        for at in changed {
            look_at(tx, &ctx, at, Change::RulesChanged, None, &mut pending)?;
        }
        finish(tx, settings, pending, now)
    })?;
    report.transitions = log_transitions(&report.alerts, now);
    Ok(report)
}

/// Drop everything stored of a tenant this worker no longer watches (it left the API's
/// list or worker.toml, or another shard owns it now): its resources and their
/// deadlines go as deletions, evaluated with the rules notifying nobody (the alerts
/// end without notifications, which are the new owner's to send), then its poll
/// bookkeeping and digest record. Returns how many resources were dropped. Items
/// already queued for it stay queued: they were owed when they were made.
pub fn forget_tenant(
    store: &Store,
    tenant: &str,
    settings: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<usize, StateError> {
    let silent = settings.silent();
    let ids = store.resource_ids(tenant)?;
    for chunk in ids.chunks(500) {
        let page = PageCommit {
            tenant: tenant.to_string(),
            deletes: chunk.to_vec(),
            ..PageCommit::default()
        };
        commit_quietly(store, &page, &silent, now)?;
    }
    // Its platform alerts end the same way: a complete listing with none open.
    let none = super::PlatformRead {
        tenant: tenant.to_string(),
        complete: true,
        ..super::PlatformRead::default()
    };
    super::platform::commit_quietly(store, &none, &silent, now)?;
    store.forget_platform(tenant)?;
    store.forget_tenant_bookkeeping(tenant)?;
    Ok(ids.len())
}

//! The evaluate stage: where a resource change meets the rules. One poll page, or one
//! batch of resources whose deadline came due (or that the rules' change made worth
//! another look), goes in; one sled transaction comes out, holding the resources, the
//! alert records `crate::alerts::plan` decided, the resources' deadline entries and
//! the outbox items `crate::alerts::route` made of the notifications. A crash loses
//! or repeats nothing: the watermark a page carries is durable with the items it covers.
//!
//! Stage three of the pipeline (poll -> store -> **evaluate** -> transition + enqueue ->
//! deliver):
//! - `change.rs`: one resource in a transaction: read it and its live alerts, plan,
//!   write what the plan says, move its deadline entry;
//! - `page.rs`: a poll's page (`commit_page`);
//! - `platform.rs`: an Alert Manager read of a tenant (`commit_platform`);
//! - `recheck.rs`: due deadlines (`run_deadlines`), every resource after a rule or
//!   silence change (`recheck_all`), a tenant no longer watched (`forget_tenant`).
//!
//! It decides nothing itself (the alert logic is `crate::alerts`, pure) and knows no
//! bytes (the trees and encodings are `crate::state`'s). It never calls back into the
//! poller or forward into delivery: it reports what it did, and logs each alert
//! transition once its commit is durable in sled's log.
//!
//! The deadline index: a resource with a next wake has exactly one entry, at or before
//! that wake. A tick reads only the entries that are due. An entry earlier than the
//! wake (the wake moved later since it was written: a backup succeeded) is not moved at
//! commit time; when it comes due the resource is looked at (nothing is due yet) and
//! the entry moves to the wake. No deadline is ever late, and a page whose deadlines
//! all moved later writes nothing to the index.

mod change;
mod page;
mod platform;
mod recheck;

use crate::alerts::Transitions;
use crate::model::{AlertRecord, Miss, StatusChange, StoredResource};

pub use page::{commit_known, commit_page};
pub use platform::{PlatformRead, commit_platform};
pub use recheck::{Summary, forget_tenant, recheck_all, run_deadlines};

/// Why a resource is looked at.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// A poll read it as it is now.
    Polled(&'a StoredResource),
    /// A poll found it deleted upstream (or gone from a full pass).
    Deleted,
    /// Its deadline index entry came due (the entry is removed in the same commit).
    DeadlineDue,
    /// The rules or silences changed since it was last looked at.
    RulesChanged,
}

/// What one commit did.
#[derive(Debug, Default)]
pub struct CommitReport {
    /// Status changes of resources already known.
    pub changes: Vec<StatusChange>,
    /// Alert records written (fired, resolved, notified, ...).
    pub alerts: Vec<AlertRecord>,
    /// The transitions among them, as logged.
    pub transitions: Transitions,
    /// Outbox items created.
    pub enqueued: usize,
    /// Resources looked at.
    pub resources: usize,
    /// Resource records written (new, changed, or with a changed watch).
    pub written: usize,
    /// Changes the incremental passes missed (pages of a checking full pass).
    pub misses: usize,
    /// The first of them, for the log.
    pub first_miss: Option<Miss>,
}

impl CommitReport {
    /// Add `other`'s findings to these (a run of batches, gathered).
    pub fn absorb(&mut self, other: CommitReport) {
        self.changes.extend(other.changes);
        self.alerts.extend(other.alerts);
        self.transitions += other.transitions;
        self.enqueued += other.enqueued;
        self.resources += other.resources;
        self.written += other.written;
        self.misses += other.misses;
        if self.first_miss.is_none() {
            self.first_miss = other.first_miss;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

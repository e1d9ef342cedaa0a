//! The transactions that join a resource change to its consequences: the resource
//! record (with its watch), the alert records, the deadline index and the outbox items
//! are written together or not at all.
//!
//! - `alerts`: alert key -> [`AlertRecord`] (JSON).
//! - `deadlines`: `time (time key) | resource key` -> empty. A resource with a next
//!   wake has exactly one entry, at or before that wake (its watch's `indexed`); a
//!   tick reads only the entries that are due. An entry earlier than the wake (the
//!   wake moved later since it was written: a backup succeeded) is not moved at
//!   commit time; when it comes due the resource is evaluated (nothing is due yet)
//!   and the entry moves to the wake. No deadline is ever late, and a page whose
//!   deadlines all moved later writes nothing to the index.
//!
//! - `counts` (see `counts.rs`): moved by what each transaction wrote.
//!
//! Transaction closures may run more than once: they only read and write the trees
//! and return what they did; logging happens after the commit.

use chrono::{DateTime, Utc};
use sled::IVec;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::counts::{Deltas, Firing};
use super::outbox::{enqueue, nanos};
use super::records::{self, decode_json, encode_json, time_key};
use super::{StateError, StatusChange, Store, StoredResource};
use crate::alerts::{AlertRecord, EvalContext, Evaluator, Notification, Watch, plan};

type TxResult<T> = Result<T, ConflictableTransactionError<StateError>>;

/// What one evaluation transaction did.
#[derive(Debug, Default)]
pub struct Evaluated {
    /// Status changes of resources already known.
    pub changes: Vec<StatusChange>,
    /// Alert records written (fired, resolved, notified, ...).
    pub alerts: Vec<AlertRecord>,
    /// Outbox items created.
    pub enqueued: usize,
    /// Resources evaluated.
    pub resources: usize,
}

impl Evaluated {
    pub(super) fn absorb(&mut self, other: Evaluated) {
        self.changes.extend(other.changes);
        self.alerts.extend(other.alerts);
        self.enqueued += other.enqueued;
        self.resources += other.resources;
    }
}

/// The trees one evaluation transaction writes.
pub(super) struct Tx<'t> {
    pub resources: &'t TransactionalTree,
    pub alerts: &'t TransactionalTree,
    pub deadlines: &'t TransactionalTree,
    pub outbox: &'t TransactionalTree,
    pub groups: &'t TransactionalTree,
    pub counts: &'t TransactionalTree,
}

fn abort(e: StateError) -> ConflictableTransactionError<StateError> {
    ConflictableTransactionError::Abort(e)
}

/// One resource to (re-)evaluate in a transaction.
pub(super) struct Target<'a> {
    pub key: &'a [u8],
    pub tenant: &'a str,
    pub id: &'a str,
    /// The resource as polled now; None: deleted upstream, or (with `reread`) the
    /// stored record is evaluated as it is.
    pub new: Option<&'a StoredResource>,
    /// Evaluate the stored record as it stands (a deadline or a rule change).
    pub reread: bool,
    /// The caller removed the resource's index entry (it was due).
    pub entry_dropped: bool,
}

/// Everything a transaction's resources led to, before the outbox routing.
#[derive(Default)]
pub(super) struct Pending {
    pub done: Evaluated,
    pub notifications: Vec<Notification>,
    pub counts: Deltas,
}

impl Tx<'_> {
    /// Evaluate one resource against every rule and stage all writes.
    pub fn resource(
        &self,
        ctx: &EvalContext<'_>,
        t: &Target<'_>,
        out: &mut Pending,
    ) -> TxResult<()> {
        let old_raw = self.resources.get(t.key)?;
        let (old, watch) = match &old_raw {
            Some(v) => {
                let (r, w) = records::decode_resource_watched(t.tenant, t.id, v).map_err(abort)?;
                (Some(r), w)
            }
            None => (None, Watch::default()),
        };
        let new = match (t.new, t.reread) {
            (Some(n), _) => Some(n),
            (None, true) => old.as_ref(),
            (None, false) => None,
        };
        if old.is_none() && new.is_none() {
            return Ok(());
        }
        let alerts = self.alerts;
        // What each alert read was, for the counts its rewrite moves.
        let mut before: Vec<(String, Option<Firing>)> = Vec::new();
        let mut read = |key: &str| -> TxResult<Option<AlertRecord>> {
            let rec: Option<AlertRecord> = match alerts.get(key.as_bytes())? {
                Some(v) => decode_json("alerts", key, &v).map(Some).map_err(abort)?,
                None => None,
            };
            before.push((key.to_string(), rec.as_ref().and_then(Firing::of)));
            Ok(rec)
        };
        let mut plan = plan(ctx, old.as_ref(), &watch, new, &mut read)?;
        // The resource's one index entry: an entry at or before its next wake stays
        // (early, never late: when it comes due the resource is looked at and the entry
        // moves on), so a page whose deadlines all moved later costs no index writes.
        let entry = if t.entry_dropped { None } else { watch.indexed };
        let wake = if new.is_some() { plan.watch.wake } else { None };
        plan.watch.indexed = match (entry, wake) {
            (Some(e), Some(w)) if e <= w => Some(e),
            (e, w) => {
                self.move_deadline(t.key, e, w)?;
                w
            }
        };
        match new {
            Some(r) => {
                if t.new.is_some() || plan.watch != watch {
                    self.resources
                        .insert(t.key, records::encode_resource_watched(r, &plan.watch))?;
                }
            }
            None => {
                self.resources.remove(t.key)?;
            }
        }
        if let (Some(o), Some(n)) = (&old, t.new)
            && o.status != n.status
        {
            out.done.changes.push(StatusChange {
                tenant: t.tenant.to_string(),
                id: t.id.to_string(),
                name: n.name.clone(),
                from: Some(o.status.clone()),
                to: Some(n.status.clone()),
            });
        }
        if let (Some(o), None) = (&old, new) {
            out.done.changes.push(StatusChange {
                tenant: t.tenant.to_string(),
                id: t.id.to_string(),
                name: o.name.clone(),
                from: Some(o.status.clone()),
                to: None,
            });
        }
        out.counts.resource(
            t.tenant,
            old.as_ref().map(|r| r.status.as_str()),
            new.map(|r| r.status.as_str()),
        );
        for rec in plan.records {
            let was = match before.iter().find(|(k, _)| *k == rec.key) {
                Some((_, was)) => was.clone(),
                // Written without being read first: read it now.
                None => match self.alerts.get(rec.key.as_bytes())? {
                    Some(v) => {
                        let old: AlertRecord =
                            decode_json("alerts", &rec.key, &v).map_err(abort)?;
                        Firing::of(&old)
                    }
                    None => None,
                },
            };
            out.counts.alert(was.as_ref(), &rec);
            self.alerts.insert(rec.key.as_bytes(), encode_json(&rec))?;
            out.done.alerts.push(rec);
        }
        out.notifications.extend(plan.notifications);
        out.done.resources += 1;
        Ok(())
    }

    fn move_deadline(&self, key: &[u8], from: Option<i64>, to: Option<i64>) -> TxResult<()> {
        if from == to {
            return Ok(());
        }
        if let Some(from) = from {
            self.deadlines.remove(deadline_key(from, key))?;
        }
        if let Some(to) = to {
            self.deadlines.insert(deadline_key(to, key), &[][..])?;
        }
        Ok(())
    }

    /// Route what the resources led to into the outbox.
    pub fn finish(
        &self,
        eval: &Evaluator,
        mut pending: Pending,
        now: DateTime<Utc>,
    ) -> TxResult<Evaluated> {
        let notes = std::mem::take(&mut pending.notifications);
        pending.done.enqueued = enqueue(self.outbox, self.groups, eval, notes, now)?;
        pending.counts.write(self.counts)?;
        Ok(pending.done)
    }
}

pub(super) fn deadline_key(wake: i64, resource_key: &[u8]) -> Vec<u8> {
    [&time_key(wake)[..], resource_key].concat()
}

/// Most resources re-evaluated per transaction by a tick or a re-index.
const BATCH: usize = 256;

impl Store {
    /// Evaluate every resource whose deadline is due at `now` (the deadline index is
    /// read from its start up to `now`, nothing else).
    pub fn run_deadlines(
        &self,
        eval: &Evaluator,
        now: DateTime<Utc>,
    ) -> Result<Evaluated, StateError> {
        let mut total = Evaluated::default();
        self.run_deadlines_each(eval, now, |done| total.absorb(done))?;
        Ok(total)
    }

    /// [`Store::run_deadlines`], handing each committed batch to `each` instead of
    /// gathering them: a tick that finds 100k resources due keeps one batch's records
    /// in memory, not 100k.
    pub fn run_deadlines_each(
        &self,
        eval: &Evaluator,
        now: DateTime<Utc>,
        mut each: impl FnMut(Evaluated),
    ) -> Result<(), StateError> {
        let upper = time_key(nanos(now).saturating_add(1));
        loop {
            let due: Vec<IVec> = self
                .deadlines
                .range(..&upper[..])
                .keys()
                .take(BATCH)
                .collect::<Result<_, _>>()
                .map_err(|e| self.io(e))?;
            if due.is_empty() {
                return Ok(());
            }
            let resource_keys: Vec<Vec<u8>> = due
                .iter()
                .map(|k| k.get(8..).unwrap_or_default().to_vec())
                .collect();
            // The due entries go whatever happens; each resource gets its new one.
            each(self.reevaluate(eval, &resource_keys, &due, now)?);
        }
    }

    /// Re-evaluate every stored resource (the rules or silences changed since the state
    /// last recorded them), then record the new fingerprint.
    pub fn sync_evaluation(
        &self,
        eval: &Evaluator,
        now: DateTime<Utc>,
    ) -> Result<Option<Evaluated>, StateError> {
        let mut total = Evaluated::default();
        let ran = self.sync_evaluation_each(eval, now, |done| total.absorb(done))?;
        Ok(ran.then_some(total))
    }

    /// [`Store::sync_evaluation`], handing each committed batch to `each`; false if
    /// nothing had changed.
    pub fn sync_evaluation_each(
        &self,
        eval: &Evaluator,
        now: DateTime<Utc>,
        mut each: impl FnMut(Evaluated),
    ) -> Result<bool, StateError> {
        const KEY: &[u8] = b"evaluation_fingerprint";
        let recorded = self.meta.get(KEY).map_err(|e| self.io(e))?;
        if recorded.as_deref() == Some(&eval.fingerprint.to_be_bytes()[..]) {
            return Ok(false);
        }
        let mut from: Option<Vec<u8>> = None;
        loop {
            let range = match &from {
                Some(k) => self.resources.range::<&[u8], _>((
                    std::ops::Bound::Excluded(k.as_slice()),
                    std::ops::Bound::Unbounded,
                )),
                None => self.resources.iter(),
            };
            let keys: Vec<Vec<u8>> = range
                .keys()
                .take(BATCH)
                .map(|k| k.map(|k| k.to_vec()))
                .collect::<Result<_, _>>()
                .map_err(|e| self.io(e))?;
            let Some(last) = keys.last().cloned() else {
                break;
            };
            each(self.reevaluate(eval, &keys, &[], now)?);
            from = Some(last);
        }
        self.meta
            .insert(KEY, &eval.fingerprint.to_be_bytes())
            .map_err(|e| self.io(e))?;
        Ok(true)
    }

    /// Evaluate stored resources as they stand, in one transaction; `drop` lists
    /// deadline entries to remove (the due ones).
    fn reevaluate(
        &self,
        eval: &Evaluator,
        keys: &[Vec<u8>],
        drop: &[IVec],
        now: DateTime<Utc>,
    ) -> Result<Evaluated, StateError> {
        let named: Vec<(String, String)> = keys
            .iter()
            .map(|k| {
                let (tkey, id) = records::split_key(k);
                Ok((self.tenant_of(tkey)?, id))
            })
            .collect::<Result<_, StateError>>()?;
        let ctx = eval.at(now);
        let result = (
            &self.resources,
            &self.alerts,
            &self.deadlines,
            &self.outbox,
            &self.outbox_groups,
            &self.counts,
        )
            .transaction(|(resources, alerts, deadlines, outbox, groups, counts)| {
                let tx = Tx {
                    resources,
                    alerts,
                    deadlines,
                    outbox,
                    groups,
                    counts,
                };
                for d in drop {
                    deadlines.remove(d)?;
                }
                let mut pending = Pending::default();
                for (key, (tenant, id)) in keys.iter().zip(&named) {
                    let target = Target {
                        key,
                        tenant,
                        id,
                        new: None,
                        reread: true,
                        entry_dropped: !drop.is_empty(),
                    };
                    tx.resource(&ctx, &target, &mut pending)?;
                }
                tx.finish(eval, pending, now)
            });
        result.map_err(|e| self.tx_error(e))
    }

    pub(super) fn tx_error(&self, e: TransactionError<StateError>) -> StateError {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.io(e),
        }
    }

    /// Close every open group now (`once`: no later firing can join it in this run,
    /// and holding it would delay it to the next run).
    pub fn close_groups(&self, now: DateTime<Utc>) -> Result<usize, StateError> {
        let entries: Vec<(Vec<u8>, Vec<u8>)> = self
            .outbox_groups
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .map_err(|e| self.io(e))?;
        if entries.is_empty() {
            return Ok(0);
        }
        let result = (&self.outbox, &self.outbox_groups).transaction(|(outbox, groups)| {
            super::outbox::close_groups(outbox, groups, &entries, now)
        });
        result.map_err(|e| self.tx_error(e))
    }

    /// Every alert record, in key order.
    pub fn alerts(&self) -> impl Iterator<Item = Result<AlertRecord, StateError>> + '_ {
        self.alerts.iter().map(move |kv| {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            decode_json("alerts", &String::from_utf8_lossy(&k), &v)
        })
    }

    /// Every queued outbox item, in due order.
    pub fn outbox(
        &self,
    ) -> impl Iterator<Item = Result<crate::alerts::OutboxItem, StateError>> + '_ {
        self.outbox.iter().map(move |kv| {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            decode_json("outbox", &format!("{:x?}", &k[..]), &v)
        })
    }

    /// How many resources have a deadline.
    pub fn deadline_count(&self) -> usize {
        self.deadlines.len()
    }

    /// The earliest deadline, if any (for `run` to sleep until).
    pub fn next_deadline(&self) -> Result<Option<DateTime<Utc>>, StateError> {
        let first = self.deadlines.first().map_err(|e| self.io(e))?;
        Ok(first.map(|(k, _)| DateTime::from_timestamp_nanos(records::time_of_key(&k))))
    }
}

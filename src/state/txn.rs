//! One transaction over the trees an evaluation writes, with typed reads and writes:
//! the scaffolding every evaluating commit runs in (a poll's page, a batch of due
//! deadlines, a re-evaluation), written once. The resource records (with their
//! watch), the alert records, the deadline index, the outbox and its open groups, the
//! counts and the tenant's poll bookkeeping are written together or not at all.
//!
//! Each tree's layout is documented beside its readers (`resources.rs`, `alerts.rs`,
//! `deadlines.rs`, `outbox.rs`, `counts.rs`, `tenants.rs`).
//!
//! What the evaluation decides is the caller's; this module only knows the trees and
//! their encodings. The counts follow from what is written: a resource's status move
//! and every alert record rewritten over what it was.
//!
//! sled re-runs the closure on a conflict: [`EvalTx`] is made afresh for each run, and
//! the closure must do nothing but read and write through it.

use std::cell::RefCell;
use std::collections::HashMap;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::counts::{Deltas, Firing};
use super::deadlines::deadline_key;
use super::outbox::{group_key, item_key};
use super::records::{self, decode_json, encode_json};
use super::{StateError, Store};
use crate::model::{AlertRecord, GroupKey, OutboxItem, StoredResource, TenantPoll, Watch};

/// What a step inside a transaction returns: an abort carries a [`StateError`].
pub type TxResult<T> = Result<T, ConflictableTransactionError<StateError>>;

/// Abort the transaction with `e`.
pub(super) fn abort(e: StateError) -> ConflictableTransactionError<StateError> {
    ConflictableTransactionError::Abort(e)
}

/// Where a stored resource lives: its key in the `resources` tree, its tenant and id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceAt {
    pub(super) key: Vec<u8>,
    pub tenant: String,
    pub id: String,
}

/// A deadline index entry that came due, and the resource it is for.
#[derive(Debug, Clone)]
pub struct DueEntry {
    pub(super) entry: Vec<u8>,
    pub resource: ResourceAt,
}

/// The evaluation trees inside one transaction.
pub struct EvalTx<'t> {
    resources: &'t TransactionalTree,
    alerts: &'t TransactionalTree,
    deadlines: &'t TransactionalTree,
    outbox: &'t TransactionalTree,
    groups: &'t TransactionalTree,
    tenant_poll: &'t TransactionalTree,
    pub(super) platform: &'t TransactionalTree,
    /// What each alert read was, so its rewrite moves the counts without a second read.
    read: RefCell<HashMap<String, Option<Firing>>>,
    deltas: RefCell<Deltas>,
}

impl Store {
    /// Run `f` in one transaction over the evaluation trees, then write the counts its
    /// writes moved. `f` may run more than once (sled retries on conflict).
    pub fn evaluation_tx<T>(
        &self,
        f: impl Fn(&EvalTx<'_>) -> TxResult<T>,
    ) -> Result<T, StateError> {
        let result = (
            &self.resources,
            &self.alerts,
            &self.deadlines,
            &self.outbox,
            &self.outbox_groups,
            &self.counts,
            &self.tenant_poll,
            &self.platform,
        )
            .transaction(
                |(resources, alerts, deadlines, outbox, groups, counts, tenant_poll, platform)| {
                    let tx = EvalTx {
                        resources,
                        alerts,
                        deadlines,
                        outbox,
                        groups,
                        tenant_poll,
                        platform,
                        read: RefCell::default(),
                        deltas: RefCell::default(),
                    };
                    let out = f(&tx)?;
                    tx.deltas.borrow().write(counts)?;
                    Ok(out)
                },
            );
        result.map_err(|e| self.tx_error(e))
    }

    /// Where `tenant`'s resources `ids` are stored (the tenant gets its number on
    /// first use).
    pub fn locate<'a>(
        &self,
        tenant: &str,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<ResourceAt>, StateError> {
        let tkey = self.tenant_key(tenant)?;
        Ok(ids
            .into_iter()
            .map(|id| ResourceAt {
                key: records::resource_key(tkey, id),
                tenant: tenant.to_string(),
                id: id.to_string(),
            })
            .collect())
    }

    /// The place of a stored resource's key.
    pub(super) fn locate_key(&self, key: &[u8]) -> Result<ResourceAt, StateError> {
        let (tkey, id) = records::split_key(key);
        Ok(ResourceAt {
            key: key.to_vec(),
            tenant: self.tenant_of(tkey)?,
            id,
        })
    }
}

impl EvalTx<'_> {
    /// The stored resource at `at`, with its evaluation bookkeeping.
    pub fn resource(&self, at: &ResourceAt) -> TxResult<Option<(StoredResource, Watch)>> {
        match self.resources.get(&at.key)? {
            Some(v) => records::decode_resource_watched(&at.tenant, &at.id, &v)
                .map(Some)
                .map_err(abort),
            None => Ok(None),
        }
    }

    /// Store `r` (with `watch`) at `at`.
    pub fn put_resource(&self, at: &ResourceAt, r: &StoredResource, watch: &Watch) -> TxResult<()> {
        self.resources.insert(
            at.key.as_slice(),
            records::encode_resource_watched(r, watch),
        )?;
        Ok(())
    }

    /// Forget the resource at `at`.
    pub fn remove_resource(&self, at: &ResourceAt) -> TxResult<()> {
        self.resources.remove(at.key.as_slice())?;
        Ok(())
    }

    /// Count a resource of `tenant` that left status `from` (None: it is new) for `to`
    /// (None: it is gone).
    pub fn count_resource(&self, tenant: &str, from: Option<&str>, to: Option<&str>) {
        self.deltas.borrow_mut().resource(tenant, from, to);
    }

    /// The stored alert `key`.
    pub fn alert(&self, key: &str) -> TxResult<Option<AlertRecord>> {
        let rec: Option<AlertRecord> = match self.alerts.get(key.as_bytes())? {
            Some(v) => decode_json("alerts", key, &v).map(Some).map_err(abort)?,
            None => None,
        };
        self.read
            .borrow_mut()
            .insert(key.to_string(), rec.as_ref().and_then(Firing::of));
        Ok(rec)
    }

    /// Write an alert record (the counts move from what it was).
    pub fn put_alert(&self, rec: &AlertRecord) -> TxResult<()> {
        let known = self.read.borrow().get(&rec.key).cloned();
        let was = match known {
            Some(was) => was,
            // Written without being read first: read it now.
            None => match self.alerts.get(rec.key.as_bytes())? {
                Some(v) => {
                    let old: AlertRecord = decode_json("alerts", &rec.key, &v).map_err(abort)?;
                    Firing::of(&old)
                }
                None => None,
            },
        };
        self.deltas.borrow_mut().alert(was.as_ref(), rec);
        self.read
            .borrow_mut()
            .insert(rec.key.clone(), Firing::of(rec));
        self.alerts.insert(rec.key.as_bytes(), encode_json(rec))?;
        Ok(())
    }

    /// Move the resource's deadline index entry from `from` to `to` (ns; None: none).
    pub fn move_deadline(
        &self,
        at: &ResourceAt,
        from: Option<i64>,
        to: Option<i64>,
    ) -> TxResult<()> {
        if from == to {
            return Ok(());
        }
        if let Some(from) = from {
            self.deadlines.remove(deadline_key(from, &at.key))?;
        }
        if let Some(to) = to {
            self.deadlines.insert(deadline_key(to, &at.key), &[][..])?;
        }
        Ok(())
    }

    /// Remove a deadline entry that came due.
    pub fn drop_deadline(&self, due: &DueEntry) -> TxResult<()> {
        self.deadlines.remove(due.entry.as_slice())?;
        Ok(())
    }

    /// The item of the group `key` as stored, if the group was opened (its window may
    /// have closed since).
    pub fn group(&self, key: &GroupKey) -> TxResult<Option<OutboxItem>> {
        let gkey = group_key(key);
        let Some(okey) = self.groups.get(&gkey)? else {
            return Ok(None);
        };
        match self.outbox.get(&okey)? {
            Some(v) => decode_json("outbox", &String::from_utf8_lossy(&gkey), &v)
                .map(Some)
                .map_err(abort),
            None => Ok(None),
        }
    }

    /// A new outbox item id.
    pub fn next_id(&self) -> TxResult<u64> {
        Ok(self.outbox.generate_id()?)
    }

    /// Queue `item` (or rewrite it, under the same key).
    pub fn put_item(&self, item: &OutboxItem) -> TxResult<()> {
        self.outbox.insert(item_key(item), encode_json(item))?;
        Ok(())
    }

    /// Make `item` the one group `key` takes alerts into.
    pub fn open_group(&self, key: &GroupKey, item: &OutboxItem) -> TxResult<()> {
        self.groups.insert(group_key(key), item_key(item))?;
        Ok(())
    }

    /// Record `tenant`'s poll bookkeeping (a poll's last page).
    pub fn put_tenant_poll(&self, tenant: &str, poll: &TenantPoll) -> TxResult<()> {
        self.tenant_poll
            .insert(tenant.as_bytes(), encode_json(poll))?;
        Ok(())
    }
}

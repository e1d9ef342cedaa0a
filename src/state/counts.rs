//! Counts of stored state, per tenant: resources by aggregate status and firing
//! alerts by rule and severity. They are written in the same transactions as the
//! resources and alerts they count, so they are exact without ever scanning the
//! fleet: `/metrics` reads one small record per tenant. (A scan of 100k resources
//! per scrape or per cycle pulled the whole `resources` tree through sled's cache:
//! ~30 MiB of resident memory the idle worker kept.)
//!
//! - `counts`: `tenant` -> [`Counts`] (JSON); a tenant with nothing to count has no
//!   record.
//!
//! State directories of schema 1 had no counts: opening one counts it once
//! ([`Store::rebuild_counts`]) and marks it schema 2.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::records::{self, decode_json, encode_json};
use super::{StateError, Store};
use crate::model::{AlertRecord, AlertStatus};

use super::txn::TxResult;

/// What is counted of stored state (one tenant's, or the sum over tenants).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Stored resources by aggregate status (`ok`, `critical`, ...).
    #[serde(default)]
    pub resources: BTreeMap<String, u64>,
    /// Firing alerts by rule, then severity.
    #[serde(default)]
    pub firing: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Counts {
    fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.firing.is_empty()
    }

    /// Add `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        for (status, n) in &other.resources {
            *self.resources.entry(status.clone()).or_default() += n;
        }
        for (rule, by_severity) in &other.firing {
            let mine = self.firing.entry(rule.clone()).or_default();
            for (severity, n) in by_severity {
                *mine.entry(severity.clone()).or_default() += n;
            }
        }
    }

    fn apply(&mut self, d: &Delta) {
        for (status, by) in &d.resources {
            shift(&mut self.resources, status, *by);
        }
        for ((rule, severity), by) in &d.firing {
            let by_severity = self.firing.entry(rule.clone()).or_default();
            shift(by_severity, severity, *by);
            if by_severity.is_empty() {
                self.firing.remove(rule);
            }
        }
    }
}

/// Move one count by `by`, dropping it at zero. A count never goes below zero: the
/// transactions see every change, so it could only by a bug, and a gauge of -1
/// would help nobody.
fn shift(counts: &mut BTreeMap<String, u64>, key: &str, by: i64) {
    let now = counts
        .get(key)
        .copied()
        .unwrap_or(0)
        .saturating_add_signed(by);
    if now == 0 {
        counts.remove(key);
    } else {
        counts.insert(key.to_string(), now);
    }
}

/// How one transaction moves the counts, per tenant.
#[derive(Debug, Default)]
pub(super) struct Deltas(BTreeMap<String, Delta>);

#[derive(Debug, Default)]
struct Delta {
    resources: BTreeMap<String, i64>,
    firing: BTreeMap<(String, String), i64>,
}

impl Deltas {
    /// A resource of `tenant` left status `from` (None: it is new) for `to` (None:
    /// it is gone).
    pub fn resource(&mut self, tenant: &str, from: Option<&str>, to: Option<&str>) {
        if from == to {
            return;
        }
        let d = self.0.entry(tenant.to_string()).or_default();
        if let Some(from) = from {
            *d.resources.entry(from.to_string()).or_default() -= 1;
        }
        if let Some(to) = to {
            *d.resources.entry(to.to_string()).or_default() += 1;
        }
    }

    /// An alert record was written over `old` (what it was, if it existed).
    pub fn alert(&mut self, old: Option<&Firing>, new: &AlertRecord) {
        let now = Firing::of(new);
        if old == now.as_ref() {
            return;
        }
        let d = self.0.entry(new.tenant_id.clone()).or_default();
        if let Some(old) = old {
            *d.firing
                .entry((old.rule.clone(), old.severity.clone()))
                .or_default() -= 1;
        }
        if let Some(now) = now {
            *d.firing.entry((now.rule, now.severity)).or_default() += 1;
        }
    }

    /// Write the moved counts (read, shift, write back: one record per tenant).
    pub fn write(&self, counts: &TransactionalTree) -> TxResult<()> {
        for (tenant, d) in &self.0 {
            let mut c: Counts = match counts.get(tenant.as_bytes())? {
                Some(v) => decode_json("counts", tenant, &v)
                    .map_err(ConflictableTransactionError::Abort)?,
                None => Counts::default(),
            };
            c.apply(d);
            if c.is_empty() {
                counts.remove(tenant.as_bytes())?;
            } else {
                counts.insert(tenant.as_bytes(), encode_json(&c))?;
            }
        }
        Ok(())
    }
}

/// A firing alert as counted: its rule and severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Firing {
    rule: String,
    severity: String,
}

impl Firing {
    /// What `rec` counts for: nothing unless it is firing.
    pub fn of(rec: &AlertRecord) -> Option<Firing> {
        (rec.status == AlertStatus::Firing).then(|| Firing {
            rule: rec.rule.clone(),
            severity: rec.severity.as_str().to_string(),
        })
    }
}

impl Store {
    /// The counts summed over every tenant with stored state.
    pub fn counts(&self) -> Result<Counts, StateError> {
        let mut total = Counts::default();
        for kv in self.counts.iter() {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            let c: Counts = decode_json("counts", &String::from_utf8_lossy(&k), &v)?;
            total.add(&c);
        }
        Ok(total)
    }

    /// One tenant's counts (empty if it has nothing stored).
    pub fn tenant_counts(&self, tenant: &str) -> Result<Counts, StateError> {
        match self.counts.get(tenant.as_bytes()).map_err(|e| self.io(e))? {
            Some(v) => decode_json("counts", tenant, &v),
            None => Ok(Counts::default()),
        }
    }

    /// Count the stored resources and alerts from scratch and replace the `counts`
    /// tree with the result (opening a schema-1 state directory, which had none).
    /// Only called at open, before anything else can write.
    pub(super) fn rebuild_counts(&self) -> Result<(), StateError> {
        let mut per_tenant: BTreeMap<String, Counts> = BTreeMap::new();
        for kv in self.resources.iter() {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            let (tkey, id) = records::split_key(&k);
            let tenant = self.tenant_of(tkey)?;
            let r = records::decode_resource(&tenant, &id, &v)?;
            *per_tenant
                .entry(tenant)
                .or_default()
                .resources
                .entry(r.status.as_str().to_string())
                .or_default() += 1;
        }
        for a in self.alerts() {
            let a = a?;
            if let Some(f) = Firing::of(&a) {
                *per_tenant
                    .entry(a.tenant_id)
                    .or_default()
                    .firing
                    .entry(f.rule)
                    .or_default()
                    .entry(f.severity)
                    .or_default() += 1;
            }
        }
        let mut batch = sled::Batch::default();
        for key in self.counts.iter().keys() {
            batch.remove(key.map_err(|e| self.io(e))?);
        }
        for (tenant, c) in &per_tenant {
            batch.insert(tenant.as_bytes(), encode_json(c));
        }
        self.counts.apply_batch(batch).map_err(|e| self.io(e))
    }
}

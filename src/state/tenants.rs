//! The tenants' trees.
//!
//! - `tenant_poll`: `tenant` -> [`TenantPoll`] (watermark, last full resync, last poll),
//!   written with a poll's last page (`txn.rs`).
//! - `tenants`: `tenant` -> [`TenantRecord`] (the watched-tenant directory).

use std::collections::BTreeSet;

use super::records;
use super::{StateError, Store};
use crate::model::{PollMode, TenantPoll, TenantRecord};

impl Store {
    /// The poll bookkeeping of `tenant`, if it was ever polled.
    pub fn tenant_poll(&self, tenant: &str) -> Result<Option<TenantPoll>, StateError> {
        match self
            .tenant_poll
            .get(tenant.as_bytes())
            .map_err(|e| self.io(e))?
        {
            Some(v) => records::decode_json("tenant_poll", tenant, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Every tenant's poll bookkeeping.
    pub fn tenant_polls(&self) -> Result<Vec<(String, TenantPoll)>, StateError> {
        self.tenant_poll
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(|e| self.io(e))?;
                let key = String::from_utf8_lossy(&k).into_owned();
                let poll = records::decode_json("tenant_poll", &key, &v)?;
                Ok((key, poll))
            })
            .collect()
    }

    /// Put `tenant` (or every tenant) back on incremental polls; returns the tenants
    /// that were on full passes. The next full pass checks again.
    pub fn reset_incremental(&self, tenant: Option<&str>) -> Result<Vec<String>, StateError> {
        let mut reset = Vec::new();
        for (id, mut poll) in self.tenant_polls()? {
            if tenant.is_some_and(|t| t != id) || poll.mode == PollMode::Incremental {
                continue;
            }
            poll.mode = PollMode::Incremental;
            self.tenant_poll
                .insert(id.as_bytes(), records::encode_json(&poll))
                .map_err(|e| self.io(e))?;
            reset.push(id);
        }
        Ok(reset)
    }

    /// Record the watched-tenant directory (names for display and digests).
    /// Tenants no longer in the list are dropped from the directory; their data goes
    /// with `crate::evaluate::forget_tenant`.
    pub fn put_tenants(&self, tenants: &[TenantRecord]) -> Result<(), StateError> {
        let mut batch = sled::Batch::default();
        for key in self.tenants.iter().keys() {
            let key = key.map_err(|e| self.io(e))?;
            if !tenants.iter().any(|t| t.id.as_bytes() == key.as_ref()) {
                batch.remove(key);
            }
        }
        for t in tenants {
            batch.insert(t.id.as_bytes(), records::encode_json(t));
        }
        self.tenants.apply_batch(batch).map_err(|e| self.io(e))
    }

    /// Tenants with data stored: polled at least once, or in the directory.
    pub fn known_tenants(&self) -> Result<BTreeSet<String>, StateError> {
        let mut out: BTreeSet<String> = self.tenants()?.into_iter().map(|t| t.id).collect();
        for key in self.tenant_poll.iter().keys() {
            let key = key.map_err(|e| self.io(e))?;
            out.insert(String::from_utf8_lossy(&key).into_owned());
        }
        Ok(out)
    }

    /// The watched-tenant directory as last recorded.
    pub fn tenants(&self) -> Result<Vec<TenantRecord>, StateError> {
        self.tenants
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(|e| self.io(e))?;
                records::decode_json("tenants", &String::from_utf8_lossy(&k), &v)
            })
            .collect()
    }

    /// Drop a tenant's poll bookkeeping and digest record (once its resources are gone).
    pub fn forget_tenant_bookkeeping(&self, tenant: &str) -> Result<(), StateError> {
        self.tenant_poll
            .remove(tenant.as_bytes())
            .map_err(|e| self.io(e))?;
        self.digests
            .remove(tenant.as_bytes())
            .map_err(|e| self.io(e))?;
        Ok(())
    }
}

//! The `platform` tree: Alert Manager alerts still open, per tenant, and each tenant's
//! Alert Manager watermark.
//!
//! Layout:
//! - `a` tenant `\0` alert-id -> the alert as JSON ([`PlatformAlert`]); a dismissed or
//!   vanished alert is removed;
//! - `w` tenant -> the newest `updatedAt` read (Unix ns, 8 bytes big-endian), written
//!   in the commit that stores what that read brought.

use super::records::{decode_json, encode_json};
use super::txn::{EvalTx, TxResult, abort};
use super::{StateError, Store};
use crate::acronis::model::PlatformAlert;

fn alert_prefix(tenant: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + 2);
    k.push(b'a');
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k
}

fn alert_key(tenant: &str, id: &str) -> Vec<u8> {
    let mut k = alert_prefix(tenant);
    k.extend_from_slice(id.as_bytes());
    k
}

fn watermark_key(tenant: &str) -> Vec<u8> {
    let mut k = vec![b'w'];
    k.extend_from_slice(tenant.as_bytes());
    k
}

impl Store {
    /// The open platform alerts stored for `tenant`.
    pub fn platform_alerts(&self, tenant: &str) -> Result<Vec<PlatformAlert>, StateError> {
        let mut out = Vec::new();
        for kv in self.platform.scan_prefix(alert_prefix(tenant)) {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            out.push(decode_json("platform", &String::from_utf8_lossy(&k), &v)?);
        }
        Ok(out)
    }

    /// The newest `updatedAt` read from `tenant`'s alerts (Unix ns); None before the
    /// first read.
    pub fn platform_watermark(&self, tenant: &str) -> Result<Option<i64>, StateError> {
        let v = self
            .platform
            .get(watermark_key(tenant))
            .map_err(|e| self.io(e))?;
        Ok(v.and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok().map(i64::from_be_bytes)))
    }

    /// Forget `tenant`'s platform alerts and watermark (a tenant no longer watched).
    pub fn forget_platform(&self, tenant: &str) -> Result<(), StateError> {
        let mut batch = sled::Batch::default();
        for kv in self.platform.scan_prefix(alert_prefix(tenant)) {
            let (k, _) = kv.map_err(|e| self.io(e))?;
            batch.remove(k);
        }
        batch.remove(watermark_key(tenant));
        self.platform.apply_batch(batch).map_err(|e| self.io(e))
    }
}

impl EvalTx<'_> {
    /// The stored alert `id` of `tenant`.
    pub fn platform_alert(&self, tenant: &str, id: &str) -> TxResult<Option<PlatformAlert>> {
        let key = alert_key(tenant, id);
        match self.platform.get(&key)? {
            Some(v) => decode_json("platform", id, &v).map(Some).map_err(abort),
            None => Ok(None),
        }
    }

    pub fn put_platform_alert(&self, tenant: &str, a: &PlatformAlert) -> TxResult<()> {
        self.platform
            .insert(alert_key(tenant, &a.id), encode_json(a))?;
        Ok(())
    }

    pub fn remove_platform_alert(&self, tenant: &str, id: &str) -> TxResult<()> {
        self.platform.remove(alert_key(tenant, id))?;
        Ok(())
    }

    pub fn set_platform_watermark(&self, tenant: &str, ns: i64) -> TxResult<()> {
        self.platform
            .insert(watermark_key(tenant), &ns.to_be_bytes()[..])?;
        Ok(())
    }
}

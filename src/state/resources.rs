//! The `resources` tree and the tenant numbers its keys start with.
//!
//! - `resources`: `tenant number (u64 BE) | resource id` -> a stored resource
//!   (8 reserved bytes + compact postcard record, with its watch; see `records.rs`).
//! - `tenant_keys`: `n` + tenant id -> its number (u64 BE), `k` + number -> tenant id.
//!
//! Written only by the evaluation transaction (`txn.rs`); read here.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use super::records;
use super::txn::ResourceAt;
use super::{StateError, Store};
use crate::model::StoredResource;

/// tenant id <-> number, as in `tenant_keys` (one entry per watched tenant).
#[derive(Default)]
pub(super) struct KeyCache {
    by_tenant: HashMap<String, u64>,
    by_key: HashMap<u64, String>,
}

/// What each stored resource of some tenants is, 16 bytes a resource: a hash of its
/// key and of its record (its watch aside). A full pass tells by it, without reading
/// the store, which resources it read exactly as they are stored. Two records with
/// one hash (about 1 in 2^64) would hide a change until the resource changes again.
#[derive(Default)]
pub struct Fingerprints {
    hasher: RandomState,
    by_key: HashMap<u64, u64>,
}

impl Fingerprints {
    /// Whether the resource at `at` is stored exactly as `r`.
    pub fn unchanged(&self, at: &ResourceAt, r: &StoredResource) -> bool {
        self.by_key
            .get(&self.hasher.hash_one(at.key.as_slice()))
            .is_some_and(|stored| {
                *stored == self.hasher.hash_one(records::encode_resource(r).as_slice())
            })
    }
}

impl Store {
    fn cache(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        self.key_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The number `tenant`'s resource keys start with, if it has one.
    fn find_tenant_key(&self, tenant: &str) -> Result<Option<u64>, StateError> {
        if let Some(k) = self.cache().by_tenant.get(tenant) {
            return Ok(Some(*k));
        }
        let name_key = [b"n", tenant.as_bytes()].concat();
        let Some(v) = self.tenant_keys.get(name_key).map_err(|e| self.io(e))? else {
            return Ok(None);
        };
        let key =
            v.as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| StateError::Decode {
                    tree: "tenant_keys",
                    key: tenant.to_string(),
                    message: format!("{} bytes, expected 8", v.len()),
                })?;
        let mut cache = self.cache();
        cache.by_tenant.insert(tenant.to_string(), key);
        cache.by_key.insert(key, tenant.to_string());
        Ok(Some(key))
    }

    /// `tenant`'s number, allocated on first use.
    pub(super) fn tenant_key(&self, tenant: &str) -> Result<u64, StateError> {
        if let Some(k) = self.find_tenant_key(tenant)? {
            return Ok(k);
        }
        let candidate = self.db.generate_id().map_err(|e| self.io(e))?;
        let name_key = [b"n", tenant.as_bytes()].concat();
        let won = self
            .tenant_keys
            .compare_and_swap(&name_key, None::<&[u8]>, Some(&candidate.to_be_bytes()[..]))
            .map_err(|e| self.io(e))?
            .is_ok();
        if won {
            let number_key = [&b"k"[..], &candidate.to_be_bytes()].concat();
            self.tenant_keys
                .insert(number_key, tenant.as_bytes())
                .map_err(|e| self.io(e))?;
        }
        self.find_tenant_key(tenant)?
            .ok_or_else(|| self.io(format!("tenant {tenant} has no key after allocation")))
    }

    /// The tenant a number belongs to.
    pub(super) fn tenant_of(&self, key: u64) -> Result<String, StateError> {
        if let Some(t) = self.cache().by_key.get(&key) {
            return Ok(t.clone());
        }
        let number_key = [&b"k"[..], &key.to_be_bytes()].concat();
        let tenant = match self.tenant_keys.get(number_key).map_err(|e| self.io(e))? {
            Some(v) => String::from_utf8_lossy(&v).into_owned(),
            None => {
                return Err(StateError::Decode {
                    tree: "tenant_keys",
                    key: key.to_string(),
                    message: "a resource key names a tenant number that is not recorded".into(),
                });
            }
        };
        let mut cache = self.cache();
        cache.by_key.insert(key, tenant.clone());
        cache.by_tenant.insert(tenant.clone(), key);
        Ok(tenant)
    }

    /// One stored resource.
    pub fn resource(&self, tenant: &str, id: &str) -> Result<Option<StoredResource>, StateError> {
        let Some(tkey) = self.find_tenant_key(tenant)? else {
            return Ok(None);
        };
        match self
            .resources
            .get(records::resource_key(tkey, id))
            .map_err(|e| self.io(e))?
        {
            Some(v) => records::decode_resource(tenant, id, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Stored resources, of one tenant or all, in key order; streamed from sled.
    pub fn resources(
        &self,
        tenant: Option<&str>,
    ) -> Box<dyn Iterator<Item = Result<StoredResource, StateError>> + '_> {
        let iter = match tenant.map(|t| self.find_tenant_key(t)) {
            None => self.resources.iter(),
            Some(Ok(Some(tkey))) => self.resources.scan_prefix(records::tenant_prefix(tkey)),
            Some(Ok(None)) => return Box::new(std::iter::empty()),
            Some(Err(e)) => return Box::new(std::iter::once(Err(e))),
        };
        Box::new(iter.map(move |kv| {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            let (tkey, id) = records::split_key(&k);
            records::decode_resource(&self.tenant_of(tkey)?, &id, &v)
        }))
    }

    /// The fingerprints of the resources stored under `tenants`, read in key order
    /// (one sequential scan, where looking each resource up as a page brings it would
    /// pull sled's nodes back from disk in random order).
    pub fn fingerprints(&self, tenants: &[String]) -> Result<Fingerprints, StateError> {
        let mut out = Fingerprints::default();
        for tenant in tenants {
            let Some(tkey) = self.find_tenant_key(tenant)? else {
                continue;
            };
            for kv in self.resources.scan_prefix(records::tenant_prefix(tkey)) {
                let (k, v) = kv.map_err(|e| self.io(e))?;
                if let Some(record) = records::record_part(&v) {
                    let key = out.hasher.hash_one(k.as_ref());
                    let value = out.hasher.hash_one(record);
                    out.by_key.insert(key, value);
                }
            }
        }
        Ok(out)
    }

    /// Ids of every stored resource of `tenant`.
    pub fn resource_ids(&self, tenant: &str) -> Result<Vec<String>, StateError> {
        let Some(tkey) = self.find_tenant_key(tenant)? else {
            return Ok(Vec::new());
        };
        self.resources
            .scan_prefix(records::tenant_prefix(tkey))
            .keys()
            .map(|k| k.map(|k| records::split_key(&k).1).map_err(|e| self.io(e)))
            .collect()
    }

    /// Up to `limit` stored resources after `from` (from the first if None), in key
    /// order: a walk over the whole fleet in batches.
    pub fn resources_after(
        &self,
        from: Option<&ResourceAt>,
        limit: usize,
    ) -> Result<Vec<ResourceAt>, StateError> {
        let range = match from {
            Some(at) => self.resources.range::<&[u8], _>((
                std::ops::Bound::Excluded(at.key.as_slice()),
                std::ops::Bound::Unbounded,
            )),
            None => self.resources.iter(),
        };
        range
            .keys()
            .take(limit)
            .map(|k| {
                let k = k.map_err(|e| self.io(e))?;
                self.locate_key(&k)
            })
            .collect()
    }
}

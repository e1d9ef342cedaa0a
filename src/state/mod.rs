//! The sled state directory: named trees, typed records, and the one place that
//! writes them.
//!
//! Trees (all keys are byte strings; `\0` separates parts, ids never contain it):
//! - `meta`: `schema_version` -> u32 BE. Checked at open: a newer or missing version is
//!   an error, never a silent reset.
//! - `resources`: `tenant number (u64 BE) | resource id` -> [`StoredResource`]
//!   (8-byte epoch + compact postcard record; see `records.rs`).
//! - `tenant_keys`: `n` + tenant id -> its number (u64 BE), `k` + number -> tenant id.
//! - `tenant_poll`: `tenant` -> [`TenantPoll`] (watermark, last full resync, last poll).
//! - `tenants`: `tenant` -> [`TenantRecord`] (the watched-tenant directory).
//!
//! - `alerts`, `deadlines` (see `evaluate.rs`), `outbox`, `outbox_groups` (see
//!   `outbox.rs`): written in the same transaction as the resources they follow from.
//! - `counts` (see `counts.rs`): resources by status and firing alerts by rule and
//!   severity, per tenant, kept by the same transactions.
//! - `digests`, and `meta` `digest_tick` (see `digests.rs`): what the last digests showed.
//!
//! sled transaction closures may run more than once, so they do no I/O and have no
//! side effects.

mod counts;
mod delivery;
mod digests;
mod evaluate;
pub(crate) mod fuzz;
mod outbox;
mod records;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
pub use counts::Counts;
pub use evaluate::Evaluated;
pub use records::{StatusChange, StoredResource, TenantPoll, TenantRecord};
use sled::Transactional;

use crate::alerts::Evaluator;

/// The layout version this build writes and understands. 2: the `counts` tree (a
/// schema-1 directory is counted once at open and marked 2).
pub const SCHEMA_VERSION: u32 = 2;
const SCHEMA_KEY: &[u8] = b"schema_version";

/// Why the state directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state directory {path}: cannot create it: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "state directory {path} is in use by another acronis-watch process (sled holds a lock on it)"
    )]
    Locked { path: PathBuf },
    #[error(
        "state directory {path}: cannot open the database: {message}; it is left untouched (move it aside to start afresh)"
    )]
    Open { path: PathBuf, message: String },
    #[error(
        "state directory {path} was written by a newer acronis-watch (schema {found}, this build understands {SCHEMA_VERSION}); upgrade acronis-watch or point state.path elsewhere"
    )]
    Newer { path: PathBuf, found: u32 },
    #[error(
        "state directory {path} holds data but no valid schema version ({detail}); it is left untouched (move it aside to start afresh)"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("state database {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("state record {tree}/{key}: cannot decode: {message}")]
    Decode {
        tree: &'static str,
        key: String,
        message: String,
    },
}

/// An open state directory.
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    meta: sled::Tree,
    resources: sled::Tree,
    alerts: sled::Tree,
    deadlines: sled::Tree,
    outbox: sled::Tree,
    outbox_groups: sled::Tree,
    dead: sled::Tree,
    digests: sled::Tree,
    counts: sled::Tree,
    tenant_poll: sled::Tree,
    tenants: sled::Tree,
    tenant_keys: sled::Tree,
    /// tenant id <-> number, as in `tenant_keys` (one entry per watched tenant).
    key_cache: Arc<Mutex<KeyCache>>,
}

#[derive(Default)]
struct KeyCache {
    by_tenant: HashMap<String, u64>,
    by_key: HashMap<u64, String>,
}

/// What one page of a poll writes, atomically.
#[derive(Debug, Default)]
pub struct PageCommit {
    pub tenant: String,
    pub upserts: Vec<StoredResource>,
    /// Resource ids to forget (deleted upstream, or not seen by a full resync).
    pub deletes: Vec<String>,
    /// Set on the poll's last page: the new watermark etc. go in with its items.
    pub poll: Option<TenantPoll>,
}

impl Store {
    /// Open (creating 0700 if needed) and check the schema version.
    pub fn open(path: &Path, cache_mb: u64) -> Result<Store, StateError> {
        create_private_dir(path)?;
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_mb.max(1) * 1024 * 1024)
            .mode(sled::Mode::LowSpace)
            .open()
            .map_err(|e| open_error(path, e))?;
        let io = |e: sled::Error| StateError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let meta = db.open_tree("meta").map_err(io)?;
        let found = match meta.get(SCHEMA_KEY).map_err(io)? {
            Some(v) => {
                let bytes: [u8; 4] = v.as_ref().try_into().map_err(|_| StateError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!("schema_version is {} bytes long", v.len()),
                })?;
                let found = u32::from_be_bytes(bytes);
                if found > SCHEMA_VERSION {
                    return Err(StateError::Newer {
                        path: path.to_path_buf(),
                        found,
                    });
                }
                if found == 0 {
                    return Err(StateError::Corrupt {
                        path: path.to_path_buf(),
                        detail: "schema_version 0".into(),
                    });
                }
                found
            }
            None => {
                let holds_data = db
                    .tree_names()
                    .iter()
                    .filter(|n| n.as_ref() != b"__sled__default" && n.as_ref() != b"meta")
                    .any(|n| db.open_tree(n).map(|t| !t.is_empty()).unwrap_or(true));
                if holds_data {
                    return Err(StateError::Corrupt {
                        path: path.to_path_buf(),
                        detail: "schema_version is missing".into(),
                    });
                }
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(io)?;
                SCHEMA_VERSION
            }
        };
        let store = Store {
            path: path.to_path_buf(),
            resources: db.open_tree("resources").map_err(io)?,
            alerts: db.open_tree("alerts").map_err(io)?,
            deadlines: db.open_tree("deadlines").map_err(io)?,
            outbox: db.open_tree("outbox").map_err(io)?,
            outbox_groups: db.open_tree("outbox_groups").map_err(io)?,
            dead: db.open_tree("dead").map_err(io)?,
            digests: db.open_tree("digests").map_err(io)?,
            meta,
            tenant_poll: db.open_tree("tenant_poll").map_err(io)?,
            tenants: db.open_tree("tenants").map_err(io)?,
            tenant_keys: db.open_tree("tenant_keys").map_err(io)?,
            counts: db.open_tree("counts").map_err(io)?,
            key_cache: Arc::default(),
            db,
        };
        if found < 2 {
            // Schema 1 -> 2: count what is stored; the mark goes in only once the
            // counts are written, so an interrupted upgrade counts again.
            store.rebuild_counts()?;
            store
                .meta
                .insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                .map_err(io)?;
            store.db.flush().map_err(io)?;
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, e: impl std::fmt::Display) -> StateError {
        StateError::Io {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Make everything written so far durable, from synchronous code.
    pub fn flush_blocking(&self) -> Result<(), StateError> {
        self.db.flush().map(|_| ()).map_err(|e| self.io(e))
    }

    /// Make everything written so far durable.
    pub async fn flush(&self) -> Result<(), StateError> {
        self.db
            .flush_async()
            .await
            .map(|_| ())
            .map_err(|e| self.io(e))
    }

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

    /// Record the watched-tenant directory (names for display and digests).
    /// Tenants no longer in the list are dropped from the directory; their data goes
    /// with [`Store::forget_tenant`].
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

    /// Drop everything stored of a tenant this worker no longer watches (it left the
    /// API's list or worker.toml, or another shard owns it now): its resources and
    /// their deadlines go as deletions evaluated with `eval` (pass a silent one: the
    /// alerts end without notifications, which are the new owner's to send), then its
    /// poll bookkeeping and digest record. Returns how many resources were dropped.
    /// Items already queued for it stay queued: they were owed when they were made.
    pub fn forget_tenant(
        &self,
        tenant: &str,
        eval: &Evaluator,
        now: DateTime<Utc>,
    ) -> Result<usize, StateError> {
        let Some(tkey) = self.find_tenant_key(tenant)? else {
            self.tenant_poll
                .remove(tenant.as_bytes())
                .map_err(|e| self.io(e))?;
            return Ok(0);
        };
        let ids: Vec<String> = self
            .resources
            .scan_prefix(records::tenant_prefix(tkey))
            .keys()
            .map(|k| k.map(|k| records::split_key(&k).1).map_err(|e| self.io(e)))
            .collect::<Result<_, _>>()?;
        for chunk in ids.chunks(500) {
            let page = PageCommit {
                tenant: tenant.to_string(),
                deletes: chunk.to_vec(),
                ..PageCommit::default()
            };
            self.commit_page(&page, eval, now)?;
        }
        self.tenant_poll
            .remove(tenant.as_bytes())
            .map_err(|e| self.io(e))?;
        self.digests
            .remove(tenant.as_bytes())
            .map_err(|e| self.io(e))?;
        Ok(ids.len())
    }

    /// Tenants with data stored: polled at least once, or in the directory.
    pub fn known_tenants(&self) -> Result<std::collections::BTreeSet<String>, StateError> {
        let mut out: std::collections::BTreeSet<String> =
            self.tenants()?.into_iter().map(|t| t.id).collect();
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
    fn tenant_key(&self, tenant: &str) -> Result<u64, StateError> {
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
    fn tenant_of(&self, key: u64) -> Result<String, StateError> {
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

    /// Ids of `tenant`'s resources last seen by a full pass older than `epoch`:
    /// after a full pass of epoch `epoch`, these no longer exist upstream.
    pub fn unseen_since(&self, tenant: &str, epoch: i64) -> Result<Vec<String>, StateError> {
        let Some(tkey) = self.find_tenant_key(tenant)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for kv in self.resources.scan_prefix(records::tenant_prefix(tkey)) {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            if records::epoch_of(&v) < epoch {
                out.push(records::split_key(&k).1);
            }
        }
        Ok(out)
    }

    /// Write one page of a poll and everything it leads to, in one transaction: the
    /// resources, their alerts and deadlines, the outbox items, and (on a poll's last
    /// page) the tenant's new watermark, so the watermark is never durable without
    /// the items it covers and a crash loses or repeats nothing.
    pub fn commit_page(
        &self,
        page: &PageCommit,
        eval: &Evaluator,
        now: DateTime<Utc>,
    ) -> Result<Evaluated, StateError> {
        let tkey = self.tenant_key(&page.tenant)?;
        let mut upserts: Vec<(Vec<u8>, &StoredResource)> = page
            .upserts
            .iter()
            .map(|r| (records::resource_key(tkey, &r.id), r))
            .collect();
        // Key order: sled's leaf updates favour it.
        upserts.sort_by(|a, b| a.0.cmp(&b.0));
        let deletes: Vec<(Vec<u8>, &String)> = page
            .deletes
            .iter()
            .map(|id| (records::resource_key(tkey, id), id))
            .collect();
        let poll = page.poll.as_ref().map(records::encode_json);
        let ctx = eval.at(now);
        let result = (
            &self.resources,
            &self.alerts,
            &self.deadlines,
            &self.outbox,
            &self.outbox_groups,
            &self.counts,
            &self.tenant_poll,
        )
            .transaction(
                |(resources, alerts, deadlines, outbox, groups, counts, tenant_poll)| {
                    let tx = evaluate::Tx {
                        resources,
                        alerts,
                        deadlines,
                        outbox,
                        groups,
                        counts,
                    };
                    let mut pending = evaluate::Pending::default();
                    for (key, r) in &upserts {
                        let target = evaluate::Target {
                            key,
                            tenant: &page.tenant,
                            id: &r.id,
                            new: Some(r),
                            reread: false,
                            entry_dropped: false,
                        };
                        tx.resource(&ctx, &target, &mut pending)?;
                    }
                    for (key, id) in &deletes {
                        let target = evaluate::Target {
                            key,
                            tenant: &page.tenant,
                            id,
                            new: None,
                            reread: false,
                            entry_dropped: false,
                        };
                        tx.resource(&ctx, &target, &mut pending)?;
                    }
                    if let Some(poll) = &poll {
                        tenant_poll.insert(page.tenant.as_bytes(), poll.as_slice())?;
                    }
                    tx.finish(eval, pending, now)
                },
            );
        result.map_err(|e| self.tx_error(e))
    }
}

/// Create the state directory (and parents) with mode 0700.
fn create_private_dir(path: &Path) -> Result<(), StateError> {
    if path.is_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(path = %path.display(), "state directory is readable by other users; chmod 700 it");
            }
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path).map_err(|source| StateError::Create {
        path: path.to_path_buf(),
        source,
    })
}

fn open_error(path: &Path, e: sled::Error) -> StateError {
    let message = e.to_string();
    let locked = matches!(&e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock)
        || message.contains("lock");
    if locked {
        StateError::Locked {
            path: path.to_path_buf(),
        }
    } else {
        StateError::Open {
            path: path.to_path_buf(),
            message,
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod evaluate_tests;

#[cfg(test)]
mod delivery_tests;

#[cfg(test)]
mod counts_tests;

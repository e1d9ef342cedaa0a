//! The sled state directory: it knows bytes and trees, not rules. The store, its
//! open and schema migration live here; each tree's readers and writers sit in the
//! file that documents its layout:
//!
//! - `meta`: `schema_version` -> u32 BE. Checked at open: a newer or missing version is
//!   an error, never a silent reset. Also the rules' fingerprint (`alerts.rs`), the
//!   digest tick (`digests.rs`) and the channels' last sends (`delivery.rs`).
//! - `resources`, `tenant_keys` (`resources.rs`); `tenant_poll`, `tenants`
//!   (`tenants.rs`); `alerts` (`alerts.rs`); `deadlines` (`deadlines.rs`); `outbox`,
//!   `outbox_groups`, `dead` (`outbox.rs`, `delivery.rs`); `counts` (`counts.rs`);
//!   `digests` (`digests.rs`). Keys are byte strings; `\0` separates parts, ids never
//!   contain it. Values' encodings are in `records.rs`.
//!
//! Everything an evaluation writes goes in one transaction (`Store::evaluation_tx`,
//! `txn.rs`), whose closure may run more than once: it does no I/O and has no side
//! effects. Stage-wise this is storage for every stage: it uses `crate::model` and
//! nothing above it.

mod alerts;
mod counts;
mod deadlines;
mod delivery;
mod digests;
pub(crate) mod fuzz;
mod outbox;
mod platform;
mod records;
mod resources;
mod tenants;
mod txn;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use counts::Counts;
pub use resources::Fingerprints;
use sled::transaction::TransactionError;
pub use txn::{DueEntry, EvalTx, ResourceAt, TxResult};

use resources::KeyCache;

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
    /// Alert Manager alerts still open, and each tenant's watermark (`platform.rs`).
    platform: sled::Tree,
    /// tenant id <-> number, as in `tenant_keys` (one entry per watched tenant).
    key_cache: Arc<Mutex<KeyCache>>,
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
            platform: db.open_tree("platform").map_err(io)?,
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

    pub(super) fn io(&self, e: impl std::fmt::Display) -> StateError {
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

    pub(super) fn tx_error(&self, e: TransactionError<StateError>) -> StateError {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => self.io(e),
        }
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

//! The `deadlines` tree: `time (time key) | resource key` -> empty, a resource's one
//! entry in the deadline index (when it moves is `crate::evaluate`'s business). Written
//! by the evaluation transaction (`txn.rs`); read here, from its start up to now.

use chrono::{DateTime, Utc};

use super::outbox::nanos;
use super::records::{self, time_key};
use super::txn::DueEntry;
use super::{StateError, Store};

/// The index key of a resource's entry due at `wake` (ns).
pub(super) fn deadline_key(wake: i64, resource_key: &[u8]) -> Vec<u8> {
    [&time_key(wake)[..], resource_key].concat()
}

impl Store {
    /// Up to `limit` entries due at `now`, earliest first.
    pub fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueEntry>, StateError> {
        let upper = time_key(nanos(now).saturating_add(1));
        self.deadlines
            .range(..&upper[..])
            .keys()
            .take(limit)
            .map(|k| {
                let entry = k.map_err(|e| self.io(e))?;
                let resource = self.locate_key(entry.get(8..).unwrap_or_default())?;
                Ok(DueEntry {
                    entry: entry.to_vec(),
                    resource,
                })
            })
            .collect()
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

//! The `alerts` tree: alert key -> [`AlertRecord`] (JSON), written by the evaluation
//! transaction (`txn.rs`); and in `meta`, the fingerprint of the rules and silences the
//! stored alerts and deadlines were decided by.

use super::records::decode_json;
use super::{StateError, Store};
use crate::model::AlertRecord;

const FINGERPRINT_KEY: &[u8] = b"evaluation_fingerprint";

impl Store {
    /// Every alert record, in key order.
    pub fn alerts(&self) -> impl Iterator<Item = Result<AlertRecord, StateError>> + '_ {
        self.alerts.iter().map(move |kv| {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            decode_json("alerts", &String::from_utf8_lossy(&k), &v)
        })
    }

    /// The fingerprint of the rules and silences last applied to every resource.
    pub fn rules_fingerprint(&self) -> Result<Option<u64>, StateError> {
        let v = self.meta.get(FINGERPRINT_KEY).map_err(|e| self.io(e))?;
        Ok(v.and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
    }

    /// Record that every resource was looked at with the rules of `fingerprint`.
    pub fn set_rules_fingerprint(&self, fingerprint: u64) -> Result<(), StateError> {
        self.meta
            .insert(FINGERPRINT_KEY, &fingerprint.to_be_bytes())
            .map(|_| ())
            .map_err(|e| self.io(e))
    }
}

//! Digest bookkeeping.
//!
//! - `digests`: `tenant` -> [`DigestRecord`] (JSON): what the tenant's last sent
//!   digest showed, so the next one tells what changed, across restarts.
//! - `meta` `digest_tick`: the last `[digest].cron` tick handled (RFC 3339).
//!
//! A tick's digests enter the outbox in the same transaction that records them and
//! the tick, so a crash neither loses the week's digest nor sends it twice (beyond
//! the outbox's own at-least-once).

use chrono::{DateTime, Utc};
use sled::Transactional;

use super::outbox::item_key;
use super::records::{decode_json, encode_json};
use super::{StateError, Store};
use crate::model::{DigestRecord, OutboxItem};

const TICK_KEY: &[u8] = b"digest_tick";

impl Store {
    /// The last digest tick handled, if any.
    pub fn digest_tick(&self) -> Result<Option<DateTime<Utc>>, StateError> {
        match self.meta.get(TICK_KEY).map_err(|e| self.io(e))? {
            Some(v) => decode_json("meta", "digest_tick", &v).map(Some),
            None => Ok(None),
        }
    }

    /// Record `tick` as handled without sending anything (a first start).
    pub fn set_digest_tick(&self, tick: DateTime<Utc>) -> Result<(), StateError> {
        self.meta
            .insert(TICK_KEY, encode_json(&tick))
            .map(|_| ())
            .map_err(|e| self.io(e))
    }

    /// What `tenant`'s last sent digest showed.
    pub fn digest_record(&self, tenant: &str) -> Result<Option<DigestRecord>, StateError> {
        match self
            .digests
            .get(tenant.as_bytes())
            .map_err(|e| self.io(e))?
        {
            Some(v) => decode_json("digests", tenant, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Queue `items` (given ids here) and record what each tenant's digest showed,
    /// and `tick` as handled when given, in one transaction. Returns the items queued.
    pub fn commit_digests(
        &self,
        items: Vec<OutboxItem>,
        records: &[(String, DigestRecord)],
        tick: Option<DateTime<Utc>>,
    ) -> Result<Vec<OutboxItem>, StateError> {
        let records: Vec<(&[u8], Vec<u8>)> = records
            .iter()
            .map(|(tenant, r)| (tenant.as_bytes(), encode_json(r)))
            .collect();
        let tick = tick.map(|t| encode_json(&t));
        let result =
            (&self.outbox, &self.digests, &self.meta).transaction(|(outbox, digests, meta)| {
                let mut queued = Vec::with_capacity(items.len());
                for item in &items {
                    let mut item = item.clone();
                    item.id = outbox.generate_id()?;
                    outbox.insert(item_key(&item), encode_json(&item))?;
                    queued.push(item);
                }
                for (tenant, value) in &records {
                    digests.insert(*tenant, value.as_slice())?;
                }
                if let Some(tick) = &tick {
                    meta.insert(TICK_KEY, tick.as_slice())?;
                }
                Ok(queued)
            });
        result.map_err(|e| self.tx_error(e))
    }
}

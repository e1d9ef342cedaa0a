//! The outbox as the delivery worker sees it: each channel's due items in order, and
//! what an attempt leaves behind (gone, rescheduled, or a dead letter). Every change
//! of one item is atomic: an item is never both queued and dead, nor lost between.

use chrono::{DateTime, Utc};
use sled::Transactional;

use super::outbox::{item_key, nanos, outbox_key};
use super::records::{decode_json, encode_json, time_key};
use super::{StateError, Store};
use crate::model::OutboxItem;

/// Sends remembered per channel (for the rate limit across restarts).
const SENDS_KEPT: usize = 64;

impl Store {
    /// Up to `limit` of `channel`'s items due at `at`, in due order.
    pub fn due(
        &self,
        channel: &str,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StateError> {
        let start = [channel.as_bytes(), b"\0"].concat();
        let end = [&start[..], &time_key(nanos(at).saturating_add(1))[..]].concat();
        self.outbox
            .range(start..end)
            .take(limit)
            .map(|kv| {
                let (k, v) = kv.map_err(|e| self.io(e))?;
                decode_json("outbox", &format!("{channel}/{:x?}", &k[..]), &v)
            })
            .collect()
    }

    /// When `channel`'s next queued item is due, if it has any.
    pub fn next_due(&self, channel: &str) -> Result<Option<DateTime<Utc>>, StateError> {
        let prefix = [channel.as_bytes(), b"\0"].concat();
        let first = self
            .outbox
            .scan_prefix(&prefix)
            .next()
            .transpose()
            .map_err(|e| self.io(e))?;
        Ok(first.map(|(k, _)| {
            DateTime::from_timestamp_nanos(super::records::time_of_key(&k[prefix.len()..]))
        }))
    }

    /// How many items are queued (all channels).
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// A delivered item leaves the outbox.
    pub fn delivered(&self, item: &OutboxItem) -> Result<(), StateError> {
        self.outbox
            .remove(item_key(item))
            .map(|_| ())
            .map_err(|e| self.io(e))
    }

    /// A failed attempt: `was` is replaced by `next` (more attempts, a later due time).
    pub fn reschedule(&self, was: &OutboxItem, next: &OutboxItem) -> Result<(), StateError> {
        let (old, new) = (item_key(was), item_key(next));
        let value = encode_json(next);
        let result = self.outbox.transaction(|outbox| {
            outbox.remove(old.as_slice())?;
            outbox.insert(new.as_slice(), value.as_slice())?;
            Ok(())
        });
        result.map_err(|e| self.tx_error(e))
    }

    /// Delivery failed for good: `was` leaves the outbox and `dead` enters the dead
    /// letters, in one transaction.
    pub fn bury(&self, was: &OutboxItem, dead: &OutboxItem) -> Result<(), StateError> {
        let old = item_key(was);
        let value = encode_json(dead);
        let result = (&self.outbox, &self.dead).transaction(|(outbox, dead_tree)| {
            outbox.remove(old.as_slice())?;
            dead_tree.insert(&dead.id.to_be_bytes()[..], value.as_slice())?;
            Ok(())
        });
        result.map_err(|e| self.tx_error(e))
    }

    /// Every dead letter, oldest id first.
    pub fn dead(&self) -> impl Iterator<Item = Result<OutboxItem, StateError>> + '_ {
        self.dead.iter().map(move |kv| {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            decode_json("dead", &format!("{:x?}", &k[..]), &v)
        })
    }

    /// How many dead letters there are.
    pub fn dead_len(&self) -> usize {
        self.dead.len()
    }

    /// Move every dead letter back to the outbox with its attempts reset (its last
    /// error is kept until the next attempt), due at once: at the time it was first
    /// queued, which every later run's clock (wall or `--now`) has passed. Returns how
    /// many moved.
    pub fn retry_dead(&self) -> Result<usize, StateError> {
        let items: Vec<OutboxItem> = self.dead().collect::<Result<_, _>>()?;
        let moved: Vec<(u64, Vec<u8>, Vec<u8>)> = items
            .into_iter()
            .map(|mut item| {
                item.attempts = 0;
                item.next_attempt_at = item.created_at;
                item.open_until = None;
                let key = outbox_key(&item.channel, item.created_at, item.id);
                (item.id, key, encode_json(&item))
            })
            .collect();
        let result = (&self.outbox, &self.dead).transaction(|(outbox, dead)| {
            for (id, key, value) in &moved {
                dead.remove(&id.to_be_bytes()[..])?;
                outbox.insert(key.as_slice(), value.as_slice())?;
            }
            Ok(())
        });
        result.map_err(|e| self.tx_error(e))?;
        Ok(moved.len())
    }

    /// The last sends to `channel` (Unix ns, oldest first).
    pub fn sends(&self, channel: &str) -> Result<Vec<i64>, StateError> {
        let key = [b"sends\0", channel.as_bytes()].concat();
        match self.meta.get(key).map_err(|e| self.io(e))? {
            Some(v) => decode_json("meta", &format!("sends/{channel}"), &v),
            None => Ok(Vec::new()),
        }
    }

    /// Remember a send to `channel` at `at` (wall clock), keeping the last few.
    pub fn record_send(&self, channel: &str, at: DateTime<Utc>) -> Result<(), StateError> {
        let mut sends = self.sends(channel)?;
        sends.push(nanos(at));
        if sends.len() > SENDS_KEPT {
            sends.drain(..sends.len() - SENDS_KEPT);
        }
        let key = [b"sends\0", channel.as_bytes()].concat();
        self.meta
            .insert(key, encode_json(&sends))
            .map(|_| ())
            .map_err(|e| self.io(e))
    }
}

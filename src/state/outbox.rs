//! The outbox trees: their keys, and the groups `once` closes. Items are queued in
//! the evaluation transaction (`txn.rs`) and the digest one (`digests.rs`), and taken
//! out by delivery (`delivery.rs`).
//!
//! - `outbox`: `channel \0 next attempt (time key) id (u64 BE)` -> [`OutboxItem`]
//!   (JSON), so each channel's next due item is the first key of a range scan, and a
//!   channel's backlog never slows another's scan.
//! - `dead`: `id (u64 BE)` -> [`OutboxItem`] whose delivery failed for good.
//! - `outbox_groups`: `rule \0 channel \0 status` -> the outbox key of the group that
//!   still takes alerts (its window is open). A group's item is due when its window
//!   closes; until then new firings of the same rule for the same channel join it.

use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::TransactionalTree;

use super::records::{decode_json, encode_json, time_key};
use super::txn::{TxResult, abort};
use super::{StateError, Store};
use crate::model::{GroupKey, OutboxItem};

/// The outbox key of `channel`'s item `id` due at `at`.
pub(super) fn outbox_key(channel: &str, at: DateTime<Utc>, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(channel.len() + 17);
    k.extend_from_slice(channel.as_bytes());
    k.push(0);
    k.extend_from_slice(&time_key(nanos(at)));
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The key of `item` as it stands.
pub(super) fn item_key(item: &OutboxItem) -> Vec<u8> {
    outbox_key(&item.channel, item.next_attempt_at, item.id)
}

pub(super) fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// The `outbox_groups` key of a group.
pub(super) fn group_key(g: &GroupKey) -> Vec<u8> {
    [
        g.rule.as_bytes(),
        b"\0",
        g.channel.as_bytes(),
        b"\0",
        g.status.as_str().as_bytes(),
    ]
    .concat()
}

/// Close every group still open: its item becomes due at `now`.
fn close_groups(
    outbox: &TransactionalTree,
    groups: &TransactionalTree,
    entries: &[(Vec<u8>, Vec<u8>)],
    now: DateTime<Utc>,
) -> TxResult<usize> {
    let mut closed = 0;
    for (gkey, okey) in entries {
        groups.remove(gkey.as_slice())?;
        let Some(v) = outbox.get(okey.as_slice())? else {
            continue;
        };
        let mut item: OutboxItem =
            decode_json("outbox", &String::from_utf8_lossy(gkey), &v).map_err(abort)?;
        if item.open_until.is_none_or(|until| until <= now) {
            continue;
        }
        outbox.remove(okey.as_slice())?;
        item.open_until = Some(now);
        item.next_attempt_at = now;
        outbox.insert(item_key(&item), encode_json(&item))?;
        closed += 1;
    }
    Ok(closed)
}

impl Store {
    /// Close every open group now (`once`: no later firing can join it in this run,
    /// and holding it would delay it to the next run).
    pub fn close_groups(&self, now: DateTime<Utc>) -> Result<usize, StateError> {
        let entries: Vec<(Vec<u8>, Vec<u8>)> = self
            .outbox_groups
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .map_err(|e| self.io(e))?;
        if entries.is_empty() {
            return Ok(0);
        }
        let result = (&self.outbox, &self.outbox_groups)
            .transaction(|(outbox, groups)| close_groups(outbox, groups, &entries, now));
        result.map_err(|e| self.tx_error(e))
    }

    /// Every queued outbox item, in due order.
    pub fn outbox(&self) -> impl Iterator<Item = Result<OutboxItem, StateError>> + '_ {
        self.outbox.iter().map(move |kv| {
            let (k, v) = kv.map_err(|e| self.io(e))?;
            decode_json("outbox", &format!("{:x?}", &k[..]), &v)
        })
    }
}

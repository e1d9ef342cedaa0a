//! The outbox trees, written inside the evaluation transaction.
//!
//! - `outbox`: `channel \0 next attempt (time key) id (u64 BE)` -> [`OutboxItem`]
//!   (JSON), so each channel's next due item is the first key of a range scan, and a
//!   channel's backlog never slows another's scan.
//! - `dead`: `id (u64 BE)` -> [`OutboxItem`] whose delivery failed for good.
//! - `outbox_groups`: `rule \0 channel \0 status` -> the outbox key of the group that
//!   still takes alerts (its window is open). A group's item is due when its window
//!   closes; until then new firings of the same rule for the same channel join it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::StateError;
use super::records::{decode_json, encode_json, time_key};
use crate::alerts::{Evaluator, Notification, Notify, NotifyStatus, OutboxItem, RuleInfo};

type TxResult<T> = Result<T, ConflictableTransactionError<StateError>>;

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

fn group_key(rule: &str, channel: &str, status: NotifyStatus) -> Vec<u8> {
    [
        rule.as_bytes(),
        b"\0",
        channel.as_bytes(),
        b"\0",
        status.as_str().as_bytes(),
    ]
    .concat()
}

fn abort(e: StateError) -> ConflictableTransactionError<StateError> {
    ConflictableTransactionError::Abort(e)
}

/// Route notifications to their rules' channels: one item per alert, or into the open
/// group of (rule, channel, status). Returns how many outbox items were created.
pub(super) fn enqueue(
    outbox: &TransactionalTree,
    groups: &TransactionalTree,
    eval: &Evaluator,
    notifications: Vec<Notification>,
    now: DateTime<Utc>,
) -> TxResult<usize> {
    // Collected per group first: a storm of 500 firings rewrites each group once.
    let mut grouped: BTreeMap<(String, String, NotifyStatus), Vec<Notification>> = BTreeMap::new();
    let mut created = 0;
    for n in notifications {
        let Some(rule) = eval.rules.get(&n.rule) else {
            continue;
        };
        let status = match n.notify {
            Notify::Firing | Notify::Repeat => NotifyStatus::Firing,
            Notify::Resolved => NotifyStatus::Resolved,
        };
        for channel in &rule.notify {
            if rule.group_window.is_zero() || eval.ungrouped.contains(channel) {
                let mut item = new_item(outbox, eval, &n.rule, channel, status, now, None)?;
                item.push(n.alert.clone());
                put(outbox, &item)?;
                created += 1;
            } else {
                grouped
                    .entry((n.rule.clone(), channel.clone(), status))
                    .or_default()
                    .push(n.clone());
            }
        }
    }
    for ((rule_name, channel, status), list) in grouped {
        let Some(rule) = eval.rules.get(&rule_name) else {
            continue;
        };
        let gkey = group_key(&rule_name, &channel, status);
        let open = match groups.get(&gkey)? {
            Some(okey) => match outbox.get(&okey)? {
                Some(v) => {
                    let item: OutboxItem =
                        decode_json("outbox", &String::from_utf8_lossy(&gkey), &v)
                            .map_err(abort)?;
                    item.open_until
                        .is_some_and(|until| until > now)
                        .then_some(item)
                }
                None => None,
            },
            None => None,
        };
        let mut item = match open {
            Some(item) => item,
            None => {
                let window = chrono::Duration::from_std(rule.group_window).unwrap_or_default();
                let item = new_item(
                    outbox,
                    eval,
                    &rule_name,
                    &channel,
                    status,
                    now,
                    Some(now + window),
                )?;
                groups.insert(gkey, item_key(&item))?;
                created += 1;
                item
            }
        };
        for n in list {
            item.push(n.alert);
        }
        put(outbox, &item)?;
    }
    Ok(created)
}

fn new_item(
    outbox: &TransactionalTree,
    eval: &Evaluator,
    rule: &str,
    channel: &str,
    status: NotifyStatus,
    now: DateTime<Utc>,
    open_until: Option<DateTime<Utc>>,
) -> TxResult<OutboxItem> {
    let info = eval.rules.get(rule).map(|r| RuleInfo {
        name: r.name.clone(),
        description: r.description.clone(),
        severity: r.severity,
    });
    let info = info.unwrap_or(RuleInfo {
        name: rule.to_string(),
        description: String::new(),
        severity: crate::rules::Severity::Warning,
    });
    Ok(OutboxItem {
        id: outbox.generate_id()?,
        channel: channel.to_string(),
        rule: info,
        status,
        alerts: Vec::new(),
        more: 0,
        created_at: now,
        open_until,
        attempts: 0,
        next_attempt_at: open_until.unwrap_or(now),
        last_error: None,
        digest: None,
    })
}

fn put(outbox: &TransactionalTree, item: &OutboxItem) -> TxResult<()> {
    outbox.insert(item_key(item), encode_json(item))?;
    Ok(())
}

/// Close every group still open: its item becomes due at `now`.
pub(super) fn close_groups(
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
        put(outbox, &item)?;
        closed += 1;
    }
    Ok(closed)
}

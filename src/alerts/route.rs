//! Routing and grouping: which channels a rule's notifications go to, and whether each
//! is a message of its own or joins the open group of its rule, channel and status.
//! A rule with a `group_window` collects the firings (or resolutions) of that window
//! into one message per channel; PagerDuty is never grouped (one event per alert).
//!
//! Pure: open groups are read through a reader the caller supplies (inside its
//! transaction), as [`super::plan`] reads alerts, and new ids come from the caller.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{AlertSettings, Notification, Notify};
use crate::model::{AlertStatus, GroupKey, OutboxItem, RuleInfo, Severity};

/// An outbox item to write, and the group it opens (its window starts now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedItem {
    pub item: OutboxItem,
    pub opens: Option<GroupKey>,
}

/// What routing a transaction's notifications gives.
#[derive(Debug, Default)]
pub struct Routed {
    /// New items, and open groups that took more alerts (their keys unchanged).
    pub items: Vec<RoutedItem>,
    /// How many of `items` are new.
    pub created: usize,
}

/// Route `notifications` to their rules' channels at `now`: one item per alert, or
/// into the open group of (rule, channel, status). `group` reads a group's item as
/// stored; `next_id` gives a new item id.
pub fn route<E>(
    settings: &AlertSettings,
    notifications: Vec<Notification>,
    now: DateTime<Utc>,
    group: &mut dyn FnMut(&GroupKey) -> Result<Option<OutboxItem>, E>,
    next_id: &mut dyn FnMut() -> Result<u64, E>,
) -> Result<Routed, E> {
    let mut out = Routed::default();
    // Collected per group first: a storm of 500 firings rewrites each group once.
    let mut grouped: BTreeMap<GroupKey, Vec<Notification>> = BTreeMap::new();
    for n in notifications {
        let Some(rule) = settings.rules.get(&n.rule) else {
            continue;
        };
        let status = match n.notify {
            Notify::Firing | Notify::Repeat => AlertStatus::Firing,
            Notify::Resolved => AlertStatus::Resolved,
            Notify::Flapping => AlertStatus::Flapping,
        };
        for channel in &rule.notify {
            if rule.group_window.is_zero() || settings.ungrouped.contains(channel) {
                let mut item = new_item(settings, &n.rule, channel, status, now, None);
                item.id = next_id()?;
                item.push(n.alert.clone());
                out.items.push(RoutedItem { item, opens: None });
                out.created += 1;
            } else {
                let key = GroupKey {
                    rule: n.rule.clone(),
                    channel: channel.clone(),
                    status,
                };
                grouped.entry(key).or_default().push(n.clone());
            }
        }
    }
    for (key, list) in grouped {
        let Some(rule) = settings.rules.get(&key.rule) else {
            continue;
        };
        let open = group(&key)?.filter(|item| item.open_until.is_some_and(|until| until > now));
        let (mut item, opens) = match open {
            Some(item) => (item, None),
            None => {
                let window = chrono::Duration::from_std(rule.group_window).unwrap_or_default();
                let mut item = new_item(
                    settings,
                    &key.rule,
                    &key.channel,
                    key.status,
                    now,
                    Some(now + window),
                );
                item.id = next_id()?;
                out.created += 1;
                (item, Some(key))
            }
        };
        for n in list {
            item.push(n.alert);
        }
        out.items.push(RoutedItem { item, opens });
    }
    Ok(out)
}

fn new_item(
    settings: &AlertSettings,
    rule: &str,
    channel: &str,
    status: AlertStatus,
    now: DateTime<Utc>,
    open_until: Option<DateTime<Utc>>,
) -> OutboxItem {
    let info = match settings.rules.get(rule) {
        Some(r) => RuleInfo {
            name: r.name.clone(),
            description: r.description.clone(),
            severity: r.severity,
        },
        None => RuleInfo {
            name: rule.to_string(),
            description: String::new(),
            severity: Severity::Warning,
        },
    };
    OutboxItem::new(channel, info, status, now, open_until)
}

//! The outbox under any sequence of delivery outcomes: no item is lost or doubled,
//! each channel sees its own items in due order.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::alerts::AlertSettings;
use crate::model::OutboxItem;
use crate::rules::RuleSet;
use crate::rules::tests::{h, machine, status_rule, t};

/// What happens to the next due item of a channel.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Sent,
    Retry(u8),
    Dead,
    RetryDead,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        3 => Just(Outcome::Sent),
        3 => (1u8..5).prop_map(Outcome::Retry),
        1 => Just(Outcome::Dead),
        1 => Just(Outcome::RetryDead),
    ]
}

fn store_with(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let mut rule = status_rule(&["critical"]);
    rule.notify = vec!["a".into(), "b".into()];
    let eval = AlertSettings {
        rules: Arc::new(RuleSet { rules: vec![rule] }),
        ..AlertSettings::default()
    };
    let page = PageCommit {
        tenant: "tenant-1".into(),
        upserts: (0..n)
            .map(|i| machine(&format!("m{i}"), "critical"))
            .collect(),
        ..Default::default()
    };
    commit_page(&store, &page, &eval, t("2026-11-23T12:00:00Z")).unwrap();
    (dir, store)
}

fn ids(items: impl Iterator<Item = Result<OutboxItem, StateError>>) -> Vec<u64> {
    items.map(|i| i.unwrap().id).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn items_are_conserved_under_any_outcomes(
        n in 1usize..12,
        steps in prop::collection::vec((prop::bool::ANY, outcome()), 1..60),
    ) {
        let (_dir, store) = store_with(n);
        let total: BTreeSet<u64> = ids(store.outbox()).into_iter().collect();
        prop_assert_eq!(total.len(), 2 * n, "one item per alert per channel");
        let mut now = t("2026-11-23T12:00:00Z");
        let mut sent = BTreeSet::new();
        for (first_channel, outcome) in steps {
            now += h(1);
            let channel = if first_channel { "a" } else { "b" };
            if let Outcome::RetryDead = outcome {
                store.retry_dead().unwrap();
                continue;
            }
            let due = store.due(channel, now, 100).unwrap();
            // Due order, and only this channel's items.
            prop_assert!(due.windows(2).all(|w| (w[0].next_attempt_at, w[0].id) <= (w[1].next_attempt_at, w[1].id)));
            prop_assert!(due.iter().all(|i| i.channel == channel));
            let Some(item) = due.into_iter().next() else { continue };
            match outcome {
                Outcome::Sent => {
                    store.delivered(&item).unwrap();
                    prop_assert!(sent.insert(item.id), "sent twice");
                }
                Outcome::Retry(hours) => {
                    let mut next = item.clone();
                    next.attempts += 1;
                    next.next_attempt_at = now + h(hours.into());
                    store.reschedule(&item, &next).unwrap();
                }
                Outcome::Dead => {
                    let mut dead = item.clone();
                    dead.last_error = Some("400".into());
                    store.bury(&item, &dead).unwrap();
                }
                Outcome::RetryDead => unreachable!(),
            }
            let queued = ids(store.outbox());
            let dead = ids(store.dead());
            let mut all: Vec<u64> = queued.iter().chain(&dead).copied().chain(sent.iter().copied()).collect();
            all.sort_unstable();
            let before = all.len();
            all.dedup();
            prop_assert_eq!(before, all.len(), "an item in two places");
            prop_assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), total.clone(), "an item lost");
        }
    }
}

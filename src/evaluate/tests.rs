//! The evaluate stage against a real sled directory: deadlines fire
//! without a resource change, index entries follow resources exactly, groups collect
//! a storm into one item per channel, a rule change re-evaluates everything.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;
use crate::alerts::AlertSettings;
use crate::model::{AlertStatus, OutboxItem, PageCommit, StoredResource, TenantPoll};
use crate::rules::tests::{backup, h, machine, stale_rule, status_rule, t};
use crate::rules::{Rule, RuleSet};
use crate::state::Store;

/// [`run_deadlines`], its batches gathered.
pub(crate) fn deadlines(
    store: &Store,
    settings: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<CommitReport, crate::state::StateError> {
    let mut all = CommitReport::default();
    run_deadlines(store, settings, now, |done| all.absorb(done))?;
    Ok(all)
}

/// [`recheck_all`], its batches gathered; None if nothing had changed.
pub(crate) fn recheck(
    store: &Store,
    settings: &AlertSettings,
    now: DateTime<Utc>,
) -> Result<Option<CommitReport>, crate::state::StateError> {
    let mut all = CommitReport::default();
    let ran = recheck_all(store, settings, now, |done| all.absorb(done))?;
    Ok(ran.then_some(all))
}

fn eval(rules: Vec<Rule>) -> AlertSettings {
    AlertSettings {
        rules: Arc::new(RuleSet { rules }),
        ..AlertSettings::default()
    }
}

fn page(resources: Vec<StoredResource>) -> PageCommit {
    PageCommit {
        tenant: "tenant-1".into(),
        upserts: resources,
        ..Default::default()
    }
}

fn outbox(store: &Store) -> Vec<OutboxItem> {
    store.outbox().map(Result::unwrap).collect()
}

fn stale_machine(id: &str, success: DateTime<Utc>) -> StoredResource {
    let mut r = machine(id, "ok");
    r.policies = vec![backup(Some(success), Some(success), None)];
    r
}

#[test]
fn a_stale_backup_fires_at_its_deadline_without_any_poll() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let ev = eval(vec![stale_rule(26)]);
    let success = t("2026-11-20T00:00:00Z");
    commit_page(
        &store,
        &page(vec![stale_machine("a", success)]),
        &ev,
        success + h(1),
    )
    .unwrap();
    assert_eq!(store.deadline_count(), 1);
    assert_eq!(store.next_deadline().unwrap(), Some(success + h(26)));

    let early = deadlines(&store, &ev, success + h(25)).unwrap();
    assert_eq!(early.resources, 0, "a tick reads only due entries");
    assert!(outbox(&store).is_empty());

    let due = deadlines(&store, &ev, success + h(26)).unwrap();
    assert_eq!((due.resources, due.enqueued), (1, 1));
    let alert = store.alerts().next().unwrap().unwrap();
    assert_eq!(alert.status, AlertStatus::Firing);
    assert_eq!(alert.fired_at, success + h(26));
    assert_eq!(
        store.deadline_count(),
        0,
        "firing: time alone changes nothing more"
    );
}

#[test]
fn an_entry_left_early_moves_on_when_due_and_the_deadline_still_fires_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let ev = eval(vec![stale_rule(26)]);
    let first = t("2026-11-20T00:00:00Z");
    commit_page(&store, &page(vec![stale_machine("a", first)]), &ev, first).unwrap();
    // The next day's backup succeeded: the deadline moves a day later.
    let second = first + h(24);
    commit_page(&store, &page(vec![stale_machine("a", second)]), &ev, second).unwrap();
    assert_eq!(store.deadline_count(), 1, "still one entry per resource");
    assert_eq!(
        store.next_deadline().unwrap(),
        Some(first + h(26)),
        "left early"
    );

    let moved = deadlines(&store, &ev, first + h(26)).unwrap();
    assert_eq!(
        (moved.resources, moved.enqueued),
        (1, 0),
        "looked at, nothing due"
    );
    assert_eq!(store.next_deadline().unwrap(), Some(second + h(26)));

    let fired = deadlines(&store, &ev, second + h(26)).unwrap();
    assert_eq!(fired.enqueued, 1);
}

#[test]
fn a_deadline_moving_earlier_moves_its_entry_and_deletion_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let ev = eval(vec![stale_rule(26)]);
    let now = t("2026-11-20T00:00:00Z");
    commit_page(&store, &page(vec![stale_machine("a", now)]), &ev, now).unwrap();
    // An older success than recorded (a restore of the record): earlier deadline.
    commit_page(
        &store,
        &page(vec![stale_machine("a", now - h(10))]),
        &ev,
        now,
    )
    .unwrap();
    assert_eq!(store.next_deadline().unwrap(), Some(now + h(16)));
    assert_eq!(store.deadline_count(), 1);

    let delete = PageCommit {
        tenant: "tenant-1".into(),
        deletes: vec!["a".into()],
        ..Default::default()
    };
    commit_page(&store, &delete, &ev, now).unwrap();
    assert_eq!(store.deadline_count(), 0);
}

#[test]
fn a_storm_is_one_grouped_item_per_channel_and_one_page_per_alert() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let mut rule = status_rule(&["critical"]);
    rule.notify = vec!["chat".into(), "pager".into()];
    rule.group_window = Duration::from_secs(30);
    let ev = AlertSettings {
        ungrouped: Arc::new(HashSet::from(["pager".to_string()])),
        ..eval(vec![rule])
    };
    let now = t("2026-11-23T12:00:00Z");
    let first: Vec<_> = (0..150)
        .map(|i| machine(&format!("m{i:03}"), "critical"))
        .collect();
    commit_page(&store, &page(first), &ev, now).unwrap();
    // Ten seconds later, inside the window, another page of the same storm.
    let second: Vec<_> = (150..250)
        .map(|i| machine(&format!("m{i:03}"), "critical"))
        .collect();
    commit_page(
        &store,
        &page(second),
        &ev,
        now + chrono::Duration::seconds(10),
    )
    .unwrap();

    let items = outbox(&store);
    let chat: Vec<_> = items.iter().filter(|i| i.channel == "chat").collect();
    assert_eq!(chat.len(), 1, "one message for the whole storm");
    assert_eq!(chat[0].count(), 250);
    assert_eq!(chat[0].alerts.len(), crate::model::MAX_ITEM_ALERTS);
    assert_eq!(chat[0].more, 50);
    assert_eq!(chat[0].status, AlertStatus::Firing);
    assert_eq!(
        chat[0].next_attempt_at,
        now + chrono::Duration::seconds(30),
        "due when the window closes"
    );
    assert_eq!(items.iter().filter(|i| i.channel == "pager").count(), 250);

    // Closing the groups (as `once` does at the end of its cycle) makes it due now.
    let later = now + chrono::Duration::seconds(12);
    assert_eq!(store.close_groups(later).unwrap(), 1);
    let chat: Vec<_> = outbox(&store)
        .into_iter()
        .filter(|i| i.channel == "chat")
        .collect();
    assert_eq!(chat[0].next_attempt_at, later);
    assert_eq!(chat[0].count(), 250, "closing keeps every alert");

    // After the window a new firing starts a new group.
    commit_page(&store, &page(vec![machine("late", "critical")]), &ev, later).unwrap();
    let chat = outbox(&store)
        .into_iter()
        .filter(|i| i.channel == "chat")
        .count();
    assert_eq!(chat, 2);
}

#[test]
fn a_rule_change_re_evaluates_every_resource_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let now = t("2026-11-23T12:00:00Z");
    let r = stale_machine("a", now - h(30));
    let lenient = AlertSettings {
        fingerprint: 1,
        ..eval(vec![stale_rule(48)])
    };
    assert!(
        recheck(&store, &lenient, now).unwrap().is_some(),
        "first run records it"
    );
    commit_page(&store, &page(vec![r]), &lenient, now).unwrap();
    assert!(store.alerts().next().is_none());
    assert!(
        recheck(&store, &lenient, now).unwrap().is_none(),
        "unchanged: no work"
    );

    let strict = AlertSettings {
        fingerprint: 2,
        ..eval(vec![stale_rule(26)])
    };
    let done = recheck(&store, &strict, now).unwrap().unwrap();
    assert_eq!(done.resources, 1);
    let alert = store.alerts().next().unwrap().unwrap();
    assert_eq!(
        alert.status,
        AlertStatus::Firing,
        "fires under the new threshold"
    );
    assert_eq!(
        recheck(&store, &strict, now).unwrap().map(|d| d.resources),
        None
    );
}

#[test]
fn the_watermark_commits_with_the_alerts_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let ev = eval(vec![status_rule(&["critical"])]);
    let now = t("2026-11-23T12:00:00Z");
    let mut last = page(vec![machine("a", "critical")]);
    last.poll = Some(TenantPoll {
        watermark: crate::acronis::model::Timestamp(now),
        last_full_resync: crate::acronis::model::Timestamp(now),
        last_poll: crate::acronis::model::Timestamp(now),
        mode: Default::default(),
        incremental_misses: 0,
        filed: Vec::new(),
    });
    commit_page(&store, &last, &ev, now).unwrap();
    assert!(store.tenant_poll("tenant-1").unwrap().is_some());
    assert_eq!(store.alerts().count(), 1);
    assert_eq!(outbox(&store).len(), 1);
    // A re-read of the same page (a crash before the next poll) duplicates nothing.
    commit_page(&store, &last, &ev, now + h(1)).unwrap();
    assert_eq!(outbox(&store).len(), 1);
}

//! The lifecycle, silences and the per-resource plan, without sled.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;
use crate::config::{ResourceMatch, SilenceConfig, SilenceWindow};
use crate::model::{AlertRecord, AlertStatus, TenantNames, Told, Watch};
use crate::rules::tests::{backup, h, machine, stale_rule, status_rule, t};
use crate::rules::{Rule, RuleSet, Transition};

fn fresh(now: DateTime<Utc>) -> impl FnOnce() -> AlertRecord {
    move || AlertRecord {
        key: "machine-bad/tenant-1/a".into(),
        rule: "machine-bad".into(),
        tenant_id: "tenant-1".into(),
        resource_id: "a".into(),
        resource_name: "host-a".into(),
        policy: None,
        status: AlertStatus::Firing,
        severity: crate::model::Severity::Warning,
        fired_at: now,
        resolved_at: None,
        last_notified_at: None,
        told: Told::Nothing,
        found_at: None,
        changes: Vec::new(),
        flapping_since: None,
    }
}

fn run(
    rule: &Rule,
    prior: Option<AlertRecord>,
    tr: Transition,
    silenced: Silenced,
    now: DateTime<Utc>,
) -> Step {
    step(rule, prior, tr, silenced, now, fresh(now))
}

#[test]
fn a_firing_is_notified_once_and_repeats_on_schedule() {
    let mut rule = status_rule(&["critical"]);
    rule.repeat = Some(Duration::from_secs(4 * 3600));
    let now = t("2026-11-23T12:00:00Z");
    let s = run(&rule, None, Transition::Fired, Silenced::No, now);
    assert_eq!(s.notify, Some(Notify::Firing));
    let rec = s.record.clone().unwrap();
    assert_eq!((rec.told, rec.last_notified_at), (Told::Firing, Some(now)));
    assert_eq!(s.wake, Some(now + h(4)), "the next repeat");
    let s2 = run(
        &rule,
        Some(rec.clone()),
        Transition::StillFiring,
        Silenced::No,
        now + h(1),
    );
    assert_eq!(s2.notify, None);
    assert_eq!(
        s2.record.as_ref(),
        Some(&rec),
        "nothing changes while it keeps firing"
    );
    let s3 = run(
        &rule,
        Some(rec),
        Transition::RepeatDue,
        Silenced::No,
        now + h(4),
    );
    assert_eq!(s3.notify, Some(Notify::Repeat));
    assert_eq!(s3.wake, Some(now + h(8)));
}

#[test]
fn a_resolution_is_notified_only_when_the_rule_asks_and_the_firing_was_told() {
    let mut rule = status_rule(&["critical"]);
    let now = t("2026-11-23T12:00:00Z");
    let rec = run(&rule, None, Transition::Fired, Silenced::No, now)
        .record
        .unwrap();
    let s = run(
        &rule,
        Some(rec.clone()),
        Transition::Resolved,
        Silenced::No,
        now + h(1),
    );
    assert_eq!(s.notify, Some(Notify::Resolved));
    let done = s.record.unwrap();
    assert_eq!(
        (done.status, done.told),
        (AlertStatus::Resolved, Told::Resolved)
    );
    assert_eq!(done.resolved_at, Some(now + h(1)));
    assert!(!done.owes(true));

    rule.resolve = false;
    let s = run(
        &rule,
        Some(rec),
        Transition::Resolved,
        Silenced::No,
        now + h(1),
    );
    assert_eq!(s.notify, None);
    assert_eq!(s.record.unwrap().told, Told::Resolved, "nothing owed");
}

#[test]
fn a_silence_holds_notifications_back_until_it_ends() {
    let rule = status_rule(&["critical"]);
    let now = t("2026-11-23T12:00:00Z");
    let end = now + h(2);
    let s = run(&rule, None, Transition::Fired, Silenced::Until(end), now);
    assert_eq!(s.notify, None);
    assert_eq!(s.wake, Some(end));
    assert!(s.live(&rule), "evaluation keeps reading it");
    let rec = s.record.unwrap();
    assert_eq!(
        rec.status,
        AlertStatus::Firing,
        "state moves, notifications wait"
    );
    assert!(rec.owes(rule.resolve));
    let s = run(&rule, Some(rec), Transition::StillFiring, Silenced::No, end);
    assert_eq!(
        s.notify,
        Some(Notify::Firing),
        "notified when the silence ends"
    );
}

#[test]
fn an_alert_that_fired_and_resolved_inside_a_silence_owes_nothing() {
    let rule = status_rule(&["critical"]);
    let now = t("2026-11-23T12:00:00Z");
    let silenced = Silenced::Until(now + h(5));
    let rec = run(&rule, None, Transition::Fired, silenced, now)
        .record
        .unwrap();
    let s = run(&rule, Some(rec), Transition::Resolved, silenced, now + h(1));
    assert_eq!(s.notify, None);
    assert!(!s.record.unwrap().owes(true));
    assert_eq!(s.wake, None);
}

#[test]
fn a_resolution_held_by_a_silence_goes_out_when_it_ends() {
    let rule = status_rule(&["critical"]);
    let now = t("2026-11-23T12:00:00Z");
    let rec = run(&rule, None, Transition::Fired, Silenced::No, now)
        .record
        .unwrap();
    let end = now + h(3);
    let s = run(
        &rule,
        Some(rec),
        Transition::Resolved,
        Silenced::Until(end),
        now + h(1),
    );
    assert_eq!((s.notify, s.wake), (None, Some(end)));
    let s = run(&rule, s.record, Transition::Nothing, Silenced::No, end);
    assert_eq!(s.notify, Some(Notify::Resolved));
}

#[test]
fn a_rule_without_channels_keeps_state_and_sends_nothing() {
    let mut rule = status_rule(&["critical"]);
    rule.notify.clear();
    let now = t("2026-11-23T12:00:00Z");
    let s = run(&rule, None, Transition::Fired, Silenced::No, now);
    assert_eq!(s.notify, None);
    assert_eq!(s.record.unwrap().told, Told::Firing);
}

fn silence(rule: Option<&str>, names: &[&str], window: SilenceWindow) -> SilenceConfig {
    SilenceConfig {
        comment: None,
        rule: rule.map(str::to_string),
        matcher: ResourceMatch {
            names: names.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
        window,
    }
}

#[test]
fn silences_cover_their_window_rule_and_resources() {
    let starts = t("2026-12-24T00:00:00Z");
    let ends = t("2026-12-27T00:00:00Z");
    let fixed = SilenceWindow::Fixed {
        starts: Some(starts),
        ends: Some(ends),
    };
    let s = Silences::new(&[silence(Some("backup-stale"), &["host-*"], fixed)]);
    let r = machine("a", "ok");
    assert_eq!(s.check("backup-stale", &r, starts - h(1)), Silenced::No);
    assert_eq!(s.check("backup-stale", &r, starts), Silenced::Until(ends));
    assert_eq!(
        s.check("backup-stale", &r, ends),
        Silenced::No,
        "ends is exclusive"
    );
    assert_eq!(
        s.check("machine-bad", &r, starts),
        Silenced::No,
        "another rule"
    );
    let mut other = machine("b", "ok");
    other.name = "db-01".into();
    assert_eq!(
        s.check("backup-stale", &other, starts),
        Silenced::No,
        "another name"
    );

    let open = Silences::new(&[silence(
        None,
        &[],
        SilenceWindow::Fixed {
            starts: Some(starts),
            ends: None,
        },
    )]);
    assert_eq!(
        open.check("x", &r, starts + h(9999)),
        Silenced::Indefinitely
    );
}

#[test]
fn a_maintenance_window_opens_at_each_cron_tick_for_its_duration() {
    let schedule: cron::Schedule = "0 0 22 * * Sat".parse().unwrap();
    let window = SilenceWindow::Recurring {
        cron: "0 0 22 * * Sat".into(),
        schedule,
        duration: Duration::from_secs(4 * 3600),
        timezone: chrono_tz::UTC,
    };
    let s = Silences::new(&[silence(None, &[], window)]);
    let r = machine("a", "ok");
    // 2026-11-28 is a Saturday.
    let opens = t("2026-11-28T22:00:00Z");
    assert_eq!(s.check("x", &r, opens - h(1)), Silenced::No);
    assert_eq!(s.check("x", &r, opens), Silenced::Until(opens + h(4)));
    assert_eq!(
        s.check("x", &r, opens + h(3)),
        Silenced::Until(opens + h(4))
    );
    assert_eq!(s.check("x", &r, opens + h(4)), Silenced::No);
}

fn ctx<'a>(
    rules: &'a RuleSet,
    silences: &'a Silences,
    names: &'a TenantNames,
    now: DateTime<Utc>,
) -> PlanContext<'a> {
    PlanContext {
        rules,
        silences,
        now,
        tenant_names: names,
        occurred: None,
    }
}

/// Plan with alerts read from (and written back to) an in-memory map.
fn plan_with(
    c: &PlanContext<'_>,
    store: &mut HashMap<String, AlertRecord>,
    old: Option<&crate::model::StoredResource>,
    watch: &Watch,
    new: Option<&crate::model::StoredResource>,
) -> ResourcePlan {
    let snapshot = store.clone();
    let mut read =
        |k: &str| -> Result<Option<AlertRecord>, Infallible> { Ok(snapshot.get(k).cloned()) };
    let p = plan(c, old, watch, new, &mut read).unwrap();
    for r in &p.records {
        store.insert(r.key.clone(), r.clone());
    }
    p
}

#[test]
fn a_plan_fires_at_first_sight_then_stays_quiet_then_resolves_on_deletion() {
    let rules = RuleSet {
        rules: vec![status_rule(&["critical"]), stale_rule(26)],
    };
    let silences = Silences::default();
    let names = TenantNames::default().with_api([("tenant-1".to_string(), "Contoso".to_string())]);
    let now = t("2026-11-23T12:00:00Z");
    let c = ctx(&rules, &silences, &names, now);
    let mut alerts = HashMap::new();
    let mut r = machine("a", "critical");
    r.policies = vec![backup(Some(now - h(2)), Some(now - h(2)), None)];

    let p1 = plan_with(&c, &mut alerts, None, &Watch::default(), Some(&r));
    assert_eq!(p1.notifications.len(), 1);
    let n = &p1.notifications[0];
    assert_eq!(n.alert.key, "machine-bad/tenant-1/a");
    assert_eq!(n.alert.tenant.name, "Contoso");
    assert_eq!(n.alert.summary, "host-a is critical");
    assert_eq!(p1.watch.live.len(), 1);
    assert_eq!(
        p1.watch.wake,
        (now + h(24)).timestamp_nanos_opt(),
        "the stale rule's deadline: last success + 26h"
    );

    let p2 = plan_with(&c, &mut alerts, Some(&r), &p1.watch, Some(&r));
    assert!(p2.notifications.is_empty() && p2.records.is_empty());
    assert_eq!(p2.watch, p1.watch);

    let later = ctx(&rules, &silences, &names, now + h(1));
    let p3 = plan_with(&later, &mut alerts, Some(&r), &p2.watch, None);
    assert_eq!(p3.notifications.len(), 1);
    assert_eq!(p3.notifications[0].notify, Notify::Resolved);
    assert!(p3.watch.live.is_empty());
    assert_eq!(
        alerts["machine-bad/tenant-1/a"].status,
        AlertStatus::Resolved
    );
}

#[test]
fn a_stale_alert_fires_at_its_deadline_and_a_removed_rule_ends_it_silently() {
    let rules = RuleSet {
        rules: vec![stale_rule(26)],
    };
    let silences = Silences::default();
    let names = TenantNames::default();
    let success = t("2026-11-22T00:00:00Z");
    let mut r = machine("a", "ok");
    r.policies = vec![backup(Some(success), Some(success), None)];
    let mut alerts = HashMap::new();
    let p = plan_with(
        &ctx(&rules, &silences, &names, success + h(1)),
        &mut alerts,
        None,
        &Watch::default(),
        Some(&r),
    );
    assert!(p.notifications.is_empty());
    let wake = DateTime::from_timestamp_nanos(p.watch.wake.unwrap());
    assert_eq!(wake, success + h(26));
    let at = ctx(&rules, &silences, &names, wake);
    let p = plan_with(&at, &mut alerts, Some(&r), &p.watch, Some(&r));
    assert_eq!(p.notifications.len(), 1);
    assert_eq!(
        p.notifications[0].alert.key,
        "backup-stale/tenant-1/a/policy.backup.machine"
    );
    assert!(
        p.notifications[0]
            .alert
            .summary
            .contains("last successful backup 1d 2h ago"),
        "{}",
        p.notifications[0].alert.summary
    );

    let none = RuleSet::default();
    let p = plan_with(
        &ctx(&none, &silences, &names, wake),
        &mut alerts,
        Some(&r),
        &p.watch,
        Some(&r),
    );
    assert!(p.notifications.is_empty());
    assert!(p.watch.live.is_empty());
    let rec = &alerts["backup-stale/tenant-1/a/policy.backup.machine"];
    assert_eq!(
        (rec.status, rec.told),
        (AlertStatus::Resolved, Told::Resolved)
    );
}

proptest! {
    /// Under any pattern of silences, what channels hear alternates: a firing, then
    /// at most repeats, then a resolution; never two firings or two resolutions in a
    /// row. Once nothing is silenced any more, nothing is owed.
    #[test]
    fn channels_hear_a_consistent_story(
        steps in prop::collection::vec((prop::bool::ANY, prop::bool::weighted(0.4)), 1..40),
        flap in prop::bool::ANY,
    ) {
        let mut rule = status_rule(&["critical"]);
        rule.repeat = Some(Duration::from_secs(3 * 3600));
        if flap {
            rule.resolve = true;
            rule.flap = Some(crate::rules::Flap { changes: 3, within: Duration::from_secs(4 * 3600) });
        }
        let mut changes = 0;
        let mut told = 0;
        let mut now = t("2026-11-01T00:00:00Z");
        let mut rec: Option<AlertRecord> = None;
        let mut heard: Option<Notify> = None;
        let last = steps.len() - 1;
        for (i, (critical, silenced)) in steps.into_iter().enumerate() {
            now += h(1);
            let silenced = if silenced && i != last { Silenced::Until(now + h(1)) } else { Silenced::No };
            let r = machine("a", if critical { "critical" } else { "ok" });
            let subj = crate::rules::subject(&rule, &r);
            let tr = crate::rules::transition(&rule, rec.as_ref().map(crate::rules::Prior::of).as_ref(), subj.as_ref(), now);
            if matches!(tr, Transition::Fired | Transition::Resolved) {
                changes += 1;
            }
            let s = step(&rule, rec.clone(), tr, silenced, now, fresh(now));
            if s.notify.is_some_and(|n| n != Notify::Repeat) {
                told += 1;
            }
            if let Some(n) = s.notify {
                match n {
                    Notify::Firing => prop_assert!(!matches!(heard, Some(Notify::Firing | Notify::Repeat))),
                    Notify::Repeat => prop_assert!(matches!(heard, Some(Notify::Firing | Notify::Repeat))),
                    Notify::Resolved => prop_assert!(matches!(heard, Some(Notify::Firing | Notify::Repeat | Notify::Flapping))),
                    Notify::Flapping => prop_assert!(flap && heard != Some(Notify::Flapping)),
                }
                heard = Some(n);
            }
            if flap {
                prop_assert!(told <= changes + 1, "{told} messages for {changes} changes");
            }
            if s.record.is_some() {
                rec = s.record;
            }
        }
        if let Some(r) = &rec {
            prop_assert!(!r.owes(rule.resolve), "nothing owed once unsilenced: {r:?}");
        }
    }
}

/// Routing: one item per alert without a window, PagerDuty never grouped, an open
/// group takes more alerts, a closed one does not.
mod routing {
    use std::collections::HashSet;
    use std::convert::Infallible;
    use std::sync::Arc;

    use super::*;
    use crate::model::{GroupKey, OutboxItem};

    fn settings(window_s: u64) -> AlertSettings {
        let mut rule = status_rule(&["critical"]);
        rule.notify = vec!["chat".into(), "pager".into()];
        rule.group_window = Duration::from_secs(window_s);
        AlertSettings {
            rules: Arc::new(RuleSet { rules: vec![rule] }),
            ungrouped: Arc::new(HashSet::from(["pager".to_string()])),
            ..AlertSettings::default()
        }
    }

    fn firing(key: &str) -> Notification {
        let mut alert = test_item("x", t("2026-11-23T12:00:00Z")).alerts[0].clone();
        alert.key = key.into();
        Notification {
            rule: "machine-bad".into(),
            notify: Notify::Firing,
            alert,
        }
    }

    /// Route with open groups read from `open`, new ids counting from `id + 1`.
    fn run(
        settings: &AlertSettings,
        keys: &[&str],
        open: Option<OutboxItem>,
        mut id: u64,
    ) -> Routed {
        let now = t("2026-11-23T12:00:00Z");
        let notes = keys.iter().map(|k| firing(k)).collect();
        route::<Infallible>(settings, notes, now, &mut |_| Ok(open.clone()), &mut || {
            id += 1;
            Ok(id)
        })
        .unwrap()
    }

    fn on<'a>(routed: &'a Routed, channel: &str) -> Vec<&'a RoutedItem> {
        routed
            .items
            .iter()
            .filter(|r| r.item.channel == channel)
            .collect()
    }

    #[test]
    fn without_a_window_every_alert_is_a_message_on_every_channel() {
        let routed = run(&settings(0), &["a", "b"], None, 0);
        assert_eq!(routed.created, 4);
        assert_eq!(on(&routed, "chat").len(), 2);
        assert!(
            routed
                .items
                .iter()
                .all(|r| r.opens.is_none() && r.item.alerts.len() == 1)
        );
        let ids: HashSet<u64> = routed.items.iter().map(|r| r.item.id).collect();
        assert_eq!(ids.len(), 4, "each item its own id");
    }

    #[test]
    fn a_window_groups_a_channel_but_never_pagerduty() {
        let routed = run(&settings(300), &["a", "b", "c"], None, 0);
        let chat = on(&routed, "chat");
        assert_eq!(chat.len(), 1);
        assert_eq!(chat[0].item.alerts.len(), 3);
        let now = t("2026-11-23T12:00:00Z");
        let until = now + chrono::Duration::seconds(300);
        assert_eq!(chat[0].item.open_until, Some(until));
        assert_eq!(
            chat[0].item.next_attempt_at, until,
            "due when the window closes"
        );
        assert_eq!(
            chat[0].opens,
            Some(GroupKey {
                rule: "machine-bad".into(),
                channel: "chat".into(),
                status: AlertStatus::Firing,
            })
        );
        let pager = on(&routed, "pager");
        assert_eq!(pager.len(), 3, "one event per alert");
        assert!(
            pager
                .iter()
                .all(|r| r.opens.is_none() && r.item.open_until.is_none())
        );
        assert_eq!(routed.created, 4);
    }

    #[test]
    fn an_open_group_takes_more_alerts_and_a_closed_one_does_not() {
        let s = settings(300);
        let now = t("2026-11-23T12:00:00Z");
        let first = run(&s, &["a"], None, 0);
        let mut open = on(&first, "chat")[0].item.clone();

        let joined = run(&s, &["b"], Some(open.clone()), 10);
        let chat = on(&joined, "chat");
        assert_eq!(
            (chat.len(), joined.created),
            (1, 1),
            "only pager's item is new"
        );
        assert_eq!(chat[0].item.id, open.id);
        assert_eq!(chat[0].opens, None);
        let keys: Vec<&str> = chat[0].item.alerts.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);

        open.open_until = Some(now);
        let closed = run(&s, &["c"], Some(open.clone()), 20);
        let chat = on(&closed, "chat");
        assert_ne!(
            chat[0].item.id, open.id,
            "a window that closed takes nothing more"
        );
        assert!(chat[0].opens.is_some());
        assert_eq!(closed.created, 2);
    }
}

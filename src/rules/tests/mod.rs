//! Evaluation: table tests of each condition at and around its threshold, and
//! property tests over random sequences of snapshots and instants; `file.rs` the rule
//! files, `file_errors.rs` each kind of mistake in one. The helpers here (`rule`,
//! `machine`, `backup`, ...) serve other modules' tests too.

mod file;
mod file_errors;

use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;
use crate::acronis::model::{AggregateStatus, Policy, Timestamp};
use crate::model::{Severity, StoredResource};

pub(crate) const BACKUP: &str = "policy.backup.machine";

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("a valid RFC 3339 time")
}

pub(crate) fn h(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

/// A rule with defaults around `condition`.
pub(crate) fn rule(name: &str, condition: Condition) -> Rule {
    Rule {
        name: name.into(),
        description: String::new(),
        severity: Severity::Warning,
        notify: vec!["chat".into()],
        condition,
        matcher: Matcher::default(),
        repeat: None,
        resolve: true,
        group_window: Duration::ZERO,
        flap: None,
        file: "rules/test.toml".into(),
        line: 1,
    }
}

pub(crate) fn status_rule(statuses: &[&str]) -> Rule {
    rule(
        "machine-bad",
        Condition::Status(statuses.iter().map(|s| AggregateStatus::parse(s)).collect()),
    )
}

pub(crate) fn stale_rule(hours: u64) -> Rule {
    rule(
        "backup-stale",
        Condition::Stale {
            policy: BACKUP.into(),
            older_than: Duration::from_secs(hours * 3600),
        },
    )
}

pub(crate) fn overdue_rule(hours: u64) -> Rule {
    rule(
        "backup-overdue",
        Condition::Overdue {
            policy: BACKUP.into(),
            overdue_by: Duration::from_secs(hours * 3600),
        },
    )
}

pub(crate) fn machine(id: &str, status: &str) -> StoredResource {
    StoredResource {
        tenant_id: "tenant-1".into(),
        id: id.into(),
        name: format!("host-{id}"),
        kind: "resource.machine".into(),
        api_tenant_id: Some("1952010".into()),
        agent_id: None,
        external_id: None,
        status: AggregateStatus::parse(status),
        plans: None,
        created_at: Some(Timestamp(t("2026-01-01T00:00:00Z"))),
        updated_at: Some(Timestamp(t("2026-11-01T00:00:00Z"))),
        policies: vec![],
        agent: None,
        cyberfit: None,
    }
}

pub(crate) fn backup(
    last_run: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
    next_run: Option<DateTime<Utc>>,
) -> Policy {
    Policy {
        kind: BACKUP.into(),
        last_run: last_run.map(Timestamp),
        last_success_run: last_success.map(Timestamp),
        next_run: next_run.map(Timestamp),
    }
}

fn holds(rule: &Rule, r: &StoredResource, now: DateTime<Utc>) -> bool {
    subject(rule, r).is_some_and(|s| condition_holds(rule, &s, now))
}

#[test]
fn status_conditions_match_listed_statuses_only() {
    let rule = status_rule(&["critical", "error"]);
    let now = t("2026-11-23T12:00:00Z");
    for (status, expected) in [
        ("critical", true),
        ("error", true),
        ("warning", false),
        ("ok", false),
        ("brand_new_status", false),
    ] {
        assert_eq!(
            holds(&rule, &machine("a", status), now),
            expected,
            "{status}"
        );
    }
    assert_eq!(
        next_flip(&rule, &subject(&rule, &machine("a", "ok")).unwrap(), now),
        None
    );
}

#[test]
fn filters_decide_whether_a_resource_is_a_subject() {
    let mut rule = status_rule(&["critical"]);
    rule.matcher =
        Matcher::new(vec!["resource.machine".into()], vec![], &["SQL-*".into()]).unwrap();
    let mut r = machine("a", "critical");
    r.name = "sql-01".into();
    assert!(subject(&rule, &r).is_some(), "globs ignore case");
    r.name = "web-01".into();
    assert!(subject(&rule, &r).is_none());
    rule.matcher = Matcher::new(vec![], vec!["1952010".into()], &[]).unwrap();
    assert!(
        subject(&rule, &r).is_some(),
        "a unit's own tenant id matches"
    );
    rule.matcher = Matcher::new(vec![], vec!["other".into()], &[]).unwrap();
    assert!(subject(&rule, &r).is_none());
}

#[test]
fn stale_fires_at_its_threshold_measured_from_the_last_success() {
    let rule = stale_rule(26);
    let success = t("2026-11-20T08:00:00Z");
    let mut r = machine("a", "ok");
    r.policies = vec![backup(Some(success + h(24)), Some(success), None)];
    let s = subject(&rule, &r).unwrap();
    assert!(!condition_holds(&rule, &s, success + h(25)));
    assert!(
        condition_holds(&rule, &s, success + h(26)),
        "at the threshold"
    );
    assert!(condition_holds(&rule, &s, success + h(100)));
    assert_eq!(next_flip(&rule, &s, success + h(1)), Some(success + h(26)));
    assert_eq!(next_flip(&rule, &s, success + h(26)), None, "already holds");
}

#[test]
fn stale_without_any_success_measures_from_the_earliest_of_last_run_and_creation() {
    let rule = stale_rule(26);
    let created = t("2026-11-20T00:00:00Z");
    let mut r = machine("a", "ok");
    r.created_at = Some(Timestamp(created));
    // A failed run after creation: measured from creation.
    r.policies = vec![backup(Some(created + h(10)), None, None)];
    let s = subject(&rule, &r).unwrap();
    assert_eq!(next_flip(&rule, &s, created), Some(created + h(26)));
    // A run recorded before the resource's creation (clock skew): from the run.
    r.policies = vec![backup(Some(created - h(5)), None, None)];
    let s = subject(&rule, &r).unwrap();
    assert_eq!(next_flip(&rule, &s, created), Some(created + h(21)));
    // No time at all: it cannot be measured, so it never fires.
    r.created_at = None;
    r.policies = vec![backup(None, None, None)];
    let s = subject(&rule, &r).unwrap();
    assert!(!condition_holds(&rule, &s, created + h(1000)));
}

#[test]
fn a_policy_rule_has_no_subject_without_that_policy() {
    let rule = stale_rule(26);
    let r = machine("a", "ok");
    assert!(subject(&rule, &r).is_none());
}

#[test]
fn overdue_fires_after_next_run_plus_grace_unless_it_ran_since() {
    let rule = overdue_rule(2);
    let due = t("2026-11-22T22:00:00Z");
    let mut r = machine("a", "ok");
    r.policies = vec![backup(Some(due - h(24)), Some(due - h(24)), Some(due))];
    let s = subject(&rule, &r).unwrap();
    assert!(!condition_holds(&rule, &s, due + h(1)));
    let ns = chrono::Duration::nanoseconds(1);
    assert!(
        !condition_holds(&rule, &s, due + h(2)),
        "SPEC: next_run + 2h < now, strictly"
    );
    assert!(condition_holds(&rule, &s, due + h(2) + ns));
    assert_eq!(next_flip(&rule, &s, due), Some(due + h(2) + ns));
    // It ran at (or after) the time it was due: not overdue whatever next_run says.
    r.policies = vec![backup(Some(due), None, Some(due))];
    let s = subject(&rule, &r).unwrap();
    assert!(!condition_holds(&rule, &s, due + h(50)));
    assert_eq!(next_flip(&rule, &s, due), None);
    // No next run scheduled: never overdue.
    r.policies = vec![backup(Some(due - h(24)), None, None)];
    let s = subject(&rule, &r).unwrap();
    assert!(!condition_holds(&rule, &s, due + h(50)));
}

#[test]
fn last_run_failed_holds_while_the_latest_run_is_newer_than_the_last_success() {
    let rule = rule(
        "backup-last-run-failed",
        Condition::LastRunFailed {
            policy: BACKUP.into(),
        },
    );
    let run = t("2026-11-22T22:00:00Z");
    let now = run + h(1);
    let mut r = machine("a", "ok");
    for (last_run, last_success, fails) in [
        (Some(run), Some(run - h(24)), true),
        // Ran and never succeeded.
        (Some(run), None, true),
        // The latest run is the success (also when the API gives the same instant).
        (Some(run), Some(run), false),
        (Some(run - h(1)), Some(run), false),
        // Never ran.
        (None, None, false),
        (None, Some(run), false),
    ] {
        r.policies = vec![backup(last_run, last_success, None)];
        let s = subject(&rule, &r).unwrap();
        assert_eq!(
            condition_holds(&rule, &s, now),
            fails,
            "last_run {last_run:?}, last_success {last_success:?}"
        );
        // Time alone never changes it.
        assert_eq!(next_flip(&rule, &s, now), None);
    }
    // Any policy type: an antimalware scan whose latest run failed.
    let scan = rule_for("policy.security.antimalware_protection");
    r.policies = vec![Policy {
        kind: "policy.security.antimalware_protection".into(),
        ..backup(Some(run), Some(run - h(2)), None)
    }];
    assert!(holds(&scan, &r, now));
    // A machine without the policy is not looked at.
    r.policies.clear();
    assert!(subject(&scan, &r).is_none());
}

#[test]
fn agent_and_cyberfit_conditions_read_the_attributes() {
    let since = t("2026-11-22T22:00:00Z");
    let mut r = machine("a", "ok");
    let offline = rule(
        "agent-offline",
        Condition::AgentOfflineFor(Duration::from_secs(2 * 3600)),
    );
    let disabled = rule("agent-disabled", Condition::AgentDisabled);
    let low = rule("cyberfit-low", Condition::CyberfitBelow(579));
    // Nothing known: nothing fires.
    for rule in [&offline, &disabled, &low] {
        assert!(!holds(rule, &r, since + h(100)), "{}", rule.name);
    }
    r.agent = Some(crate::model::Agent {
        online: Some(false),
        enabled: Some(true),
        version: None,
        offline_since: Some(Timestamp(since)),
    });
    let s = subject(&offline, &r).unwrap();
    assert!(!condition_holds(
        &offline,
        &s,
        since + h(2) - chrono::Duration::seconds(1)
    ));
    assert!(condition_holds(&offline, &s, since + h(2)));
    assert_eq!(next_flip(&offline, &s, since), Some(since + h(2)));
    assert!(!holds(&disabled, &r, since));
    // Back online: the offline time no longer counts.
    r.agent.as_mut().unwrap().online = Some(true);
    assert!(!holds(&offline, &r, since + h(50)));
    assert_eq!(
        next_flip(&offline, &subject(&offline, &r).unwrap(), since),
        None
    );
    r.agent.as_mut().unwrap().enabled = Some(false);
    assert!(holds(&disabled, &r, since));
    for (score, below) in [(578, true), (579, false), (0, true), (850, false)] {
        r.cyberfit = Some(score);
        assert_eq!(holds(&low, &r, since), below, "score {score}");
    }
}

fn rule_for(policy: &str) -> Rule {
    rule(
        "last-run-failed",
        Condition::LastRunFailed {
            policy: policy.into(),
        },
    )
}

#[test]
fn transitions_follow_the_condition_and_the_repeat_period() {
    let mut rule = status_rule(&["critical"]);
    rule.repeat = Some(Duration::from_secs(4 * 3600));
    let now = t("2026-11-23T12:00:00Z");
    let bad = machine("a", "critical");
    let good = machine("a", "ok");
    let (sb, sg) = (
        subject(&rule, &bad).unwrap(),
        subject(&rule, &good).unwrap(),
    );
    let firing = Prior {
        firing: true,
        last_notified_at: Some(now),
    };
    let quiet = Prior {
        firing: false,
        last_notified_at: Some(now - h(48)),
    };
    let cases = [
        (None, Some(&sb), now, Transition::Fired),
        (None, Some(&sg), now, Transition::Nothing),
        (None, None, now, Transition::Nothing),
        (Some(&quiet), Some(&sb), now, Transition::Fired),
        (
            Some(&firing),
            Some(&sb),
            now + h(3),
            Transition::StillFiring,
        ),
        (Some(&firing), Some(&sb), now + h(4), Transition::RepeatDue),
        (Some(&firing), Some(&sg), now + h(4), Transition::Resolved),
        (Some(&firing), None, now, Transition::Resolved),
    ];
    for (i, (prior, current, at, expected)) in cases.into_iter().enumerate() {
        assert_eq!(transition(&rule, prior, current, at), expected, "case {i}");
    }
    rule.repeat = None;
    assert_eq!(
        transition(&rule, Some(&firing), Some(&sb), now + h(400)),
        Transition::StillFiring,
        "no repeat configured"
    );
}

/// One step of a random history: the resource as polled (or deleted) and how far
/// time moved.
#[derive(Debug, Clone)]
struct Snap {
    status: &'static str,
    /// Hours before the step's instant of the last success; None: never.
    success_age: Option<i64>,
    deleted: bool,
    advance_hours: i64,
}

fn snap() -> impl Strategy<Value = Snap> {
    (
        prop::sample::select(vec!["ok", "critical", "error", "warning", "mystery"]),
        prop::option::of(0i64..60),
        prop::bool::weighted(0.1),
        0i64..12,
    )
        .prop_map(|(status, success_age, deleted, advance_hours)| Snap {
            status,
            success_age,
            deleted,
            advance_hours,
        })
}

fn any_rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        Just(status_rule(&["critical", "error"])),
        (1u64..48).prop_map(stale_rule),
        (0u64..6).prop_map(overdue_rule),
    ]
    .prop_flat_map(|r| {
        prop::option::of(1u64..10).prop_map(move |repeat| {
            let mut r = r.clone();
            r.repeat = repeat.map(|h| Duration::from_secs(h * 3600));
            r
        })
    })
}

/// The resource of a step at `now`.
fn resource_at(s: &Snap, now: DateTime<Utc>) -> StoredResource {
    let mut r = machine("a", s.status);
    let success = s.success_age.map(|a| now - h(a));
    r.policies = vec![backup(success, success, success.map(|t| t + h(24)))];
    r
}

proptest! {
    /// For any sequence of snapshots and instants: after each step the alert fires iff
    /// its condition holds; every firing interval starts with exactly one `Fired` and
    /// ends with at most one `Resolved`; repeats come only while firing.
    #[test]
    fn firing_tracks_the_condition(rule in any_rule(), steps in prop::collection::vec(snap(), 1..40)) {
        let mut now = t("2026-11-01T00:00:00Z");
        let mut prior: Option<Prior> = None;
        let (mut fired, mut resolved) = (0usize, 0usize);
        for s in &steps {
            now += h(s.advance_hours);
            let r = resource_at(s, now);
            let current = if s.deleted { None } else { subject(&rule, &r) };
            let holds = current.as_ref().is_some_and(|c| condition_holds(&rule, c, now));
            let tr = transition(&rule, prior.as_ref(), current.as_ref(), now);
            match tr {
                Transition::Fired => {
                    prop_assert!(!prior.is_some_and(|p| p.firing));
                    fired += 1;
                }
                Transition::Resolved => {
                    prop_assert!(prior.is_some_and(|p| p.firing));
                    resolved += 1;
                }
                Transition::RepeatDue | Transition::StillFiring => {
                    prop_assert!(prior.is_some_and(|p| p.firing));
                }
                Transition::Nothing => prop_assert!(!prior.is_some_and(|p| p.firing)),
            }
            prop_assert_eq!(tr.firing(), holds, "firing iff the condition holds");
            let notified = match tr {
                Transition::Fired | Transition::RepeatDue => Some(now),
                _ => prior.and_then(|p| p.last_notified_at),
            };
            prior = Some(Prior { firing: tr.firing(), last_notified_at: notified });
            prop_assert!(resolved <= fired && fired <= resolved + 1);
        }
    }

    /// `next_flip` is exact: before it the condition does not hold, at it it does
    /// (for a subject that does not change).
    #[test]
    fn next_flip_is_the_first_instant_the_condition_holds(
        rule in any_rule(),
        s in snap(),
        probe_minutes in prop::collection::vec(0i64..(80 * 60), 1..20),
    ) {
        let now = t("2026-11-10T00:00:00Z");
        let r = resource_at(&s, now);
        let Some(subj) = subject(&rule, &r) else { return Ok(()) };
        match next_flip(&rule, &subj, now) {
            Some(flip) => {
                prop_assert!(flip > now);
                prop_assert!(!condition_holds(&rule, &subj, now));
                prop_assert!(condition_holds(&rule, &subj, flip));
                for m in probe_minutes {
                    let at = now + chrono::Duration::minutes(m);
                    prop_assert_eq!(condition_holds(&rule, &subj, at), at >= flip);
                }
            }
            None => {
                // Either it holds already, or time alone never makes it hold.
                let now_holds = condition_holds(&rule, &subj, now);
                for m in probe_minutes {
                    let at = now + chrono::Duration::minutes(m);
                    prop_assert_eq!(condition_holds(&rule, &subj, at), now_holds);
                }
            }
        }
    }
}

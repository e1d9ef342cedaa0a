//! Every shipped template, rendered from fixed samples, as reviewed snapshots.

use serde_json::{Value, json};

use super::*;

/// The fixed cases every shipped template is snapshotted with.
fn cases() -> Vec<(&'static str, OutboxItem)> {
    let now = sample::now();
    let mut grouped = sample::item(critical(), None, AlertStatus::Firing, 3, 3, now);
    grouped.alerts[2].repeat = true;
    let stale = RuleInfo {
        name: "backup-stale".into(),
        description: "No successful backup for more than 26 hours".into(),
        severity: Severity::Warning,
    };
    vec![
        (
            "firing_single",
            sample::item(critical(), None, AlertStatus::Firing, 1, 1, now),
        ),
        ("firing_grouped_3", grouped),
        (
            "firing_grouped_250",
            sample::item(critical(), None, AlertStatus::Firing, 250, 200, now),
        ),
        (
            "resolved",
            sample::item(critical(), None, AlertStatus::Resolved, 2, 2, now),
        ),
        (
            "policy_stale",
            sample::item(
                stale,
                Some("policy.backup.machine"),
                AlertStatus::Firing,
                1,
                1,
                now,
            ),
        ),
    ]
}

/// A long message, cut for a readable snapshot: the first and last alerts stay.
fn abridged(mut v: Value, pointer: &str) -> Value {
    if let Some(items) = v.pointer_mut(pointer).and_then(Value::as_array_mut)
        && items.len() > 12
    {
        let n = items.len();
        let tail = items[n - 3..].to_vec();
        items.truncate(4);
        items.push(json!(format!("[snapshot: {} items omitted]", n - 7)));
        items.extend(tail);
    }
    v
}

#[test]
fn slack_snapshots() {
    let r = shipped();
    for (case, item) in cases() {
        let v = json_of(
            r.render(&channel("noc-slack"), &item, sample::now())
                .unwrap(),
        );
        insta::assert_json_snapshot!(format!("slack_{case}"), abridged(v, "/blocks"));
    }
}

#[test]
fn teams_snapshots() {
    let r = shipped();
    for (case, item) in cases() {
        let v = json_of(
            r.render(&channel("noc-teams"), &item, sample::now())
                .unwrap(),
        );
        insta::assert_json_snapshot!(
            format!("teams_{case}"),
            abridged(v, "/attachments/0/content/body")
        );
    }
}

#[test]
fn pagerduty_snapshots() {
    let r = shipped();
    for (case, item) in cases() {
        if item.alerts.len() > 1 {
            continue; // PagerDuty channels never group: one alert per item
        }
        let v = json_of(r.render(&channel("oncall"), &item, sample::now()).unwrap());
        insta::assert_json_snapshot!(format!("pagerduty_{case}"), v);
    }
}

#[test]
fn webhook_snapshots() {
    let r = shipped();
    for (case, item) in cases() {
        let v = json_of(
            r.render(&channel("ticketing"), &item, sample::now())
                .unwrap(),
        );
        insta::assert_json_snapshot!(format!("webhook_{case}"), abridged(v, "/alerts"));
    }
}

#[test]
fn email_snapshots() {
    let r = shipped();
    for (case, item) in cases() {
        let (subject, text, html) =
            email_of(r.render(&channel("mail"), &item, sample::now()).unwrap());
        let (text, html) = if item.count() > 10 {
            (tail(&text, 16), tail(&html, 24))
        } else {
            (text, html)
        };
        insta::assert_snapshot!(
            format!("email_{case}"),
            format!("Subject: {subject}\n\n{text}\n=====\n{html}")
        );
    }
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    format!(
        "[snapshot: {} lines omitted]\n{}",
        all.len().saturating_sub(lines),
        all[all.len().saturating_sub(lines)..].join("\n")
    )
}

#[test]
fn digest_snapshot() {
    let r = shipped();
    let (subject, text, html) = email_of(
        r.render_digest(&sample::digest(sample::now()), sample::now())
            .unwrap(),
    );
    insta::assert_snapshot!(
        "digest",
        format!("Subject: {subject}\n\n{text}\n=====\n{html}")
    );
}

#[test]
fn preview_samples_follow_the_rule() {
    let rules = crate::rules::parse(
        std::path::Path::new("rules/x.toml"),
        r#"
[[rule]]
name = "backup-stale"
severity = "warning"
notify = ["noc-slack"]
when.policy = "policy.backup.machine"
when.last_success_older_than = "26h"
group_window = "30s"
resolve = true

[[rule]]
name = "machine-critical"
severity = "critical"
notify = ["oncall"]
when.status = ["critical"]
"#,
        &config(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut rules = rules.iter();
    let stale = sample::for_rule(rules.next().unwrap(), sample::now());
    assert_eq!(stale.len(), 2);
    assert_eq!(
        (stale[0].alerts.len(), stale[1].status),
        (3, AlertStatus::Resolved)
    );
    assert!(stale[0].alerts.iter().all(|a| a.policy.is_some()));
    let critical = sample::for_rule(rules.next().unwrap(), sample::now());
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0].alerts.len(), 1);
    assert!(critical[0].alerts[0].policy.is_none());
    let r = shipped();
    for item in stale.iter().chain(&critical) {
        r.render(&channel("noc-slack"), item, sample::now())
            .unwrap();
    }
}

//! Status rules through an alert's life: first sight, no duplicates, repeat, resolve,
//! deletion, and grouping into one message per channel (SPEC §4).

use serde_json::json;

use crate::common::*;

/// One machine pinned critical and one idle (both `itest-*`), a status rule on both
/// channels; nothing polled yet.
async fn critical_machine() -> (Bench, String) {
    let b = Bench::new(30, 2, "", "").await;
    b.rules(
        "machines.toml",
        &status_rule("crit", &["critical"], &["slack", "pd"], ""),
    );
    let crit = b
        .steer(1, "itest-crit", json!({"status": "critical"}))
        .await;
    b.steer_from(1, 1, "itest-fine", json!({"status": "idle"}))
        .await;
    let key = key("crit", &crit[0], None);
    (b, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_already_critical_at_first_sight_fires_once_per_channel() {
    let (b, key) = critical_machine().await;
    b.once(start()).await;

    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 1, "{}", pretty(&alerts));
    let a = alert(&alerts, &key);
    assert_eq!(a["rule"], "crit");
    assert_eq!(a["status"], "firing");
    assert_eq!(a["severity"], "critical");
    assert!(a["policy"].is_null(), "{a}");
    assert!(a["resolved_at"].is_null(), "{a}");
    assert_eq!(time(&a["fired_at"]), start());
    assert_eq!(time(&a["last_notified_at"]), start());
    let mut fields: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "fired_at",
            "key",
            "last_notified_at",
            "policy",
            "resolved_at",
            "resource_id",
            "rule",
            "severity",
            "status",
            "tenant_id"
        ],
        "SPEC §2 alert row"
    );
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(a["tenant_id"], parts[1]);
    assert_eq!(a["resource_id"], parts[2]);

    let outbox = b.outbox().await;
    assert_eq!(
        owed(&outbox),
        vec![
            entry("pd", "crit", "firing", &[&key]),
            entry("slack", "crit", "firing", &[&key]),
        ],
        "{}",
        pretty(&outbox)
    );
    for item in &outbox {
        for field in [
            "id",
            "channel",
            "rule",
            "status",
            "alerts",
            "attempts",
            "next_attempt_at",
            "last_error",
        ] {
            assert!(
                item.get(field).is_some(),
                "SPEC §2 outbox row lacks {field}: {item}"
            );
        }
        assert_eq!(time(&item["next_attempt_at"]), start(), "{item}");
        assert_eq!(item["more"], 0, "{item}");
        assert_eq!(item["attempts"], 0, "{item}");
        assert!(item["last_error"].is_null(), "{item}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_polls_of_a_still_critical_machine_add_nothing() {
    let (b, key) = critical_machine().await;
    b.once(start()).await;
    let first = b.outbox().await;
    assert_eq!(first.len(), 2, "{}", pretty(&first));

    // The same instant again, then later (no repeat configured), with and without a
    // change of the machine in between.
    b.once(start()).await;
    b.once(at(0, 10)).await;
    b.sim.sim.advance(std::time::Duration::from_secs(60));
    let id = key.split('/').nth(2).unwrap().to_string();
    b.patch(&id, json!({"status": "critical"})).await;
    b.once(at(1, 0)).await;
    b.once(at(30, 0)).await;

    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 1, "{}", pretty(&alerts));
    let a = alert(&alerts, &key);
    assert_eq!(a["status"], "firing");
    assert_eq!(time(&a["fired_at"]), start(), "fired_at moved: {a}");
    assert_eq!(time(&a["last_notified_at"]), start(), "{a}");
    let outbox = b.outbox().await;
    assert_eq!(owed(&outbox), owed(&first), "{}", pretty(&outbox));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firing_alert_is_notified_again_each_repeat() {
    // The machine last changed an hour before the first poll: later incremental polls
    // do not re-read it, so repeats come from the deadline index alone.
    let b = Bench::new(30, 2, "full_resync_every = \"7d\"", "").await;
    b.rules(
        "machines.toml",
        &status_rule("crit", &["critical"], &["slack"], "repeat = \"4h\""),
    );
    let v = b
        .steer(
            1,
            "itest-crit",
            json!({"status": "critical", "updated_at": ts(at(-1, 0))}),
        )
        .await;
    let key = key("crit", &v[0], None);

    b.once(start()).await;
    assert_eq!(b.outbox().await.len(), 1);

    b.once(at(3, 0)).await;
    let outbox = b.outbox().await;
    assert_eq!(outbox.len(), 1, "a repeat before 4h: {}", pretty(&outbox));
    let a = b.alerts().await;
    assert_eq!(time(&alert(&a, &key)["last_notified_at"]), start());

    b.once(at(4, 0)).await;
    let outbox = b.outbox().await;
    assert_eq!(
        owed(&outbox),
        vec![
            entry("slack", "crit", "firing", &[&key]),
            entry("slack", "crit", "firing", &[&key]),
        ],
        "{}",
        pretty(&outbox)
    );
    let alerts = b.alerts().await;
    let a = alert(&alerts, &key);
    assert_eq!(a["status"], "firing");
    assert_eq!(time(&a["fired_at"]), start(), "{a}");
    assert_eq!(time(&a["last_notified_at"]), at(4, 0), "{a}");

    // Not again until 8h.
    b.once(at(7, 59)).await;
    assert_eq!(b.outbox().await.len(), 2);
    b.once(at(8, 0)).await;
    assert_eq!(b.outbox().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_back_to_normal_resolves_and_notifies_only_where_resolve_is_set() {
    let b = Bench::new(30, 2, "", "").await;
    b.rules(
        "machines.toml",
        &format!(
            "{}{}",
            status_rule("crit-told", &["critical"], &["slack"], "resolve = true"),
            status_rule("crit-quiet", &["critical"], &["slack"], "")
        ),
    );
    let v = b
        .steer(2, "itest-crit", json!({"status": "critical"}))
        .await;
    let (id1, id2) = (v[0]["id"].as_str().unwrap(), v[1]["id"].as_str().unwrap());
    b.once(start()).await;
    assert_eq!(keys_with(&b.alerts().await, "firing").len(), 4);
    assert_eq!(b.outbox().await.len(), 4);

    b.sim.sim.advance(std::time::Duration::from_secs(60));
    b.patch(id1, json!({"status": "ok"})).await;
    b.patch(id2, json!({"status": "idle"})).await;
    b.once(at(1, 0)).await;

    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 4, "{}", pretty(&alerts));
    for a in &alerts {
        assert_eq!(a["status"], "resolved", "{a}");
        assert_eq!(time(&a["resolved_at"]), at(1, 0), "{a}");
        assert_eq!(time(&a["fired_at"]), start(), "{a}");
    }
    let told = [key("crit-told", &v[0], None), key("crit-told", &v[1], None)];
    let quiet = [
        key("crit-quiet", &v[0], None),
        key("crit-quiet", &v[1], None),
    ];
    let mut want = vec![
        entry("slack", "crit-told", "firing", &[&told[0]]),
        entry("slack", "crit-told", "firing", &[&told[1]]),
        entry("slack", "crit-told", "resolved", &[&told[0]]),
        entry("slack", "crit-told", "resolved", &[&told[1]]),
        entry("slack", "crit-quiet", "firing", &[&quiet[0]]),
        entry("slack", "crit-quiet", "firing", &[&quiet[1]]),
    ];
    want.sort();
    let outbox = b.outbox().await;
    assert_eq!(owed(&outbox), want, "{}", pretty(&outbox));

    // Nothing more while it stays fine.
    b.once(at(2, 0)).await;
    assert_eq!(b.outbox().await.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_machine_resolves_its_alert_and_a_vanished_one_at_the_full_resync() {
    let b = Bench::new(30, 2, "full_resync_every = \"6h\"", "").await;
    b.rules(
        "machines.toml",
        &status_rule("crit", &["critical"], &["slack"], "resolve = true"),
    );
    let v = b
        .steer(2, "itest-crit", json!({"status": "critical"}))
        .await;
    let (deleted, purged) = (key("crit", &v[0], None), key("crit", &v[1], None));
    b.once(start()).await;
    assert_eq!(keys_with(&b.alerts().await, "firing").len(), 2);

    b.sim.sim.advance(std::time::Duration::from_secs(60));
    b.sim
        .sim
        .delete_resource(v[0]["id"].as_str().unwrap(), false)
        .unwrap();
    b.sim
        .sim
        .delete_resource(v[1]["id"].as_str().unwrap(), true)
        .unwrap();

    // Incremental (include_deleted): the deletion shows; the purged one cannot.
    b.once(at(1, 0)).await;
    let alerts = b.alerts().await;
    assert_eq!(
        alert(&alerts, &deleted)["status"],
        "resolved",
        "{}",
        pretty(&alerts)
    );
    assert_eq!(time(&alert(&alerts, &deleted)["resolved_at"]), at(1, 0));
    assert_eq!(alert(&alerts, &purged)["status"], "firing");
    let mut want = vec![
        entry("slack", "crit", "firing", &[&deleted]),
        entry("slack", "crit", "firing", &[&purged]),
        entry("slack", "crit", "resolved", &[&deleted]),
    ];
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);

    // The full resync's sweep removes the purged one: its alert resolves too.
    b.once(at(6, 30)).await;
    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 2, "{}", pretty(&alerts));
    assert_eq!(
        alert(&alerts, &purged)["status"],
        "resolved",
        "{}",
        pretty(&alerts)
    );
    assert_eq!(time(&alert(&alerts, &purged)["resolved_at"]), at(6, 30));
    assert_eq!(time(&alert(&alerts, &deleted)["resolved_at"]), at(1, 0));
    want.push(entry("slack", "crit", "resolved", &[&purged]));
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);
}

/// Check a storm's outbox items of one status: one Slack message listing (or counting)
/// every alert in `want`, one PagerDuty event per alert.
fn one_message_and_one_page_each(
    outbox: &[serde_json::Value],
    status: &str,
    want: &std::collections::BTreeSet<String>,
    due: chrono::DateTime<chrono::Utc>,
) {
    let mine: Vec<serde_json::Value> = outbox
        .iter()
        .filter(|i| i["status"] == status)
        .cloned()
        .collect();
    let slack = rows(&mine, "channel", "slack");
    assert_eq!(
        slack.len(),
        1,
        "one grouped {status} Slack message: {}",
        pretty(&mine)
    );
    let item = slack[0];
    assert_eq!(item["rule"], "crit");
    let listed = item_keys(item);
    let more = item["more"].as_u64().unwrap() as usize;
    assert_eq!(listed.len() + more, want.len(), "{item}");
    let unique: std::collections::BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "an alert listed twice");
    assert!(unique.is_subset(want), "{item}");
    // Due now: `once` closes the groups it opened.
    assert_eq!(time(&item["next_attempt_at"]), due, "{item}");

    let pd = rows(&mine, "channel", "pd");
    assert_eq!(pd.len(), want.len(), "PagerDuty never groups");
    let pd_keys: std::collections::BTreeSet<String> = pd
        .iter()
        .map(|i| {
            let k = item_keys(i);
            assert_eq!(k.len(), 1, "{i}");
            assert_eq!(i["more"], 0, "{i}");
            k[0].clone()
        })
        .collect();
    assert_eq!(&pd_keys, want);
    assert_eq!(mine.len(), want.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_machines_critical_at_once_are_one_chat_message_and_two_hundred_pages() {
    let b = Bench::new(230, 3, "", "").await;
    b.rules(
        "machines.toml",
        &status_rule(
            "crit",
            &["critical"],
            &["slack", "pd"],
            "group_window = \"30s\"\nresolve = true",
        ),
    );
    let v = b.steer(200, "itest-crit", json!({"status": "idle"})).await;
    let want: std::collections::BTreeSet<String> = v.iter().map(|m| key("crit", m, None)).collect();
    assert_eq!(want.len(), 200);
    let tenants: std::collections::BTreeSet<&str> =
        v.iter().map(|m| m["customer"].as_str().unwrap()).collect();
    assert!(tenants.len() > 1, "the storm should span tenants");
    b.once(start()).await;
    assert!(b.alerts().await.is_empty());

    // The storm: all 200 turn critical between two polls (several pages, three tenants).
    b.sim.sim.advance(std::time::Duration::from_secs(60));
    for m in &v {
        b.patch(m["id"].as_str().unwrap(), json!({"status": "critical"}))
            .await;
    }
    b.once(at(0, 5)).await;
    assert_eq!(keys_with(&b.alerts().await, "firing"), want);
    let outbox = b.outbox().await;
    assert_eq!(outbox.len(), 201, "{}", pretty(&outbox));
    one_message_and_one_page_each(&outbox, "firing", &want, at(0, 5));

    // ... and all recover at once: one resolved message, 200 resolve events.
    b.sim.sim.advance(std::time::Duration::from_secs(60));
    for m in &v {
        b.patch(m["id"].as_str().unwrap(), json!({"status": "idle"}))
            .await;
    }
    b.once(at(0, 10)).await;
    assert_eq!(keys_with(&b.alerts().await, "resolved"), want);
    let outbox = b.outbox().await;
    assert_eq!(outbox.len(), 402, "{}", pretty(&outbox));
    one_message_and_one_page_each(&outbox, "firing", &want, at(0, 5));
    one_message_and_one_page_each(&outbox, "resolved", &want, at(0, 10));
}

/// `not_protected` is a status like any other: a rule may name it, and it fires for a
/// machine the platform shows without a plan (acronis-api.md §4.4), and only for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_protected_machine_fires_a_rule_that_names_the_status() {
    let b = Bench::new(30, 2, "", "").await;
    b.rules(
        "machines.toml",
        &status_rule("unprotected", &["not_protected"], &["slack"], ""),
    );
    let gap = b
        .steer(1, "itest-gap", json!({"status": "not_protected"}))
        .await;
    b.steer_from(
        1,
        1,
        "itest-old-plan",
        json!({"status": "no_policies_applied"}),
    )
    .await;
    b.once(start()).await;

    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 1, "{}", pretty(&alerts));
    let a = alert(&alerts, &key("unprotected", &gap[0], None));
    assert_eq!(a["status"], "firing");
}

//! `[[silence]]`: notifications held back, alert state kept; what is still owed goes
//! out when the window ends (SPEC §4).

use serde_json::json;

use crate::common::*;

/// Two critical machines, `itest-quiet-1` (silenced) and `itest-loud-1` (not). Both
/// last changed an hour before the first poll and are offline (no backup runs touch
/// them), so incremental polls after the first do not re-read them: what happens when
/// a window ends comes from the deadline index alone.
async fn quiet_and_loud(silence: &str) -> (Bench, String, String) {
    quiet_and_loud_resync(silence, "7d").await
}

async fn quiet_and_loud_resync(silence: &str, resync: &str) -> (Bench, String, String) {
    let b = Bench::new(30, 2, &format!("full_resync_every = \"{resync}\""), silence).await;
    b.rules(
        "machines.toml",
        &status_rule("crit", &["critical"], &["slack"], "resolve = true"),
    );
    let unchanged = json!({"status": "critical", "offline": true, "updated_at": ts(at(-1, 0))});
    let quiet = b.steer(1, "itest-quiet", unchanged.clone()).await;
    let loud = b.steer_from(1, 1, "itest-loud", unchanged).await;
    let (kq, kl) = (key("crit", &quiet[0], None), key("crit", &loud[0], None));
    (b, kq, kl)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_silence_holds_the_notification_until_it_ends() {
    let silence = r#"
[[silence]]
comment = "itest maintenance"
rule = "crit"
match.name = ["itest-quiet-*"]
starts = "2026-11-02T09:00:00Z"
ends = "2026-11-02T11:00:00Z"
"#;
    let (b, kq, kl) = quiet_and_loud(silence).await;

    b.once(start()).await;
    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 2, "{}", pretty(&alerts));
    let q = alert(&alerts, &kq);
    assert_eq!(q["status"], "firing", "a silence keeps the alert state");
    assert_eq!(time(&q["fired_at"]), start());
    assert!(q["last_notified_at"].is_null(), "{q}");
    assert_eq!(
        owed(&b.outbox().await),
        vec![entry("slack", "crit", "firing", &[&kl])],
        "only the machine outside the silence is notified"
    );

    b.once(at(0, 30)).await;
    assert_eq!(b.outbox().await.len(), 1);

    // The window ends at 11:00: the still-firing alert is notified.
    b.once(at(1, 1)).await;
    let alerts = b.alerts().await;
    let q = alert(&alerts, &kq);
    assert_eq!(q["status"], "firing");
    assert_eq!(time(&q["fired_at"]), start(), "{q}");
    assert_eq!(time(&q["last_notified_at"]), at(1, 1), "{q}");
    let mut want = vec![
        entry("slack", "crit", "firing", &[&kl]),
        entry("slack", "crit", "firing", &[&kq]),
    ];
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);

    b.once(at(2, 0)).await;
    assert_eq!(b.outbox().await.len(), 2, "notified twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_that_fires_and_resolves_inside_a_silence_is_never_notified() {
    let silence = r#"
[[silence]]
rule = "crit"
match.name = ["itest-quiet-*"]
starts = "2026-11-02T09:00:00Z"
ends = "2026-11-02T11:00:00Z"
"#;
    let (b, kq, _kl) = quiet_and_loud(silence).await;
    b.once(start()).await;
    b.sim.sim.advance(std::time::Duration::from_secs(60));
    let id = kq.split('/').nth(2).unwrap().to_string();
    b.patch(&id, json!({"status": "idle"})).await;
    b.once(at(0, 30)).await;
    let alerts = b.alerts().await;
    assert_eq!(alert(&alerts, &kq)["status"], "resolved");
    b.once(at(1, 1)).await;
    let outbox = b.outbox().await;
    assert_eq!(
        rows(&outbox, "channel", "slack")
            .iter()
            .filter(|i| item_keys(i).contains(&kq))
            .count(),
        0,
        "the channel never heard of it, so no firing and no resolved: {}",
        pretty(&outbox)
    );
    assert_eq!(outbox.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_maintenance_window_holds_notifications_each_day() {
    // 09:00 to 11:00 UTC every day; START (10:00 UTC) is inside.
    daily_window(
        r#"
[[silence]]
comment = "daily maintenance"
match.name = ["itest-quiet-*"]
cron = "0 0 9 * * *"
duration = "2h"
"#,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_maintenance_window_follows_its_timezone() {
    // 10:00 to 12:00 in Berlin, which is 09:00 to 11:00 UTC in November (CET).
    daily_window(
        r#"
[[silence]]
comment = "daily maintenance, local time"
rule = "crit"
match.name = ["itest-quiet-*"]
cron = "0 0 10 * * *"
duration = "2h"
timezone = "Europe/Berlin"
"#,
    )
    .await;
}

/// A silence open 09:00-11:00 UTC each day over `itest-quiet-*`.
async fn daily_window(silence: &str) {
    // A full resync every 12h: the next day's first run re-reads the fleet.
    let (b, kq, kl) = quiet_and_loud_resync(silence, "12h").await;
    b.once(start()).await;
    assert_eq!(
        owed(&b.outbox().await),
        vec![entry("slack", "crit", "firing", &[&kl])]
    );
    assert_eq!(alert(&b.alerts().await, &kq)["status"], "firing");

    b.once(at(1, 1)).await;
    let mut want = vec![
        entry("slack", "crit", "firing", &[&kl]),
        entry("slack", "crit", "firing", &[&kq]),
    ];
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);

    // The next day's window: a second quiet machine is critical at 09:30 (seen by that
    // run's full resync, not changed after it) and is held back until 11:00.
    let q2 = b
        .steer_from(
            2,
            1,
            "itest-quiet-x",
            json!({"status": "critical", "offline": true, "updated_at": ts(at(-1, 0))}),
        )
        .await;
    let kq2 = key("crit", &q2[0], None);
    b.once(at(23, 30)).await;
    let alerts = b.alerts().await;
    assert_eq!(
        alert(&alerts, &kq2)["status"],
        "firing",
        "{}",
        pretty(&alerts)
    );
    assert_eq!(b.outbox().await.len(), 2, "{}", pretty(&b.outbox().await));
    b.once(at(24, 30)).await;
    assert_eq!(b.outbox().await.len(), 2, "{}", pretty(&b.outbox().await));
    b.once(at(25, 1)).await;
    want.push(entry("slack", "crit", "firing", &[&kq2]));
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_inside_a_silence_is_notified_when_the_silence_ends() {
    // The silence opens an hour after the alert was notified.
    let silence = r#"
[[silence]]
rule = "crit"
match.name = ["itest-quiet-*"]
starts = "2026-11-02T11:00:00Z"
ends = "2026-11-02T12:00:00Z"
"#;
    let (b, kq, kl) = quiet_and_loud(silence).await;
    b.once(start()).await;
    assert_eq!(
        b.outbox().await.len(),
        2,
        "both notified before the silence"
    );

    b.sim.sim.advance(std::time::Duration::from_secs(60));
    for k in [&kq, &kl] {
        b.patch(k.split('/').nth(2).unwrap(), json!({"status": "idle"}))
            .await;
    }
    b.once(at(1, 30)).await;
    // One more run inside the silence, after which the machines' last change lies
    // behind the watermark (and its overlap): later runs do not re-read them.
    b.sim.sim.advance(std::time::Duration::from_secs(600));
    b.once(at(1, 45)).await;
    let alerts = b.alerts().await;
    assert_eq!(alert(&alerts, &kq)["status"], "resolved", "state is kept");
    assert_eq!(time(&alert(&alerts, &kq)["resolved_at"]), at(1, 30));
    let mut want = vec![
        entry("slack", "crit", "firing", &[&kl]),
        entry("slack", "crit", "firing", &[&kq]),
        entry("slack", "crit", "resolved", &[&kl]),
    ];
    want.sort();
    assert_eq!(
        owed(&b.outbox().await),
        want,
        "the quiet resolution is held"
    );

    // No resource change after this: the end of the silence alone releases it.
    b.once(at(2, 1)).await;
    want.push(entry("slack", "crit", "resolved", &[&kq]));
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);
    b.once(at(3, 0)).await;
    assert_eq!(b.outbox().await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_open_ended_silence_releases_what_it_held() {
    let silence = r#"
[[silence]]
comment = "until further notice"
match.name = ["itest-quiet-*"]
starts = "2026-11-02T09:00:00Z"
"#;
    let (b, kq, kl) = quiet_and_loud(silence).await;
    b.once(start()).await;
    b.once(at(30, 0)).await;
    assert_eq!(
        owed(&b.outbox().await),
        vec![entry("slack", "crit", "firing", &[&kl])],
        "held with no end"
    );

    // The silence is deleted from worker.toml; the machines do not change.
    let cfg = std::fs::read_to_string(b.work.config()).unwrap();
    let without = cfg.replace(silence, "");
    assert_ne!(cfg, without);
    b.work.write_config(&without);
    b.once(at(30, 10)).await;
    let mut want = vec![
        entry("slack", "crit", "firing", &[&kl]),
        entry("slack", "crit", "firing", &[&kq]),
    ];
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);
    assert_eq!(
        time(&alert(&b.alerts().await, &kq)["last_notified_at"]),
        at(30, 10)
    );
}

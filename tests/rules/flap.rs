//! Flap detection (SPEC §4 `flap`): an alert that fires and resolves too often is one
//! "flapping" notification, held until it has been stable for the window, then its
//! final state once.

use serde_json::json;

use crate::common::*;

/// `(status, count)` of the outbox items for `channel`, sorted by status.
fn statuses(outbox: &[serde_json::Value], channel: &str) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for item in outbox.iter().filter(|i| i["channel"] == channel) {
        *counts
            .entry(item["status"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    counts.into_iter().collect()
}

fn counts(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
    pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_machine_is_one_flapping_message_then_its_final_state_once_stable() {
    let b = Bench::new(30, 1, "", "").await;
    b.rules(
        "machines.toml",
        &status_rule(
            "crit",
            &["critical"],
            &["teams", "pd"],
            "resolve = true\nflap = { changes = 4, within = \"1h\" }",
        ),
    );
    let v = b
        .steer(1, "itest-flap", json!({"status": "critical"}))
        .await;
    let id = v[0]["id"].as_str().unwrap();
    let key = key("crit", &v[0], None);

    // Ten state changes, five minutes apart: critical, ok, critical, ok, ...
    b.once(start()).await;
    for i in 1..10 {
        b.sim.sim.advance(std::time::Duration::from_secs(300));
        let status = if i % 2 == 0 { "critical" } else { "ok" };
        b.patch(id, json!({"status": status})).await;
        b.once(at(0, 5 * i)).await;
    }
    let outbox = b.outbox().await;
    // Before the fourth change it is an ordinary alert (fired, resolved, fired); the
    // fourth makes it flap: one "flapping" message, then nothing for six more changes.
    let want = counts(&[("firing", 2), ("flapping", 1), ("resolved", 1)]);
    assert_eq!(statuses(&outbox, "teams"), want, "{}", pretty(&outbox));
    assert_eq!(statuses(&outbox, "pd"), want, "{}", pretty(&outbox));
    assert!(outbox.len() / 2 < 10, "fewer messages than changes");
    assert_eq!(alert(&b.alerts().await, &key)["status"], "resolved");

    // Still within the window of the last change (at 0:45): held.
    b.once(at(1, 30)).await;
    assert_eq!(b.outbox().await.len(), outbox.len());

    // Stable for an hour after the last change: its final state, once, from the
    // deadline index (the machine did not change).
    b.once(at(1, 46)).await;
    let after = b.outbox().await;
    let want = counts(&[("firing", 2), ("flapping", 1), ("resolved", 2)]);
    assert_eq!(statuses(&after, "teams"), want, "{}", pretty(&after));
    assert_eq!(statuses(&after, "pd"), want, "{}", pretty(&after));
    b.once(at(3, 0)).await;
    assert_eq!(b.outbox().await.len(), after.len(), "told once");

    // A later single firing is an ordinary alert again.
    b.sim.sim.advance(std::time::Duration::from_secs(3 * 3600));
    b.patch(id, json!({"status": "critical"})).await;
    b.once(at(4, 0)).await;
    let last = b.outbox().await;
    let want = counts(&[("firing", 3), ("flapping", 1), ("resolved", 2)]);
    assert_eq!(statuses(&last, "teams"), want, "{}", pretty(&last));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flap_that_cannot_apply_is_a_check_error_naming_file_line_and_key() {
    let b = Bench::new(5, 1, "", "").await;
    for (flap, says) in [
        ("flap = { changes = 1, within = \"1h\" }", "flap.changes"),
        ("flap = { changes = 4, within = \"0s\" }", "flap.within"),
        ("flap = { changes = 4 }", "flap"),
        (
            "flap = { changes = 4, within = \"1h\", often = 2 }",
            "often",
        ),
    ] {
        b.rules(
            "machines.toml",
            &status_rule("crit", &["critical"], &["teams"], flap),
        );
        let out = b.work.run(&["check"]).await;
        assert_eq!(
            crate::support::code(&out),
            2,
            "{flap}: {}",
            crate::support::text(&out)
        );
        let msg = crate::support::text(&out);
        assert!(msg.contains("machines.toml:"), "{flap}: {msg}");
        assert!(msg.contains(says), "{flap}: expected {says} in {msg}");
    }
}

//! Retries, `Retry-After`, dead letters and `retry-dead`, and exit 3 with the outbox
//! carried over to the next run (SPEC §2, §7; docs/delivery.md).

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::support::sinks::{HttpSink, Reply};

/// One `itest-1` machine critical, a rule notifying `channels`.
async fn one_alert(b: &Bench, channels: &[&str]) -> String {
    b.rules("r.toml", &status_rule("crit", &["itest-*"], channels, ""));
    let v = b
        .steer(
            0,
            1,
            |i| format!("itest-{i}"),
            json!({"status": "critical"}),
        )
        .await;
    key("crit", &v[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_retried_no_sooner_and_delivered_in_the_same_run() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let slack = HttpSink::start().await;
    slack.push(Reply::status(429).retry_after("2").body("rate_limited"));
    b.add(&slack_channel("slack", &slack.url(""), ""));
    one_alert(&b, &["slack"]).await;

    let run = b.once(start(), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    let got = slack.requests();
    assert_eq!(got.len(), 2, "{got:#?}");
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_secs(2),
        "retried {gap:?} after a 429 with Retry-After: 2"
    );
    assert!(gap < Duration::from_secs(10), "{gap:?}");
    assert!(String::from_utf8_lossy(&got[1].body).contains("itest-1"));
    assert!(b.outbox().await.is_empty());
    assert!(b.dead().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_and_delivered_in_the_same_run() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let hook = HttpSink::start().await;
    hook.push(Reply::status(500).body("oops"));
    b.add(&hook_channel("hook", &hook.url(""), ""));
    let key = one_alert(&b, &["hook"]).await;

    let run = b.once(start(), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    let got = hook.requests();
    assert_eq!(got.len(), 2, "{got:#?}");
    let gap = got[1].at - got[0].at;
    // docs/delivery.md: the first backoff is about 1 s (plus up to 50% jitter).
    assert!(
        gap >= Duration::from_millis(500) && gap < Duration::from_secs(5),
        "{gap:?}"
    );
    assert_eq!(got[0].json()["alerts"][0]["key"], key.as_str());
    assert_eq!(got[1].json()["alerts"][0]["key"], key.as_str());
    assert!(b.outbox().await.is_empty());
    assert!(b.dead().await.is_empty());
}

/// Dead letter on a 400, then `retry-dead`, then delivered. `second_now` is the
/// `--now` of the run after `retry-dead`.
async fn dead_letter_then_retry_dead(second_now: chrono::DateTime<chrono::Utc>) {
    let b = Bench::new(30, 2, "").await;
    let slack = HttpSink::start().await;
    // Slack's answer to a bad payload; it echoes the webhook path, as a proxy might.
    slack.push(Reply::status(400).body(&format!("invalid_payload (POST {})", slack_path())));
    b.add(&slack_channel("slack", &slack.url(""), ""));
    let key = one_alert(&b, &["slack"]).await;

    let run = b.once(start(), None).await;
    assert_eq!(run.code(), 1, "a dead letter in this run: {}", run.text());
    assert_no_secret("once -v", &run.text());
    assert_eq!(slack.requests().len(), 1, "a 400 is not retried");

    assert!(b.outbox().await.is_empty());
    let dead = b.dead().await;
    assert_eq!(dead.len(), 1, "{}", pretty(&dead));
    let d = &dead[0];
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
            d.get(field).is_some(),
            "SPEC §2 dead row lacks {field}: {d}"
        );
    }
    assert_eq!(d["channel"], "slack");
    assert_eq!(d["rule"], "crit");
    assert_eq!(d["status"], "firing");
    assert_eq!(d["alerts"], json!([key]));
    assert_eq!(d["attempts"], 1, "{d}");
    let err = d["last_error"]
        .as_str()
        .unwrap_or_else(|| panic!("no last_error: {d}"));
    assert!(
        err.contains("400"),
        "last_error does not name the status: {err}"
    );
    assert!(
        !err.contains("/services/"),
        "last_error shows the URL: {err}"
    );
    assert!(
        !err.contains(&slack.addr.to_string()),
        "last_error shows the URL: {err}"
    );

    let out = b.run(&["-v", "state", "retry-dead"]).await;
    assert_eq!(
        crate::support::code(&out),
        0,
        "{}",
        crate::support::text(&out)
    );
    assert!(b.dead().await.is_empty());
    let outbox = b.outbox().await;
    assert_eq!(outbox.len(), 1, "{}", pretty(&outbox));
    assert_eq!(outbox[0]["alerts"], json!([key]));
    assert_eq!(
        outbox[0]["attempts"], 0,
        "attempts are reset: {}",
        outbox[0]
    );

    // The sink answers 200 now; nothing new fires.
    let run = b.once(second_now, None).await;
    assert_eq!(
        run.code(),
        0,
        "once --now {} after retry-dead (outbox then: {}): {}",
        ts(second_now),
        pretty(&outbox),
        run.text()
    );
    let got = slack.requests();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(String::from_utf8_lossy(&got[1].body).contains("itest-1"));
    assert!(b.outbox().await.is_empty());
    assert!(b.dead().await.is_empty());
}

/// `retry-dead` stamps the moved items due at the wall clock, not "at once": a run at
/// an earlier `--now` (the clock SPEC §2 says decides everything by time) sees them
/// due weeks ahead and exits 3 without sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_a_dead_letter_until_retry_dead_and_the_next_run_delivers_it() {
    let _serial = shared().await;
    dead_letter_then_retry_dead(at_min(10)).await;
}

/// The same, with the second run's `--now` after the wall clock (which `retry-dead`
/// stamps as the due time): the path works when the clocks agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_dead_then_a_run_at_the_wall_clock_delivers_it() {
    let _serial = shared().await;
    dead_letter_then_retry_dead(chrono::Utc::now() + chrono::Duration::minutes(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_3_leaves_the_items_queued_and_the_next_run_delivers_them() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let hook = HttpSink::start().await;
    hook.set_default(Reply::status(503).body("Service Unavailable"));
    b.add(&hook_channel("hook", &hook.url(""), ""));
    b.rules("r.toml", &status_rule("crit", &["itest-*"], &["hook"], ""));
    let views = b
        .steer(
            0,
            2,
            |i| format!("itest-{i}"),
            json!({"status": "critical"}),
        )
        .await;
    let mut keys: Vec<Value> = views.iter().map(|v| json!([key("crit", v)])).collect();
    keys.sort_by_key(|k| k.to_string());

    let run = b.once(start(), Some("1s")).await;
    assert_eq!(run.code(), 3, "{}", run.text());
    assert_no_secret("once -v", &run.text());
    assert!(
        run.finished - run.started < Duration::from_secs(20),
        "--deliver-for 1s took {:?}",
        run.finished - run.started
    );
    let tried = hook.requests().len();
    assert!(tried >= 2, "each item was tried: {tried}");
    let outbox = b.outbox().await;
    assert_eq!(outbox.len(), 2, "{}", pretty(&outbox));
    let mut left: Vec<Value> = outbox.iter().map(|i| i["alerts"].clone()).collect();
    left.sort_by_key(|k| k.to_string());
    assert_eq!(left, keys);
    for i in &outbox {
        assert!(i["attempts"].as_u64().unwrap() >= 1, "{i}");
        let err = i["last_error"]
            .as_str()
            .unwrap_or_else(|| panic!("no last_error: {i}"));
        assert!(err.contains("503"), "{err}");
    }
    assert!(b.dead().await.is_empty());

    hook.set_default(Reply::status(200));
    let before = hook.requests().len();
    let run = b.once(at_min(10), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    let got = hook.requests();
    let ok: Vec<Value> = got[before..]
        .iter()
        .map(|r| r.json()["alerts"][0]["key"].clone())
        .collect();
    assert_eq!(ok.len(), 2, "{ok:?}");
    assert!(b.outbox().await.is_empty());
    assert!(b.dead().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_attempts_of_retryable_failures_make_a_dead_letter_and_exit_1() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let hook = HttpSink::start().await;
    hook.set_default(Reply::status(502).body("Bad Gateway"));
    b.add(&hook_channel("hook", &hook.url(""), "max_attempts = 2"));
    let key = one_alert(&b, &["hook"]).await;

    let run = b.once(start(), Some("10s")).await;
    assert_eq!(run.code(), 1, "{}", run.text());
    assert_eq!(hook.requests().len(), 2, "two attempts, then it gives up");
    assert!(b.outbox().await.is_empty());
    let dead = b.dead().await;
    assert_eq!(dead.len(), 1, "{}", pretty(&dead));
    assert_eq!(dead[0]["alerts"], json!([key]));
    assert_eq!(dead[0]["attempts"], 2, "{}", dead[0]);
    let err = dead[0]["last_error"].as_str().unwrap();
    assert!(err.contains("502"), "{err}");
}

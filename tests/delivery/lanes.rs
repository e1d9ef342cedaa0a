//! Per-channel lanes: the rate is never exceeded whatever the backlog, and a dead
//! channel does not hold up the others (SPEC §7, docs/delivery.md).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;
use crate::support::sinks::{HttpSink, Reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_100_never_exceeds_20_per_second() {
    let _serial = alone().await;
    let b = Bench::new(110, 2, "page_size = 500").await;
    let hook = HttpSink::start().await;
    b.add(&hook_channel(
        "hook",
        &hook.url(""),
        "rate = \"20/s\"\nburst = 1",
    ));
    b.rules(
        "r.toml",
        &status_rule("crit", &["itest-*"], &["hook"], "group_window = \"0s\""),
    );
    b.steer(
        0,
        100,
        |i| format!("itest-{i:03}"),
        json!({"status": "critical"}),
    )
    .await;

    let run = b.once(start(), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    let got = hook.requests();
    assert_eq!(got.len(), 100, "every item arrives");
    let mut names: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["alerts"][0]["resource"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 100, "100 distinct alerts");

    // GCRA at 20/s with burst 1: a send conforms only 50 ms after the previous one's
    // theoretical arrival time, so any 21 consecutive sends span at least 1 s: no
    // half-open window [t, t + 1 s) holds more than 20 of them. (A closed window of
    // exactly 1 s may hold 21: the first and the twentieth 50 ms later.)
    let at: Vec<Instant> = got.iter().map(|r| r.at).collect();
    let mut tightest = Duration::MAX;
    for i in 0..at.len() - 20 {
        let span = at[i + 20] - at[i];
        tightest = tightest.min(span);
        assert!(
            span >= Duration::from_secs(1),
            "arrivals {i}..={} (21 of them) within {span:?}: the rate 20/s was exceeded",
            i + 20
        );
    }
    let mut min_gap = Duration::MAX;
    for w in at.windows(2) {
        min_gap = min_gap.min(w[1] - w[0]);
    }
    eprintln!(
        "rate 20/s: 100 arrivals over {:?}; the tightest 21 span {tightest:?}; the smallest gap {min_gap:?}",
        at[99] - at[0]
    );
    assert!(b.outbox().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_slow_slack_does_not_delay_the_webhook() {
    let _serial = alone().await;
    let b = Bench::new(30, 2, "").await;
    let (slack, hook) = (HttpSink::start().await, HttpSink::start().await);
    // A dead Slack webhook: 500 forever, and slow to say so.
    slack.set_default(
        Reply::status(500)
            .body("internal_error")
            .delay(Duration::from_millis(1500)),
    );
    b.add(&slack_channel("slack", &slack.url(""), ""));
    b.add(&hook_channel("hook", &hook.url(""), ""));
    b.rules(
        "r.toml",
        &format!(
            "{}{}",
            status_rule("crit-slack", &["itest-*"], &["slack"], ""),
            status_rule("crit-hook", &["itest-*"], &["hook"], "")
        ),
    );
    b.steer(
        0,
        3,
        |i| format!("itest-{i}"),
        json!({"status": "critical"}),
    )
    .await;

    let run = b.once(start(), Some("3s")).await;
    assert_eq!(run.code(), 3, "slack is still owed: {}", run.text());
    let slack_got = slack.requests();
    let hook_got = hook.requests();
    assert_eq!(hook_got.len(), 3, "{hook_got:#?}");
    assert!(!slack_got.is_empty());
    let first_slack = slack_got[0].at;
    let first_hook = hook_got[0].at - run.started;
    let last_hook = hook_got[2].at - run.started;
    eprintln!(
        "dead slack: first slack attempt {:?}, webhook {first_hook:?}..{last_hook:?} after the start",
        first_slack - run.started
    );
    // The lanes start together: the webhook does not wait for Slack's slow answer.
    assert!(
        hook_got[0].at < first_slack + Duration::from_millis(500),
        "the webhook waited for slack: {:?} after slack's first attempt",
        hook_got[0].at - first_slack
    );
    // Three items at the webhook's 10/s: all within about a second of the start
    // (process start, token, tenant list and poll included).
    assert!(
        last_hook < Duration::from_millis(1500),
        "webhook items arrived {first_hook:?}..{last_hook:?} after the start"
    );
    let outbox = b.outbox().await;
    assert!(
        !outbox.is_empty() && outbox.iter().all(|i| i["channel"] == "slack"),
        "{}",
        pretty(&outbox)
    );
}

/// docs/delivery.md: the last sends are recorded in the state directory and the
/// bucket is computed from them at start, so a run right after another (a crash
/// loop, a cron of `once`) does not begin with a fresh burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_holds_across_back_to_back_runs() {
    let _serial = alone().await;
    let b = Bench::new(30, 2, "").await;
    let hook = HttpSink::start().await;
    b.add(&hook_channel(
        "hook",
        &hook.url(""),
        "rate = \"1/s\"\nburst = 1",
    ));
    b.rules("r.toml", &status_rule("crit", &["itest-*"], &["hook"], ""));
    b.steer(
        0,
        1,
        |i| format!("itest-{i}"),
        json!({"status": "critical"}),
    )
    .await;
    let run = b.once(start(), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_eq!(hook.requests().len(), 1);

    // A second machine turns critical; the next run starts at once.
    b.sim.sim.advance(Duration::from_secs(60));
    b.steer(
        1,
        1,
        |_| "itest-2".to_string(),
        json!({"status": "critical"}),
    )
    .await;
    let run = b.once(at_min(1), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    let got = hook.requests();
    assert_eq!(got.len(), 2, "{got:#?}");
    let gap = got[1].at - got[0].at;
    let restart = run.started - got[0].at;
    eprintln!(
        "rate 1/s across runs: the second run started {restart:?} and sent {gap:?} after the first run's send"
    );
    // Otherwise the bucket would have refilled by itself and this proves nothing.
    assert!(
        restart < Duration::from_millis(900),
        "the second run started only {restart:?} after the first send"
    );
    assert!(
        gap >= Duration::from_secs(1),
        "two sends {gap:?} apart on a 1/s channel (the second run started with a full bucket)"
    );
}

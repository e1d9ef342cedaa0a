//! No secret in output: routing keys, header values and webhook URL tokens never show
//! in `once -v` (stdout, stderr) nor in `state outbox|dead --json`, whatever fails and
//! even when a service echoes them back (SPEC §7, docs/channels.md "Secrets").

use std::time::Duration;

use serde_json::json;

use crate::common::*;
use crate::support::sinks::{HttpSink, Reply};
use crate::support::smtp::{SmtpMode, SmtpServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shows_in_output_or_state_across_failures() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let (slack, teams, pd, hook) = (
        HttpSink::start().await,
        HttpSink::start().await,
        HttpSink::start().await,
        HttpSink::start().await,
    );
    // Each service answers with an error that echoes the channel's own secrets back,
    // as a proxy's error page or a PSA's validation message might.
    // Slack: 500 forever.
    slack
        .set_default(Reply::status(500).body(&format!("upstream error for POST {}", slack_path())));
    // Teams: 429 with Retry-After.
    teams.set_default(
        Reply::status(429)
            .retry_after("1")
            .body(&format!("throttled: {}", teams_path())),
    );
    // PagerDuty: 400, a dead letter.
    pd.set_default(Reply::status(400).body(&format!(
        r#"{{"status":"invalid event","message":"Event object is invalid","errors":["bad routing_key {ROUTING_KEY}"]}}"#
    )));
    // Webhook: 503.
    hook.set_default(Reply::status(503).body(&format!(
        "Authorization: Bearer {HOOK_TOKEN} refused for {}",
        hook_path()
    )));
    b.add(&slack_channel("slack", &slack.url(""), ""));
    b.add(&teams_channel("teams", &teams.url(""), ""));
    b.add(&pd_channel("pd", &pd.url(""), ""));
    b.add(&hook_channel("hook", &hook.url(""), ""));
    // Nothing listens on port 9: a transport error, whose text often carries the URL.
    b.add(&slack_channel("slack-refused", "http://127.0.0.1:9", ""));
    b.add(&hook_channel("hook-refused", "http://127.0.0.1:9", ""));
    // SMTP: the configured password is refused (535).
    let smtp = SmtpServer::start_with(
        SmtpMode::Plain,
        Some(("alerts@msp.example", "the-right-one")),
    );
    b.add(&email_channel(
        "mail",
        &smtp.url(Some(("alerts%40msp.example", "${SMTP_PASSWORD}"))),
        "",
    ));
    b.rules(
        "r.toml",
        &status_rule(
            "crit",
            &["itest-*"],
            &[
                "slack",
                "teams",
                "pd",
                "hook",
                "slack-refused",
                "hook-refused",
                "mail",
            ],
            "",
        ),
    );
    b.steer(
        0,
        1,
        |i| format!("itest-{i}"),
        json!({"status": "critical"}),
    )
    .await;

    let run = b.once(start(), Some("2s")).await;
    assert_eq!(run.code(), 1, "pd is a dead letter: {}", run.text());
    assert_no_secret("once -v (first run)", &run.text());

    // The secrets really went out (so the scans above could have found them).
    assert!(slack.requests().iter().all(|r| r.path == slack_path()));
    assert!(pd.requests()[0].json()["routing_key"] == ROUTING_KEY);
    assert_eq!(
        hook.requests()[0].header("authorization"),
        Some(format!("Bearer {HOOK_TOKEN}").as_str())
    );
    assert!(!teams.requests().is_empty());

    let outbox = b.outbox().await; // scanned inside
    let dead = b.dead().await;
    let mut channels: Vec<&str> = outbox
        .iter()
        .chain(&dead)
        .map(|i| i["channel"].as_str().unwrap())
        .collect();
    channels.sort();
    assert_eq!(
        channels,
        [
            "hook",
            "hook-refused",
            "mail",
            "pd",
            "slack",
            "slack-refused",
            "teams"
        ],
        "outbox {}\ndead {}",
        pretty(&outbox),
        pretty(&dead)
    );
    assert!(
        dead.iter().any(|i| i["channel"] == "pd"),
        "{}",
        pretty(&dead)
    );
    for i in outbox.iter().chain(&dead) {
        assert!(i["last_error"].is_string(), "{i}");
    }

    // A second run: retries (and a JSON log) are scanned too.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = b
        .run(&[
            "-v",
            "--log-format",
            "json",
            "once",
            "--now",
            &ts(at_min(10)),
            "--deliver-for",
            "2s",
        ])
        .await;
    assert_eq!(
        crate::support::code(&out),
        3,
        "{}",
        crate::support::text(&out)
    );
    assert_no_secret("once -v --log-format json", &crate::support::text(&out));
    b.outbox().await;
    b.dead().await;
    let out = b.run(&["-v", "state", "outbox"]).await;
    assert_no_secret("state outbox (table)", &crate::support::text(&out));
    let out = b.run(&["-v", "state", "dead"]).await;
    assert_no_secret("state dead (table)", &crate::support::text(&out));
}

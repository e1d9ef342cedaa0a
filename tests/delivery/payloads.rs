//! What each kind of channel receives from one `once` (SPEC §8), PagerDuty's
//! trigger/resolve pairing, and grouping (SPEC §4, docs/channels.md).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::support::sinks::{HttpSink, Reply};
use crate::support::smtp::{SmtpMode, SmtpServer};

/// A name with every Slack and HTML control character, and a mention.
const EVIL: &str = r#"<!channel> & "x" <script>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_critical_machine_reaches_every_kind_of_channel_as_spec_8_says() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let (slack, teams, pd, hook) = (
        HttpSink::start().await,
        HttpSink::start().await,
        HttpSink::start().await,
        HttpSink::start().await,
    );
    pd.set_default(Reply::status(202).body(r#"{"status":"success","message":"Event processed"}"#));
    teams.set_default(Reply::status(202));
    let smtp = SmtpServer::start(SmtpMode::Plain);
    b.add(&slack_channel("slack", &slack.url(""), ""));
    b.add(&teams_channel("teams", &teams.url(""), ""));
    b.add(&pd_channel("pd", &pd.url(""), ""));
    b.add(&hook_channel("hook", &hook.url(""), ""));
    b.add(&email_channel("mail", &smtp.url(None), ""));
    b.rules(
        "r.toml",
        &status_rule(
            "crit",
            &["<!channel>*"],
            &["slack", "teams", "pd", "hook", "mail"],
            "",
        ),
    );
    let v = b
        .steer(0, 1, |_| EVIL.to_string(), json!({"status": "critical"}))
        .await;
    let key = key("crit", &v[0]);

    let run = b.once(start(), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_no_secret("once -v", &run.text());

    // Slack: Block Kit, within 50 blocks, the name escaped for mrkdwn everywhere.
    let got = slack.requests();
    assert_eq!(got.len(), 1, "slack: {got:#?}");
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, slack_path());
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json"),
        "{:?}",
        r.headers
    );
    let body = r.json();
    let blocks = body["blocks"].as_array().expect("slack blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50, "{body:#}");
    let raw = String::from_utf8_lossy(&r.body).to_string();
    assert!(
        !raw.contains("<!channel>"),
        "a raw <!channel> reached Slack: {raw}"
    );
    assert!(!raw.contains("<script>"), "{raw}");
    let mut texts = Vec::new();
    strings(&body, &mut texts);
    for t in &texts {
        assert!(!t.contains("<!"), "a Slack control sequence in {t:?}");
        assert!(t.chars().count() <= 3000, "a text over 3000 chars: {t}");
    }
    let escaped = "&lt;!channel&gt; &amp; \"x\" &lt;script&gt;";
    assert!(
        texts.iter().any(|t| t.contains(escaped)),
        "the escaped name {escaped:?} is not in {body:#}"
    );
    // The header (plain_text) too names no raw mention; the top-level text is escaped.
    assert!(
        body["text"].as_str().unwrap().contains(escaped),
        "{}",
        body["text"]
    );

    // Teams: the Workflows envelope around an Adaptive Card 1.4.
    let got = teams.requests();
    assert_eq!(got.len(), 1, "teams: {got:#?}");
    let r = &got[0];
    assert_eq!(r.path, teams_path());
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json")
    );
    assert!(
        r.body.len() <= 20 * 1024,
        "teams body {} bytes",
        r.body.len()
    );
    let body = r.json();
    assert_eq!(body["type"], "message", "{body:#}");
    let atts = body["attachments"].as_array().expect("attachments");
    assert_eq!(atts.len(), 1, "{body:#}");
    assert_eq!(
        atts[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(atts[0]["content"]["type"], "AdaptiveCard");
    assert_eq!(atts[0]["content"]["version"], "1.4");
    assert!(atts[0]["content"]["body"].is_array(), "{body:#}");
    let schema: Value =
        serde_json::from_str(include_str!("../fixtures/adaptive-card-1.4.json")).unwrap();
    let validator = jsonschema::draft6::new(&schema).unwrap_or_else(|e| panic!("{e}"));
    let errors: Vec<String> = validator
        .iter_errors(&atts[0]["content"])
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not an Adaptive Card 1.4: {errors:#?}");
    let mut texts = Vec::new();
    strings(&atts[0]["content"], &mut texts);
    assert!(texts.iter().any(|t| t.contains(EVIL)), "{body:#}");

    // PagerDuty: a trigger with the alert key as dedup_key.
    let got = pd.requests();
    assert_eq!(got.len(), 1, "pagerduty: {got:#?}");
    let r = &got[0];
    assert_eq!(r.path, "/v2/enqueue");
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json")
    );
    let body = r.json();
    assert_eq!(body["event_action"], "trigger", "{body:#}");
    assert_eq!(body["dedup_key"], key.as_str(), "{body:#}");
    assert_eq!(body["routing_key"], ROUTING_KEY, "{body:#}");
    assert_eq!(body["payload"]["severity"], "critical", "{body:#}");
    let summary = body["payload"]["summary"]
        .as_str()
        .expect("payload.summary");
    assert!(
        !summary.is_empty() && summary.chars().count() <= 1024,
        "{summary}"
    );
    assert!(
        body["payload"]["source"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );

    // Webhook: JSON, the configured headers.
    let got = hook.requests();
    assert_eq!(got.len(), 1, "webhook: {got:#?}");
    let r = &got[0];
    assert_eq!(r.path, hook_path());
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{:?}",
        r.headers
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {HOOK_TOKEN}").as_str())
    );
    assert_eq!(r.header("x-source"), Some("acronis-watch-test"));
    let body = r.json();
    assert_eq!(body["status"], "firing", "{body:#}");
    assert_eq!(body["count"], 1);
    assert_eq!(body["alerts"][0]["key"], key.as_str(), "{body:#}");
    assert_eq!(body["alerts"][0]["resource"]["name"], EVIL, "{body:#}");

    // Email: multipart/alternative, text then HTML, the name HTML-escaped in HTML.
    let got = smtp.wait_for(1, std::time::Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "email: {got:#?}");
    let m = &got[0];
    assert_eq!(m.code, 250);
    assert_eq!(m.rcpt_tos, vec!["noc@msp.example".to_string()]);
    let (ctype, parts) = mime_parts(&m.raw);
    assert!(
        ctype
            .to_ascii_lowercase()
            .starts_with("multipart/alternative"),
        "{ctype}\n{}",
        m.raw
    );
    assert_eq!(parts.len(), 2, "{}", m.raw);
    assert!(
        parts[0].0.to_ascii_lowercase().starts_with("text/plain"),
        "{parts:?}"
    );
    assert!(
        parts[1].0.to_ascii_lowercase().starts_with("text/html"),
        "{parts:?}"
    );
    assert!(parts[0].1.contains(EVIL), "text part: {}", parts[0].1);
    let html = &parts[1].1;
    assert!(
        html.contains("&lt;!channel&gt; &amp; &quot;x&quot; &lt;script&gt;"),
        "HTML part: {html}"
    );
    assert!(
        !html.contains("<script>") && !html.contains("<!channel>"),
        "{html}"
    );

    assert!(b.outbox().await.is_empty());
    assert!(b.dead().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_resolve_closes_the_trigger_with_the_same_dedup_key() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let pd = HttpSink::start().await;
    pd.set_default(Reply::status(202));
    b.add(&pd_channel("pd", &pd.url(""), ""));
    b.rules(
        "r.toml",
        &status_rule("crit", &["itest-*"], &["pd"], "resolve = true"),
    );
    let v = b
        .steer(
            0,
            1,
            |i| format!("itest-{i}"),
            json!({"status": "critical"}),
        )
        .await;
    let key = key("crit", &v[0]);

    let run = b.once(start(), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    let got = pd.requests();
    assert_eq!(got.len(), 1, "{got:#?}");
    let trigger = got[0].json();
    assert_eq!(trigger["event_action"], "trigger", "{trigger:#}");
    assert_eq!(trigger["dedup_key"], key.as_str());

    b.sim.sim.advance(Duration::from_secs(60));
    b.patch(v[0]["id"].as_str().unwrap(), json!({"status": "idle"}))
        .await;
    let run = b.once(at_min(60), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    let got = pd.requests();
    assert_eq!(got.len(), 2, "{got:#?}");
    let resolve = got[1].json();
    assert_eq!(resolve["event_action"], "resolve", "{resolve:#}");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"], "{resolve:#}");
    assert_eq!(resolve["routing_key"], ROUTING_KEY);
    // docs/channels.md: a resolve carries no payload.
    assert!(
        resolve.get("payload").is_none_or(Value::is_null),
        "{resolve:#}"
    );

    // Nothing more while it stays fine.
    let run = b.once(at_min(120), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_eq!(pd.requests().len(), 2);
    assert!(b.outbox().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_machines_in_one_poll_make_one_slack_message_and_thirty_pages() {
    let _serial = shared().await;
    let b = Bench::new(60, 2, "").await;
    let (slack, pd) = (HttpSink::start().await, HttpSink::start().await);
    pd.set_default(Reply::status(202));
    b.add(&slack_channel("slack", &slack.url(""), ""));
    // PagerDuty's default rate (120/m) would take 15 s for 30 events.
    b.add(&pd_channel("pd", &pd.url(""), "rate = \"100/s\""));
    b.rules(
        "r.toml",
        &status_rule(
            "crit",
            &["itest-*"],
            &["slack", "pd"],
            "group_window = \"30s\"",
        ),
    );
    let views = b
        .steer(
            0,
            30,
            |i| format!("itest-{i:02}"),
            json!({"status": "critical"}),
        )
        .await;
    let keys: BTreeSet<String> = views.iter().map(|v| key("crit", v)).collect();

    let run = b.once(start(), None).await;
    assert_eq!(run.code(), 0, "{}", run.text());

    let got = slack.requests();
    assert_eq!(got.len(), 1, "one grouped Slack message: {got:#?}");
    let body = got[0].json();
    let blocks = body["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= 50, "{} blocks", blocks.len());
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("30"), "the count is not in the text: {text}");
    let raw = String::from_utf8_lossy(&got[0].body).to_string();
    for i in 1..=30 {
        let name = format!("itest-{i:02}");
        assert!(raw.contains(&name), "{name} is not listed: {body:#}");
    }

    let got = pd.requests();
    assert_eq!(got.len(), 30, "one PagerDuty event per alert");
    let dedup: BTreeSet<String> = got
        .iter()
        .map(|r| {
            let e = r.json();
            assert_eq!(e["event_action"], "trigger", "{e:#}");
            e["dedup_key"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(dedup, keys);
    assert!(b.outbox().await.is_empty());
}

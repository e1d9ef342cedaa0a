//! A template naming a field the context lacks stops `check` and `once` with exit 2,
//! naming the file and line (SPEC §2, §5; docs/templates.md "Strict mode").

use serde_json::json;

use crate::common::*;
use crate::support::sinks::HttpSink;
use crate::support::{code, text};

const BAD_SLACK: &str = r#"{
  "text": "{{rule.name}}",
  "blocks": [
    { "type": "section", "text": { "type": "mrkdwn", "text": "{{resoruce.name}}" } }
  ]
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_field_in_slack_json_hbs_fails_check_and_once_with_its_line() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let slack = HttpSink::start().await;
    b.add(&slack_channel("slack", &slack.url(""), ""));
    b.rules("r.toml", &status_rule("crit", &["itest-*"], &["slack"], ""));
    b.steer(
        0,
        1,
        |i| format!("itest-{i}"),
        json!({"status": "critical"}),
    )
    .await;
    let dir = b.work.path().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("slack.json.hbs"), BAD_SLACK).unwrap();

    let out = b.run(&["check"]).await;
    let t = text(&out);
    assert_eq!(code(&out), 2, "check: {t}");
    assert!(
        t.contains("templates/slack.json.hbs:4"),
        "check does not name the line: {t}"
    );
    assert!(t.contains("resoruce"), "check does not name the field: {t}");

    let run = b.once(start(), None).await;
    let t = run.text();
    assert_eq!(run.code(), 2, "once: {t}");
    assert!(
        t.contains("templates/slack.json.hbs:4"),
        "once does not name the line: {t}"
    );
    assert!(slack.requests().is_empty(), "nothing is sent");
}

/// Loops over the alerts nested four deep: harmless on `check`'s small samples (at
/// most 7 alerts: 2,401 turns), runaway at scale (1,000 alerts: 10^12 turns of
/// output). Issue 19's render budget stops it by size.
const RUNAWAY_WRITING: &str = r#"{
  "text": "{{#each alerts}}{{#each @root.alerts}}{{#each @root.alerts}}{{#each @root.alerts}}xxxxxx{{/each}}{{/each}}{{/each}}{{/each}}"
}
"#;

/// The same loops writing nothing: only the wait for a render stops them.
const RUNAWAY_SILENT: &str = r#"{
  "text": "{{rule.name}}{{#each alerts}}{{#each @root.alerts}}{{#each @root.alerts}}{{#each @root.alerts}}{{/each}}{{/each}}{{/each}}{{/each}}"
}
"#;

async fn check_with_webhook_template(template: &str) -> (i32, String) {
    let b = Bench::new(30, 2, "").await;
    let hook = HttpSink::start().await;
    b.add(&hook_channel("hook", &hook.url(""), ""));
    b.rules("r.toml", &status_rule("crit", &["itest-*"], &["hook"], ""));
    let dir = b.work.path().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("webhook.json.hbs"), template).unwrap();
    let out = b.run(&["check"]).await;
    (code(&out), text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_finds_a_template_that_runs_away_at_1000_alerts_by_its_size() {
    let _serial = shared().await;
    let started = std::time::Instant::now();
    let (code, t) = check_with_webhook_template(RUNAWAY_WRITING).await;
    assert_eq!(code, 2, "check: {t}");
    assert!(
        t.contains("templates/webhook.json.hbs"),
        "names the file: {t}"
    );
    assert!(t.contains("4 MiB"), "names the limit: {t}");
    assert!(t.contains("1000 alerts"), "says the sample was scaled: {t}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "check ended promptly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_finds_a_silent_runaway_loop_by_the_time_it_takes() {
    let _serial = shared().await;
    let started = std::time::Instant::now();
    let (code, t) = check_with_webhook_template(RUNAWAY_SILENT).await;
    assert_eq!(code, 2, "check: {t}");
    assert!(
        t.contains("template \"webhook\""),
        "names the template: {t}"
    );
    assert!(t.contains("longer than 5 s"), "names the limit: {t}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "check ended instead of waiting for 10^12 turns"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shipped_template_set_passes_the_scaled_check() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let hook = HttpSink::start().await;
    let slack = HttpSink::start().await;
    b.add(&hook_channel("hook", &hook.url(""), ""));
    b.add(&slack_channel("slack", &slack.url(""), ""));
    b.rules("r.toml", &status_rule("crit", &["itest-*"], &["hook"], ""));
    let out = b.run(&["check"]).await;
    let t = text(&out);
    assert_eq!(code(&out), 0, "check: {t}");
    assert!(t.contains("scaled up to 1,000 alerts"), "{t}");
}

/// What one `once` gave when a rule notifies a webhook channel rendered by
/// `template` and a Slack channel rendered by the shipped template, for 30 critical
/// machines grouped into one message each.
struct RunawayRun {
    b: Bench,
    hook: HttpSink,
    slack: HttpSink,
    run: Run,
    took: std::time::Duration,
}

async fn once_beside_slack(template: &str) -> RunawayRun {
    let b = Bench::new(30, 2, "").await;
    let hook = HttpSink::start().await;
    let slack = HttpSink::start().await;
    b.add(&hook_channel(
        "hook",
        &hook.url(""),
        "template = \"runaway\"",
    ));
    b.add(&slack_channel("slack", &slack.url(""), ""));
    b.rules(
        "r.toml",
        &status_rule(
            "crit",
            &["itest-*"],
            &["hook", "slack"],
            "group_window = \"30s\"",
        ),
    );
    b.steer(
        0,
        30,
        |i| format!("itest-{i}"),
        json!({"status": "critical"}),
    )
    .await;
    let dir = b.work.path().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("runaway.json.hbs"), template).unwrap();
    let shipped = include_str!("../../templates/slack.json.hbs");
    std::fs::write(dir.join("slack.json.hbs"), shipped).unwrap();
    let started = std::time::Instant::now();
    let run = b.once(start(), None).await;
    RunawayRun {
        took: started.elapsed(),
        b,
        hook,
        slack,
        run,
    }
}

/// In delivery, a message whose render runs away (30 grouped alerts: 30^4 turns of
/// output past 4 MiB) fails alone, as a dead letter naming the template and the limit,
/// while the other channel of the same rule gets its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_render_fails_its_message_and_holds_no_other_channel() {
    let _serial = shared().await;
    let r = once_beside_slack(RUNAWAY_WRITING).await;
    let t = r.run.text();
    assert!(
        r.hook.requests().is_empty(),
        "the runaway message is not sent: {t}"
    );
    assert_eq!(r.slack.requests().len(), 1, "slack gets its message: {t}");
    let dead = r.b.dead().await;
    assert_eq!(dead.len(), 1, "one dead letter: {dead:?}");
    let error = dead[0].to_string();
    assert!(error.contains("runaway.json.hbs"), "{error}");
    assert!(error.contains("4 MiB"), "{error}");
}

/// A Teams template written before issue 19 (a machine's name in a markdown TextBlock)
/// still passes `check`, with a warning naming the file and the field; the shipped one
/// gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_warns_when_a_template_shows_api_values_as_markup() {
    let _serial = shared().await;
    let b = Bench::new(30, 2, "").await;
    let teams = HttpSink::start().await;
    b.add(&teams_channel("teams", &teams.url(""), ""));
    b.rules("r.toml", &status_rule("crit", &["itest-*"], &["teams"], ""));
    let out = b.run(&["check"]).await;
    let t = text(&out);
    assert_eq!(code(&out), 0, "check: {t}");
    assert!(
        !t.contains("reads markup"),
        "the shipped template is inert: {t}"
    );

    let dir = b.work.path().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("teams.json.hbs"),
        r#"{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
  "content": {"type": "AdaptiveCard", "version": "1.4", "body": [
    {{#each alerts}}{{#unless @first}},{{/unless}}{ "type": "TextBlock", "text": "{{resource.name}}" }{{/each}}
  ]}}]}"#,
    )
    .unwrap();
    let out = b.run(&["check"]).await;
    let t = text(&out);
    assert_eq!(code(&out), 0, "a warning, not an error: {t}");
    assert!(t.contains("WARN"), "{t}");
    assert!(
        t.contains("templates/teams.json.hbs"),
        "names the file: {t}"
    );
    assert!(t.contains("TextBlock"), "names the field: {t}");
}

/// Loops nested six deep over the alerts, writing nothing: on `check`'s small samples
/// 7^6 turns, quick; on 30 grouped alerts 30^6 (7 * 10^8), minutes.
const RUNAWAY_SILENT_DEEP: &str = r#"{
  "text": "{{rule.name}}{{#each alerts}}{{#each @root.alerts}}{{#each @root.alerts}}{{#each @root.alerts}}{{#each @root.alerts}}{{#each @root.alerts}}{{/each}}{{/each}}{{/each}}{{/each}}{{/each}}{{/each}}"
}
"#;

/// A render that writes nothing and never ends is abandoned after delivery's wait: the
/// message is a dead letter saying so, the other channel is served, and `once` exits
/// instead of waiting for the abandoned render.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_runaway_render_is_abandoned_and_once_still_exits() {
    let _serial = shared().await;
    let r = once_beside_slack(RUNAWAY_SILENT_DEEP).await;
    let t = r.run.text();
    assert!(
        r.took < std::time::Duration::from_secs(60),
        "once exited without waiting for the abandoned render: {t}"
    );
    assert!(r.hook.requests().is_empty(), "{t}");
    assert_eq!(r.slack.requests().len(), 1, "slack gets its message: {t}");
    let dead = r.b.dead().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let error = dead[0].to_string();
    assert!(error.contains("longer than 5 s"), "{error}");
}

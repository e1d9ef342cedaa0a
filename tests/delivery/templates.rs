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

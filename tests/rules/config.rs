//! Rule files themselves: edits between runs apply to the whole fleet at once, bad
//! files are refused with their location, and the shipped rules load and fire.

use serde_json::json;

use crate::common::*;
use crate::support::{WorkDir, code, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_a_stale_threshold_resolves_what_no_longer_holds_without_a_resource_change() {
    let b = Bench::new(30, 2, "full_resync_every = \"7d\"", "").await;
    let rule = |older: &str| {
        backup_rule(
            "stale",
            &format!("last_success_older_than = \"{older}\""),
            &["teams"],
            "resolve = true",
        )
    };
    b.rules("backup.toml", &rule("26h"));
    // Neither machine changes after the first poll (updated_at = its last success,
    // far behind the watermark; offline, so the simulator never runs them).
    let mut keys = Vec::new();
    for (i, hours) in [30, 50].into_iter().enumerate() {
        let t = ts(at(-hours, 0));
        let v = b
            .steer_from(
                i,
                1,
                &format!("itest-stale{hours}"),
                json!({"offline": true, "updated_at": t,
                       "policies": [{"type": BACKUP, "last_run": t, "last_success_run": t,
                                     "next_run": ts(at(12, 0))}]}),
            )
            .await;
        keys.push(key("stale", &v[0], Some(BACKUP)));
    }
    let (k30, k50) = (&keys[0], &keys[1]);
    b.once(start()).await;
    assert_eq!(keys_with(&b.alerts().await, "firing").len(), 2);
    assert_eq!(b.outbox().await.len(), 2);

    b.rules("backup.toml", &rule("48h"));
    b.once(start()).await;
    let alerts = b.alerts().await;
    let a30 = alert(&alerts, k30);
    assert_eq!(a30["status"], "resolved", "{a30}");
    assert_eq!(time(&a30["resolved_at"]), start());
    let a50 = alert(&alerts, k50);
    assert_eq!(a50["status"], "firing", "{a50}");
    assert_eq!(time(&a50["fired_at"]), start());
    let mut want = vec![
        entry("teams", "stale", "firing", &[k30]),
        entry("teams", "stale", "firing", &[k50]),
        entry("teams", "stale", "resolved", &[k30]),
    ];
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);

    // Back to 26h: the 30h-old one fires again; the other is untouched.
    b.rules("backup.toml", &rule("26h"));
    b.once(at(0, 5)).await;
    let alerts = b.alerts().await;
    assert_eq!(alert(&alerts, k30)["status"], "firing");
    assert_eq!(time(&alert(&alerts, k30)["fired_at"]), at(0, 5));
    assert_eq!(time(&alert(&alerts, k50)["fired_at"]), start());
    assert_eq!(b.outbox().await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_status_list_fires_and_resolves_without_a_resource_change() {
    let b = Bench::new(30, 2, "full_resync_every = \"7d\"", "").await;
    let rule = |statuses: &[&str]| status_rule("bad", statuses, &["slack"], "resolve = true");
    b.rules("machines.toml", &rule(&["critical"]));
    let old = ts(at(-1, 0));
    let c = b
        .steer(
            1,
            "itest-c",
            json!({"status": "critical", "updated_at": old}),
        )
        .await;
    let e = b
        .steer_from(
            1,
            1,
            "itest-e",
            json!({"status": "error", "updated_at": old}),
        )
        .await;
    let (kc, ke) = (key("bad", &c[0], None), key("bad", &e[0], None));

    b.once(start()).await;
    assert_eq!(
        keys_with(&b.alerts().await, "firing")
            .into_iter()
            .collect::<Vec<_>>(),
        vec![kc.clone()]
    );

    b.rules("machines.toml", &rule(&["critical", "error"]));
    b.once(at(0, 10)).await;
    let alerts = b.alerts().await;
    assert_eq!(
        alert(&alerts, &ke)["status"],
        "firing",
        "{}",
        pretty(&alerts)
    );
    assert_eq!(time(&alert(&alerts, &ke)["fired_at"]), at(0, 10));
    assert_eq!(
        time(&alert(&alerts, &kc)["fired_at"]),
        start(),
        "C fired again"
    );
    let mut want = vec![
        entry("slack", "bad", "firing", &[&kc]),
        entry("slack", "bad", "firing", &[&ke]),
    ];
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);

    b.rules("machines.toml", &rule(&["error"]));
    b.once(at(0, 20)).await;
    let alerts = b.alerts().await;
    assert_eq!(alert(&alerts, &kc)["status"], "resolved");
    assert_eq!(time(&alert(&alerts, &kc)["resolved_at"]), at(0, 20));
    assert_eq!(alert(&alerts, &ke)["status"], "firing");
    want.push(entry("slack", "bad", "resolved", &[&kc]));
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);
}

/// A worker directory (no simulator: a bad rule stops every command before the network)
/// with the test channels and the given rule files.
fn with_rule_files(files: &[(&str, &str)]) -> WorkDir {
    let work = WorkDir::new("http://127.0.0.1:9", "");
    let mut cfg = std::fs::read_to_string(work.config()).unwrap();
    cfg.push_str(CHANNELS);
    work.write_config(&cfg);
    let dir = work.path().join("rules");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
    work
}

/// `check` and `once` both exit 2 and name every `(file:line, words)` given.
async fn refused(files: &[(&str, &str)], want: &[&str]) {
    let work = with_rule_files(files);
    for args in [&["check"][..], &["once", "--now", START][..]] {
        let out = work.run(args).await;
        let all = text(&out);
        assert_eq!(code(&out), 2, "{args:?}: {all}");
        for w in want {
            assert!(all.contains(w), "{args:?}: expected {w:?} in:\n{all}");
        }
    }
    assert!(
        !work.path().join("state").exists(),
        "a refused rule set still opened the state"
    );
}

const GOOD: &str = r#"# fine
[[rule]]
name = "crit"
notify = ["slack"]
when.status = ["critical"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_status_name_is_refused_with_its_file_and_line() {
    let bad = r#"# machines
[[rule]]
name = "crit"
notify = ["slack"]
when.status = ["critical", "on_fire"]
"#;
    refused(
        &[("machines.toml", bad)],
        &["rules/machines.toml:5:", "on_fire", "unknown status"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_name_used_in_two_files_is_refused_naming_both() {
    let second = r#"

[[rule]]
name = "crit"
notify = ["teams"]
when.status = ["error"]
"#;
    refused(
        &[("a.toml", GOOD), ("b.toml", second)],
        &["rules/b.toml:4:", "rules/a.toml:3:", "\"crit\""],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_channel_in_notify_is_refused_with_its_file_and_line() {
    let bad = r#"[[rule]]
name = "crit"
when.status = ["critical"]
notify = ["slack", "noc-slak"]
"#;
    refused(
        &[
            (
                "machines.toml",
                GOOD.replace("name = \"crit\"", "name = \"other\"").as_str(),
            ),
            ("x.toml", bad),
        ],
        &["rules/x.toml:4:", "noc-slak"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_is_refused_with_its_file_and_line() {
    let bad = r#"[[rule]]
name = "crit"
notify = ["slack"]
when.status = ["critical"]
repaet = "4h"
"#;
    refused(
        &[("machines.toml", bad)],
        &["rules/machines.toml:5:", "repaet", "unknown key"],
    )
    .await;
    // ... and inside when.* too.
    let bad = r#"[[rule]]
name = "stale"
notify = ["teams"]
when.policy = "policy.backup.machine"
when.last_success_older = "26h"
"#;
    refused(
        &[("backup.toml", bad)],
        &["rules/backup.toml:5:", "last_success_older", "unknown key"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_rules_pass_check_and_fire_on_the_first_poll() {
    let b = Bench::new(
        200,
        3,
        "",
        r#"
[[channel]]
name = "noc-slack"
type = "slack"
url = "http://127.0.0.1:9/noc-slack"

[[channel]]
name = "noc-teams"
type = "teams"
url = "http://127.0.0.1:9/noc-teams"

[[channel]]
name = "oncall"
type = "pagerduty"
routing_key = "itest-oncall"
url = "http://127.0.0.1:9/oncall"

[[channel]]
name = "ticketing"
type = "webhook"
url = "http://127.0.0.1:9/ticketing"

[[channel]]
name = "mail"
type = "email"
smtp = "smtp+plain://127.0.0.1:9"
from = "alerts@example.com"
to = ["noc@example.com"]
"#,
    )
    .await;
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut shipped = 0;
    for entry in std::fs::read_dir(repo.join("rules")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension() == Some("toml".as_ref()) {
            std::fs::copy(
                &path,
                b.work.path().join("rules").join(path.file_name().unwrap()),
            )
            .unwrap();
            shipped += 1;
        }
    }
    assert!(shipped > 0, "no rules/*.toml in the repository");
    // `check` will validate templates too once they exist: bring the shipped ones.
    if repo.join("templates").is_dir() {
        let dest = b.work.path().join("templates");
        std::fs::create_dir_all(&dest).unwrap();
        for entry in std::fs::read_dir(repo.join("templates")).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dest.join(path.file_name().unwrap())).unwrap();
            }
        }
    }

    let out = b.work.run(&["check"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("machine-critical"), "{}", text(&out));

    b.once(start()).await;
    let alerts = b.alerts().await;
    let critical = b
        .sim
        .get("/_sim/resources?status=critical&limit=100000")
        .await;
    let critical = critical["items"].as_array().unwrap();
    assert!(
        !critical.is_empty(),
        "the seed-42 fleet has critical machines"
    );
    let fired = alerts
        .iter()
        .filter(|a| a["rule"] == "machine-critical" && a["status"] == "firing")
        .count();
    assert_eq!(
        fired,
        critical.len(),
        "one machine-critical alert per critical machine"
    );
    let outbox = b.outbox().await;
    // PagerDuty: one page per critical machine; the chat channels get grouped messages.
    assert_eq!(
        rows(&outbox, "channel", "oncall").len(),
        critical.len(),
        "{}",
        pretty(&outbox)
    );
    let slack_critical: Vec<_> = rows(&outbox, "channel", "noc-slack")
        .into_iter()
        .filter(|i| i["rule"] == "machine-critical")
        .collect();
    assert_eq!(slack_critical.len(), 1, "{}", pretty(&outbox));
    assert_eq!(
        item_keys(slack_critical[0]).len() + slack_critical[0]["more"].as_u64().unwrap() as usize,
        critical.len()
    );
}

//! Platform rules (`source = "platform"`, SPEC §4): Acronis Alert Manager alerts from
//! the simulator's `GET /api/alert_manager/v1/alerts`, raised and dismissed over
//! `/_sim/alerts`, delivered to a real webhook sink on loopback.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::support::sinks::HttpSink;
use crate::support::{code, text, webhook_channel};

/// A platform rule on the test's own alert types (`Itest*`: the simulator raises
/// `BackupFailed` alerts of its own), to a webhook sink.
async fn platform_bench(extra_rule: &str) -> (Bench, HttpSink) {
    let sink = HttpSink::start().await;
    let b = Bench::new(30, 2, "", &webhook_channel("hook", &sink.url("/hook"))).await;
    b.rules(
        "platform.toml",
        &format!(
            "[[rule]]\nname = \"pf\"\nsource = \"platform\"\nnotify = [\"hook\"]\n\
             match.alert_type = [\"Itest*\"]\nresolve = true\n{extra_rule}\n"
        ),
    );
    (b, sink)
}

/// `once --now T`, delivering what it queues.
async fn once_delivering(b: &Bench, now: chrono::DateTime<chrono::Utc>) {
    let out = b.work.run(&["once", "--now", &ts(now)]).await;
    assert_eq!(code(&out), 0, "once --now {}: {}", ts(now), text(&out));
}

async fn raise(b: &Bench, body: Value) -> Value {
    b.sim.post("/_sim/alerts", body).await
}

/// Every alert the webhook received, with the message's status.
fn received(sink: &HttpSink) -> Vec<(String, Value)> {
    sink.requests()
        .iter()
        .flat_map(|r| {
            let body = r.json();
            let status = body["status"].as_str().unwrap_or_default().to_string();
            body["alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |a| (status.clone(), a))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_alert_fires_once_with_its_words_and_resolves_when_dismissed() {
    let (b, sink) = platform_bench("").await;
    let machine = b.steer(1, "itest-pf", json!({})).await.remove(0);
    let alert = raise(
        &b,
        json!({"type": "ItestRansomware", "category": "security", "severity": "critical",
               "resource_id": machine["id"], "title": "Ransomware detected",
               "description": "Suspicious encryption activity was stopped."}),
    )
    .await;
    let id = alert["id"].as_str().unwrap().to_string();
    // The watched tenant (the machine may be in a unit below it).
    let tenant = machine["customer"].as_str().unwrap();
    let key = format!("pf/{tenant}/{id}");

    once_delivering(&b, start()).await;
    let got = received(&sink);
    assert_eq!(got.len(), 1, "{got:?}");
    let (status, a) = &got[0];
    assert_eq!(status, "firing");
    assert_eq!(a["key"], key.as_str());
    assert_eq!(a["severity"], "critical", "the platform's own severity");
    assert_eq!(a["resource"]["name"], "itest-pf-1");
    assert_eq!(a["platform"]["title"], "Ransomware detected");
    assert_eq!(
        a["platform"]["description"],
        "Suspicious encryption activity was stopped."
    );
    assert_eq!(a["platform"]["type"], "ItestRansomware");
    assert_eq!(a["platform"]["category"], "security");
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .contains("Ransomware detected"),
        "{a}"
    );
    assert_eq!(alert_of(&b, &key).await["status"], "firing");

    // Polled again: nothing new.
    once_delivering(&b, at(0, 10)).await;
    assert_eq!(received(&sink).len(), 1);

    // Dismissed on the platform: resolved, told once.
    b.sim.sim.advance(Duration::from_secs(60));
    b.sim
        .post(&format!("/_sim/alerts/{id}"), json!({"dismissed": true}))
        .await;
    once_delivering(&b, at(0, 20)).await;
    let got = received(&sink);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].0, "resolved");
    assert_eq!(got[1].1["key"], key.as_str());
    assert_eq!(alert_of(&b, &key).await["status"], "resolved");
    once_delivering(&b, at(0, 30)).await;
    assert_eq!(received(&sink).len(), 2);
}

async fn alert_of(b: &Bench, key: &str) -> Value {
    let alerts = b.alerts().await;
    alert(&alerts, key).clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_alerts_page_filter_and_resolve_when_no_longer_listed() {
    let (b, sink) = platform_bench(
        "match.severity = [\"error\", \"critical\"]\nmatch.category = [\"backup*\"]\n\
         group_window = \"1m\"",
    )
    .await;
    let cfg = std::fs::read_to_string(b.work.config()).unwrap();
    // Small pages: the alerts come over several.
    assert!(cfg.contains("page_size = 20"), "{cfg}");
    b.work
        .write_config(&cfg.replacen("page_size = 20", "page_size = 2", 1));
    let mut ids = Vec::new();
    for i in 0..5 {
        let a = raise(
            &b,
            json!({"type": "ItestBackupFailed", "category": "backup", "severity": "error",
                   "title": format!("Backup failed {i}")}),
        )
        .await;
        ids.push(a["id"].as_str().unwrap().to_string());
    }
    // Not matched: a warning, and another category.
    raise(
        &b,
        json!({"type": "ItestX", "category": "backup", "severity": "warning"}),
    )
    .await;
    raise(
        &b,
        json!({"type": "ItestY", "category": "license", "severity": "critical"}),
    )
    .await;

    once_delivering(&b, start()).await;
    let firing: Vec<_> = b
        .alerts()
        .await
        .into_iter()
        .filter(|a| a["rule"] == "pf" && a["status"] == "firing")
        .collect();
    assert_eq!(firing.len(), 5, "{}", pretty(&firing));
    // Grouped: one message of five.
    let got = sink.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["count"], 5);
    let counters = b.sim.get("/_sim/counters").await;
    assert!(
        counters["requests"]["platform_alerts"].as_u64().unwrap() >= 3,
        "paged: {counters}"
    );

    // One is dismissed: the next read (a full pass, 7h on: a complete listing of the
    // open alerts, which lacks it) resolves it.
    b.sim
        .post(
            &format!("/_sim/alerts/{}", ids[0]),
            json!({"dismissed": true}),
        )
        .await;
    once_delivering(&b, at(7, 0)).await;
    let alerts = b.alerts().await;
    let resolved: Vec<_> = alerts
        .iter()
        .filter(|a| a["rule"] == "pf" && a["status"] == "resolved")
        .collect();
    assert_eq!(resolved.len(), 1, "{}", pretty(&alerts));
    assert!(resolved[0]["key"].as_str().unwrap().ends_with(&ids[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_alert_manager_leaves_the_resource_poll_of_the_tenant_unaffected() {
    let (b, _sink) = platform_bench("").await;
    b.rules(
        "machines.toml",
        &status_rule("crit", &["critical"], &["hook"], ""),
    );
    b.steer(1, "itest-crit", json!({"status": "critical"}))
        .await;
    raise(&b, json!({"type": "ItestA", "severity": "critical"})).await;
    // Every Alert Manager request fails, retries included.
    b.sim
        .post(
            "/_sim/faults",
            json!({"endpoint": "platform_alerts", "status": 500, "count": 50}),
        )
        .await;
    let out = b.work.run(&["once", "--now", &ts(start())]).await;
    let log = text(&out);
    assert_eq!(code(&out), 0, "{log}");
    assert!(log.contains("Alert Manager read failed"), "{log}");
    let alerts = b.alerts().await;
    assert!(
        alerts
            .iter()
            .any(|a| a["rule"] == "crit" && a["status"] == "firing"),
        "the resource rule fired: {}",
        pretty(&alerts)
    );
    assert!(
        !alerts.iter().any(|a| a["rule"] == "pf"),
        "{}",
        pretty(&alerts)
    );

    // Healthy again: the platform alert comes at the next poll.
    b.sim.sim.clear_faults();
    once_delivering(&b, at(0, 5)).await;
    let alerts = b.alerts().await;
    assert!(
        alerts
            .iter()
            .any(|a| a["rule"] == "pf" && a["status"] == "firing")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_rules_that_cannot_apply_are_check_errors() {
    let b = Bench::new(5, 1, "", "").await;
    for (rule, says) in [
        (
            "source = \"platform\"\nwhen.status = [\"critical\"]",
            "when",
        ),
        (
            "source = \"platform\"\nmatch.severity = [\"fatal\"]",
            "fatal",
        ),
        (
            "source = \"platform\"\nmatch.type = [\"resource.machine\"]",
            "type",
        ),
        ("source = \"elsewhere\"", "source"),
        (
            "match.category = [\"backup\"]\nwhen.status = [\"critical\"]",
            "category",
        ),
    ] {
        b.rules(
            "platform.toml",
            &format!("[[rule]]\nname = \"p\"\nnotify = [\"teams\"]\n{rule}\n"),
        );
        let out = b.work.run(&["check"]).await;
        let msg = text(&out);
        assert_eq!(code(&out), 2, "{rule}: {msg}");
        assert!(msg.contains("platform.toml:"), "{rule}: {msg}");
        assert!(msg.contains(says), "{rule}: expected {says} in {msg}");
    }
}

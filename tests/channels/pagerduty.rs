//! PagerDuty Events v2 as PagerDuty receives it: the envelope, trigger/resolve pairing
//! on one dedup_key, and the limits.

use std::time::Duration;

use acronis_watch::notify::pagerduty::{MAX_DEDUP_KEY, dedup_key};
use acronis_watch::notify::{Channel, Rendered, SendError};
use serde_json::{Value, json};

use crate::common::{channel, item, reason};
use crate::support::sinks::{HttpSink, Reply};

const ROUTING_KEY: &str = "0123456789abcdef0123456789abcdef";

fn pagerduty(sink: &HttpSink) -> Channel {
    let url = sink.url("/v2/enqueue");
    channel(
        "type = \"pagerduty\"\nrouting_key = \"${PD_ROUTING_KEY}\"\nurl = \"${PD_URL}\"",
        &[("PD_ROUTING_KEY", ROUTING_KEY), ("PD_URL", &url)],
    )
}

fn accepted(dedup: &str) -> Reply {
    Reply::status(202).body(
        &json!({"status": "success", "message": "Event processed", "dedup_key": dedup}).to_string(),
    )
}

fn rendered() -> Rendered {
    Rendered::Json(json!({
        "payload": {
            "summary": "SQL-01 is critical (was ok)",
            "source": "SQL-01",
            "severity": "critical",
            "custom_details": {"tenant": "Contoso"}
        },
        "links": [{"href": "https://console.example/machines/r-1", "text": "Open in console"}]
    }))
}

#[tokio::test]
async fn trigger_then_resolve_share_the_alert_key() {
    let sink = HttpSink::start().await;
    let key = "machine-critical/t-1/r-1";
    sink.push(accepted(key));
    sink.push(accepted(key));
    let pd = pagerduty(&sink);
    let d = pd.send(&item("firing", &[key]), &rendered()).await.unwrap();
    assert!(d.detail.starts_with("202"), "{d:?}");
    pd.send(&item("resolved", &[key]), &rendered())
        .await
        .unwrap();

    let got = sink.wait_for(2, Duration::from_secs(5)).await;
    assert!(got.iter().all(|r| r.path == "/v2/enqueue"));
    assert!(
        got.iter()
            .all(|r| r.header("content-type") == Some("application/json"))
    );
    let trigger = got[0].json();
    assert_eq!(
        trigger,
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": key,
            "payload": {
                "summary": "SQL-01 is critical (was ok)",
                "source": "SQL-01",
                "severity": "critical",
                "custom_details": {"tenant": "Contoso"}
            },
            "links": [{"href": "https://console.example/machines/r-1", "text": "Open in console"}]
        })
    );
    let resolve = got[1].json();
    assert_eq!(
        resolve,
        json!({"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key})
    );
}

#[tokio::test]
async fn a_rendering_that_is_the_payload_itself_is_accepted() {
    let sink = HttpSink::start().await;
    sink.push(accepted("k"));
    let payload = json!({"summary": "s", "source": "SQL-01", "severity": "warning"});
    pagerduty(&sink)
        .send(&item("firing", &["k"]), &Rendered::Json(payload.clone()))
        .await
        .unwrap();
    assert_eq!(sink.requests()[0].json()["payload"], payload);
}

#[tokio::test]
async fn long_keys_become_one_stable_dedup_key_within_255() {
    let sink = HttpSink::start().await;
    sink.set_default(accepted("hashed"));
    let long = format!(
        "backup-stale/{}/{}/policy.backup.machine",
        "t".repeat(200),
        "r".repeat(100)
    );
    let pd = pagerduty(&sink);
    pd.send(&item("firing", &[&long]), &rendered())
        .await
        .unwrap();
    pd.send(&item("resolved", &[&long]), &rendered())
        .await
        .unwrap();
    let got = sink.requests();
    let keys: Vec<Value> = got.iter().map(|r| r.json()["dedup_key"].clone()).collect();
    let key = keys[0].as_str().unwrap();
    assert!(key.len() <= MAX_DEDUP_KEY, "{}", key.len());
    assert!(key.starts_with("backup-stale/tttt"), "{key}");
    assert_eq!(keys[0], keys[1], "resolve matches trigger");
    assert_eq!(key, dedup_key(&long));
}

#[tokio::test]
async fn a_long_summary_is_cut_to_1024() {
    let sink = HttpSink::start().await;
    sink.push(accepted("k"));
    let body = Rendered::Json(
        json!({"payload": {"summary": "x".repeat(5000), "source": "s", "severity": "info"}}),
    );
    pagerduty(&sink)
        .send(&item("firing", &["k"]), &body)
        .await
        .unwrap();
    let sent = sink.requests()[0].json();
    assert_eq!(sent["payload"]["summary"].as_str().unwrap().len(), 1024);
}

#[tokio::test]
async fn an_invalid_event_is_permanent_and_the_key_never_shows() {
    let sink = HttpSink::start().await;
    sink.push(
        Reply::status(400).body(
            &json!({"status": "invalid event", "message": "Event object is invalid",
                "errors": [format!("routing_key {ROUTING_KEY} is unknown")]})
            .to_string(),
        ),
    );
    let pd = pagerduty(&sink);
    let err = pd
        .send(&item("firing", &["k"]), &rendered())
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    let r = reason(&err, &[ROUTING_KEY]);
    assert!(
        r.contains("HTTP 400") && r.contains("Event object is invalid"),
        "{r}"
    );
    assert!(!format!("{pd:?}").contains(ROUTING_KEY));
}

#[tokio::test]
async fn a_grouped_item_is_refused_without_sending() {
    let sink = HttpSink::start().await;
    let err = pagerduty(&sink)
        .send(&item("firing", &["a", "b"]), &rendered())
        .await
        .unwrap_err();
    let r = reason(&err, &[ROUTING_KEY]);
    assert!(matches!(err, SendError::Permanent { .. }));
    assert!(r.contains("exactly one alert"), "{r}");
    let err = pagerduty(&sink)
        .send(
            &item("firing", &["a"]),
            &Rendered::Json(json!({"payload": "text"})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }));
    assert!(sink.requests().is_empty());
}

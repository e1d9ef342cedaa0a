//! Slack, Teams and webhooks (and PagerDuty's status handling) against the HTTP sink.

use std::time::Duration;

use acronis_watch::notify::{Channel, Rendered, SendError};
use serde_json::json;

use crate::common::{assert_no_secret_in_debug, channel, client, config, item, reason};
use crate::support::sinks::{HttpSink, Reply};

/// The webhook token in every test URL: it must never show.
const TOKEN: &str = "XoXbT0kenS3cr3tPath";
const SIG: &str = "sigS3cr3tQueryValue";
const BEARER: &str = "Bearer psa-S3cr3t-Header";
const ROUTING_KEY: &str = "R0utingKeyS3cr3t0000000000000000";
const SECRETS: [&str; 4] = [TOKEN, SIG, "psa-S3cr3t-Header", ROUTING_KEY];

/// A channel of `kind` pointed at `sink`, with its secrets from the environment as a
/// user would write it.
fn channel_of(kind: &str, sink: &HttpSink, timeout: Duration) -> Channel {
    let url = sink.url(&format!("/hooks/{TOKEN}?sig={SIG}"));
    let env = [
        ("HOOK_URL", url.as_str()),
        ("TOKEN", BEARER),
        ("PD_KEY", ROUTING_KEY),
    ];
    let toml = match kind {
        "slack" | "teams" => format!("type = \"{kind}\"\nurl = \"${{HOOK_URL}}\""),
        "webhook" => "type = \"webhook\"\nurl = \"${HOOK_URL}\"\n\
                      headers = { Authorization = \"${TOKEN}\", X-Source = \"acronis-watch\" }"
            .to_string(),
        "pagerduty" => {
            "type = \"pagerduty\"\nrouting_key = \"${PD_KEY}\"\nurl = \"${HOOK_URL}\"".to_string()
        }
        other => panic!("{other}"),
    };
    Channel::new(&config(&toml, &env), client(timeout))
}

fn message(kind: &str) -> Rendered {
    match kind {
        "pagerduty" => Rendered::Json(json!({
            "payload": {"summary": "SQL-01 is critical", "source": "SQL-01", "severity": "critical"}
        })),
        _ => Rendered::Json(json!({"text": "SQL-01 is critical", "blocks": []})),
    }
}

async fn send(kind: &str, sink: &HttpSink) -> Result<acronis_watch::notify::Delivered, SendError> {
    let ch = channel_of(kind, sink, Duration::from_secs(5));
    assert_no_secret_in_debug(&ch, &SECRETS);
    ch.send(
        &item("firing", &["machine-critical/t-1/r-1"]),
        &message(kind),
    )
    .await
}

const KINDS: [&str; 4] = ["slack", "teams", "webhook", "pagerduty"];

#[tokio::test]
async fn each_kind_delivers_on_its_success_codes_only() {
    // (kind, status, delivered?)
    let table = [
        ("slack", 200, true),
        ("slack", 201, false),
        ("slack", 204, false),
        ("teams", 200, true),
        ("teams", 202, true),
        ("teams", 204, false),
        ("webhook", 200, true),
        ("webhook", 201, true),
        ("webhook", 202, true),
        ("webhook", 204, true),
        ("pagerduty", 202, true),
        ("pagerduty", 200, false),
    ];
    for (kind, status, delivered) in table {
        let sink = HttpSink::start().await;
        sink.push(Reply::status(status));
        let outcome = send(kind, &sink).await;
        match (delivered, outcome) {
            (true, Ok(d)) => assert!(d.detail.starts_with(&status.to_string()), "{d:?}"),
            (false, Err(e @ SendError::Permanent { .. })) => {
                let r = reason(&e, &SECRETS);
                assert!(r.contains(&format!("HTTP {status}")), "{r}");
            }
            (_, other) => panic!("{kind} {status}: {other:?}"),
        }
        assert_eq!(sink.requests().len(), 1, "{kind} {status}: sent once");
    }
}

#[tokio::test]
async fn throttling_and_server_errors_are_retryable_with_retry_after() {
    for kind in KINDS {
        let sink = HttpSink::start().await;
        sink.push(Reply::status(429).retry_after("7").body("rate_limited"));
        sink.push(Reply::status(500).body("rollup_error"));
        sink.push(Reply::status(503).retry_after("120"));
        sink.push(Reply::status(408));
        sink.push(Reply::status(502).retry_after("not a number"));
        for (status, wait) in [
            (429, Some(7)),
            (500, None),
            (503, Some(120)),
            (408, None),
            (502, None),
        ] {
            match send(kind, &sink).await {
                Err(
                    e @ SendError::Retryable {
                        retry_after,
                        reason: _,
                    },
                ) => {
                    assert_eq!(
                        retry_after,
                        wait.map(Duration::from_secs),
                        "{kind} {status}"
                    );
                    let r = reason(&e, &SECRETS);
                    assert!(r.contains(&format!("({kind}): HTTP {status}")), "{r}");
                }
                other => panic!("{kind} {status}: {other:?}"),
            }
        }
        let got = sink.requests();
        assert_eq!(
            got.len(),
            5,
            "{kind}: one request per send, no retrying inside"
        );
    }
}

#[tokio::test]
async fn retry_after_as_an_http_date() {
    let sink = HttpSink::start().await;
    // The sink's clock says 10:00:00 and asks for 10:01:30: 90 s, whatever our clock says.
    sink.push(
        Reply::status(429)
            .header("date", "Mon, 23 Nov 2026 10:00:00 GMT")
            .retry_after("Mon, 23 Nov 2026 10:01:30 GMT"),
    );
    match send("slack", &sink).await {
        Err(SendError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(90)))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn client_errors_are_permanent_and_quote_the_answer() {
    for kind in KINDS {
        for status in [400, 403, 404, 410, 413] {
            let sink = HttpSink::start().await;
            sink.push(Reply::status(status).body("invalid_payload: \n missing blocks"));
            match send(kind, &sink).await {
                Err(e @ SendError::Permanent { .. }) => {
                    let r = reason(&e, &SECRETS);
                    assert!(
                        r.contains(&format!("channel noc ({kind}): HTTP {status}")),
                        "{r}"
                    );
                    assert!(r.contains("invalid_payload: missing blocks"), "{r}");
                }
                other => panic!("{kind} {status}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn an_answer_that_echoes_a_secret_is_scrubbed() {
    for kind in KINDS {
        let sink = HttpSink::start().await;
        // Each kind knows its own secrets (a Slack channel cannot know a routing key).
        let key = if kind == "pagerduty" { ROUTING_KEY } else { "" };
        let echo = format!("no hook at /hooks/{TOKEN}?sig={SIG} for key {key}; token {TOKEN}");
        sink.push(Reply::status(404).body(&echo));
        sink.push(Reply::status(500).body(&echo));
        for _ in 0..2 {
            let err = send(kind, &sink).await.unwrap_err();
            let r = reason(&err, &SECRETS);
            assert!(r.contains("no hook at"), "{r}");
        }
    }
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_retryable() {
    for kind in KINDS {
        let sink = HttpSink::start().await;
        sink.push(Reply::status(200).delay(Duration::from_secs(3)));
        let ch = channel_of(kind, &sink, Duration::from_millis(300));
        let err = ch
            .send(&item("firing", &["k"]), &message(kind))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SendError::Retryable {
                    retry_after: None,
                    ..
                }
            ),
            "{err:?}"
        );
        let r = reason(&err, &SECRETS);
        assert!(r.contains("timed out"), "{r}");
        assert!(!r.contains("127.0.0.1"), "no URL at all: {r}");
    }

    // A port nobody listens on: bind, note the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for kind in KINDS {
        let url = format!("http://127.0.0.1:{port}/hooks/{TOKEN}");
        let toml = match kind {
            "pagerduty" => {
                format!("type = \"pagerduty\"\nrouting_key = \"{ROUTING_KEY}\"\nurl = \"{url}\"")
            }
            _ => format!("type = \"{kind}\"\nurl = \"{url}\""),
        };
        let ch = channel(&toml, &[]);
        let err = ch
            .send(&item("firing", &["k"]), &message(kind))
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
        let r = reason(&err, &SECRETS);
        assert!(r.contains("could not connect"), "{r}");
    }
}

#[tokio::test]
async fn slack_and_teams_post_the_rendered_json() {
    for kind in ["slack", "teams"] {
        let sink = HttpSink::start().await;
        let body = json!({"text": "x", "blocks": [{"type": "section"}]});
        let ch = channel_of(kind, &sink, Duration::from_secs(5));
        ch.send(&item("firing", &["k"]), &Rendered::Json(body.clone()))
            .await
            .unwrap();
        let got = sink.requests();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].method, "POST");
        assert_eq!(got[0].path, format!("/hooks/{TOKEN}?sig={SIG}"));
        assert_eq!(got[0].header("content-type"), Some("application/json"));
        assert_eq!(got[0].json(), body);
    }
}

#[tokio::test]
async fn webhooks_send_json_with_the_configured_headers() {
    let sink = HttpSink::start().await;
    sink.push(Reply::status(204));
    let body = json!({"rule": "machine-critical", "alerts": [{"key": "k"}]});
    let ch = channel_of("webhook", &sink, Duration::from_secs(5));
    let delivered = ch
        .send(&item("firing", &["k"]), &Rendered::Json(body.clone()))
        .await
        .unwrap();
    assert!(delivered.detail.starts_with("204"), "{delivered:?}");
    let got = sink.requests();
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(got[0].header("authorization"), Some(BEARER));
    assert_eq!(got[0].header("x-source"), Some("acronis-watch"));
    assert_eq!(got[0].json(), body);
}

#[tokio::test]
async fn an_email_rendering_to_an_http_channel_is_permanent_and_not_sent() {
    for kind in KINDS {
        let sink = HttpSink::start().await;
        let ch = channel_of(kind, &sink, Duration::from_secs(5));
        let email = Rendered::Email {
            subject: "s".into(),
            text: "t".into(),
            html: "<p>h</p>".into(),
        };
        let err = ch.send(&item("firing", &["k"]), &email).await.unwrap_err();
        assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
        assert!(sink.requests().is_empty(), "{kind}");
    }
}

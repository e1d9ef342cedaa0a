//! Channel configs read through the real worker.toml parser, outbox items, and checks.

use std::path::Path;
use std::time::Duration;

use acronis_watch::config::ChannelConfig;
use acronis_watch::model::OutboxItem;
use acronis_watch::notify::{Channel, SendError};
use serde_json::json;

/// The `[[channel]]` body `channel` (TOML lines) as the config loader makes it;
/// `${NAME}` is read from `env`.
pub fn config(channel: &str, env: &[(&str, &str)]) -> ChannelConfig {
    let text = format!(
        r#"
[acronis]
datacenter_url = "http://127.0.0.1:9"
client_id = "c"
client_secret = "s"

[[channel]]
name = "noc"
{channel}
"#
    );
    let lookup = |name: &str| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    let config = acronis_watch::config::parse(Path::new("/nowhere/worker.toml"), &text, &lookup)
        .unwrap_or_else(|e| panic!("the test config does not load: {e}\n{text}"));
    config.channels[0].clone()
}

/// A client like the worker's, with a short timeout.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

pub fn channel(channel_toml: &str, env: &[(&str, &str)]) -> Channel {
    Channel::new(&config(channel_toml, env), client(Duration::from_secs(5)))
}

/// An outbox item of `status` ("firing" or "resolved") with one alert per key.
pub fn item(status: &str, keys: &[&str]) -> OutboxItem {
    let alerts: Vec<_> = keys
        .iter()
        .map(|key| {
            json!({
                "key": key, "status": status, "severity": "critical",
                "fired_at": "2026-11-23T09:00:00Z",
                "resolved_at": if status == "resolved" { json!("2026-11-23T10:00:00Z") } else { json!(null) },
                "tenant": {"id": "t-1", "name": "Contoso"},
                "resource": {"id": "r-1", "name": "SQL-01", "type": "resource.machine", "agent_id": null},
                "aggregate_status": "critical", "previous_status": "ok", "policy": null,
                "summary": "SQL-01 is critical (was ok)"
            })
        })
        .collect();
    serde_json::from_value(json!({
        "id": 7, "channel": "noc",
        "rule": {"name": "machine-critical", "description": "A machine is critical", "severity": "critical"},
        "status": status, "alerts": alerts, "more": 0,
        "created_at": "2026-11-23T10:00:00Z", "open_until": null, "attempts": 0,
        "next_attempt_at": "2026-11-23T10:00:00Z", "last_error": null
    }))
    .unwrap()
}

/// The reason of an error, after checking that neither it nor its `Debug` holds any
/// of `secrets`, and that it names the channel.
pub fn reason(err: &SendError, secrets: &[&str]) -> String {
    let (text, debug) = (err.to_string(), format!("{err:?}"));
    for secret in secrets {
        assert!(
            !text.contains(secret) && !debug.contains(secret),
            "a secret leaked: {debug}"
        );
    }
    assert!(text.starts_with("channel noc ("), "{text}");
    text
}

pub fn assert_no_secret_in_debug(channel: &Channel, secrets: &[&str]) {
    let debug = format!("{channel:?}");
    for secret in secrets {
        assert!(!debug.contains(secret), "a secret leaked: {debug}");
    }
}

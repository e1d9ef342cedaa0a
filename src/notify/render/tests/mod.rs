//! The renderer through its public face: shipped templates as reviewed snapshots
//! (`snapshots.rs`), injection, strict mode and file:line errors (`safety.rs`),
//! fitting and the Teams card against the official Adaptive Card 1.4 schema
//! (`fitting.rs`), and a corpus of hostile names read as each receiver reads its
//! payload (`hostile.rs`).

mod fitting;
mod hostile;
mod safety;
mod snapshots;

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::config::ChannelConfig;
use crate::model::Severity;
use crate::model::{AlertStatus, RuleInfo};

const CONFIG: &str = r#"
[acronis]
datacenter_url = "https://eu2-cloud.acronis.com"
client_id = "id"
client_secret = "secret"

[[channel]]
name = "noc-slack"
type = "slack"
url = "https://hooks.slack.com/services/T000/B000/XXXX"

[[channel]]
name = "noc-teams"
type = "teams"
url = "https://teams.example/workflows/abc"

[[channel]]
name = "oncall"
type = "pagerduty"
routing_key = "R0UT1NG"

[[channel]]
name = "mail"
type = "email"
smtp = "smtp+plain://127.0.0.1:2525"
from = "MSP Alerts <alerts@msp.example>"
to = ["noc@msp.example"]

[[channel]]
name = "ticketing"
type = "webhook"
url = "https://psa.example/hooks/acronis"

[digest]
cron = "0 0 8 * * Mon"
timezone = "Europe/Berlin"
channel = "mail"
"#;

pub(super) fn config() -> Config {
    crate::config::parse(Path::new("worker.toml"), CONFIG, &|_| None)
        .unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn shipped() -> Renderer {
    Renderer::shipped(&config()).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn channel(name: &str) -> ChannelConfig {
    config()
        .channels
        .into_iter()
        .find(|c| c.name == name)
        .expect("a channel of CONFIG")
}

pub(super) fn critical() -> RuleInfo {
    sample::rule("machine-critical", Severity::Critical)
}

pub(super) fn json_of(r: Rendered) -> Value {
    match r {
        Rendered::Json(v) => v,
        other => panic!("not JSON: {other:?}"),
    }
}

pub(super) fn email_of(r: Rendered) -> (String, String, String) {
    match r {
        Rendered::Email {
            subject,
            text,
            html,
        } => (subject, text, html),
        other => panic!("not an email: {other:?}"),
    }
}

/// Every string in `v`, at any depth.
pub(super) fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|i| strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

#[test]
fn a_renderer_can_be_shared_by_delivery_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Renderer>();
}

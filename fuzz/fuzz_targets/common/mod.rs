//! What the targets share: a fixed environment, the guard that keeps `${file:...}`
//! from reading the machine's files, and a valid worker.toml with one channel of each
//! type.

#![allow(dead_code)] // each target uses a part

use std::path::Path;
use std::sync::OnceLock;

use acronis_watch::config::Config;
use toml::de::{DeTable, DeValue};

/// In every value `${...}` can expand to: a message holding it leaks a secret.
pub const SECRET: &str = "zq-secret-7f3a";

/// Where the fuzzed worker.toml "is": a folder that does not exist, so a relative
/// `${file:...}` fails to read, the same on every machine.
pub const CONFIG_PATH: &str = "/nonexistent/acronis-watch-fuzz/worker.toml";
/// Where a fuzzed rule file "is".
pub const RULES_PATH: &str = "/nonexistent/acronis-watch-fuzz/rules/fuzz.toml";

/// `${NAME}` for worker.toml: a few names are set, the rest unset; deterministic.
pub fn env(name: &str) -> Option<String> {
    match name {
        "EMPTY" => Some(String::new()),
        "URL" => Some(format!("https://hooks.example/{SECRET}")),
        "SMTP" => Some(format!("smtps://u:{SECRET}@smtp.example:465")),
        "NUM" => Some("17".into()),
        n if n.starts_with('S') => Some(format!("{SECRET}-{n}")),
        _ => None,
    }
}

/// Rule files read `${NAME}` from the process environment: give it the same names once.
pub fn set_process_env() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        for name in ["EMPTY", "URL", "SMTP", "NUM", "S", "SECRET", "S1"] {
            // SAFETY: runs once, before the target does anything else; the fuzzed code
            // starts no threads that read the environment.
            unsafe { std::env::set_var(name, env(name).unwrap_or_default()) };
        }
    });
}

/// Whether expanding the strings of `text` could read a file outside the missing
/// folder: an absolute `${file:/...}` (`/dev/zero` never ends, `/dev/stdin` blocks) or one
/// with `..`. Such inputs are skipped; relative ones still run and fail to read.
pub fn reads_outside(text: &str) -> bool {
    match DeTable::parse(text) {
        Ok(doc) => table_reads_outside(doc.get_ref()),
        Err(_) => false,
    }
}

fn table_reads_outside(t: &DeTable<'_>) -> bool {
    t.iter()
        .any(|(k, v)| outside(k.get_ref()) || value_reads_outside(v.get_ref()))
}

fn value_reads_outside(v: &DeValue<'_>) -> bool {
    match v {
        DeValue::String(s) => outside(s),
        DeValue::Array(items) => items.iter().any(|i| value_reads_outside(i.get_ref())),
        DeValue::Table(t) => table_reads_outside(t),
        _ => false,
    }
}

fn outside(s: &str) -> bool {
    s.match_indices("${file:").any(|(at, m)| {
        let rest = &s[at + m.len()..];
        let path = rest.split('}').next().unwrap_or(rest);
        path.trim_start().starts_with('/') || path.contains("..")
    })
}

/// A message must never show what `${...}` expanded to. Only checked when the text
/// itself holds neither the marker nor an escape that could spell it.
pub fn assert_no_secret(text: &str, message: &str) {
    if !text.contains(SECRET) && !text.contains('\\') {
        assert!(
            !message.contains(SECRET),
            "a message shows an expanded value: {message}"
        );
    }
}

/// A worker.toml with one channel of each type (names: slack, teams, pagerduty,
/// email, webhook) and a digest.
pub const WORKER_TOML: &str = r#"
[acronis]
datacenter_url = "https://eu2-cloud.acronis.com"
client_id = "fuzz-client"
client_secret = "fuzz-secret"

[[channel]]
name = "slack"
type = "slack"
url = "https://hooks.slack.com/services/T0/B0/x"

[[channel]]
name = "teams"
type = "teams"
url = "https://teams.example/webhook"

[[channel]]
name = "pagerduty"
type = "pagerduty"
routing_key = "R0123456789"

[[channel]]
name = "email"
type = "email"
smtp = "smtps://alerts%40msp.example:pw@smtp.msp.example:465"
from = "MSP Alerts <alerts@msp.example>"
to = ["noc@msp.example"]

[[channel]]
name = "webhook"
type = "webhook"
url = "https://psa.example/hooks/acronis"
headers = { Authorization = "Bearer t" }

[digest]
cron = "0 0 8 * * Mon"
channel = "email"
"#;

/// [`WORKER_TOML`], parsed once.
pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        acronis_watch::config::parse(Path::new(CONFIG_PATH), WORKER_TOML, &env)
            .expect("the embedded worker.toml is valid")
    })
}

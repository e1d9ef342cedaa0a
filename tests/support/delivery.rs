//! Helpers for the delivery, fault_matrix and secrets_audit suites: a simulator, a
//! worker directory whose channels point at loopback sinks, rule files, machine
//! steering, `once`, the `state` JSON, secret scans and a small MIME reader for the
//! email that arrives.

use std::process::Output;
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Sim, WorkDir, code, text};

/// Timing tests (rates, lanes) measure arrival times to the millisecond; they run
/// alone (`alone()`), every other test holds `shared()`, so on two shared cores no
/// other worker process competes with them. (tokio's lock does not poison: a failed
/// test does not fail the others.)
static TIMING: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

pub async fn shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    TIMING.read().await
}

pub async fn alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    TIMING.write().await
}

/// Where the simulator's clock stands (frozen).
pub const START: &str = "2026-11-02T10:00:00Z";

pub fn start() -> DateTime<Utc> {
    START.parse().unwrap()
}

/// `START` plus minutes.
pub fn at_min(minutes: i64) -> DateTime<Utc> {
    start() + chrono::Duration::minutes(minutes)
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The secrets every test's channels carry (from the environment, as in production),
/// and that must never show in output or `state`.
pub const SLACK_TOKEN: &str = "sl4ckPathT0kenS3cretXYZ";
pub const TEAMS_TOKEN: &str = "t3amsPathT0kenS3cretXYZ";
pub const ROUTING_KEY: &str = "pdR0utingK3yS3cret0123456789abcd";
pub const HOOK_TOKEN: &str = "h00kHeaderT0kenS3cretXYZ";
pub const HOOK_PATH_TOKEN: &str = "h00kPathT0kenS3cretXYZ";
pub const SMTP_PASSWORD: &str = "sm7pPassw0rdS3cretXYZ";

pub fn secrets() -> Vec<&'static str> {
    vec![
        SLACK_TOKEN,
        TEAMS_TOKEN,
        ROUTING_KEY,
        HOOK_TOKEN,
        HOOK_PATH_TOKEN,
        SMTP_PASSWORD,
    ]
}

/// The Slack webhook path (its last segment is the secret token).
pub fn slack_path() -> String {
    format!("/services/T0AAAAAAA/B0BBBBBBB/{SLACK_TOKEN}")
}

pub fn teams_path() -> String {
    format!("/workflows/triggers/{TEAMS_TOKEN}/paths/invoke")
}

pub fn hook_path() -> String {
    format!("/hooks/acronis/{HOOK_PATH_TOKEN}")
}

/// `[[channel]]` TOML. URLs and keys are written as `${VAR}` and come from the
/// environment, see [`Bench::env`].
pub fn slack_channel(name: &str, base: &str, extra: &str) -> String {
    format!(
        "\n[[channel]]\nname = \"{name}\"\ntype = \"slack\"\nurl = \"{base}${{SLACK_PATH}}\"\n{extra}\n"
    )
}

pub fn teams_channel(name: &str, base: &str, extra: &str) -> String {
    format!(
        "\n[[channel]]\nname = \"{name}\"\ntype = \"teams\"\nurl = \"{base}${{TEAMS_PATH}}\"\n{extra}\n"
    )
}

pub fn pd_channel(name: &str, base: &str, extra: &str) -> String {
    format!(
        "\n[[channel]]\nname = \"{name}\"\ntype = \"pagerduty\"\nrouting_key = \"${{PD_ROUTING_KEY}}\"\n\
         url = \"{base}/v2/enqueue\"\n{extra}\n"
    )
}

pub fn hook_channel(name: &str, base: &str, extra: &str) -> String {
    format!(
        "\n[[channel]]\nname = \"{name}\"\ntype = \"webhook\"\nurl = \"{base}${{HOOK_PATH}}\"\n\
         headers = {{ Authorization = \"Bearer ${{HOOK_TOKEN}}\", X-Source = \"acronis-watch-test\" }}\n{extra}\n"
    )
}

pub fn email_channel(name: &str, smtp_url: &str, extra: &str) -> String {
    format!(
        "\n[[channel]]\nname = \"{name}\"\ntype = \"email\"\nsmtp = \"{smtp_url}\"\n\
         from = \"MSP Alerts <alerts@msp.example>\"\nto = [\"noc@msp.example\"]\n{extra}\n"
    )
}

/// A status rule; `names` are name globs.
pub fn status_rule(name: &str, names: &[&str], notify: &[&str], extra: &str) -> String {
    format!(
        "[[rule]]\nname = \"{name}\"\ndescription = \"A machine is critical\"\nseverity = \"critical\"\n\
         notify = {notify:?}\nwhen.status = [\"critical\"]\nmatch.name = {names:?}\n{extra}\n"
    )
}

/// What one `once` run gave.
pub struct Run {
    pub out: Output,
    /// Just before the process was started.
    pub started: Instant,
    pub finished: Instant,
}

impl Run {
    pub fn code(&self) -> i32 {
        code(&self.out)
    }

    pub fn text(&self) -> String {
        text(&self.out)
    }
}

/// A simulator and a worker directory pointed at it, with channel TOML appended.
pub struct Bench {
    pub sim: Sim,
    pub work: WorkDir,
}

impl Bench {
    pub async fn new(fleet: usize, tenants: usize, acronis_extra: &str) -> Bench {
        let sim = Sim::small(fleet, tenants).await;
        let work = WorkDir::new(&sim.url, acronis_extra);
        std::fs::create_dir_all(work.path().join("rules")).unwrap();
        Bench { sim, work }
    }

    /// Append TOML (channels) to worker.toml.
    pub fn add(&self, toml: &str) {
        self.work.append_config(toml);
    }

    pub fn rules(&self, file: &str, text: &str) {
        std::fs::write(self.work.path().join("rules").join(file), text).unwrap();
    }

    /// The environment every command gets: the client secret and the channel secrets.
    pub fn env() -> Vec<(&'static str, String)> {
        vec![
            ("TEST_CLIENT_SECRET", "sim-secret".to_string()),
            ("SLACK_PATH", slack_path()),
            ("TEAMS_PATH", teams_path()),
            ("PD_ROUTING_KEY", ROUTING_KEY.to_string()),
            ("HOOK_TOKEN", HOOK_TOKEN.to_string()),
            ("HOOK_PATH", hook_path()),
            ("SMTP_PASSWORD", SMTP_PASSWORD.to_string()),
        ]
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        let env = Bench::env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.work.run_env(args, &env).await
    }

    /// `-v once --now T [--deliver-for D]`; its output is checked for secrets.
    pub async fn once(&self, now: DateTime<Utc>, deliver_for: Option<&str>) -> Run {
        let now = ts(now);
        let mut args = vec!["-v", "once", "--now", now.as_str()];
        if let Some(d) = deliver_for {
            args.extend(["--deliver-for", d]);
        }
        let started = Instant::now();
        let out = self.run(&args).await;
        assert_no_secret(&format!("once {}", args.join(" ")), &text(&out));
        Run {
            out,
            started,
            finished: Instant::now(),
        }
    }

    /// `state WHAT --json`, parsed; the raw text is checked for secrets.
    pub async fn state(&self, what: &str) -> Vec<Value> {
        let out = self.run(&["-v", "state", what, "--json"]).await;
        assert_eq!(code(&out), 0, "state {what} --json: {}", text(&out));
        assert_no_secret(&format!("state {what} --json"), &text(&out));
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("state {what} --json is not JSON ({e}): {}", text(&out)))
            .as_array()
            .unwrap_or_else(|| panic!("state {what} --json is not an array"))
            .clone()
    }

    pub async fn outbox(&self) -> Vec<Value> {
        self.state("outbox").await
    }

    pub async fn dead(&self) -> Vec<Value> {
        self.state("dead").await
    }

    pub async fn patch(&self, id: &str, body: Value) -> Value {
        self.sim.post(&format!("/_sim/resources/{id}"), body).await
    }

    /// Live machines `skip..skip+n` (id order), each renamed `name(i)` (i from 1) with
    /// `extra` merged into the patch. Returns their views.
    pub async fn steer(
        &self,
        skip: usize,
        n: usize,
        name: impl Fn(usize) -> String,
        extra: Value,
    ) -> Vec<Value> {
        let ids = self.sim.resource_ids(None).await;
        assert!(
            ids.len() >= skip + n,
            "the fleet has {} machines",
            ids.len()
        );
        let mut out = Vec::with_capacity(n);
        for (i, id) in ids.iter().skip(skip).take(n).enumerate() {
            let mut body = json!({"name": name(i + 1)});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            out.push(self.patch(id, body).await);
        }
        out
    }
}

/// The alert key of SPEC §4 for a status rule: `rule/tenant/resource`.
pub fn key(rule: &str, view: &Value) -> String {
    format!(
        "{rule}/{}/{}",
        view["customer"].as_str().unwrap(),
        view["id"].as_str().unwrap()
    )
}

/// Fails if `text` holds any channel secret.
pub fn assert_no_secret(what: &str, text: &str) {
    for s in secrets() {
        assert!(!text.contains(s), "{what} shows the secret {s:?}:\n{text}");
    }
}

/// Every string inside a JSON value.
pub fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

pub fn pretty(v: &[Value]) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// Wait so a sink can take a late request (none is expected; short).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

// ---- a small MIME reader for what the SMTP server received ----

/// Headers (unfolded, names lowercased) and the body of a message or part.
pub fn split_message(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (headers, body.to_string())
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The parts of a multipart body: (content type, decoded text), in order.
pub fn mime_parts(raw: &str) -> (String, Vec<(String, String)>) {
    let (headers, body) = split_message(raw);
    let ctype = header(&headers, "content-type")
        .unwrap_or_else(|| panic!("no Content-Type: {raw}"))
        .to_string();
    let boundary = ctype
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .unwrap_or_else(|| panic!("no boundary in {ctype}"))
        .trim_matches('"')
        .to_string();
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in body.split(&delimiter).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.trim_start_matches('\n');
        let (h, b) = split_message(chunk);
        let pct = header(&h, "content-type")
            .unwrap_or("text/plain")
            .to_string();
        let cte = header(&h, "content-transfer-encoding")
            .unwrap_or("7bit")
            .to_ascii_lowercase();
        parts.push((pct, decode(&cte, b.trim_end_matches('\n'))));
    }
    (ctype, parts)
}

fn decode(cte: &str, body: &str) -> String {
    match cte {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_else(|e| panic!("bad base64 ({e}): {body}"));
            String::from_utf8(bytes).unwrap()
        }
        "quoted-printable" => {
            let mut out = Vec::new();
            let lines: Vec<&str> = body.split('\n').collect();
            for (i, line) in lines.iter().enumerate() {
                let (line, soft) = match line.strip_suffix('=') {
                    Some(l) => (l, true),
                    None => (*line, false),
                };
                let b = line.as_bytes();
                let mut j = 0;
                while j < b.len() {
                    if b[j] == b'=' && j + 2 < b.len() {
                        let hex = std::str::from_utf8(&b[j + 1..j + 3]).unwrap();
                        out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| {
                            panic!("bad quoted-printable escape ={hex} in {line}")
                        }));
                        j += 3;
                    } else {
                        out.push(b[j]);
                        j += 1;
                    }
                }
                if !soft && i + 1 < lines.len() {
                    out.push(b'\n');
                }
            }
            String::from_utf8(out).unwrap()
        }
        _ => body.to_string(),
    }
}

//! Helpers for the rule tests: a simulator plus a worker directory with channels and
//! rule files, `once --now`, the `state` JSON, and machine patches.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::process::Output;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::support::{Sim, WorkDir, code, text};

/// Where the simulator's clock stands (frozen) unless a test moves it.
pub const START: &str = "2026-11-02T10:00:00Z";

pub fn start() -> DateTime<Utc> {
    START.parse().unwrap()
}

/// `START` plus hours and minutes (either may be negative).
pub fn at(hours: i64, minutes: i64) -> DateTime<Utc> {
    start() + Duration::hours(hours) + Duration::minutes(minutes)
}

/// RFC 3339, whole seconds, `Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A time field of a `state ... --json` row.
pub fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, found {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// Dummy loopback URLs: nothing listens on port 9, and nothing is delivered yet.
pub const CHANNELS: &str = r#"
[[channel]]
name = "slack"
type = "slack"
url = "http://127.0.0.1:9/slack"

[[channel]]
name = "teams"
type = "teams"
url = "http://127.0.0.1:9/teams"

[[channel]]
name = "pd"
type = "pagerduty"
routing_key = "itest-routing-key"
url = "http://127.0.0.1:9/pd"
"#;

/// A simulator and a worker directory pointed at it.
pub struct Bench {
    pub sim: Sim,
    pub work: WorkDir,
}

impl Bench {
    /// `fleet` machines over `tenants` customers; `acronis_extra` as for
    /// [`WorkDir::new`]; `CHANNELS` and `extra_toml` (e.g. `[[silence]]`s) appended.
    pub async fn new(fleet: usize, tenants: usize, acronis_extra: &str, extra_toml: &str) -> Bench {
        let sim = Sim::small(fleet, tenants).await;
        let work = WorkDir::new(&sim.url, acronis_extra);
        let mut cfg = std::fs::read_to_string(work.config()).unwrap();
        cfg.push_str(CHANNELS);
        cfg.push_str(extra_toml);
        work.write_config(&cfg);
        std::fs::create_dir_all(work.path().join("rules")).unwrap();
        Bench { sim, work }
    }

    /// Write (or replace) `rules/<file>`.
    pub fn rules(&self, file: &str, text: &str) {
        std::fs::write(self.work.path().join("rules").join(file), text).unwrap();
    }

    /// `once --now T`, which must succeed: exit 0, or 3 (SPEC §2) while notifications
    /// stay undelivered, as they do for the dummy channel URLs. 1 and 2 fail the test.
    pub async fn once(&self, now: DateTime<Utc>) -> Output {
        let out = self.once_raw(now).await;
        assert!(
            matches!(code(&out), 0 | 3),
            "once --now {}: exit {}\n{}",
            ts(now),
            code(&out),
            text(&out)
        );
        out
    }

    pub async fn once_raw(&self, now: DateTime<Utc>) -> Output {
        self.work
            .run(&["once", "--now", &ts(now), "--deliver-for", "0s"])
            .await
    }

    /// `state alerts --json`.
    pub async fn alerts(&self) -> Vec<Value> {
        self.state("alerts").await
    }

    /// `state outbox --json`.
    pub async fn outbox(&self) -> Vec<Value> {
        self.state("outbox").await
    }

    async fn state(&self, what: &str) -> Vec<Value> {
        let out = self.work.run(&["state", what, "--json"]).await;
        assert_eq!(code(&out), 0, "state {what} --json: {}", text(&out));
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("state {what} --json is not JSON ({e}): {}", text(&out)))
            .as_array()
            .unwrap_or_else(|| panic!("state {what} --json is not an array"))
            .clone()
    }

    /// `POST /_sim/resources/{id}`; answers the machine's new view.
    pub async fn patch(&self, id: &str, body: Value) -> Value {
        self.sim.post(&format!("/_sim/resources/{id}"), body).await
    }

    /// The simulator's view of a machine (`customer` is the watched tenant's UUID).
    pub async fn view(&self, id: &str) -> Value {
        self.sim.get(&format!("/_sim/resources/{id}")).await
    }

    /// `n` live machines (in id order), renamed `<prefix>-1`, `<prefix>-2`, ... with
    /// `extra` merged into each patch. Returns their views after the patch.
    pub async fn steer(&self, n: usize, prefix: &str, extra: Value) -> Vec<Value> {
        self.steer_from(0, n, prefix, extra).await
    }

    /// As [`Bench::steer`], skipping the first `skip` live machines (so two calls pick
    /// different machines).
    pub async fn steer_from(
        &self,
        skip: usize,
        n: usize,
        prefix: &str,
        extra: Value,
    ) -> Vec<Value> {
        let ids = self.sim.resource_ids(None).await;
        assert!(
            ids.len() >= skip + n,
            "the fleet has {} machines, {} wanted",
            ids.len(),
            skip + n
        );
        let mut out = Vec::with_capacity(n);
        for (i, id) in ids.iter().skip(skip).take(n).enumerate() {
            let mut body = json!({"name": format!("{prefix}-{}", i + 1)});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            out.push(self.patch(id, body).await);
        }
        out
    }

    /// The RM item for one machine, straight from the API (for `created_at`, which the
    /// control API's view does not show).
    pub async fn api_item(&self, id: &str) -> Value {
        let client = reqwest::Client::new();
        let token: Value = client
            .post(format!("{}/api/2/idp/token", self.sim.url))
            .basic_auth("sim-client", Some("sim-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page: Value = client
            .get(format!(
                "{}/api/resource_management/v4/resource_statuses",
                self.sim.url
            ))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .query(&[("resource_id", id), ("include_deleted", "true")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["items"][0].clone()
    }
}

/// The alert key SPEC §4 gives: `rule/tenant/resource[/policy]`, the tenant being the
/// watched customer.
pub fn key(rule: &str, view: &Value, policy: Option<&str>) -> String {
    let base = format!(
        "{rule}/{}/{}",
        view["customer"].as_str().unwrap(),
        view["id"].as_str().unwrap()
    );
    match policy {
        Some(p) => format!("{base}/{p}"),
        None => base,
    }
}

/// The row with this key.
pub fn alert<'a>(alerts: &'a [Value], key: &str) -> &'a Value {
    alerts
        .iter()
        .find(|a| a["key"] == key)
        .unwrap_or_else(|| panic!("no alert {key} in {}", pretty(alerts)))
}

/// Rows whose field `field` is `value`.
pub fn rows<'a>(list: &'a [Value], field: &str, value: &str) -> Vec<&'a Value> {
    list.iter().filter(|r| r[field] == value).collect()
}

/// Keys of the alerts an outbox item lists.
pub fn item_keys(item: &Value) -> Vec<String> {
    item["alerts"]
        .as_array()
        .unwrap_or_else(|| panic!("no alerts list in {item}"))
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// `(channel, rule, status, alert keys)` of every outbox item, sorted: what the channels
/// are owed, compared whole.
pub fn owed(outbox: &[Value]) -> Vec<(String, String, String, Vec<String>)> {
    let mut v: Vec<_> = outbox
        .iter()
        .map(|i| {
            (
                i["channel"].as_str().unwrap().to_string(),
                i["rule"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
                item_keys(i),
            )
        })
        .collect();
    v.sort();
    v
}

/// One owed entry, for comparisons with [`owed`].
pub fn entry(
    channel: &str,
    rule: &str,
    status: &str,
    keys: &[&str],
) -> (String, String, String, Vec<String>) {
    (
        channel.to_string(),
        rule.to_string(),
        status.to_string(),
        keys.iter().map(|k| k.to_string()).collect(),
    )
}

/// Keys of every alert row with this status.
pub fn keys_with(alerts: &[Value], status: &str) -> BTreeSet<String> {
    alerts
        .iter()
        .filter(|a| a["status"] == status)
        .map(|a| a["key"].as_str().unwrap().to_string())
        .collect()
}

pub fn pretty(v: &[Value]) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// A status rule on the `itest-*` machines.
pub fn status_rule(name: &str, statuses: &[&str], notify: &[&str], extra: &str) -> String {
    format!(
        "[[rule]]\nname = \"{name}\"\nseverity = \"critical\"\nnotify = {notify:?}\n\
         when.status = {statuses:?}\nmatch.name = [\"itest-*\"]\n{extra}\n"
    )
}

/// A backup-policy rule on the `itest-*` machines; `when` is e.g.
/// `last_success_older_than = "26h"`.
pub fn backup_rule(name: &str, when: &str, notify: &[&str], extra: &str) -> String {
    format!(
        "[[rule]]\nname = \"{name}\"\nseverity = \"warning\"\nnotify = {notify:?}\n\
         when.policy = \"policy.backup.machine\"\nwhen.{when}\nmatch.name = [\"itest-*\"]\n{extra}\n"
    )
}

pub const BACKUP: &str = "policy.backup.machine";

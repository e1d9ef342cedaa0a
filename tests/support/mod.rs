//! Shared test harness: the simulator in-process on loopback, worker configs in a
//! temp dir, and the real binary run as a child process.
#![allow(dead_code)]

pub mod delivery;
pub mod sinks;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::process::Output;

use acronis_watch::simulator::{self, SimOptions, Simulator};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const BIN: &str = env!("CARGO_BIN_EXE_acronis-watch");

/// A simulator serving on 127.0.0.1, stopped on drop.
pub struct Sim {
    pub sim: Simulator,
    pub url: String,
    stop: CancellationToken,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Sim {
    pub async fn start(opts: SimOptions) -> Sim {
        let sim = Simulator::new(opts);
        sim.freeze(true);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn(simulator::serve(sim.clone(), listener, stop.clone()));
        Sim { sim, url, stop }
    }

    pub async fn small(fleet: usize, tenants: usize) -> Sim {
        Sim::start(SimOptions {
            fleet,
            tenants,
            seed: 42,
            start: Some("2026-11-02T10:00:00Z".parse().unwrap()),
            ..SimOptions::default()
        })
        .await
    }

    pub async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let resp = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    /// Every live resource id the simulator holds for `tenant` (a customer UUID), or all.
    pub async fn resource_ids(&self, tenant: Option<&str>) -> Vec<String> {
        let q = tenant.map(|t| format!("&tenant={t}")).unwrap_or_default();
        let v = self.get(&format!("/_sim/resources?limit=1000000{q}")).await;
        let items = v
            .get("items")
            .or(Some(&v))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut ids: Vec<String> = items
            .iter()
            .filter(|r| r["deleted_at"].is_null())
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }

    /// UUIDs of the enabled customer tenants (the ones a worker polls).
    pub fn customers(&self) -> Vec<String> {
        let info = serde_json::to_value(self.sim.fleet_info()).unwrap();
        info["customers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["enabled"] != false)
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// UUIDs of the customers Account Management shows disabled.
    pub fn disabled_customers(&self) -> Vec<String> {
        let info = serde_json::to_value(self.sim.fleet_info()).unwrap();
        info["customers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["enabled"] == false)
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// How many machines the simulator puts under customer `tenant` (units included).
    pub fn resource_count(&self, tenant: &str) -> u64 {
        let info = serde_json::to_value(self.sim.fleet_info()).unwrap();
        info["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == tenant)
            .unwrap()["resources"]
            .as_u64()
            .unwrap()
    }

    /// `resource_statuses` requests served so far.
    pub fn status_requests(&self) -> u64 {
        let c = serde_json::to_value(self.sim.counters()).unwrap();
        c["requests"]["resource_statuses"].as_u64().unwrap()
    }

    pub fn token_requests(&self) -> u64 {
        let c = serde_json::to_value(self.sim.counters()).unwrap();
        c["requests"]["token"].as_u64().unwrap_or(0)
            + c["requests"]["bc_token"].as_u64().unwrap_or(0)
    }
}

/// A worker directory: worker.toml + state, in a temp dir.
pub struct WorkDir {
    pub dir: tempfile::TempDir,
}

impl WorkDir {
    /// A config for `sim`; `acronis_extra` lines are added to `[acronis]`, replacing
    /// a default of the same key.
    pub fn new(sim_url: &str, acronis_extra: &str) -> WorkDir {
        let w = WorkDir {
            dir: tempfile::tempdir().unwrap(),
        };
        let overridden = |line: &str| {
            let key = line.split('=').next().unwrap_or("").trim();
            acronis_extra
                .lines()
                .any(|e| e.split('=').next().unwrap_or("").trim() == key)
        };
        let defaults: Vec<&str> = [
            "tenants = \"children\"",
            "page_size = 20",
            "retry_backoff = \"1s\"",
        ]
        .into_iter()
        .filter(|l| !overridden(l))
        .collect();
        w.write_config(&format!(
            r#"
[acronis]
datacenter_url = "{sim_url}"
client_id = "sim-client"
client_secret = "${{TEST_CLIENT_SECRET}}"
{}
{acronis_extra}

[state]
path = "state"
"#,
            defaults.join("\n")
        ));
        w
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("worker.toml")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config(), text).unwrap();
    }

    /// Append TOML (channels, sections) to worker.toml.
    pub fn append_config(&self, toml: &str) {
        let mut cfg = std::fs::read_to_string(self.config()).unwrap();
        cfg.push_str(toml);
        self.write_config(&cfg);
    }

    /// Write `rules/<file>` (creating `rules/`).
    pub fn write_rules(&self, file: &str, text: &str) {
        let dir = self.dir.path().join("rules");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    }

    /// Run the binary with `args` against this config; the client secret comes from the env.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[("TEST_CLIENT_SECRET", "sim-secret")])
            .await
    }

    pub async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.arg("--config")
            .arg(self.config())
            .args(args)
            .current_dir(self.path());
        cmd.env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
            .await
            .expect("acronis-watch did not finish within 120 s")
            .unwrap()
    }

    /// `acronis-watch run ARGS...` on this config, in the background (killed on drop).
    pub fn spawn_run(&self, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(BIN)
            .arg("--config")
            .arg(self.config())
            .arg("run")
            .args(args)
            .current_dir(self.path())
            .env("TEST_CLIENT_SECRET", "sim-secret")
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    /// `state resources --json`, parsed.
    pub async fn resources(&self) -> Vec<Value> {
        self.state_json("resources").await
    }

    /// `state WHAT --json` (`resources`, `tenants`, `alerts`, ...), parsed.
    pub async fn state_json(&self, what: &str) -> Vec<Value> {
        let out = self.run(&["state", what, "--json"]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "state {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// A webhook `[[channel]]` to `url` at 100/s.
pub fn webhook_channel(name: &str, url: &str) -> String {
    format!(
        "\n[[channel]]\nname = \"{name}\"\ntype = \"webhook\"\nurl = \"{url}\"\nrate = \"100/s\"\n"
    )
}

/// Sorted ids of the `state resources --json` rows of `tenant`.
pub fn tenant_ids(rows: &[Value], tenant: &str) -> Vec<String> {
    let mine: Vec<Value> = rows
        .iter()
        .filter(|r| r["tenant_id"] == tenant)
        .cloned()
        .collect();
    ids(&mine)
}

/// Ids from `state resources --json` rows.
pub fn ids(rows: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// A port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Send `signal` to `child`; then what the process left, which must come within
/// 10 s (SPEC §2), and how long it took to go.
pub async fn signal(child: tokio::process::Child, signal: i32) -> (Output, std::time::Duration) {
    let pid = child.id().expect("running") as i32;
    let sent = std::time::Instant::now();
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(pid, signal);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("run stopped within 10 s of the signal")
        .unwrap();
    (out, sent.elapsed())
}

/// SIGTERM, then what the process left (within 10 s).
pub async fn sigterm(child: tokio::process::Child) -> Output {
    signal(child, libc::SIGTERM).await.0
}

//! `run`: the long-running worker against the simulator and a loopback webhook.
//! Alerts are delivered while it runs; SIGTERM stops it with exit 0 and nothing left.

mod support;

use std::time::Duration;

use support::sinks::HttpSink;
use support::{BIN, Sim, WorkDir, code, text};

const ALL_STATUSES: &str = r#"["ok", "idle", "scheduled", "running", "cancelling", "no_policies_applied", "interaction_required", "warning", "error", "critical"]"#;

#[tokio::test]
async fn run_delivers_while_running_and_stops_cleanly_on_sigterm() {
    let sim = Sim::small(6, 1).await;
    let sink = HttpSink::start().await;
    let work = WorkDir::new(&sim.url, r#"poll_every = "2s""#);
    let mut cfg = std::fs::read_to_string(work.config()).unwrap();
    cfg.push_str(&format!(
        "\n[[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\nrate = \"100/s\"\n",
        sink.url("/hook")
    ));
    work.write_config(&cfg);
    std::fs::create_dir_all(work.path().join("rules")).unwrap();
    // Every machine, whatever its status: each one fires at first sight.
    std::fs::write(
        work.path().join("rules/all.toml"),
        format!("[[rule]]\nname = \"seen\"\nnotify = [\"hook\"]\nwhen.status = {ALL_STATUSES}\n"),
    )
    .unwrap();

    let child = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(work.config())
        .arg("run")
        .current_dir(work.path())
        .env("TEST_CLIENT_SECRET", "sim-secret")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let machines: usize = sim
        .customers()
        .iter()
        .map(|t| sim.resource_count(t) as usize)
        .sum();
    let got = sink.wait_for(machines, Duration::from_secs(30)).await;
    assert_eq!(
        got.len(),
        machines,
        "one webhook POST per machine while running"
    );

    let pid = child.id().expect("running") as i32;
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("run stopped within 10 s of SIGTERM")
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));

    let state = work.run(&["state", "outbox", "--json"]).await;
    assert_eq!(code(&state), 0, "{}", text(&state));
    let rows: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(rows, serde_json::json!([]), "nothing left queued");
    // Nothing more than one POST per alert.
    assert_eq!(sink.requests().len(), machines);
}

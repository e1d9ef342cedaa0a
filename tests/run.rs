//! `run`: the long-running worker against the simulator and a loopback webhook.
//! Alerts are delivered while it runs; SIGTERM stops it with exit 0 and nothing left.

mod support;

use std::time::Duration;

use support::sinks::HttpSink;
use support::{Sim, WorkDir, code, free_port, sigterm, text, webhook_channel};

const ALL_STATUSES: &str = r#"["ok", "idle", "scheduled", "running", "cancelling", "not_protected", "no_policies_applied", "interaction_required", "warning", "error", "critical"]"#;

/// A running `run` worker: its directory, the webhook it delivers to, the process.
struct Running {
    work: WorkDir,
    sink: HttpSink,
    child: tokio::process::Child,
}

/// Start `run` against `sim` with `acronis_extra` in `[acronis]`, `extra_toml`
/// appended, one webhook channel and a rule that fires for every machine at first
/// sight (whatever its status).
async fn start(sim: &Sim, acronis_extra: &str, extra_toml: &str) -> Running {
    let sink = HttpSink::start().await;
    let work = WorkDir::new(&sim.url, acronis_extra);
    work.append_config(extra_toml);
    work.append_config(&webhook_channel("hook", &sink.url("/hook")));
    work.write_rules(
        "all.toml",
        &format!("[[rule]]\nname = \"seen\"\nnotify = [\"hook\"]\nwhen.status = {ALL_STATUSES}\n"),
    );
    let child = work.spawn_run(&[]);
    Running { work, sink, child }
}

#[tokio::test]
async fn run_delivers_while_running_and_stops_cleanly_on_sigterm() {
    let sim = Sim::small(6, 1).await;
    let Running { work, sink, child } = start(&sim, r#"poll_every = "2s""#, "").await;
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

    let out = sigterm(child).await;
    assert_eq!(code(&out), 0, "{}", text(&out));

    let state = work.run(&["state", "outbox", "--json"]).await;
    assert_eq!(code(&state), 0, "{}", text(&state));
    let rows: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(rows, serde_json::json!([]), "nothing left queued");
    // Nothing more than one POST per alert.
    assert_eq!(sink.requests().len(), machines);
}

async fn get(url: &str) -> (u16, String) {
    match reqwest::get(url).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// Poll `url` until `ok` holds for its answer, for at most `within`.
async fn until(url: &str, within: Duration, ok: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let (status, body) = get(url).await;
        if ok(status, &body) || std::time::Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn healthz_turns_503_naming_a_tenant_that_keeps_failing_and_metrics_move() {
    let sim = Sim::small(6, 2).await;
    let port = free_port();
    let running = start(
        &sim,
        "poll_every = \"1s\"\nmax_retries = 0",
        &format!("\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let (status, body) = until(
        &format!("{base}/healthz"),
        Duration::from_secs(20),
        |s, _| s == 200,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, metrics) = until(
        &format!("{base}/metrics"),
        Duration::from_secs(20),
        |_, b| b.contains("acronis_watch_notifications_total") && b.contains("result=\"sent\""),
    )
    .await;
    for name in [
        "acronis_watch_polls_total",
        "acronis_watch_poll_duration_seconds",
        "acronis_watch_resources",
        "acronis_watch_alerts_firing",
        "acronis_watch_notifications_total",
        "acronis_watch_outbox_depth",
        "acronis_watch_dead_letters",
        "acronis_watch_token_refreshes_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    // One tenant's every request now fails: within 3 x poll_every it is unhealthy.
    let failing = sim.customers()[0].clone();
    sim.sim.add_fault(
        serde_json::from_value(serde_json::json!({
            "tenant": failing, "status": 500, "count": 1_000_000
        }))
        .unwrap(),
    );
    let (status, body) = until(
        &format!("{base}/healthz"),
        Duration::from_secs(20),
        |s, _| s == 503,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    let named: Vec<&str> = health["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(named, [failing.as_str()], "{body}");
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("result=\"error\""),
        "failed polls are counted:\n{metrics}"
    );

    let out = sigterm(running.child).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
}

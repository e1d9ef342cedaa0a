//! The comparison of issue 7: acronis-watch against a plain Python poller
//! (`benches/python/poller.py`, written the way Acronis's Python samples are) and
//! against the floor of merely downloading the same pages, on one simulator per
//! fleet size (its own process, frozen), all in the same run.
//!
//! Per fleet size and round: the download floor; `acronis-watch once` on a fresh
//! state directory (cold); the Python poller on a fresh state file (cold); 100
//! touched machines; then both again on their state (incremental). Each child's wall
//! time and peak RSS (`wait4`'s `ru_maxrss`; for Python, the interpreter's) are
//! recorded; after every run the stored count is checked against the fleet. Printed:
//! one markdown table, medians with min-max ranges, ratios and the targets
//! (cold <= 3x the floor; >= 5x faster than Python at 100k, >= 8x at 1M; <= 64 MiB
//! RSS at 100k, <= 128 MiB at 1M).
//!
//! Run: `cargo bench --bench compare` (needs `python3` with `requests`).
//! Knobs: `COMPARE_FLEETS` (default `100000,1000000`), `COMPARE_ROUNDS` (3),
//! `COMPARE_TENANTS` (default 20, or one per 10,000 machines above 200,000),
//! `COMPARE_TOUCHES` (100), `COMPARE_PYTHON` (`python3`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/floor.rs"]
mod floor;
#[path = "support/measure.rs"]
mod measure;
#[path = "support/sim.rs"]
mod sim;

const BIN: &str = env!("CARGO_BIN_EXE_acronis-watch");
const POLLER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/poller.py");
const PAGE: u32 = 500;

/// Repeated measurements of one thing.
#[derive(Default)]
struct Series {
    times: Vec<Duration>,
    rss_kib: Vec<u64>,
}

impl Series {
    fn push(&mut self, elapsed: Duration, rss_kib: u64) {
        self.times.push(elapsed);
        self.rss_kib.push(rss_kib);
    }

    fn median(&self) -> f64 {
        let mut t: Vec<f64> = self.times.iter().map(Duration::as_secs_f64).collect();
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    }

    /// "1.33 s (1.30-1.38)".
    fn time(&self) -> String {
        let t = self.times.iter().map(Duration::as_secs_f64);
        let min = t.clone().fold(f64::INFINITY, f64::min);
        let max = t.fold(0.0, f64::max);
        format!("{} s ({}–{})", secs(self.median()), secs(min), secs(max))
    }

    fn max_rss_mib(&self) -> f64 {
        self.rss_kib.iter().copied().max().unwrap_or(0) as f64 / 1024.0
    }

    /// "56.1 MiB (54.0-58.2)".
    fn rss(&self) -> String {
        if self.rss_kib.is_empty() {
            return "–".to_string();
        }
        let min = self.rss_kib.iter().copied().min().unwrap_or(0) as f64 / 1024.0;
        format!(
            "{:.0} MiB ({min:.0}–{:.0})",
            self.max_rss_mib(),
            self.max_rss_mib()
        )
    }
}

/// Seconds with sensible precision.
fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.3}")
    } else if s < 10.0 {
        format!("{s:.2}")
    } else {
        format!("{s:.1}")
    }
}

fn check(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The interpreter itself (not a pyenv shim), so its rusage is the poller's.
fn python() -> String {
    let python = std::env::var("COMPARE_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(&python)
        .args(["-c", "import sys, requests; print(sys.executable)"])
        .output()
        .unwrap_or_else(|e| panic!("run {python}: {e}"));
    assert!(
        out.status.success(),
        "{python} cannot import requests (pip install requests): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What the worker's state directory holds: stored resources over all tenants.
fn worker_stored(dir: &Path) -> u64 {
    let store = acronis_watch::state::Store::open(&dir.join("state"), 8).expect("open the state");
    store
        .counts()
        .expect("read the counts")
        .resources
        .values()
        .sum()
}

fn run_worker(dir: &Path) -> measure::Run {
    let run = measure::run(
        Command::new(BIN)
            .arg("--config")
            .arg(dir.join("worker.toml"))
            .args(["-q", "once"]),
    );
    assert_eq!(run.code, 0, "acronis-watch once failed");
    run
}

/// Run the Python poller; returns the run and how many machines its state holds.
fn run_python(python: &str, url: &str, state: &Path) -> (measure::Run, u64) {
    let run = measure::run(
        Command::new(python)
            .arg(POLLER)
            .args(["--base-url", url, "--page-size", &PAGE.to_string()])
            .arg("--state")
            .arg(state),
    );
    assert_eq!(run.code, 0, "the Python poller failed");
    let line: Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("the Python poller printed {:?}: {e}", run.stdout));
    (run, line["stored"].as_u64().expect("stored"))
}

/// Everything measured at one fleet size.
struct Fleet {
    fleet: usize,
    tenants: usize,
    sim_start: Duration,
    sim_rss_kib: u64,
    pages: usize,
    bytes: u64,
    floor: Series,
    cold: Series,
    incremental: Series,
    py_cold: Series,
    py_incremental: Series,
}

fn measure_fleet(
    fleet: usize,
    tenants: usize,
    rounds: usize,
    touches: usize,
    python: &str,
) -> Fleet {
    eprintln!("compare: {fleet} machines across {tenants} tenants, {rounds} rounds");
    let started = Instant::now();
    let sim = sim::start(fleet, tenants);
    let sim_start = started.elapsed();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let customers = floor::customers(&client, &sim.url);
    let info: Value = client
        .get(format!("{}/_sim/fleet", sim.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let total = info["total"].as_u64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("worker.toml"), sim.poll_config(PAGE)).unwrap();
    let py_state = dir.path().join("python-state.json");

    let mut m = Fleet {
        fleet,
        tenants,
        sim_start,
        sim_rss_kib: 0,
        pages: 0,
        bytes: 0,
        floor: Series::default(),
        cold: Series::default(),
        incremental: Series::default(),
        py_cold: Series::default(),
        py_incremental: Series::default(),
    };
    for round in 1..=rounds {
        let f = floor::download(&client, &sim.url, &customers, PAGE);
        (m.pages, m.bytes) = (f.pages, f.bytes);
        m.floor.push(f.elapsed, 0);

        let _ = std::fs::remove_dir_all(dir.path().join("state"));
        let cold = run_worker(dir.path());
        assert_eq!(
            worker_stored(dir.path()),
            total,
            "acronis-watch's cold poll"
        );
        m.cold.push(cold.elapsed, cold.max_rss_kib);

        let _ = std::fs::remove_file(&py_state);
        let (py_cold, stored) = run_python(python, &sim.url, &py_state);
        assert_eq!(stored, total, "the Python poller's cold run");
        m.py_cold.push(py_cold.elapsed, py_cold.max_rss_kib);

        let touched: Value = client
            .post(format!("{}/_sim/touch", sim.url))
            .json(&serde_json::json!({ "count": touches }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(touched["ids"].as_array().map(Vec::len), Some(touches));

        let inc = run_worker(dir.path());
        assert_eq!(
            worker_stored(dir.path()),
            total,
            "acronis-watch's incremental poll"
        );
        m.incremental.push(inc.elapsed, inc.max_rss_kib);

        let (py_inc, stored) = run_python(python, &sim.url, &py_state);
        assert_eq!(stored, total, "the Python poller's incremental run");
        m.py_incremental.push(py_inc.elapsed, py_inc.max_rss_kib);

        eprintln!(
            "  round {round}: floor {:.2} s, cold {:.2} s, python cold {:.2} s, incremental {:.3} s, python incremental {:.2} s",
            f.elapsed.as_secs_f64(),
            cold.elapsed.as_secs_f64(),
            py_cold.elapsed.as_secs_f64(),
            inc.elapsed.as_secs_f64(),
            py_inc.elapsed.as_secs_f64()
        );
    }
    m.sim_rss_kib = sim.peak_rss_kib().unwrap_or(0);
    m
}

fn main() {
    let started = Instant::now();
    let fleets: Vec<usize> = std::env::var("COMPARE_FLEETS")
        .unwrap_or_else(|_| "100000,1000000".to_string())
        .split(',')
        .filter_map(|f| f.trim().parse().ok())
        .collect();
    let rounds = knob("COMPARE_ROUNDS", 3).max(1);
    let touches = knob("COMPARE_TOUCHES", 100);
    let python = python();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "compare benchmark: fleets {fleets:?}, {rounds} rounds, page size {PAGE}, {touches} touches before each incremental poll"
    );
    println!("python: {python}; load average at start: {}", load.trim());

    let results: Vec<Fleet> = fleets
        .iter()
        .map(|&fleet| {
            let default_tenants = if fleet > 200_000 { fleet / 10_000 } else { 20 };
            let tenants = knob("COMPARE_TENANTS", default_tenants);
            measure_fleet(fleet, tenants, rounds, touches, &python)
        })
        .collect();

    println!();
    println!("Wall time: median of {rounds} (min–max); peak RSS: max of {rounds} (min–max).");
    println!();
    println!("| fleet | run | wall time | peak RSS | ratio | targets |");
    println!("|---|---|---|---|---|---|");
    for m in &results {
        let label = format!("{}k / {} tenants", m.fleet / 1000, m.tenants);
        let big = m.fleet >= 1_000_000;
        let (speed_target, rss_target) = if big { (8.0, 128.0) } else { (5.0, 64.0) };
        let vs_floor = m.cold.median() / m.floor.median();
        let vs_python = m.py_cold.median() / m.cold.median();
        let rss = m.cold.max_rss_mib();
        println!(
            "| {label} | download floor ({} pages, {:.0} MiB) | {} | – | | |",
            m.pages,
            m.bytes as f64 / 1048576.0,
            m.floor.time()
        );
        println!(
            "| {label} | acronis-watch cold | {} | {} | {vs_floor:.2}× floor | ≤ 3× floor {}; ≤ {rss_target:.0} MiB {} |",
            m.cold.time(),
            m.cold.rss(),
            check(vs_floor <= 3.0),
            check(rss <= rss_target)
        );
        println!(
            "| {label} | Python poller cold | {} | {} | {vs_python:.2}× acronis-watch | acronis-watch ≥ {speed_target:.0}× faster {} |",
            m.py_cold.time(),
            m.py_cold.rss(),
            check(vs_python >= speed_target)
        );
        println!(
            "| {label} | acronis-watch incremental ({touches} touched) | {} | {} | | |",
            m.incremental.time(),
            m.incremental.rss()
        );
        println!(
            "| {label} | Python poller incremental | {} | {} | {:.1}× acronis-watch | |",
            m.py_incremental.time(),
            m.py_incremental.rss(),
            m.py_incremental.median() / m.incremental.median()
        );
    }
    println!();
    for m in &results {
        println!(
            "simulator at {} machines: ready in {:.1} s, peak RSS {:.0} MiB",
            m.fleet,
            m.sim_start.as_secs_f64(),
            m.sim_rss_kib as f64 / 1024.0
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.trim());
    println!("whole comparison: {:.0} s", started.elapsed().as_secs_f64());
}

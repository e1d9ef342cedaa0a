//! The comparison of issues 7 and 18: acronis-watch against a plain Python poller
//! (`benches/python/poller.py`, written the fair way a user would: `requests`, `json`,
//! a dict per item, SQLite with one `executemany` transaction per page) and against
//! the floor of merely downloading the same pages, at each fleet size, in one run.
//!
//! The server is the floor's, not the simulator's: every client first runs once
//! through a recording proxy in front of the simulator (`support/replay.rs`), then the
//! measured rounds are served the recorded bytes from memory by one server thread,
//! with the simulator stopped. The server's own CPU share is printed next to every
//! figure (a warning above 10%): what is measured is the client.
//!
//! Per fleet size and round: the transfer floor; `acronis-watch once` cold (a fresh
//! state directory); the Python poller cold; `acronis-watch once` again on that state
//! with `incremental = "never"` (a full pass of an unchanged fleet); then, as recorded
//! after 100 machines were touched, `acronis-watch once` incremental and the Python
//! poller incremental. Each child's wall time, CPU and peak RSS (`wait4`) are recorded;
//! after every run the stored count is checked against the fleet; the state
//! directory's size is measured after the cold poll. Printed: one markdown table,
//! medians with min-max ranges, ratios and the targets of issue 18 (cold >= 2x faster
//! than Python; a full pass of an unchanged fleet >= 3x faster than Python's cold
//! poll; peak RSS <= 64 MiB at 100k, <= 128 MiB at 1M; <= 300 bytes per resource in
//! the state directory at 1M).
//!
//! Beside them, the floors the cold poll is held to (issue 18: at most 1.25x their
//! sum): the transfer, decoding every page into the model on one thread, and bare sled
//! inserts of the cold poll's own records into a fresh state; and the bytes of keys
//! and values the state holds beside the directory's size.
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
#[path = "support/replay.rs"]
mod replay;
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
    /// The replay server's CPU time over the run's wall time.
    server: Vec<f64>,
}

impl Series {
    fn push(&mut self, elapsed: Duration, rss_kib: u64) {
        self.times.push(elapsed);
        self.rss_kib.push(rss_kib);
    }

    /// Push a run measured while the server spent `server_cpu`.
    fn push_served(&mut self, elapsed: Duration, rss_kib: u64, server_cpu: Duration) {
        self.push(elapsed, rss_kib);
        self.server
            .push(server_cpu.as_secs_f64() / elapsed.as_secs_f64().max(1e-9));
    }

    /// "server 3% (2-4)", with a warning above 10%.
    fn server_share(&self) -> String {
        if self.server.is_empty() {
            return "–".to_string();
        }
        let min = self.server.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.server.iter().copied().fold(0.0, f64::max);
        let warn = if max > 0.10 { " ⚠ over 10%" } else { "" };
        format!(
            "{:.0}% ({:.0}–{:.0}){warn}",
            self.median_of(&self.server) * 100.0,
            min * 100.0,
            max * 100.0
        )
    }

    fn median_of(&self, v: &[f64]) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
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

fn run_worker(dir: &Path, config: &str) -> measure::Run {
    let run = measure::run(
        Command::new(BIN)
            .arg("--config")
            .arg(dir.join(config))
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
    pages: usize,
    bytes: u64,
    /// The state directory after a cold poll, bytes.
    state_bytes: Vec<u64>,
    floor: Series,
    cold: Series,
    full: Series,
    incremental: Series,
    py_cold: Series,
    py_incremental: Series,
    /// Replayed requests that had no recording (each answered 404).
    misses: usize,
    /// Decoding every distinct recorded status page into the worker's model, one
    /// thread: the parse floor.
    parse: Series,
    /// The bytes of the stored keys and values after the cold poll (what sled holds
    /// live, without its log's overhead).
    live_bytes: u64,
    /// Bare `Tree::insert`s of the cold poll's resource records into a fresh sled
    /// (no transaction, no HTTP, no JSON): the store floor.
    bare_sled: Series,
}

/// Decode every distinct recorded status page of the cold phase into the model the
/// worker decodes into, on one thread, as the worker's `Response::json` does.
fn parse_floor(server: &replay::Replay) -> Duration {
    let mut seen = std::collections::HashSet::new();
    let bodies: Vec<_> = server
        .bodies("cold", "/resource_statuses?")
        .into_iter()
        .filter(|b| seen.insert(b.clone()))
        .collect();
    let start = Instant::now();
    let mut items = 0;
    for body in &bodies {
        let page: acronis_watch::acronis::model::StatusPage =
            serde_json::from_slice(body).expect("a recorded page decodes");
        items += page.items.len();
        drop(std::hint::black_box(page));
    }
    let took = start.elapsed();
    assert!(items > 0, "no recorded status pages");
    took
}

/// Write the cold poll's resource records (the very keys and values) into a fresh
/// sled with the worker's settings, tenant by tenant, in pages of 500 in an order
/// unrelated to the keys (as `desc(updated_at)` is), each page's keys sorted as the
/// worker sorts them: bare `Tree::insert`s, no transaction, one thread, then a flush.
fn bare_sled(dir: &Path) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    let records: Vec<(sled::IVec, sled::IVec)> = {
        let db = sled::Config::new()
            .path(dir.join("state"))
            .open()
            .expect("open the state");
        let tree = db.open_tree("resources").expect("open resources");
        tree.iter().map(|kv| kv.expect("read the state")).collect()
    };
    let hasher = RandomState::new();
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by_key(|&i| {
        (
            records[i].0.get(..8).map(<[u8]>::to_vec),
            hasher.hash_one(&records[i].0),
        )
    });
    let target = dir.join("bare-sled");
    let _ = std::fs::remove_dir_all(&target);
    let start = Instant::now();
    let db = sled::Config::new()
        .path(&target)
        .cache_capacity(8 * 1024 * 1024)
        .mode(sled::Mode::LowSpace)
        .open()
        .expect("open a fresh sled");
    let tree = db.open_tree("resources").expect("open a tree");
    for page in order.chunks(PAGE as usize) {
        let mut page = page.to_vec();
        page.sort_by(|a, b| records[*a].0.cmp(&records[*b].0));
        for i in page {
            tree.insert(&records[i].0, &records[i].1).expect("insert");
        }
    }
    db.flush().expect("flush");
    let took = start.elapsed();
    drop(tree);
    drop(db);
    let _ = std::fs::remove_dir_all(&target);
    took
}

/// Bytes of every key and value in the state directory's trees.
fn live_bytes(dir: &Path) -> u64 {
    let db = sled::Config::new()
        .path(dir.join("state"))
        .open()
        .expect("open the state");
    let mut total = 0;
    for name in db.tree_names() {
        let tree = db.open_tree(&name).expect("open a tree");
        for kv in tree.iter() {
            let (k, v) = kv.expect("read the state");
            total += (k.len() + v.len()) as u64;
        }
    }
    total
}

/// Bytes of the files under `dir`.
fn du(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        total += if meta.is_dir() {
            du(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// Run `f` against the replay server, and the server's CPU time meanwhile.
fn served<T>(server: &replay::Replay, f: impl FnOnce() -> T) -> (T, Duration) {
    let before = server.cpu();
    let out = f();
    (out, server.cpu().saturating_sub(before))
}

fn measure_fleet(
    fleet: usize,
    tenants: usize,
    rounds: usize,
    touches: usize,
    python: &str,
) -> Fleet {
    eprintln!("compare: {fleet} machines across {tenants} tenants, {rounds} rounds");
    let sim = sim::start(fleet, tenants);
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
    let server = replay::Replay::start(&sim.url, "cold");
    let dir = tempfile::tempdir().unwrap();
    let config = sim.poll_config(PAGE).replace(&sim.url, &server.url);
    std::fs::write(dir.path().join("worker.toml"), &config).unwrap();
    std::fs::write(
        dir.path().join("full.toml"),
        config.replace("[acronis]\n", "[acronis]\nincremental = \"never\"\n"),
    )
    .unwrap();
    let py_state = dir.path().join("python-state.sqlite");
    let fresh = |dir: &Path| {
        let _ = std::fs::remove_dir_all(dir.join("state"));
        let _ = std::fs::remove_file(&py_state);
    };

    // Record every client once, phase by phase, through the proxy.
    eprintln!("  recording what each client asks for");
    fresh(dir.path());
    let f = floor::download(&client, &server.url, &customers, PAGE);
    run_worker(dir.path(), "worker.toml");
    assert_eq!(
        worker_stored(dir.path()),
        total,
        "acronis-watch's cold poll through the recording proxy"
    );
    run_python(python, &server.url, &py_state);
    server.record("full");
    run_worker(dir.path(), "full.toml");
    let touched: Value = client
        .post(format!("{}/_sim/touch", sim.url))
        .json(&serde_json::json!({ "count": touches }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(touched["ids"].as_array().map(Vec::len), Some(touches));
    server.record("incremental");
    run_worker(dir.path(), "worker.toml");
    run_python(python, &server.url, &py_state);
    for phase in ["cold", "full", "incremental"] {
        let (n, bytes) = server.recorded(phase);
        eprintln!(
            "  {phase}: {n} answers, {:.1} MiB",
            bytes as f64 / 1048576.0
        );
    }
    // The simulator is not needed any more: nothing of it runs while we measure.
    drop(sim);

    let mut m = Fleet {
        fleet,
        tenants,
        pages: f.pages,
        bytes: f.bytes,
        state_bytes: Vec::new(),
        floor: Series::default(),
        cold: Series::default(),
        full: Series::default(),
        incremental: Series::default(),
        py_cold: Series::default(),
        py_incremental: Series::default(),
        misses: 0,
        parse: Series::default(),
        live_bytes: 0,
        bare_sled: Series::default(),
    };
    for round in 1..=rounds {
        fresh(dir.path());
        server.replay("cold");
        let (f, cpu) = served(&server, || {
            floor::download(&client, &server.url, &customers, PAGE)
        });
        m.floor.push_served(f.elapsed, 0, cpu);

        let (cold, cpu) = served(&server, || run_worker(dir.path(), "worker.toml"));
        assert_eq!(
            worker_stored(dir.path()),
            total,
            "acronis-watch's cold poll"
        );
        m.cold.push_served(cold.elapsed, cold.max_rss_kib, cpu);
        m.state_bytes.push(du(&dir.path().join("state")));
        m.live_bytes = live_bytes(dir.path());
        m.parse.push(parse_floor(&server), 0);
        m.bare_sled.push(bare_sled(dir.path()), 0);

        let ((py_cold, stored), cpu) =
            served(&server, || run_python(python, &server.url, &py_state));
        assert_eq!(stored, total, "the Python poller's cold run");
        m.py_cold
            .push_served(py_cold.elapsed, py_cold.max_rss_kib, cpu);

        server.replay("full");
        let (full, cpu) = served(&server, || run_worker(dir.path(), "full.toml"));
        assert_eq!(
            worker_stored(dir.path()),
            total,
            "acronis-watch's full pass"
        );
        m.full.push_served(full.elapsed, full.max_rss_kib, cpu);

        server.replay("incremental");
        let (inc, cpu) = served(&server, || run_worker(dir.path(), "worker.toml"));
        assert_eq!(
            worker_stored(dir.path()),
            total,
            "acronis-watch's incremental poll"
        );
        m.incremental.push_served(inc.elapsed, inc.max_rss_kib, cpu);

        let ((py_inc, stored), cpu) =
            served(&server, || run_python(python, &server.url, &py_state));
        assert_eq!(stored, total, "the Python poller's incremental run");
        m.py_incremental
            .push_served(py_inc.elapsed, py_inc.max_rss_kib, cpu);

        let misses = server.take_misses();
        if !misses.is_empty() {
            eprintln!(
                "  round {round}: {} requests had no recording, e.g. {}",
                misses.len(),
                misses[0]
            );
        }
        m.misses += misses.len();
        eprintln!(
            "  round {round}: floor {:.3} s, cold {:.2} s (cpu {:.2} s), python cold {:.2} s, full pass {:.2} s, incremental {:.3} s, python incremental {:.2} s",
            f.elapsed.as_secs_f64(),
            cold.elapsed.as_secs_f64(),
            cold.cpu.as_secs_f64(),
            py_cold.elapsed.as_secs_f64(),
            full.elapsed.as_secs_f64(),
            inc.elapsed.as_secs_f64(),
            py_inc.elapsed.as_secs_f64()
        );
    }
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
    println!(
        "Wall time: median of {rounds} (min–max); peak RSS: max of {rounds} (min–max); server: the replay server's CPU over the run's wall time."
    );
    println!();
    println!("| fleet | run | wall time | peak RSS | server | ratio | targets |");
    println!("|---|---|---|---|---|---|---|");
    for m in &results {
        let label = format!("{}k / {} tenants", m.fleet / 1000, m.tenants);
        let big = m.fleet >= 1_000_000;
        let rss_target = if big { 128.0 } else { 64.0 };
        let py_vs_cold = m.py_cold.median() / m.cold.median();
        let py_vs_full = m.py_cold.median() / m.full.median();
        let rss = m.cold.max_rss_mib().max(m.full.max_rss_mib());
        println!(
            "| {label} | transfer floor ({} pages, {:.0} MiB) | {} | – | {} | | |",
            m.pages,
            m.bytes as f64 / 1048576.0,
            m.floor.time(),
            m.floor.server_share()
        );
        println!(
            "| {label} | Python poller cold | {} | {} | {} | {:.1}× floor | |",
            m.py_cold.time(),
            m.py_cold.rss(),
            m.py_cold.server_share(),
            m.py_cold.median() / m.floor.median()
        );
        println!(
            "| {label} | acronis-watch cold | {} | {} | {} | Python ÷ watch {py_vs_cold:.2}×; {:.1}× floor | ≥ 2× {}; ≤ {rss_target:.0} MiB {} |",
            m.cold.time(),
            m.cold.rss(),
            m.cold.server_share(),
            m.cold.median() / m.floor.median(),
            check(py_vs_cold >= 2.0),
            check(rss <= rss_target)
        );
        println!(
            "| {label} | acronis-watch full pass, unchanged fleet | {} | {} | {} | Python cold ÷ this {py_vs_full:.2}× | ≥ 3× {} |",
            m.full.time(),
            m.full.rss(),
            m.full.server_share(),
            check(py_vs_full >= 3.0)
        );
        println!(
            "| {label} | acronis-watch incremental ({touches} touched) | {} | {} | {} | | |",
            m.incremental.time(),
            m.incremental.rss(),
            m.incremental.server_share()
        );
        println!(
            "| {label} | Python poller incremental | {} | {} | {} | {:.1}× acronis-watch | |",
            m.py_incremental.time(),
            m.py_incremental.rss(),
            m.py_incremental.server_share(),
            m.py_incremental.median() / m.incremental.median()
        );
        println!(
            "| {label} | parse floor (every page into the model, one thread) | {} | – | | | |",
            m.parse.time()
        );
        println!(
            "| {label} | bare sled floor (the cold poll's records, `Tree::insert`, one thread) | {} | – | | | |",
            m.bare_sled.time()
        );
        let floors = m.bare_sled.median() + m.floor.median() + m.parse.median();
        let vs_floors = m.cold.median() / floors;
        println!(
            "| {label} | bare sled + transfer + parse | {floors:.2} s | – | | cold ÷ this {vs_floors:.2}× | ≤ 1.25× {} |",
            check(vs_floors <= 1.25)
        );
        let per = m.state_bytes.iter().copied().max().unwrap_or(0) as f64 / m.fleet as f64;
        println!(
            "| {label} | state directory after the cold poll | {:.0} MiB ({:.0} bytes/resource of keys and values) | | | {per:.0} bytes/resource | {} |",
            m.state_bytes.iter().copied().max().unwrap_or(0) as f64 / 1048576.0,
            m.live_bytes as f64 / m.fleet as f64,
            if big {
                format!("≤ 300 {}", check(per <= 300.0))
            } else {
                String::new()
            }
        );
    }
    println!();
    for m in &results {
        if m.misses > 0 {
            println!(
                "warning: at {} machines {} replayed requests had no recording (answered 404)",
                m.fleet, m.misses
            );
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.trim());
    println!("whole comparison: {:.0} s", started.elapsed().as_secs_f64());
}

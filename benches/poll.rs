//! Poll benchmark: a cold poll of 100,000 resources across 20 tenants, two full passes
//! of the unchanged fleet, and an incremental poll after 100 changes, against the
//! simulator in its own process, next to the floor of merely downloading the same
//! pages.
//!
//! Run: `cargo bench --bench poll` (env BENCH_FLEET / BENCH_TENANTS to resize).
//! Prints wall time, requests made, the worker's peak RSS and the state directory's
//! size after each step.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

#[path = "support/floor.rs"]
mod floor;
#[path = "support/measure.rs"]
mod measure;
#[path = "support/sim.rs"]
mod sim;

const BIN: &str = env!("CARGO_BIN_EXE_acronis-watch");
const PAGE: u32 = 500;

/// Run the worker; returns (wall time, peak RSS in KiB, exit code).
fn run_worker(args: &[&str], dir: &std::path::Path) -> (Duration, u64, i32) {
    let run = measure::run(
        Command::new(BIN)
            .arg("--config")
            .arg(dir.join("worker.toml"))
            .args(["-q"])
            .args(args),
    );
    (run.elapsed, run.max_rss_kib, run.code)
}

/// Total bytes of the files under `dir`.
fn du(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => du(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn counters(client: &reqwest::blocking::Client, url: &str) -> u64 {
    let c: Value = client
        .get(format!("{url}/_sim/counters"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    c["requests"]["resource_statuses"].as_u64().unwrap()
}

fn main() {
    let fleet: usize = std::env::var("BENCH_FLEET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let tenants: usize = std::env::var("BENCH_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    println!("poll benchmark: {fleet} resources across {tenants} tenants, page size {PAGE}");
    let sim = sim::start(fleet, tenants);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let customers = floor::customers(&client, &sim.url);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("worker.toml"), sim.poll_config(PAGE)).unwrap();

    // Three rounds of floor and cold poll (a fresh state directory each); the medians
    // are reported, as the machine is shared and single runs vary by +-20%.
    let (mut floors, mut colds, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    let (mut pages, mut bytes, mut cold_requests) = (0, 0, 0);
    for _ in 0..3 {
        let f = floor::download(&client, &sim.url, &customers, PAGE);
        (pages, bytes) = (f.pages, f.bytes);
        floors.push(f.elapsed);
        let _ = std::fs::remove_dir_all(dir.path().join("state"));
        let before = counters(&client, &sim.url);
        let (cold, cold_rss, code) = run_worker(&["once"], dir.path());
        assert_eq!(code, 0, "cold poll failed");
        cold_requests = counters(&client, &sim.url) - before;
        colds.push(cold);
        rss.push(cold_rss);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (floor, cold) = (median(&mut floors), median(&mut colds));
    let cold_rss = rss.iter().copied().max().unwrap_or(0);
    let state = dir.path().join("state");
    let cold_size = du(&state);

    // Two full passes of the unchanged fleet (full_resync_every is 6h; the simulator
    // is frozen, so nothing changes between them).
    let (mut fulls, mut full_sizes, mut full_rss) = (Vec::new(), Vec::new(), 0);
    for now in ["2030-01-01T07:00:00Z", "2030-01-01T14:00:00Z"] {
        let (t, r, code) = run_worker(&["once", "--now", now], dir.path());
        assert_eq!(code, 0, "full pass failed");
        fulls.push(t);
        full_sizes.push(du(&state));
        full_rss = full_rss.max(r);
    }

    let touched: Value = client
        .post(format!("{}/_sim/touch", sim.url))
        .json(&serde_json::json!({"count": 100}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(touched["ids"].as_array().map(Vec::len), Some(100));
    let before = counters(&client, &sim.url);
    let (inc, inc_rss, code) = run_worker(&["once", "--now", "2030-01-01T14:05:00Z"], dir.path());
    assert_eq!(code, 0, "incremental poll failed");
    let inc_requests = counters(&client, &sim.url) - before;
    let bound = customers.len() as u64 * (100u64.div_ceil(PAGE as u64) + 1);

    let mib = |kib: u64| kib as f64 / 1024.0;
    println!();
    println!("| measure                         | value |");
    println!("|---------------------------------|-------|");
    println!(
        "| download floor ({pages} pages, {:.1} MiB), median of 3 | {:.2} s |",
        bytes as f64 / 1048576.0,
        floor.as_secs_f64()
    );
    println!(
        "| cold poll wall time, median of 3 | {:.2} s |",
        cold.as_secs_f64()
    );
    println!(
        "| cold poll / floor               | {:.2}x (target <= 3x) |",
        cold.as_secs_f64() / floor.as_secs_f64()
    );
    println!("| cold poll requests              | {cold_requests} |");
    println!(
        "| cold poll peak RSS, max of 3    | {:.1} MiB (target <= 64) |",
        mib(cold_rss)
    );
    // The cost of `include_attributes` (asked for only while a rule uses the agent or
    // CyberFit): a cold poll with such a rule, and the bytes of the same pages.
    let with_attrs = floor::download_with(&client, &sim.url, &customers, PAGE, true);
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/agents.toml"),
        "[[rule]]\nname = \"cyberfit-low\"\nwhen.cyberfit_below = 579\n",
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(dir.path().join("state"));
    let (attrs_cold, attrs_rss, code) = run_worker(&["once"], dir.path());
    assert_eq!(code, 0, "cold poll with attributes failed");

    let mb = |b: u64| b as f64 / 1048576.0;
    for (i, (t, size)) in fulls.iter().zip(&full_sizes).enumerate() {
        println!(
            "| full pass {} of the unchanged fleet | {:.2} s ({:.2}x cold; target <= 0.4x) |",
            i + 1,
            t.as_secs_f64(),
            t.as_secs_f64() / cold.as_secs_f64()
        );
        println!("| state directory after it        | {:.1} MiB |", mb(*size));
    }
    println!(
        "| full pass peak RSS              | {:.1} MiB |",
        mib(full_rss)
    );
    println!(
        "| state directory after the cold poll | {:.1} MiB; growth over the two full passes {:+.2} MiB (target < 1) |",
        mb(cold_size),
        mb(full_sizes[1]) - mb(cold_size)
    );
    println!(
        "| incremental poll (100 changes)  | {:.3} s |",
        inc.as_secs_f64()
    );
    println!(
        "| incremental poll requests       | {inc_requests} (bound {bound}, + overlap items) |"
    );
    println!(
        "| incremental poll peak RSS       | {:.1} MiB |",
        mib(inc_rss)
    );
    println!(
        "| pages with include_attributes   | {:.1} MiB ({:+.0}% over {:.1} MiB) |",
        mb(with_attrs.bytes),
        (with_attrs.bytes as f64 / bytes as f64 - 1.0) * 100.0,
        mb(bytes)
    );
    println!(
        "| cold poll with an attribute rule | {:.2} s ({:+.0}% over {:.2} s), peak RSS {:.1} MiB |",
        attrs_cold.as_secs_f64(),
        (attrs_cold.as_secs_f64() / cold.as_secs_f64() - 1.0) * 100.0,
        cold.as_secs_f64(),
        mib(attrs_rss)
    );
}

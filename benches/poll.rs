//! Poll benchmark: a cold poll of 100,000 resources across 20 tenants and an
//! incremental poll after 100 changes, against the simulator in its own process,
//! next to the floor of merely downloading the same pages.
//!
//! Run: `cargo bench --bench poll` (env BENCH_FLEET / BENCH_TENANTS to resize).
//! Prints wall time, requests made and the worker's peak RSS.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/sim.rs"]
mod sim;

const BIN: &str = env!("CARGO_BIN_EXE_acronis-watch");
const PAGE: u32 = 500;

/// Run the worker; returns (wall time, peak RSS in KiB, exit code).
// The child is reaped by wait4 (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_worker(args: &[&str], dir: &std::path::Path) -> (Duration, u64, i32) {
    let started = Instant::now();
    let child = Command::new(BIN)
        .arg("--config")
        .arg(dir.join("worker.toml"))
        .args(["-q"])
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the worker");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child's pid, with valid out-pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (started.elapsed(), usage.ru_maxrss as u64, code)
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

/// The transfer floor: fetch every page of every tenant with a plain loop, reading
/// only the cursor out of each body.
fn download_floor(
    client: &reqwest::blocking::Client,
    url: &str,
    customers: &[String],
) -> (Duration, usize, u64) {
    let started = Instant::now();
    let base: Value = client
        .post(format!("{url}/api/2/idp/token"))
        .basic_auth("sim-client", Some("sim-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let base = base["access_token"].as_str().unwrap().to_string();
    let (mut pages, mut bytes) = (0, 0u64);
    for c in customers {
        let scoped: Value = client
            .post(format!("{url}/api/2/idp/token"))
            .bearer_auth(&base)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", base.as_str()),
                ("scope", &format!("urn:acronis.com:tenant-id:{c}")),
            ])
            .send()
            .unwrap()
            .json()
            .unwrap();
        let token = scoped["access_token"].as_str().unwrap().to_string();
        let mut after: Option<String> = None;
        loop {
            let mut q = vec![
                ("type", "resource.machine".to_string()),
                ("order", "desc(updated_at)".to_string()),
                ("limit", PAGE.to_string()),
            ];
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let body = client
                .get(format!(
                    "{url}/api/resource_management/v4/resource_statuses"
                ))
                .query(&q)
                .bearer_auth(&token)
                .send()
                .unwrap()
                .bytes()
                .unwrap();
            pages += 1;
            bytes += body.len() as u64;
            after = cursor_of(&body);
            if after.is_none() {
                break;
            }
        }
    }
    (started.elapsed(), pages, bytes)
}

/// `paging.cursors.after` without parsing the items.
fn cursor_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Page {
        paging: Paging,
    }
    #[derive(serde::Deserialize)]
    struct Paging {
        cursors: Cursors,
    }
    #[derive(serde::Deserialize)]
    struct Cursors {
        after: Option<String>,
    }
    let p: Page = serde_json::from_slice(body).ok()?;
    p.paging.cursors.after.filter(|a| !a.is_empty())
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
    let info: Value = client
        .get(format!("{}/_sim/fleet", sim.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let customers: Vec<String> = info["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("worker.toml"),
        format!(
            "[acronis]\ndatacenter_url = \"{}\"\nclient_id = \"sim-client\"\nclient_secret = \"sim-secret\"\n\
             tenants = \"children\"\npage_size = {PAGE}\nmax_concurrent_tenants = 4\noverlap = \"2m\"\n\n\
             [state]\npath = \"state\"\n",
            sim.url
        ),
    )
    .unwrap();

    // Three rounds of floor and cold poll (a fresh state directory each); the medians
    // are reported, as the machine is shared and single runs vary by +-20%.
    let (mut floors, mut colds, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    let (mut pages, mut bytes, mut cold_requests) = (0, 0, 0);
    for _ in 0..3 {
        let (floor, p, b) = download_floor(&client, &sim.url, &customers);
        (pages, bytes) = (p, b);
        floors.push(floor);
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

    let touched: Value = client
        .post(format!("{}/_sim/touch", sim.url))
        .json(&serde_json::json!({"count": 100}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(touched["ids"].as_array().map(Vec::len), Some(100));
    let before = counters(&client, &sim.url);
    let (inc, inc_rss, code) = run_worker(&["once"], dir.path());
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
}

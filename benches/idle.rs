//! Idle `run` benchmark (issue 6): `cargo bench --bench idle`.
//!
//! `run` against the simulator (its own process) with 100,000 machines across 20
//! tenants and five status, stale and overdue rules kept in state only (so every
//! machine has deadlines in the index and the outbox stays empty),
//! `poll_every = "1h"`: after the first cycle the worker only ticks its deadline
//! index, watches the outbox and serves /metrics (scraped every half second while
//! waiting for the cycle). Measured twice: on a first start (a cold poll of the whole
//! fleet) and again after a restart on the state that left (an incremental poll):
//! the worker's CPU time over a quiet window (target < 1% of one core) and its
//! resident memory then and at its peak (target <= 64 MiB idle).
//!
//! Knobs: `IDLE_BENCH_FLEET` (default 100,000), `IDLE_BENCH_TENANTS` (20),
//! `IDLE_BENCH_WINDOW_S` (seconds measured, default 30).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/sim.rs"]
mod sim;
use sim::Proc;

const BIN: &str = env!("CARGO_BIN_EXE_acronis-watch");

fn main() {
    let fleet = knob("IDLE_BENCH_FLEET", 100_000);
    let tenants = knob("IDLE_BENCH_TENANTS", 20);
    let window = Duration::from_secs(knob("IDLE_BENCH_WINDOW_S", 30) as u64);
    let sim = sim::start(fleet, tenants);
    let url = &sim.url;
    let dir = tempfile::tempdir().expect("a temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // Rules as a fleet uses them, kept in state only: every machine gets deadlines
    // in the index, and nothing waits in the outbox, so what is measured is the
    // worker between polls, not a backlog being delivered.
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(
        rules.join("fleet.toml"),
        r#"
[[rule]]
name = "machine-critical"
when.status = ["critical"]

[[rule]]
name = "machine-error"
when.status = ["error"]

[[rule]]
name = "backup-stale"
when.policy = "policy.backup.machine"
when.last_success_older_than = "26h"

[[rule]]
name = "backup-overdue"
when.policy = "policy.backup.machine"
when.overdue_by = "2h"

[[rule]]
name = "antimalware-stale"
when.policy = "policy.security.antimalware_protection"
when.last_success_older_than = "7d"
"#,
    )
    .expect("rules written");
    std::fs::write(
        dir.path().join("worker.toml"),
        format!(
            r#"
[acronis]
datacenter_url = "{url}"
client_id = "sim-client"
client_secret = "sim-secret"
tenants = "children"
poll_every = "1h"

[state]
path = "state"

[server]
listen = "127.0.0.1:{port}"

[[channel]]
name = "noc-slack"
type = "slack"
url = "http://127.0.0.1:9/none"
"#
        ),
    )
    .expect("config written");

    let config = dir.path().join("worker.toml");
    let cold = measure(&config, port, tenants, window);
    // The same worker restarted on the state the first one left: what a worker that
    // has been running for a while (or was upgraded) holds between polls.
    let warm = measure(&config, port, tenants, window);
    drop(sim);
    println!("fleet {fleet} machines / {tenants} tenants");
    for (what, m) in [
        ("first start (cold poll of the whole fleet)", &cold),
        ("restart on that state (incremental poll)", &warm),
    ] {
        println!("{what}:");
        println!(
            "  first cycle {:.1} s; idle {:.2}% of one core over {:.0} s ({:.2} s CPU)  (target < 1%)",
            m.first_cycle.as_secs_f64(),
            100.0 * m.cpu_s / m.window.as_secs_f64(),
            m.window.as_secs_f64(),
            m.cpu_s
        );
        println!(
            "  RSS {:.1} MiB idle, peak {:.1} MiB  (target <= 64 MiB idle)",
            m.rss_kib as f64 / 1024.0,
            m.peak_kib as f64 / 1024.0
        );
    }
}

/// What one start of the worker measured.
struct Measured {
    first_cycle: Duration,
    window: Duration,
    cpu_s: f64,
    rss_kib: u64,
    peak_kib: u64,
}

/// Start `run`, wait for its first cycle, let it settle, then measure it idle over
/// `window`; stop it with SIGTERM (so its state is left as a stop leaves it).
fn measure(config: &std::path::Path, port: u16, tenants: usize, window: Duration) -> Measured {
    let started = Instant::now();
    let mut worker = Proc(
        Command::new(BIN)
            .arg("--config")
            .arg(config)
            .args(["-q", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the worker"),
    );
    let pid = worker.0.id();
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let client = reqwest::blocking::Client::new();
    // The first cycle is done when every tenant's poll is counted.
    loop {
        let text = client
            .get(&metrics)
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default();
        let polled = text
            .lines()
            .filter(|l| l.starts_with("acronis_watch_polls_total{"))
            .count();
        if polled >= tenants {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the first cycle did not finish in 30 minutes; /metrics said:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let first_cycle = started.elapsed();
    // Let the post-cycle work settle before measuring.
    std::thread::sleep(Duration::from_secs(5));
    let (cpu0, t0) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(window);
    let (cpu1, elapsed) = (cpu_ticks(pid), t0.elapsed());
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let (rss_kib, peak_kib) = memory_kib(pid);
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = worker.0.wait();
    Measured {
        first_cycle,
        window: elapsed,
        cpu_s: (cpu1 - cpu0) as f64 / hz,
        rss_kib,
        peak_kib,
    }
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of `pid`, in clock ticks (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}

/// (VmRSS, VmHWM) of `pid` in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

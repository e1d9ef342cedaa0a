//! Delivery benchmarks (issue 5): `cargo bench --bench deliver`.
//!
//! 1. Throughput to a loopback webhook with no effective rate limit, the outbox
//!    durable (each delivered item's removal flushed): target >= 2,000/s.
//! 2. Render time of a 500-alert grouped Slack message: target < 2 ms.
//! 3. Under a 1/s limit with a 1,000-item backlog: the achieved rate over the run is
//!    >= 95% of the allowed rate and no 1 s window holds more than the limit allows.
//!
//! Knobs: `DELIVER_BENCH_ITEMS` (default 5,000), `DELIVER_BENCH_RATE_SECS` (default 20).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acronis_watch::acronis::model::{AggregateStatus, Timestamp};
use acronis_watch::alerts::AlertSettings;
use acronis_watch::clock::Clock;
use acronis_watch::config;
use acronis_watch::evaluate::commit_page;
use acronis_watch::model::OutboxItem;
use acronis_watch::model::Severity;
use acronis_watch::model::{PageCommit, StoredResource};
use acronis_watch::notify::render::sample;
use acronis_watch::notify::{Deliverer, Renderer};
use acronis_watch::rules::{Condition, Matcher, Rule, RuleSet};
use acronis_watch::state::Store;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(run());
}

async fn run() {
    let items: usize = env("DELIVER_BENCH_ITEMS", 5000);
    let rate_secs: u64 = env("DELIVER_BENCH_RATE_SECS", 20);
    let arrivals = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let addr = sink(arrivals.clone()).await;

    // 1. Throughput.
    let (dir, store, cfg) = setup(addr, "100000/s", 1000);
    enqueue(&store, &cfg, items);
    let deliverer = make_deliverer(&store, &cfg);
    let started = Instant::now();
    let report = deliverer
        .run(
            Clock::starting_at(t0()),
            Duration::from_secs(120),
            &CancellationToken::new(),
        )
        .await;
    let elapsed = started.elapsed();
    let per_sec = report.sent as f64 / elapsed.as_secs_f64();
    println!(
        "throughput to a loopback webhook, durable outbox: {} sent in {:.2} s = {:.0}/s (target >= 2000/s: {})",
        report.sent,
        elapsed.as_secs_f64(),
        per_sec,
        if per_sec >= 2000.0 { "met" } else { "MISSED" }
    );
    assert_eq!(report.sent, items, "{report:?}");
    drop(dir);

    // 2. Render time of a 500-alert grouped Slack message.
    let renderer = Renderer::shipped(&cfg).expect("shipped templates");
    let slack = cfg
        .channels
        .iter()
        .find(|c| c.name == "chat")
        .expect("the slack channel");
    let item = grouped_item(500);
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let out = renderer.render(slack, &item, t0()).expect("it renders");
        times.push(started.elapsed());
        std::hint::black_box(out);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "render of a 500-alert grouped Slack message: median {:.3} ms, max {:.3} ms (target < 2 ms: {})",
        median.as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        if median < Duration::from_millis(2) {
            "met"
        } else {
            "MISSED"
        }
    );

    // 3. A 1/s limit with a backlog of 1,000.
    arrivals.lock().expect("not poisoned").clear();
    let (dir, store, cfg) = setup(addr, "1/s", 1);
    enqueue(&store, &cfg, 1000);
    let deliverer = make_deliverer(&store, &cfg);
    let started = Instant::now();
    let report = deliverer
        .run(
            Clock::starting_at(t0()),
            Duration::from_secs(rate_secs),
            &CancellationToken::new(),
        )
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let at: Vec<f64> = arrivals
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|t| t.duration_since(started).as_secs_f64())
        .collect();
    // GCRA with burst 1 at 1/s: any window shorter than 1 s holds at most one arrival.
    let max_in_window = at
        .iter()
        .map(|&s| at.iter().filter(|&&t| t >= s && t < s + 0.999).count())
        .max()
        .unwrap_or(0);
    // Arrivals per second between the first and the last (n arrivals span n - 1 gaps).
    let span = match (at.first(), at.last()) {
        (Some(first), Some(last)) if at.len() > 1 => last - first,
        _ => f64::INFINITY,
    };
    let achieved = (at.len().saturating_sub(1)) as f64 / span;
    println!(
        "1/s limit, 1000 queued, {elapsed:.1} s: {} sent = {:.3}/s ({:.1}% of the limit; target >= 95%: {}), at most {max_in_window} in any window under 1 s (never above: {})",
        report.sent,
        achieved,
        achieved * 100.0,
        if achieved >= 0.95 { "met" } else { "MISSED" },
        if max_in_window <= 1 {
            "met"
        } else {
            "EXCEEDED"
        }
    );
    drop(dir);
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn t0() -> DateTime<Utc> {
    "2026-11-23T12:00:00Z".parse().expect("a time")
}

/// A loopback webhook answering 200 and noting arrival times.
async fn sink(arrivals: Arc<Mutex<Vec<Instant>>>) -> SocketAddr {
    let app = axum::Router::new().fallback(move || {
        let arrivals = arrivals.clone();
        async move {
            arrivals.lock().expect("not poisoned").push(Instant::now());
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn setup(addr: SocketAddr, rate: &str, burst: u32) -> (tempfile::TempDir, Store, config::Config) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let text = format!(
        r#"
[acronis]
datacenter_url = "http://{addr}"
client_id = "bench"
client_secret = "bench"
[state]
path = "state"
[[channel]]
name = "hook"
type = "webhook"
url = "http://{addr}/hook"
rate = "{rate}"
burst = {burst}
[[channel]]
name = "chat"
type = "slack"
url = "http://{addr}/slack"
"#
    );
    let cfg = config::parse(&dir.path().join("worker.toml"), &text, &|_| None).expect("config");
    let store = Store::open(&cfg.state.path, 16).expect("the store");
    (dir, store, cfg)
}

/// `n` single-alert items for the webhook, as a storm of critical machines makes them.
fn enqueue(store: &Store, cfg: &config::Config, n: usize) {
    let rule = Rule {
        name: "machine-critical".into(),
        description: "bench".into(),
        severity: Severity::Critical,
        notify: vec!["hook".into()],
        condition: Condition::Status(vec![AggregateStatus::Critical]),
        matcher: Matcher::default(),
        repeat: None,
        resolve: false,
        group_window: Duration::ZERO,
        flap: None,
        file: "rules/bench.toml".into(),
        line: 1,
    };
    let eval = AlertSettings {
        rules: Arc::new(RuleSet { rules: vec![rule] }),
        ..AlertSettings::new(RuleSet::default(), cfg)
    };
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let page = PageCommit {
            tenant: "bench-tenant".into(),
            upserts: chunk.iter().map(|&k| machine(k)).collect(),
            ..Default::default()
        };
        commit_page(store, &page, &eval, t0()).expect("a page commits");
    }
}

fn machine(k: usize) -> StoredResource {
    StoredResource {
        tenant_id: "bench-tenant".into(),
        id: format!("00000000-0000-4000-8000-{k:012x}"),
        name: format!("host-{k}"),
        kind: "resource.machine".into(),
        api_tenant_id: None,
        agent_id: None,
        external_id: None,
        status: AggregateStatus::Critical,
        plans: None,
        created_at: Some(Timestamp(t0())),
        updated_at: Some(Timestamp(t0())),
        policies: vec![],
        agent: None,
        cyberfit: None,
    }
}

fn make_deliverer(store: &Store, cfg: &config::Config) -> Deliverer {
    let renderer = Renderer::shipped(cfg).expect("shipped templates");
    Deliverer::from_config(store.clone(), renderer, cfg).expect("a deliverer")
}

/// A Slack group of `n` alerts (the outbox keeps 200 in full and counts the rest).
fn grouped_item(n: usize) -> OutboxItem {
    let mut items = sample::items(t0());
    let mut item = items.remove(0);
    let template = item.alerts[0].clone();
    item.alerts.clear();
    for i in 0..n {
        let mut a = template.clone();
        a.key = format!("machine-critical/t/{i}");
        a.resource.name = format!("SQL-PROD-{i:03}");
        item.push(a);
    }
    item.channel = "chat".into();
    item
}

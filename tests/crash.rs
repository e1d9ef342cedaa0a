//! The crash test (SPEC §7): `run` against the simulator and a slow loopback webhook
//! is killed with SIGKILL at random instants, across start-up, polls, commits and
//! deliveries, and restarted each time; machines turn critical and back meanwhile,
//! between runs and during them. After every kill the state directory must open, and
//! every tenant's watermark must cover only updates the store holds. At the end,
//! after one `once` that drains the outbox:
//!
//! - every alert transition the worker saw was delivered at least once (a firing for
//!   each turn to critical, a resolution for each turn back);
//! - a message arrived more than once only if it was the one in flight at a kill;
//! - the store holds exactly what the simulator holds, and the outbox and dead
//!   letters are empty.
//!
//! Every fourth kill is aimed at a commit: the run is killed as soon as its log says a
//! page was fetched (its commit follows), so commits are hit more often than their
//! share of the time would give.
//!
//! `CRASH_KILLS` (default 200) sets the number of kills and `CRASH_SEED` the random
//! instants (printed, to rerun a failure): `CRASH_KILLS=1000 cargo test --test crash
//! -- --nocapture` for a longer run.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use acronis_watch::simulator::{Endpoint, Fault, ResourcePatch};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use support::sinks::{HttpSink, Recorded, Reply};
use support::{BIN, Sim, WorkDir, code, text, webhook_channel};

/// How long the sink holds every answer: a delivery is in flight for at least this.
const SLOW: Duration = Duration::from_millis(50);
/// Each listing page is held this long by the simulator, so kills land in polls too.
const PAGE_DELAY_MS: u64 = 20;
/// A run is killed at a uniformly random instant within this long of its start.
const LONGEST_RUN: Duration = Duration::from_millis(600);

/// Long enough for the first cold poll of the fleet in pages of 3.
const COLD_POLL: Duration = Duration::from_secs(5);

const RULE: &str = r#"
[[rule]]
name = "crit"
notify = ["hook"]
when.status = ["critical"]
resolve = true
"#;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the simulator holds of one machine.
struct Truth {
    customer: String,
    updated_at: DateTime<Utc>,
    critical: bool,
}

fn truth(sim: &Sim) -> BTreeMap<String, Truth> {
    sim.sim
        .resources(None, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| {
            let t = Truth {
                customer: r.customer,
                updated_at: r.updated_at,
                critical: r.status.as_deref() == Some("critical"),
            };
            (r.id, t)
        })
        .collect()
}

/// `state <what> --json` (which must open the state directory), parsed.
async fn state(work: &WorkDir, what: &str) -> Vec<Value> {
    let out = work.run(&["state", what, "--json"]).await;
    assert_eq!(
        code(&out),
        0,
        "state {what} after a kill: the state directory must open: {}",
        text(&out)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Every stored machine's `updated_at`, from `state resources --json`.
async fn stored(work: &WorkDir) -> HashMap<String, DateTime<Utc>> {
    state(work, "resources")
        .await
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap().to_string();
            (id, time(&r["updated_at"]))
        })
        .collect()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("a time, not {v}"))
        .parse()
        .unwrap()
}

/// What the worker was doing when it died, from the last line it logged (`-v`, JSON).
fn phase(log: &Path) -> &'static str {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let last = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok());
    let message = last
        .as_ref()
        .and_then(|v| v["message"].as_str())
        .unwrap_or("");
    match message {
        "" | "worker started" => "start-up",
        "page fetched" => "commit",
        "sending" => "delivery",
        "fetched a base token"
        | "page committed"
        | "alert fired"
        | "alert resolved"
        | "poll ok" => "poll",
        _ => "between",
    }
}

/// One alert event as the webhook carries it: key, status, fired_at.
type Event = (String, String, String);

fn events_of(request: &Recorded) -> Vec<Event> {
    request.json()["alerts"]
        .as_array()
        .expect("alerts[] in the webhook body")
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("key"), s("status"), s("fired_at"))
        })
        .collect()
}

/// Turn one machine critical, or back to idle, one millisecond later than anything
/// before (the simulator is frozen otherwise).
fn flip(sim: &Sim, id: &str, critical: bool) {
    sim.sim.advance(Duration::from_millis(1));
    let status = if critical { "critical" } else { "idle" };
    sim.sim
        .set_resource(
            id,
            ResourcePatch {
                status: Some(status.to_string()),
                ..ResourcePatch::default()
            },
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_instants_loses_nothing_and_repeats_only_messages_in_flight() {
    let kills = knob("CRASH_KILLS", 200) as usize;
    let seed = knob(
        "CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    eprintln!("crash test: {kills} kills, CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let sim = Sim::small(300, 4).await;
    sim.sim.add_fault(Fault {
        endpoint: Some(Endpoint::ResourceStatuses),
        count: u32::MAX,
        delay_ms: Some(PAGE_DELAY_MS),
        ..Fault::default()
    });
    let sink = HttpSink::start().await;
    sink.set_default(Reply::status(200).delay(SLOW));
    // No overlap and small pages: an incremental poll spans pages, and only the
    // watermark decides what it reads again.
    let work = WorkDir::new(
        &sim.url,
        "poll_every = \"1s\"\noverlap = \"0s\"\npage_size = 3",
    );
    work.append_config(&webhook_channel("hook", &sink.url("/hook")));
    work.write_rules("crit.toml", RULE);

    // Per machine: its criticality when the store last agreed with the simulator, and
    // the transitions expected from that (a firing or a resolution each).
    let mut settled: HashMap<String, bool> = HashMap::new();
    let mut expected: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut agreed: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut watermarks: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut phases: BTreeMap<&str, usize> = BTreeMap::new();
    // (start, kill) of every run, to find the message in flight at each kill.
    let mut runs: Vec<(Instant, Instant)> = Vec::new();
    let mut flips = 0;
    let logs = tempfile::tempdir().unwrap();

    for i in 0..kills {
        // Machines the store agrees on may change again; a change to one it has not
        // seen yet would hide a transition from the count.
        // A machine changes at most once between two looks at the store.
        let mut eligible: Vec<String> = {
            let t = truth(&sim);
            let mut v: Vec<String> = t
                .keys()
                .filter(|id| agreed.get(*id) == t.get(*id).map(|m| &m.updated_at))
                .cloned()
                .collect();
            v.sort();
            v
        };
        let mut pick = |rng: &mut StdRng, sim: &Sim| {
            if eligible.is_empty() {
                return;
            }
            let id = eligible.swap_remove(rng.random_range(0..eligible.len()));
            let now_critical = truth_of(sim, &id);
            flip(sim, &id, !now_critical);
            flips += 1;
        };
        if i > 0 {
            for _ in 0..2 {
                pick(&mut rng, &sim);
            }
        }

        let log = logs.path().join(format!("run-{i}.log"));
        let mut child = tokio::process::Command::new(BIN)
            .arg("--config")
            .arg(work.config())
            .args(["-v", "--log-format", "json", "run"])
            .current_dir(work.path())
            .env("TEST_CLIENT_SECRET", "sim-secret")
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let started = Instant::now();
        // The first run is given the time of its cold poll (a full pass is not resumed
        // after a kill: it starts again).
        let first = if i == 0 { COLD_POLL } else { Duration::ZERO };
        let lifetime = first + LONGEST_RUN.mul_f64(rng.random::<f64>());
        // One more change while it runs, at a random point of its life.
        let during = lifetime.mul_f64(rng.random::<f64>());
        tokio::time::sleep(during).await;
        if i > 0 {
            pick(&mut rng, &sim);
        }
        if i % 4 == 3 {
            // Aimed at a commit: killed as soon as a page is logged fetched (the
            // commit runs until "page committed"), or at the end of its life.
            let until = Instant::now() + (lifetime - during);
            while Instant::now() < until && phase(&log) != "commit" {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        } else {
            tokio::time::sleep(lifetime - during).await;
        }
        let killed = Instant::now();
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(
            status.code(),
            None,
            "run {i} died of the kill, not by itself"
        );
        runs.push((started, killed));
        *phases.entry(phase(&log)).or_insert(0) += 1;

        // The state directory opens, and every watermark covers only what is stored.
        let stored = stored(&work).await;
        let t = truth(&sim);
        for row in state(&work, "tenants").await {
            if row["mode"].is_null() {
                // Listed, never polled: the simulator's disabled former customer.
                assert_eq!(row["enabled"], false, "{row}");
                continue;
            }
            let tenant = row["tenant_id"].as_str().unwrap().to_string();
            let w = time(&row["watermark"]);
            if let Some(before) = watermarks.insert(tenant.clone(), w) {
                assert!(w >= before, "kill {i}: {tenant}'s watermark went back");
            }
            for (id, m) in t.iter().filter(|(_, m)| m.customer == tenant) {
                if m.updated_at <= w {
                    assert_eq!(
                        stored.get(id),
                        Some(&m.updated_at),
                        "kill {i}: {tenant}'s watermark {w} is past the update of {id} at {}, \
                         which the store does not hold",
                        m.updated_at
                    );
                }
            }
        }
        count_agreements(&t, &stored, &mut agreed, &mut settled, &mut expected);
    }

    // Drain: one `once` polls what is left and delivers the whole outbox.
    let drained_from = Instant::now();
    let out = work.run(&["once"]).await;
    assert_eq!(code(&out), 0, "the final once: {}", text(&out));
    let t = truth(&sim);
    let stored = stored(&work).await;
    let in_sim: HashMap<String, DateTime<Utc>> =
        t.iter().map(|(id, m)| (id.clone(), m.updated_at)).collect();
    assert_eq!(stored, in_sim, "the store ends where the simulator is");
    count_agreements(&t, &stored, &mut agreed, &mut settled, &mut expected);
    assert_eq!(state(&work, "outbox").await, Vec::<Value>::new());
    assert_eq!(state(&work, "dead").await, Vec::<Value>::new());

    // What arrived, per event, and which requests were in flight at a kill: the last
    // one each killed run sent.
    let requests = sink.requests();
    let in_flight: Vec<usize> = runs
        .iter()
        .enumerate()
        .filter_map(|(k, (start, _))| {
            let end = runs.get(k + 1).map_or(drained_from, |r| r.0);
            requests.iter().rposition(|r| r.at >= *start && r.at < end)
        })
        .collect();
    let mut arrivals: BTreeMap<Event, Vec<usize>> = BTreeMap::new();
    for (n, r) in requests.iter().enumerate() {
        for e in events_of(r) {
            arrivals.entry(e).or_default().push(n);
        }
    }
    let mut duplicates = 0;
    for (event, copies) in &arrivals {
        for &n in &copies[..copies.len() - 1] {
            duplicates += 1;
            assert!(
                in_flight.contains(&n),
                "{event:?} arrived {} times, and request #{n} was not in flight at a kill",
                copies.len()
            );
        }
    }
    let mut got: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (key, status, _) in arrivals.keys() {
        let e = got.entry(key.clone()).or_default();
        match status.as_str() {
            "firing" => e.0 += 1,
            "resolved" => e.1 += 1,
            other => panic!("{key}: status {other}"),
        }
    }
    let want: BTreeMap<String, (usize, usize)> = expected
        .iter()
        .filter(|(_, n)| **n != (0, 0))
        .map(|(id, n)| (key_of(&t, id), *n))
        .collect();
    let transitions: usize = want.values().map(|(f, r)| f + r).sum();
    eprintln!(
        "crash test: {kills} kills by phase {phases:?}; {flips} changes; {transitions} \
         transitions expected, {} distinct delivered; {} requests, {duplicates} duplicates \
         ({} runs sent something)",
        arrivals.len(),
        requests.len(),
        in_flight.len()
    );
    let differ: Vec<_> = want
        .keys()
        .chain(got.keys())
        .filter(|k| want.get(*k) != got.get(*k))
        .map(|k| {
            (
                k,
                want.get(k),
                got.get(k),
                arrivals.keys().filter(|e| &e.0 == k).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "(firings, resolutions) per alert key: (key, expected, delivered, events): {differ:#?}"
    );
    assert!(duplicates <= kills);
    for hit in ["poll", "delivery"] {
        assert!(
            phases.get(hit).copied().unwrap_or(0) > 0,
            "no kill landed in {hit}: {phases:?}"
        );
    }
}

fn truth_of(sim: &Sim, id: &str) -> bool {
    sim.sim
        .resource(id)
        .unwrap()
        .status
        .is_some_and(|s| s == "critical")
}

fn key_of(t: &BTreeMap<String, Truth>, id: &str) -> String {
    format!("crit/{}/{id}", t[id].customer)
}

/// For every machine the store now agrees on (same `updated_at`), count a transition
/// if its criticality differs from the last agreement (or it is critical at first
/// sight), and remember the agreement.
fn count_agreements(
    t: &BTreeMap<String, Truth>,
    stored: &HashMap<String, DateTime<Utc>>,
    agreed: &mut HashMap<String, DateTime<Utc>>,
    settled: &mut HashMap<String, bool>,
    expected: &mut BTreeMap<String, (usize, usize)>,
) {
    for (id, m) in t {
        if stored.get(id) != Some(&m.updated_at) {
            continue;
        }
        agreed.insert(id.clone(), m.updated_at);
        let before = settled.insert(id.clone(), m.critical).unwrap_or(false);
        let e = expected.entry(id.clone()).or_default();
        match (before, m.critical) {
            (false, true) => e.0 += 1,
            (true, false) => e.1 += 1,
            _ => {}
        }
    }
}

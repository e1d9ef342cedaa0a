//! Property: with a datacenter whose status changes do not move `updated_at` (the
//! simulator's no-bump switch), for any sequence of changes and polls under
//! `incremental = "auto"`, every change is alerted no later than the next full pass,
//! and once a miss has been found, no later than the next poll (every poll is then a
//! full pass).

mod support;

use std::collections::BTreeSet;

use acronis_watch::simulator::SimOptions;
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{Sim, WorkDir, code, text};

#[derive(Debug, Clone)]
enum Op {
    /// Turn the n-th healthy machine (modulo how many are left) to `error`.
    Change(usize),
    /// Advance the worker's clock by this many minutes and poll.
    Poll(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..1000).prop_map(Op::Change),
        // Short steps (incremental polls, or a full pass once full_resync_every has
        // passed since the last one) and long ones (past full_resync_every).
        prop_oneof![2 => 1i64..20, 1 => 60i64..130].prop_map(Op::Poll),
    ]
}

async fn run(seed: u64, ops: Vec<Op>) {
    let sim = Sim::start(SimOptions {
        fleet: 30,
        tenants: 1,
        seed,
        start: Some("2026-11-02T10:00:00Z".parse().unwrap()),
        ..SimOptions::default()
    })
    .await;
    sim.post("/_sim/config", json!({"status_moves_updated_at": false}))
        .await;
    let work = WorkDir::new(&sim.url, "full_resync_every = \"1h\"");
    work.write_rules(
        "error.toml",
        "[[rule]]\nname = \"error\"\nseverity = \"error\"\nwhen.status = [\"error\"]\n",
    );
    let mut now: chrono::DateTime<chrono::Utc> = "2026-11-02T10:00:00Z".parse().unwrap();
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let out = work.run(&["once", "--now", &stamp(now)]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let fleet = sim.get("/_sim/resources?limit=1000").await;
    let mut healthy: Vec<String> = fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["deleted_at"].is_null() && r["status"] != "error")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let mut changed: BTreeSet<String> = BTreeSet::new();
    let mut missed_before = false;
    for op in ops {
        match op {
            Op::Change(n) => {
                if healthy.is_empty() {
                    continue;
                }
                let id = healthy.remove(n % healthy.len());
                sim.post(
                    &format!("/_sim/resources/{id}"),
                    json!({"status": "error", "policies": [
                        {"type": "policy.backup.machine", "last_run": stamp(now)}
                    ]}),
                )
                .await;
                changed.insert(id);
            }
            Op::Poll(minutes) => {
                now += chrono::Duration::minutes(minutes);
                let out = work
                    .run(&["--log-format", "json", "once", "--now", &stamp(now)])
                    .await;
                assert_eq!(code(&out), 0, "{}", text(&out));
                let full = String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .find(|e| e["message"] == "poll ok")
                    .map(|e| e["full"] == true)
                    .expect("one poll ok event");
                if missed_before {
                    assert!(full, "after a miss every poll is a full pass");
                }
                if full {
                    let firing: BTreeSet<String> = work
                        .state_json("alerts")
                        .await
                        .iter()
                        .filter(|a| a["status"] == "firing")
                        .map(|a| a["resource_id"].as_str().unwrap().to_string())
                        .collect();
                    let late: Vec<&String> = changed.difference(&firing).collect();
                    assert!(late.is_empty(), "not alerted by a full pass: {late:?}");
                }
                let tenants = work.state_json("tenants").await;
                missed_before = tenants
                    .iter()
                    .any(|t| t["incremental_misses"].as_u64().unwrap_or(0) > 0);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn every_missed_change_is_alerted_by_the_next_full_pass(
        seed in 0u64..1000,
        ops in proptest::collection::vec(op(), 4..12),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(seed, ops));
    }
}

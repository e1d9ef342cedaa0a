//! Real-platform fidelity, end to end against the simulator: a full pass that finds
//! nothing changed writes nothing; full passes check the incremental ones (misses,
//! `incremental = auto | always | never`); disabled customers are not polled.

mod support;

use serde_json::{Value, json};
use support::{Sim, WorkDir, code, text};

const T0: &str = "2026-11-02T10:00:00Z";

/// `state tenants --json`, parsed.
async fn tenants(work: &WorkDir) -> Vec<Value> {
    work.state_json("tenants").await
}

fn row<'a>(rows: &'a [Value], tenant: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["id"] == tenant)
        .unwrap_or_else(|| panic!("no row for {tenant} in {rows:?}"))
}

/// The `poll ok` events of a run with `--log-format json` (fields flattened).
fn polls(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["message"] == "poll ok")
        .collect()
}

/// `once --now NOW` with JSON logs.
async fn once_json(work: &WorkDir, now: &str) -> std::process::Output {
    work.run(&["--log-format", "json", "once", "--now", now])
        .await
}

/// Total bytes of the files under `dir`.
fn du(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            du(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// A machine of `tenant` that has a backup policy, from the simulator's view.
async fn machine_of(sim: &Sim, tenant: &str) -> Value {
    let view = sim.get(&format!("/_sim/resources?tenant={tenant}")).await;
    view["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["deleted_at"].is_null()
                && r["status"] != "error"
                && r["updated_at"].as_str().unwrap() < "2026-11-02T09:50"
                && r["policies"].to_string().contains("policy.backup.machine")
        })
        .cloned()
        .expect("a machine with a backup policy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pass_of_an_unchanged_fleet_writes_nothing_and_the_state_does_not_grow() {
    let sim = Sim::small(400, 2).await;
    let work = WorkDir::new(&sim.url, "page_size = 50");
    let out = once_json(&work, T0).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let cold: usize = polls(&out)
        .iter()
        .map(|p| p["written"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(cold, 400, "a cold poll writes every resource");

    // Two full passes (full_resync_every is 6h) of the same fleet.
    let mut sizes = Vec::new();
    for now in ["2026-11-02T17:00:00Z", "2026-11-03T00:00:00Z"] {
        let out = once_json(&work, now).await;
        assert_eq!(code(&out), 0, "{}", text(&out));
        let passes = polls(&out);
        assert_eq!(passes.len(), 2, "{}", text(&out));
        for p in &passes {
            assert_eq!(p["full"], true, "{p}");
            let tenant = p["tenant"].as_str().unwrap();
            assert!(
                p["stored"].as_u64().unwrap() >= sim.resource_count(tenant),
                "{p}"
            );
            assert_eq!(p["written"], 0, "an unchanged full pass wrote: {p}");
            assert_eq!(p["deleted"], 0, "{p}");
        }
        sizes.push(du(&work.path().join("state")));
    }
    assert!(
        sizes[1] <= sizes[0] + 64 * 1024,
        "the state directory grew across unchanged full passes: {sizes:?}"
    );

    // A deletion is still found by a full pass that rewrites nothing else.
    let gone = machine_of(&sim, &sim.customers()[0]).await;
    let id = gone["id"].as_str().unwrap();
    let url = format!("{}/_sim/resources/{id}?purge=true", sim.url);
    let resp = reqwest::Client::new().delete(url).send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let out = once_json(&work, "2026-11-03T07:00:00Z").await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let passes = polls(&out);
    let deleted: u64 = passes.iter().map(|p| p["deleted"].as_u64().unwrap()).sum();
    let written: u64 = passes.iter().map(|p| p["written"].as_u64().unwrap()).sum();
    assert_eq!((deleted, written), (1, 0), "{passes:?}");
    assert!(!work.resources().await.iter().any(|r| r["id"] == id));
}

/// A changed status that does not move `updated_at`, patched in with the simulator's
/// switch off; returns the machine's id.
async fn silent_failure(sim: &Sim, tenant: &str, last_run: &str) -> String {
    sim.post("/_sim/config", json!({"status_moves_updated_at": false}))
        .await;
    let m = machine_of(sim, tenant).await;
    let id = m["id"].as_str().unwrap().to_string();
    let before = m["updated_at"].clone();
    sim.post(
        &format!("/_sim/resources/{id}"),
        json!({"status": "error", "policies": [{"type": "policy.backup.machine", "last_run": last_run}]}),
    )
    .await;
    let after = sim.get(&format!("/_sim/resources/{id}")).await;
    assert_eq!(after["updated_at"], before, "the switch keeps updated_at");
    assert_eq!(after["status"], "error");
    id
}

const ERROR_RULE: &str = r#"
[[rule]]
name = "machine-error"
severity = "error"
when.status = ["error"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pass_finds_what_the_incremental_polls_missed_and_auto_switches_to_full() {
    let sim = Sim::small(120, 2).await;
    let work = WorkDir::new(&sim.url, "");
    work.write_rules("error.toml", ERROR_RULE);
    assert_eq!(code(&work.run(&["once", "--now", T0]).await), 0);
    let customers = sim.customers();
    let (missed_tenant, other) = (&customers[0], &customers[1]);
    let id = silent_failure(&sim, missed_tenant, "2026-11-02T10:03:00Z").await;

    // The incremental poll cannot see it: updated_at did not move.
    let out = work.run(&["once", "--now", "2026-11-02T10:05:00Z"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stored = work.resources().await;
    let r = stored.iter().find(|r| r["id"] == id.as_str()).unwrap();
    assert_ne!(
        r["status"], "error",
        "an incremental poll saw an unbumped change"
    );

    // The full pass does, counts it as a miss, and fires the alert dated when the run
    // happened.
    let out = once_json(&work, "2026-11-02T16:10:00Z").await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let log = text(&out);
    assert!(
        log.contains("incremental polls missed") && log.contains(&id),
        "one WARN with the count and an example: {log}"
    );
    let rows = tenants(&work).await;
    assert_eq!(row(&rows, missed_tenant)["mode"], "full", "{rows:?}");
    assert_eq!(row(&rows, missed_tenant)["incremental_misses"], 1);
    assert_eq!(row(&rows, other)["mode"], "incremental");
    assert_eq!(row(&rows, other)["incremental_misses"], 0);
    let alerts = work.state_json("alerts").await;
    let alert = alerts
        .iter()
        .find(|a| a["resource_id"] == id.as_str())
        .expect("the missed change fired");
    assert_eq!(alert["fired_at"], "2026-11-02T10:03:00Z", "{alert}");

    // From then on (and across restarts: each `once` is a new process) that tenant's
    // polls are full passes; the other's stay incremental.
    let out = once_json(&work, "2026-11-02T16:15:00Z").await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let passes = polls(&out);
    let full = |t: &str| {
        passes
            .iter()
            .find(|p| p["tenant"] == t)
            .map(|p| p["full"].clone())
    };
    assert_eq!(full(missed_tenant), Some(json!(true)), "{passes:?}");
    assert_eq!(full(other), Some(json!(false)), "{passes:?}");

    // `state reset-incremental` goes back.
    let out = work
        .run(&["state", "reset-incremental", "--tenant", missed_tenant])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        row(&tenants(&work).await, missed_tenant)["mode"],
        "incremental"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_only_reports_misses_and_never_polls_full_every_time() {
    let sim = Sim::small(60, 1).await;
    let work = WorkDir::new(&sim.url, "incremental = \"always\"");
    assert_eq!(code(&work.run(&["once", "--now", T0]).await), 0);
    let tenant = sim.customers()[0].clone();
    silent_failure(&sim, &tenant, "2026-11-02T10:03:00Z").await;
    assert_eq!(
        code(&work.run(&["once", "--now", "2026-11-02T10:05:00Z"]).await),
        0
    );
    let out = work.run(&["once", "--now", "2026-11-02T16:10:00Z"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("incremental polls go on"),
        "{}",
        text(&out)
    );
    let rows = tenants(&work).await;
    assert_eq!(row(&rows, &tenant)["mode"], "incremental");
    assert_eq!(row(&rows, &tenant)["incremental_misses"], 1);

    let work = WorkDir::new(&sim.url, "incremental = \"never\"");
    for now in [T0, "2026-11-02T10:05:00Z"] {
        let out = once_json(&work, now).await;
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert!(
            polls(&out).iter().all(|p| p["full"] == true),
            "{}",
            text(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_customers_are_not_polled_and_are_shown_by_state_tenants() {
    let sim = Sim::small(90, 3).await;
    // The simulated fleet has a former customer, disabled, and one more is switched off.
    let former = sim.disabled_customers();
    assert_eq!(former.len(), 1);
    let customers = sim.customers();
    let off = &customers[1];
    sim.post(&format!("/_sim/tenants/{off}"), json!({"enabled": false}))
        .await;
    let work = WorkDir::new(&sim.url, "");
    let out = work.run(&["once", "--now", T0]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        text(&out).matches("customer is disabled").count(),
        2,
        "each disabled customer logged once: {}",
        text(&out)
    );
    // No request of any kind under their scope (no token exchange either).
    let counters = serde_json::to_value(sim.sim.counters()).unwrap();
    for t in [off, &former[0]] {
        assert!(
            counters["resource_statuses_by_tenant"]
                .get(t.as_str())
                .is_none(),
            "{counters}"
        );
    }
    let stored = work.resources().await;
    assert!(!stored.iter().any(|r| r["tenant_id"] == off.as_str()));
    assert_eq!(
        stored.len() as u64,
        sim.resource_count(&customers[0]) + sim.resource_count(&customers[2])
    );
    let rows = tenants(&work).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(row(&rows, off)["enabled"], false);
    assert_eq!(row(&rows, &former[0])["enabled"], false);
    assert!(row(&rows, off)["mode"].is_null());
    assert_eq!(row(&rows, &customers[0])["enabled"], true);

    // Enabled again: polled at the next listing.
    sim.post(&format!("/_sim/tenants/{off}"), json!({"enabled": true}))
        .await;
    let out = work.run(&["once", "--now", "2026-11-02T10:05:00Z"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        work.resources()
            .await
            .iter()
            .any(|r| r["tenant_id"] == off.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_walks_the_first_contact_and_says_what_it_found() {
    let sim = Sim::small(80, 3).await;
    let customers = sim.customers();
    sim.post(
        &format!("/_sim/tenants/{}", customers[2]),
        json!({"enabled": false}),
    )
    .await;
    let work = WorkDir::new(&sim.url, "");
    let out = work.run(&["doctor"]).await;
    let said = text(&out);
    assert_eq!(code(&out), 0, "{said}");
    for expected in [
        "1. Base token",
        "lifetime 2h",
        "4 customer tenant(s) found, 2 disabled",
        "disabled (enabled: false), not polled",
        "Tenant-scoped token",
        "the page carries `timestamp`",
        "x resource.machine",
        "no type filter is sent",
        "Alert Manager (platform alerts",
        "updated_at=gt(...) with show_deleted=true is accepted",
        "This config can work",
    ] {
        assert!(said.contains(expected), "missing {expected:?} in:\n{said}");
    }
    assert!(!said.contains("sim-secret"), "{said}");

    // Only physical machines watched: the agentless VMs the tenant has are named.
    let narrow = WorkDir::new(&sim.url, "resource_types = [\"resource.machine\"]");
    let fleet = sim.get("/_sim/resources?limit=100000").await;
    let vm_tenant = fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["type"]
                .as_str()
                .unwrap()
                .starts_with("resource.virtual_machine")
        })
        .find(|r| r["customer"] != customers[2].as_str())
        .map(|r| r["customer"].as_str().unwrap().to_string())
        .expect("the simulated fleet has agentless VMs");
    let out = narrow.run(&["doctor", "--tenant", &vm_tenant]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("are not watched by resource_types"),
        "{}",
        text(&out)
    );

    // A wrong secret fails the first step, says what to do, and exits 1.
    let out = work
        .run_env(&["doctor"], &[("TEST_CLIENT_SECRET", "wrong-secret")])
        .await;
    let said = text(&out);
    assert_eq!(code(&out), 1, "{said}");
    assert!(
        said.contains("FAIL") && said.contains("client_secret"),
        "{said}"
    );
    assert!(!said.contains("wrong-secret"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_token_mode_files_each_machine_under_its_own_customer() {
    let sim = Sim::small(90, 3).await;
    // A machine sitting directly in a customer (not a unit), made critical.
    let fleet = sim.get("/_sim/resources?limit=100000").await;
    let m = fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tenant"] == r["customer"] && r["deleted_at"].is_null())
        .unwrap()
        .clone();
    let (id, filed) = (m["id"].as_str().unwrap(), m["tenant_id"].as_str().unwrap());
    let info = serde_json::to_value(sim.sim.fleet_info()).unwrap();
    let customer = info["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == m["customer"])
        .unwrap();
    sim.post(
        &format!("/_sim/resources/{id}"),
        json!({"status": "critical"}),
    )
    .await;

    let work = WorkDir::new(&sim.url, "");
    // No `tenants` key: one poll with the base token.
    let cfg = std::fs::read_to_string(work.config()).unwrap();
    // A digest channel is configured (nothing is sent: the digest below is a dry run).
    work.write_config(&format!(
        "{}\n[[channel]]\nname = \"mail\"\ntype = \"email\"\nsmtp = \"smtp://127.0.0.1:9\"\n\
         from = \"a@msp.example\"\nto = [\"noc@msp.example\"]\n\n\
         [digest]\ncron = \"0 0 8 * * Mon\"\nchannel = \"mail\"\n\n\
         [tenant.\"{filed}\"]\ndigest_to = [\"it@customer.example\"]\n",
        cfg.replace("tenants = \"children\"\n", "")
    ));
    work.write_rules(
        "critical.toml",
        &format!(
            "[[rule]]\nname = \"critical\"\nseverity = \"critical\"\nwhen.status = [\"critical\"]\n\
             match.tenant = [\"{filed}\"]\n"
        ),
    );
    let out = work.run(&["once", "--now", T0]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));

    // Every machine is filed under the tenant its context names, none under the partner.
    let rows = work.resources().await;
    assert_eq!(rows.len(), 90);
    let partner = info["partner_id"].as_str().unwrap();
    assert!(!rows.iter().any(|r| r["tenant_id"] == partner), "{rows:?}");
    let stored = rows.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(stored["tenant_id"], filed);

    // The alert names the customer, and match.tenant took the customer's id.
    let alerts = work.state_json("alerts").await;
    let alert = alerts
        .iter()
        .find(|a| a["resource_id"] == id)
        .unwrap_or_else(|| panic!("no alert for {id}: {alerts:?}"));
    assert_eq!(alert["tenant_id"], filed, "{alert}");
    assert!(alerts.iter().all(|a| a["tenant_id"] == filed), "{alerts:?}");

    // `state tenants` shows the partner's poll and the customers it filed, named.
    let rows = tenants(&work).await;
    assert_eq!(row(&rows, partner)["mode"], "incremental", "{rows:?}");
    assert_eq!(row(&rows, filed)["name"], customer["name"], "{rows:?}");

    // A digest for the customer names it.
    let out = work
        .run(&["digest", "--tenant", filed, "--dry-run", "--now", T0])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains(customer["name"].as_str().unwrap()),
        "{}",
        text(&out)
    );
}

//! The poller end to end: the real binary (`once`, `state resources`) against the
//! built-in simulator on loopback.

mod support;

use serde_json::{Value, json};
use support::{Sim, WorkDir, code, ids, tenant_ids, text};

const NOW: &str = "2026-11-02T10:00:00Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_poll_of_several_tenants_stores_every_resource() {
    let sim = Sim::small(150, 4).await;
    let work = WorkDir::new(&sim.url, "");
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let rows = work.resources().await;
    assert_eq!(ids(&rows), sim.resource_ids(None).await);
    assert_eq!(rows.len(), 150);
    // Every row is keyed by the customer UUID it was scoped with, and has the documented shape.
    let customers = sim.customers();
    for r in &rows {
        assert!(
            customers.contains(&r["tenant_id"].as_str().unwrap().to_string()),
            "{r}"
        );
        for key in ["id", "name", "type", "status", "updated_at", "policies"] {
            assert!(r.get(key).is_some(), "missing {key} in {r}");
        }
    }
    // Per tenant, exactly that tenant's machines (units included).
    for c in &customers {
        assert_eq!(
            tenant_ids(&rows, c),
            sim.resource_ids(Some(c)).await,
            "tenant {c}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_poll_fetches_only_the_pages_it_needs() {
    let sim = Sim::small(300, 3).await;
    let work = WorkDir::new(&sim.url, "page_size = 10\noverlap = \"2m\"");
    assert_eq!(code(&work.run(&["once", "--now", NOW]).await), 0);
    let cold = sim.status_requests();
    assert!(
        cold >= 30,
        "a cold poll of 300 in pages of 10 needs 30+ pages, made {cold}"
    );

    sim.sim.advance(std::time::Duration::from_secs(600));
    let changed = sim.post("/_sim/touch", json!({"count": 12})).await;
    let changed: Vec<String> = changed["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(changed.len(), 12);
    sim.sim.reset_counters();
    let out = work.run(&["once", "--now", "2026-11-02T10:10:00Z"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let made = sim.status_requests();
    // Fleet evolution during the 10 simulated minutes may add a few changes of its own.
    let tenants = sim.customers().len() as u64;
    let bound = tenants * ((12 + 10) / 10 + 1 + 1);
    assert!(
        made <= bound,
        "incremental poll made {made} requests, bound {bound}"
    );
    assert!(made < cold / 3, "incremental {made} vs cold {cold}");
    // The changes arrived.
    let rows = work.resources().await;
    let sim_view = sim.get("/_sim/resources?limit=100000").await;
    let sim_items = sim_view
        .get("items")
        .or(Some(&sim_view))
        .and_then(Value::as_array)
        .unwrap()
        .clone();
    for id in &changed {
        let stored = rows
            .iter()
            .find(|r| r["id"] == id.as_str())
            .expect("changed resource stored");
        let truth = sim_items.iter().find(|r| r["id"] == id.as_str()).unwrap();
        assert_eq!(stored["status"], truth["status"], "resource {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_expire_mid_poll_are_refreshed() {
    let sim = Sim::small(120, 2).await;
    let work = WorkDir::new(&sim.url, "max_concurrent_tenants = 1");
    // The third statuses request finds every token expired (a real 401 AuthenticationTimeout).
    sim.post(
        "/_sim/faults",
        json!({"endpoint": "resource_statuses", "skip": 2, "expire_tokens": true}),
    )
    .await;
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(work.resources().await.len(), 120);
    // One base token + one scoped token per tenant, then at least one renewal.
    assert!(
        sim.token_requests() >= 2 + 2,
        "token requests: {}",
        sim.token_requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_and_the_poll_completes() {
    let sim = Sim::small(80, 2).await;
    let work = WorkDir::new(&sim.url, "");
    sim.post(
        "/_sim/faults",
        json!({"endpoint": "resource_statuses", "status": 429, "retry_after": 1}),
    )
    .await;
    sim.post(
        "/_sim/faults",
        json!({"endpoint": "resource_statuses", "skip": 1, "status": 500}),
    )
    .await;
    sim.post(
        "/_sim/faults",
        json!({"endpoint": "resource_statuses", "skip": 2, "status": 503, "body": "html"}),
    )
    .await;
    let started = std::time::Instant::now();
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    assert_eq!(work.resources().await.len(), 80);
    let c = serde_json::to_value(sim.sim.counters()).unwrap();
    assert!(c["faults_triggered"].as_u64().unwrap() >= 3, "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_page_fails_only_its_tenant_with_a_clear_error() {
    let sim = Sim::small(120, 3).await;
    let customers = sim.customers();
    let victim = customers
        .iter()
        .find(|c| sim.resource_count(c) > 20)
        .cloned()
        .expect("a tenant with two pages");
    let work = WorkDir::new(&sim.url, "");
    sim.post(
        "/_sim/faults",
        json!({"endpoint": "resource_statuses", "tenant": victim, "skip": 1, "body": "malformed"}),
    )
    .await;
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:") && l.contains(&victim))
        .unwrap_or_else(|| {
            panic!("no error line names tenant {victim}:\n{stderr}");
        });
    assert!(
        line.contains("resource_statuses") && line.contains("invalid response body"),
        "{line}"
    );
    let rows = work.resources().await;
    for c in customers.iter().filter(|c| **c != victim) {
        assert_eq!(
            tenant_ids(&rows, c),
            sim.resource_ids(Some(c)).await,
            "tenant {c} should be complete"
        );
    }
    // The victim's watermark did not move: the next poll is a full one again and completes.
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(ids(&work.resources().await), sim.resource_ids(None).await);
}

/// A cold poll of 60 machines in 2 tenants (`full_resync_every = "6h"`), then, a
/// minute later upstream, one machine deleted and one purged: (sim, work dir, the
/// deleted id, the purged id).
async fn one_deleted_one_purged() -> (Sim, WorkDir, String, String) {
    let sim = Sim::small(60, 2).await;
    let work = WorkDir::new(&sim.url, "full_resync_every = \"6h\"");
    assert_eq!(code(&work.run(&["once", "--now", NOW]).await), 0);
    let all = sim.resource_ids(None).await;
    let (deleted, purged) = (all[0].clone(), all[1].clone());
    sim.sim.advance(std::time::Duration::from_secs(60));
    sim.sim.delete_resource(&deleted, false).unwrap();
    sim.sim.delete_resource(&purged, true).unwrap();
    (sim, work, deleted, purged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_are_noticed_and_vanished_resources_go_on_full_resync() {
    let (sim, work, deleted, purged) = one_deleted_one_purged().await;

    // Incremental: the deletion (deleted_at, include_deleted) is seen; the vanished one is not.
    assert_eq!(
        code(&work.run(&["once", "--now", "2026-11-02T11:00:00Z"]).await),
        0
    );
    let stored = ids(&work.resources().await);
    assert!(!stored.contains(&deleted), "deleted resource still stored");
    assert!(
        stored.contains(&purged),
        "an incremental poll cannot know of a vanished resource"
    );

    // Full resync (6h later): the vanished one is gone too.
    assert_eq!(
        code(&work.run(&["once", "--now", "2026-11-02T16:30:00Z"]).await),
        0
    );
    let stored = ids(&work.resources().await);
    assert!(
        !stored.contains(&purged),
        "vanished resource survived a full resync"
    );
    assert_eq!(stored, sim.resource_ids(None).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_policy_time_spellings_are_read() {
    for spelling in ["short", "long"] {
        let sim = Sim::small(40, 1).await;
        sim.post("/_sim/config", json!({"time_fields": spelling}))
            .await;
        let work = WorkDir::new(&sim.url, "");
        assert_eq!(code(&work.run(&["once", "--now", NOW]).await), 0);
        let rows = work.resources().await;
        let with_success = rows
            .iter()
            .flat_map(|r| r["policies"].as_array().unwrap().iter())
            .filter(|p| p["type"] == "policy.backup.machine" && p["last_success_run"].is_string())
            .count();
        assert!(
            with_success > 10,
            "{spelling}: only {with_success} backup policies with a last success"
        );
        let with_next = rows
            .iter()
            .flat_map(|r| r["policies"].as_array().unwrap().iter())
            .filter(|p| p["next_run"].is_string())
            .count();
        assert!(
            with_next > 10,
            "{spelling}: only {with_next} policies with a next run"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bc_token_endpoint_is_used_when_api2_refuses_the_exchange_and_remembered() {
    let sim = Sim::small(60, 3).await;
    sim.post("/_sim/config", json!({"api2_jwt_bearer": false}))
        .await;
    let work = WorkDir::new(&sim.url, "");
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(work.resources().await.len(), 60);
    let c = serde_json::to_value(sim.sim.counters()).unwrap();
    // /api/2 tried once for the exchange (plus the base token), then /bc for every tenant.
    assert_eq!(c["requests"]["bc_token"].as_u64().unwrap(), 3, "{c}");
    assert_eq!(c["requests"]["token"].as_u64().unwrap(), 2, "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_fails_with_a_message_that_does_not_print_it() {
    let sim = Sim::small(10, 1).await;
    let work = WorkDir::new(&sim.url, "");
    let secret = "WRONG-s3cret-DO-NOT-PRINT";
    let out = work
        .run_env(
            &["-vv", "once", "--now", NOW],
            &[("TEST_CLIENT_SECRET", secret)],
        )
        .await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("401"), "{all}");
    assert!(!all.contains(secret), "the secret leaked:\n{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_appears_in_logs_at_verbose_levels() {
    let sim = Sim::start(acronis_watch::simulator::SimOptions {
        fleet: 30,
        tenants: 2,
        client_secret: "Sup3r-Secret-Client-Value".into(),
        ..Default::default()
    })
    .await;
    let work = WorkDir::new(&sim.url, "");
    sim.post(
        "/_sim/faults",
        json!({"endpoint": "resource_statuses", "skip": 1, "expire_tokens": true}),
    )
    .await;
    for format in ["text", "json"] {
        let out = work
            .run_env(
                &["-vv", "--log-format", format, "once"],
                &[("TEST_CLIENT_SECRET", "Sup3r-Secret-Client-Value")],
            )
            .await;
        assert_eq!(code(&out), 0, "{}", text(&out));
        let all = text(&out);
        assert!(!all.is_empty());
        assert!(
            !all.contains("Sup3r-Secret-Client-Value"),
            "client secret in output:\n{all}"
        );
        assert!(!all.contains("Bearer "), "a bearer token in output:\n{all}");
        assert!(
            !all.to_lowercase().contains("authorization"),
            "an auth header in output:\n{all}"
        );
        for token in sim.sim.issued_tokens() {
            assert!(!all.contains(&token), "token in output:\n{all}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_tenant_list_and_the_own_scope_poll_what_they_name() {
    let sim = Sim::small(90, 3).await;
    let customers = sim.customers();
    let work = WorkDir::new(&sim.url, "");
    let cfg = std::fs::read_to_string(work.config()).unwrap();
    work.write_config(&cfg.replace(
        "tenants = \"children\"",
        &format!("tenants = [\"{}\"]", customers[1]),
    ));
    assert_eq!(code(&work.run(&["once", "--now", NOW]).await), 0);
    assert_eq!(
        ids(&work.resources().await),
        sim.resource_ids(Some(&customers[1])).await
    );

    let own = WorkDir::new(&sim.url, "");
    let cfg = std::fs::read_to_string(own.config()).unwrap();
    own.write_config(&cfg.replace("tenants = \"children\"\n", ""));
    assert_eq!(code(&own.run(&["once", "--now", NOW]).await), 0);
    assert_eq!(ids(&own.resources().await), sim.resource_ids(None).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_the_tenants_between_replicas() {
    let sim = Sim::small(100, 6).await;
    let mut seen = Vec::new();
    for i in 0..2 {
        let work = WorkDir::new(&sim.url, &format!("shard = \"{i}/2\""));
        assert_eq!(code(&work.run(&["once", "--now", NOW]).await), 0);
        seen.extend(ids(&work.resources().await));
    }
    seen.sort();
    assert_eq!(
        seen,
        sim.resource_ids(None).await,
        "two shards together cover every tenant exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_resources_filters_by_tenant_and_prints_a_table() {
    let sim = Sim::small(50, 2).await;
    let work = WorkDir::new(&sim.url, "");
    assert_eq!(code(&work.run(&["once", "--now", NOW]).await), 0);
    let t = &sim.customers()[0];
    let out = work
        .run(&["state", "resources", "--tenant", t, "--json"])
        .await;
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.iter().all(|r| r["tenant_id"] == t.as_str()));
    assert_eq!(ids(&rows), sim.resource_ids(Some(t)).await);
    let table = work.run(&["state", "resources"]).await;
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("TENANT"), "{table}");
    assert!(table.contains("50 resource(s)"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_from_a_newer_version_is_refused_untouched() {
    let sim = Sim::small(10, 1).await;
    let work = WorkDir::new(&sim.url, "");
    {
        let db = sled::open(work.path().join("state")).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert(b"schema_version", &999u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("newer acronis-watch"), "{}", text(&out));
    let db = sled::open(work.path().join("state")).unwrap();
    assert_eq!(
        db.open_tree("meta")
            .unwrap()
            .get(b"schema_version")
            .unwrap()
            .unwrap()
            .as_ref(),
        &999u32.to_be_bytes()
    );
}

/// Every machine, agentless VMs included, under the default `resource_types` (a
/// family the API cannot filter by: every type is read, none is filtered away); exact
/// names narrow it, sent as `type=`; a family alone keeps only its members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_types_take_exact_names_and_families() {
    let sim = Sim::small(300, 3).await;
    let all = sim.get("/_sim/resources?limit=100000").await;
    let mut by_type: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in all["items"].as_array().unwrap() {
        if r["deleted_at"].is_null() {
            let list = by_type
                .entry(r["type"].as_str().unwrap().to_string())
                .or_default();
            list.push(r["id"].as_str().unwrap().to_string());
        }
    }
    let hyperv = "resource.virtual_machine.mshyperv";
    let esx = "resource.virtual_machine.vmwesx";
    assert!(
        by_type.contains_key(hyperv) && by_type.contains_key(esx),
        "the fleet has both VM types: {:?}",
        by_type.keys()
    );
    let ids_of = |types: &[&str]| -> Vec<String> {
        let mut ids: Vec<String> = types
            .iter()
            .flat_map(|t| by_type.get(*t).cloned().unwrap_or_default())
            .collect();
        ids.sort();
        ids
    };
    let stored_types = |rows: &[Value]| -> std::collections::BTreeSet<String> {
        rows.iter()
            .map(|r| r["type"].as_str().unwrap().to_string())
            .collect()
    };

    // The default.
    let work = WorkDir::new(&sim.url, "");
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let rows = work.resources().await;
    assert_eq!(ids(&rows), sim.resource_ids(None).await, "every resource");
    assert_eq!(
        stored_types(&rows),
        ["resource.machine", hyperv, esx].map(String::from).into(),
    );

    // Exact names: the API filters.
    let work = WorkDir::new(
        &sim.url,
        &format!("resource_types = [\"resource.machine\", \"{esx}\"]"),
    );
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        ids(&work.resources().await),
        ids_of(&["resource.machine", esx])
    );

    // A family alone: everything is read, only VMs are kept.
    let work = WorkDir::new(
        &sim.url,
        "resource_types = [\"resource.virtual_machine.*\"]",
    );
    let out = work
        .run(&["--log-format", "json", "once", "--now", NOW])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(ids(&work.resources().await), ids_of(&[hyperv, esx]));
    let machines = by_type["resource.machine"].len();
    let logged: u64 = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "poll ok")
        .filter_map(|l| l["unwatched"].as_u64())
        .sum();
    assert!(
        logged >= machines as u64,
        "the machines passed over are counted ({logged} logged, {machines} machines):\n{}",
        text(&out)
    );
}

/// A server that refuses `resource_id=or(...)` with a 400: the full pass's check of
/// what it did not list falls back to a comma list, remembers it, and still finds
/// exactly what is gone (the lookup asks for live resources only, so it does not
/// depend on `deleted_at` being filled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_fall_back_when_the_or_form_is_refused() {
    let (sim, work, deleted, purged) = one_deleted_one_purged().await;
    sim.post("/_sim/config", json!({"or_lookups": false})).await;

    let out = work
        .run(&[
            "--log-format",
            "json",
            "once",
            "--now",
            "2026-11-02T16:30:00Z",
        ])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stored = ids(&work.resources().await);
    assert!(!stored.contains(&deleted) && !stored.contains(&purged));
    assert_eq!(stored, sim.resource_ids(None).await);
    let refused = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("refused a resource_id lookup with 400"))
        .count();
    // Once, then remembered: at most once per tenant whose lookup was in flight.
    assert!(
        (1..=2).contains(&refused),
        "{refused} refusals:\n{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_poll_starts_with_a_small_page() {
    let sim = Sim::small(400, 2).await;
    let work = WorkDir::new(&sim.url, "page_size = 200\nfirst_page_size = 10");
    assert_eq!(code(&work.run(&["once", "--now", NOW]).await), 0);
    sim.sim.advance(std::time::Duration::from_secs(600));
    sim.post("/_sim/touch", json!({"count": 4})).await;
    sim.sim.reset_counters();
    let out = work.run(&["once", "--now", "2026-11-02T10:10:00Z"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let c = serde_json::to_value(sim.sim.counters()).unwrap();
    let served = c["items_served"].as_u64().unwrap();
    let requests = c["requests"]["resource_statuses"].as_u64().unwrap();
    // Two tenants, a handful of changes each: one page of 10 each (a second, full
    // page only where more than 9 changed), not a page of 200.
    assert!(served <= 2 * 10 + 200, "served {served} items");
    assert!(requests <= 2 * 2, "{requests} requests");
    // The changes arrived.
    let rows = work.resources().await;
    assert_eq!(rows.len(), 400);
}

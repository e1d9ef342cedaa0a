//! Time-based policy rules (`last_success_older_than`, `overdue_by`): they fire when
//! their time comes, with no change of the resource and without re-reading the fleet
//! (SPEC §4, the deadline index).

use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_backup_fires_at_its_threshold_from_the_deadline_index_alone() {
    // One tenant, small pages: a full poll takes several pages, an incremental one with
    // nothing new takes one.
    let b = Bench::new(40, 1, "page_size = 10\nfull_resync_every = \"7d\"", "").await;
    b.rules(
        "backup.toml",
        &backup_rule(
            "stale",
            "last_success_older_than = \"26h\"",
            &["teams"],
            "resolve = true",
        ),
    );
    // The last success L = START - 25h; the machine has not changed since (its
    // updated_at is L, far behind every later watermark), and is offline so the
    // simulator never runs it.
    let l = at(-25, 0);
    let v = b
        .steer(
            1,
            "itest-stale",
            json!({
                "offline": true,
                "updated_at": ts(l),
                "policies": [{"type": BACKUP, "last_run": ts(l), "last_success_run": ts(l),
                              "next_run": ts(at(12, 0))}],
            }),
        )
        .await;
    let key = key("stale", &v[0], Some(BACKUP));

    b.once(start()).await; // L + 25h
    let full = b.sim.status_requests();
    assert!(
        full >= 4,
        "a full poll of 40 in pages of 10: {full} requests"
    );
    assert!(
        b.alerts().await.is_empty(),
        "fired before its threshold: {}",
        pretty(&b.alerts().await)
    );
    assert!(b.outbox().await.is_empty());

    b.sim.sim.reset_counters();
    b.once(at(1, 1)).await; // L + 26h + 1m
    let firing_run = b.sim.status_requests();
    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 1, "{}", pretty(&alerts));
    let a = alert(&alerts, &key);
    assert_eq!(a["status"], "firing");
    assert_eq!(a["policy"], BACKUP);
    assert_eq!(a["severity"], "warning");
    assert_eq!(time(&a["fired_at"]), at(1, 1));
    assert_eq!(
        owed(&b.outbox().await),
        vec![entry("teams", "stale", "firing", &[&key])]
    );

    // A run with nothing due and nothing changed, for comparison.
    b.sim.sim.reset_counters();
    b.once(at(2, 0)).await;
    let idle_run = b.sim.status_requests();
    assert_eq!(
        firing_run, idle_run,
        "the run that fired fetched {firing_run} pages, an idle incremental run {idle_run}"
    );
    assert!(idle_run < full, "incremental {idle_run} vs full {full}");
    assert_eq!(b.outbox().await.len(), 1, "fired again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_backup_fires_two_hours_late_and_resolves_when_it_runs() {
    let b = Bench::new(30, 2, "full_resync_every = \"7d\"", "").await;
    b.rules(
        "backup.toml",
        &backup_rule(
            "overdue",
            "overdue_by = \"2h\"",
            &["slack"],
            "resolve = true",
        ),
    );
    // Due at N = START; it last ran the day before. Offline: the simulator never runs it.
    let n = start();
    let before = at(-22, 0);
    let v = b
        .steer(
            1,
            "itest-late",
            json!({
                "offline": true,
                "updated_at": ts(before),
                "policies": [{"type": BACKUP, "last_run": ts(before),
                              "last_success_run": ts(before), "next_run": ts(n)}],
            }),
        )
        .await;
    let key = key("overdue", &v[0], Some(BACKUP));

    b.once(at(1, 0)).await;
    assert!(b.alerts().await.is_empty(), "{}", pretty(&b.alerts().await));
    b.once(at(2, 1)).await;
    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 1, "{}", pretty(&alerts));
    let a = alert(&alerts, &key);
    assert_eq!(a["status"], "firing");
    assert_eq!(time(&a["fired_at"]), at(2, 1));
    assert_eq!(
        owed(&b.outbox().await),
        vec![entry("slack", "overdue", "firing", &[&key])]
    );

    // It runs at last (after N): resolved.
    b.sim.sim.advance(std::time::Duration::from_secs(150 * 60));
    let ran = at(2, 20);
    b.patch(
        v[0]["id"].as_str().unwrap(),
        json!({"policies": [{"type": BACKUP, "last_run": ts(ran), "last_success_run": ts(ran),
                             "next_run": ts(at(26, 0))}]}),
    )
    .await;
    b.once(at(2, 30)).await;
    let alerts = b.alerts().await;
    let a = alert(&alerts, &key);
    assert_eq!(a["status"], "resolved", "{a}");
    assert_eq!(time(&a["resolved_at"]), at(2, 30));
    let mut want = vec![
        entry("slack", "overdue", "firing", &[&key]),
        entry("slack", "overdue", "resolved", &[&key]),
    ];
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_that_never_succeeded_is_stale_from_its_first_sign_of_life() {
    let b = Bench::new(150, 2, "full_resync_every = \"7d\"", "").await;
    b.rules(
        "backup.toml",
        &backup_rule("stale", "last_success_older_than = \"26h\"", &["teams"], ""),
    );
    // A: created long ago, never succeeded, last ran an hour ago. The earliest of its
    // last run and its creation is the creation: stale now (by its last run alone it
    // would be stale only in 25 hours).
    let ids = b.sim.resource_ids(None).await;
    let a_id = ids[0].clone();
    let a_created = time(&b.api_item(&a_id).await["context"]["created_at"]);
    assert!(a_created < at(-26, 0), "created {a_created}");
    b.patch(
        &a_id,
        json!({
            "name": "itest-never-a",
            "offline": true,
            "updated_at": ts(at(-1, 0)),
            "policies": [{"type": BACKUP, "last_run": ts(at(-1, 0)), "last_success_run": null,
                          "next_run": ts(at(23, 0))}],
        }),
    )
    .await;
    // B: a new machine whose first backup never ran (no last run, no success): stale
    // 26h after its creation, which is within the last day.
    let mut b_pick = None;
    for id in ids.iter().skip(1) {
        let view = b.view(id).await;
        let never = view["policies"].as_array().unwrap().iter().any(|p| {
            p["type"] == BACKUP && p["last_run"].is_null() && p["last_success_run"].is_null()
        });
        if never {
            b_pick = Some(id.clone());
            break;
        }
    }
    let b_id = b_pick.expect("the seed-42 fleet of 150 has a machine whose backup never ran");
    let b_created = time(&b.api_item(&b_id).await["context"]["created_at"]);
    assert!(
        b_created > at(-24, 0) && b_created < start(),
        "a never-ran machine created {b_created}"
    );
    b.patch(
        &b_id,
        json!({"name": "itest-never-b", "offline": true, "updated_at": ts(b_created)}),
    )
    .await;
    let va = b.view(&a_id).await;
    let vb = b.view(&b_id).await;
    let (ka, kb) = (
        key("stale", &va, Some(BACKUP)),
        key("stale", &vb, Some(BACKUP)),
    );

    b.once(start()).await;
    let alerts = b.alerts().await;
    assert_eq!(
        keys_with(&alerts, "firing").into_iter().collect::<Vec<_>>(),
        vec![ka.clone()],
        "{}",
        pretty(&alerts)
    );

    // B's threshold: its creation + 26h (in whole seconds, as `--now` is given).
    let b_due = b_created + chrono::Duration::hours(26);
    let b_due = chrono::DateTime::from_timestamp(b_due.timestamp() + 1, 0).unwrap();
    b.once(b_due - chrono::Duration::minutes(1)).await;
    assert_eq!(keys_with(&b.alerts().await, "firing").len(), 1);
    b.once(b_due + chrono::Duration::minutes(1)).await;
    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 2, "{}", pretty(&alerts));
    assert_eq!(alert(&alerts, &kb)["status"], "firing");
    assert_eq!(
        time(&alert(&alerts, &kb)["fired_at"]),
        b_due + chrono::Duration::minutes(1)
    );
    let mut want = vec![
        entry("teams", "stale", "firing", &[&ka]),
        entry("teams", "stale", "firing", &[&kb]),
    ];
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_backup_is_not_overdue_at_exactly_next_run_plus_overdue_by() {
    let b = Bench::new(30, 2, "full_resync_every = \"7d\"", "").await;
    b.rules(
        "backup.toml",
        &backup_rule("overdue", "overdue_by = \"2h\"", &["slack"], ""),
    );
    let before = at(-22, 0);
    let v = b
        .steer(
            1,
            "itest-late",
            json!({
                "offline": true,
                "updated_at": ts(before),
                "policies": [{"type": BACKUP, "last_run": ts(before),
                              "last_success_run": ts(before), "next_run": START}],
            }),
        )
        .await;
    let key = key("overdue", &v[0], Some(BACKUP));
    b.once(at(2, 0)).await;
    let alerts = b.alerts().await;
    assert!(
        alerts.is_empty(),
        "SPEC §4: overdue when next_run + 2h < now; at now = next_run + 2h: {}",
        pretty(&alerts)
    );
    b.once(at(2, 0) + chrono::Duration::seconds(1)).await;
    assert_eq!(alert(&b.alerts().await, &key)["status"], "firing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_backups_are_measured_with_the_long_time_field_names_too() {
    let b = Bench::new(30, 2, "full_resync_every = \"7d\"", "").await;
    b.sim
        .post("/_sim/config", json!({"time_fields": "long"}))
        .await;
    b.rules(
        "backup.toml",
        &format!(
            "{}{}",
            backup_rule("stale", "last_success_older_than = \"26h\"", &["teams"], ""),
            backup_rule("overdue", "overdue_by = \"2h\"", &["slack"], "")
        ),
    );
    let l = at(-25, 0);
    let v = b
        .steer(
            1,
            "itest-long",
            json!({
                "offline": true,
                "updated_at": ts(l),
                "policies": [{"type": BACKUP, "last_run_time": ts(l),
                              "last_success_run_time": ts(l), "next_run_time": ts(at(-1, 0))}],
            }),
        )
        .await;
    let (stale, overdue) = (
        key("stale", &v[0], Some(BACKUP)),
        key("overdue", &v[0], Some(BACKUP)),
    );
    b.once(start()).await;
    assert!(b.alerts().await.is_empty(), "{}", pretty(&b.alerts().await));
    b.once(at(1, 1)).await; // overdue at next_run + 2h = START + 1h; stale at L + 26h
    let alerts = b.alerts().await;
    assert_eq!(
        keys_with(&alerts, "firing"),
        [stale.clone(), overdue.clone()].into_iter().collect(),
        "{}",
        pretty(&alerts)
    );
    let mut want = vec![
        entry("slack", "overdue", "firing", &[&overdue]),
        entry("teams", "stale", "firing", &[&stale]),
    ];
    want.sort();
    assert_eq!(owed(&b.outbox().await), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_last_run_fires_and_a_later_success_resolves_it() {
    let b = Bench::new(30, 1, "", "").await;
    b.rules(
        "backup.toml",
        &backup_rule(
            "failed",
            "last_run_failed = true",
            &["teams"],
            "resolve = true",
        ),
    );
    // Last success a day ago, the run since then failed.
    let v = b
        .steer(
            1,
            "itest-failed",
            json!({
                "offline": true,
                "policies": [{"type": BACKUP, "last_run": ts(at(-1, 0)),
                              "last_success_run": ts(at(-25, 0)), "next_run": ts(at(23, 0))}],
            }),
        )
        .await;
    let key = key("failed", &v[0], Some(BACKUP));
    b.once(start()).await;
    let alerts = b.alerts().await;
    assert_eq!(alerts.len(), 1, "{}", pretty(&alerts));
    let a = alert(&alerts, &key);
    assert_eq!(
        (&a["status"], &a["policy"]),
        (&json!("firing"), &json!(BACKUP))
    );
    assert_eq!(
        owed(&b.outbox().await),
        vec![entry("teams", "failed", "firing", &[&key])]
    );

    // Time alone changes nothing.
    b.once(at(5, 0)).await;
    assert_eq!(alert(&b.alerts().await, &key)["status"], "firing");

    // The next run succeeds: resolved.
    let id = v[0]["id"].as_str().unwrap();
    b.patch(
        id,
        json!({"policies": [{"type": BACKUP, "last_run": ts(at(6, 0)),
                             "last_success_run": ts(at(6, 0))}]}),
    )
    .await;
    b.once(at(6, 5)).await;
    assert_eq!(alert(&b.alerts().await, &key)["status"], "resolved");
}

/// A live physical machine with a backup plan (its agent can go offline), renamed.
async fn agent_machine(b: &Bench, name: &str, extra: serde_json::Value) -> serde_json::Value {
    let fleet = b.sim.get("/_sim/resources?limit=100000").await;
    let id = fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["deleted_at"].is_null()
                && r["type"] == "resource.machine"
                && r["offline"] == false
                && r["policies"].to_string().contains(BACKUP)
        })
        .and_then(|r| r["id"].as_str())
        .expect("a protected machine")
        .to_string();
    let mut body = json!({"name": name});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    b.patch(&id, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_offline_fires_after_its_grace_from_the_first_poll_that_saw_it() {
    let b = Bench::new(30, 1, "", "").await;
    b.rules(
        "agents.toml",
        "[[rule]]\nname = \"offline\"\nseverity = \"warning\"\nnotify = [\"teams\"]\n\
         when.agent_offline_for = \"2h\"\nmatch.name = [\"itest-*\"]\nresolve = true\n\n\
         [[rule]]\nname = \"cyberfit\"\nseverity = \"warning\"\nnotify = [\"teams\"]\n\
         when.cyberfit_below = 579\nmatch.name = [\"itest-*\"]\n",
    );
    let v = agent_machine(&b, "itest-agent", json!({"offline": true, "cyberfit": 400})).await;
    let offline = key("offline", &v, None);
    let low = key("cyberfit", &v, None);

    // First sight offline: counted from now, not firing yet; the low score fires.
    b.once(start()).await;
    let alerts = b.alerts().await;
    assert!(
        !alerts.iter().any(|a| a["key"] == offline.as_str()),
        "{}",
        pretty(&alerts)
    );
    assert_eq!(alert(&alerts, &low)["status"], "firing");

    // 2h later the deadline index fires it, without the machine changing.
    b.once(at(2, 1)).await;
    let alerts = b.alerts().await;
    let a = alert(&alerts, &offline);
    assert_eq!(a["status"], "firing");
    assert_eq!(time(&a["fired_at"]), at(2, 1));

    // Back online: resolved.
    let id = v["id"].as_str().unwrap();
    b.patch(id, json!({"offline": false, "cyberfit": 700}))
        .await;
    b.once(at(3, 0)).await;
    let alerts = b.alerts().await;
    assert_eq!(alert(&alerts, &offline)["status"], "resolved");
    assert_eq!(alert(&alerts, &low)["status"], "resolved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_agent_fires_and_resolves_and_a_vm_without_a_score_never_fires() {
    let b = Bench::new(60, 1, "", "").await;
    b.rules(
        "agents.toml",
        "[[rule]]\nname = \"disabled\"\nseverity = \"warning\"\nnotify = [\"teams\"]\n\
         when.agent_disabled = true\nmatch.name = [\"itest-*\"]\nresolve = true\n\n\
         [[rule]]\nname = \"cyberfit\"\nseverity = \"warning\"\nnotify = [\"teams\"]\n\
         when.cyberfit_below = 850\nmatch.name = [\"itest-*\"]\n",
    );
    let off = agent_machine(
        &b,
        "itest-disabled",
        json!({"agent_enabled": false, "cyberfit": 700}),
    )
    .await;
    // An agentless VM: no agent, no score.
    let fleet = b.sim.get("/_sim/resources?limit=100000").await;
    let vm = fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["deleted_at"].is_null()
                && r["type"]
                    .as_str()
                    .unwrap()
                    .starts_with("resource.virtual_machine")
        })
        .and_then(|r| r["id"].as_str())
        .expect("an agentless VM")
        .to_string();
    let vm = b.patch(&vm, json!({"name": "itest-vm"})).await;

    b.once(start()).await;
    let alerts = b.alerts().await;
    let disabled = key("disabled", &off, None);
    assert_eq!(alert(&alerts, &disabled)["status"], "firing");
    // The machine's score (700) is below 850: fires; the VM has none: never.
    assert_eq!(
        alert(&alerts, &key("cyberfit", &off, None))["status"],
        "firing"
    );
    assert!(
        !alerts.iter().any(|a| a["resource_id"] == vm["id"]),
        "{}",
        pretty(&alerts)
    );

    // Enabled again: resolved.
    b.sim.sim.advance(std::time::Duration::from_secs(60));
    b.patch(off["id"].as_str().unwrap(), json!({"agent_enabled": true}))
        .await;
    b.once(at(1, 0)).await;
    assert_eq!(alert(&b.alerts().await, &disabled)["status"], "resolved");
}

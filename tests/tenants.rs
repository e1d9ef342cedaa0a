//! The watched-tenant list: a tenant that leaves it (worker.toml, the API, or a
//! reshard) is forgotten, so its deadlines stop firing here and its alerts end
//! without notifications (they are the new owner's).

mod support;

use support::sinks::HttpSink;
use support::{Sim, WorkDir, code, text};

#[tokio::test]
async fn a_tenant_that_leaves_the_list_is_forgotten_silently() {
    let sim = Sim::small(12, 2).await;
    let customers = sim.customers();
    let sink = HttpSink::start().await;
    let work = WorkDir::new(&sim.url, "");
    let base = std::fs::read_to_string(work.config()).unwrap();
    let hook = format!(
        "\n[[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\nrate = \"100/s\"\n",
        sink.url("/hook")
    );
    work.write_config(&format!("{base}{hook}"));
    std::fs::create_dir_all(work.path().join("rules")).unwrap();
    // Fires for every machine and notifies resolutions: a forgotten tenant's
    // alerts must still not be resolved through the channel.
    std::fs::write(
        work.path().join("rules/all.toml"),
        "[[rule]]\nname = \"seen\"\nnotify = [\"hook\"]\nresolve = true\nwhen.status = [\"ok\", \"idle\", \"scheduled\", \"running\", \"cancelling\", \"not_protected\", \"no_policies_applied\", \"interaction_required\", \"warning\", \"error\", \"critical\"]\n",
    )
    .unwrap();
    let out = work.run(&["once", "--now", "2026-11-23T08:00:00Z"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let first = sink.requests().len();
    let tenants_before: std::collections::BTreeSet<String> = work
        .resources()
        .await
        .iter()
        .map(|r| r["tenant_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tenants_before.len(), 2);

    // Only the first customer from now on.
    let only = base.replace(
        "tenants = \"children\"",
        &format!("tenants = [\"{}\"]", customers[0]),
    );
    work.write_config(&format!("{only}{hook}"));
    let out = work.run(&["once", "--now", "2026-11-23T09:00:00Z"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("no longer watched"),
        "the drop is logged: {}",
        text(&out)
    );
    let left: Vec<String> = work
        .resources()
        .await
        .iter()
        .map(|r| r["tenant_id"].as_str().unwrap().to_string())
        .collect();
    assert!(!left.is_empty());
    assert!(left.iter().all(|t| t == &customers[0]), "{left:?}");
    // Its alerts ended in state, and nothing was sent for them.
    let alerts = work.run(&["state", "alerts", "--json"]).await;
    let alerts: serde_json::Value = serde_json::from_slice(&alerts.stdout).unwrap();
    for a in alerts.as_array().unwrap() {
        let expected = if a["tenant_id"] == customers[1].as_str() {
            "resolved"
        } else {
            "firing"
        };
        assert_eq!(a["status"], expected, "{a}");
    }
    assert_eq!(
        sink.requests().len(),
        first,
        "no notification for the forgotten tenant"
    );
}

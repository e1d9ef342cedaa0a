//! Status digests: built at a fixed `--now` from a simulated tenant with known
//! statuses, printed by `--dry-run`, sent through a real SMTP server to `digest_to`,
//! compared with the previous digest, and sent once by `run` for the ticks missed
//! while it was down.

mod support;

use std::time::Duration;

use serde_json::json;
use support::smtp::{SmtpMode, SmtpServer};
use support::{Sim, WorkDir, code, free_port, sigterm, text};

/// Statuses given to the first customer's machines, in `/_sim/resources` order.
const STATUSES: [&str; 8] = [
    "critical",
    "error",
    "warning",
    "interaction_required",
    "no_policies_applied",
    "ok",
    "idle",
    "degraded",
];

/// A worker dir against `sim` with an SMTP channel, a `[digest]` on `cron`, the first
/// customer getting digests, the second not, and a state-only critical rule.
fn setup(sim: &Sim, smtp: &SmtpServer, cron: &str, extra: &str) -> WorkDir {
    let customers = customers(sim);
    let work = WorkDir::new(&sim.url, "");
    let mut cfg = std::fs::read_to_string(work.config()).unwrap();
    cfg.push_str(&format!(
        r#"
[[channel]]
name = "mail"
type = "email"
smtp = "{}"
from = "MSP Alerts <alerts@msp.example>"
to = ["noc@msp.example"]
rate = "100/s"

[digest]
cron = "{cron}"
timezone = "UTC"
channel = "mail"

[tenant."{}"]
digest_to = ["it@contoso.example", "Boss <boss@contoso.example>"]

[tenant."{}"]
name = "No digest for us"
{extra}
"#,
        smtp.url(None),
        customers[0],
        customers[1],
    ));
    work.write_config(&cfg);
    std::fs::create_dir_all(work.path().join("rules")).unwrap();
    std::fs::write(
        work.path().join("rules/critical.toml"),
        "[[rule]]\nname = \"machine-critical\"\nseverity = \"critical\"\nwhen.status = [\"critical\"]\n",
    )
    .unwrap();
    work
}

/// The two customers, the one with the most machines first (it gets digests).
fn customers(sim: &Sim) -> [String; 2] {
    let mut c = sim.customers();
    c.sort_by_key(|t| std::cmp::Reverse(sim.resource_count(t)));
    [c[0].clone(), c[1].clone()]
}

/// Give the digest customer's first machines the statuses of [`STATUSES`]; returns
/// their ids.
async fn steer(sim: &Sim) -> Vec<String> {
    let customer = &customers(sim)[0];
    let ids = sim.resource_ids(Some(customer)).await;
    assert!(
        ids.len() >= STATUSES.len(),
        "fleet too small: {}",
        ids.len()
    );
    for (id, status) in ids.iter().zip(STATUSES) {
        sim.post(
            &format!("/_sim/resources/{id}"),
            json!({ "status": status }),
        )
        .await;
    }
    ids
}

#[tokio::test]
async fn dry_run_prints_both_parts_with_exact_totals_and_sends_nothing() {
    let sim = Sim::small(20, 2).await;
    let smtp = SmtpServer::start(SmtpMode::Plain);
    let work = setup(&sim, &smtp, "0 0 8 * * Mon", "");
    let ids = steer(&sim).await;
    let customer = customers(&sim)[0].clone();
    let total = sim.resource_count(&customer) as usize;
    // Every machine past the steered ones keeps its simulated status: count them
    // as the API reports them.
    let rest: Vec<serde_json::Value> = sim
        .get(&format!("/_sim/resources?tenant={customer}&limit=1000"))
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["deleted_at"].is_null()
                && !ids[..STATUSES.len()].contains(&r["id"].as_str().unwrap().to_string())
        })
        .cloned()
        .collect();
    assert_eq!(rest.len() + STATUSES.len(), total);
    let mut expected = [0usize; 7]; // ok warning error critical interaction not_protected other
    for s in STATUSES.iter().copied().chain(
        rest.iter()
            .map(|r| r["status"].as_str().unwrap_or("unknown")),
    ) {
        let i = match s {
            "ok" | "idle" | "scheduled" | "running" | "cancelling" => 0,
            "warning" => 1,
            "error" => 2,
            "critical" => 3,
            "interaction_required" => 4,
            "not_protected" | "no_policies_applied" => 5,
            _ => 6,
        };
        expected[i] += 1;
    }

    let out = work
        .run(&[
            "digest",
            "--tenant",
            &customer,
            "--now",
            "2026-11-23T08:00:00Z",
            "--dry-run",
        ])
        .await;
    let printed = text(&out);
    assert_eq!(code(&out), 0, "{printed}");
    let totals = format!(
        "{total} machines: {} ok, {} critical, {} error, {} warning, {} need attention, {} not protected{}.",
        expected[0],
        expected[3],
        expected[2],
        expected[1],
        expected[4],
        expected[5],
        if expected[6] > 0 {
            format!(", {} other", expected[6])
        } else {
            String::new()
        }
    );
    assert!(
        printed.contains(&totals),
        "expected {totals:?} in:\n{printed}"
    );
    assert!(printed.contains("To: it@contoso.example, Boss <boss@contoso.example>"));
    assert!(printed.contains("--- text/plain ---") && printed.contains("--- text/html ---"));
    // The critical machine is a problem, listed first, with its rule.
    let needs = printed.find("Needs attention").expect("a problems section");
    let critical_name = sim.get(&format!("/_sim/resources/{}", ids[0])).await["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(printed[needs..].contains(&format!("* {critical_name} is critical")));
    assert!(printed.contains("CRITICAL (machine-critical)"));
    // The unknown status is shown as the API named it.
    assert!(printed.contains(": degraded"), "{printed}");
    // The chart is drawn inline, with no image.
    let bar = format!("title=\"critical: {}\"", expected[3]);
    assert!(printed.contains(&bar), "{printed}");
    assert!(!printed.contains("<img"));
    // Only the first customer has digest_to; --dry-run sent nothing.
    assert_eq!(printed.matches("=== digest for").count(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(smtp.messages().is_empty(), "--dry-run sent mail");

    // Both parts, exactly (the simulator's port is the only thing that varies).
    let stable = String::from_utf8_lossy(&out.stdout).replace(&sim.url, "http://SIM");
    insta::assert_snapshot!("digest_dry_run", stable);
}

#[tokio::test]
async fn digests_go_to_digest_to_over_smtp_and_tell_what_changed() {
    let sim = Sim::small(20, 2).await;
    let smtp = SmtpServer::start(SmtpMode::Plain);
    let work = setup(&sim, &smtp, "0 0 8 * * Mon", "");
    let ids = steer(&sim).await;
    let customer = customers(&sim)[0].clone();

    let out = work.run(&["digest", "--now", "2026-11-16T08:00:00Z"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let first = smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        first.len(),
        1,
        "one digest: the other tenant has no digest_to"
    );
    let mail = &first[0];
    let mut rcpt = mail.rcpt_tos.clone();
    rcpt.sort();
    assert_eq!(rcpt, ["boss@contoso.example", "it@contoso.example"]);
    assert!(mail.raw.contains("multipart/alternative"), "{}", mail.raw);
    assert!(mail.raw.contains("text/plain") && mail.raw.contains("text/html"));
    assert!(
        mail.raw.contains("Subject: Backup status for"),
        "{}",
        mail.raw
    );
    assert!(
        !mail.raw.contains("Since the last report"),
        "first digest has no changes"
    );

    // A week later: the error machine turned critical, the critical one recovered,
    // one machine was deleted.
    sim.post(
        &format!("/_sim/resources/{}", ids[1]),
        json!({"status": "critical"}),
    )
    .await;
    sim.post(
        &format!("/_sim/resources/{}", ids[0]),
        json!({"status": "ok"}),
    )
    .await;
    let gone = sim.get(&format!("/_sim/resources/{}", ids[5])).await["name"]
        .as_str()
        .unwrap()
        .to_string();
    let client = reqwest::Client::new();
    client
        .delete(format!("{}/_sim/resources/{}?purge=true", sim.url, ids[5]))
        .send()
        .await
        .unwrap();
    // A week on, the poll is a full pass (full_resync_every 6h): it sees the deletion.
    let out = work.run(&["digest", "--now", "2026-11-23T08:00:00Z"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let both = smtp.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(both.len(), 2);
    let second = unfold(&both[1].raw);
    assert!(
        second.contains("Since the last report (16 Nov): 1 new problem, 1 resolved, 0 machines added, 1 removed."),
        "{second}"
    );
    assert!(second.contains(&format!("removed: {gone}")), "{second}");
    assert!(second.contains(": machine-critical"), "{second}");
    let _ = customer;

    // Nothing else was sent, and the outbox holds nothing.
    let outbox = work.run(&["state", "outbox", "--json"]).await;
    assert_eq!(String::from_utf8_lossy(&outbox.stdout).trim(), "[]");
}

#[tokio::test]
async fn run_sends_a_digest_missed_while_down_once_on_start() {
    let sim = Sim::small(10, 2).await;
    let smtp = SmtpServer::start(SmtpMode::Plain);
    let port = free_port();
    let work = setup(
        &sim,
        &smtp,
        "0 0 8 * * Mon",
        &format!("\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let metrics = format!("http://127.0.0.1:{port}/metrics");

    // First start, on a Monday after 08:00: nothing is owed yet.
    let child = work.spawn_run(&["--now", "2026-11-16T09:00:00Z"]);
    polled(&metrics).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let out = sigterm(child).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(smtp.messages().is_empty(), "a first start owes no digest");

    // Down for two weeks: two Mondays passed. One digest, not two.
    let child = work.spawn_run(&["--now", "2026-12-01T09:00:00Z"]);
    polled(&metrics).await;
    let got = smtp.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smtp.messages().len(), 1, "one digest for the missed weeks");
    let out = sigterm(child).await;
    assert_eq!(code(&out), 0, "{}", text(&out));

    // A restart the same day owes nothing more.
    let child = work.spawn_run(&["--now", "2026-12-01T10:00:00Z"]);
    polled(&metrics).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = sigterm(child).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(smtp.messages().len(), 1, "the restart sent it again");
}

#[tokio::test]
async fn a_bad_cron_is_a_config_error_naming_the_key() {
    let sim = Sim::small(4, 2).await;
    let smtp = SmtpServer::start(SmtpMode::Plain);
    for bad in ["0 8 * * Mon", "0 0 8 * * Funday", "every monday"] {
        let work = setup(&sim, &smtp, bad, "");
        let out = work.run(&["check"]).await;
        assert_eq!(code(&out), 2, "{bad}: {}", text(&out));
        assert!(text(&out).contains("digest.cron"), "{bad}: {}", text(&out));
        assert!(!text(&out).contains("panicked"));
    }
}

/// The message with quoted-printable soft line breaks joined.
fn unfold(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=3D", "=")
}

/// Wait until /metrics counts a poll: the first poll cycle is done (digests are
/// looked at right after it).
async fn polled(url: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(url).await
            && r.text()
                .await
                .unwrap_or_default()
                .contains("acronis_watch_polls_total{")
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} never counted a poll"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

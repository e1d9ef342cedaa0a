//! `demo`: the embedded default. Starts the simulated datacenter on loopback, points
//! a worker with the shipped rules at it (no config file, no credentials, no network)
//! and shows, cycle by cycle, what it polled, which alerts fired or resolved and the
//! notifications queued, while simulated hours pass.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::DemoArgs;
use crate::config;
use crate::config::ChannelKind;
use crate::notify::email::message;
use crate::notify::{Rendered, Renderer};
use crate::simulator::{self, SimOptions, Simulator};
use crate::worker::{CycleReport, Worker};

use super::Exit;

/// Simulated time between cycles.
const STEP: Duration = Duration::from_secs(2 * 3600);
/// Real time between cycles, so a person can follow.
const PAUSE: Duration = Duration::from_millis(1500);

pub async fn run(args: DemoArgs) -> Exit {
    match demo(args).await {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("error: demo: {e}");
            Exit::Failed
        }
    }
}

async fn demo(args: DemoArgs) -> Result<Exit, String> {
    let sim = Simulator::new(SimOptions {
        fleet: 60,
        tenants: 4,
        seed: 7,
        ..SimOptions::default()
    });
    sim.freeze(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(simulator::serve(sim.clone(), listener, shutdown.clone()));

    let dir = std::env::temp_dir().join(format!("acronis-watch-demo-{}", std::process::id()));
    let text = format!(
        r#"
[acronis]
datacenter_url = "http://{addr}"
client_id = "sim-client"
client_secret = "sim-secret"
tenants = "children"
page_size = 25
full_resync_every = "12h"
max_retries = 1
retry_backoff = "1s"

[state]
path = "{state}"

# The shipped rules' channels. Nothing is sent anywhere: the demo shows what each
# channel is queued.
[[channel]]
name = "noc-slack"
type = "slack"
url = "http://127.0.0.1:9/demo/slack"

[[channel]]
name = "noc-teams"
type = "teams"
url = "http://127.0.0.1:9/demo/teams"

[[channel]]
name = "oncall"
type = "pagerduty"
routing_key = "demo"
url = "http://127.0.0.1:9/demo/pagerduty"

[[channel]]
name = "ticketing"
type = "webhook"
url = "http://127.0.0.1:9/demo/webhook"

[[channel]]
name = "mail"
type = "email"
smtp = "smtp+plain://127.0.0.1:9"
from = "acronis-watch demo <demo@localhost>"
to = ["noc@localhost"]
"#,
        state = dir.join("state").display().to_string().replace('\\', "/")
    );
    let cfg =
        config::parse(&dir.join("worker.toml"), &text, &|_| None).map_err(|e| e.to_string())?;
    let rules = crate::rules::shipped(&cfg).map_err(|e| e.to_string())?;
    let renderer = Renderer::shipped(&cfg).map_err(|e| e.to_string())?;
    let mut worker = Worker::open(cfg, rules).map_err(|e| e.to_string())?;

    println!(
        "acronis-watch demo: simulated datacenter on http://{addr}, state in {}",
        dir.display()
    );
    println!(
        "each cycle polls every customer tenant, then {}h of simulated time pass\n",
        STEP.as_secs() / 3600
    );
    let stop = CancellationToken::new();
    let ctrl_c = stop.clone();
    tokio::spawn(async move {
        super::shutdown_signal().await;
        ctrl_c.cancel();
    });
    let mut exit = Exit::Ok;
    let mut cycle = 0;
    let flaky = flaky_machine(&sim);
    while args.cycles.is_none_or(|n| cycle < n) && !stop.is_cancelled() {
        cycle += 1;
        if let Some(id) = &flaky {
            flap(&sim, id, cycle);
        }
        let now = sim.now();
        let report = worker.poll_cycle(now).await;
        if report.failed() {
            exit = Exit::Failed;
        }
        if let Err(e) = worker.store.close_groups(now) {
            eprintln!("error: {e}");
            exit = Exit::Failed;
        }
        print_cycle(cycle, now, &report, &worker);
        exit = exit.combine(show_notifications(&worker, &renderer, now));
        if args.cycles.is_some_and(|n| cycle >= n) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(PAUSE) => {}
            _ = stop.cancelled() => break,
        }
        sim.advance(STEP);
    }
    if let Err(e) = worker.store.flush().await {
        eprintln!("error: {e}");
    }
    shutdown.cancel();
    let _ = server.await;
    drop(worker);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(exit)
}

/// A machine the demo makes flaky: the first protected machine that is fine.
fn flaky_machine(sim: &Simulator) -> Option<String> {
    let machines = sim.resources(None, 200).ok()?;
    machines
        .into_iter()
        .find(|m| m.kind == "resource.machine" && m.status.as_deref() == Some("idle"))
        .map(|m| m.id)
}

/// From cycle 2 to 6 the flaky machine turns critical and recovers every cycle (the
/// shipped `machine-critical` rule holds it as one "flapping" message); from cycle 7
/// it stays fine, and 12 simulated hours on its final state is told.
fn flap(sim: &Simulator, id: &str, cycle: u64) {
    let status = match cycle {
        2..=6 if cycle.is_multiple_of(2) => "critical",
        2..=7 => "idle",
        _ => return,
    };
    let patch = simulator::ResourcePatch {
        status: Some(status.to_string()),
        ..Default::default()
    };
    if let Err(e) = sim.set_resource(id, patch) {
        eprintln!("demo: could not make {id} flaky: {e}");
    }
}

fn print_cycle(
    cycle: u64,
    now: chrono::DateTime<chrono::Utc>,
    report: &CycleReport,
    worker: &Worker,
) {
    println!(
        "── cycle {cycle} · simulated time {} ──",
        now.format("%Y-%m-%d %H:%M UTC")
    );
    if let Some(e) = &report.tenant_list_error {
        println!("  ! could not list tenants: {e}");
    }
    for (tenant, result) in &report.outcomes {
        let name = tenant.name.as_deref().unwrap_or(&tenant.id);
        match result {
            Err(e) => println!("  {name:<24} poll FAILED: {e}"),
            Ok(r) => {
                let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
                let mut vms = 0;
                for res in worker.store.resources(Some(&tenant.id)).flatten() {
                    *by_status.entry(res.status.to_string()).or_default() += 1;
                    vms += usize::from(res.kind.starts_with("resource.virtual_machine."));
                }
                let summary: Vec<String> =
                    by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
                println!(
                    "  {name:<24} {} poll, {} page(s), {} item(s) read · {}{}",
                    if r.full { "full" } else { "incremental" },
                    r.pages,
                    r.items,
                    if summary.is_empty() {
                        "no machines".to_string()
                    } else {
                        summary.join(", ")
                    },
                    if vms > 0 {
                        let plural = if vms == 1 { "" } else { "s" };
                        format!(" · {vms} of them agentless VM{plural}")
                    } else {
                        String::new()
                    }
                );
                for c in &r.changes {
                    let from = c.from.as_ref().map_or("new".to_string(), |s| s.to_string());
                    let to =
                        c.to.as_ref()
                            .map_or("deleted".to_string(), |s| s.to_string());
                    println!("      {:<24} {from} -> {to}", c.name);
                }
            }
        }
    }
    if cycle == 1 {
        for t in worker.store.tenants().unwrap_or_default() {
            if !t.enabled {
                let name = t.name.as_deref().unwrap_or(&t.id);
                println!("  {name:<24} disabled (enabled: false): not polled");
            }
        }
    }
    println!();
}

/// Deliver the outbox to the console: every queued item rendered with the shipped
/// templates and printed (long payloads cut), emails also written as `.eml` files under
/// `./demo-outbox/`; each item then leaves the outbox as if its channel had accepted it.
fn show_notifications(
    worker: &Worker,
    renderer: &Renderer,
    now: chrono::DateTime<chrono::Utc>,
) -> Exit {
    const MAX_LINES: usize = 40;
    let items: Vec<_> = worker.store.outbox().flatten().collect();
    if items.is_empty() {
        return Exit::Ok;
    }
    println!("  {} notification(s) rendered this cycle:\n", items.len());
    let mut exit = Exit::Ok;
    for item in &items {
        let Some(channel) = worker
            .config
            .channels
            .iter()
            .find(|c| c.name == item.channel)
        else {
            continue;
        };
        let reminder = !item.alerts.is_empty() && item.alerts.iter().all(|a| a.repeat);
        println!(
            "  ┌ {} ({}) · {} {} · {} alert(s)",
            channel.name,
            channel.kind.type_name(),
            item.rule.name,
            if reminder {
                "still firing (repeat)"
            } else {
                item.status.as_str()
            },
            item.count()
        );
        match renderer.render(channel, item, now) {
            Ok(message) => {
                // An email shows its subject and text part here; the .eml has it all.
                let text = match &message {
                    Rendered::Email { subject, text, .. } => {
                        format!("Subject: {subject}\n\n{text}")
                    }
                    json => super::preview::show(json),
                };
                let lines: Vec<&str> = text.lines().collect();
                for line in lines.iter().take(MAX_LINES) {
                    println!("  │ {line}");
                }
                if lines.len() > MAX_LINES {
                    println!("  │ … ({} more lines)", lines.len() - MAX_LINES);
                }
                if let (
                    Rendered::Email {
                        subject,
                        text,
                        html,
                    },
                    ChannelKind::Email { from, to, .. },
                ) = (&message, &channel.kind)
                {
                    match write_eml(item, from, to, subject, text, html) {
                        Ok(path) => println!("  │ (written to {path})"),
                        Err(e) => println!("  │ (could not write the .eml: {e})"),
                    }
                }
            }
            Err(e) => {
                println!("  │ cannot render: {e}");
                exit = Exit::Failed;
            }
        }
        println!("  └");
        if let Err(e) = worker.store.delivered(item) {
            eprintln!("error: {e}");
            exit = Exit::Failed;
        }
    }
    println!();
    exit
}

/// `./demo-outbox/<id>.eml`: the email as it would be sent.
fn write_eml(
    item: &crate::model::OutboxItem,
    from: &lettre::message::Mailbox,
    to: &[lettre::message::Mailbox],
    subject: &str,
    text: &str,
    html: &str,
) -> Result<String, String> {
    let content = message::Content {
        subject,
        text,
        html,
    };
    let email = message::build(from, to, item, content)?;
    let dir = std::path::Path::new("demo-outbox");
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{}-{}.eml", item.id, item.rule.name));
    std::fs::write(&path, email.formatted()).map_err(|e| e.to_string())?;
    Ok(path.display().to_string())
}

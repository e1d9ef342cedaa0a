//! `once`: one cycle — poll every tenant and evaluate the rules at `--now`, close the
//! notification groups this cycle opened, then exit.

use crate::cli::OnceArgs;
use crate::clock::Clock;
use crate::config::{self, Config};
use crate::rules::RuleSet;
use crate::worker::Worker;

use super::Exit;

pub async fn run(cfg: Config, rules: RuleSet, args: OnceArgs) -> Exit {
    if let Err(e) = config::parse_duration(&args.deliver_for) {
        eprintln!("error: --deliver-for {:?}: {e}", args.deliver_for);
        return Exit::Usage;
    }
    let clock = args.now.map(Clock::fixed).unwrap_or(Clock::Wall);
    let mut worker = match Worker::open(cfg, rules) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    let now = clock.now();
    let report = worker.poll_cycle(now).await;
    let mut exit = Exit::Ok;
    if let Some(e) = &report.tenant_list_error {
        eprintln!("error: could not list tenants: {e}");
        exit = Exit::Failed;
    }
    for (tenant, result) in &report.outcomes {
        if let Err(e) = result {
            eprintln!("error: poll of tenant {} failed: {e}", tenant.id);
            exit = Exit::Failed;
        }
    }
    if let Some(e) = &report.evaluation_error {
        eprintln!("error: {e}");
        exit = Exit::Failed;
    }
    // No later firing can join a group in this run; holding it open would delay the
    // notification to the next run.
    if let Err(e) = worker.store.close_groups(now) {
        eprintln!("error: {e}");
        exit = Exit::Failed;
    }
    if let Err(e) = worker.store.flush().await {
        eprintln!("error: {e}");
        exit = Exit::Failed;
    }
    // Delivery arrives in a later version: what is queued stays for it (exit 3).
    let queued = worker.store.outbox().count();
    if queued > 0 {
        eprintln!(
            "{queued} notification(s) queued in the outbox, not delivered (this version does not deliver yet); see `acronis-watch state outbox`"
        );
        exit = exit.combine(Exit::Undelivered);
    }
    exit
}

//! `once`: one cycle. Poll every tenant and evaluate the rules at `--now`, close the
//! notification groups this cycle opened, then deliver until the outbox is empty or
//! holds only items due after `--deliver-for`.

use crate::cli::OnceArgs;
use crate::clock::Clock;
use crate::config;
use crate::notify::Deliverer;

use super::{Exit, Loaded};

pub async fn run(loaded: Loaded, args: OnceArgs) -> Exit {
    let deliver_for = match config::parse_duration(&args.deliver_for) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: --deliver-for {:?}: {e}", args.deliver_for);
            return Exit::Usage;
        }
    };
    let Loaded {
        config,
        rules,
        renderer,
    } = loaded;
    let clock = args.now.map(Clock::fixed).unwrap_or(Clock::Wall);
    let Some(mut worker) = super::open_worker(config, rules) else {
        return Exit::Failed;
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

    let deliver =
        async |d: &Deliverer, clock, shutdown: &_| d.run(clock, deliver_for, shutdown).await;
    let Some(delivery) = super::deliver_once(&worker, renderer, now, &mut exit, deliver).await
    else {
        return exit;
    };
    if delivery.dead > 0 {
        eprintln!(
            "error: {} notification(s) became dead letters (see `acronis-watch state dead`)",
            delivery.dead
        );
        exit = exit.combine(Exit::Failed);
    }
    if delivery.remaining > 0 {
        eprintln!(
            "{} notification(s) still queued for the next run (see `acronis-watch state outbox`)",
            delivery.remaining
        );
        exit = exit.combine(Exit::Undelivered);
    }
    exit
}

//! `once`: one cycle — poll every tenant at `--now`, then exit.

use crate::cli::OnceArgs;
use crate::clock::Clock;
use crate::config::{self, Config};
use crate::worker::Worker;

use super::Exit;

pub async fn run(cfg: Config, args: OnceArgs) -> Exit {
    if let Err(e) = config::parse_duration(&args.deliver_for) {
        eprintln!("error: --deliver-for {:?}: {e}", args.deliver_for);
        return Exit::Usage;
    }
    let clock = args.now.map(Clock::fixed).unwrap_or(Clock::Wall);
    let worker = match Worker::open(cfg) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    let report = worker.poll_cycle(clock.now()).await;
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
    if let Err(e) = worker.store.flush().await {
        eprintln!("error: {e}");
        exit = Exit::Failed;
    }
    exit
}

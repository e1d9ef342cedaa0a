//! `run`: the worker until SIGINT/SIGTERM (the loop itself is `crate::runtime`).

use crate::cli::RunArgs;
use crate::clock::Clock;

use super::{Exit, Loaded, cancel_on_signal};

pub async fn run(loaded: Loaded, args: RunArgs) -> Exit {
    let Loaded {
        config,
        rules,
        renderer,
    } = loaded;
    let Some(worker) = super::open_worker(config, rules) else {
        return Exit::Failed;
    };
    let clock = Clock::from_flag(args.now);
    let (shutdown, _signals) = cancel_on_signal();
    match crate::runtime::run(worker, renderer, clock, shutdown).await {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

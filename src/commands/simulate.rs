//! `simulate`: serve the simulated datacenter until Ctrl-C or SIGTERM.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cli::SimulateArgs;
use crate::simulator::{self, SimOptions, Simulator};

use super::Exit;

pub async fn run(args: SimulateArgs) -> Exit {
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return Exit::Failed;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Failed;
        }
    };
    let sim = Simulator::new(SimOptions {
        fleet: args.fleet,
        tenants: args.tenants,
        seed: args.seed,
        client_id: args.client_id.clone(),
        client_secret: args.client_secret,
        start: args.start,
        token_lifetime: Duration::from_secs(args.token_lifetime),
    });
    sim.freeze(args.frozen);
    // Scripts and tests read this line to find the port.
    println!("acronis-watch simulator listening on http://{addr}");
    println!(
        "fleet: {} machines in {} customer tenants (seed {}); client_id {:?}",
        args.fleet, args.tenants, args.seed, args.client_id
    );
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        crate::commands::shutdown_signal().await;
        stop.cancel();
    });
    match simulator::serve(sim, listener, shutdown).await {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: simulator stopped: {e}");
            Exit::Failed
        }
    }
}

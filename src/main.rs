//! The `acronis-watch` binary: parse the command line, run the command, exit with
//! its status. Everything else lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = acronis_watch::cli::Cli::parse();
    limit_malloc_arenas(matches!(cli.command, acronis_watch::cli::Command::Run(_)));
    let mut verbosity = cli.verbose as i8 - cli.quiet as i8;
    // The demo tells its own story on stdout; routine log lines would drown it.
    if matches!(cli.command, acronis_watch::cli::Command::Demo(_)) {
        verbosity -= 1;
    }
    acronis_watch::logging::init(cli.log_format, verbosity);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let exit = runtime.block_on(acronis_watch::commands::execute(cli));
    // Everything the command awaited is done. What may still run on the blocking pool
    // is a render that delivery abandoned (a template looping without end, see
    // notify/render/budget.rs): dropping the runtime would wait for it forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::ExitCode::from(exit as u8)
}

/// glibc gives every thread that allocates its own arena (up to 8 per core), and
/// memory freed into one is not reused by another. Measured at 100k resources:
/// - a cold poll (benches/poll.rs) peaked at 97 MiB RSS with the default and 58 MiB
///   with 4 arenas, at the same speed (1 arena: 57 MiB but 25% slower, from lock
///   contention);
/// - `run` idling after its first cycle (benches/idle.rs) keeps the long-lived part
///   of that cycle's heap, scattered through every arena it touched: 63 MiB RSS
///   with 4 arenas, 54 MiB with 1 (peaks 98 and 69 MiB), and the first cycle took
///   no longer.
///
/// So the one-shot commands get 4 arenas for speed, and the long-running `run` gets 1
/// for its resident size over weeks.
fn limit_malloc_arenas(long_running: bool) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator tunable; called before the runtime
    // starts, while this is the only thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, if long_running { 1 } else { 4 });
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = long_running;
}

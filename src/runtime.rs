//! The `run` loop: the worker as a long-running process. It drives the pipeline
//! (`crate::worker`, `crate::notify`, `crate::digest`, `crate::server`); nothing below
//! it knows it exists. Errors that stop it are returned (`RunError`), not printed.
//!
//! Two tasks (three with `[server]`: /metrics and /healthz) under one shutdown token:
//! - **deciding** (`decide_loop`): a poll cycle every `poll_every` (with up to 10%
//!   jitter, so replicas and restarts do not align; a cycle never overlaps the previous
//!   one), and between polls the deadline index whenever its next entry comes due, and
//!   the digests `[digest].cron` owes;
//! - **delivery**: the outbox worker, continuously, each channel in its own lane.
//!
//! SIGINT/SIGTERM cancels the token: a poll in progress is abandoned (its pages are
//! committed one transaction at a time and the watermark only moves with the last, so
//! the next start re-reads what was cut short), waits end, an attempt in flight gets
//! [`IN_FLIGHT_GRACE`] to finish and be recorded (else it is abandoned and stays
//! queued), sled is flushed, and the process exits 0 within 10 s.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::notify::{Deliverer, Renderer};
use crate::state::StateError;
use crate::worker::Worker;

/// Why `run` could not start, or could not flush its state at the end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A channel could not be set up.
    #[error("{0}")]
    Channels(String),
    #[error("{0}")]
    Metrics(String),
    #[error("[server] listen = \"{listen}\": cannot listen: {source}")]
    Listen {
        listen: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

/// Longest sleep of the evaluation task between looks at the deadline index.
const MAX_TICK: Duration = Duration::from_secs(1);
/// How long an attempt in flight at shutdown may take to finish (SPEC §2: exit
/// within 10 s of SIGTERM, with the flush after it).
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(7);
/// How long delivery rests before restarting after a state error.
const IDLE: Duration = Duration::from_secs(1);

/// Run until `shutdown` is cancelled.
pub async fn run(
    mut worker: Worker,
    renderer: Renderer,
    clock: Clock,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let renderer = Arc::new(renderer);
    let deliverer = Deliverer::from_config(worker.store.clone(), renderer.clone(), &worker.config)
        .map_err(RunError::Channels)?;
    let store = worker.store.clone();
    let server = match worker.config.server.clone() {
        Some(server) => {
            let handle = crate::server::install_recorder().map_err(RunError::Metrics)?;
            let (store, every, shutdown) = (
                store.clone(),
                worker.config.acronis.poll_every,
                shutdown.clone(),
            );
            // Bound here: a port that cannot be had is a start-up failure, not a
            // worker that runs without its health endpoint.
            let listener =
                tokio::net::TcpListener::bind(server.listen)
                    .await
                    .map_err(|source| RunError::Listen {
                        listen: server.listen,
                        source,
                    })?;
            Some(tokio::spawn(async move {
                if let Err(e) = crate::server::serve(listener, store, every, handle, shutdown).await
                {
                    tracing::error!("/metrics and /healthz: {e}");
                }
            }))
        }
        None => None,
    };
    tracing::info!(
        poll_every_s = worker.config.acronis.poll_every.as_secs(),
        channels = worker.config.channels.len(),
        "worker started"
    );
    let mut delivery = {
        let shutdown = shutdown.clone();
        let clock = clock.clone();
        tokio::spawn(async move {
            // Lanes return before shutdown only when the state directory failed
            // them; then delivery restarts after a pause.
            while !shutdown.is_cancelled() {
                let report = deliverer.run_until_shutdown(clock.clone(), &shutdown).await;
                for e in &report.errors {
                    tracing::error!("delivery: {e}");
                }
                tokio::select! {
                    _ = tokio::time::sleep(IDLE) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        })
    };
    // Returns once shutdown is asked for.
    decide_loop(&mut worker, renderer, clock, shutdown.clone()).await;
    // An attempt in flight is given a few seconds to finish and be recorded; one
    // still hanging then (a slow SMTP server, a webhook near its request_timeout) is
    // abandoned so the process exits within 10 s of the signal. Its item is still
    // queued and is sent again on the next start (at-least-once).
    match tokio::time::timeout(IN_FLIGHT_GRACE, &mut delivery).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("the delivery task failed: {e}"),
        Err(_) => {
            delivery.abort();
            tracing::warn!(
                grace_s = IN_FLIGHT_GRACE.as_secs(),
                "a delivery attempt was still in flight at shutdown: abandoned; it stays queued and is sent again on the next start"
            );
        }
    }
    if let Some(server) = server {
        let _ = server.await;
    }
    tracing::info!("shutting down: flushing the state directory");
    store.flush().await?;
    Ok(())
}

/// The loop that decides: poll on schedule; between polls, run the deadlines as they
/// come due and queue the digests `[digest].cron` owes.
async fn decide_loop(
    worker: &mut Worker,
    renderer: Arc<Renderer>,
    clock: Clock,
    shutdown: CancellationToken,
) {
    let every = worker.config.acronis.poll_every;
    let mut next_poll = tokio::time::Instant::now();
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        if tokio::time::Instant::now() >= next_poll {
            let started = tokio::time::Instant::now();
            tokio::select! {
                report = worker.poll_cycle(clock.now()) => {
                    let failed = report.outcomes.iter().filter(|(_, r)| r.is_err()).count();
                    tracing::info!(
                        tenants = report.outcomes.len(),
                        failed,
                        backing_off = report.backing_off.len(),
                        ms = started.elapsed().as_millis() as u64,
                        "poll cycle done"
                    );
                    metrics::counter!(crate::telemetry::TOKEN_REFRESHES)
                        .absolute(worker.client.tokens().refreshes());
                    release_free_memory();
                }
                _ = shutdown.cancelled() => return,
            }
            // The next cycle starts `poll_every` after this one started (never before
            // this one ended), plus up to 10% jitter.
            let jitter = every.mul_f64(0.1 * rand::random::<f64>());
            next_poll = (started + every + jitter).max(tokio::time::Instant::now());
            continue;
        }
        let now = clock.now();
        queue_digests(worker, &renderer, now).await;
        let until_deadline = match worker.store.next_deadline() {
            Ok(Some(t)) if t <= now => {
                if let Err(e) = worker.run_deadlines(now).await {
                    tracing::error!("evaluating due deadlines failed: {e}");
                }
                continue;
            }
            Ok(Some(t)) => (t - now).to_std().unwrap_or(MAX_TICK),
            Ok(None) => MAX_TICK,
            Err(e) => {
                tracing::error!("reading the deadline index failed: {e}");
                MAX_TICK
            }
        };
        let wait = until_deadline
            .min(MAX_TICK)
            .min(next_poll.saturating_duration_since(tokio::time::Instant::now()));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Queue the digests owed at `now` (after a poll cycle, so they show fresh data; a
/// start owes at most one, however many ticks passed while the worker was down).
async fn queue_digests(worker: &Worker, renderer: &Arc<Renderer>, now: chrono::DateTime<Utc>) {
    let tick = match crate::digest::due_tick(&worker.store, &worker.config, now) {
        Ok(Some(tick)) => tick,
        Ok(None) => return,
        Err(e) => {
            tracing::error!("digests: {e}");
            return;
        }
    };
    // Reading every resource of the digest tenants is work for the blocking pool.
    let (store, config, settings, renderer) = (
        worker.store.clone(),
        worker.config.clone(),
        worker.settings.clone(),
        renderer.clone(),
    );
    let queued = tokio::task::spawn_blocking(move || {
        crate::digest::queue_tick(&store, &config, &settings, &renderer, tick, now)
    })
    .await;
    release_free_memory();
    match queued {
        Ok(Ok(n)) => tracing::info!(tick = %tick.to_rfc3339(), digests = n, "digests queued"),
        Ok(Err(e)) => tracing::error!("digests for {}: {e}", tick.to_rfc3339()),
        Err(e) => tracing::error!("digests for {}: {e}", tick.to_rfc3339()),
    }
}

/// Hand the heap's free pages back to the system after a burst of work (a poll cycle,
/// the digests), so the worker idles at its working set rather than at the burst's
/// peak: glibc only returns memory from the top of its heap by itself, and a cycle
/// that writes 100k resources leaves free pages all through it (100k machines, other
/// settings as they were then: 98 MiB idle without this, 82 MiB with it). Takes
/// milliseconds, once per cycle.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it takes
    // no pointers from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

//! The outbox worker: per channel, take the due items in order, wait for the rate
//! limit, render, send, and record the outcome (gone, rescheduled, or a dead letter).
//!
//! Channels run side by side and independently: a dead Slack webhook backs off on its
//! own items and never delays email. Only waits (for the next due item, for the rate
//! limit) are cut short by shutdown; an attempt that started finishes and is recorded.
//! An item leaves the outbox only after its channel accepted it, and that removal is
//! flushed before the next item goes: at most the one message in flight when the
//! process dies is sent twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::backoff;
use super::rate::{Limiter, spent_at_start};
use super::render::RenderError;
use super::render::budget::RENDER_WAIT;
use super::{Channel, Rendered, Renderer, SendError};
use crate::clock::Clock;
use crate::config::{ChannelConfig, Config};
use crate::model::OutboxItem;
use crate::state::{StateError, Store};

/// Items read from the outbox at a time per channel.
const BATCH: usize = 16;
/// Longest wait for a channel's next due item before the outbox is read again.
const RECHECK: Duration = Duration::from_secs(1);

/// What one delivery run did.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    /// Items left in the outbox (not yet due, or due after the run's time was up).
    pub remaining: usize,
    /// The state directory could not be read or written (delivery stopped for that channel).
    pub errors: Vec<StateError>,
}

impl DeliveryReport {
    fn absorb(&mut self, other: DeliveryReport) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.dead += other.dead;
        self.remaining += other.remaining;
        self.errors.extend(other.errors);
    }
}

/// One channel with its limiter.
struct Lane {
    config: ChannelConfig,
    channel: Channel,
    limiter: Limiter,
}

/// Delivers the outbox.
pub struct Deliverer {
    store: Store,
    renderer: Arc<Renderer>,
    lanes: Vec<Arc<Lane>>,
}

impl Deliverer {
    /// [`Deliverer::new`] with the HTTP client every channel of `config` shares.
    pub fn from_config(
        store: Store,
        renderer: impl Into<Arc<Renderer>>,
        config: &Config,
    ) -> Result<Deliverer, String> {
        let http = super::http_client(config)?;
        Deliverer::new(store, renderer.into(), config, http).map_err(|e| e.to_string())
    }

    /// One lane per configured channel, each limiter primed from the sends recorded in
    /// the state directory.
    pub fn new(
        store: Store,
        renderer: Arc<Renderer>,
        config: &Config,
        http: reqwest::Client,
    ) -> Result<Deliverer, StateError> {
        let now = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let lanes = config
            .channels
            .iter()
            .map(|c| {
                let spent = spent_at_start(&store.sends(&c.name)?, now, c.rate, c.burst);
                Ok(Arc::new(Lane {
                    config: c.clone(),
                    channel: Channel::new(c, http.clone())
                        .with_smtp_timeout(config.acronis.request_timeout),
                    limiter: Limiter::new(c.rate, c.burst, spent),
                }))
            })
            .collect::<Result<_, StateError>>()?;
        Ok(Deliverer {
            store,
            renderer,
            lanes,
        })
    }

    /// Deliver until every channel's queue is empty, or holds only items due after
    /// `budget` of real time from now, or `shutdown` is cancelled (`once`).
    pub async fn run(
        &self,
        clock: Clock,
        budget: Duration,
        shutdown: &CancellationToken,
    ) -> DeliveryReport {
        self.lanes(clock, Some(budget), shutdown).await
    }

    /// Deliver until `shutdown` (`run`): a lane whose queue is empty keeps watching
    /// it, so a channel in a long backoff never holds back another's new items.
    pub async fn run_until_shutdown(
        &self,
        clock: Clock,
        shutdown: &CancellationToken,
    ) -> DeliveryReport {
        self.lanes(clock, None, shutdown).await
    }

    /// One attempt at each of `items` (already queued), in order, within its
    /// channel's rate (`digest`: its own items, not the rest of the outbox). An item
    /// that fails is rescheduled or buried as in any run; `remaining` counts the
    /// rescheduled, which stay queued for the next run.
    pub async fn attempt_each(
        &self,
        items: Vec<OutboxItem>,
        clock: Clock,
        shutdown: &CancellationToken,
    ) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        for item in items {
            let Some(lane) = self.lanes.iter().find(|l| l.config.name == item.channel) else {
                report.remaining += 1;
                continue;
            };
            if lane.limiter.try_now().is_err() {
                tokio::select! {
                    _ = lane.limiter.ready() => {}
                    _ = shutdown.cancelled() => {}
                }
            }
            if let Some(wait) = lane.limiter.window_wait() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
            if shutdown.is_cancelled() {
                report.remaining += 1;
                continue;
            }
            let work = LaneRun {
                lane: lane.clone(),
                store: self.store.clone(),
                renderer: self.renderer.clone(),
                clock: clock.clone(),
                deadline: Instant::now(),
                persistent: false,
                shutdown: shutdown.clone(),
            };
            let retried = report.retried;
            if let Err(e) = work.attempt(item, &mut report).await {
                report.errors.push(e);
            }
            report.remaining += report.retried - retried;
        }
        report
    }

    async fn lanes(
        &self,
        clock: Clock,
        budget: Option<Duration>,
        shutdown: &CancellationToken,
    ) -> DeliveryReport {
        // No budget: a deadline too far away to matter.
        let far = Duration::from_secs(365 * 86_400);
        let deadline = Instant::now() + budget.unwrap_or(far);
        let persistent = budget.is_none();
        let mut set = tokio::task::JoinSet::new();
        for lane in &self.lanes {
            let work = LaneRun {
                lane: lane.clone(),
                store: self.store.clone(),
                renderer: self.renderer.clone(),
                clock: clock.clone(),
                deadline,
                persistent,
                shutdown: shutdown.clone(),
            };
            set.spawn(async move { work.run().await });
        }
        let mut report = DeliveryReport::default();
        while let Some(done) = set.join_next().await {
            match done {
                Ok(r) => report.absorb(r),
                Err(e) => tracing::error!("a delivery task failed: {e}"),
            }
        }
        // Items of channels no longer configured stay where they are, and count.
        report.remaining = self.store.outbox_len();
        report
    }
}

struct LaneRun {
    lane: Arc<Lane>,
    store: Store,
    renderer: Arc<Renderer>,
    clock: Clock,
    deadline: Instant,
    /// Keep watching an empty queue instead of returning (`run`).
    persistent: bool,
    shutdown: CancellationToken,
}

impl LaneRun {
    async fn run(self) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        if let Err(e) = self.deliver(&mut report).await {
            tracing::error!(channel = %self.lane.config.name, "delivery stopped: {e}");
            report.errors.push(e);
        }
        report
    }

    async fn deliver(&self, report: &mut DeliveryReport) -> Result<(), StateError> {
        let name = &self.lane.config.name;
        // The deadline bounds the run: no attempt starts after it, and no wait (for the
        // next due item, for the rate limit) that would end past it is begun; what is
        // left stays queued for the next run. `--deliver-for 0s` only queues.
        loop {
            if self.shutdown.is_cancelled() || Instant::now() >= self.deadline {
                return Ok(());
            }
            let now = self.clock.now();
            let due = self.store.due(name, now, BATCH)?;
            if due.is_empty() {
                let Some(next) = self.store.next_due(name)? else {
                    if !self.persistent {
                        return Ok(());
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(RECHECK) => continue,
                        _ = self.shutdown.cancelled() => return Ok(()),
                    }
                };
                // Looked at again at least every second: an item queued meanwhile
                // (by `run`'s evaluation) may be due sooner.
                let wait = (next - now).to_std().unwrap_or_default().min(RECHECK);
                if Instant::now() + wait > self.deadline {
                    return Ok(());
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = self.shutdown.cancelled() => return Ok(()),
                }
            }
            for item in due {
                if let Some(wait) = self.lane.limiter.window_wait() {
                    if Instant::now() + wait > self.deadline {
                        return Ok(());
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.shutdown.cancelled() => return Ok(()),
                    }
                }
                if let Err(wait) = self.lane.limiter.try_now() {
                    if Instant::now() + wait > self.deadline {
                        return Ok(());
                    }
                    tokio::select! {
                        _ = self.lane.limiter.ready() => {}
                        _ = self.shutdown.cancelled() => return Ok(()),
                    }
                }
                self.attempt(item, report).await?;
                if self.shutdown.is_cancelled() || Instant::now() >= self.deadline {
                    return Ok(());
                }
            }
        }
    }

    /// One attempt at one item; its outcome is recorded before this returns.
    async fn attempt(
        &self,
        item: OutboxItem,
        report: &mut DeliveryReport,
    ) -> Result<(), StateError> {
        let alert_key = item
            .alerts
            .first()
            .map(|a| a.key.clone())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "deliver",
            channel = %self.lane.config.name,
            rule = %item.rule.name,
            alert_key,
            id = item.id
        );
        self.attempt_in_span(item, report).instrument(span).await
    }

    /// Render `item` on the blocking pool, waiting at most [`RENDER_WAIT`]: a template
    /// that runs away fails its own message (the budget in `render/budget.rs` ends most
    /// such renders itself) and holds neither this lane past the wait nor any other.
    async fn render(&self, item: &OutboxItem) -> Result<Rendered, RenderError> {
        let renderer = self.renderer.clone();
        let config = self.lane.config.clone();
        let owned = item.clone();
        let now = self.clock.now();
        let task = tokio::task::spawn_blocking(move || renderer.render(&config, &owned, now));
        match tokio::time::timeout(RENDER_WAIT, task).await {
            Ok(Ok(rendered)) => rendered,
            Ok(Err(e)) => Err(RenderError(format!("the render stopped: {e}"))),
            Err(_) => Err(RenderError(format!(
                "the render took longer than {} s and was abandoned (loops nested in loops?)",
                RENDER_WAIT.as_secs()
            ))),
        }
    }

    async fn attempt_in_span(
        &self,
        item: OutboxItem,
        report: &mut DeliveryReport,
    ) -> Result<(), StateError> {
        let config = &self.lane.config;
        let result = match self.render(&item).await {
            Ok(message) => {
                tracing::debug!(attempt = item.attempts + 1, "sending");
                let sent = self.lane.channel.send(&item, &message).await;
                self.lane.limiter.answered();
                self.store.record_send(&config.name, Utc::now())?;
                sent
            }
            Err(e) => Err(SendError::Permanent {
                reason: format!("cannot render template {:?}: {e}", config.template),
            }),
        };
        let attempts = item.attempts + 1;
        match result {
            Ok(delivered) => {
                self.store.delivered(&item)?;
                self.store.flush().await?;
                report.sent += 1;
                metrics::counter!(crate::telemetry::NOTIFICATIONS, "channel" => config.name.clone(), "result" => "sent").increment(1);
                tracing::info!(
                    attempts,
                    alerts = item.count(),
                    "notification sent ({})",
                    delivered.detail
                );
            }
            Err(SendError::Retryable {
                retry_after,
                reason,
            }) if attempts < config.max_attempts => {
                let wait = backoff::delay(attempts, retry_after, rand::random::<f64>());
                let mut next = item.clone();
                next.attempts = attempts;
                next.next_attempt_at =
                    self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                next.last_error = Some(reason.clone());
                self.store.reschedule(&item, &next)?;
                report.retried += 1;
                metrics::counter!(crate::telemetry::NOTIFICATIONS, "channel" => config.name.clone(), "result" => "retried").increment(1);
                tracing::warn!(
                    attempts,
                    retry_in_ms = wait.as_millis() as u64,
                    "delivery failed, will retry: {reason}"
                );
            }
            Err(e) => {
                let reason = match &e {
                    SendError::Retryable { reason, .. } => {
                        format!("{reason}; gave up after {attempts} attempts (max_attempts)")
                    }
                    SendError::Permanent { reason } => reason.clone(),
                };
                let mut dead = item.clone();
                dead.attempts = attempts;
                dead.last_error = Some(reason.clone());
                self.store.bury(&item, &dead)?;
                self.store.flush().await?;
                report.dead += 1;
                metrics::counter!(crate::telemetry::NOTIFICATIONS, "channel" => config.name.clone(), "result" => "dead").increment(1);
                tracing::error!(attempts, "notification is a dead letter: {reason}");
            }
        }
        Ok(())
    }
}

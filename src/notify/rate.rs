//! Per-channel rate limits: governor's GCRA, primed at start from the sends recorded
//! in the state directory, so a crash loop never starts each run with a full burst.
//!
//! The rate is kept as the receiving service sees it, not only as sends leave: a
//! request can spend longer in transit than the next one, and the two then arrive
//! closer together than they left. With `burst = 1`, a send also waits until the send
//! `count` places earlier was answered `per` ago: the service saw that one by then, so
//! it never sees more than `count` in any `per`, whatever the network did. A slow
//! answer slows the lane instead (at most by the round trip per `count` sends).

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::config::Rate;

/// One channel's limiter.
pub struct Limiter {
    inner: RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
    /// `burst = 1`: when the last `window` sends were answered (oldest first).
    answered: Mutex<VecDeque<Instant>>,
    /// How many answered sends the window holds (0: no window, a burst is allowed).
    window: usize,
    /// The span `window` sends must take, as the receiver sees them.
    span: Duration,
}

/// The largest window kept (a very high rate is kept over shorter spans).
const MAX_WINDOW: u32 = 1000;

impl Limiter {
    /// A limiter for `rate` with `burst`, with `spent` cells already used (see
    /// [`spent_at_start`]).
    pub fn new(rate: Rate, burst: NonZeroU32, spent: u32) -> Limiter {
        let inner = RateLimiter::direct(quota(rate, burst));
        if let Some(n) = NonZeroU32::new(spent.min(burst.get())) {
            // Cannot fail: n <= burst.
            let _ = inner.check_n(n);
        }
        let window = if burst.get() == 1 {
            rate.count.get().min(MAX_WINDOW)
        } else {
            0
        };
        Limiter {
            inner,
            answered: Mutex::new(VecDeque::with_capacity(window as usize)),
            window: window as usize,
            span: period(rate) * window,
        }
    }

    /// How long a send must still wait so that the receiver never sees more than
    /// the window's sends in its span (see the module's doc); None: it may go now.
    pub fn window_wait(&self) -> Option<Duration> {
        let answered = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        if self.window == 0 || answered.len() < self.window {
            return None;
        }
        let clear = *answered.front()? + self.span;
        clear
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Record that a send was answered (or failed) now.
    pub fn answered(&self) {
        if self.window == 0 {
            return;
        }
        let mut answered = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        answered.push_back(Instant::now());
        while answered.len() > self.window {
            answered.pop_front();
        }
    }

    /// Take a cell if one is free now; otherwise how long until one is.
    pub fn try_now(&self) -> Result<(), Duration> {
        use governor::clock::Clock;
        self.inner
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Wait (real time) until one more message may go out.
    pub async fn ready(&self) {
        self.inner.until_ready().await;
    }
}

fn quota(rate: Rate, burst: NonZeroU32) -> Quota {
    let period = period(rate);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// The time one cell takes to replenish.
fn period(rate: Rate) -> Duration {
    (rate.per / rate.count.get()).max(Duration::from_nanos(1))
}

/// How many of the burst's cells are still spent at `now` (Unix ns), given the
/// recorded send times (oldest first): the bucket is simulated over them, refilling
/// one cell per period, so after a restart the limiter starts where it left off.
pub fn spent_at_start(sends: &[i64], now: i64, rate: Rate, burst: NonZeroU32) -> u32 {
    let period = period(rate).as_nanos().max(1) as f64;
    let burst = f64::from(burst.get());
    let mut tokens = burst;
    let mut last: Option<i64> = None;
    for &t in sends {
        if let Some(prev) = last {
            tokens = (tokens + (t - prev).max(0) as f64 / period).min(burst);
        }
        tokens = (tokens - 1.0).max(0.0);
        last = Some(t);
    }
    if let Some(prev) = last {
        tokens = (tokens + (now - prev).max(0) as f64 / period).min(burst);
    }
    (burst - tokens).ceil().max(0.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn rate(count: u32, secs: u64) -> Rate {
        Rate {
            count: NonZeroU32::new(count).unwrap(),
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_fresh_channel_starts_with_its_full_burst() {
        assert_eq!(
            spent_at_start(&[], 100 * S, rate(1, 1), NonZeroU32::new(5).unwrap()),
            0
        );
    }

    #[test]
    fn sends_just_before_a_restart_are_still_spent() {
        let burst = NonZeroU32::new(5).unwrap();
        // Five sends in the last half second at 1/s: the whole burst is spent.
        let sends: Vec<i64> = (0..5).map(|i| 100 * S + i * S / 10).collect();
        assert_eq!(
            spent_at_start(&sends, 100 * S + S / 2, rate(1, 1), burst),
            5
        );
        // Two seconds later two cells came back.
        assert_eq!(
            spent_at_start(&sends, 100 * S + S / 2 + 2 * S, rate(1, 1), burst),
            3
        );
        // Long ago: nothing is spent.
        assert_eq!(spent_at_start(&sends, 1000 * S, rate(1, 1), burst), 0);
    }

    #[test]
    fn a_send_waits_until_the_one_count_places_back_was_answered_per_ago() {
        let limiter = Limiter::new(rate(2, 1), NonZeroU32::new(1).unwrap(), 0);
        assert_eq!(limiter.window_wait(), None);
        limiter.answered();
        assert_eq!(limiter.window_wait(), None, "one of two in the window");
        limiter.answered();
        let wait = limiter.window_wait().expect("two answered just now");
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // With a burst the window is off: the burst is what the user allowed.
        let bursty = Limiter::new(rate(2, 1), NonZeroU32::new(3).unwrap(), 0);
        for _ in 0..5 {
            bursty.answered();
        }
        assert_eq!(bursty.window_wait(), None);
    }

    #[tokio::test]
    async fn a_primed_limiter_makes_the_first_send_wait() {
        let limiter = Limiter::new(rate(10, 1), NonZeroU32::new(1).unwrap(), 1);
        let started = std::time::Instant::now();
        limiter.ready().await;
        assert!(
            started.elapsed() >= Duration::from_millis(80),
            "{:?}",
            started.elapsed()
        );
    }
}

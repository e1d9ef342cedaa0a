//! Per-channel rate limits: governor's GCRA, primed at start from the sends recorded
//! in the state directory, so a crash loop never starts each run with a full burst.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::config::Rate;

/// One channel's limiter.
pub struct Limiter {
    inner: RateLimiter<NotKeyed, InMemoryState, DefaultClock>,
}

impl Limiter {
    /// A limiter for `rate` with `burst`, with `spent` cells already used (see
    /// [`spent_at_start`]).
    pub fn new(rate: Rate, burst: NonZeroU32, spent: u32) -> Limiter {
        let inner = RateLimiter::direct(quota(rate, burst));
        if let Some(n) = NonZeroU32::new(spent.min(burst.get())) {
            // Cannot fail: n <= burst.
            let _ = inner.check_n(n);
        }
        Limiter { inner }
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

//! When to try a failed delivery again: exponential backoff with jitter, and never
//! before the service's `Retry-After`.

use std::time::Duration;

/// The first retry waits about this long; each further one twice as long.
const FIRST: Duration = Duration::from_secs(1);
/// No wait grows beyond this (a dead channel is retried every ten minutes or so).
const CAP: Duration = Duration::from_secs(600);

/// The wait after the `attempt`-th failed attempt (1-based). `jitter` in [0, 1) adds
/// up to half the wait, so channels failing together do not retry in lockstep.
pub fn delay(attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let base = FIRST.saturating_mul(1u32 << exp).min(CAP);
    let spread = base.mul_f64(0.5 * jitter.clamp(0.0, 1.0));
    let backoff = (base + spread).min(CAP);
    match retry_after {
        Some(after) => after.max(backoff),
        None => backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_never_undercut_retry_after() {
        assert_eq!(delay(1, None, 0.0), Duration::from_secs(1));
        assert_eq!(delay(2, None, 0.0), Duration::from_secs(2));
        assert_eq!(delay(4, None, 0.0), Duration::from_secs(8));
        assert_eq!(delay(30, None, 0.99), CAP);
        assert_eq!(delay(1, None, 1.0), Duration::from_millis(1500));
        assert_eq!(
            delay(1, Some(Duration::from_secs(7)), 0.5),
            Duration::from_secs(7)
        );
        assert_eq!(
            delay(5, Some(Duration::from_secs(3)), 0.0),
            Duration::from_secs(16)
        );
    }
}

//! The clock seam: everything the worker decides by time asks a [`Clock`] (alerts
//! firing and resolving, deadlines, group windows, due times and backoff of the
//! outbox, digest ticks).
//!
//! Production uses the wall clock. `--now T` starts a clock at T that then runs on in
//! real time, so a test or a replay sees the dates it asked for while backoff and rate
//! limits still wait for real; tests may fix a clock and step it. HTTP timeouts and the
//! rate limiter's own accounting run on real time and do not use this.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};

/// A source of "now" for decisions.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The system clock.
    Wall,
    /// `base` when the clock was made, moved on by the real time since.
    Running {
        base: DateTime<Utc>,
        started: Instant,
    },
    /// A fixed instant, moved only by [`Clock::advance`] (tests).
    Fixed(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// `run --now T`: a clock starting at T and running on; without it, the wall clock.
    /// (One-shot commands decide at exactly T: [`Clock::fixed`].)
    pub fn from_flag(now: Option<DateTime<Utc>>) -> Clock {
        now.map_or(Clock::Wall, Clock::starting_at)
    }

    /// A clock that reads `base` now and runs on in real time.
    pub fn starting_at(base: DateTime<Utc>) -> Clock {
        Clock::Running {
            base,
            started: Instant::now(),
        }
    }

    /// A clock stopped at `t`.
    pub fn fixed(t: DateTime<Utc>) -> Clock {
        Clock::Fixed(Arc::new(Mutex::new(t)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::Wall => Utc::now(),
            Clock::Running { base, started } => {
                *base + chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
            }
            Clock::Fixed(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Move a fixed clock by `by` (no effect on the others).
    pub fn advance(&self, by: chrono::Duration) {
        if let Clock::Fixed(t) = self {
            let mut g = t.lock().unwrap_or_else(|p| p.into_inner());
            *g += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_clock_starts_at_its_base_and_moves_on() {
        let t = DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
            .unwrap()
            .to_utc();
        let c = Clock::starting_at(t);
        let a = c.now();
        assert!(a >= t && a - t < chrono::Duration::seconds(5));
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(c.now() > a);
        let f = Clock::fixed(t);
        f.advance(chrono::Duration::hours(1));
        assert_eq!(f.now(), t + chrono::Duration::hours(1));
        assert_eq!(Clock::from_flag(None).now().timezone(), Utc);
    }
}

//! Simulated time: wall-clock flow from a base instant, plus jumps from `advance`, and a
//! freeze switch for deterministic tests.
//!
//! Times are nanoseconds since the Unix epoch in an `i64`, clamped to [`MAX_NS`] so that
//! no arithmetic on outside input can overflow. The clock never goes backwards.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// 2200-01-01T00:00:00Z: the simulated clock never passes this (i64 ns end in 2262).
pub(crate) const MAX_NS: i64 = 7_258_118_400 * NS_PER_SEC;
pub(crate) const NS_PER_SEC: i64 = 1_000_000_000;
pub(crate) const HOUR_NS: i64 = 3600 * NS_PER_SEC;
pub(crate) const DAY_NS: i64 = 24 * HOUR_NS;

/// The simulated clock. `now = base_ns + (Instant::now() - started)` unless frozen.
///
/// The flow starts at the first reading, not at construction, so a simulator frozen
/// before anything looked at it stands exactly at its start time.
#[derive(Debug)]
pub(crate) struct SimClock {
    base_ns: i64,
    started: Option<Instant>,
    frozen: bool,
}

impl SimClock {
    pub(crate) fn new(start: DateTime<Utc>) -> SimClock {
        SimClock {
            base_ns: to_ns(start),
            started: None,
            frozen: false,
        }
    }

    pub(crate) fn now_ns(&mut self) -> i64 {
        if self.frozen {
            return self.base_ns;
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        let flowed = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        self.base_ns.saturating_add(flowed).min(MAX_NS)
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Moves time forward by `by` (clamped at [`MAX_NS`]).
    pub(crate) fn advance(&mut self, by: Duration) {
        let by = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.base_ns = self.base_ns.saturating_add(by).min(MAX_NS);
    }

    /// Freezing pins `now`; thawing lets it flow again from where it stood.
    pub(crate) fn freeze(&mut self, frozen: bool) {
        if frozen == self.frozen {
            return;
        }
        if frozen {
            if self.started.is_some() {
                self.base_ns = self.now_ns();
            }
        } else {
            self.started = Some(Instant::now());
        }
        self.frozen = frozen;
    }
}

/// Nanoseconds since the epoch, clamped into `0..=MAX_NS`.
pub(crate) fn to_ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt()
        .unwrap_or(if t.timestamp() < 0 { 0 } else { MAX_NS })
        .clamp(0, MAX_NS)
}

/// The instant for nanoseconds since the epoch.
pub(crate) fn from_ns(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_only_moves_by_advance() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        let mut clock = SimClock::new(start);
        std::thread::sleep(Duration::from_millis(2));
        clock.freeze(true);
        let t0 = clock.now_ns();
        assert_eq!(
            t0,
            to_ns(start),
            "frozen before the first reading: exactly the start"
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now_ns(), t0);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(clock.now_ns(), t0 + 3600 * NS_PER_SEC);
        clock.freeze(false);
        std::thread::sleep(Duration::from_millis(2));
        assert!(clock.now_ns() > t0 + 3600 * NS_PER_SEC);
    }

    #[test]
    fn advance_saturates() {
        let mut clock = SimClock::new(DateTime::from_timestamp(0, 0).expect("valid"));
        clock.freeze(true);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now_ns(), MAX_NS);
    }
}

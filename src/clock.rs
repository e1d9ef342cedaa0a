//! The clock seam: everything the worker decides by time asks a [`Clock`].
//!
//! Production uses the wall clock; `once --now T` and tests fix it. HTTP timeouts,
//! backoff waits and rate limits run on real time and do not use this.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// A source of "now" for decisions.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The system clock.
    Wall,
    /// A fixed (or test-stepped) instant.
    Fixed(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// A clock stopped at `t`.
    pub fn fixed(t: DateTime<Utc>) -> Clock {
        Clock::Fixed(Arc::new(Mutex::new(t)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::Wall => Utc::now(),
            Clock::Fixed(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Move a fixed clock by `by` (no effect on the wall clock).
    pub fn advance(&self, by: chrono::Duration) {
        if let Clock::Fixed(t) = self {
            let mut g = t.lock().unwrap_or_else(|p| p.into_inner());
            *g += by;
        }
    }
}

//! `[[silence]]`: whether a notification is held back at an instant, and until when.

use chrono::{DateTime, Utc};

use crate::config::{SilenceConfig, SilenceWindow};
use crate::model::StoredResource;
use crate::rules::Matcher;

/// Whether an alert's notifications are held back now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silenced {
    No,
    /// Until this instant (the earliest end among the silences covering it; another may
    /// still cover it then, which is checked then).
    Until(DateTime<Utc>),
    /// A silence with no end.
    Indefinitely,
}

struct Silence {
    rule: Option<String>,
    matcher: Matcher,
    window: SilenceWindow,
}

/// The configured silences, compiled.
#[derive(Default)]
pub struct Silences {
    list: Vec<Silence>,
}

impl Silences {
    pub fn new(config: &[SilenceConfig]) -> Silences {
        Silences {
            list: config
                .iter()
                .map(|s| Silence {
                    rule: s.rule.clone(),
                    matcher: Matcher::from_config(&s.matcher),
                    window: s.window.clone(),
                })
                .collect(),
        }
    }

    /// Whether notifications of `rule`'s alert on `r` are held back at `now`.
    pub fn check(&self, rule: &str, r: &StoredResource, now: DateTime<Utc>) -> Silenced {
        let mut out = Silenced::No;
        for s in &self.list {
            if s.rule.as_deref().is_some_and(|name| name != rule) || !s.matcher.matches(r) {
                continue;
            }
            let Some(end) = active_until(&s.window, now) else {
                continue;
            };
            out = match (out, end) {
                (Silenced::Indefinitely, _) | (_, None) => Silenced::Indefinitely,
                (Silenced::No, Some(e)) => Silenced::Until(e),
                (Silenced::Until(a), Some(e)) => Silenced::Until(a.min(e)),
            };
        }
        out
    }
}

/// If the window is open at `now`: Some(its end), Some(None) if it never ends.
fn active_until(window: &SilenceWindow, now: DateTime<Utc>) -> Option<Option<DateTime<Utc>>> {
    match window {
        SilenceWindow::Fixed { starts, ends } => {
            let started = starts.is_none_or(|s| s <= now);
            let not_ended = ends.is_none_or(|e| now < e);
            (started && not_ended).then_some(*ends)
        }
        SilenceWindow::Recurring {
            schedule,
            duration,
            timezone,
            ..
        } => {
            let length = chrono::Duration::from_std(*duration).ok()?;
            // The first tick after (now - length): open now iff it is not after now.
            let from = (now - length).with_timezone(timezone);
            let tick = schedule.after(&from).next()?.with_timezone(&Utc);
            (tick <= now).then_some(Some(tick + length))
        }
    }
}

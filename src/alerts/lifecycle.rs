//! One alert's step: given the rule's transition, the stored record and whether a
//! silence covers it now, the record to keep, the notification to send (if any) and
//! when time alone makes the alert worth another look.
//!
//! Silences hold notifications back, never state: an alert fires and resolves under a
//! silence as usual, and what the channels were last told ([`Told`]) says what is still
//! owed when the silence ends.

use chrono::{DateTime, Utc};

use super::Silenced;
use crate::model::{AlertRecord, AlertStatus, Told};
use crate::rules::{Prior, Rule, Transition, repeat_due_at};

/// A notification an alert sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// It fired (or a silence that held its firing back ended).
    Firing,
    /// Still firing; `repeat` has passed since it was last notified.
    Repeat,
    Resolved,
    /// It changed state as often as its rule's `flap` says within the window: one
    /// notification, then nothing until it is stable.
    Flapping,
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The record after the step; None if the alert never fired.
    pub record: Option<AlertRecord>,
    pub notify: Option<Notify>,
    /// When to look again by time alone (next repeat, end of a silence).
    pub wake: Option<DateTime<Utc>>,
}

impl Step {
    const NONE: Step = Step {
        record: None,
        notify: None,
        wake: None,
    };

    /// Whether the record still matters to evaluation: firing, or a notification owed.
    pub fn live(&self, rule: &Rule) -> bool {
        self.record.as_ref().is_some_and(|r| {
            r.status == AlertStatus::Firing
                || r.owes(rule.resolve)
                || r.flapping_since.is_some()
                || !r.changes.is_empty()
        })
    }
}

/// Apply `transition` to the alert whose stored record is `prior`. `fresh` builds the
/// record of a new firing (key, names, `fired_at = now`, told nothing).
pub fn step(
    rule: &Rule,
    prior: Option<AlertRecord>,
    transition: Transition,
    silenced: Silenced,
    now: DateTime<Utc>,
    fresh: impl FnOnce() -> AlertRecord,
) -> Step {
    let changed = matches!(transition, Transition::Fired | Transition::Resolved);
    let mut rec = match (transition, prior) {
        (Transition::Fired, prior) => {
            let mut rec = fresh();
            if let Some(p) = prior {
                // Channels that still think an earlier firing is on need no second
                // "firing" (a resolve held back by a silence, then it fired again); one
                // told it flaps hears nothing until it is stable.
                if matches!(p.told, Told::Firing | Told::Flapping) {
                    rec.told = p.told;
                    rec.last_notified_at = p.last_notified_at;
                }
                rec.changes = p.changes;
                rec.flapping_since = p.flapping_since;
            }
            rec
        }
        (Transition::Resolved, Some(mut p)) => {
            p.status = AlertStatus::Resolved;
            p.resolved_at = Some(now);
            p
        }
        (_, Some(p)) => p,
        (_, None) => return Step::NONE,
    };
    let flap_wake = flap(rule, &mut rec, changed, now);
    if rec.status == AlertStatus::Resolved && rec.told == Told::Firing && !rule.resolve {
        // The rule does not notify resolutions: nothing is owed.
        rec.told = Told::Resolved;
    }
    let owed = match rec.status {
        _ if rec.flapping_since.is_some() => {
            (rec.told != Told::Flapping).then_some(Notify::Flapping)
        }
        AlertStatus::Firing if rec.told != Told::Firing => Some(Notify::Firing),
        AlertStatus::Firing if transition == Transition::RepeatDue => Some(Notify::Repeat),
        // After "flapping", the final state is told even if the rule does not notify
        // resolutions: the channels were told it flaps, not that it ended.
        AlertStatus::Resolved if matches!(rec.told, Told::Firing | Told::Flapping) => {
            Some(Notify::Resolved)
        }
        _ => None,
    };
    let mut wake = None;
    let mut notify = None;
    if let Some(n) = owed {
        let send = match silenced {
            // Nobody to tell: the alert counts as told.
            _ if rule.notify.is_empty() => false,
            Silenced::No => true,
            Silenced::Until(end) => {
                wake = Some(end);
                false
            }
            Silenced::Indefinitely => false,
        };
        if send || rule.notify.is_empty() {
            match n {
                Notify::Firing | Notify::Repeat => {
                    rec.told = Told::Firing;
                    rec.last_notified_at = Some(now);
                }
                Notify::Resolved => rec.told = Told::Resolved,
                Notify::Flapping => {
                    rec.told = Told::Flapping;
                    rec.last_notified_at = Some(now);
                }
            }
        }
        if send {
            notify = Some(n);
        }
    }
    let repeat = repeat_due_at(rule, &Prior::of(&rec)).filter(|_| rec.told == Told::Firing);
    let wake = [wake, repeat, flap_wake].into_iter().flatten().min();
    Step {
        record: Some(rec),
        notify,
        wake,
    }
}

/// Keep an alert's state changes within its rule's `flap` window (`changed`: this step
/// fired or resolved it), start flapping at `flap.changes` of them, and end it once the
/// window holds none. Returns when time alone changes that: the window's oldest change
/// ages out (or, while flapping, the newest one does).
fn flap(
    rule: &Rule,
    rec: &mut AlertRecord,
    changed: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let Some(flap) = rule.flap else {
        rec.changes.clear();
        rec.flapping_since = None;
        return None;
    };
    let within = chrono::Duration::from_std(flap.within).unwrap_or(chrono::TimeDelta::MAX);
    if changed {
        rec.changes.push(now);
    }
    let from = now.checked_sub_signed(within);
    rec.changes.retain(|t| from.is_none_or(|from| *t > from));
    // A bounded record: more changes than make it flap tell nothing more.
    let keep = flap.changes as usize;
    if rec.changes.len() > keep {
        rec.changes.drain(..rec.changes.len() - keep);
    }
    if rec.flapping_since.is_none() && rec.changes.len() >= keep {
        rec.flapping_since = Some(now);
    }
    let ages_out = |t: &DateTime<Utc>| t.checked_add_signed(within);
    if rec.flapping_since.is_some() {
        match rec.changes.last() {
            // Stable for the window: the final state is owed.
            None => {
                rec.flapping_since = None;
                None
            }
            Some(last) => ages_out(last),
        }
    } else {
        rec.changes.first().and_then(ages_out)
    }
}

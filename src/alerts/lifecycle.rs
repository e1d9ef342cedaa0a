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
        self.record
            .as_ref()
            .is_some_and(|r| r.status == AlertStatus::Firing || r.owes(rule.resolve))
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
    let mut rec = match (transition, prior) {
        (Transition::Fired, prior) => {
            let mut rec = fresh();
            // Channels that still think an earlier firing is on need no second "firing"
            // (a resolve held back by a silence, then it fired again).
            if let Some(p) = prior.filter(|p| p.told == Told::Firing) {
                rec.told = Told::Firing;
                rec.last_notified_at = p.last_notified_at;
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
    if rec.status == AlertStatus::Resolved && rec.told == Told::Firing && !rule.resolve {
        // The rule does not notify resolutions: nothing is owed.
        rec.told = Told::Resolved;
    }
    let owed = match rec.status {
        AlertStatus::Firing if rec.told != Told::Firing => Some(Notify::Firing),
        AlertStatus::Firing if transition == Transition::RepeatDue => Some(Notify::Repeat),
        AlertStatus::Resolved if rec.told == Told::Firing => Some(Notify::Resolved),
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
            }
        }
        if send {
            notify = Some(n);
        }
    }
    let repeat = repeat_due_at(rule, &Prior::of(&rec)).filter(|_| rec.told == Told::Firing);
    let wake = [wake, repeat].into_iter().flatten().min();
    Step {
        record: Some(rec),
        notify,
        wake,
    }
}

//! The pure evaluation of one rule on one subject (a resource, or one policy of it):
//! does the condition hold at `now`, when will it next start to hold by the passing of
//! time alone, and what transition does that make for the alert.
//!
//! No I/O, no clock: `now` is an argument, so `once --now` and the property tests
//! drive it through any sequence of instants.

use chrono::{DateTime, Utc};

use super::{Condition, Rule};
use crate::acronis::model::Policy;
use crate::model::{AlertRecord, AlertStatus, StoredResource};

/// What an alert's evaluation starts from: its state as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prior {
    pub firing: bool,
    /// When channels were last told it fires (for `repeat`).
    pub last_notified_at: Option<DateTime<Utc>>,
}

impl Prior {
    /// What a rule's evaluation needs of a stored alert.
    pub fn of(rec: &AlertRecord) -> Prior {
        Prior {
            firing: rec.status == AlertStatus::Firing,
            last_notified_at: rec.last_notified_at,
        }
    }
}

/// What a rule looks at: a resource, and for policy rules one policy of it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub resource: &'a StoredResource,
    pub policy: Option<&'a Policy>,
}

impl Subject<'_> {
    /// The alert key's optional last part: the policy type.
    pub fn policy_type(&self) -> Option<&str> {
        self.policy.map(|p| p.kind.as_str())
    }
}

/// What one evaluation does to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Not firing before, not firing now.
    Nothing,
    /// The condition became true (or was true at first sight).
    Fired,
    /// Firing before and now; no repeat is due.
    StillFiring,
    /// Firing before and now, and `repeat` has passed since the last notification.
    RepeatDue,
    /// Firing before; the condition no longer holds, or the subject is gone.
    Resolved,
}

impl Transition {
    /// Whether the alert is firing after this transition.
    pub fn firing(&self) -> bool {
        matches!(
            self,
            Transition::Fired | Transition::StillFiring | Transition::RepeatDue
        )
    }
}

/// The subject `rule` has in `r`: none if its filters exclude `r`; `r` itself for a
/// status rule; for a policy rule, the first policy of the rule's type (the API sends
/// one entry per type).
pub fn subject<'a>(rule: &Rule, r: &'a StoredResource) -> Option<Subject<'a>> {
    if rule.condition.is_platform() || !rule.matcher.matches(r) {
        return None;
    }
    match rule.condition.policy() {
        None => Some(Subject {
            resource: r,
            policy: None,
        }),
        Some(kind) => r.policies.iter().find(|p| p.kind == kind).map(|p| Subject {
            resource: r,
            policy: Some(p),
        }),
    }
}

/// Whether the condition holds for `s` at `now`.
pub fn condition_holds(rule: &Rule, s: &Subject<'_>, now: DateTime<Utc>) -> bool {
    match &rule.condition {
        Condition::Status(list) => list.contains(&s.resource.status),
        Condition::Stale { .. } | Condition::Overdue { .. } => {
            threshold(rule, s).is_some_and(|t| now >= t)
        }
        Condition::LastRunFailed { .. } => s.policy.is_some_and(last_run_failed),
        Condition::AgentOfflineFor(_) => threshold(rule, s).is_some_and(|t| now >= t),
        Condition::AgentDisabled => s
            .resource
            .agent
            .as_ref()
            .is_some_and(|a| a.enabled == Some(false)),
        Condition::CyberfitBelow(n) => s.resource.cyberfit.is_some_and(|c| c < *n),
        Condition::Platform(_) => false,
    }
}

/// When a time-based condition starts to hold if `s` never changes again; None if it
/// cannot by time alone (status rules, a policy with no times) or already holds.
pub fn next_flip(rule: &Rule, s: &Subject<'_>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    threshold(rule, s).filter(|t| *t > now)
}

/// Whether a policy's latest run did not succeed: it ran, and its last success (if
/// any) is older than that run. A success at the very time of the run is that run.
pub fn last_run_failed(policy: &Policy) -> bool {
    match (policy.last_run, policy.last_success_run) {
        (Some(run), Some(success)) => success.0 < run.0,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The instant from which a policy condition holds (given `s` as it is).
fn threshold(rule: &Rule, s: &Subject<'_>) -> Option<DateTime<Utc>> {
    if let Condition::AgentOfflineFor(d) = &rule.condition {
        let agent = s.resource.agent.as_ref()?;
        let since = agent
            .offline_since
            .filter(|_| agent.online == Some(false))?;
        return Some(since.0 + chrono::Duration::from_std(*d).ok()?);
    }
    let policy = s.policy?;
    match &rule.condition {
        Condition::Status(_)
        | Condition::LastRunFailed { .. }
        | Condition::AgentOfflineFor(_)
        | Condition::AgentDisabled
        | Condition::CyberfitBelow(_)
        | Condition::Platform(_) => None,
        Condition::Stale { older_than, .. } => {
            let since = match policy.last_success_run {
                Some(t) => t.0,
                // Never succeeded: measure from its first sign of life.
                None => {
                    [policy.last_run, s.resource.created_at]
                        .into_iter()
                        .flatten()
                        .min()?
                        .0
                }
            };
            Some(since + chrono::Duration::from_std(*older_than).ok()?)
        }
        Condition::Overdue { overdue_by, .. } => {
            let next = policy.next_run?.0;
            if policy.last_run.is_some_and(|r| r.0 >= next) {
                // It ran at or after the time it was due: not overdue, whatever next_run says.
                return None;
            }
            // SPEC §4: overdue once `next_run + overdue_by < now`, strictly.
            Some(
                next + chrono::Duration::from_std(*overdue_by).ok()?
                    + chrono::Duration::nanoseconds(1),
            )
        }
    }
}

/// The transition of the alert of `rule` on a subject: `prior` is its stored state (None
/// if it never fired), `current` the subject now (None: the resource was deleted, or
/// no longer has the policy or matches the filters).
pub fn transition(
    rule: &Rule,
    prior: Option<&Prior>,
    current: Option<&Subject<'_>>,
    now: DateTime<Utc>,
) -> Transition {
    let holds = current.is_some_and(|s| condition_holds(rule, s, now));
    transition_to(rule, prior, holds, now)
}

/// The transition of an alert whose condition now `holds` (or not), from `prior`.
pub fn transition_to(
    rule: &Rule,
    prior: Option<&Prior>,
    holds: bool,
    now: DateTime<Utc>,
) -> Transition {
    let was_firing = prior.is_some_and(|p| p.firing);
    match (was_firing, holds) {
        (false, false) => Transition::Nothing,
        (false, true) => Transition::Fired,
        (true, false) => Transition::Resolved,
        (true, true) => {
            let due = match (rule.repeat, prior.and_then(|p| p.last_notified_at)) {
                (Some(every), Some(last)) => chrono::Duration::from_std(every)
                    .ok()
                    .is_some_and(|every| now >= last + every),
                _ => false,
            };
            if due {
                Transition::RepeatDue
            } else {
                Transition::StillFiring
            }
        }
    }
}

/// When the next repeat of a firing alert falls due.
pub fn repeat_due_at(rule: &Rule, prior: &Prior) -> Option<DateTime<Utc>> {
    let every = chrono::Duration::from_std(rule.repeat?).ok()?;
    prior.firing.then_some(())?;
    Some(prior.last_notified_at? + every)
}

//! Every rule on one resource, before and after a change (or at a deadline): the
//! alert records to write, the notifications to enqueue, and the resource's next
//! deadline. Pure: stored alerts come through a reader the caller supplies (inside its
//! sled transaction), and only the alerts that can matter are read.

use chrono::{DateTime, Utc};

use super::Silences;
use super::lifecycle::{Notify, step};
use crate::acronis::model::{AggregateStatus, Policy};
use crate::model::{
    AgentSnapshot, AlertRecord, AlertSnapshot, AlertStatus, LiveAlert, PolicySnapshot, ResourceRef,
    StoredResource, TenantNames, TenantRef, Told, Watch, alert_key, human_duration,
};
use crate::rules::{Condition, Prior, Rule, RuleSet, Subject, Transition, condition_holds};
use crate::rules::{next_flip, subject, transition};

/// What planning sees besides the resource: the settings at one instant.
pub struct PlanContext<'a> {
    pub rules: &'a RuleSet,
    pub silences: &'a Silences,
    pub now: DateTime<Utc>,
    pub tenant_names: &'a TenantNames,
    /// When the change being planned happened, if the data says it was before `now`
    /// (a change the incremental polls missed, found by a full pass): an alert it fires
    /// is dated then.
    pub occurred: Option<DateTime<Utc>>,
}

impl<'a> PlanContext<'a> {
    /// The same context for a change the data dates at `occurred`.
    pub fn occurred_at(&self, occurred: Option<DateTime<Utc>>) -> PlanContext<'a> {
        PlanContext {
            rules: self.rules,
            silences: self.silences,
            now: self.now,
            tenant_names: self.tenant_names,
            occurred: occurred.filter(|t| *t < self.now),
        }
    }
}

/// A notification for one alert, before it is routed to its rule's channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub rule: String,
    pub notify: Notify,
    pub alert: AlertSnapshot,
}

/// What to write for one resource.
#[derive(Debug, Default)]
pub struct ResourcePlan {
    pub watch: Watch,
    /// Alert records that changed.
    pub records: Vec<AlertRecord>,
    pub notifications: Vec<Notification>,
}

/// Evaluate every rule on a resource: `old` as stored (with its `watch`), `new` as it
/// is now (None: deleted). `read` fetches a stored alert by key.
pub fn plan<E>(
    ctx: &PlanContext<'_>,
    old: Option<&StoredResource>,
    watch: &Watch,
    new: Option<&StoredResource>,
    read: &mut dyn FnMut(&str) -> Result<Option<AlertRecord>, E>,
) -> Result<ResourcePlan, E> {
    let mut out = ResourcePlan::default();
    let Some(any) = new.or(old) else {
        return Ok(out);
    };
    let mut wakes: Vec<DateTime<Utc>> = Vec::new();
    let tenant = any.tenant_id.as_str();
    let previous_status = old.map(|o| &o.status);
    for rule in ctx.rules.iter() {
        let current = new.and_then(|r| subject(rule, r));
        let current_policy = current.as_ref().and_then(|s| s.policy_type());
        if let Some(s) = &current {
            let live = watch.is_live(&rule.name, current_policy);
            if !live && !condition_holds(rule, s, ctx.now) {
                // The common case: nothing fires, nothing to read.
                wakes.extend(next_flip(rule, s, ctx.now));
            } else {
                let key = alert_key(&rule.name, tenant, &any.id, current_policy);
                let prior = if live { read(&key)? } else { None };
                let input = StepInput {
                    rule,
                    key,
                    policy: current_policy,
                    prior,
                    current: Some(*s),
                    resource: any,
                    previous_status,
                };
                input.run(ctx, &mut out, &mut wakes);
            }
        }
        // Alerts on this resource whose subject is gone (deleted, filtered out, policy
        // removed or renamed by a rule edit).
        for l in watch.live.iter().filter(|l| l.rule == rule.name) {
            if current.is_some() && l.policy.as_deref() == current_policy {
                continue;
            }
            let key = alert_key(&rule.name, tenant, &any.id, l.policy.as_deref());
            let input = StepInput {
                rule,
                prior: read(&key)?,
                key,
                policy: l.policy.as_deref(),
                current: None,
                resource: any,
                previous_status,
            };
            input.run(ctx, &mut out, &mut wakes);
        }
    }
    // Alerts of rules that no longer exist end without a notification.
    for l in &watch.live {
        if ctx.rules.get(&l.rule).is_some() {
            continue;
        }
        let key = alert_key(&l.rule, tenant, &any.id, l.policy.as_deref());
        if let Some(mut rec) = read(&key)? {
            if rec.status == AlertStatus::Firing {
                rec.status = AlertStatus::Resolved;
                rec.resolved_at = Some(ctx.now);
            }
            rec.told = Told::Resolved;
            out.records.push(rec);
        }
    }
    out.watch.wake = wakes
        .into_iter()
        .filter(|t| *t > ctx.now)
        .min()
        .map(|t| t.timestamp_nanos_opt().unwrap_or(i64::MAX));
    Ok(out)
}

/// One alert's evaluation within [`plan`].
struct StepInput<'a> {
    rule: &'a Rule,
    key: String,
    policy: Option<&'a str>,
    prior: Option<AlertRecord>,
    current: Option<Subject<'a>>,
    /// The resource as it is now, or as it was last seen if it was deleted.
    resource: &'a StoredResource,
    previous_status: Option<&'a AggregateStatus>,
}

impl StepInput<'_> {
    fn run(self, ctx: &PlanContext<'_>, out: &mut ResourcePlan, wakes: &mut Vec<DateTime<Utc>>) {
        let StepInput {
            rule,
            key,
            policy,
            prior,
            current,
            resource,
            previous_status,
        } = self;
        let now = ctx.now;
        let transition = transition(
            rule,
            prior.as_ref().map(Prior::of).as_ref(),
            current.as_ref(),
            now,
        );
        if let (Some(s), false) = (&current, transition.firing()) {
            wakes.extend(next_flip(rule, s, now));
        }
        if transition == Transition::Nothing && prior.is_none() {
            return;
        }
        let silenced = ctx.silences.check(&rule.name, resource, now);
        let fresh = || AlertRecord {
            fired_at: ctx.occurred.unwrap_or(now),
            found_at: ctx.occurred.map(|_| now),
            key: key.clone(),
            rule: rule.name.clone(),
            tenant_id: resource.tenant_id.clone(),
            resource_id: resource.id.clone(),
            resource_name: resource.name.clone(),
            policy: policy.map(str::to_string),
            status: AlertStatus::Firing,
            severity: rule.severity,
            resolved_at: None,
            last_notified_at: None,
            told: Told::Nothing,
            changes: Vec::new(),
            flapping_since: None,
        };
        let result = step(rule, prior.clone(), transition, silenced, now, fresh);
        wakes.extend(result.wake);
        let live = result.live(rule);
        if let Some(rec) = &result.record {
            if live {
                out.watch.live.push(LiveAlert {
                    rule: rule.name.clone(),
                    policy: policy.map(str::to_string),
                });
            }
            let mut rec = rec.clone();
            rec.resource_name.clone_from(&resource.name);
            if prior.as_ref() != Some(&rec) {
                out.records.push(rec);
            }
        }
        if let (Some(notify), Some(rec)) = (result.notify, &result.record) {
            let alert = snapshot(
                ctx,
                rule,
                rec,
                notify,
                current.as_ref(),
                resource,
                previous_status,
            );
            out.notifications.push(Notification {
                rule: rule.name.clone(),
                notify,
                alert,
            });
        }
    }
}

/// A firing alert as it stands now (for a digest): its rule's view of the stored
/// resource, with the summary a firing notification would carry.
pub fn firing_snapshot(
    ctx: &PlanContext<'_>,
    rule: &Rule,
    rec: &AlertRecord,
    resource: &StoredResource,
) -> AlertSnapshot {
    snapshot(ctx, rule, rec, Notify::Firing, None, resource, None)
}

fn snapshot(
    ctx: &PlanContext<'_>,
    rule: &Rule,
    rec: &AlertRecord,
    notify: Notify,
    current: Option<&Subject<'_>>,
    resource: &StoredResource,
    previous_status: Option<&AggregateStatus>,
) -> AlertSnapshot {
    let policy: Option<&Policy> = match current {
        Some(s) => s.policy,
        None => rule
            .condition
            .policy()
            .and_then(|kind| resource.policies.iter().find(|p| p.kind == kind)),
    };
    let tenant_name = ctx.tenant_names.name(&resource.tenant_id);
    AlertSnapshot {
        key: rec.key.clone(),
        status: told_status(notify, rec),
        severity: rec.severity,
        fired_at: rec.fired_at,
        resolved_at: rec.resolved_at,
        tenant: TenantRef {
            id: resource.tenant_id.clone(),
            name: tenant_name,
        },
        resource: ResourceRef {
            id: resource.id.clone(),
            name: resource.name.clone(),
            kind: resource.kind.clone(),
            agent_id: resource.agent_id.clone(),
        },
        aggregate_status: resource.status.as_str().to_string(),
        previous_status: previous_status.map(|s| s.as_str().to_string()),
        policy: policy.map(|p| PolicySnapshot {
            kind: p.kind.clone(),
            last_run: p.last_run.map(|t| t.0),
            last_success_run: p.last_success_run.map(|t| t.0),
            next_run: p.next_run.map(|t| t.0),
        }),
        summary: summary(
            rule,
            notify,
            current.is_none(),
            resource,
            policy,
            previous_status,
            ctx.now,
        ),
        repeat: notify == Notify::Repeat,
        agent: resource.agent.as_ref().map(|a| AgentSnapshot {
            online: a.online,
            enabled: a.enabled,
            version: a.version.clone(),
        }),
        cyberfit: resource.cyberfit,
        plans: resource
            .plans
            .as_deref()
            .map(|p| {
                p.split(';')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        platform: None,
    }
}

/// A rule's `flap` for a summary: how many changes, within how long ("1h").
pub(super) fn flap_words(rule: &Rule) -> (u32, String) {
    rule.flap.map_or((0, String::new()), |f| {
        (
            f.changes,
            human_duration(chrono::Duration::from_std(f.within).unwrap_or_default()),
        )
    })
}

/// The status a notification tells: the alert's, or "flapping".
pub(super) fn told_status(notify: Notify, rec: &AlertRecord) -> String {
    match notify {
        Notify::Flapping => AlertStatus::Flapping.as_str().to_string(),
        _ => rec.status.as_str().to_string(),
    }
}

/// One line for a person.
fn summary(
    rule: &Rule,
    notify: Notify,
    gone: bool,
    r: &StoredResource,
    policy: Option<&Policy>,
    previous: Option<&AggregateStatus>,
    now: DateTime<Utc>,
) -> String {
    let name = &r.name;
    if notify == Notify::Flapping {
        let (changes, within) = flap_words(rule);
        return format!(
            "{name} changed state {changes} times within {within}: held until it is stable \
             for {within}"
        );
    }
    if notify == Notify::Resolved && gone {
        return format!(
            "{name} is no longer watched by this rule (deleted, or its filters or policy changed)"
        );
    }
    let status = r.status.as_str();
    match &rule.condition {
        Condition::Status(_) => match (notify, previous) {
            (Notify::Resolved, _) => format!("{name} is {status} now"),
            (_, Some(p)) if p != &r.status => format!("{name} is {status} (was {})", p.as_str()),
            _ => format!("{name} is {status}"),
        },
        Condition::Stale { policy: kind, .. } => {
            let kind = short_policy(kind);
            match (notify, policy.and_then(|p| p.last_success_run)) {
                (Notify::Resolved, Some(t)) => {
                    format!(
                        "{name}: {kind} succeeded at {}",
                        t.0.format("%Y-%m-%d %H:%M UTC")
                    )
                }
                (Notify::Resolved, None) => format!("{name}: {kind} is no longer stale"),
                (_, Some(t)) => format!(
                    "{name}: last successful {kind} {} ago",
                    human_duration(now - t.0)
                ),
                (_, None) => format!("{name}: {kind} has never succeeded"),
            }
        }
        Condition::AgentOfflineFor(_) => {
            let since = r.agent.as_ref().and_then(|a| a.offline_since);
            match (notify, since) {
                (Notify::Resolved, _) => format!("{name}: the agent is online again"),
                (_, Some(t)) => format!(
                    "{name}: the agent has been offline for {} (since {})",
                    human_duration(now - t.0),
                    t.0.format("%Y-%m-%d %H:%M UTC")
                ),
                (_, None) => format!("{name}: the agent is offline"),
            }
        }
        Condition::Platform(_) => match notify {
            Notify::Resolved => format!("{name}: the platform alert was dismissed"),
            _ => format!("{name}: platform alert"),
        },
        Condition::AgentDisabled => match notify {
            Notify::Resolved => format!("{name}: the agent is enabled again"),
            _ => format!("{name}: the agent is disabled"),
        },
        Condition::CyberfitBelow(n) => match (notify, r.cyberfit) {
            (Notify::Resolved, Some(c)) => format!("{name}: CyberFit score {c} (at least {n} now)"),
            (Notify::Resolved, None) => format!("{name}: no CyberFit score any more"),
            (_, Some(c)) => format!("{name}: CyberFit score {c} is below {n}"),
            (_, None) => format!("{name}: CyberFit score below {n}"),
        },
        Condition::LastRunFailed { policy: kind } => {
            let kind = short_policy(kind);
            let at = |t: Option<crate::acronis::model::Timestamp>| {
                t.map_or("an unknown time".to_string(), |t| {
                    t.0.format("%Y-%m-%d %H:%M UTC").to_string()
                })
            };
            match (notify, policy) {
                (Notify::Resolved, Some(p)) => {
                    format!("{name}: {kind} succeeded at {}", at(p.last_success_run))
                }
                (Notify::Resolved, None) => format!("{name}: {kind} no longer failing"),
                (_, Some(p)) if p.last_success_run.is_none() => format!(
                    "{name}: {kind} last ran at {} and has never succeeded",
                    at(p.last_run)
                ),
                (_, Some(p)) => format!(
                    "{name}: {kind} run at {} did not succeed (last success {})",
                    at(p.last_run),
                    at(p.last_success_run)
                ),
                (_, None) => format!("{name}: the last {kind} run did not succeed"),
            }
        }
        Condition::Overdue { policy: kind, .. } => {
            let kind = short_policy(kind);
            match (notify, policy.and_then(|p| p.next_run)) {
                (Notify::Resolved, _) => format!("{name}: {kind} ran again"),
                (_, Some(t)) => format!(
                    "{name}: {kind} was due {} ago and has not run",
                    human_duration(now - t.0)
                ),
                (_, None) => format!("{name}: {kind} is overdue"),
            }
        }
    }
}

/// `policy.backup.machine` -> `backup`, `policy.security.antimalware_protection` ->
/// `antimalware protection`.
fn short_policy(kind: &str) -> String {
    let parts: Vec<&str> = kind.split('.').collect();
    let word = match parts.as_slice() {
        ["policy", "backup", ..] => "backup",
        ["policy", "security", what, ..] => what,
        [.., last] => last,
        [] => kind,
    };
    word.replace('_', " ")
}

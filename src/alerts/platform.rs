//! Platform rules (`source = "platform"`) on one Alert Manager alert: the records to
//! write and the notifications to send, as [`super::plan`] does for a resource. An
//! alert fires while the platform alert is open and matches the rule's filters, and
//! resolves when it is dismissed or no longer listed. Silences, repeat, flapping and
//! `resolve` work through the same [`step`] as resource alerts.
//!
//! Pure: stored alerts come through a reader the caller supplies.

use super::lifecycle::{Notify, step};
use super::plan::{Notification, PlanContext, ResourcePlan, flap_words, told_status};
use crate::acronis::model::PlatformAlert;
use crate::model::{
    AlertRecord, AlertSnapshot, AlertStatus, LiveAlert, PlatformSnapshot, ResourceRef, Severity,
    StoredResource, TenantRef, Told, alert_key,
};
use crate::rules::{Condition, Prior, Rule, Transition, transition_to};

/// Every platform rule on `alert` of `tenant` (`open`: listed and not dismissed).
/// `out.watch.live` lists the rules whose alert still matters (firing, or owing a
/// notification): while it is not empty the platform alert is kept.
pub fn plan_platform<E>(
    ctx: &PlanContext<'_>,
    tenant: &str,
    alert: &PlatformAlert,
    open: bool,
    read: &mut dyn FnMut(&str) -> Result<Option<AlertRecord>, E>,
) -> Result<ResourcePlan, E> {
    let mut out = ResourcePlan::default();
    let resource = StoredResource::platform(tenant, alert);
    let now = ctx.now;
    for rule in ctx.rules.iter() {
        let Condition::Platform(filter) = &rule.condition else {
            continue;
        };
        let holds = open && filter.matches(alert) && rule.matcher.matches(&resource);
        let key = alert_key(&rule.name, tenant, &alert.id, None);
        let prior = read(&key)?;
        let transition = transition_to(rule, prior.as_ref().map(Prior::of).as_ref(), holds, now);
        if transition == Transition::Nothing && prior.is_none() {
            continue;
        }
        let severity = if filter.own_severity {
            Severity::from_platform(&alert.severity)
        } else {
            rule.severity
        };
        // Dated when the platform raised it (an alert open before the worker started
        // says how long it has been open).
        let raised = alert.created_at.filter(|t| *t <= now);
        let fresh = || AlertRecord {
            key: key.clone(),
            rule: rule.name.clone(),
            tenant_id: tenant.to_string(),
            resource_id: alert.id.clone(),
            resource_name: resource.name.clone(),
            policy: None,
            status: AlertStatus::Firing,
            severity,
            fired_at: raised.unwrap_or(now),
            resolved_at: None,
            last_notified_at: None,
            told: Told::Nothing,
            found_at: raised.filter(|t| *t < now).map(|_| now),
            changes: Vec::new(),
            flapping_since: None,
        };
        let silenced = ctx.silences.check(&rule.name, &resource, now);
        let result = step(rule, prior.clone(), transition, silenced, now, fresh);
        if result.live(rule) {
            out.watch.live.push(LiveAlert {
                rule: rule.name.clone(),
                policy: None,
            });
        }
        if let Some(rec) = &result.record
            && prior.as_ref() != Some(rec)
        {
            out.records.push(rec.clone());
        }
        if let (Some(notify), Some(rec)) = (result.notify, &result.record) {
            out.notifications.push(Notification {
                rule: rule.name.clone(),
                notify,
                alert: snapshot(ctx, rule, rec, notify, alert, &resource),
            });
        }
    }
    Ok(out)
}

fn snapshot(
    ctx: &PlanContext<'_>,
    rule: &Rule,
    rec: &AlertRecord,
    notify: Notify,
    alert: &PlatformAlert,
    resource: &StoredResource,
) -> AlertSnapshot {
    let name = &resource.name;
    let title = &alert.title;
    let summary = match notify {
        Notify::Resolved => format!("{name}: {title}: dismissed on the platform"),
        Notify::Flapping => {
            let (n, within) = flap_words(rule);
            format!("{name}: {title}: raised and dismissed {n} times within {within}")
        }
        _ => {
            // The machine's name first, unless the alert names none (it is the title).
            let head = if name == title {
                title.clone()
            } else {
                format!("{name}: {title}")
            };
            match &alert.description {
                Some(d) => format!("{head}: {d}"),
                None => head,
            }
        }
    };
    AlertSnapshot {
        key: rec.key.clone(),
        status: told_status(notify, rec),
        severity: rec.severity,
        fired_at: rec.fired_at,
        resolved_at: rec.resolved_at,
        tenant: TenantRef {
            id: resource.tenant_id.clone(),
            name: ctx.tenant_names.name(&resource.tenant_id),
        },
        resource: ResourceRef {
            id: alert
                .resource_id
                .clone()
                .unwrap_or_else(|| alert.id.clone()),
            name: resource.name.clone(),
            kind: resource.kind.clone(),
            agent_id: None,
        },
        aggregate_status: alert.severity.clone(),
        previous_status: None,
        policy: None,
        summary,
        repeat: notify == Notify::Repeat,
        agent: None,
        cyberfit: None,
        plans: Vec::new(),
        platform: Some(PlatformSnapshot {
            id: alert.id.clone(),
            kind: alert.kind.clone(),
            category: alert.category.clone(),
            severity: alert.severity.clone(),
            title: alert.title.clone(),
            description: alert.description.clone(),
        }),
    }
}

//! An [`OutboxItem`] as the template context of SPEC §5: what every notification
//! template sees. Pure: the same item at the same `now` gives the same JSON.
//!
//! Values that come from the API are capped at [`MAX_VALUE_CHARS`] characters here, so
//! one absurd resource name cannot crowd every other alert out of a message; the
//! channel limits themselves are met in `fit.rs`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::escape::truncate_chars;
use crate::config::ChannelConfig;
use crate::model::human_duration;
use crate::model::{AlertSnapshot, OutboxItem};

/// Longest string from the API a template is given (names, ids, statuses, summaries).
pub const MAX_VALUE_CHARS: usize = 500;

/// RFC 3339 in UTC with second precision, as every time in a context is written.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(rfc3339(t)))
}

fn text(s: &str) -> Value {
    Value::String(truncate_chars(s, MAX_VALUE_CHARS))
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, text)
}

/// The parts of a notification context that do not change while fitting (everything
/// but `alerts`, `shown` and `more`), and the alerts' entries, built as they are first
/// shown: a Slack message lists 45 of a group's 200.
pub struct NotificationContext<'a> {
    base: serde_json::Map<String, Value>,
    item: &'a OutboxItem,
    now: DateTime<Utc>,
    alerts: Vec<Value>,
}

impl<'a> NotificationContext<'a> {
    /// The context of `item` for `channel` at `now`. `console_url` is the Acronis
    /// console when known (the configured datacenter).
    pub fn new(
        item: &'a OutboxItem,
        channel: &ChannelConfig,
        now: DateTime<Utc>,
        console_url: Option<&str>,
    ) -> NotificationContext<'a> {
        let repeat = !item.alerts.is_empty() && item.alerts.iter().all(|a| a.repeat);
        let base = json!({
            "status": item.status.as_str(),
            "rule": {
                "name": item.rule.name,
                "description": truncate_chars(&item.rule.description, MAX_VALUE_CHARS),
                "severity": item.rule.severity.as_str(),
            },
            "channel": { "name": channel.name, "type": channel.kind.type_name() },
            "count": item.count(),
            "repeat": repeat,
            "console_url": console_url,
            "now": rfc3339(now),
        });
        let Value::Object(base) = base else {
            unreachable!("json! of an object literal is an object")
        };
        NotificationContext {
            base,
            item,
            now,
            alerts: Vec::new(),
        }
    }

    /// Alerts the item lists (at most this many can be shown).
    pub fn listed(&self) -> usize {
        self.item.alerts.len()
    }

    /// The context with the first `shown` alerts listed and the rest counted in `more`.
    pub fn with_shown(&mut self, shown: usize) -> Value {
        let shown = shown.min(self.listed());
        for a in &self.item.alerts[self.alerts.len().min(shown)..shown] {
            self.alerts.push(alert(a, self.now));
        }
        let mut ctx = self.base.clone();
        ctx.insert("alerts".into(), Value::Array(self.alerts[..shown].to_vec()));
        ctx.insert("shown".into(), shown.into());
        ctx.insert("more".into(), (self.item.count() - shown).into());
        Value::Object(ctx)
    }
}

/// One `alerts[]` entry (also a digest's `problems[]` entry, plus its rule).
pub fn alert(a: &AlertSnapshot, now: DateTime<Utc>) -> Value {
    let policy = a.policy.as_ref().map_or(Value::Null, |p| {
        json!({
            "type": text(&p.kind),
            "last_run": time(p.last_run),
            "last_success_run": time(p.last_success_run),
            "next_run": time(p.next_run),
        })
    });
    json!({
        "key": text(&a.key),
        "status": a.status,
        "severity": a.severity.as_str(),
        "fired_at": rfc3339(a.fired_at),
        "resolved_at": time(a.resolved_at),
        "since": human_duration(now - a.fired_at),
        "duration": a.resolved_at.map(|r| human_duration(r - a.fired_at)),
        "tenant": { "id": text(&a.tenant.id), "name": text(&a.tenant.name) },
        "resource": {
            "id": text(&a.resource.id),
            "name": text(&a.resource.name),
            "type": text(&a.resource.kind),
            "agent_id": opt_text(a.resource.agent_id.as_deref()),
        },
        "aggregate_status": text(&a.aggregate_status),
        "previous_status": opt_text(a.previous_status.as_deref()),
        "policy": policy,
        "summary": text(&a.summary),
        "repeat": a.repeat,
        "agent": a.agent.as_ref().map_or(Value::Null, |g| json!({
            "online": g.online,
            "enabled": g.enabled,
            "version": g.version.as_deref().map(text),
        })),
        "cyberfit": a.cyberfit,
        "plans": a.plans.iter().map(|p| text(p)).collect::<Vec<_>>(),
        "platform": a.platform.as_ref().map_or(Value::Null, |p| json!({
            "id": text(&p.id),
            "type": text(&p.kind),
            "category": text(&p.category),
            "severity": text(&p.severity),
            "title": text(&p.title),
            "description": p.description.as_deref().map(text),
        })),
    })
}

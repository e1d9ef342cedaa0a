//! The Events API v2 envelope, built without a network: `{routing_key, event_action,
//! dedup_key, payload}` from the outbox item and the rendered template.
//!
//! The template renders `{"payload": {...}, ...}` (or just the payload object); the
//! routing key, the action and the dedup key come from here, never from the template,
//! so a template cannot send an event to another service or break trigger/resolve
//! pairing. `links`, `images`, `client` and `client_url` beside the payload are kept.

use serde_json::{Map, Value};

use super::fit::MAX_SUMMARY;
use crate::config::fnv1a64;
use crate::model::{AlertStatus, OutboxItem};

/// PagerDuty's limit on `dedup_key`.
pub const MAX_DEDUP_KEY: usize = 255;
/// How much of a long alert key a hashed dedup key keeps readable.
const DEDUP_PREFIX: usize = 200;
/// Top-level event fields a template may set besides `payload`.
const EXTRA_FIELDS: [&str; 4] = ["links", "images", "client", "client_url"];

/// The event for `item` (which carries exactly one alert): `trigger` with the rendered
/// payload when firing, `resolve` (no payload) when resolved. The error says what is
/// wrong with the item or the rendering; sending again will not fix it.
pub fn event(routing_key: &str, item: &OutboxItem, rendered: &Value) -> Result<Value, String> {
    let alert = match item.alerts.as_slice() {
        [alert] if item.more == 0 => alert,
        _ => {
            return Err(format!(
                "a PagerDuty event carries exactly one alert; this message has {}",
                item.count()
            ));
        }
    };
    let mut event = Map::new();
    event.insert("routing_key".into(), Value::from(routing_key));
    event.insert("dedup_key".into(), Value::from(dedup_key(&alert.key)));
    match item.status {
        AlertStatus::Resolved => {
            event.insert("event_action".into(), Value::from("resolve"));
        }
        // A flapping alert is one trigger (its incident stays open), not a
        // trigger/resolve pair per change.
        AlertStatus::Firing | AlertStatus::Flapping => {
            event.insert("event_action".into(), Value::from("trigger"));
            let (payload, extras) = split(rendered)?;
            let mut payload = payload.clone();
            if let Some(Value::String(summary)) = payload.get_mut("summary") {
                truncate_chars(summary, MAX_SUMMARY);
            }
            event.insert("payload".into(), Value::Object(payload));
            for (name, value) in extras {
                event.insert(name.to_string(), value.clone());
            }
        }
    }
    Ok(Value::Object(event))
}

/// The top-level fields kept beside the payload, by name.
type Extras<'a> = Vec<(&'static str, &'a Value)>;

/// The payload object and the extra top-level fields of a rendering.
fn split(rendered: &Value) -> Result<(&Map<String, Value>, Extras<'_>), String> {
    let Value::Object(top) = rendered else {
        return Err("the rendered PagerDuty message is not a JSON object".into());
    };
    match top.get("payload") {
        Some(Value::Object(payload)) => {
            let extras = EXTRA_FIELDS
                .iter()
                .filter_map(|&name| top.get(name).map(|v| (name, v)))
                .collect();
            Ok((payload, extras))
        }
        Some(_) => Err("the rendered PagerDuty message's \"payload\" is not an object".into()),
        None => Ok((top, Vec::new())),
    }
}

/// The alert key if it fits PagerDuty's 255 characters; else its first 200 bytes (cut
/// at a character boundary), `#` and the 64-bit FNV-1a hash of the whole key in hex.
/// Stable across runs and versions (the shard hash, FNV-1a), so a resolve matches its
/// trigger.
pub fn dedup_key(key: &str) -> String {
    if key.len() <= MAX_DEDUP_KEY {
        return key.to_string();
    }
    let mut cut = DEDUP_PREFIX;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}#{:016x}", &key[..cut], fnv1a64(key.as_bytes()))
}

fn truncate_chars(s: &mut String, max: usize) {
    if let Some((cut, _)) = s.char_indices().nth(max) {
        s.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::model::{AlertSnapshot, ResourceRef, RuleInfo, TenantRef};
    use serde_json::json;

    fn item(status: AlertStatus, keys: &[&str]) -> OutboxItem {
        let at = "2026-11-23T10:00:00Z".parse().unwrap();
        let rule = RuleInfo {
            name: "machine-critical".into(),
            description: String::new(),
            severity: Severity::Critical,
        };
        let mut item = OutboxItem::new("oncall", rule, status, at, None);
        item.id = 1;
        item.alerts = keys
            .iter()
            .map(|key| AlertSnapshot {
                key: key.to_string(),
                status: status.as_str().into(),
                severity: Severity::Critical,
                fired_at: at,
                resolved_at: None,
                tenant: TenantRef {
                    id: "t".into(),
                    name: "T".into(),
                },
                resource: ResourceRef {
                    id: "r".into(),
                    name: "R".into(),
                    kind: "resource.machine".into(),
                    agent_id: None,
                },
                aggregate_status: "critical".into(),
                previous_status: None,
                policy: None,
                summary: "R is critical".into(),
                repeat: false,
                agent: None,
                cyberfit: None,
                plans: Vec::new(),
                platform: None,
            })
            .collect();
        item
    }

    #[test]
    fn trigger_takes_the_rendered_payload_and_extras() {
        let rendered = json!({
            "routing_key": "from-the-template",
            "event_action": "acknowledge",
            "payload": {"summary": "R is critical", "source": "R", "severity": "critical"},
            "links": [{"href": "https://console.example", "text": "Console"}],
            "unknown": 1
        });
        let e = event("KEY", &item(AlertStatus::Firing, &["rule/t/r"]), &rendered).unwrap();
        assert_eq!(
            e,
            json!({
                "routing_key": "KEY",
                "event_action": "trigger",
                "dedup_key": "rule/t/r",
                "payload": {"summary": "R is critical", "source": "R", "severity": "critical"},
                "links": [{"href": "https://console.example", "text": "Console"}]
            })
        );
    }

    #[test]
    fn a_rendering_may_be_the_payload_itself() {
        let rendered = json!({"summary": "s", "source": "R", "severity": "warning"});
        let e = event("KEY", &item(AlertStatus::Firing, &["k"]), &rendered).unwrap();
        assert_eq!(e["payload"], rendered);
    }

    #[test]
    fn a_flapping_alert_is_a_trigger_that_keeps_its_incident_open() {
        let rendered =
            json!({"payload": {"summary": "[FLAPPING] s", "source": "R", "severity": "critical"}});
        let e = event("KEY", &item(AlertStatus::Flapping, &["k"]), &rendered).unwrap();
        assert_eq!(e["event_action"], "trigger");
        assert_eq!(e["dedup_key"], "k");
        assert_eq!(e["payload"]["summary"], "[FLAPPING] s");
    }

    #[test]
    fn resolve_carries_no_payload() {
        let rendered = json!({"payload": {"summary": "s"}});
        let e = event("KEY", &item(AlertStatus::Resolved, &["k"]), &rendered).unwrap();
        assert_eq!(
            e,
            json!({"routing_key": "KEY", "event_action": "resolve", "dedup_key": "k"})
        );
    }

    #[test]
    fn summary_is_cut_to_pagerdutys_limit() {
        let rendered = json!({"payload": {"summary": "é".repeat(2000)}});
        let e = event("KEY", &item(AlertStatus::Firing, &["k"]), &rendered).unwrap();
        assert_eq!(
            e["payload"]["summary"].as_str().unwrap().chars().count(),
            MAX_SUMMARY
        );
    }

    #[test]
    fn only_single_alert_items_and_object_payloads() {
        let rendered = json!({"payload": {}});
        assert!(event("K", &item(AlertStatus::Firing, &[]), &rendered).is_err());
        assert!(event("K", &item(AlertStatus::Firing, &["a", "b"]), &rendered).is_err());
        let mut more = item(AlertStatus::Firing, &["a"]);
        more.more = 1;
        assert!(event("K", &more, &rendered).is_err());
        let one = item(AlertStatus::Firing, &["a"]);
        assert!(event("K", &one, &json!([1])).is_err());
        assert!(event("K", &one, &json!({"payload": "text"})).is_err());
    }

    #[test]
    fn long_keys_hash_stably_within_the_limit() {
        assert_eq!(dedup_key("r/t/m"), "r/t/m");
        let exact = "x".repeat(MAX_DEDUP_KEY);
        assert_eq!(dedup_key(&exact), exact);
        let long = format!("backup-stale/{}/{}", "t".repeat(150), "ü".repeat(200));
        let a = dedup_key(&long);
        assert!(a.len() <= MAX_DEDUP_KEY, "{}", a.len());
        assert!(a.starts_with("backup-stale/"));
        assert_eq!(a, dedup_key(&long), "stable");
        let other = format!("{long}x");
        assert_ne!(a, dedup_key(&other), "the hash tells long keys apart");
        // Pinned: a changed hash would orphan incidents open across an upgrade.
        let key = format!("{}z", "k".repeat(300));
        assert_eq!(
            dedup_key(&key),
            format!("{}#f6f666dd81e12031", "k".repeat(200))
        );
    }
}

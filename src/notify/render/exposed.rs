//! Where a template shows API values in a field its receiver reads as markup (issue
//! 19): a Teams `TextBlock` or `FactSet` (markdown: a name becomes a link), a Slack
//! `mrkdwn` text object or a top-level `text` left as mrkdwn (emphasis, and bare URLs
//! unless `verbatim`). Found by rendering a sample whose API fields all carry a marker
//! word and looking for the marker in those fields; `check` prints what is found as a
//! warning and the worker logs it at start. The shipped templates show none.

use serde_json::Value;

use super::source::Target;
use crate::model::OutboxItem;

/// The word every API field of the probe sample carries.
pub const MARKER: &str = "zq-api-value-zq";

/// `item` with every field that comes from the API set to [`MARKER`].
pub fn probe(mut item: OutboxItem) -> OutboxItem {
    set_api_values(&mut item, MARKER);
    item
}

/// Every field of `item` that comes from the API set to `value` (the probe's marker
/// here, the hostile names in `tests/hostile.rs`).
pub(super) fn set_api_values(item: &mut OutboxItem, value: &str) {
    for a in &mut item.alerts {
        a.resource.name = value.into();
        a.resource.id = value.into();
        a.tenant.name = value.into();
        a.tenant.id = value.into();
        a.summary = format!("{value} is critical");
        a.aggregate_status = value.into();
        a.previous_status = Some(value.into());
        if let Some(p) = &mut a.policy {
            p.kind = value.into();
        }
        if let Some(agent) = &mut a.agent {
            agent.version = Some(value.into());
        }
        a.plans = vec![value.into(), "Servers daily".into()];
        if let Some(p) = &mut a.platform {
            p.title = value.into();
            p.description = Some(value.into());
            p.category = value.into();
            p.kind = value.into();
            p.severity = value.into();
        }
    }
}

/// The fields of `payload` that `target`'s receiver reads as markup and that hold
/// [`MARKER`], as `path (what)`.
pub fn markup_fields(target: Target, payload: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match target {
        Target::Slack => {
            if payload.get("mrkdwn") != Some(&Value::Bool(false))
                && payload
                    .get("text")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.contains(MARKER))
            {
                out.push("text (the top-level text is mrkdwn unless \"mrkdwn\": false)".into());
            }
            walk(payload, "", &mut |path, obj| {
                if obj.get("type").and_then(Value::as_str) == Some("mrkdwn")
                    && text_has_marker(obj.get("text"))
                {
                    out.push(format!("{path} (a mrkdwn text object)"));
                }
            });
        }
        Target::Teams => walk(payload, "", &mut |path, obj| match obj
            .get("type")
            .and_then(Value::as_str)
        {
            Some("TextBlock") if text_has_marker(obj.get("text")) => {
                out.push(format!("{path} (a TextBlock: markdown)"));
            }
            Some("FactSet") => {
                let facts = obj.get("facts").and_then(Value::as_array);
                if facts
                    .into_iter()
                    .flatten()
                    .any(|f| text_has_marker(f.get("title")) || text_has_marker(f.get("value")))
                {
                    out.push(format!("{path} (a FactSet: markdown)"));
                }
            }
            _ => {}
        }),
        Target::PagerDuty | Target::Webhook | Target::Email | Target::Digest => {}
    }
    out
}

fn text_has_marker(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|t| t.contains(MARKER))
}

/// Call `f` with every object under `v` and its path.
pub(super) fn walk(
    v: &Value,
    path: &str,
    f: &mut dyn FnMut(&str, &serde_json::Map<String, Value>),
) {
    match v {
        Value::Object(map) => {
            f(path, map);
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(child, &p, f);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, &format!("{path}[{i}]"), f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_the_marker_only_where_it_is_markup() {
        let slack = json!({"text": MARKER, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": MARKER}},
            {"type": "section", "text": {"type": "plain_text", "text": MARKER}}]});
        let found = markup_fields(Target::Slack, &slack);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[1].starts_with("blocks[0].text"), "{found:?}");
        let quiet = json!({"mrkdwn": false, "text": MARKER, "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": MARKER}}]});
        assert!(markup_fields(Target::Slack, &quiet).is_empty());

        let card = json!({"body": [
            {"type": "TextBlock", "text": MARKER},
            {"type": "FactSet", "facts": [{"title": "T", "value": MARKER}]},
            {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": MARKER}]}]});
        let found = markup_fields(Target::Teams, &card);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|f| !f.contains("body[2]")), "{found:?}");
    }
}

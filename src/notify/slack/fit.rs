//! Slack's limits on an incoming-webhook message, and how a rendered Block Kit message
//! is held to them: pure functions on the JSON, called by the renderer's search
//! (`render/fit.rs`) for every message it tries.
//!
//! Nothing here renders, searches or sends. Slack's escaping is not here either: it is
//! applied to each value as the template renders (`render/escape.rs`), which a pass
//! over the finished JSON could not do.

use serde_json::Value;

use crate::notify::render::limit::{self, clamp, clamp_key};

/// Blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Characters of a section's text (and of any other `text`).
pub const MAX_TEXT: usize = 3000;
/// Characters of a section field's text.
pub const MAX_FIELD_TEXT: usize = 2000;
/// Characters of a header's text.
pub const MAX_HEADER_TEXT: usize = 150;

/// The tighter of the byte cap and the block count, as a ratio; > 1 does not fit.
pub fn pressure(v: &Value) -> f64 {
    let blocks = v
        .get("blocks")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    limit::pressure(v, limit::MAX_BODY).max(blocks as f64 / MAX_BLOCKS as f64)
}

/// Cut header, field and every other `text` to Slack's per-field limits.
pub fn clamp_fields(v: &mut Value) {
    if let Some(blocks) = v.get_mut("blocks").and_then(Value::as_array_mut) {
        for block in blocks {
            let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
            if kind == "header"
                && let Some(t) = block.pointer_mut("/text/text")
            {
                clamp(t, MAX_HEADER_TEXT);
            }
            if let Some(fields) = block.get_mut("fields").and_then(Value::as_array_mut) {
                for f in fields {
                    if let Some(t) = f.get_mut("text") {
                        clamp(t, MAX_FIELD_TEXT);
                    }
                }
            }
        }
    }
    clamp_key(v, "text", MAX_TEXT);
}

/// How many alerts to try first: every alert takes at least a block in any sensible
/// Slack template, so rendering more than [`MAX_BLOCKS`] costs more than it saves.
pub fn first_guess(listed: usize) -> usize {
    listed.min(MAX_BLOCKS)
}

/// The last resort when even no alerts do not fit: blocks past [`MAX_BLOCKS`] would
/// have Slack refuse the whole message, so they go before any text is cut.
pub fn drop_surplus_blocks(v: &mut Value) {
    if let Some(blocks) = v.get_mut("blocks").and_then(Value::as_array_mut) {
        blocks.truncate(MAX_BLOCKS);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn per_field_limits_cut_the_field() {
        let mut v = json!({
            "text": "x".repeat(5000),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "h".repeat(400)}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "s".repeat(4000)},
                 "fields": [{"type": "mrkdwn", "text": "f".repeat(2500)}]},
            ]
        });
        clamp_fields(&mut v);
        let len = |p: &str| v.pointer(p).unwrap().as_str().unwrap().chars().count();
        assert_eq!(len("/text"), MAX_TEXT);
        assert_eq!(len("/blocks/0/text/text"), MAX_HEADER_TEXT);
        assert_eq!(len("/blocks/1/text/text"), MAX_TEXT);
        assert_eq!(len("/blocks/1/fields/0/text"), MAX_FIELD_TEXT);
    }
}

//! Fitting a rendered JSON message to its channel's limits (SPEC §8): messages are
//! made to fit, never rejected for size.
//!
//! Two kinds of limit. Whole-message ones (Slack's 50 blocks, Teams' 20 KB body,
//! PagerDuty's 512 KB) are met by listing fewer alerts: the template is rendered with
//! the first `k` alerts (`shown` = k, `more` = the rest) and `k` is searched for. Per-
//! field ones (3000 characters of Slack section text, PagerDuty's 1024-character
//! `summary`) are met by cutting that field, which only ever makes the message smaller.
//! If even no alerts at all do not fit, every long string is cut as a last resort.

use serde_json::Value;

use super::escape::truncate_chars;
use super::source::Target;

/// Slack: blocks in one message.
pub const SLACK_MAX_BLOCKS: usize = 50;
/// Slack: characters of a section's text (and of any other `text`).
pub const SLACK_MAX_TEXT: usize = 3000;
/// Slack: characters of a section field's text.
pub const SLACK_MAX_FIELD_TEXT: usize = 2000;
/// Slack: characters of a header's text.
pub const SLACK_MAX_HEADER_TEXT: usize = 150;
/// Teams: bytes of the body (the service takes 28 KB; we keep to SPEC's 20 KB).
pub const TEAMS_MAX_BODY: usize = 20_000;
/// PagerDuty: characters of `payload.summary`.
pub const PAGERDUTY_MAX_SUMMARY: usize = 1024;
/// PagerDuty: bytes of the template's output; 512 KB less room for the fields the
/// sender adds (`routing_key`, `dedup_key`, `event_action`).
pub const PAGERDUTY_MAX_BODY: usize = 512 * 1024 - 1024;
/// Any JSON message (webhooks have no stated limit; a sane one).
pub const MAX_BODY: usize = 1024 * 1024;

/// The largest message the search settles for, as a ratio to the tightest limit; > 1
/// means it does not fit.
pub fn pressure(target: Target, v: &Value) -> f64 {
    let bytes = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len()) as f64;
    let body = match target {
        Target::Teams => TEAMS_MAX_BODY,
        Target::PagerDuty => PAGERDUTY_MAX_BODY,
        _ => MAX_BODY,
    } as f64;
    let mut p = bytes / body;
    if target == Target::Slack {
        let blocks = v
            .get("blocks")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        p = p.max(blocks as f64 / SLACK_MAX_BLOCKS as f64);
    }
    p
}

/// Cut the fields that have a per-field limit.
pub fn clamp_fields(target: Target, v: &mut Value) {
    match target {
        Target::Slack => clamp_slack(v),
        Target::PagerDuty => {
            if let Some(s) = v.pointer_mut("/payload/summary") {
                clamp(s, PAGERDUTY_MAX_SUMMARY);
            }
        }
        _ => {}
    }
}

fn clamp(v: &mut Value, max: usize) {
    if let Value::String(s) = v
        && s.chars().count() > max
    {
        *s = truncate_chars(s, max);
    }
}

fn clamp_slack(v: &mut Value) {
    if let Some(blocks) = v.get_mut("blocks").and_then(Value::as_array_mut) {
        for block in blocks {
            let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
            if kind == "header"
                && let Some(t) = block.pointer_mut("/text/text")
            {
                clamp(t, SLACK_MAX_HEADER_TEXT);
            }
            if let Some(fields) = block.get_mut("fields").and_then(Value::as_array_mut) {
                for f in fields {
                    if let Some(t) = f.get_mut("text") {
                        clamp(t, SLACK_MAX_FIELD_TEXT);
                    }
                }
            }
        }
    }
    clamp_key(v, "text", SLACK_MAX_TEXT);
}

/// Every string under `key`, at any depth, to at most `max` characters.
fn clamp_key(v: &mut Value, key: &str, max: usize) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == key {
                    clamp(child, max);
                }
                clamp_key(child, key, max);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| clamp_key(i, key, max)),
        _ => {}
    }
}

/// Every string at any depth to at most `max` characters.
fn clamp_all(v: &mut Value, max: usize) {
    match v {
        Value::String(_) => clamp(v, max),
        Value::Object(map) => map.values_mut().for_each(|c| clamp_all(c, max)),
        Value::Array(items) => items.iter_mut().for_each(|i| clamp_all(i, max)),
        _ => {}
    }
}

/// How many alerts to try first: a full 200-alert render costs more than the search
/// it would save when the channel can never show that many.
fn first_guess(target: Target, listed: usize) -> usize {
    match target {
        // Every alert takes at least a block in any sensible Slack template.
        Target::Slack => listed.min(SLACK_MAX_BLOCKS),
        // A card entry is a few hundred bytes of the 20 KB.
        Target::Teams => listed.min(60),
        _ => listed,
    }
}

/// The message with the most of the `listed` alerts that fits `target`'s limits.
/// `render(k)` renders with the first `k` alerts shown.
pub fn fit<E>(
    target: Target,
    listed: usize,
    mut render: impl FnMut(usize) -> Result<Value, E>,
) -> Result<Value, E> {
    let mut at = |k: usize| -> Result<(Value, f64), E> {
        let mut v = render(k)?;
        clamp_fields(target, &mut v);
        let p = pressure(target, &v);
        Ok((v, p))
    };
    let first = first_guess(target, listed);
    let (v, p) = at(first)?;
    if p <= 1.0 && first == listed {
        return Ok(v);
    }
    // Bounds: `lo` fits (k, message, pressure); `hi` does not (None: not tried yet).
    let (mut lo, mut hi) = if p <= 1.0 {
        ((first, v, p), None)
    } else {
        // The lower end: no alert listed, only "... and N more". A template that
        // cannot render that (it insists on a first alert) gets one.
        let zero = match at(0) {
            Ok((v, p)) => (0, v, p),
            Err(_) => {
                let (v, p) = at(1)?;
                (1, v, p)
            }
        };
        if zero.2 > 1.0 || zero.0 >= first {
            return Ok(last_resort(target, zero.1, zero.2));
        }
        (zero, Some((first, p)))
    };
    loop {
        // Pressure grows about linearly with the alerts shown: a secant step between
        // the bounds (with no upper bound yet, an extrapolation through zero) usually
        // lands on the answer, and one more render proves it.
        let guess = match hi {
            Some((h, _)) if h - lo.0 <= 1 => break,
            Some((h, p_hi)) => {
                let frac = ((1.0 - lo.2) / (p_hi - lo.2)).clamp(0.0, 1.0);
                (lo.0 + (frac * (h - lo.0) as f64) as usize).clamp(lo.0 + 1, h - 1)
            }
            None if lo.0 >= listed => break,
            None => {
                let slope = lo.2.max(f64::EPSILON) / lo.0.max(1) as f64;
                let room = ((1.0 - lo.2) / slope) as usize;
                (lo.0 + room.max(1)).min(listed)
            }
        };
        let (v, p) = at(guess)?;
        if p <= 1.0 {
            lo = (guess, v, p);
        } else {
            hi = Some((guess, p));
        }
    }
    Ok(lo.1)
}

/// Cut every long string (and, for Slack, surplus blocks) until `v` fits; what still
/// does not fit after that is sent as it is (the service may refuse it).
fn last_resort(target: Target, mut v: Value, mut p: f64) -> Value {
    if p <= 1.0 {
        return v;
    }
    if target == Target::Slack
        && let Some(blocks) = v.get_mut("blocks").and_then(Value::as_array_mut)
    {
        blocks.truncate(SLACK_MAX_BLOCKS);
    }
    for max in [1000, 200, 50] {
        clamp_all(&mut v, max);
        p = pressure(target, &v);
        if p <= 1.0 {
            return v;
        }
    }
    tracing::warn!(
        target = ?target,
        pressure = p,
        "message exceeds the channel's limits even with every text cut"
    );
    v
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn blocks(k: usize) -> Value {
        let mut b = vec![json!({"type": "header", "text": {"type": "plain_text", "text": "h"}})];
        b.extend((0..k).map(
            |i| json!({"type": "section", "text": {"type": "mrkdwn", "text": i.to_string()}}),
        ));
        b.push(json!({"type": "context", "elements": []}));
        json!({ "blocks": b })
    }

    #[test]
    fn search_finds_the_most_alerts_that_fit_in_few_renders() {
        let mut renders = Vec::new();
        let v = fit::<()>(Target::Slack, 200, |k| {
            renders.push(k);
            Ok(blocks(k))
        })
        .unwrap();
        assert_eq!(v["blocks"].as_array().unwrap().len(), SLACK_MAX_BLOCKS);
        assert!(renders.len() <= 5, "{renders:?}");
    }

    #[test]
    fn a_template_packing_alerts_into_few_blocks_shows_more_than_the_first_guess() {
        // Five alerts per block: 48 blocks hold 240 alerts.
        let packed = |k: usize| blocks(k.div_ceil(5));
        let mut renders = Vec::new();
        let v = fit::<()>(Target::Slack, 200, |k| {
            renders.push(k);
            Ok(json!({"shown": k, "blocks": packed(k)["blocks"]}))
        })
        .unwrap();
        assert_eq!(v["shown"], 200, "{renders:?}");
        let v = fit::<()>(Target::Slack, 400, |k| {
            Ok(json!({"shown": k, "blocks": packed(k)["blocks"]}))
        })
        .unwrap();
        assert_eq!(v["shown"], 240);
    }

    #[test]
    fn a_message_that_fits_is_rendered_once() {
        let mut n = 0;
        fit::<()>(Target::Slack, 10, |k| {
            n += 1;
            Ok(blocks(k))
        })
        .unwrap();
        assert_eq!(n, 1);
    }

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
        clamp_fields(Target::Slack, &mut v);
        let len = |p: &str| v.pointer(p).unwrap().as_str().unwrap().chars().count();
        assert_eq!(len("/text"), SLACK_MAX_TEXT);
        assert_eq!(len("/blocks/0/text/text"), SLACK_MAX_HEADER_TEXT);
        assert_eq!(len("/blocks/1/text/text"), SLACK_MAX_TEXT);
        assert_eq!(len("/blocks/1/fields/0/text"), SLACK_MAX_FIELD_TEXT);
    }

    #[test]
    fn a_template_too_big_even_empty_is_cut_not_refused() {
        let v = fit::<()>(Target::Teams, 3, |_| Ok(json!({"a": "x".repeat(50_000)}))).unwrap();
        assert!(pressure(Target::Teams, &v) <= 1.0);
    }
}

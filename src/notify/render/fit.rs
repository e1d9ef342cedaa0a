//! Fitting a rendered JSON message to its channel's limits (SPEC §8): messages are
//! made to fit, never rejected for size.
//!
//! Two kinds of limit. Whole-message ones (Slack's 50 blocks, Teams' 20 KB body,
//! PagerDuty's 512 KB) are met by listing fewer alerts: the template is rendered with
//! the first `k` alerts (`shown` = k, `more` = the rest) and `k` is searched for. Per-
//! field ones (3000 characters of Slack section text, PagerDuty's 1024-character
//! `summary`) are met by cutting that field, which only ever makes the message smaller.
//! If even no alerts at all do not fit, every long string is cut as a last resort.
//!
//! The search is the same for every kind and is all this file holds. What a kind's
//! limits are, how its message is measured and which of its fields are cut live in the
//! kind's folder (`notify/<kind>/fit.rs`), reached by a `match` on [`Target`]: no
//! kind's limit belongs here.

use serde_json::Value;

use super::limit::{self, clamp_all};
use super::source::Target;
use crate::notify::{pagerduty, slack, teams, webhook};

/// The largest message the search settles for, as a ratio to `target`'s tightest
/// limit; > 1 means it does not fit.
pub fn pressure(target: Target, v: &Value) -> f64 {
    match target {
        Target::Slack => slack::fit::pressure(v),
        Target::Teams => teams::fit::pressure(v),
        Target::PagerDuty => pagerduty::fit::pressure(v),
        Target::Webhook => webhook::fit::pressure(v),
        // Not JSON, so never searched (see `email::fit`); the cap any JSON gets.
        Target::Email | Target::Digest => limit::pressure(v, limit::MAX_BODY),
    }
}

/// Cut the fields that have a per-field limit.
pub fn clamp_fields(target: Target, v: &mut Value) {
    match target {
        Target::Slack => slack::fit::clamp_fields(v),
        Target::PagerDuty => pagerduty::fit::clamp_fields(v),
        Target::Teams | Target::Webhook | Target::Email | Target::Digest => {}
    }
}

/// How many alerts to try first: a full 200-alert render costs more than the search
/// it would save when the channel can never show that many.
fn first_guess(target: Target, listed: usize) -> usize {
    match target {
        Target::Slack => slack::fit::first_guess(listed),
        Target::Teams => teams::fit::first_guess(listed),
        Target::PagerDuty | Target::Webhook | Target::Email | Target::Digest => listed,
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
    if target == Target::Slack {
        slack::fit::drop_surplus_blocks(&mut v);
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
        assert_eq!(
            v["blocks"].as_array().unwrap().len(),
            slack::fit::MAX_BLOCKS
        );
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
    fn a_template_too_big_even_empty_is_cut_not_refused() {
        let v = fit::<()>(Target::Teams, 3, |_| Ok(json!({"a": "x".repeat(50_000)}))).unwrap();
        assert!(pressure(Target::Teams, &v) <= 1.0);
    }
}

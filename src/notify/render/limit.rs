//! The primitives each channel kind's fitting (`notify/<kind>/fit.rs`) is written with:
//! measuring a JSON message against a byte limit and cutting its strings to a length.
//!
//! They know no channel: which limit applies to which field is the kind's to say. Cuts
//! only ever shorten a string, so applying one never makes a message bigger.

use serde_json::Value;

pub use super::escape::truncate_chars;

/// Bytes of any JSON message where its service states no tighter limit (webhooks state
/// none; Slack states blocks and characters, not bytes): a sane cap, not a service's.
pub const MAX_BODY: usize = 1024 * 1024;

/// `v`'s serialized size as a ratio to `max_bytes`; > 1 means it does not fit.
pub fn pressure(v: &Value, max_bytes: usize) -> f64 {
    let bytes = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len()) as f64;
    bytes / max_bytes as f64
}

/// `v`, when it is a string, to at most `max` characters.
pub fn clamp(v: &mut Value, max: usize) {
    if let Value::String(s) = v
        && s.chars().count() > max
    {
        *s = truncate_chars(s, max);
    }
}

/// Every string under `key`, at any depth, to at most `max` characters.
pub fn clamp_key(v: &mut Value, key: &str, max: usize) {
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
pub fn clamp_all(v: &mut Value, max: usize) {
    match v {
        Value::String(_) => clamp(v, max),
        Value::Object(map) => map.values_mut().for_each(|c| clamp_all(c, max)),
        Value::Array(items) => items.iter_mut().for_each(|i| clamp_all(i, max)),
        _ => {}
    }
}

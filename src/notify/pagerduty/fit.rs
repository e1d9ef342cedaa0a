//! PagerDuty's limits on an Events API v2 event, and how a rendered payload is held to
//! them: pure functions on the JSON, called by the renderer's search (`render/fit.rs`).
//! The event builder (`event.rs`) holds the summary to [`MAX_SUMMARY`] once more, as a
//! guard for whatever reaches it.
//!
//! Nothing here renders, searches or sends, and nothing here touches the fields the
//! sender adds (`routing_key`, `dedup_key`, `event_action`).

use serde_json::Value;

use crate::notify::render::limit::{self, clamp};

/// Characters of `payload.summary`.
pub const MAX_SUMMARY: usize = 1024;
/// Bytes of the template's output: 512 KB less room for the fields the sender adds
/// (`routing_key`, `dedup_key`, `event_action`).
pub const MAX_BODY: usize = 512 * 1024 - 1024;

/// The rendering's size as a ratio to [`MAX_BODY`]; > 1 does not fit.
pub fn pressure(v: &Value) -> f64 {
    limit::pressure(v, MAX_BODY)
}

/// Cut `payload.summary` to [`MAX_SUMMARY`]: PagerDuty refuses a longer one.
pub fn clamp_fields(v: &mut Value) {
    if let Some(s) = v.pointer_mut("/payload/summary") {
        clamp(s, MAX_SUMMARY);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_summary_is_cut() {
        let mut v = json!({"payload": {"summary": "s".repeat(2000), "source": "x".repeat(2000)}});
        clamp_fields(&mut v);
        let len = |p: &str| v.pointer(p).unwrap().as_str().unwrap().chars().count();
        assert_eq!(len("/payload/summary"), MAX_SUMMARY);
        assert_eq!(len("/payload/source"), 2000);
    }
}

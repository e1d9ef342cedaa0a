//! Teams' limit on a Workflows webhook message, and how a rendered card is held to it:
//! pure functions on the JSON, called by the renderer's search (`render/fit.rs`).
//!
//! Teams has no per-field limit worth cutting for: only the whole body is measured.
//! Nothing here renders, searches or sends.

use serde_json::Value;

use crate::notify::render::limit;

/// Bytes of the body (the service takes 28 KB; we keep to SPEC's 20 KB).
pub const MAX_BODY: usize = 20_000;

/// The body's size as a ratio to [`MAX_BODY`]; > 1 does not fit.
pub fn pressure(v: &Value) -> f64 {
    limit::pressure(v, MAX_BODY)
}

/// How many alerts to try first: a card entry is a few hundred bytes of the 20 KB, so
/// rendering all of a long list costs more than the search it would save.
pub fn first_guess(listed: usize) -> usize {
    listed.min(60)
}

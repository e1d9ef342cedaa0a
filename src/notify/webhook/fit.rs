//! A generic webhook's limit, for the renderer's search (`render/fit.rs`): a receiver
//! states no limits we could know, so only the cap every JSON message gets applies and
//! no field is cut. Nothing here renders or sends.

use serde_json::Value;

use crate::notify::render::limit;

/// The body's size as a ratio to the cap any JSON message gets; > 1 does not fit.
pub fn pressure(v: &Value) -> f64 {
    limit::pressure(v, limit::MAX_BODY)
}

//! Entry points for the fuzz targets in `fuzz/` (docs/fuzzing.md) into parsers that are
//! not public: not part of the library's API, and nothing in the worker calls them.
//!
//! The public parsers ([`crate::config::parse`], [`crate::rules::parse`], the
//! [`crate::acronis::model`] types, [`crate::model::StoredResource::from_api`]) are
//! called by the targets directly.

use serde_json::Value;

use crate::config::ChannelConfig;
use crate::model::StoredResource;
use crate::notify::{RenderError, Rendered, Renderer, TemplateError};
use crate::state::StateError;

/// A renderer whose template `channel.template` is `text`, compiled as
/// [`Renderer::load`] compiles a template file (an email's three parts all get `text`).
pub fn template(channel: &ChannelConfig, text: &str) -> Result<Renderer, TemplateError> {
    Renderer::from_text(channel, text)
}

/// `ctx` rendered for `channel` as [`Renderer::render`] renders a notification
/// context: fitted to a JSON channel's limits, or as an email's three parts.
pub fn render_context(
    renderer: &Renderer,
    channel: &ChannelConfig,
    ctx: &Value,
) -> Result<Rendered, RenderError> {
    renderer.render_value(channel, ctx)
}

/// `r` through the resources tree's key and value encodings and back: the tenant
/// number, id and record decoded.
pub fn stored_again(
    tenant_key: u64,
    r: &StoredResource,
) -> Result<(u64, String, StoredResource), StateError> {
    crate::state::fuzz::stored_again(tenant_key, r)
}

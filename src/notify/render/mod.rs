//! Templates -> [`Rendered`] messages. (Stub: being written.)

use std::path::Path;

use chrono::{DateTime, Utc};

use super::Rendered;
use crate::alerts::OutboxItem;
use crate::config::{ChannelConfig, Config};

/// A template that does not compile or does not render with sample data.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// A message that could not be rendered (a dead letter: rendering again will not help).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

/// The compiled templates.
pub struct Renderer {}

impl Renderer {
    /// Compile every template in `dir` that `config`'s channels and digest use, and
    /// render each with sample data (JSON outputs must parse).
    pub fn load(dir: &Path, config: &Config) -> Result<Renderer, TemplateError> {
        let _ = (dir, config);
        Ok(Renderer {})
    }

    /// The shipped templates, built into the binary (for `demo`).
    pub fn shipped(config: &Config) -> Result<Renderer, TemplateError> {
        let _ = config;
        Ok(Renderer {})
    }

    /// Render `item` for `channel` at `now`, fitted to the channel's limits.
    pub fn render(
        &self,
        channel: &ChannelConfig,
        item: &OutboxItem,
        now: DateTime<Utc>,
    ) -> Result<Rendered, RenderError> {
        let _ = (channel, item, now);
        Err(RenderError("rendering is not implemented yet".into()))
    }
}

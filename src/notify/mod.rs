//! Delivery: what the rules enqueued, rendered from templates and sent to Slack,
//! Microsoft Teams, email, PagerDuty and webhooks.
//!
//! Stage five of the pipeline (poll -> store -> evaluate -> transition + enqueue ->
//! **render -> rate-limit -> send -> ack | retry | dead-letter**): it reads what the
//! outbox holds (`crate::state`, `crate::model`) and never reaches back into polling,
//! evaluation or alerts. The shape follows
//! Alertmanager's notify pipeline: a channel only sends and classifies the outcome
//! ([`SendError`]); rendering (`render/`), the outbox worker, retries, backoff and
//! rate limits are written once, around every channel; each channel kind's payload,
//! limits and fitting live in its folder. Nothing here decides whether an alert fires.

mod backoff;
pub mod channel;
pub mod deliver;
pub mod email;
mod http;
pub mod pagerduty;
mod rate;
pub mod render;
pub mod slack;
pub mod teams;
pub mod webhook;

use std::time::Duration;

pub use channel::{Channel, TlsRootsError};
pub use deliver::{Deliverer, DeliveryReport};
pub use render::{RenderError, Renderer, TemplateError};

/// The HTTP client the channels share: `acronis.request_timeout` bounds each request
/// (and each email send: see [`Channel::with_smtp_timeout`]).
pub fn http_client(config: &crate::config::Config) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(config.acronis.request_timeout)
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))
}

/// A message rendered for one channel, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    /// The JSON body of an HTTP POST (Slack, Teams, PagerDuty, webhook).
    Json(serde_json::Value),
    /// A multipart/alternative email.
    Email {
        subject: String,
        text: String,
        html: String,
    },
}

/// A channel accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// What the service answered, for the log (e.g. "202", "250 2.0.0 Ok").
    pub detail: String,
}

/// Why a send failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 408, 429, 5xx, transport errors, SMTP 4xx: try again later (not before
    /// `retry_after` when the service said so).
    #[error("{reason} (will retry)")]
    Retryable {
        retry_after: Option<Duration>,
        reason: String,
    },
    /// Any other 4xx, SMTP 5xx, a payload the service rejects: a dead letter.
    #[error("{reason}")]
    Permanent { reason: String },
}

//! Slack incoming webhooks: POST the rendered Block Kit JSON to the webhook URL.
//!
//! Success is `200` (body `ok`). Slack answers 429 with `Retry-After` when a webhook
//! goes above about one message a second, 5xx when it is unwell, and 400/403/404/410
//! (`invalid_payload`, `action_prohibited`, `channel_not_found`, `channel_is_archived`)
//! for what sending again will not fix. The payload is the template's; its limits
//! (50 blocks, 3000 characters a section) are in `fit.rs`, which the renderer applies
//! before a message gets here.

pub mod fit;

use reqwest::header::HeaderMap;

use super::http::{self, Accept, Who};
use super::{Delivered, Rendered, SendError};
use crate::config::SecretUrl;

/// Statuses that mean Slack took the message.
pub(crate) const SUCCESS: Accept = Accept::Codes(&[200]);

/// One Slack webhook.
pub(crate) struct Slack {
    url: SecretUrl,
    http: reqwest::Client,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slack")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Slack {
    pub fn new(url: SecretUrl, http: reqwest::Client) -> Slack {
        Slack { url, http }
    }

    /// POST once and classify the answer.
    pub async fn send(&self, who: Who<'_>, message: &Rendered) -> Result<Delivered, SendError> {
        let body = http::json_of(who, message)?;
        let answer =
            http::post_json(who, &self.http, self.url.expose(), &HeaderMap::new(), body).await?;
        http::classify(who, &answer, SUCCESS)
    }
}

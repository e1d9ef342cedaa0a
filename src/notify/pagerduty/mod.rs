//! PagerDuty Events API v2: one event per alert, `trigger` when firing and `resolve`
//! when resolved, `dedup_key` = the alert key (hashed when longer than 255).
//!
//! Success is `202`. PagerDuty answers 400 for an invalid event (permanent), 429 when
//! a routing key goes above its rate, and 5xx when unwell (both retried). The routing
//! key is a secret: it travels only in the request body. The event's limits are in
//! `fit.rs`, which the renderer applies before a message gets here.

mod event;
pub mod fit;

pub use event::{MAX_DEDUP_KEY, dedup_key};

use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};

use super::http::{self, Accept, Who};
use super::{Delivered, Rendered, SendError};
use crate::config::SecretUrl;
use crate::model::OutboxItem;

/// Statuses that mean PagerDuty took the event.
pub(crate) const SUCCESS: Accept = Accept::Codes(&[202]);

/// One PagerDuty service (routing key).
pub(crate) struct PagerDuty {
    routing_key: SecretString,
    url: SecretUrl,
    http: reqwest::Client,
}

impl std::fmt::Debug for PagerDuty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDuty")
            .field("routing_key", &self.routing_key)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PagerDuty {
    pub fn new(routing_key: SecretString, url: SecretUrl, http: reqwest::Client) -> PagerDuty {
        PagerDuty {
            routing_key,
            url,
            http,
        }
    }

    /// Build the event for `item`, POST it once and classify the answer.
    pub async fn send(
        &self,
        who: Who<'_>,
        item: &OutboxItem,
        message: &Rendered,
    ) -> Result<Delivered, SendError> {
        let rendered = http::json_of(who, message)?;
        let event =
            event::event(self.routing_key.expose_secret(), item, rendered).map_err(|problem| {
                SendError::Permanent {
                    reason: format!("{who}: {problem}"),
                }
            })?;
        let answer = http::post_json(
            who,
            &self.http,
            self.url.expose(),
            &HeaderMap::new(),
            &event,
        )
        .await?;
        http::classify(who, &answer, SUCCESS)
    }
}

//! Microsoft Teams Workflows webhooks: POST the rendered message (an Adaptive Card in
//! the `{"type":"message","attachments":[...]}` envelope).
//!
//! Success is `200` or `202` (Workflows answers 202 Accepted). The retired Office 365
//! connectors answered throttling with a `200` whose body said
//! `Webhook message delivery failed with error: ... HTTP error 429 ...`; such an answer
//! is read as the status it names, so an old-style URL is not taken as delivered when
//! it was not. The body's limit is in `fit.rs`, which the renderer applies before a
//! message gets here.

pub mod fit;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::http::{self, Accept, Answer, Who};
use super::{Delivered, Rendered, SendError};
use crate::config::SecretUrl;

/// Statuses that mean Teams took the message.
pub(crate) const SUCCESS: Accept = Accept::Codes(&[200, 202]);

/// One Teams webhook.
pub(crate) struct Teams {
    url: SecretUrl,
    http: reqwest::Client,
}

impl std::fmt::Debug for Teams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Teams")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Teams {
    pub fn new(url: SecretUrl, http: reqwest::Client) -> Teams {
        Teams { url, http }
    }

    /// POST once and classify the answer.
    pub async fn send(&self, who: Who<'_>, message: &Rendered) -> Result<Delivered, SendError> {
        let body = http::json_of(who, message)?;
        let answer =
            http::post_json(who, &self.http, self.url.expose(), &HeaderMap::new(), body).await?;
        classify(who, answer)
    }
}

/// [`http::classify`], after reading a connector's "200 but failed" answer as the
/// status it names.
fn classify(who: Who<'_>, mut answer: Answer) -> Result<Delivered, SendError> {
    if answer.status == StatusCode::OK
        && let Some(named) = legacy_failure(&answer.excerpt())
    {
        match named.and_then(|code| StatusCode::from_u16(code).ok()) {
            Some(status) if !status.is_success() => answer.status = status,
            _ => {
                return Err(SendError::Permanent {
                    reason: http::status_reason(who, answer.status, &answer.excerpt()),
                });
            }
        }
    }
    http::classify(who, &answer, SUCCESS)
}

/// `Some(status named, if any)` when a 200 body reports a failed delivery.
fn legacy_failure(body: &str) -> Option<Option<u16>> {
    if !body.starts_with("Webhook message delivery failed") {
        return None;
    }
    let code = body.split("HTTP error ").nth(1).and_then(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const WHO: Who<'static> = Who {
        name: "noc-teams",
        kind: "teams",
    };

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn accepted_and_ok_are_delivered() {
        assert!(classify(WHO, answer(202, "")).is_ok());
        assert!(classify(WHO, answer(200, "1")).is_ok());
        assert!(matches!(
            classify(WHO, answer(204, "")),
            Err(SendError::Permanent { .. })
        ));
    }

    #[test]
    fn a_connector_failure_inside_a_200_is_read_as_its_status() {
        let body = "Webhook message delivery failed with error: Microsoft Teams endpoint \
                    returned HTTP error 429 with ContextId tcid=0,server=msgapi";
        match classify(WHO, answer(200, body)) {
            Err(SendError::Retryable { reason, .. }) => {
                assert!(reason.contains("HTTP 429"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let body = "Webhook message delivery failed with error: HTTP error 400 bad card";
        assert!(matches!(
            classify(WHO, answer(200, body)),
            Err(SendError::Permanent { .. })
        ));
        let body = "Webhook message delivery failed with error: something";
        assert!(matches!(
            classify(WHO, answer(200, body)),
            Err(SendError::Permanent { .. })
        ));
    }
}

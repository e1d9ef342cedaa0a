//! The five channel kinds behind one type: [`Channel::send`] hands a rendered message
//! to the kind's sender (`slack/`, `teams/`, `pagerduty/`, `webhook/`, `email/`) and
//! returns what happened, classified as [`Delivered`] or a [`SendError`].
//!
//! A channel sends once. It does no retrying, sleeping or rate limiting: the outbox
//! worker does those, the same way for every kind. HTTP timeouts are the shared
//! client's, set by the caller. Every reason leaves through [`Channel::send`], which
//! scrubs the channel's secrets (webhook URLs and their tokens, header values, routing
//! keys, SMTP passwords) out of it, whatever a sender or a service put there.

use secrecy::{ExposeSecret, SecretString};

use super::email::Email;
use super::http::Who;
use super::pagerduty::PagerDuty;
use super::slack::Slack;
use super::teams::Teams;
use super::webhook::Webhook;
use super::{Delivered, Rendered, SendError};
use crate::config::{ChannelConfig, ChannelKind, SecretUrl};
use crate::model::OutboxItem;

/// What replaces a secret in a reason.
const SCRUBBED: &str = "***";
/// Parts of a URL shorter than this are not scrubbed on their own (`/`, `services`,
/// `hooks` are not secrets; the whole URL, path and query still are).
const MIN_SECRET_PART: usize = 12;

/// A configured channel that can send one rendered message.
pub struct Channel {
    pub name: String,
    sender: Sender,
    /// What must never appear in a reason or a delivery detail.
    secrets: Vec<SecretString>,
}

enum Sender {
    Slack(Slack),
    Teams(Teams),
    PagerDuty(PagerDuty),
    Email(Box<Email>),
    Webhook(Webhook),
}

/// A PEM file of TLS roots that does not load.
#[derive(Debug, thiserror::Error)]
#[error("channel {channel}: {problem}")]
pub struct TlsRootsError {
    pub channel: String,
    pub problem: String,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Channel");
        s.field("name", &self.name).field("type", &self.kind());
        match &self.sender {
            Sender::Slack(x) => s.field("sender", x),
            Sender::Teams(x) => s.field("sender", x),
            Sender::PagerDuty(x) => s.field("sender", x),
            Sender::Email(x) => s.field("sender", x),
            Sender::Webhook(x) => s.field("sender", x),
        };
        s.finish()
    }
}

impl Channel {
    /// The channel `config` describes, sending HTTP through `http` (whose timeouts
    /// apply). Cannot fail: config validation checked what can be checked; what is left
    /// (an SMTP host TLS cannot name) surfaces as a permanent error on send.
    pub fn new(config: &ChannelConfig, http: reqwest::Client) -> Channel {
        let mut secrets = Vec::new();
        let sender = match &config.kind {
            ChannelKind::Slack { url } => {
                url_secrets(url, &mut secrets);
                Sender::Slack(Slack::new(url.clone(), http))
            }
            ChannelKind::Teams { url } => {
                url_secrets(url, &mut secrets);
                Sender::Teams(Teams::new(url.clone(), http))
            }
            ChannelKind::PagerDuty { routing_key, url } => {
                // The events URL is no secret by itself, but a proxy in front of
                // PagerDuty may carry a token in it: treated like a webhook URL.
                let url = SecretUrl::new(url.clone());
                url_secrets(&url, &mut secrets);
                secrets.push(routing_key.clone());
                Sender::PagerDuty(PagerDuty::new(routing_key.clone(), url, http))
            }
            ChannelKind::Email { smtp, from, to } => {
                secrets.extend(smtp.password.iter().cloned());
                Sender::Email(Box::new(Email::new(smtp.clone(), from.clone(), to.clone())))
            }
            ChannelKind::Webhook { url, headers } => {
                url_secrets(url, &mut secrets);
                secrets.extend(headers.iter().map(|(_, value)| value.clone()));
                Sender::Webhook(Webhook::new(url.clone(), headers, http))
            }
        };
        // Longest first, so a secret that contains another is scrubbed whole.
        secrets.retain(|s| !s.expose_secret().is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.expose_secret().len()));
        Channel {
            name: config.name.clone(),
            sender,
            secrets,
        }
    }

    /// Trust the PEM certificates in `pem`, and only them, for an email channel's TLS
    /// (STARTTLS and implicit) instead of the webpki roots. For tests against a server
    /// with a test CA; other kinds ignore it.
    pub fn with_smtp_tls_roots(mut self, pem: &[u8]) -> Result<Channel, TlsRootsError> {
        if let Sender::Email(email) = &mut self.sender {
            email.set_tls_roots(pem).map_err(|problem| TlsRootsError {
                channel: self.name.clone(),
                problem,
            })?;
        }
        Ok(self)
    }

    /// Limit each email send (connect, TLS, login, message, reply) to `timeout`
    /// instead of 60 s; lettre bounds only the connect by itself. The worker passes
    /// `acronis.request_timeout`, the HTTP client's limit for the other kinds.
    pub fn with_smtp_timeout(mut self, timeout: std::time::Duration) -> Channel {
        if let Sender::Email(email) = &mut self.sender {
            email.set_timeout(timeout);
        }
        self
    }

    /// The `type` as written in worker.toml.
    pub fn kind(&self) -> &'static str {
        match &self.sender {
            Sender::Slack(_) => "slack",
            Sender::Teams(_) => "teams",
            Sender::PagerDuty(_) => "pagerduty",
            Sender::Email(_) => "email",
            Sender::Webhook(_) => "webhook",
        }
    }

    /// Send once; no retrying, sleeping or rate limiting here.
    pub async fn send(
        &self,
        item: &OutboxItem,
        message: &Rendered,
    ) -> Result<Delivered, SendError> {
        let who = Who {
            name: &self.name,
            kind: self.kind(),
        };
        let outcome = match &self.sender {
            Sender::Slack(slack) => slack.send(who, message).await,
            Sender::Teams(teams) => teams.send(who, message).await,
            Sender::PagerDuty(pd) => pd.send(who, item, message).await,
            Sender::Email(email) => email.send(who, item, message).await,
            Sender::Webhook(hook) => hook.send(who, message).await,
        };
        match outcome {
            Ok(Delivered { detail }) => Ok(Delivered {
                detail: self.scrub(detail),
            }),
            Err(SendError::Retryable {
                retry_after,
                reason,
            }) => Err(SendError::Retryable {
                retry_after,
                reason: self.scrub(reason),
            }),
            Err(SendError::Permanent { reason }) => Err(SendError::Permanent {
                reason: self.scrub(reason),
            }),
        }
    }

    fn scrub(&self, mut text: String) -> String {
        for secret in &self.secrets {
            let secret = secret.expose_secret();
            if text.contains(secret) {
                text = text.replace(secret, SCRUBBED);
            }
        }
        text
    }
}

/// A webhook URL's secret parts: the whole URL, its path and query, and each long
/// path segment or query value (the token may be quoted alone, e.g. by a proxy).
fn url_secrets(url: &SecretUrl, out: &mut Vec<SecretString>) {
    let url = url.expose();
    let mut parts = vec![url.as_str().to_string()];
    if url.path() != "/" {
        parts.push(url.path().to_string());
    }
    if let Some(query) = url.query() {
        parts.push(query.to_string());
        parts.extend(
            query
                .split('&')
                .filter_map(|pair| pair.split_once('=').map(|(_, value)| value.to_string())),
        );
    }
    if let Some(segments) = url.path_segments() {
        parts.extend(segments.map(str::to_string));
    }
    out.extend(
        parts
            .into_iter()
            .filter(|p| p.len() >= MIN_SECRET_PART || p.contains('/'))
            .map(SecretString::from),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;
    use std::time::Duration;

    use crate::config::Rate;

    fn config(kind: ChannelKind) -> ChannelConfig {
        ChannelConfig {
            name: "noc".into(),
            kind,
            rate: Rate {
                count: NonZeroU32::new(1).unwrap(),
                per: Duration::from_secs(1),
            },
            burst: NonZeroU32::new(1).unwrap(),
            template: "slack".into(),
            max_attempts: 10,
        }
    }

    fn slack() -> Channel {
        let url = "https://hooks.slack.example/services/T0001/B0002/XXXXsecretXXXXtoken?sig=abcdefabcdef123";
        Channel::new(
            &config(ChannelKind::Slack {
                url: SecretUrl::new(url.parse().unwrap()),
            }),
            reqwest::Client::new(),
        )
    }

    #[test]
    fn scrubs_the_url_and_its_token_from_any_text() {
        let ch = slack();
        let text = ch.scrub(
            "POST https://hooks.slack.example/services/T0001/B0002/XXXXsecretXXXXtoken?sig=abcdefabcdef123 \
             failed; token XXXXsecretXXXXtoken; sig abcdefabcdef123; path /services/T0001/B0002/XXXXsecretXXXXtoken"
                .into(),
        );
        assert!(!text.contains("XXXXsecret"), "{text}");
        assert!(!text.contains("abcdefabcdef123"), "{text}");
        assert!(
            text.contains("hooks.slack.example") || text.contains("***"),
            "{text}"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let debug = format!("{:?}", slack());
        assert!(
            !debug.contains("XXXXsecret") && !debug.contains("abcdef"),
            "{debug}"
        );
        assert!(debug.contains("\"slack\""), "{debug}");
        let pd = Channel::new(
            &config(ChannelKind::PagerDuty {
                routing_key: SecretString::from("R0UT1NGKEY0000000000000000000000"),
                url: crate::config::PAGERDUTY_EVENTS_URL.parse().unwrap(),
            }),
            reqwest::Client::new(),
        );
        let debug = format!("{pd:?}");
        assert!(!debug.contains("R0UT1NGKEY"), "{debug}");
        assert_eq!(
            pd.scrub("key R0UT1NGKEY0000000000000000000000".into()),
            "key ***"
        );
    }

    #[tokio::test]
    async fn the_wrong_rendering_is_permanent() {
        let item: OutboxItem = serde_json::from_value(serde_json::json!({
            "id": 1, "channel": "noc",
            "rule": {"name": "r", "description": "", "severity": "critical"},
            "status": "firing", "alerts": [], "created_at": "2026-11-23T10:00:00Z",
            "open_until": null, "attempts": 0, "next_attempt_at": "2026-11-23T10:00:00Z",
            "last_error": null
        }))
        .unwrap();
        let email = Rendered::Email {
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
        };
        match slack().send(&item, &email).await {
            Err(SendError::Permanent { reason }) => {
                assert!(reason.starts_with("channel noc (slack): "), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}

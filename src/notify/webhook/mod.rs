//! Generic webhooks: POST the rendered JSON with `Content-Type: application/json` and
//! the configured headers (their values are secrets: often a bearer token).
//!
//! Any 2xx is success. The header map is built once; its values are marked sensitive
//! so they never show in a `Debug` print of a request. The body's limit is in
//! `fit.rs`, which the renderer applies before a message gets here.

pub mod fit;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use super::http::{self, Accept, Who};
use super::{Delivered, Rendered, SendError};
use crate::config::SecretUrl;

/// Statuses that mean the receiver took the message.
pub(crate) const SUCCESS: Accept = Accept::Any2xx;

/// One webhook.
pub(crate) struct Webhook {
    url: SecretUrl,
    headers: Result<HeaderMap, String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = match &self.headers {
            Ok(map) => map.keys().map(HeaderName::as_str).collect(),
            Err(_) => Vec::new(),
        };
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    pub fn new(
        url: SecretUrl,
        headers: &[(String, SecretString)],
        http: reqwest::Client,
    ) -> Webhook {
        Webhook {
            url,
            headers: header_map(headers),
            http,
        }
    }

    /// POST once and classify the answer.
    pub async fn send(&self, who: Who<'_>, message: &Rendered) -> Result<Delivered, SendError> {
        let headers = self
            .headers
            .as_ref()
            .map_err(|problem| SendError::Permanent {
                reason: format!("{who}: {problem}"),
            })?;
        let body = http::json_of(who, message)?;
        let answer = http::post_json(who, &self.http, self.url.expose(), headers, body).await?;
        http::classify(who, &answer, SUCCESS)
    }
}

/// The configured headers as a map with sensitive values. Config validation already
/// checked names and values; a failure here names the header, never its value.
fn header_map(headers: &[(String, SecretString)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header {name:?} is not a valid HTTP header name"))?;
        let mut value = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
            format!("the value of header {name:?} (not shown) is not a valid HTTP header value")
        })?;
        value.set_sensitive(true);
        map.append(header, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_sensitive_and_never_printed() {
        let map = header_map(&[
            ("Authorization".into(), SecretString::from("Bearer hunter2")),
            ("X-Tenant".into(), SecretString::from("msp-1")),
        ])
        .unwrap();
        assert!(map.values().all(HeaderValue::is_sensitive));
        assert!(!format!("{map:?}").contains("hunter2"));
        let hook = Webhook {
            url: SecretUrl::new("https://psa.example/hooks/s3cr3t".parse().unwrap()),
            headers: Ok(map),
            http: reqwest::Client::new(),
        };
        let debug = format!("{hook:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("s3cr3t"),
            "{debug}"
        );
        assert!(debug.contains("authorization"), "{debug}");
    }

    #[test]
    fn a_bad_header_value_is_named_not_shown() {
        let err = header_map(&[("X-Key".into(), SecretString::from("bad\nhunter2"))]).unwrap_err();
        assert!(err.contains("X-Key") && !err.contains("hunter2"), "{err}");
    }
}

//! Tokens: the base token (client_credentials, Basic auth) and per-tenant scoped
//! tokens (jwt-bearer exchange), cached and refreshed before they expire.
//!
//! A token's lifetime is read as `expires_on` minus the server's `Date` header, so a
//! server whose clock differs from ours (or a simulator running in simulated time)
//! neither makes us refresh on every call nor hold a dead token. Callers that get a
//! 401 anyway call [`Tokens::invalidate`] and retry once. Token values are
//! [`SecretString`]s: they never reach a log line or an error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::{ApiError, ApiErrorKind};
use super::http::{Response, RetryPolicy};

const API2_TOKEN: &str = "/api/2/idp/token";
const BC_TOKEN: &str = "/bc/idp/token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Refresh this long before expiry (acronis-api.md §2).
const REFRESH_MARGIN: Duration = Duration::from_secs(600);
/// Assumed lifetime when the reply gives neither `expires_on` nor `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(2 * 3600);

/// A bearer token and when to stop using it.
#[derive(Clone)]
pub struct Token {
    pub value: SecretString,
    refresh_at: Instant,
    /// The lifetime the IdP gave it (`expires_on`, else `expires_in`, else 2 h).
    pub lifetime: Duration,
    /// Distinguishes tokens so a 401 invalidates only the token that failed.
    pub generation: u64,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"***")
            .field("generation", &self.generation)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_on: Option<f64>,
    #[serde(default)]
    expires_in: Option<f64>,
}

/// The token cache for one API client.
pub struct Tokens {
    pub(super) http: reqwest::Client,
    pub(super) base_url: String,
    pub(super) client_id: String,
    pub(super) client_secret: SecretString,
    pub(super) retry: RetryPolicy,
    base: Mutex<Option<Token>>,
    scoped: Mutex<HashMap<String, Token>>,
    /// Which endpoint the jwt-bearer exchange works on: 0 unknown, 1 /api/2, 2 /bc.
    exchange_endpoint: AtomicU8,
    generation: AtomicU64,
    refreshes: AtomicU64,
}

impl Tokens {
    pub fn new(
        http: reqwest::Client,
        base_url: String,
        client_id: String,
        client_secret: SecretString,
        retry: RetryPolicy,
    ) -> Tokens {
        Tokens {
            http,
            base_url,
            client_id,
            client_secret,
            retry,
            base: Mutex::new(None),
            scoped: Mutex::new(HashMap::new()),
            exchange_endpoint: AtomicU8::new(0),
            generation: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
        }
    }

    /// How many tokens were fetched (base and scoped) since start.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// The base token, fetched or refreshed if needed.
    pub async fn base(&self) -> Result<Token, ApiError> {
        let mut slot = self.base.lock().await;
        if let Some(t) = slot.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.clone());
        }
        let token = self.fetch_base().await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// A token scoped to `tenant` (a customer UUID), exchanged from the base token.
    pub async fn scoped(&self, tenant: &str) -> Result<Token, ApiError> {
        let mut map = self.scoped.lock().await;
        if let Some(t) = map.get(tenant)
            && Instant::now() < t.refresh_at
        {
            return Ok(t.clone());
        }
        let base = self.base().await?;
        let token = match self.exchange(&base, tenant).await {
            // The base token may have died early (revoked, server clock jump): renew it once.
            Err(e) if e.status() == Some(401) => {
                self.invalidate_base(base.generation).await;
                let base = self.base().await?;
                self.exchange(&base, tenant).await?
            }
            other => other?,
        };
        map.insert(tenant.to_string(), token.clone());
        Ok(token)
    }

    /// Forget the base token if it is still generation `generation` (it got a 401).
    pub async fn invalidate_base(&self, generation: u64) {
        let mut slot = self.base.lock().await;
        if slot.as_ref().is_some_and(|t| t.generation == generation) {
            *slot = None;
        }
    }

    /// Forget `tenant`'s scoped token if it is still generation `generation`.
    pub async fn invalidate_scoped(&self, tenant: &str, generation: u64) {
        let mut map = self.scoped.lock().await;
        if map.get(tenant).is_some_and(|t| t.generation == generation) {
            map.remove(tenant);
        }
    }

    /// Drop scoped tokens of tenants no longer watched, so the cache stays bounded.
    pub async fn retain_scoped(&self, keep: impl Fn(&str) -> bool) {
        self.scoped.lock().await.retain(|k, _| keep(k));
    }

    async fn fetch_base(&self) -> Result<Token, ApiError> {
        let endpoint = format!("POST {API2_TOKEN}");
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.client_secret.expose_secret()
        ));
        let url = format!("{}{API2_TOKEN}", self.base_url);
        let resp = self
            .retry
            .send(None, &endpoint, || {
                self.http
                    .post(&url)
                    .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
                    .form(&[("grant_type", "client_credentials")])
            })
            .await?;
        if !resp.status.is_success() {
            let status = resp.status.as_u16();
            let mut err = resp.into_error(None, &endpoint);
            if status == 401
                && let ApiErrorKind::Status { message, .. } = &mut err.kind
            {
                message.push_str(&format!(
                    " (check acronis.client_id {:?} and acronis.client_secret)",
                    self.client_id
                ));
            }
            return Err(err);
        }
        tracing::debug!("fetched a base token");
        self.token_from(resp, None, &endpoint)
    }

    async fn exchange(&self, base: &Token, tenant: &str) -> Result<Token, ApiError> {
        let scope = format!("urn:acronis.com:tenant-id:{tenant}");
        let known = self.exchange_endpoint.load(Ordering::Relaxed);
        let first = if known == 2 { BC_TOKEN } else { API2_TOKEN };
        let resp = self.exchange_at(first, base, &scope, tenant).await?;
        if resp.status.is_success() {
            self.exchange_endpoint
                .store(if first == BC_TOKEN { 2 } else { 1 }, Ordering::Relaxed);
            return self.token_from(resp, Some(tenant), &format!("POST {first}"));
        }
        // /api/2 may not know the grant (older datacenters): /bc/idp/token takes the same form.
        let unsupported = matches!(
            resp.status,
            StatusCode::BAD_REQUEST
                | StatusCode::NOT_FOUND
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::NOT_IMPLEMENTED
        );
        if first == API2_TOKEN && known == 0 && unsupported {
            tracing::info!(
                tenant,
                status = resp.status.as_u16(),
                "jwt-bearer exchange refused on {API2_TOKEN}; trying {BC_TOKEN}"
            );
            let resp = self.exchange_at(BC_TOKEN, base, &scope, tenant).await?;
            if resp.status.is_success() {
                self.exchange_endpoint.store(2, Ordering::Relaxed);
                return self.token_from(resp, Some(tenant), &format!("POST {BC_TOKEN}"));
            }
            return Err(resp.into_error(Some(tenant), &format!("POST {BC_TOKEN}")));
        }
        Err(resp.into_error(Some(tenant), &format!("POST {first}")))
    }

    async fn exchange_at(
        &self,
        path: &str,
        base: &Token,
        scope: &str,
        tenant: &str,
    ) -> Result<Response, ApiError> {
        let url = format!("{}{path}", self.base_url);
        let endpoint = format!("POST {path}");
        self.retry
            .send(Some(tenant), &endpoint, || {
                self.http
                    .post(&url)
                    .bearer_auth(base.value.expose_secret())
                    .form(&[
                        ("grant_type", JWT_BEARER),
                        ("assertion", base.value.expose_secret()),
                        ("scope", scope),
                    ])
            })
            .await
    }

    fn token_from(
        &self,
        resp: Response,
        tenant: Option<&str>,
        endpoint: &str,
    ) -> Result<Token, ApiError> {
        let reply: TokenReply = resp.json(tenant, endpoint)?;
        let server_now = resp.server_date().unwrap_or_else(Utc::now).timestamp() as f64;
        let lifetime = match (reply.expires_on, reply.expires_in) {
            (Some(on), _) => Duration::try_from_secs_f64(on - server_now).unwrap_or(Duration::ZERO),
            (None, Some(secs)) => Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO),
            (None, None) => DEFAULT_LIFETIME,
        };
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let usable = if lifetime.is_zero() {
            tracing::warn!(
                tenant = tenant.unwrap_or(""),
                "token reply says it has already expired; using it for 60s"
            );
            Duration::from_secs(60)
        } else {
            lifetime - margin
        };
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        Ok(Token {
            value: SecretString::from(reply.access_token),
            refresh_at: Instant::now() + usable,
            lifetime,
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
        })
    }
}

//! Tokens and scopes: opaque random access tokens, each with a scope (the partner subtree
//! or one customer) and an expiry in simulated time; reading `Authorization` headers.
//!
//! Expired tokens are remembered (so they answer `AuthenticationTimeout`, not
//! `UnauthorizedRequest`) until long after expiry.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use rand::distr::Alphanumeric;

use super::clock::NS_PER_SEC;
use super::tenants::Scope;

/// Expired tokens older than this are forgotten once the table grows.
const FORGET_AFTER_NS: i64 = 7 * 24 * 3600 * NS_PER_SEC;
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenInfo {
    pub scope: Scope,
    pub expires_ns: i64,
}

/// What a presented token turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Valid(Scope),
    Expired(Scope),
    Unknown,
}

impl TokenCheck {
    /// The scope, valid or not (fault matching and counters use it).
    pub(crate) fn scope(self) -> Option<Scope> {
        match self {
            TokenCheck::Valid(s) | TokenCheck::Expired(s) => Some(s),
            TokenCheck::Unknown => None,
        }
    }
}

/// A freshly issued token.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub access_token: String,
    pub id_token: String,
    pub expires_ns: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Tokens {
    map: HashMap<String, TokenInfo>,
}

impl Tokens {
    pub(crate) fn issue(&mut self, scope: Scope, now: i64, lifetime_ns: i64) -> Issued {
        if self.map.len() > PRUNE_ABOVE {
            self.map.retain(|_, t| t.expires_ns > now - FORGET_AFTER_NS);
        }
        let access_token = random_token();
        let expires_ns = now.saturating_add(lifetime_ns);
        self.map
            .insert(access_token.clone(), TokenInfo { scope, expires_ns });
        Issued {
            access_token,
            id_token: random_token(),
            expires_ns,
        }
    }

    pub(crate) fn check(&self, token: &str, now: i64) -> TokenCheck {
        match self.map.get(token) {
            Some(t) if now < t.expires_ns => TokenCheck::Valid(t.scope),
            Some(t) => TokenCheck::Expired(t.scope),
            None => TokenCheck::Unknown,
        }
    }

    /// Every access token issued and still remembered (for leak checks in tests).
    pub(crate) fn issued(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }

    /// Expires every outstanding token; returns how many were still valid.
    pub(crate) fn expire_all(&mut self, now: i64) -> usize {
        let mut expired = 0;
        for t in self.map.values_mut().filter(|t| t.expires_ns > now) {
            t.expires_ns = now;
            expired += 1;
        }
        expired
    }
}

fn random_token() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(48)
        .map(char::from)
        .collect()
}

/// The token of `Authorization: Bearer <token>`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The `(id, secret)` of `Authorization: Basic base64(id:secret)`.
pub(crate) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_expire_and_keep_their_scope() {
        let mut tokens = Tokens::default();
        let t = tokens.issue(Scope::Customer(4), 1000, 500);
        assert_eq!(t.expires_ns, 1500);
        assert_eq!(
            tokens.check(&t.access_token, 1499),
            TokenCheck::Valid(Scope::Customer(4))
        );
        assert_eq!(
            tokens.check(&t.access_token, 1500),
            TokenCheck::Expired(Scope::Customer(4))
        );
        assert_eq!(tokens.check("nope", 1000), TokenCheck::Unknown);
        assert_eq!(
            tokens.check(&t.id_token, 1000),
            TokenCheck::Unknown,
            "id tokens are not access tokens"
        );
        let u = tokens.issue(Scope::Partner, 1000, 500);
        assert_eq!(tokens.expire_all(1200), 2);
        assert_eq!(
            tokens.check(&u.access_token, 1200),
            TokenCheck::Expired(Scope::Partner)
        );
    }

    #[test]
    fn authorization_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        assert_eq!(basic(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic c2ltLWNsaWVudDpzaW06c2VjcmV0"),
        );
        assert_eq!(basic(&h), Some(("sim-client".into(), "sim:secret".into())));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}

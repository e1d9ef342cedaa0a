//! The Acronis API client: authenticated GETs (401 -> refresh once -> retry),
//! the client's own tenant, the customer tenants below it, and `resource_statuses`
//! pages. One page at a time: nothing here holds the fleet.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::auth::{Token, Tokens};
use super::error::{ApiError, ApiErrorKind};
use super::http::{Response, RetryPolicy};
use super::model::{AlertPage, ResourceStatus, StatusPage, Timestamp};
use crate::config::{AcronisConfig, resource_type};

const STATUSES: &str = "/api/resource_management/v4/resource_statuses";
/// Alert Manager's alert list (acronis-api.md §8).
pub const PLATFORM_ALERTS: &str = "/api/alert_manager/v1/alerts";
/// Ids per lookup request (the API takes up to 100 per filter).
const LOOKUP_CHUNK: usize = 100;
const TENANTS: &str = "/api/2/tenants";

/// Whose token a request is sent with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The API client's base token (its own tenant's scope).
    Base,
    /// A token scoped to this customer tenant (UUID); covers its units.
    Tenant(String),
}

/// A tenant the poller watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedTenant {
    /// The id per-tenant state is keyed by: the UUID that was scoped with.
    pub id: String,
    pub name: Option<String>,
    pub scope: Scope,
}

/// Parameters of one `resource_statuses` request besides the cursor.
#[derive(Debug, Clone)]
pub struct PageRequest<'a> {
    pub after: Option<&'a str>,
    pub include_deleted: bool,
    /// Items asked for, when not `page_size`.
    pub limit: Option<u32>,
}

/// Parameters of one Alert Manager request besides the cursor.
#[derive(Debug, Clone, Default)]
pub struct AlertRequest<'a> {
    /// `updated_at=gt(<Unix ns>)`: only alerts updated after this (an incremental read).
    pub updated_after: Option<i64>,
    /// `show_deleted=true`: dismissed alerts too (how a dismissal is seen incrementally).
    pub show_deleted: bool,
    pub after: Option<&'a str>,
}

/// A tenant as Account Management describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct TenantInfo {
    pub id: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub deleted_at: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TenantList {
    #[serde(default)]
    items: Vec<TenantInfo>,
    #[serde(default)]
    paging: Option<TenantPaging>,
}

#[derive(Deserialize)]
struct TenantPaging {
    #[serde(default)]
    cursors: Option<TenantCursors>,
}

#[derive(Deserialize)]
struct TenantCursors {
    #[serde(default)]
    after: Option<String>,
}

#[derive(Deserialize)]
struct ClientInfo {
    tenant_id: String,
    #[serde(default)]
    data: Option<ClientData>,
}

#[derive(Deserialize)]
struct ClientData {
    #[serde(default)]
    client_name: Option<String>,
}

/// The API client.
pub struct AcronisClient {
    http: reqwest::Client,
    base_url: String,
    tokens: Tokens,
    types: Vec<String>,
    page_size: u32,
    /// How `resource_id` lookups are written: the form that worked last
    /// ([`LookupForm`] as a number; it only moves forward).
    lookup_form: std::sync::atomic::AtomicU8,
    /// Ask for `include_attributes=true` (agent and CyberFit data): only when a rule
    /// uses them, as they add bytes to every item.
    attributes: std::sync::atomic::AtomicBool,
}

/// How several ids go into one `resource_id` lookup. The spec gives no syntax for
/// several values (acronis-api.md §4.1): sibling endpoints take `or(a,b)`, some APIs a
/// comma list. A 400 to one form moves to the next, for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LookupForm {
    /// `resource_id=or(a,b)`.
    Or,
    /// `resource_id=a,b`.
    Comma,
    /// One id per request.
    One,
}

impl LookupForm {
    const ALL: [LookupForm; 3] = [LookupForm::Or, LookupForm::Comma, LookupForm::One];

    fn value(self, ids: &[String]) -> String {
        match self {
            LookupForm::Or => format!("or({})", ids.join(",")),
            LookupForm::Comma | LookupForm::One => ids.join(","),
        }
    }

    fn chunk(self) -> usize {
        match self {
            LookupForm::One => 1,
            _ => LOOKUP_CHUNK,
        }
    }
}

impl AcronisClient {
    pub fn new(cfg: &AcronisConfig) -> Result<AcronisClient, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("acronis-watch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ApiError::new(
                    None,
                    "client setup",
                    ApiErrorKind::Transport {
                        message: e.to_string(),
                        attempts: 0,
                    },
                )
            })?;
        let base_url = cfg
            .datacenter_url
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let retry = RetryPolicy {
            max_retries: cfg.max_retries,
            backoff: cfg.retry_backoff,
            max_retry_after: cfg.max_retry_after,
        };
        let tokens = Tokens::new(
            http.clone(),
            base_url.clone(),
            cfg.client_id.clone(),
            cfg.client_secret.clone(),
            retry,
        );
        Ok(AcronisClient {
            http,
            base_url,
            tokens,
            types: cfg.resource_types.clone(),
            page_size: cfg.page_size,
            lookup_form: std::sync::atomic::AtomicU8::new(0),
            attributes: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Whether pages and lookups ask for `include_attributes=true`.
    pub fn set_attributes(&self, on: bool) {
        self.attributes
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn attributes(&self) -> bool {
        self.attributes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The token cache (for counters and pruning).
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    async fn token(&self, scope: &Scope) -> Result<Token, ApiError> {
        match scope {
            Scope::Base => self.tokens.base().await,
            Scope::Tenant(t) => self.tokens.scoped(t).await,
        }
    }

    async fn invalidate(&self, scope: &Scope, generation: u64) {
        match scope {
            Scope::Base => self.tokens.invalidate_base(generation).await,
            Scope::Tenant(t) => self.tokens.invalidate_scoped(t, generation).await,
        }
    }

    /// GET `path` with `query` under `scope`; on a 401 the token is renewed and the
    /// request tried once more. Returns the successful response.
    async fn get(
        &self,
        scope: &Scope,
        tenant: Option<&str>,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Response, ApiError> {
        let url = format!("{}{path}", self.base_url);
        let endpoint = format!("GET {path}");
        let mut renewed = false;
        loop {
            let token = self.token(scope).await?;
            let resp = self
                .tokens
                .retry
                .send(tenant, &endpoint, || {
                    self.http
                        .get(&url)
                        .query(query)
                        .bearer_auth(token.value.expose_secret())
                })
                .await?;
            if resp.status == StatusCode::UNAUTHORIZED && !renewed {
                tracing::info!(tenant, endpoint, "token refused (401); renewing it");
                self.invalidate(scope, token.generation).await;
                renewed = true;
                continue;
            }
            if !resp.status.is_success() {
                return Err(resp.into_error(tenant, &endpoint));
            }
            return Ok(resp);
        }
    }

    /// Any GET of the API as JSON, with the token of `scope` (for `doctor`, which
    /// looks at what the server sends, not at what the worker keeps).
    pub async fn probe(
        &self,
        scope: &Scope,
        tenant: Option<&str>,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, ApiError> {
        let resp = self.get(scope, tenant, path, query).await?;
        resp.json(tenant, &format!("GET {path}"))
    }

    /// The API client's own tenant (usually the partner) and its display name.
    pub async fn own_tenant(&self) -> Result<WatchedTenant, ApiError> {
        let path = format!("/api/2/clients/{}", self.tokens.client_id);
        let resp = self.get(&Scope::Base, None, &path, &[]).await?;
        let info: ClientInfo = resp.json(None, &format!("GET {path}"))?;
        Ok(WatchedTenant {
            id: info.tenant_id,
            name: info.data.and_then(|d| d.client_name),
            scope: Scope::Base,
        })
    }

    /// Every live customer tenant in the subtree of `root` (folders included).
    pub async fn customers_below(&self, root: &str) -> Result<Vec<TenantInfo>, ApiError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            // `after` is self-contained: send it alone.
            let query: Vec<(&str, String)> = match &after {
                Some(c) => vec![("after", c.clone())],
                None => vec![
                    ("subtree_root_id", root.to_string()),
                    ("lod", "basic".to_string()),
                ],
            };
            let resp = self.get(&Scope::Base, None, TENANTS, &query).await?;
            let list: TenantList = resp.json(None, &format!("GET {TENANTS}"))?;
            let empty = list.items.is_empty();
            out.extend(
                list.items
                    .into_iter()
                    .filter(|t| t.kind.as_deref() == Some("customer") && is_null(&t.deleted_at)),
            );
            after = list
                .paging
                .and_then(|p| p.cursors)
                .and_then(|c| c.after)
                .filter(|c| !c.is_empty());
            match &after {
                Some(c) if !empty && seen.insert(c.clone()) => {}
                _ => break,
            }
        }
        Ok(out)
    }

    /// Account Management's view of these tenants (names), 100 per request.
    pub async fn tenants_by_id(&self, ids: &[String]) -> Result<Vec<TenantInfo>, ApiError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(100) {
            let resp = self
                .get(&Scope::Base, None, TENANTS, &[("uuids", chunk.join(","))])
                .await?;
            let list: TenantList = resp.json(None, &format!("GET {TENANTS}"))?;
            out.extend(list.items);
        }
        Ok(out)
    }

    /// One page of `resource_statuses` for `tenant`, newest first.
    pub async fn status_page(
        &self,
        tenant: &WatchedTenant,
        req: PageRequest<'_>,
    ) -> Result<StatusPage, ApiError> {
        let mut query: Vec<(&str, String)> = vec![
            ("order", "desc(updated_at)".to_string()),
            ("limit", req.limit.unwrap_or(self.page_size).to_string()),
        ];
        // A family (`resource.virtual_machine.*`) cannot be asked for: then every
        // type is read and the poller keeps the watched ones.
        if let Some(types) = resource_type::api_filter(&self.types) {
            query.push(("type", types));
        }
        if req.include_deleted {
            query.push(("include_deleted", "true".to_string()));
        }
        if self.attributes() {
            query.push(("include_attributes", "true".to_string()));
        }
        if let Some(after) = req.after {
            query.push(("after", after.to_string()));
        }
        let resp = self
            .get(&tenant.scope, Some(&tenant.id), STATUSES, &query)
            .await?;
        self.parse_page(tenant, resp).await
    }

    /// These resources of `tenant` as the API has them now: the live ones (deleted
    /// ones are not asked for, so a missing id means deleted whether or not the API
    /// fills `deleted_at`). 100 ids per request, in the form the API takes
    /// ([`LookupForm`]); an answer holding an id it was not asked for is an error (the
    /// filter was ignored), never a list to trust.
    pub async fn statuses_by_id(
        &self,
        tenant: &WatchedTenant,
        ids: &[String],
    ) -> Result<Vec<ResourceStatus>, ApiError> {
        use std::sync::atomic::Ordering;
        let mut out = Vec::new();
        let mut rest = ids;
        while !rest.is_empty() {
            let at = self.lookup_form.load(Ordering::Relaxed);
            let form = LookupForm::ALL[usize::from(at).min(2)];
            let (chunk, after) = rest.split_at(form.chunk().min(rest.len()));
            let mut query: Vec<(&str, String)> = vec![
                ("resource_id", form.value(chunk)),
                ("limit", LOOKUP_CHUNK.to_string()),
            ];
            if self.attributes() {
                query.push(("include_attributes", "true".to_string()));
            }
            let resp = match self
                .get(&tenant.scope, Some(&tenant.id), STATUSES, &query)
                .await
            {
                Ok(resp) => resp,
                Err(e) if e.status() == Some(400) && form != LookupForm::One => {
                    // Another replica or tenant may have moved on already.
                    let _ = self.lookup_form.compare_exchange(
                        at,
                        at + 1,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                    tracing::warn!(
                        tenant = %tenant.id,
                        refused = ?form,
                        "the API refused a resource_id lookup with 400; trying the next form \
                         from now on: {e}"
                    );
                    continue;
                }
                Err(e) => return Err(e),
            };
            let items = self.parse_page(tenant, resp).await?.items;
            if let Some(stray) = items.iter().find(|i| !chunk.contains(&i.context.id)) {
                return Err(ApiError::new(
                    Some(&tenant.id),
                    &format!("GET {STATUSES}"),
                    ApiErrorKind::Decode {
                        message: format!(
                            "a resource_id lookup returned resource {}, which it was not asked \
                             for: the filter was not applied",
                            stray.context.id
                        ),
                    },
                ));
            }
            out.extend(items);
            rest = after;
        }
        Ok(out)
    }

    /// One page of Alert Manager alerts. The filters are sent again beside `after`,
    /// as the vendor's samples do (a cursor alone may not carry them).
    pub async fn alert_page(
        &self,
        tenant: &WatchedTenant,
        req: AlertRequest<'_>,
    ) -> Result<AlertPage, ApiError> {
        let mut query: Vec<(&str, String)> = vec![
            ("order", "desc(created_at)".to_string()),
            ("limit", self.page_size.to_string()),
        ];
        if let Some(ns) = req.updated_after {
            query.push(("updated_at", format!("gt({ns})")));
        }
        if req.show_deleted {
            query.push(("show_deleted", "true".to_string()));
        }
        if let Some(after) = req.after {
            query.push(("after", after.to_string()));
        }
        let resp = self
            .get(&tenant.scope, Some(&tenant.id), PLATFORM_ALERTS, &query)
            .await?;
        resp.json::<AlertPage>(Some(&tenant.id), &format!("GET {PLATFORM_ALERTS}"))
    }

    async fn parse_page(
        &self,
        tenant: &WatchedTenant,
        resp: Response,
    ) -> Result<StatusPage, ApiError> {
        let tenant_id = tenant.id.clone();
        // Parsing a large page is CPU work: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            resp.json::<StatusPage>(Some(&tenant_id), &format!("GET {STATUSES}"))
        })
        .await
        .map_err(|e| {
            ApiError::new(
                Some(&tenant.id),
                &format!("GET {STATUSES}"),
                ApiErrorKind::Decode {
                    message: format!("page decoding stopped: {e}"),
                },
            )
        })?
    }
}

fn is_null(v: &Option<serde_json::Value>) -> bool {
    matches!(v, None | Some(serde_json::Value::Null))
}

/// The newest `updated_at` on a page, for when the server sends no `timestamp`.
pub fn newest_update(page: &StatusPage) -> Option<Timestamp> {
    page.items.iter().filter_map(|i| i.context.updated_at).max()
}

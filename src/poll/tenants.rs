//! Which tenants this replica watches: the client's own scope, its customers, or an
//! explicit list, then filtered by `shard`, named from the API or `[tenant."ID"]`.
//! Customers the API shows with `enabled: false` are listed apart and not polled.

use crate::acronis::client::{AcronisClient, Scope, WatchedTenant};
use crate::acronis::error::ApiError;
use crate::config::{Config, TenantSelection};
use crate::model::{FiledTenant, TenantRecord, tenant_name};

/// The tenants of this config as the API lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub watched: Vec<WatchedTenant>,
    /// Customers the API shows with `enabled: false`: not polled, no token asked for.
    pub disabled: Vec<WatchedTenant>,
}

/// Enumerate the watched tenants from the API.
pub async fn resolve(client: &AcronisClient, cfg: &Config) -> Result<Listing, ApiError> {
    let mut disabled = Vec::new();
    let mut tenants = match &cfg.acronis.tenants {
        TenantSelection::Own => vec![client.own_tenant().await?],
        TenantSelection::Children => {
            let own = client.own_tenant().await?;
            let mut watched = Vec::new();
            for t in client.customers_below(&own.id).await? {
                let off = t.enabled == Some(false);
                let tenant = WatchedTenant {
                    scope: Scope::Tenant(t.id.clone()),
                    id: t.id,
                    name: t.name,
                };
                if off {
                    disabled.push(tenant);
                } else {
                    watched.push(tenant);
                }
            }
            watched
        }
        TenantSelection::List(ids) => {
            let mut list: Vec<WatchedTenant> = ids
                .iter()
                .map(|id| WatchedTenant {
                    id: id.clone(),
                    name: None,
                    scope: Scope::Tenant(id.clone()),
                })
                .collect();
            // Names are a nicety: a partner token that cannot read them must not stop
            // polling (nor can it then say which are disabled: all are polled).
            match client.tenants_by_id(ids).await {
                Ok(infos) => {
                    for t in &mut list {
                        let info = infos.iter().find(|i| i.id == t.id);
                        t.name = info.and_then(|i| i.name.clone());
                        if info.is_some_and(|i| i.enabled == Some(false)) {
                            disabled.push(t.clone());
                        }
                    }
                    list.retain(|t| !disabled.iter().any(|d| d.id == t.id));
                }
                Err(e) => tracing::warn!("could not read tenant names: {e}"),
            }
            list
        }
    };
    Ok(Listing {
        watched: finish(tenants.drain(..), cfg),
        disabled: finish(disabled.into_iter(), cfg),
    })
}

/// The tenants recorded by the last successful enumeration (used when the API cannot
/// list them now), filtered by the current shard; disabled and filed ones are left out.
pub fn from_records(records: Vec<TenantRecord>, cfg: &Config) -> Vec<WatchedTenant> {
    let list = records
        .into_iter()
        .filter(TenantRecord::polled)
        .map(|r| WatchedTenant {
            scope: if r.scope == "base" {
                Scope::Base
            } else {
                Scope::Tenant(r.id.clone())
            },
            id: r.id,
            name: r.name,
        });
    finish(list, cfg)
}

/// Shard filter, config names, stable order.
fn finish(list: impl Iterator<Item = WatchedTenant>, cfg: &Config) -> Vec<WatchedTenant> {
    let mut out: Vec<WatchedTenant> = list
        .filter(|t| t.scope == Scope::Base || cfg.acronis.shard.owns(&t.id))
        .map(|mut t| {
            let configured = cfg.tenants.get(&t.id).and_then(|s| s.name.as_deref());
            t.name = tenant_name(t.name.as_deref(), configured).map(str::to_string);
            t
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    out
}

/// The directory records for a listing.
pub fn records(listing: &Listing) -> Vec<TenantRecord> {
    let record = |t: &WatchedTenant, enabled: bool| TenantRecord {
        id: t.id.clone(),
        name: t.name.clone(),
        scope: match t.scope {
            Scope::Base => "base".to_string(),
            Scope::Tenant(_) => "tenant".to_string(),
        },
        enabled,
    };
    let watched = listing.watched.iter().map(|t| record(t, true));
    watched
        .chain(listing.disabled.iter().map(|t| record(t, false)))
        .collect()
}

/// The directory records of the tenants a base-token poll files machines under.
pub fn filed_records(filed: Vec<FiledTenant>) -> impl Iterator<Item = TenantRecord> {
    filed.into_iter().map(|f| TenantRecord {
        id: f.id,
        name: f.name,
        scope: TenantRecord::FILED.to_string(),
        enabled: true,
    })
}

//! Which tenants this replica watches: the client's own scope, its customers, or an
//! explicit list, then filtered by `shard`, named from the API or `[tenant."ID"]`.

use crate::acronis::client::{AcronisClient, Scope, WatchedTenant};
use crate::acronis::error::ApiError;
use crate::config::{Config, TenantSelection};
use crate::model::{TenantRecord, tenant_name};

/// Enumerate the watched tenants from the API.
pub async fn resolve(client: &AcronisClient, cfg: &Config) -> Result<Vec<WatchedTenant>, ApiError> {
    let mut tenants = match &cfg.acronis.tenants {
        TenantSelection::Own => vec![client.own_tenant().await?],
        TenantSelection::Children => {
            let own = client.own_tenant().await?;
            client
                .customers_below(&own.id)
                .await?
                .into_iter()
                .map(|t| WatchedTenant {
                    scope: Scope::Tenant(t.id.clone()),
                    id: t.id,
                    name: t.name,
                })
                .collect()
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
            // Names are a nicety: a partner token that cannot read them must not stop polling.
            match client.tenants_by_id(ids).await {
                Ok(infos) => {
                    for t in &mut list {
                        t.name = infos
                            .iter()
                            .find(|i| i.id == t.id)
                            .and_then(|i| i.name.clone());
                    }
                }
                Err(e) => tracing::warn!("could not read tenant names: {e}"),
            }
            list
        }
    };
    Ok(finish(tenants.drain(..), cfg))
}

/// The tenants recorded by the last successful enumeration (used when the API cannot
/// list them now), filtered by the current shard.
pub fn from_records(records: Vec<TenantRecord>, cfg: &Config) -> Vec<WatchedTenant> {
    let list = records.into_iter().map(|r| WatchedTenant {
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

/// The directory records for `tenants`.
pub fn records(tenants: &[WatchedTenant]) -> Vec<TenantRecord> {
    tenants
        .iter()
        .map(|t| TenantRecord {
            id: t.id.clone(),
            name: t.name.clone(),
            scope: match t.scope {
                Scope::Base => "base".to_string(),
                Scope::Tenant(_) => "tenant".to_string(),
            },
        })
        .collect()
}

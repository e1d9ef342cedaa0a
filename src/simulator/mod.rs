//! The built-in simulated Acronis datacenter: a deterministic fleet that evolves over
//! simulated time, served over HTTP in the real API's shapes, plus a `/_sim/` control API
//! to steer it (clock, statuses, faults, counters). Used by `simulate`, `demo` and tests.
//!
//! Layout: `fleet`/`tenants`/`names` generate the world from a seed; `evolve` moves it
//! through time; `store`/`paging`/`cursor` index and page it; `render` writes the API's
//! JSON; `api` with `idp`, `account`, `statuses` serves the Acronis routes; `control` the
//! `/_sim/` routes; `auth`, `faults`, `counters`, `settings` hold the rest of the state,
//! all inside one [`world::World`] behind a lock.
//!
//! It must not reach the network or the worker: it is the other side of the wire.

// Handlers return `Result<_, Response>`: the error is the HTTP answer itself, made once per
// request and handed straight to axum, so boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod account;
mod alerts;
mod api;
mod auth;
mod clock;
mod control;
mod counters;
mod cursor;
mod errors;
mod evolve;
mod faults;
mod fleet;
mod idp;
mod model;
mod names;
mod paging;
mod query;
mod render;
mod seed;
mod settings;
mod statuses;
mod store;
mod tenants;
mod views;
mod world;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

pub use alerts::{AlertSpec, AlertUpdate};
pub use counters::{Counters, Endpoint, RequestCounts};
pub use faults::{Fault, FaultBody};
pub use settings::{ConfigPatch, SimConfig, TimeFields};
pub use views::{
    CustomerInfo, FleetInfo, FolderInfo, PolicyPatch, PolicyView, ResourcePatch, ResourceView,
    UnitInfo,
};

use world::World;

/// How to build a simulated datacenter.
#[derive(Clone)]
pub struct SimOptions {
    /// Number of machines; default 200.
    pub fleet: usize,
    /// Number of customer tenants; default 5.
    pub tenants: usize,
    /// Default 1.
    pub seed: u64,
    /// Default `sim-client`.
    pub client_id: String,
    /// Default `sim-secret`.
    pub client_secret: String,
    /// Simulated start time; None = the wall clock now, truncated to whole seconds.
    pub start: Option<DateTime<Utc>>,
    /// Lifetime of issued tokens in simulated time; default 2h.
    pub token_lifetime: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            fleet: 200,
            tenants: 5,
            seed: 1,
            client_id: "sim-client".into(),
            client_secret: "sim-secret".into(),
            start: None,
            token_lifetime: Duration::from_secs(2 * 3600),
        }
    }
}

impl std::fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("fleet", &self.fleet)
            .field("tenants", &self.tenants)
            .field("seed", &self.seed)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("start", &self.start)
            .field("token_lifetime", &self.token_lifetime)
            .finish()
    }
}

/// Why a control operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("no resource with id {0:?}")]
    UnknownResource(String),
    #[error("no customer or unit with id {0:?}")]
    UnknownTenant(String),
    #[error("{0}")]
    Invalid(String),
}

/// The simulated datacenter's state, shareable (Arc inside); all /_sim/ operations are
/// methods too.
#[derive(Clone)]
pub struct Simulator {
    world: Arc<Mutex<World>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("now", &self.now())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    pub fn new(opts: SimOptions) -> Simulator {
        Simulator {
            world: Arc::new(Mutex::new(World::new(&opts))),
        }
    }

    /// The world, brought up to the simulated now is the caller's job (`World::sync`).
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves a consistent-enough world for a simulator.
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        clock::from_ns(self.world().clock.now_ns())
    }

    /// Moves simulated time forward; the fleet evolves (backups run, fail, go stale).
    pub fn advance(&self, by: Duration) {
        let mut w = self.world();
        w.sync();
        w.clock.advance(by);
        w.sync();
    }

    /// Moves simulated time forward to `to`; refuses to go back.
    pub fn set_now(&self, to: DateTime<Utc>) -> Result<(), SimError> {
        self.world().set_time(to).map(|_| ())
    }

    /// Stops (or restarts) the flow of simulated time with the wall clock.
    pub fn freeze(&self, frozen: bool) {
        let mut w = self.world();
        w.clock.freeze(frozen);
        w.sync();
    }

    pub fn is_frozen(&self) -> bool {
        self.world().clock.is_frozen()
    }

    pub fn counters(&self) -> Counters {
        self.world().counters.clone()
    }

    pub fn reset_counters(&self) {
        self.world().counters = Counters::default();
    }

    /// The tenant tree and machine counts.
    pub fn fleet_info(&self) -> FleetInfo {
        let mut w = self.world();
        w.sync();
        views::fleet_info(w.seed, &w.client_id, &w.tenants, &w.store)
    }

    /// Machines as the simulator sees them, in generation order: all, or those of one
    /// customer (units included) or unit. Purged machines are gone; deleted ones shown.
    pub fn resources(
        &self,
        tenant: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ResourceView>, SimError> {
        self.resources_where(tenant, None, limit)
    }

    /// [`Simulator::resources`] with only machines whose `aggregate.status` is `status`.
    pub(crate) fn resources_where(
        &self,
        tenant: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ResourceView>, SimError> {
        let mut w = self.world();
        w.sync();
        let tenant = tenant
            .map(|t| w.control_tenant(t))
            .transpose()?
            .filter(|&t| t != tenants::PARTNER);
        let ixs: Box<dyn Iterator<Item = model::ResIx>> = match tenant {
            Some(t) => Box::new(w.store.members(t).iter().copied()),
            None => Box::new(0..w.store.len() as model::ResIx),
        };
        Ok(ixs
            .map(|ix| w.store.get(ix))
            .filter(|r| !r.purged && status.is_none_or(|s| r.status() == Some(s)))
            .take(limit)
            .map(|r| views::resource_view(r, &w.tenants))
            .collect())
    }

    /// One machine as the simulator sees it (deleted ones included, purged ones gone).
    pub fn resource(&self, id: &str) -> Result<ResourceView, SimError> {
        let mut w = self.world();
        w.sync();
        let ix = w.lookup(id)?;
        Ok(views::resource_view(w.store.get(ix), &w.tenants))
    }

    /// Queues a fault; faults fire first-match in the order added.
    pub fn add_fault(&self, fault: Fault) {
        self.world().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// Faults still waiting to fire (with their remaining skip and count).
    pub fn faults(&self) -> Vec<Fault> {
        self.world().faults.pending().to_vec()
    }

    /// Expires every outstanding token: the next use answers 401.
    pub fn expire_tokens(&self) {
        self.expire_tokens_counted();
    }

    /// Every access token issued so far (expired ones included, until pruned), so a
    /// test can check that none of them reached a log line.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.world().tokens.issued()
    }

    pub(crate) fn expire_tokens_counted(&self) -> usize {
        let mut w = self.world();
        let now = w.sync();
        w.tokens.expire_all(now)
    }

    /// Changes one machine; bumps its `updated_at` to now (or the patch's time).
    pub fn set_resource(&self, id: &str, patch: ResourcePatch) -> Result<(), SimError> {
        self.world().patch(id, patch)
    }

    /// Marks a machine deleted (`deleted_at` = `updated_at` = now), or with `purge` makes
    /// it vanish entirely.
    pub fn delete_resource(&self, id: &str, purge: bool) -> Result<(), SimError> {
        self.world().delete(id, purge)
    }

    /// Changes `count` machines (deterministic pick, status flip) of a customer or unit
    /// (or of the whole fleet) and returns their ids. An unknown tenant changes nothing.
    pub fn touch(&self, count: usize, tenant: Option<&str>) -> Vec<String> {
        let mut w = self.world();
        match tenant.map(|t| w.control_tenant(t)) {
            Some(Err(_)) => Vec::new(),
            Some(Ok(t)) => w.touch(count, Some(t)),
            None => w.touch(count, None),
        }
    }

    /// Switch a customer or unit on or off (Account Management's `enabled`; the
    /// partner cannot be). Its machines and tokens are unaffected, as on the platform.
    pub fn set_tenant_enabled(&self, id: &str, enabled: bool) -> Result<(), SimError> {
        let mut w = self.world();
        let t = w.control_tenant(id)?;
        if t == tenants::PARTNER {
            return Err(SimError::Invalid("the partner cannot be disabled".into()));
        }
        w.tenants.get_mut(t).enabled = enabled;
        Ok(())
    }

    pub fn config(&self) -> SimConfig {
        self.world().config.clone()
    }

    /// Raise an Alert Manager alert now; returns it as the API shows it.
    pub fn raise_alert(&self, spec: AlertSpec) -> Result<serde_json::Value, SimError> {
        let mut w = self.world();
        let now = w.sync();
        let resource = match &spec.resource_id {
            Some(id) => {
                let ix = seed::parse_uuid(id)
                    .and_then(|u| w.store.find(u))
                    .ok_or_else(|| SimError::Invalid(format!("no machine {id}")))?;
                let r = w.store.get(ix);
                Some((r.owner, r.id_str.clone(), r.name.clone()))
            }
            None => None,
        };
        let tenant = match (&spec.tenant, &resource) {
            (Some(t), _) => w.control_tenant(t)?,
            (None, Some((owner, _, _))) => *owner,
            (None, None) => w
                .tenants
                .customers()
                .next()
                .ok_or_else(|| SimError::Invalid("the datacenter has no customer".into()))?,
        };
        let severity = spec.severity.unwrap_or_else(|| "error".into());
        alerts::check_severity(&severity)?;
        let a = alerts::SimAlert {
            id: String::new(),
            tenant,
            kind: spec.kind.unwrap_or_else(|| "BackupFailed".into()),
            category: spec.category.unwrap_or_else(|| "backup".into()),
            severity,
            created_ns: 0,
            updated_ns: 0,
            deleted_ns: None,
            resource: resource.map(|(_, id, name)| (id, name)),
            title: spec.title,
            description: spec.description,
        };
        let seed = w.seed;
        let raised = w.alerts.raise(seed, now, a).clone();
        Ok(alerts::item(&w, &raised))
    }

    /// Change or dismiss an Alert Manager alert now (its `updatedAt` moves).
    pub fn update_alert(&self, id: &str, u: AlertUpdate) -> Result<serde_json::Value, SimError> {
        let mut w = self.world();
        let now = w.sync();
        if let Some(s) = &u.severity {
            alerts::check_severity(s)?;
        }
        let a = w
            .alerts
            .list
            .iter_mut()
            .find(|a| a.id == id)
            .ok_or_else(|| SimError::Invalid(format!("no alert {id}")))?;
        if let Some(s) = u.severity {
            a.severity = s;
        }
        if let Some(d) = u.description {
            a.description = Some(d);
        }
        match u.dismissed {
            Some(true) if a.deleted_ns.is_none() => a.deleted_ns = Some(now),
            Some(false) => a.deleted_ns = None,
            _ => {}
        }
        a.updated_ns = now;
        let a = a.clone();
        Ok(alerts::item(&w, &a))
    }

    /// Every Alert Manager alert, dismissed ones included, as the API shows them.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        let mut w = self.world();
        w.sync();
        w.list_alerts()
            .iter()
            .map(|a| alerts::item(&w, a))
            .collect()
    }

    /// Changes run-time switches; returns the new configuration.
    pub fn configure(&self, patch: ConfigPatch) -> Result<SimConfig, SimError> {
        let mut w = self.world();
        w.config.apply(patch).map_err(SimError::Invalid)?;
        Ok(w.config.clone())
    }

    /// All routes: the Acronis API and `/_sim/`.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }
}

/// Serve on an already-bound listener until `shutdown` is cancelled.
pub async fn serve(
    sim: Simulator,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, sim.router())
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

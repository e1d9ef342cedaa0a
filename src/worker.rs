//! The worker assembled from a validated config and rule set: state store, API
//! client, poller, alert settings. One poll cycle at a time: re-evaluate everything if
//! the rules changed, choose the tenants (hourly list, backoff of failing ones), poll
//! them, run the deadlines due. `once`, `demo`, `digest` and `run` (`crate::runtime`)
//! drive it; it holds no command-line logic.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::acronis::client::Scope;
use crate::acronis::{AcronisClient, ApiError, WatchedTenant};
use crate::alerts::AlertSettings;
use crate::config::Config;
use crate::evaluate::{self, Summary};
use crate::model::{FiledTenant, TenantRecord};
use crate::poll::{PollSettings, Poller, TenantOutcome, tenants};
use crate::rules::RuleSet;
use crate::state::{StateError, Store};

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// One poll cycle's outcome.
#[derive(Debug, Default)]
pub struct CycleReport {
    pub outcomes: Vec<TenantOutcome>,
    /// The tenant list could not be read from the API (the stored list was used, if any).
    pub tenant_list_error: Option<ApiError>,
    /// The re-evaluation of every resource, when the rules or silences had changed.
    pub reindexed: Option<Summary>,
    /// What the due deadlines led to.
    pub deadlines: Summary,
    /// Re-indexing or the deadline tick failed.
    pub evaluation_error: Option<StateError>,
    /// Tenants not polled this cycle because they keep failing: (tenant, failures in
    /// a row, next attempt).
    pub backing_off: Vec<(String, u32, DateTime<Utc>)>,
}

impl CycleReport {
    /// Whether any part of the cycle failed.
    pub fn failed(&self) -> bool {
        self.tenant_list_error.is_some()
            || self.evaluation_error.is_some()
            || self.outcomes.iter().any(|(_, r)| r.is_err())
    }
}

/// How often the tenant list is read from the API (SPEC §3: hourly); between
/// reads, the list read last is polled.
const TENANT_LIST_EVERY: chrono::Duration = chrono::Duration::hours(1);
/// The longest a failing tenant waits between attempts (or `poll_every`, if longer).
const MAX_TENANT_BACKOFF: Duration = Duration::from_secs(3600);

/// A configured worker.
pub struct Worker {
    pub config: Config,
    pub store: Store,
    pub client: Arc<AcronisClient>,
    pub settings: AlertSettings,
    poller: Poller<AcronisClient>,
    /// The tenant list and when it was read (decision clock).
    tenant_list: Option<(DateTime<Utc>, Vec<WatchedTenant>)>,
    /// Tenants whose polls keep failing: failures in a row and the next attempt. One
    /// entry per watched tenant at most (pruned to the list each cycle).
    failing: HashMap<String, (u32, DateTime<Utc>)>,
    /// Disabled customers already logged as such.
    disabled_logged: std::sync::Mutex<HashSet<String>>,
}

impl Worker {
    /// Open the state directory and set up the client.
    pub fn open(config: Config, rules: RuleSet) -> Result<Worker, StartError> {
        let store = Store::open(&config.state.path, config.state.cache_mb)?;
        let client = Arc::new(AcronisClient::new(&config.acronis)?);
        // Attributes cost bytes on every item: asked for only while a rule or the
        // digests (agents offline, lowest CyberFit) use them.
        client.set_attributes(
            config.digest.is_some() || rules.iter().any(|r| r.condition.needs_attributes()),
        );
        let settings = PollSettings {
            overlap: config.acronis.overlap,
            full_resync_every: config.acronis.full_resync_every,
            max_concurrent_tenants: config.acronis.max_concurrent_tenants,
            resource_types: config.acronis.resource_types.clone(),
            incremental: config.acronis.incremental,
            first_page: (config.acronis.first_page_size < config.acronis.page_size)
                .then_some(config.acronis.first_page_size),
        };
        let poller = Poller::new(client.clone(), store.clone(), settings);
        let settings = AlertSettings::new(rules, &config).with_tenant_names(
            store
                .tenants()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|t| t.name.map(|n| (t.id, n))),
        );
        Ok(Worker {
            config,
            store,
            client,
            settings,
            poller,
            tenant_list: None,
            failing: HashMap::new(),
            disabled_logged: Default::default(),
        })
    }

    /// The tenants to watch at `now`: the list read within the hour, else from the
    /// API, else (with a warning) as last recorded.
    pub async fn tenants_at(
        &mut self,
        now: DateTime<Utc>,
    ) -> (Vec<WatchedTenant>, Option<ApiError>) {
        if let Some((at, list)) = &self.tenant_list
            && now >= *at
            && now - *at < TENANT_LIST_EVERY
        {
            return (list.clone(), None);
        }
        let (list, error) = self.tenants(now).await;
        if error.is_none() {
            self.tenant_list = Some((now, list.clone()));
        }
        (list, error)
    }

    /// The tenants to watch, from the API, else (with a warning) as last recorded.
    /// Tenants that left the list since it was last read are forgotten.
    pub async fn tenants(&self, now: DateTime<Utc>) -> (Vec<WatchedTenant>, Option<ApiError>) {
        match tenants::resolve(&self.client, &self.config).await {
            Ok(listing) => {
                self.note_disabled(&listing.disabled);
                let list = listing.watched.clone();
                // Base-token mode files machines under their own customers: those stay.
                let filed = self.filed_tenants();
                self.forget_departed(&list, &listing.disabled, &filed, now)
                    .await;
                let mut records = tenants::records(&listing);
                records.extend(tenants::filed_records(filed));
                if let Err(e) = self.store.put_tenants(&records) {
                    tracing::warn!("could not record the tenant list: {e}");
                }
                let keep: std::collections::HashSet<String> =
                    list.iter().map(|t| t.id.clone()).collect();
                self.client
                    .tokens()
                    .retain_scoped(|t| keep.contains(t))
                    .await;
                (list, None)
            }
            Err(e) => {
                let stored = self
                    .store
                    .tenants()
                    .map(|r| tenants::from_records(r, &self.config))
                    .unwrap_or_default();
                if stored.is_empty() {
                    tracing::error!("could not list tenants: {e}");
                } else {
                    tracing::warn!(
                        "could not list tenants, polling the {} recorded last time: {e}",
                        stored.len()
                    );
                }
                (stored, Some(e))
            }
        }
    }

    /// The tenants base-token polls file machines under, as their last polls recorded.
    pub fn filed_tenants(&self) -> Vec<FiledTenant> {
        let mut out: Vec<FiledTenant> = match self.store.tenant_polls() {
            Ok(polls) => polls.into_iter().flat_map(|(_, p)| p.filed).collect(),
            Err(e) => {
                tracing::warn!("could not read the tenants' poll records: {e}");
                Vec::new()
            }
        };
        out.sort();
        out.dedup_by(|a, b| a.id == b.id);
        out
    }

    /// Put the tenants base-token polls filed machines under into the directory (for
    /// `state tenants`, names and digests) as soon as a poll found them.
    fn record_filed(&self) {
        let mut records = match self.store.tenants() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("could not read the tenant directory: {e}");
                return;
            }
        };
        records.retain(|r| r.scope != TenantRecord::FILED);
        records.extend(tenants::filed_records(self.filed_tenants()));
        if let Err(e) = self.store.put_tenants(&records) {
            tracing::warn!("could not record the tenant list: {e}");
        }
    }

    /// Log each disabled customer once (per process) when it is first listed so.
    fn note_disabled(&self, disabled: &[WatchedTenant]) {
        let mut logged = self
            .disabled_logged
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        logged.retain(|id| disabled.iter().any(|t| &t.id == id));
        for t in disabled {
            if logged.insert(t.id.clone()) {
                tracing::info!(
                    tenant = %t.id,
                    name = t.name.as_deref().unwrap_or(""),
                    "customer is disabled (enabled: false): not polled until it is enabled again"
                );
            }
        }
    }

    /// Drop the stored data of tenants no longer in `list` (they left the API's list
    /// or worker.toml, or a reshard gave them to another replica), so their deadlines
    /// stop firing here. Their alerts end silently: notifying is their new owner's
    /// job. An empty list forgets nothing: more likely a glitch than every customer
    /// leaving at once.
    async fn forget_departed(
        &self,
        list: &[WatchedTenant],
        disabled: &[WatchedTenant],
        filed: &[FiledTenant],
        now: DateTime<Utc>,
    ) {
        if list.is_empty() && disabled.is_empty() {
            return;
        }
        let base = list.iter().any(|t| t.scope == Scope::Base);
        let keep: HashSet<&str> = list
            .iter()
            .map(|t| t.id.as_str())
            .chain(filed.iter().filter(|_| base).map(|f| f.id.as_str()))
            .collect();
        // A disabled customer's data goes once; after that it stays in the directory
        // (for `state tenants`) with nothing to forget.
        let polled = |t: &str| matches!(self.store.tenant_poll(t), Ok(Some(_)));
        let departed: Vec<String> = match self.store.known_tenants() {
            Ok(known) => known
                .into_iter()
                .filter(|t| !keep.contains(t.as_str()))
                .filter(|t| !disabled.iter().any(|d| &d.id == t) || polled(t))
                .collect(),
            Err(e) => {
                tracing::warn!("could not read the stored tenants: {e}");
                return;
            }
        };
        for tenant in departed {
            let id = tenant.clone();
            match self
                .blocking(move |store, settings| {
                    evaluate::forget_tenant(&store, &id, &settings, now)
                })
                .await
            {
                Ok(n) => tracing::info!(
                    tenant = %tenant,
                    resources = n,
                    "tenant no longer watched (left the list, or another shard owns it): its stored data is dropped and its alerts end without notifications"
                ),
                Err(e) => {
                    tracing::error!(tenant = %tenant, "could not drop a tenant no longer watched: {e}")
                }
            }
        }
    }

    /// One cycle at decision time `now`: re-evaluate everything if the rules changed,
    /// poll every watched tenant (each page evaluated as it is committed), then
    /// evaluate the resources whose deadlines are due.
    pub async fn poll_cycle(&mut self, now: DateTime<Utc>) -> CycleReport {
        let mut report = CycleReport::default();
        let reindex = self.blocking(move |store, settings| {
            let mut total = Summary::default();
            let ran = evaluate::recheck_all(&store, &settings, now, |done| total.add(&done))?;
            Ok(ran.then_some(total))
        });
        match reindex.await {
            Ok(Some(done)) if done.resources > 0 => {
                tracing::info!(
                    resources = done.resources,
                    fired = done.transitions.fired,
                    resolved = done.transitions.resolved,
                    "rules or silences changed: every resource re-evaluated"
                );
                report.reindexed = Some(done);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!("re-evaluation after a rule change failed: {e}");
                report.evaluation_error = Some(e);
            }
        }
        let (tenants, tenant_list_error) = self.tenants_at(now).await;
        report.tenant_list_error = tenant_list_error;
        let filed = self.filed_tenants();
        self.settings = self.settings.with_tenant_names(
            tenants
                .iter()
                .filter_map(|t| t.name.clone().map(|n| (t.id.clone(), n)))
                .chain(filed.into_iter().filter_map(|f| Some((f.id, f.name?)))),
        );
        // A tenant that keeps failing waits longer between attempts, so it never
        // slows the cycle of the others; /healthz names it meanwhile.
        let watched: HashSet<&str> = tenants.iter().map(|t| t.id.as_str()).collect();
        self.failing.retain(|id, _| watched.contains(id.as_str()));
        let (due, waiting): (Vec<WatchedTenant>, Vec<WatchedTenant>) =
            tenants.iter().cloned().partition(|t| {
                self.failing
                    .get(&t.id)
                    .is_none_or(|(_, retry_at)| *retry_at <= now)
            });
        report.backing_off = waiting
            .iter()
            .filter_map(|t| {
                let (n, at) = self.failing.get(&t.id)?;
                Some((t.id.clone(), *n, *at))
            })
            .collect();
        report.outcomes = self.poller.poll_all(&due, now, &self.settings).await;
        if due.iter().any(|t| t.scope == Scope::Base) {
            self.record_filed();
        }
        for (tenant, outcome) in &report.outcomes {
            match outcome {
                Ok(_) => {
                    if let Some((n, _)) = self.failing.remove(&tenant.id) {
                        tracing::info!(tenant = %tenant.id, failures = n, "tenant polled again after failures");
                    }
                }
                Err(e) => {
                    let n = self.failing.get(&tenant.id).map_or(1, |(n, _)| n + 1);
                    let wait = tenant_backoff(self.config.acronis.poll_every, n);
                    let retry_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    self.failing.insert(tenant.id.clone(), (n, retry_at));
                    if n > 1 {
                        tracing::error!(
                            tenant = %tenant.id,
                            failures = n,
                            retry_in_s = wait.as_secs(),
                            "tenant keeps failing; backing off: {e}"
                        );
                    }
                }
            }
        }
        match self.run_deadlines(now).await {
            Ok(done) => report.deadlines = done,
            Err(e) => {
                tracing::error!("evaluating due deadlines failed: {e}");
                report.evaluation_error.get_or_insert(e);
            }
        }
        report
    }

    /// Look at the resources whose deadlines are due at `now`.
    pub async fn run_deadlines(&self, now: DateTime<Utc>) -> Result<Summary, StateError> {
        self.blocking(move |store, settings| {
            let mut total = Summary::default();
            evaluate::run_deadlines(&store, &settings, now, |done| total.add(&done))?;
            Ok(total)
        })
        .await
    }

    /// Run store work on the blocking pool (sled calls block).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Store, AlertSettings) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let (store, settings) = (self.store.clone(), self.settings.clone());
        let path = self.store.path().to_path_buf();
        tokio::task::spawn_blocking(move || f(store, settings))
            .await
            .map_err(|e| StateError::Io {
                path,
                message: e.to_string(),
            })?
    }
}

/// How long a tenant waits after `failures` failed polls in a row: `poll_every`
/// after the first (the normal schedule), doubling after each further one, up to an
/// hour (or `poll_every`, if longer).
fn tenant_backoff(poll_every: Duration, failures: u32) -> Duration {
    let cap = MAX_TENANT_BACKOFF.max(poll_every);
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    poll_every.saturating_mul(factor).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_tenant_backs_off_doubling_up_to_an_hour() {
        let five = Duration::from_secs(300);
        let waits: Vec<u64> = (1..=7).map(|n| tenant_backoff(five, n).as_secs()).collect();
        assert_eq!(waits, [300, 600, 1200, 2400, 3600, 3600, 3600]);
        // A poll_every longer than the cap is kept.
        let day = Duration::from_secs(86_400);
        assert_eq!(tenant_backoff(day, 5), day);
        assert_eq!(tenant_backoff(five, u32::MAX).as_secs(), 3600);
    }
}

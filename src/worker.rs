//! The worker assembled from a validated config and rule set: state store, API
//! client, poller, evaluator. `once`, `demo` and (later) `run` drive it; it holds no
//! command-line logic.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::acronis::{AcronisClient, ApiError, WatchedTenant};
use crate::alerts::{self, Evaluator};
use crate::config::Config;
use crate::poll::{PollSettings, Poller, TenantOutcome, tenants};
use crate::rules::RuleSet;
use crate::state::{Evaluated, StateError, Store};

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
    pub reindexed: Option<Evaluated>,
    /// What the due deadlines led to.
    pub deadlines: Evaluated,
    /// Re-indexing or the deadline tick failed.
    pub evaluation_error: Option<StateError>,
}

impl CycleReport {
    /// Whether any part of the cycle failed.
    pub fn failed(&self) -> bool {
        self.tenant_list_error.is_some()
            || self.evaluation_error.is_some()
            || self.outcomes.iter().any(|(_, r)| r.is_err())
    }
}

/// A configured worker.
pub struct Worker {
    pub config: Config,
    pub store: Store,
    pub client: Arc<AcronisClient>,
    pub eval: Evaluator,
    poller: Poller<AcronisClient>,
}

impl Worker {
    /// Open the state directory and set up the client.
    pub fn open(config: Config, rules: RuleSet) -> Result<Worker, StartError> {
        let store = Store::open(&config.state.path, config.state.cache_mb)?;
        let client = Arc::new(AcronisClient::new(&config.acronis)?);
        let settings = PollSettings {
            overlap: config.acronis.overlap,
            full_resync_every: config.acronis.full_resync_every,
            max_concurrent_tenants: config.acronis.max_concurrent_tenants,
        };
        let poller = Poller::new(client.clone(), store.clone(), settings);
        let eval = Evaluator::new(rules, &config).with_tenant_names(
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
            eval,
            poller,
        })
    }

    /// The tenants to watch: from the API, else (with a warning) as last recorded.
    pub async fn tenants(&self) -> (Vec<WatchedTenant>, Option<ApiError>) {
        match tenants::resolve(&self.client, &self.config).await {
            Ok(list) => {
                if let Err(e) = self.store.put_tenants(&tenants::records(&list)) {
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

    /// One cycle at decision time `now`: re-evaluate everything if the rules changed,
    /// poll every watched tenant (each page evaluated as it is committed), then
    /// evaluate the resources whose deadlines are due.
    pub async fn poll_cycle(&mut self, now: DateTime<Utc>) -> CycleReport {
        let mut report = CycleReport::default();
        match self
            .blocking(move |store, eval| store.sync_evaluation(&eval, now))
            .await
        {
            Ok(Some(done)) if done.resources > 0 => {
                tracing::info!(
                    resources = done.resources,
                    alerts = done.alerts.len(),
                    "rules or silences changed: every resource re-evaluated"
                );
                alerts::log_transitions(&done.alerts, now);
                report.reindexed = Some(done);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!("re-evaluation after a rule change failed: {e}");
                report.evaluation_error = Some(e);
            }
        }
        let (tenants, tenant_list_error) = self.tenants().await;
        report.tenant_list_error = tenant_list_error;
        self.eval = self.eval.with_tenant_names(
            tenants
                .iter()
                .filter_map(|t| t.name.clone().map(|n| (t.id.clone(), n))),
        );
        report.outcomes = self.poller.poll_all(&tenants, now, &self.eval).await;
        for (_, outcome) in &report.outcomes {
            if let Ok(r) = outcome {
                alerts::log_transitions(&r.alerts, now);
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

    /// Evaluate the resources whose deadlines are due at `now`.
    pub async fn run_deadlines(&self, now: DateTime<Utc>) -> Result<Evaluated, StateError> {
        let done = self
            .blocking(move |store, eval| store.run_deadlines(&eval, now))
            .await?;
        alerts::log_transitions(&done.alerts, now);
        Ok(done)
    }

    /// Run store work on the blocking pool (sled calls block).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Store, Evaluator) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let (store, eval) = (self.store.clone(), self.eval.clone());
        let path = self.store.path().to_path_buf();
        tokio::task::spawn_blocking(move || f(store, eval))
            .await
            .map_err(|e| StateError::Io {
                path,
                message: e.to_string(),
            })?
    }
}

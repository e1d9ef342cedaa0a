//! The worker assembled from a validated config: state store, API client, poller.
//! `once`, `demo` and (later) `run` drive it; it holds no command-line logic.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::acronis::{AcronisClient, ApiError, WatchedTenant};
use crate::config::Config;
use crate::poll::{PollSettings, Poller, TenantOutcome, tenants};
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
}

impl CycleReport {
    /// Whether any part of the cycle failed.
    pub fn failed(&self) -> bool {
        self.tenant_list_error.is_some() || self.outcomes.iter().any(|(_, r)| r.is_err())
    }
}

/// A configured worker.
pub struct Worker {
    pub config: Config,
    pub store: Store,
    pub client: Arc<AcronisClient>,
    poller: Poller<AcronisClient>,
}

impl Worker {
    /// Open the state directory and set up the client.
    pub fn open(config: Config) -> Result<Worker, StartError> {
        let store = Store::open(&config.state.path, config.state.cache_mb)?;
        let client = Arc::new(AcronisClient::new(&config.acronis)?);
        let settings = PollSettings {
            overlap: config.acronis.overlap,
            full_resync_every: config.acronis.full_resync_every,
            max_concurrent_tenants: config.acronis.max_concurrent_tenants,
        };
        let poller = Poller::new(client.clone(), store.clone(), settings);
        Ok(Worker {
            config,
            store,
            client,
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

    /// Poll every watched tenant once, deciding by `now`.
    pub async fn poll_cycle(&self, now: DateTime<Utc>) -> CycleReport {
        let (tenants, tenant_list_error) = self.tenants().await;
        let outcomes = self.poller.poll_all(&tenants, now).await;
        CycleReport {
            outcomes,
            tenant_list_error,
        }
    }
}

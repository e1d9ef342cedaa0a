//! The poller: per tenant, an incremental poll that stops once it passes the stored
//! watermark minus `overlap`, or a full pass every `full_resync_every` that also finds
//! resources that vanished. Tenants run concurrently up to `max_concurrent_tenants`;
//! one failing never stops the others.
//!
//! Each page is committed before the next is fetched; the watermark moves only in the
//! commit of the poll's last page, so a poll cut short re-reads from the old watermark.
//!
//! Stage one of the pipeline (**poll** -> store -> evaluate -> ...): it reads pages
//! through a `StatusSource` and hands each to `crate::evaluate::commit_page`, which
//! stores it with its evaluation. It decides nothing about alerts and never calls
//! into delivery: it reports what changed.

mod source;
pub mod tenants;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
pub use source::StatusSource;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::acronis::client::{PageRequest, WatchedTenant, newest_update};
use crate::acronis::error::ApiError;
use crate::acronis::model::Timestamp;
use crate::alerts::{AlertSettings, Transitions};
use crate::config::resource_type;
use crate::evaluate::commit_page;
use crate::model::{PageCommit, StatusChange, StoredResource, TenantPoll};
use crate::state::{StateError, Store};

/// Most status changes a report keeps (the count goes on).
const MAX_REPORTED_CHANGES: usize = 1000;
/// A pass that returns more pages than this is broken (a cursor that never ends).
const MAX_PAGES: usize = 1_000_000;

/// Poller settings from `[acronis]`.
#[derive(Debug, Clone)]
pub struct PollSettings {
    pub overlap: Duration,
    pub full_resync_every: Duration,
    pub max_concurrent_tenants: usize,
    /// `resource_types`: what is stored; items of other types a page brings (the API
    /// cannot filter by a family) are passed over.
    pub resource_types: Vec<String>,
}

/// Why one tenant's poll failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("tenant {tenant}: the poll stopped after {pages} pages: {reason}")]
    Paging {
        tenant: String,
        pages: usize,
        reason: String,
    },
}

/// What one tenant's poll did.
#[derive(Debug, Clone, Default)]
pub struct TenantReport {
    pub tenant: String,
    pub full: bool,
    pub pages: usize,
    pub items: usize,
    pub stored: usize,
    /// Items of types `resource_types` does not watch, passed over.
    pub unwatched: usize,
    pub deleted: usize,
    /// Status changes of resources already known (capped at 1000; see `changes_total`).
    pub changes: Vec<StatusChange>,
    pub changes_total: usize,
    /// What the poll's evaluation did to alerts (each transition is logged as its
    /// page commits; the records are not kept: at a cold poll of a large fleet they
    /// were megabytes held through the whole cycle).
    pub transitions: Transitions,
    /// Outbox items it created.
    pub enqueued: usize,
    pub duration: Duration,
}

/// A tenant's poll outcome.
pub type TenantOutcome = (WatchedTenant, Result<TenantReport, PollError>);

/// Polls tenants into the store.
pub struct Poller<S> {
    source: Arc<S>,
    store: Store,
    settings: PollSettings,
}

impl<S: StatusSource + 'static> Poller<S> {
    pub fn new(source: Arc<S>, store: Store, settings: PollSettings) -> Poller<S> {
        Poller {
            source,
            store,
            settings,
        }
    }

    /// Poll every tenant (bounded concurrency) at decision time `now`, each page
    /// committed with its evaluation under `settings`.
    pub async fn poll_all(
        &self,
        tenants: &[WatchedTenant],
        now: DateTime<Utc>,
        settings: &AlertSettings,
    ) -> Vec<TenantOutcome> {
        let permits = Arc::new(Semaphore::new(self.settings.max_concurrent_tenants.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for (i, tenant) in tenants.iter().cloned().enumerate() {
            let permits = permits.clone();
            let job = TenantJob {
                source: self.source.clone(),
                store: self.store.clone(),
                settings: self.settings.clone(),
                alerts: settings.clone(),
            };
            set.spawn(async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let result = job.poll(&tenant, now).await;
                (i, tenant, result)
            });
        }
        let mut out = Vec::with_capacity(tenants.len());
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(done) => out.push(done),
                Err(e) => tracing::error!("a tenant poll task failed: {e}"),
            }
        }
        out.sort_by_key(|(i, _, _)| *i);
        out.into_iter().map(|(_, t, r)| (t, r)).collect()
    }
}

struct TenantJob<S> {
    source: Arc<S>,
    store: Store,
    settings: PollSettings,
    alerts: AlertSettings,
}

impl<S: StatusSource + 'static> TenantJob<S> {
    async fn poll(
        &self,
        tenant: &WatchedTenant,
        now: DateTime<Utc>,
    ) -> Result<TenantReport, PollError> {
        let started = std::time::Instant::now();
        let span = tracing::info_span!("poll", tenant = %tenant.id);
        let result = self.run(tenant, now).instrument(span).await;
        let elapsed = started.elapsed();
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!(crate::telemetry::POLLS, "tenant" => tenant.id.clone(), "result" => outcome)
            .increment(1);
        metrics::histogram!(crate::telemetry::POLL_DURATION).record(elapsed.as_secs_f64());
        match &result {
            Ok(r) => tracing::info!(
                tenant = %tenant.id,
                full = r.full,
                pages = r.pages,
                items = r.items,
                stored = r.stored,
                unwatched = r.unwatched,
                deleted = r.deleted,
                changes = r.changes_total,
                ms = elapsed.as_millis() as u64,
                "poll ok"
            ),
            Err(e) => {
                tracing::error!(tenant = %tenant.id, ms = elapsed.as_millis() as u64, "poll failed: {e}")
            }
        }
        result.map(|mut r| {
            r.duration = elapsed;
            r
        })
    }

    async fn run(
        &self,
        tenant: &WatchedTenant,
        now: DateTime<Utc>,
    ) -> Result<TenantReport, PollError> {
        let now_ts = Timestamp(now);
        let resync_due = |p: &TenantPoll| {
            (now - p.last_full_resync.0)
                .to_std()
                .is_ok_and(|age| age >= self.settings.full_resync_every)
        };
        // The previous poll, when this one may be incremental.
        let incremental_from = self
            .store
            .tenant_poll(&tenant.id)?
            .filter(|p| !resync_due(p));
        let mut report = TenantReport {
            tenant: tenant.id.clone(),
            full: incremental_from.is_none(),
            ..Default::default()
        };
        match incremental_from {
            Some(prev) => {
                let finish = Finish {
                    sweep_epoch: None,
                    last_full_resync: prev.last_full_resync,
                    now: now_ts,
                };
                let pass = Pass {
                    stop_before: Some(self.behind(prev.watermark)),
                    include_deleted: true,
                    epoch: 0,
                };
                self.pass(tenant, pass, Some(finish), now_ts, &mut report)
                    .await?;
            }
            None => {
                // A full pass, then a catch-up from its start: a resource updated while the
                // pass paged moved ahead of the cursor, and must not look deleted.
                let epoch = now_ts.as_nanos();
                let full = Pass {
                    stop_before: None,
                    include_deleted: false,
                    epoch,
                };
                let started = self.pass(tenant, full, None, now_ts, &mut report).await?;
                let catch_up = Pass {
                    stop_before: Some(self.behind(started)),
                    include_deleted: true,
                    epoch,
                };
                let finish = Finish {
                    sweep_epoch: Some(epoch),
                    last_full_resync: now_ts,
                    now: now_ts,
                };
                self.pass(tenant, catch_up, Some(finish), now_ts, &mut report)
                    .await?;
            }
        }
        Ok(report)
    }

    /// What a full pass did not see is looked up by id before it is forgotten: a pass
    /// that ended early (an empty page or a missing cursor too soon) must not make live
    /// resources look deleted. Returns the ones the API still has (to store again) and
    /// the ids that are gone. A lookup that fails deletes nothing and fails nothing:
    /// what it could not confirm is kept until a later full pass.
    async fn confirm_gone(
        &self,
        tenant: &WatchedTenant,
        unseen: Vec<String>,
        epoch: i64,
    ) -> (Vec<StoredResource>, Vec<String>) {
        if unseen.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let found = match self.source.lookup(tenant, &unseen).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(
                    unconfirmed = unseen.len(),
                    "could not look up the resources the full pass did not list; they are \
                     kept until a later full pass: {e}"
                );
                return (Vec::new(), Vec::new());
            }
        };
        let wanted: HashSet<&str> = unseen.iter().map(String::as_str).collect();
        let mut alive = Vec::new();
        for item in found {
            // A resource of a type no longer watched (resource_types changed) is
            // forgotten like a deleted one.
            if item.context.deleted_at.is_none()
                && wanted.contains(item.context.id.as_str())
                && self.watches(item.context.kind.as_deref())
            {
                alive.push(StoredResource::from_api(&tenant.id, item, epoch));
            }
        }
        if !alive.is_empty() {
            tracing::warn!(
                missed = alive.len(),
                "the full pass did not list resources the API still has; kept"
            );
        }
        let kept: HashSet<&str> = alive.iter().map(|r| r.id.as_str()).collect();
        let gone = unseen
            .iter()
            .filter(|id| !kept.contains(id.as_str()))
            .cloned()
            .collect();
        (alive, gone)
    }

    /// Whether `resource_types` watches a resource of type `kind` (one without a type
    /// is kept: nothing says it is not a machine).
    fn watches(&self, kind: Option<&str>) -> bool {
        kind.is_none_or(|k| resource_type::any_matches(&self.settings.resource_types, k))
    }

    /// `t` minus the overlap: where an incremental pass may stop.
    fn behind(&self, t: Timestamp) -> DateTime<Utc> {
        t.0 - chrono::Duration::from_std(self.settings.overlap).unwrap_or_default()
    }

    /// Page newest-first until the end, or until an item older than `stop_before`.
    /// Every page is committed before the next is fetched; `finish`, if given, rides on
    /// the last page's commit. Returns the pass's watermark (server time of page 1).
    async fn pass(
        &self,
        tenant: &WatchedTenant,
        Pass {
            stop_before,
            include_deleted,
            epoch,
        }: Pass,
        finish: Option<Finish>,
        now: Timestamp,
        report: &mut TenantReport,
    ) -> Result<Timestamp, PollError> {
        let mut watermark: Option<Timestamp> = None;
        let mut cursor: Option<String> = None;
        let mut cursors_seen = HashSet::new();
        let mut progress = Progress::default();
        let mut pages = 0;
        loop {
            let page = self
                .source
                .page(
                    tenant,
                    PageRequest {
                        after: cursor.as_deref(),
                        include_deleted,
                    },
                )
                .await?;
            pages += 1;
            report.pages += 1;
            tracing::debug!(page = pages, items = page.items.len(), "page fetched");
            let page_watermark = *watermark.get_or_insert_with(|| {
                page.timestamp
                    .or_else(|| newest_update(&page))
                    .unwrap_or(now)
            });
            if let Some(reason) = progress.check(&page.items) {
                return Err(PollError::Paging {
                    tenant: tenant.id.clone(),
                    pages,
                    reason,
                });
            }
            let next = page.next_cursor().map(str::to_string);
            let empty = page.items.is_empty();
            let mut commit = PageCommit {
                tenant: tenant.id.clone(),
                ..Default::default()
            };
            let mut passed_watermark = false;
            for item in page.items {
                report.items += 1;
                if let (Some(stop), Some(updated)) = (stop_before, item.context.updated_at)
                    && updated.0 < stop
                {
                    passed_watermark = true;
                    break;
                }
                if !self.watches(item.context.kind.as_deref()) {
                    report.unwatched += 1;
                } else if item.context.deleted_at.is_some() {
                    commit.deletes.push(item.context.id);
                } else {
                    commit
                        .upserts
                        .push(StoredResource::from_api(&tenant.id, item, epoch));
                }
            }
            let last = passed_watermark || empty || next.is_none();
            if let (false, Some(next)) = (last, next.as_deref()) {
                let reason = if !cursors_seen.insert(next.to_string()) {
                    Some(
                        "the API returned a cursor it had already returned (a paging loop)"
                            .to_string(),
                    )
                } else if pages >= MAX_PAGES {
                    Some(format!("more than {MAX_PAGES} pages in one pass"))
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Err(PollError::Paging {
                        tenant: tenant.id.clone(),
                        pages,
                        reason,
                    });
                }
            }
            report.stored += commit.upserts.len();
            if let (true, Some(f)) = (last, &finish) {
                if let Some(sweep) = f.sweep_epoch {
                    let in_this_page: HashSet<&str> =
                        commit.upserts.iter().map(|r| r.id.as_str()).collect();
                    let unseen: Vec<String> = self
                        .store
                        .unseen_since(&tenant.id, sweep)?
                        .into_iter()
                        .filter(|id| !in_this_page.contains(id.as_str()))
                        .collect();
                    let (alive, gone) = self.confirm_gone(tenant, unseen, epoch).await;
                    commit.upserts.extend(alive);
                    commit.deletes.extend(gone);
                }
                commit.poll = Some(TenantPoll {
                    watermark: page_watermark,
                    last_full_resync: f.last_full_resync,
                    last_poll: f.now,
                });
            }
            let store = self.store.clone();
            let settings = self.alerts.clone();
            let decided = now.0;
            let done = tokio::task::spawn_blocking(move || {
                commit_page(&store, &commit, &settings, decided)
            })
            .await
            .map_err(|e| StateError::Io {
                path: self.store.path().to_path_buf(),
                message: e.to_string(),
            })??;
            tracing::debug!(
                page = pages,
                changes = done.changes.len(),
                enqueued = done.enqueued,
                "page committed"
            );
            report.deleted += done.changes.iter().filter(|c| c.to.is_none()).count();
            report.changes_total += done.changes.len();
            report.enqueued += done.enqueued;
            let room = MAX_REPORTED_CHANGES.saturating_sub(report.changes.len());
            report.changes.extend(done.changes.into_iter().take(room));
            report.transitions += done.transitions;
            if last {
                return Ok(page_watermark);
            }
            cursor = next;
        }
    }
}

/// What a newest-first pass has served so far, to tell a cursor that leads back to
/// where the pass has been (a paging loop with fresh cursors) from one that moves on:
/// no item may be newer than an item of an earlier page, and a page may not consist
/// only of items of the page before it. Some repeats are allowed: were the API's
/// cursors offsets, a resource updated mid-pass would shift the next page back by one.
/// A repeated item is stored again, which changes nothing.
#[derive(Default)]
struct Progress {
    /// The oldest `updated_at` of the earlier pages.
    oldest: Option<DateTime<Utc>>,
    /// Ids of the page before.
    previous: HashSet<String>,
}

impl Progress {
    fn check(&mut self, items: &[crate::acronis::model::ResourceStatus]) -> Option<String> {
        for item in items {
            let c = &item.context;
            if let (Some(oldest), Some(updated)) = (self.oldest, c.updated_at)
                && updated.0 > oldest
            {
                return Some(format!(
                    "the API went back: resource {} (updated {}) is newer than items of \
                     earlier pages (a cursor that never ends?)",
                    c.id,
                    updated
                        .0
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ));
            }
        }
        if !items.is_empty() && items.iter().all(|i| self.previous.contains(&i.context.id)) {
            return Some(format!(
                "the API served the {} resources of the page before again (a cursor that \
                 never ends?)",
                items.len()
            ));
        }
        self.previous = items.iter().map(|i| i.context.id.clone()).collect();
        let page_oldest = items.iter().filter_map(|i| i.context.updated_at).min();
        self.oldest = match (self.oldest, page_oldest) {
            (Some(a), Some(b)) => Some(a.min(b.0)),
            (a, b) => a.or(b.map(|t| t.0)),
        };
        None
    }
}

/// How one pass pages.
struct Pass {
    /// Stop at the first item updated before this (incremental); None reads to the end.
    stop_before: Option<DateTime<Utc>>,
    include_deleted: bool,
    /// Written into every record (full passes); 0 for incremental ones.
    epoch: i64,
}

/// What the last page of a poll commits besides its items.
#[derive(Clone, Copy)]
struct Finish {
    /// For a full pass: delete resources whose epoch is older than this.
    sweep_epoch: Option<i64>,
    last_full_resync: Timestamp,
    now: Timestamp,
}

#[cfg(test)]
mod tests;

//! The poller: per tenant, an incremental poll that stops once it passes the stored
//! watermark minus `overlap`, or a full pass every `full_resync_every` that also finds
//! resources that vanished. Tenants run concurrently up to `max_concurrent_tenants`;
//! one failing never stops the others.
//!
//! A full pass checks the incremental passes before it (`incremental`): a resource
//! whose status or policy times changed although its `updated_at` was within their
//! reach is a *miss* (acronis-api.md §4.4: that a status change moves `updated_at` is
//! unconfirmed). Misses are counted, logged and stored per tenant; under `auto` a
//! tenant with a miss is polled with full passes from then on. A full pass writes only
//! what changed, and finds deletions by the ids it saw, so an unchanged fleet costs a
//! read, not a rewrite.
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
pub use source::StatusSource;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::acronis::client::{AlertRequest, PageRequest, Scope, WatchedTenant, newest_update};
use crate::acronis::error::ApiError;
use crate::acronis::model::{PlatformAlert, ResourceStatus, Timestamp};
use crate::alerts::{AlertSettings, Transitions};
use crate::config::{Incremental, resource_type};
use crate::evaluate::{PlatformRead, commit_known, commit_page, commit_platform};
use crate::model::{
    FiledTenant, Miss, MissCheck, PageCommit, PollMode, StatusChange, StoredResource, TenantPoll,
};
use crate::state::{Fingerprints, StateError, Store};

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
    pub incremental: Incremental,
    /// The `limit` of the first page of a pass that stops at a watermark (an
    /// incremental poll, a full pass's catch-up), when smaller than `page_size`:
    /// most such passes need a few items, and the rest come in full pages.
    pub first_page: Option<u32>,
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
    /// Resource records written: new or changed (a full pass of an unchanged fleet
    /// writes none).
    pub written: usize,
    /// Items of types `resource_types` does not watch, passed over.
    pub unwatched: usize,
    pub deleted: usize,
    /// Changes this full pass found that the incremental passes before it missed.
    pub misses: usize,
    pub first_miss: Option<Miss>,
    /// The tenant's poll mode after this poll.
    pub mode: PollMode,
    /// Base-token mode: the tenants this poll filed machines under, with their names.
    pub filed: BTreeMap<String, Option<String>>,
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
    /// Alert Manager (platform rules only): the alerts read, and why the read failed
    /// (it never fails the tenant's poll).
    pub platform_alerts: Option<usize>,
    pub platform_error: Option<String>,
    /// Items whose `context.attributes` could not be read whole (read as far as they
    /// go), and the first of them.
    pub malformed_attributes: usize,
    pub first_malformed: Option<String>,
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
        if let Ok(r) = &result {
            // Incremented by zero too: the series shows every tenant polled.
            metrics::counter!(crate::telemetry::INCREMENTAL_MISSES, "tenant" => tenant.id.clone())
                .increment(r.misses as u64);
        }
        match &result {
            Ok(r) => tracing::info!(
                tenant = %tenant.id,
                full = r.full,
                pages = r.pages,
                items = r.items,
                stored = r.stored,
                written = r.written,
                unwatched = r.unwatched,
                deleted = r.deleted,
                changes = r.changes_total,
                misses = r.misses,
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
        let incremental = self.settings.incremental;
        let prev = self.store.tenant_poll(&tenant.id)?;
        let full_due = |p: &TenantPoll| {
            let resync_due = (now - p.last_full_resync.0)
                .to_std()
                .is_ok_and(|age| age >= self.settings.full_resync_every);
            resync_due
                || incremental == Incremental::Never
                || (incremental == Incremental::Auto && p.mode == PollMode::Full)
        };
        let mode = match (incremental, &prev) {
            (Incremental::Auto, Some(p)) => p.mode,
            _ => PollMode::Incremental,
        };
        let mut report = TenantReport {
            tenant: tenant.id.clone(),
            full: prev.as_ref().is_none_or(full_due),
            mode,
            ..Default::default()
        };
        let bookkeeping = |last_full_resync| TenantPoll {
            watermark: now_ts,
            last_full_resync,
            last_poll: now_ts,
            mode,
            incremental_misses: prev.as_ref().map_or(0, |p| p.incremental_misses),
            filed: prev.as_ref().map_or_else(Vec::new, |p| p.filed.clone()),
        };
        match prev.as_ref().filter(|p| !full_due(p)) {
            Some(prev) => {
                let pass = Pass {
                    stop_before: Some(self.behind(prev.watermark)),
                    include_deleted: true,
                    check: None,
                    known: None,
                };
                let finish = bookkeeping(prev.last_full_resync);
                self.pass(tenant, pass, Some(finish), now_ts, &mut report, None)
                    .await?;
            }
            None => {
                // The incremental passes since the previous full pass, if there were
                // any and they are to be checked: a change to a resource updated before
                // the last one's watermark (minus the overlap) was theirs to find.
                let check = prev
                    .as_ref()
                    .filter(|p| p.mode == PollMode::Incremental && p.last_poll > p.last_full_resync)
                    .filter(|_| incremental != Incremental::Never)
                    .map(|p| MissCheck {
                        covered_before: Timestamp(self.behind(p.watermark)),
                        full_on_miss: incremental == Incremental::Auto,
                    });
                // A full pass, then a catch-up from its start: a resource updated while
                // the pass paged moved ahead of the cursor, and must not look deleted.
                let mut sweep = Sweep::default();
                let known = self.fingerprints(tenant, prev.as_ref()).await?;
                let full = Pass {
                    stop_before: None,
                    include_deleted: false,
                    check,
                    known: Some(known.clone()),
                };
                let started = self
                    .pass(tenant, full, None, now_ts, &mut report, Some(&mut sweep))
                    .await?;
                let catch_up = Pass {
                    stop_before: Some(self.behind(started)),
                    include_deleted: true,
                    check,
                    known: Some(known),
                };
                let finish = bookkeeping(now_ts);
                self.pass(
                    tenant,
                    catch_up,
                    Some(finish),
                    now_ts,
                    &mut report,
                    Some(&mut sweep),
                )
                .await?;
            }
        }
        if report.misses > 0 {
            let example = report.first_miss.as_ref().map_or(String::new(), |m| {
                format!(
                    "; for example {} ({}): {}, updated_at {}",
                    m.name,
                    m.id,
                    m.what,
                    m.updated_at.map_or("none".to_string(), |t| {
                        t.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                    })
                )
            });
            let then = match (incremental, report.mode) {
                (Incremental::Auto, PollMode::Full) => {
                    "this tenant is polled with full passes from now on (see docs/operations.md \
                     to go back)"
                }
                _ => "incremental polls go on (incremental = \"always\")",
            };
            tracing::warn!(
                tenant = %tenant.id,
                misses = report.misses,
                "the full pass found {} change(s) the incremental polls missed: their \
                 updated_at did not move{example}; {then}",
                report.misses
            );
        }
        if let Some(first) = &report.first_malformed {
            tracing::warn!(
                tenant = %tenant.id,
                items = report.malformed_attributes,
                "resource attributes read only in part (agent and CyberFit conditions see \
                 what could be read); for example {first}"
            );
        }
        if self.alerts.rules.iter().any(|r| r.condition.is_platform()) {
            let full = report.full;
            match self.platform(tenant, now, full, &mut report).await {
                Ok(n) => report.platform_alerts = Some(n),
                Err(e) => {
                    // The resources are committed: their poll stands.
                    tracing::warn!(
                        tenant = %tenant.id,
                        "Alert Manager read failed; the platform alerts are read again at \
                         the next poll: {e}"
                    );
                    metrics::counter!(crate::telemetry::PLATFORM_FAILURES, "tenant" => tenant.id.clone())
                        .increment(1);
                    report.platform_error = Some(e.to_string());
                }
            }
        }
        Ok(report)
    }

    /// Read the tenant's Alert Manager alerts and commit them with their evaluation:
    /// incrementally (`updated_at=gt(watermark - overlap)`, dismissed ones included)
    /// after a first complete listing, and a complete listing of the open alerts with
    /// each full pass (a stored alert it lacks was dismissed). Returns the alerts read.
    async fn platform(
        &self,
        tenant: &WatchedTenant,
        now: DateTime<Utc>,
        full: bool,
        report: &mut TenantReport,
    ) -> Result<usize, PollError> {
        let id = tenant.id.clone();
        let prev = self.blocking(move |s| s.platform_watermark(&id)).await?;
        let complete = full || prev.is_none();
        let overlap = i64::try_from(self.settings.overlap.as_nanos()).unwrap_or(i64::MAX);
        let updated_after = prev
            .filter(|_| !complete)
            .map(|w| w.saturating_sub(overlap));
        let mut alerts: Vec<PlatformAlert> = Vec::new();
        let mut malformed = 0usize;
        let mut first_bad: Option<String> = None;
        let mut after: Option<String> = None;
        let mut cursors = HashSet::new();
        let mut pages = 0usize;
        loop {
            let req = AlertRequest {
                updated_after,
                show_deleted: !complete,
                after: after.as_deref(),
            };
            let page = self.source.alert_page(tenant, req).await?;
            pages += 1;
            for item in &page.items {
                match PlatformAlert::from_json(item) {
                    Ok(a) => alerts.push(a),
                    Err(e) => {
                        malformed += 1;
                        first_bad.get_or_insert(e);
                    }
                }
            }
            match page.paging.cursors.after.filter(|a| !a.is_empty()) {
                Some(next) if !page.items.is_empty() => {
                    if !cursors.insert(next.clone()) || pages >= MAX_PAGES {
                        return Err(PollError::Paging {
                            tenant: tenant.id.clone(),
                            pages,
                            reason: "Alert Manager returned a cursor it had already returned \
                                     (a paging loop)"
                                .to_string(),
                        });
                    }
                    after = Some(next);
                }
                _ => break,
            }
        }
        if let Some(first) = first_bad {
            tracing::warn!(
                tenant = %tenant.id,
                malformed,
                "Alert Manager items passed over (the rest are read): {first}"
            );
        }
        // A listing can bring an alert twice (it moved between pages): the later copy.
        let mut seen = HashSet::new();
        alerts.reverse();
        alerts.retain(|a| seen.insert(a.id.clone()));
        alerts.reverse();
        let newest = alerts
            .iter()
            .filter_map(|a| a.updated_at.and_then(|t| t.timestamp_nanos_opt()))
            .max();
        let read = PlatformRead {
            tenant: tenant.id.clone(),
            complete,
            // Never backwards, and from the server's times only (the worker's clock may
            // differ from the datacenter's).
            watermark: newest.max(prev),
            alerts,
        };
        let n = read.alerts.len();
        let settings = self.alerts.clone();
        let done = self
            .blocking(move |s| commit_platform(&s, &read, &settings, now))
            .await?;
        report.transitions += done.transitions;
        report.enqueued += done.enqueued;
        tracing::debug!(tenant = %tenant.id, complete, pages, alerts = n, "Alert Manager read");
        Ok(n)
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
        report: &mut TenantReport,
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
                let filed = self.file(tenant, &item, report);
                alive.push(StoredResource::from_api(&filed, item));
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
    /// Every page is committed before the next is fetched; `finish`, the tenant's poll
    /// bookkeeping, rides on the last page's commit (with this pass's watermark). With
    /// `sweep`, the ids read are noted, and with `finish` too, the stored resources the
    /// sweep did not see are looked up and the vanished ones deleted in that commit.
    /// Returns the pass's watermark (server time of page 1).
    async fn pass(
        &self,
        tenant: &WatchedTenant,
        Pass {
            stop_before,
            include_deleted,
            check,
            known,
        }: Pass,
        finish: Option<TenantPoll>,
        now: Timestamp,
        report: &mut TenantReport,
        mut sweep: Option<&mut Sweep>,
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
                        limit: self
                            .settings
                            .first_page
                            .filter(|_| pages == 0 && stop_before.is_some()),
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
            // One commit per tenant the page's machines are filed under (just the
            // polled tenant, unless the poll is at the base token's scope).
            let mut commits: BTreeMap<String, PageCommit> = BTreeMap::new();
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
                    continue;
                }
                if let Some(sweep) = sweep.as_deref_mut() {
                    sweep.see(&item.context.id);
                }
                let filed = self.file(tenant, &item, report);
                if item.context.deleted_at.is_some() {
                    commit_of(&mut commits, &filed, check)
                        .deletes
                        .push(item.context.id);
                } else {
                    report.stored += 1;
                    if let Some(what) = item.context.attributes.malformed {
                        report.malformed_attributes += 1;
                        report
                            .first_malformed
                            .get_or_insert_with(|| format!("{} ({what})", item.context.id));
                    }
                    let r = StoredResource::from_api(&filed, item);
                    commit_of(&mut commits, &filed, check).upserts.push(r);
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
            let finishing = finish.as_ref().filter(|_| last);
            if let (Some(poll), Some(sweep)) = (finishing, sweep.as_deref()) {
                // Every tenant this poll files under: as stored, and as just read.
                let mut filed: Vec<String> = poll.filed.iter().map(|f| f.id.clone()).collect();
                filed.extend(report.filed.keys().cloned());
                filed.push(tenant.id.clone());
                filed.sort();
                filed.dedup();
                let mut unseen = Vec::new();
                let mut home = HashMap::new();
                for t in &filed {
                    for id in self.store.resource_ids(t)? {
                        if !sweep.saw(&id) {
                            home.insert(id.clone(), t.clone());
                            unseen.push(id);
                        }
                    }
                }
                let (alive, gone) = self.confirm_gone(tenant, unseen, report).await;
                for r in alive {
                    commit_of(&mut commits, &r.tenant_id.clone(), check)
                        .upserts
                        .push(r);
                }
                for id in gone {
                    let t = home.get(&id).cloned().unwrap_or_else(|| tenant.id.clone());
                    commit_of(&mut commits, &t, check).deletes.push(id);
                }
            }
            if finishing.is_some() || commits.is_empty() {
                // The bookkeeping rides on the last commit; a page with nothing to
                // store still commits it.
                commit_of(&mut commits, &tenant.id, check);
            }
            let count = commits.len();
            for (i, (_, mut commit)) in commits.into_iter().enumerate() {
                if let (true, Some(poll)) = (i + 1 == count, finishing) {
                    let mut filed: Vec<FiledTenant> = report
                        .filed
                        .iter()
                        .map(|(id, name)| FiledTenant {
                            id: id.clone(),
                            name: name.clone(),
                        })
                        .collect();
                    if report.full {
                        filed.retain(|f| f.id != tenant.id);
                    } else {
                        // An incremental poll sees some of them: keep the others.
                        for f in &poll.filed {
                            if !report.filed.contains_key(&f.id) {
                                filed.push(f.clone());
                            }
                        }
                        filed.retain(|f| f.id != tenant.id);
                        filed.sort();
                    }
                    commit.poll = Some(TenantPoll {
                        watermark: page_watermark,
                        // Misses of this commit are added in it.
                        incremental_misses: poll.incremental_misses + report.misses as u64,
                        mode: report.mode,
                        filed,
                        ..poll.clone()
                    });
                    commit.poll_tenant = Some(tenant.id.clone());
                }
                self.commit(commit, now, check, known.clone(), report)
                    .await?;
            }
            tracing::debug!(page = pages, "page committed");
            if last {
                return Ok(page_watermark);
            }
            cursor = next;
        }
    }

    /// What is stored under `tenant` (and the tenants its base-token poll files
    /// under), read once before a full pass.
    async fn fingerprints(
        &self,
        tenant: &WatchedTenant,
        prev: Option<&TenantPoll>,
    ) -> Result<Arc<Fingerprints>, PollError> {
        let mut tenants = vec![tenant.id.clone()];
        tenants.extend(
            prev.iter()
                .flat_map(|p| p.filed.iter().map(|f| f.id.clone())),
        );
        let known = self
            .blocking(move |store| store.fingerprints(&tenants))
            .await?;
        Ok(Arc::new(known))
    }

    /// Run store work on the blocking pool (sled calls block).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Store) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store))
            .await
            .map_err(|e| StateError::Io {
                path: self.store.path().to_path_buf(),
                message: e.to_string(),
            })?
    }

    /// The tenant an item is filed under: the polled tenant, or at the base token's
    /// scope (no `tenants` key: one poll of every customer) the item's own
    /// `context.tenant_id`, whose name (`context.tenant_name`) is noted in `report`.
    fn file(
        &self,
        tenant: &WatchedTenant,
        item: &ResourceStatus,
        report: &mut TenantReport,
    ) -> String {
        if tenant.scope != Scope::Base {
            return tenant.id.clone();
        }
        let Some(own) = item
            .context
            .tenant_id
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        else {
            return tenant.id.clone();
        };
        if !report.filed.contains_key(own) || item.context.tenant_name.is_some() {
            report
                .filed
                .insert(own.to_string(), item.context.tenant_name.clone());
        }
        own.to_string()
    }

    /// Commit one tenant's share of a page with its evaluation, and add what it did to
    /// `report`.
    async fn commit(
        &self,
        commit: PageCommit,
        now: Timestamp,
        check: Option<MissCheck>,
        known: Option<Arc<Fingerprints>>,
        report: &mut TenantReport,
    ) -> Result<(), PollError> {
        let settings = self.alerts.clone();
        let decided = now.0;
        let done = self
            .blocking(move |store| match known {
                Some(known) => commit_known(&store, &commit, &known, &settings, decided),
                None => commit_page(&store, &commit, &settings, decided),
            })
            .await?;
        report.deleted += done.changes.iter().filter(|c| c.to.is_none()).count();
        report.written += done.written;
        if done.misses > 0 {
            report.misses += done.misses;
            if report.first_miss.is_none() {
                report.first_miss = done.first_miss;
            }
            if check.is_some_and(|c| c.full_on_miss) {
                report.mode = PollMode::Full;
            }
        }
        report.changes_total += done.changes.len();
        report.enqueued += done.enqueued;
        let room = MAX_REPORTED_CHANGES.saturating_sub(report.changes.len());
        report.changes.extend(done.changes.into_iter().take(room));
        report.transitions += done.transitions;
        Ok(())
    }
}

/// The commit of `filed`'s share of a page, made on first use.
fn commit_of<'m>(
    commits: &'m mut BTreeMap<String, PageCommit>,
    filed: &str,
    check: Option<MissCheck>,
) -> &'m mut PageCommit {
    commits
        .entry(filed.to_string())
        .or_insert_with(|| PageCommit {
            tenant: filed.to_string(),
            check,
            ..Default::default()
        })
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
    /// A full pass checking the incremental passes before it.
    check: Option<MissCheck>,
    /// A full pass: what is stored, to pass over what it reads unchanged.
    known: Option<Arc<Fingerprints>>,
}

/// The ids a full pass (and its catch-up) read, to find the stored resources it did
/// not: 8 bytes an id (a hash; 100,000 ids hold about 2 MiB). Two ids with one hash
/// would keep a deleted resource until the next full pass, whose hash differs.
#[derive(Default)]
struct Sweep {
    hasher: RandomState,
    seen: HashSet<u64>,
}

impl Sweep {
    fn see(&mut self, id: &str) {
        self.seen.insert(self.hasher.hash_one(id));
    }

    fn saw(&self, id: &str) -> bool {
        self.seen.contains(&self.hasher.hash_one(id))
    }
}

#[cfg(test)]
mod tests;

//! `[server]`: `GET /metrics` (Prometheus text) and `GET /healthz`, for `run`.
//!
//! The metrics of SPEC §9 are recorded where things happen (the poller, the outbox
//! worker) through the `metrics` facade; this module installs the Prometheus recorder,
//! sets the gauges that are counts of stored state at each scrape (from the counts
//! the state keeps, never a scan of the fleet), and serves both endpoints. It reads
//! the state; it never writes it, and no stage calls it (metric names are
//! `crate::telemetry`'s).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::state::{StateError, Store};
use crate::telemetry as names;

/// Install the Prometheus recorder (once per process).
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(names::POLL_DURATION.to_string()),
            &[
                0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
            ],
        )
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))
}

/// The gauges that describe stored state: resources by status, firing alerts by rule
/// and severity, outbox depth, dead letters. A label set shown before and counted no
/// more (the last critical machine recovered) is set to 0, not left at its old value.
#[derive(Default)]
pub struct Gauges {
    statuses: BTreeSet<String>,
    firing: BTreeSet<(String, String)>,
}

impl Gauges {
    /// Set every gauge from the state's counts.
    pub fn refresh(&mut self, store: &Store) -> Result<(), StateError> {
        let counts = store.counts()?;
        self.statuses.extend(counts.resources.keys().cloned());
        for status in &self.statuses {
            let n = counts.resources.get(status).copied().unwrap_or(0);
            metrics::gauge!(names::RESOURCES, "status" => status.clone()).set(n as f64);
        }
        for (rule, by_severity) in &counts.firing {
            for severity in by_severity.keys() {
                self.firing.insert((rule.clone(), severity.clone()));
            }
        }
        for (rule, severity) in &self.firing {
            let n = counts
                .firing
                .get(rule)
                .and_then(|s| s.get(severity))
                .copied()
                .unwrap_or(0);
            metrics::gauge!(names::ALERTS_FIRING, "rule" => rule.clone(), "severity" => severity.clone())
                .set(n as f64);
        }
        metrics::gauge!(names::OUTBOX_DEPTH).set(store.outbox_len() as f64);
        metrics::gauge!(names::DEAD_LETTERS).set(store.dead_len() as f64);
        Ok(())
    }
}

/// What `/healthz` decides from, and what `/metrics` reads.
struct Health {
    store: Store,
    poll_every: Duration,
    started: DateTime<Utc>,
    metrics: PrometheusHandle,
    gauges: Mutex<Gauges>,
}

/// Serve `/metrics` and `/healthz` on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    poll_every: Duration,
    metrics: PrometheusHandle,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let health = Arc::new(Health {
        store,
        poll_every,
        started: Utc::now(),
        metrics,
        gauges: Mutex::default(),
    });
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics_text))
        .route("/healthz", axum::routing::get(healthz))
        .with_state(health);
    if let Ok(listen) = listener.local_addr() {
        tracing::info!(%listen, "serving /metrics and /healthz");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|e| e.to_string())
}

async fn metrics_text(State(h): State<Arc<Health>>) -> impl IntoResponse {
    // The gauges are set as of this scrape (a few small records: see state/counts.rs).
    let text = tokio::task::spawn_blocking(move || {
        let mut gauges = h.gauges.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = gauges.refresh(&h.store) {
            tracing::error!("reading the state's counts for /metrics failed: {e}");
        }
        h.metrics.render()
    })
    .await;
    match text {
        Ok(text) => (
            StatusCode::OK,
            [("content-type", "text/plain; version=0.0.4")],
            text,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "text/plain; charset=utf-8")],
            format!("rendering the metrics failed: {e}\n"),
        ),
    }
}

/// 200 while every watched tenant had a successful poll within 3 x `poll_every`
/// (counting from the worker's start for tenants not polled yet), else 503 naming them.
async fn healthz(State(h): State<Arc<Health>>) -> impl IntoResponse {
    let failing = unhealthy_tenants(&h.store, h.poll_every, h.started, Utc::now());
    match failing {
        Ok(list) if list.is_empty() => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        ),
        Ok(list) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "failing", "tenants": list})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "error", "error": e})),
        ),
    }
}

/// The watched tenants whose last successful poll is older than 3 x `poll_every`.
pub fn unhealthy_tenants(
    store: &Store,
    poll_every: Duration,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<serde_json::Value>, String> {
    let limit = chrono::Duration::from_std(poll_every * 3).unwrap_or(chrono::Duration::MAX);
    let polls: BTreeMap<String, DateTime<Utc>> = store
        .tenant_polls()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(id, p)| (id, p.last_poll.0))
        .collect();
    let tenants = store.tenants().map_err(|e| e.to_string())?;
    Ok(tenants
        .into_iter()
        .filter(|t| t.polled())
        .filter_map(|t| {
            let last = polls.get(&t.id).copied();
            // A restart gives every tenant a fresh 3 x poll_every to be polled.
            let since = last.map_or(started, |l| l.max(started));
            (now - since > limit).then(|| {
                serde_json::json!({
                    "id": t.id,
                    "name": t.name,
                    "last_successful_poll": last.map(|l| l.to_rfc3339()),
                })
            })
        })
        .collect())
}

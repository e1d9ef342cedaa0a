//! acronis-watch: an alerting worker for Acronis Cyber Protect Cloud.
//!
//! Data flows one way: poll -> store -> evaluate -> transition + enqueue -> deliver.
//! The modules, in that order:

/// The Acronis API client: tokens, tenants, `resource_statuses` pages.
pub mod acronis;
/// The alert lifecycle: transitions, silences, notifications (pure).
pub mod alerts;
/// Command-line definitions (clap) only.
pub mod cli;
/// The clock seam: wall clock, or fixed for `--now` and tests.
pub mod clock;
/// What each command does: the glue between CLI, config and the pipeline.
pub mod commands;
/// worker.toml -> one validated `Config`.
pub mod config;
/// Status digests per customer tenant: build, compare, schedule.
pub mod digest;
/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod fuzzing;
/// Logging setup (text or JSON, -v/-q).
pub mod logging;
/// Delivery: templates, channels, the outbox worker.
pub mod notify;
/// Per-tenant incremental polls and full resyncs into the state store.
pub mod poll;
/// Rule files and their pure evaluation.
pub mod rules;
/// The `run` loop: evaluation and delivery tasks under one shutdown token.
pub mod runtime;
/// `[server]`: /metrics and /healthz.
pub mod server;
/// The built-in simulated Acronis datacenter.
pub mod simulator;
/// The sled state directory.
pub mod state;
/// The worker assembled: store, client, poller.
pub mod worker;

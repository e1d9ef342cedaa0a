//! acronis-watch: an alerting worker for Acronis Cyber Protect Cloud.
//!
//! Data flows one way:
//!
//! ```text
//!   acronis ──> poll ──> evaluate ──(one sled transaction)──> state ──> notify ──> channels
//!   (API)      (pages)   │  plan alerts, route into outbox   (trees)   (render, rate-limit,
//!                        └─> alerts ──> rules                           send, ack | retry |
//!                                                                       dead-letter)
//!   digest: state ──> build ──> notify::render ──> state's outbox
//! ```
//!
//! Which module may use which (an arrow is "uses"; there is no cycle, and
//! `tests/architecture.rs` fails when one appears):
//!
//! ```text
//!   main ─> commands ─> runtime ─> worker ─> poll ─> evaluate ─> alerts ─> rules
//!                │          │         │        │         │          │        │
//!                │          ├> server │        │         └──> state  │        │
//!                │          ├> digest ─> notify ─────────────> state  │        │
//!                │          │                                    │    │        │
//!                └──────────┴──> model, config, acronis, clock, telemetry, exit
//!                                (model uses acronis' wire types; acronis uses config)
//! ```
//!
//! A type two stages share lives in `model`. The modules, bottom up:

/// The Acronis API client: tokens, tenants, `resource_statuses` pages.
pub mod acronis;
/// The alert lifecycle, silences, routing and grouping (pure).
pub mod alerts;
/// Command-line definitions (clap) only.
pub mod cli;
/// The clock seam: wall clock, or started at `--now`, or fixed for tests.
pub mod clock;
/// What each command does: the glue between CLI, config and the pipeline.
pub mod commands;
/// worker.toml -> one validated `Config`.
pub mod config;
/// Status digests per customer tenant: build, schedule, queue.
pub mod digest;
/// A page or a due deadline in, one transaction out: resources, alerts, outbox items.
pub mod evaluate;
/// The process exit status (SPEC §2).
pub mod exit;
/// Entry points for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod fuzzing;
/// Logging setup (text or JSON, -v/-q).
pub mod logging;
/// The domain types every stage shares: stored resources, alerts, outbox items, tenants.
pub mod model;
/// Delivery: templates, channels, the outbox worker.
pub mod notify;
/// Per-tenant incremental polls and full resyncs, each page handed to `evaluate`.
pub mod poll;
/// Rule files and the pure evaluation of one rule on one resource.
pub mod rules;
/// The `run` loop: the deciding and delivery tasks under one shutdown token.
pub mod runtime;
/// `[server]`: /metrics and /healthz.
pub mod server;
/// The built-in simulated Acronis datacenter.
pub mod simulator;
/// The sled state directory: trees, encodings, the evaluation transaction's scaffolding.
pub mod state;
/// Metric names (SPEC §9), for every stage that records one.
pub mod telemetry;
/// The worker assembled: store, client, poller, alert settings; one poll cycle.
pub mod worker;

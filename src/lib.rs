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
//! Which module uses which, top down (an arrow is "uses"; nothing below reaches
//! up, there is no cycle, and `tests/architecture.rs` fails naming one if it appears;
//! `ARCHITECTURE_GRAPH=1 cargo test --test architecture -- --nocapture` prints it):
//!
//! ```text
//!   commands  -> runtime, worker, digest, notify, simulator, cli, ... (the top)
//!   runtime   -> worker, digest, notify, server
//!   worker    -> poll, evaluate, alerts, rules, state, acronis
//!   digest    -> notify (its renderer), alerts (firing snapshots), state
//!   poll      -> evaluate, alerts (settings), state, acronis
//!   server    -> state
//!   evaluate  -> alerts, state
//!   notify    -> state, rules (the sample rules `check` and `preview` render)
//!   alerts    -> rules
//!   rules, state -> model
//!   model     -> acronis (the wire types a stored resource is made from)
//!   acronis   -> config
//!   config, clock, telemetry, exit, logging: use nothing of the crate
//! ```
//!
//! A type two stages share lives in `model`. The modules:

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

//! Rules end to end: the real binary (`once --now`, `check`, `state alerts|outbox --json`)
//! against the built-in simulator, with small rule files written per test (SPEC §2, §4).
//!
//! Every test renames the machines it steers to `itest-*` and its rules match only that
//! name, so the rest of the simulated fleet (with its own critical, stale and overdue
//! machines) never fires them. The simulator's clock stays frozen at `START` unless a
//! test moves it; `--now` is the worker's clock and is chosen per run.
//!
//! The tests' channels point at addresses where nothing listens, so what fires stays
//! queued: `once` exits 3 then (SPEC §2: notifications left undelivered), 0 when nothing
//! was queued; see `common::Bench::once`.

#[path = "../support/mod.rs"]
mod support;

mod common;
mod config;
mod flap;
mod lifecycle;
mod platform;
mod silences;
mod timed;

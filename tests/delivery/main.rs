//! Delivery end to end: the real binary (`once --now`, `check`, `state ... --json`,
//! `state retry-dead`) against the built-in simulator, with every channel pointed at
//! loopback sinks (`tests/support/sinks.rs`) or a plaintext SMTP server
//! (`tests/support/smtp.rs`). The tests assert on what arrives, when it arrives,
//! exit codes and the outbox/dead letters (SPEC §2, §7, §8; docs/delivery.md,
//! docs/channels.md, docs/templates.md).
//!
//! Every test renames the machines it steers and its rules match only those names,
//! so the rest of the simulated fleet never fires them. No `templates/` folder is
//! written (except in `templates.rs`): the built-in shipped templates are used.

#[path = "../support/mod.rs"]
mod support;

mod lanes;
mod payloads;
mod retries;
mod secrets;
mod templates;

use support::delivery as common;

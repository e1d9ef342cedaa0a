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

mod support;

#[path = "delivery/common.rs"]
mod common;
#[path = "delivery/lanes.rs"]
mod lanes;
#[path = "delivery/payloads.rs"]
mod payloads;
#[path = "delivery/retries.rs"]
mod retries;
#[path = "delivery/secrets.rs"]
mod secrets;
#[path = "delivery/templates.rs"]
mod templates;

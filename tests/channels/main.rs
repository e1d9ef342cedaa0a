//! The channel senders against real peers on loopback: an HTTP sink that records what
//! arrives and answers from a script (Slack, Teams, PagerDuty, webhooks), and an
//! aiosmtpd SMTP server in plaintext, STARTTLS and implicit-TLS modes (email).
//!
//! Each test sends through `Channel::send` once per message and checks the outcome
//! class (delivered, retryable with its `Retry-After`, permanent), what was sent, and
//! that no secret shows in any reason or `Debug` print.

#[path = "../support/mod.rs"]
mod support;

mod common;
mod email;
mod http;
mod pagerduty;

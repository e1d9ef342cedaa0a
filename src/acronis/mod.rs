//! The real Acronis API: tokens (base and tenant-scoped), tenants, and
//! `resource_statuses` pages, with retries and error messages a person can act on.
//!
//! The source of the pipeline (**acronis** -> poll -> evaluate -> ...): it uses only
//! `crate::config`, and knows nothing of state, rules or delivery.

pub mod auth;
pub mod client;
pub mod error;
pub mod http;
pub mod model;

pub use client::{AcronisClient, AlertRequest, PageRequest, Scope, WatchedTenant};
pub use error::ApiError;

//! acronis-watch: an alerting worker for Acronis Cyber Protect Cloud.
//!
//! Data flows one way: poll -> store -> evaluate -> transition + enqueue -> deliver.

pub mod config;
pub mod simulator;

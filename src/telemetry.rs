//! The names of the metrics (SPEC §9), where every stage may read them: the poller and
//! the outbox worker record through the `metrics` facade under these names, and
//! `crate::server` exports them. Nothing here records or serves anything.

pub const POLLS: &str = "acronis_watch_polls_total";
pub const POLL_DURATION: &str = "acronis_watch_poll_duration_seconds";
pub const RESOURCES: &str = "acronis_watch_resources";
pub const ALERTS_FIRING: &str = "acronis_watch_alerts_firing";
pub const NOTIFICATIONS: &str = "acronis_watch_notifications_total";
pub const OUTBOX_DEPTH: &str = "acronis_watch_outbox_depth";
pub const DEAD_LETTERS: &str = "acronis_watch_dead_letters";
pub const TOKEN_REFRESHES: &str = "acronis_watch_token_refreshes_total";
pub const INCREMENTAL_MISSES: &str = "acronis_watch_incremental_misses_total";
/// Alert Manager reads that failed (platform rules), per tenant; the resource poll of
/// the tenant is not affected.
pub const PLATFORM_FAILURES: &str = "acronis_watch_platform_read_failures_total";

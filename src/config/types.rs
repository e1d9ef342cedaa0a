//! The validated configuration: what the rest of the worker reads.
//!
//! Every value here has been expanded (`${ENV}`, `${file:PATH}`), parsed and cross-checked;
//! nothing downstream re-validates. Secrets are held in types whose `Debug`/`Display`
//! never print them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Url;
use secrecy::SecretString;

/// A fully validated `worker.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from (as given on the command line).
    pub path: PathBuf,
    /// The folder relative paths are resolved against.
    pub dir: PathBuf,
    /// Folder of rule files (`rules_dir`, resolved against `dir`).
    pub rules_dir: PathBuf,
    /// Folder of templates (`templates_dir`, resolved against `dir`).
    pub templates_dir: PathBuf,
    pub acronis: AcronisConfig,
    pub state: StateConfig,
    pub server: Option<ServerConfig>,
    pub channels: Vec<ChannelConfig>,
    pub digest: Option<DigestConfig>,
    pub silences: Vec<SilenceConfig>,
    /// `[tenant."ID"]` sections, keyed by the tenant id as written.
    pub tenants: BTreeMap<String, TenantSettings>,
}

impl Config {
    /// The tenant names worker.toml gives (`[tenant."ID"].name`), by tenant id.
    pub fn tenant_names(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.tenants
            .iter()
            .filter_map(|(id, t)| t.name.clone().map(|n| (id.clone(), n)))
    }
}

/// `[acronis]`: where and how to poll.
#[derive(Debug, Clone)]
pub struct AcronisConfig {
    /// Base URL; API paths are appended to it. Scheme http or https.
    pub datacenter_url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
    pub tenants: TenantSelection,
    /// Exact types are sent as `type=`; `.*` families are filtered client-side.
    /// Default: `resource.machine` and `resource.virtual_machine.*`.
    pub resource_types: Vec<String>,
    /// Whether polls between full passes are incremental; default auto.
    pub incremental: Incremental,
    /// Sent as `limit=`; default 500, 1..=10000.
    pub page_size: u32,
    /// `limit=` of an incremental poll's first page (then `page_size`); default 50.
    pub first_page_size: u32,
    /// Default 5m.
    pub poll_every: Duration,
    /// Default 6h.
    pub full_resync_every: Duration,
    /// Default 2m.
    pub overlap: Duration,
    /// Default 30s, must be > 0.
    pub request_timeout: Duration,
    /// Default 4, >= 1.
    pub max_concurrent_tenants: usize,
    /// Default 0/1.
    pub shard: Shard,
    /// Retries of 408/429/5xx/transport errors per request; default 3.
    pub max_retries: u32,
    /// First backoff step (doubled per retry, plus jitter); default 1s.
    pub retry_backoff: Duration,
    /// Longest `Retry-After` the worker waits before failing the tenant's poll; default 60s.
    pub max_retry_after: Duration,
}

/// `incremental`: how polls between full passes read the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Incremental {
    /// Incremental, checked by every full pass; a tenant with a miss is polled with
    /// full passes from then on.
    #[default]
    Auto,
    /// Incremental; misses are only reported.
    Always,
    /// Every poll is a full pass.
    Never,
}

impl Incremental {
    pub fn parse(s: &str) -> Option<Incremental> {
        match s {
            "auto" => Some(Incremental::Auto),
            "always" => Some(Incremental::Always),
            "never" => Some(Incremental::Never),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Incremental::Auto => "auto",
            Incremental::Always => "always",
            Incremental::Never => "never",
        }
    }
}

/// Which tenants the poller watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantSelection {
    /// `tenants` omitted: one poll at the API client's own scope with its base token.
    Own,
    /// `tenants = "children"`: every customer below the client's tenant.
    Children,
    /// `tenants = ["id", ...]`: exactly these customers.
    List(Vec<String>),
}

/// `shard = "i/n"`: this replica watches tenants whose stable hash mod `count` == `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// `[state]`.
#[derive(Debug, Clone)]
pub struct StateConfig {
    /// The sled directory (resolved against the config folder).
    pub path: PathBuf,
    /// sled page cache in MiB (`cache_mb`, default 8).
    pub cache_mb: u64,
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
}

/// A channel rate: `count` messages per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

/// One `[[channel]]`.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
    /// `rate`; default depends on the type (slack 1/s, teams 4/s, pagerduty 120/m, email 10/s, webhook 10/s).
    pub rate: Rate,
    /// `burst`; default 1.
    pub burst: NonZeroU32,
    /// `template`; default the type's name.
    pub template: String,
    /// `max_attempts`; default 10.
    pub max_attempts: u32,
}

/// The type-specific part of a channel.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    Slack {
        url: SecretUrl,
    },
    Teams {
        url: SecretUrl,
    },
    PagerDuty {
        routing_key: SecretString,
        url: Url,
    },
    Email {
        smtp: SmtpUrl,
        from: lettre::message::Mailbox,
        to: Vec<lettre::message::Mailbox>,
    },
    Webhook {
        url: SecretUrl,
        headers: Vec<(String, SecretString)>,
    },
}

impl ChannelKind {
    /// The `type` name as written in worker.toml.
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Teams { .. } => "teams",
            ChannelKind::PagerDuty { .. } => "pagerduty",
            ChannelKind::Email { .. } => "email",
            ChannelKind::Webhook { .. } => "webhook",
        }
    }

    /// Whether the channel gets a group's alerts in one message. Not PagerDuty: each
    /// alert is its own incident (`dedup_key` = the alert key), opened by that alert's
    /// trigger and closed by its resolve, so it gets one event per alert, never a
    /// grouped message.
    pub fn groups_alerts(&self) -> bool {
        !matches!(self, ChannelKind::PagerDuty { .. })
    }

    /// Whether `test-notify` follows its test trigger with the resolve, so no test
    /// incident stays open (PagerDuty: a trigger opens an incident until resolved).
    pub fn resolves_test_incident(&self) -> bool {
        matches!(self, ChannelKind::PagerDuty { .. })
    }
}

/// A URL that may carry a token in its path or query (webhooks): prints as
/// `scheme://host/***`.
#[derive(Clone)]
pub struct SecretUrl(Url);

impl SecretUrl {
    pub fn new(url: Url) -> Self {
        SecretUrl(url)
    }
    /// The full URL, for sending only.
    pub fn expose(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}/***",
            self.0.scheme(),
            self.0.host_str().unwrap_or("")
        )
    }
}

/// How the SMTP connection is secured, from the URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: STARTTLS required.
    StartTls,
    /// `smtps://`: implicit TLS.
    Implicit,
    /// `smtp+plain://`: no TLS.
    Plain,
}

/// A parsed SMTP URL; `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct SmtpUrl {
    pub security: SmtpSecurity,
    pub host: String,
    /// Default 587 (smtp), 465 (smtps), 25 (smtp+plain).
    pub port: u16,
    /// Percent-decoded.
    pub username: Option<String>,
    /// Percent-decoded.
    pub password: Option<SecretString>,
}

/// `[digest]`.
#[derive(Debug, Clone)]
pub struct DigestConfig {
    /// The cron expression as written (6 or 7 fields).
    pub cron: String,
    pub schedule: cron::Schedule,
    /// Default UTC.
    pub timezone: chrono_tz::Tz,
    /// An email channel's name.
    pub channel: String,
    /// Default "digest".
    pub template: String,
}

/// `[[silence]]`: suppresses notifications (not alert state) for matching alerts.
#[derive(Debug, Clone)]
pub struct SilenceConfig {
    /// `comment`, optional.
    pub comment: Option<String>,
    /// `rule`: only this rule's alerts; None = any rule.
    pub rule: Option<String>,
    pub matcher: ResourceMatch,
    pub window: SilenceWindow,
}

/// `match.type`, `match.tenant`, `match.name` (glob). Empty lists match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceMatch {
    pub types: Vec<String>,
    pub tenants: Vec<String>,
    pub names: Vec<String>,
}

/// When a silence is active.
// A config holds a handful of silences, built once: boxing the schedule would save
// nothing worth a less direct field type.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum SilenceWindow {
    /// `starts`/`ends` (RFC 3339); either may be open.
    Fixed {
        starts: Option<DateTime<Utc>>,
        ends: Option<DateTime<Utc>>,
    },
    /// `cron` + `duration` (+ `timezone`, default UTC): active for `duration` after each cron tick.
    Recurring {
        cron: String,
        schedule: cron::Schedule,
        duration: Duration,
        timezone: chrono_tz::Tz,
    },
}

/// `[tenant."ID"]`.
#[derive(Debug, Clone, Default)]
pub struct TenantSettings {
    pub name: Option<String>,
    pub digest_to: Vec<lettre::message::Mailbox>,
}

//! Run-time switches of the simulated datacenter (`/_sim/config`): policy time-field
//! spelling, whether `/api/2/idp/token` accepts the jwt-bearer grant, token lifetime,
//! whether `resource_id=or(...)` is understood, whether a status change moves
//! `updated_at`.

use serde::{Deserialize, Serialize};

/// How `policies[]` time fields are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimeFields {
    /// `last_run`, `next_run`, `last_success_run` (the real responses).
    Short,
    /// `last_run_time`, `next_run_time`, `last_success_run_time` (the OpenAPI spec).
    Long,
    /// Short names, long on about one machine in ten.
    #[default]
    Mixed,
}

/// The current switches, as `GET /_sim/config` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimConfig {
    pub time_fields: TimeFields,
    /// false: the jwt-bearer grant on `/api/2/idp/token` answers 400 `unsupported_grant_type`
    /// and clients must fall back to `/bc/idp/token`.
    pub api2_jwt_bearer: bool,
    /// Lifetime of newly issued tokens, in simulated seconds.
    pub token_lifetime_secs: u64,
    /// false: a `resource_id` (or `id`) written `or(a,b)` answers 400, as a server that
    /// takes only a comma list or one id would (acronis-api.md §4.1: unconfirmed).
    #[serde(default = "yes")]
    pub or_lookups: bool,
    /// false: runs, status flips and patches without an explicit `updated_at` leave
    /// `updated_at` where it was (acronis-api.md §4.4: that a status change moves it is
    /// unconfirmed), so an incremental poll cannot see them; deletions still move it.
    #[serde(default = "yes")]
    pub status_moves_updated_at: bool,
}

fn yes() -> bool {
    true
}

/// A change to [`SimConfig`]: absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    pub time_fields: Option<TimeFields>,
    pub api2_jwt_bearer: Option<bool>,
    pub token_lifetime_secs: Option<u64>,
    pub or_lookups: Option<bool>,
    pub status_moves_updated_at: Option<bool>,
}

impl SimConfig {
    /// Applies `patch`; a zero token lifetime is refused.
    pub(crate) fn apply(&mut self, patch: ConfigPatch) -> Result<(), String> {
        if patch.token_lifetime_secs == Some(0) {
            return Err("token_lifetime_secs must be at least 1".into());
        }
        if let Some(t) = patch.time_fields {
            self.time_fields = t;
        }
        if let Some(b) = patch.api2_jwt_bearer {
            self.api2_jwt_bearer = b;
        }
        if let Some(s) = patch.token_lifetime_secs {
            self.token_lifetime_secs = s;
        }
        if let Some(b) = patch.or_lookups {
            self.or_lookups = b;
        }
        if let Some(b) = patch.status_moves_updated_at {
            self.status_moves_updated_at = b;
        }
        Ok(())
    }
}

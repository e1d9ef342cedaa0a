//! Tenants: the watched-tenant directory, each tenant's poll bookkeeping, and the one
//! rule for the name a tenant is shown by.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::acronis::model::Timestamp;

/// Poll bookkeeping of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPoll {
    /// Server time at the start of the last completed poll: the next poll reads back to
    /// here (minus the overlap).
    pub watermark: Timestamp,
    /// Worker-clock time of the last completed full pass.
    pub last_full_resync: Timestamp,
    /// Worker-clock time of the last completed poll.
    pub last_poll: Timestamp,
    /// How the tenant's polls between full passes read the fleet (records written
    /// before this existed read as incremental).
    #[serde(default)]
    pub mode: PollMode,
    /// Changes full passes found that the incremental passes before them missed, ever.
    #[serde(default)]
    pub incremental_misses: u64,
    /// Base-token mode: the customers this poll files machines under (each machine
    /// under its `context.tenant_id`), with the names the API gave them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filed: Vec<FiledTenant>,
}

/// A tenant a base-token poll files machines under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FiledTenant {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// How a tenant's polls between full passes read the fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PollMode {
    /// Newest first, down to the watermark.
    #[default]
    Incremental,
    /// Every poll is a full pass (`incremental = "auto"` found a miss).
    Full,
}

impl PollMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PollMode::Incremental => "incremental",
            PollMode::Full => "full",
        }
    }
}

/// A watched tenant as last enumerated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `base` (the client's own scope) or `tenant` (a scoped token).
    pub scope: String,
    /// false: the API shows the customer disabled; it is not polled.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

impl TenantRecord {
    /// The `scope` of a tenant a base-token poll files machines under (shown and given
    /// digests, not polled itself).
    pub const FILED: &'static str = "filed";

    /// Whether the worker polls this tenant (it is neither disabled nor only filed
    /// under by a base-token poll).
    pub fn polled(&self) -> bool {
        self.enabled && self.scope != Self::FILED
    }
}

/// The one rule for a tenant's name: the API's (unless blank), else worker.toml's
/// `[tenant."ID"].name` (unless blank); None when neither gives one.
pub fn tenant_name<'a>(api: Option<&'a str>, configured: Option<&'a str>) -> Option<&'a str> {
    let given = |n: Option<&'a str>| n.filter(|n| !n.trim().is_empty());
    given(api).or(given(configured))
}

/// The name a tenant is shown by: [`tenant_name`], else its id.
pub fn display_name(id: &str, api: Option<&str>, configured: Option<&str>) -> String {
    tenant_name(api, configured).unwrap_or(id).to_string()
}

/// Tenants' names as worker.toml and the API give them, shown by [`display_name`].
#[derive(Debug, Clone, Default)]
pub struct TenantNames {
    configured: Arc<HashMap<String, String>>,
    api: Arc<HashMap<String, String>>,
}

impl TenantNames {
    /// The names worker.toml gives (`[tenant."ID"].name`).
    pub fn configured(names: impl IntoIterator<Item = (String, String)>) -> TenantNames {
        TenantNames {
            configured: Arc::new(names.into_iter().collect()),
            api: Arc::default(),
        }
    }

    /// The same, with names the API gave (added to those it gave before).
    pub fn with_api(&self, names: impl IntoIterator<Item = (String, String)>) -> TenantNames {
        let mut api = (*self.api).clone();
        api.extend(names);
        TenantNames {
            configured: self.configured.clone(),
            api: Arc::new(api),
        }
    }

    /// The name `id` is shown by.
    pub fn name(&self, id: &str) -> String {
        display_name(
            id,
            self.api.get(id).map(String::as_str),
            self.configured.get(id).map(String::as_str),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_is_shown_by_the_api_name_then_the_configured_one_then_its_id() {
        assert_eq!(display_name("t1", Some("Contoso"), Some("Ours")), "Contoso");
        assert_eq!(display_name("t1", Some("  "), Some("Ours")), "Ours");
        assert_eq!(display_name("t1", None, Some("")), "t1");
        assert_eq!(tenant_name(None, None), None);
        let names = TenantNames::configured([("t1".to_string(), "Ours".to_string())]);
        assert_eq!(names.name("t1"), "Ours");
        let names = names.with_api([("t1".to_string(), "Contoso".to_string())]);
        assert_eq!(names.name("t1"), "Contoso");
        let names = names.with_api([("t2".to_string(), "Fabrikam".to_string())]);
        assert_eq!(
            (names.name("t1"), names.name("t2")),
            ("Contoso".into(), "Fabrikam".into())
        );
        assert_eq!(names.name("t3"), "t3");
    }
}

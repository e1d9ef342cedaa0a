//! A resource as the worker remembers it, what a poll's page commits, and the
//! evaluation bookkeeping kept with each resource.

use serde::{Deserialize, Serialize};

use super::TenantPoll;
use crate::acronis::model::{AggregateStatus, Policy, ResourceStatus, Timestamp};

/// What the worker remembers of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResource {
    /// The watched tenant (the UUID the poll was scoped with).
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    /// `context.type`, e.g. `resource.machine`.
    pub kind: String,
    /// `context.tenant_id` as the API gave it (often numeric; a unit's id for unit machines).
    pub api_tenant_id: Option<String>,
    pub agent_id: Option<String>,
    pub external_id: Option<String>,
    pub status: AggregateStatus,
    /// Protection plan names (`aggregate.names`, `;`-separated).
    pub plans: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub policies: Vec<Policy>,
    /// The agent, where the API gives it (`include_attributes`).
    pub agent: Option<Agent>,
    /// The CyberFit score, where the API gives one.
    pub cyberfit: Option<u32>,
}

/// What the API says of a resource's agent (`context.attributes`, name `agent`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agent {
    pub online: Option<bool>,
    pub enabled: Option<bool>,
    pub version: Option<String>,
    /// When a poll first saw it offline; kept while it stays offline (the API gives
    /// no time of its own).
    pub offline_since: Option<Timestamp>,
}

/// The aggregate status of an item with no `aggregate` (or no status): kept as unknown.
const NO_STATUS: &str = "unknown";

impl StoredResource {
    /// The record for an API item polled under `tenant`.
    pub fn from_api(tenant: &str, item: ResourceStatus) -> StoredResource {
        let ctx = item.context;
        let attrs = ctx.attributes;
        let agent = (attrs.agent_online.is_some()
            || attrs.agent_enabled.is_some()
            || attrs.agent_version.is_some())
        .then_some(Agent {
            online: attrs.agent_online,
            enabled: attrs.agent_enabled,
            version: attrs.agent_version,
            offline_since: None,
        });
        let (status, plans) = match item.aggregate {
            Some(a) => (
                a.status
                    .unwrap_or_else(|| AggregateStatus::parse(NO_STATUS)),
                a.names,
            ),
            None => (AggregateStatus::parse(NO_STATUS), None),
        };
        StoredResource {
            tenant_id: tenant.to_string(),
            name: ctx
                .name
                .or(ctx.user_defined_name)
                .unwrap_or_else(|| ctx.id.clone()),
            id: ctx.id,
            kind: ctx.kind.unwrap_or_default(),
            api_tenant_id: ctx.tenant_id,
            agent_id: ctx.agent_id,
            // An empty id is none (the store keeps "" for "none").
            external_id: ctx.external_id.filter(|e| !e.is_empty()),
            status,
            plans,
            created_at: ctx.created_at,
            updated_at: ctx.updated_at,
            policies: item.policies,
            agent,
            cyberfit: attrs.cyberfit,
        }
    }
}

/// The `type` a platform alert has where a resource's would be (silences and
/// `match.name` see a platform alert as a resource of this type).
pub const PLATFORM_ALERT_TYPE: &str = "platform.alert";

impl StoredResource {
    /// A platform alert seen as a resource of `tenant`: named after the machine it is
    /// about (or its title), its status the platform's severity.
    pub fn platform(tenant: &str, a: &crate::acronis::model::PlatformAlert) -> StoredResource {
        StoredResource {
            tenant_id: tenant.to_string(),
            id: a.id.clone(),
            name: a.resource_name.clone().unwrap_or_else(|| a.title.clone()),
            kind: PLATFORM_ALERT_TYPE.to_string(),
            api_tenant_id: a.tenant.clone(),
            agent_id: None,
            external_id: None,
            status: AggregateStatus::parse(&a.severity),
            plans: None,
            created_at: a.created_at.map(Timestamp),
            updated_at: a.updated_at.map(Timestamp),
            policies: Vec::new(),
            agent: None,
            cyberfit: None,
        }
    }
}

/// A resource whose status a commit changed (`to: None`: it was deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub tenant: String,
    pub id: String,
    pub name: String,
    pub from: Option<AggregateStatus>,
    pub to: Option<AggregateStatus>,
}

/// An alert on a resource that evaluation must read: firing, or owing a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAlert {
    pub rule: String,
    pub policy: Option<String>,
}

/// The evaluation bookkeeping stored with each resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// When time alone may next change an alert on it (ns since the epoch).
    pub wake: Option<i64>,
    /// The time of its one entry in the deadline index (the state module's business):
    /// never later than `wake`, so no deadline is missed.
    pub indexed: Option<i64>,
    pub live: Vec<LiveAlert>,
}

impl Watch {
    /// Whether the alert of `rule` (on `policy`) is live on this resource.
    pub fn is_live(&self, rule: &str, policy: Option<&str>) -> bool {
        self.live
            .iter()
            .any(|l| l.rule == rule && l.policy.as_deref() == policy)
    }
}

/// What one page of a poll writes, atomically.
#[derive(Debug, Default)]
pub struct PageCommit {
    pub tenant: String,
    pub upserts: Vec<StoredResource>,
    /// Resource ids to forget (deleted upstream, or not seen by a full resync).
    pub deletes: Vec<String>,
    /// Set on the poll's last page: the new watermark etc. go in with its items (and
    /// this page's misses are added to its count).
    pub poll: Option<TenantPoll>,
    /// Whose poll bookkeeping `poll` is, when not `tenant`'s (base-token mode files
    /// machines under their customers, and the bookkeeping stays the poll's).
    pub poll_tenant: Option<String>,
    /// Set on the pages of a full pass that checks the incremental passes before it.
    pub check: Option<MissCheck>,
}

/// How a full pass checks the incremental passes since the previous full pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissCheck {
    /// A resource whose `updated_at` is before this was in reach of those passes: if
    /// its status or policy times changed nonetheless, they missed the change.
    pub covered_before: Timestamp,
    /// `incremental = "auto"`: a miss switches the tenant to full passes.
    pub full_on_miss: bool,
}

/// A change a full pass found that the incremental passes before it missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    pub id: String,
    pub name: String,
    /// What changed, for a person: "status ok -> error", "policy.backup.machine last_run".
    pub what: String,
    pub updated_at: Option<Timestamp>,
}

impl StoredResource {
    /// What changed between `self` (as stored) and `now` that an incremental poll
    /// must see: the status or a policy's times. None when neither moved.
    pub fn moved(&self, now: &StoredResource) -> Option<String> {
        if self.status != now.status {
            return Some(format!(
                "status {} -> {}",
                self.status.as_str(),
                now.status.as_str()
            ));
        }
        for p in &now.policies {
            let before = self.policies.iter().find(|o| o.kind == p.kind);
            let what = match before {
                None => "added",
                Some(o) if o.last_run != p.last_run => "last_run",
                Some(o) if o.last_success_run != p.last_success_run => "last_success_run",
                Some(o) if o.next_run != p.next_run => "next_run",
                Some(_) => continue,
            };
            return Some(format!("{} {what}", p.kind));
        }
        self.policies
            .iter()
            .find(|o| !now.policies.iter().any(|p| p.kind == o.kind))
            .map(|o| format!("{} removed", o.kind))
    }

    /// When the change from `self` (as stored) to `now` most likely happened, from the
    /// data itself: the newest policy time that moved, else a moved `updated_at`.
    pub fn moved_at(&self, now: &StoredResource) -> Option<Timestamp> {
        let policy_time = now
            .policies
            .iter()
            .flat_map(|p| {
                let before = self.policies.iter().find(|o| o.kind == p.kind);
                [
                    (p.last_run, before.and_then(|o| o.last_run)),
                    (p.last_success_run, before.and_then(|o| o.last_success_run)),
                ]
            })
            .filter(|(new, old)| new != old)
            .filter_map(|(new, _)| new)
            .max();
        policy_time.or(now.updated_at.filter(|u| Some(*u) != self.updated_at))
    }
}

//! The simulator's own view of its fleet for tests and the control API: the tenant tree
//! ([`FleetInfo`]), machines ([`ResourceView`]) and the change a test may apply to one
//! ([`ResourcePatch`]). Unlike RM items these are plain and typed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::clock::from_ns;
use super::model::{Policy, Resource};
use super::store::Store;
use super::tenants::{Kind, TenantIx, Tenants};

/// The tenant tree and machine counts (`GET /_sim/fleet`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetInfo {
    pub seed: u64,
    /// The API client's own tenant (kind partner).
    pub partner_id: String,
    pub partner_numeric_id: String,
    pub partner_name: String,
    pub client_id: String,
    pub folders: Vec<FolderInfo>,
    pub customers: Vec<CustomerInfo>,
    /// Machines a full listing shows (not deleted), over all customers.
    pub total: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderInfo {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInfo {
    pub id: String,
    pub numeric_id: String,
    pub name: String,
    /// Always `"customer"`.
    pub kind: String,
    /// The partner or a folder.
    pub parent_id: String,
    /// Its machines carry the UUID (not the numeric id) in `context.tenant_id`.
    pub uuid_in_context: bool,
    /// Account Management's `enabled`.
    pub enabled: bool,
    pub units: Vec<UnitInfo>,
    /// Machines not deleted, units' included.
    pub resources: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitInfo {
    pub id: String,
    pub numeric_id: String,
    pub name: String,
    pub resources: usize,
}

/// One machine as the simulator sees it (`GET /_sim/resources`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceView {
    pub id: String,
    /// The owning customer's or unit's UUID.
    pub tenant: String,
    /// The customer's UUID (the same as `tenant` unless the machine sits in a unit).
    pub customer: String,
    /// What RM items carry in `context.tenant_id`.
    pub tenant_id: String,
    /// `context.type`: `resource.machine`, or an agentless VM's type.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub status: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Protected but offline: no backup runs happen.
    pub offline: bool,
    pub policies: Vec<PolicyView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    #[serde(rename = "type")]
    pub kind: String,
    pub last_run: Option<DateTime<Utc>>,
    pub last_success_run: Option<DateTime<Utc>>,
    pub next_run: Option<DateTime<Utc>>,
}

/// A change to one machine (`POST /_sim/resources/{id}`). Absent fields stay; `null`
/// clears where it can. Every patch bumps `updated_at` (to now, or to `updated_at`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcePatch {
    /// Sets `aggregate.status` (adding an aggregate if the machine has none). The status
    /// is pinned (backup runs leave it alone) unless `pin` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `false` releases a pinned status to the simulation (with `status`: sets it without
    /// pinning); `true` pins the current status. Absent: pin when `status` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Replaces the times of the policy of the same type (added if the machine lacks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<PolicyPatch>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Offline machines run no backups (they go stale and overdue); their agent shows
    /// `is_online: 0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<bool>,
    /// The agent's `enabled` attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_enabled: Option<bool>,
    /// The CyberFit score, 0 to 850.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cyberfit: Option<u16>,
}

/// New times for one policy: absent = keep, `null` = clear. Long names are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyPatch {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(
        default,
        alias = "last_run_time",
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_run: Option<Option<DateTime<Utc>>>,
    #[serde(
        default,
        alias = "last_success_run_time",
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_success_run: Option<Option<DateTime<Utc>>>,
    #[serde(
        default,
        alias = "next_run_time",
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub next_run: Option<Option<DateTime<Utc>>>,
}

/// A field that is present (maybe `null`) becomes `Some(..)`; absence is `None` via `default`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(crate) fn fleet_info(
    seed: u64,
    client_id: &str,
    tenants: &Tenants,
    store: &Store,
) -> FleetInfo {
    let live = |t: TenantIx| {
        store
            .members(t)
            .iter()
            .filter(|&&ix| store.get(ix).is_live())
            .count()
    };
    let partner = tenants.get(0);
    let folders = tenants
        .list
        .iter()
        .filter(|t| t.kind == Kind::Folder)
        .map(|t| FolderInfo {
            id: t.uuid.clone(),
            name: t.name.clone(),
        })
        .collect();
    let customers: Vec<CustomerInfo> = tenants
        .customers()
        .map(|c| {
            let t = tenants.get(c);
            let units = t
                .children
                .iter()
                .map(|&u| {
                    let unit = tenants.get(u);
                    UnitInfo {
                        id: unit.uuid.clone(),
                        numeric_id: unit.numeric_id.clone(),
                        name: unit.name.clone(),
                        resources: live(u),
                    }
                })
                .collect();
            CustomerInfo {
                id: t.uuid.clone(),
                numeric_id: t.numeric_id.clone(),
                name: t.name.clone(),
                kind: Kind::Customer.as_str().to_string(),
                parent_id: t
                    .parent
                    .map(|p| tenants.get(p).uuid.clone())
                    .unwrap_or_default(),
                uuid_in_context: t.uuid_in_context,
                enabled: t.enabled,
                units,
                resources: live(c),
            }
        })
        .collect();
    FleetInfo {
        seed,
        partner_id: partner.uuid.clone(),
        partner_numeric_id: partner.numeric_id.clone(),
        partner_name: partner.name.clone(),
        client_id: client_id.to_string(),
        folders,
        total: customers.iter().map(|c| c.resources).sum(),
        customers,
    }
}

pub(crate) fn resource_view(r: &Resource, tenants: &Tenants) -> ResourceView {
    let time = |ns: Option<i64>| ns.map(from_ns);
    let policy = |p: &Policy| PolicyView {
        kind: p.kind.clone(),
        last_run: time(p.last_run),
        last_success_run: time(p.last_success_run),
        next_run: time(p.next_run),
    };
    ResourceView {
        id: r.id_str.clone(),
        tenant: tenants.get(r.owner).uuid.clone(),
        customer: tenants.get(r.customer).uuid.clone(),
        tenant_id: tenants.get(r.owner).context_id().to_string(),
        kind: r.kind.to_string(),
        name: r.name.clone(),
        status: r.status().map(str::to_string),
        updated_at: from_ns(r.updated_ns),
        deleted_at: time(r.deleted_ns),
        offline: r.backup.as_ref().is_some_and(|b| b.offline),
        policies: r.policies.iter().map(policy).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_null_from_absent() {
        let p: ResourcePatch = serde_json::from_str(
            r#"{"pin":false,"policies":[{"type":"policy.backup.machine","last_success_run":null,
                "next_run_time":"2024-05-01T10:00:00+02:00"}]}"#,
        )
        .expect("parses");
        assert_eq!((p.status, p.pin), (None, Some(false)));
        let pol = &p.policies.as_ref().expect("policies")[0];
        assert_eq!(pol.last_run, None);
        assert_eq!(pol.last_success_run, Some(None));
        assert_eq!(
            pol.next_run.flatten().map(|t| t.to_rfc3339()),
            Some("2024-05-01T08:00:00+00:00".into())
        );
        assert!(serde_json::from_str::<ResourcePatch>(r#"{"stat":"x"}"#).is_err());
        assert!(serde_json::from_str::<ResourcePatch>(r#"{"updated_at":"yesterday"}"#).is_err());
    }
}

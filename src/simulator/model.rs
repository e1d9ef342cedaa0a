//! One simulated machine as the simulator keeps it: what RM shows (context, aggregate,
//! policies) plus the hidden life that drives its evolution (backup schedule, failures,
//! offline). Times are nanoseconds since the epoch.

use super::tenants::TenantIx;

pub(crate) const MACHINE: &str = "resource.machine";
/// Agentless virtual machines (acronis-api.md §4.5): a Hyper-V VM [docs], a VMware
/// ESXi VM [third-party poller].
pub(crate) const HYPERV_VM: &str = "resource.virtual_machine.mshyperv";
pub(crate) const ESXI_VM: &str = "resource.virtual_machine.vmwesx";
pub(crate) const BACKUP: &str = "policy.backup.machine";
pub(crate) const ANTIMALWARE: &str = "policy.security.antimalware_protection";
pub(crate) const PATCH: &str = "policy.security.patch_management";
pub(crate) const VULNERABILITY: &str = "policy.security.vulnerability_assessment";

/// Index of a resource in the store; stable for the simulator's life.
pub(crate) type ResIx = u32;

/// The paging key: `(updated_at ns, id)`; ids sort like their canonical strings.
pub(crate) type Key = (i64, u128);

/// One entry of `policies[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub kind: String,
    pub last_run: Option<i64>,
    pub last_success_run: Option<i64>,
    pub next_run: Option<i64>,
}

/// `aggregate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Aggregate {
    pub status: String,
    /// Plan names joined with `;`.
    pub names: Option<String>,
    /// Whether `running: {"state": ...}` is shown.
    pub running: bool,
}

/// The daily or 12-hourly backup schedule that drives evolution.
///
/// Run `k` is scheduled at `k * period + phase`; its outcome is a pure function of
/// `(seed, resource, k)`, so catching up many runs at once gives the same result as
/// processing them one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backup {
    pub period: i64,
    pub phase: i64,
    /// The next run that has not happened yet.
    pub pending: i64,
    /// Consecutive failed runs up to now.
    pub failures: u32,
    /// Every run fails (a machine that never succeeded stays that way).
    pub broken: bool,
    /// No run happens at all: the machine goes stale and overdue.
    pub offline: bool,
    /// Run times carry 7 fraction digits (else whole seconds).
    pub frac7: bool,
}

impl Backup {
    pub(crate) fn slot(&self, k: i64) -> i64 {
        k.saturating_mul(self.period).saturating_add(self.phase)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub id: u128,
    pub id_str: String,
    /// `context.type`: a machine, or an agentless VM.
    pub kind: &'static str,
    pub name: String,
    pub user_defined_name: Option<String>,
    /// The customer or unit owning the machine.
    pub owner: TenantIx,
    /// The owner's customer (the owner itself unless it is a unit).
    pub customer: TenantIx,
    pub agent: u128,
    pub agent_id: String,
    pub created_ns: i64,
    pub updated_ns: i64,
    pub deleted_ns: Option<i64>,
    pub purged: bool,
    pub aggregate: Option<Aggregate>,
    pub policies: Vec<Policy>,
    /// Shown with `parent_group_ids: []` (the spec requires it, samples lack it).
    pub group_ids: bool,
    /// Under "mixed" time-field spelling, this one uses the long names.
    pub long_names: bool,
    pub backup: Option<Backup>,
    /// A status that persists through successful runs (e.g. `interaction_required`).
    pub sticky: Option<String>,
    /// A status set through the control API: evolution does not change it.
    pub pinned: Option<String>,
    /// Bumped whenever the scheduled event is replaced; stale queue entries are ignored.
    pub generation: u32,
    /// The agent's `enabled` (its `is_online` is `!offline`); agentless VMs have none.
    pub agent_enabled: bool,
    pub agent_version: String,
    /// The CyberFit score (0-850); None for a machine never assessed.
    pub cyberfit: Option<u16>,
    /// A flaky agent: offline for `duration` every `period` from `phase` (ns), while
    /// its machine runs on (a laptop closed for a long weekend, a VPN that drops). None
    /// for most; cleared when the control API sets `offline`.
    pub outages: Option<Outages>,
}

/// When a flaky agent is offline: `[phase + k * period, + duration)` for every k.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outages {
    pub phase: i64,
    pub period: i64,
    pub duration: i64,
}

impl Outages {
    /// Whether the agent is in an outage at `now`.
    pub(crate) fn at(&self, now: i64) -> bool {
        now >= self.phase && (now - self.phase).rem_euclid(self.period.max(1)) < self.duration
    }
}

impl Resource {
    /// Whether the agent is online: a machine whose backups stopped because it is
    /// offline has its agent offline too.
    pub(crate) fn agent_online(&self) -> bool {
        !self.backup.as_ref().is_some_and(|b| b.offline)
    }

    /// [`Resource::agent_online`] at `now`, a flaky agent's outages included.
    pub(crate) fn agent_online_at(&self, now: i64) -> bool {
        self.agent_online() && !self.outages.is_some_and(|o| o.at(now))
    }
}

impl Resource {
    pub(crate) fn key(&self) -> Key {
        (self.updated_ns, self.id)
    }

    pub(crate) fn status(&self) -> Option<&str> {
        self.aggregate.as_ref().map(|a| a.status.as_str())
    }

    pub(crate) fn policy_mut(&mut self, kind: &str) -> Option<&mut Policy> {
        self.policies.iter_mut().find(|p| p.kind == kind)
    }

    /// Shown by a listing without `include_deleted`: neither deleted nor purged.
    pub(crate) fn is_live(&self) -> bool {
        !self.purged && self.deleted_ns.is_none()
    }

    /// Whether it evolves: protected, online, not deleted.
    pub(crate) fn runs(&self) -> bool {
        self.deleted_ns.is_none() && self.backup.as_ref().is_some_and(|b| !b.offline)
    }

    /// The status the machine shows after a run: pinned > failures > sticky > idle.
    pub(crate) fn derived_status(&self) -> String {
        if let Some(p) = &self.pinned {
            return p.clone();
        }
        let failures = self.backup.as_ref().map_or(0, |b| b.failures);
        match failures {
            0 => self.sticky.clone().unwrap_or_else(|| "idle".to_string()),
            1 => "warning".to_string(),
            2 => "error".to_string(),
            _ => "critical".to_string(),
        }
    }
}

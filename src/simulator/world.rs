//! The whole simulated datacenter behind one lock: clock, tenants, machines, tokens,
//! faults, counters and switches. Every operation first brings the fleet up to the
//! simulated `now` ([`World::sync`]), so the world is always consistent with its clock.

use std::collections::HashSet;

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};

use super::alerts::{AlertBook, SimAlert, backup_failed};
use super::auth::{Tokens, bearer};
use super::clock::{NS_PER_SEC, SimClock, to_ns};
use super::counters::{Counters, Endpoint};
use super::evolve::{self, Agenda};
use super::faults::{Fault, FaultQueue};
use super::fleet;
use super::model::{Aggregate, Policy, ResIx, Resource};
use super::seed::{Salt, below, hash, parse_uuid};
use super::settings::{SimConfig, TimeFields};
use super::store::Store;
use super::tenants::{Kind, PARTNER, Scope, TenantIx, Tenants};
use super::views::{PolicyPatch, ResourcePatch};
use super::{SimError, SimOptions};

pub(crate) struct World {
    pub seed: u64,
    pub client_id: String,
    pub client_secret: String,
    pub clock: SimClock,
    pub tenants: Tenants,
    pub store: Store,
    agenda: Agenda,
    pub tokens: Tokens,
    pub faults: FaultQueue,
    pub counters: Counters,
    pub config: SimConfig,
    touches: u64,
    /// Alert Manager's alerts.
    pub alerts: AlertBook,
}

impl World {
    pub(crate) fn new(opts: &SimOptions) -> World {
        let start = opts.start.unwrap_or_else(|| {
            let now = Utc::now();
            DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
        });
        let start_ns = to_ns(start);
        let tenants = Tenants::generate(opts.seed, opts.tenants, start_ns / NS_PER_SEC);
        let store = Store::new(
            fleet::generate(opts.seed, opts.fleet, &tenants, start_ns),
            &tenants,
        );
        let mut agenda = Agenda::default();
        for ix in 0..store.len() as ResIx {
            agenda.schedule(opts.seed, ix, store.get(ix));
        }
        World {
            seed: opts.seed,
            client_id: opts.client_id.clone(),
            client_secret: opts.client_secret.clone(),
            clock: SimClock::new(start),
            tenants,
            store,
            agenda,
            tokens: Tokens::default(),
            faults: FaultQueue::default(),
            counters: Counters::default(),
            config: SimConfig {
                time_fields: TimeFields::Mixed,
                api2_jwt_bearer: true,
                or_lookups: true,
                status_moves_updated_at: true,
                token_lifetime_secs: opts.token_lifetime.as_secs().max(1),
            },
            touches: 0,
            alerts: AlertBook::default(),
        }
        .with_open_alerts(start_ns)
    }

    /// The machines critical at start have an open `BackupFailed` alert each.
    fn with_open_alerts(mut self, now: i64) -> World {
        for ix in 0..self.store.len() as ResIx {
            let r = self.store.get(ix);
            if r.deleted_ns.is_none()
                && r.aggregate.as_ref().is_some_and(|a| a.status == "critical")
            {
                let a = backup_failed(r.owner, &r.id_str, &r.name, "critical");
                self.alerts.raise(self.seed, now, a);
            }
        }
        self
    }

    /// Every alert raised, dismissed ones included.
    pub(crate) fn list_alerts(&self) -> &[SimAlert] {
        &self.alerts.list
    }

    /// Alert Manager follows a machine's status: turning error or critical raises a
    /// failed backup's alert (unless one is open), back to normal dismisses them.
    fn follow_status(&mut self, ix: ResIx, before: Option<String>, now: i64) {
        let r = self.store.get(ix);
        let after = r.aggregate.as_ref().map(|a| a.status.clone());
        if after == before {
            return;
        }
        let bad = |s: &Option<String>| matches!(s.as_deref(), Some("error" | "critical"));
        if bad(&after) && !self.alerts.open_for(&r.id_str) {
            let a = backup_failed(
                r.owner,
                &r.id_str,
                &r.name,
                after.as_deref().unwrap_or("error"),
            );
            self.alerts.raise(self.seed, now, a);
        } else if bad(&before) && !bad(&after) && after.as_deref() != Some("warning") {
            let id = r.id_str.clone();
            self.alerts.dismiss_for(&id, now);
        }
    }

    /// Applies every event due by the simulated now and returns now.
    pub(crate) fn sync(&mut self) -> i64 {
        let now = self.clock.now_ns();
        let seed = self.seed;
        let moves = self.config.status_moves_updated_at;
        while let Some((ix, generation)) = self.agenda.pop_due(now) {
            if self.store.get(ix).generation != generation {
                continue;
            }
            let before = self
                .store
                .get(ix)
                .aggregate
                .as_ref()
                .map(|a| a.status.clone());
            self.store.update(ix, |r| {
                let before = r.updated_ns;
                evolve::catch_up(seed, ix, r, now);
                if !moves {
                    r.updated_ns = before;
                }
            });
            self.agenda.schedule(seed, ix, self.store.get(ix));
            self.follow_status(ix, before, now);
        }
        now
    }

    /// Moves the clock to `target` (never backwards) and evolves the fleet.
    pub(crate) fn set_time(&mut self, target: DateTime<Utc>) -> Result<i64, SimError> {
        let now = self.sync();
        let target = to_ns(target);
        if target < now {
            return Err(SimError::Invalid(
                "the simulated clock only moves forward".into(),
            ));
        }
        self.clock
            .advance(std::time::Duration::from_nanos((target - now) as u64));
        Ok(self.sync())
    }

    pub(crate) fn token_lifetime_ns(&self) -> i64 {
        i64::try_from(self.config.token_lifetime_secs)
            .unwrap_or(i64::MAX / NS_PER_SEC)
            .saturating_mul(NS_PER_SEC)
    }

    /// Counts an API request and returns the fault it triggers, if any. The fault's tenant
    /// is the requested scope (token requests) or the bearer token's scope.
    pub(crate) fn admit(
        &mut self,
        endpoint: Endpoint,
        headers: &HeaderMap,
        requested: Option<&str>,
    ) -> Option<Fault> {
        let now = self.sync();
        self.counters.requests.bump(endpoint);
        let token_scope = bearer(headers).and_then(|t| self.tokens.check(t, now).scope());
        if endpoint == Endpoint::ResourceStatuses
            && let Some(scope) = token_scope
        {
            let key = match scope {
                Scope::Partner => "partner".to_string(),
                Scope::Customer(c) => self.tenants.get(c).uuid.clone(),
            };
            *self
                .counters
                .resource_statuses_by_tenant
                .entry(key)
                .or_default() += 1;
        }
        let tenant = match requested.and_then(|id| self.tenants.find(id)) {
            Some(t) => Some(t),
            None => match token_scope {
                Some(Scope::Customer(c)) => Some(c),
                _ => None,
            },
        };
        let fault = self
            .faults
            .take(endpoint, tenant.map(|t| self.tenants.get(t)));
        if fault.is_some() {
            self.counters.faults_triggered += 1;
        }
        fault
    }

    /// A machine by id (purged ones are gone).
    pub(crate) fn lookup(&self, id: &str) -> Result<ResIx, SimError> {
        parse_uuid(id.trim())
            .and_then(|u| self.store.find(u))
            .ok_or_else(|| SimError::UnknownResource(id.to_string()))
    }

    pub(crate) fn patch(&mut self, id: &str, patch: ResourcePatch) -> Result<(), SimError> {
        let now = self.sync();
        let ix = self.lookup(id)?;
        if let Some(s) = &patch.status
            && s.trim().is_empty()
        {
            return Err(SimError::Invalid("status must not be empty".into()));
        }
        if patch.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(SimError::Invalid("name must not be empty".into()));
        }
        if patch
            .policies
            .iter()
            .flatten()
            .any(|p| p.kind.trim().is_empty())
        {
            return Err(SimError::Invalid("every policy needs a type".into()));
        }
        let (seed, moves) = (self.seed, self.config.status_moves_updated_at);
        let reschedule = self
            .store
            .update(ix, |r| apply_patch(seed, ix, r, patch, now, moves));
        if reschedule {
            self.reschedule(ix);
        }
        Ok(())
    }

    pub(crate) fn delete(&mut self, id: &str, purge: bool) -> Result<(), SimError> {
        let now = self.sync();
        let ix = self.lookup(id)?;
        if purge {
            self.store.purge(ix);
        } else if self.store.get(ix).deleted_ns.is_none() {
            self.store.update(ix, |r| {
                r.deleted_ns = Some(now);
                r.updated_ns = now;
                r.generation = r.generation.wrapping_add(1);
            });
        }
        Ok(())
    }

    /// Changes `count` live machines (of `tenant`, if given): status flips, `updated_at`
    /// moves to now. The pick is deterministic for a seed and the touches before it.
    pub(crate) fn touch(&mut self, count: usize, tenant: Option<TenantIx>) -> Vec<String> {
        let now = self.sync();
        let tenant = tenant.filter(|&t| t != PARTNER);
        let pool = match tenant {
            Some(t) => self.store.members(t).len(),
            None => self.store.len(),
        };
        let member = |store: &Store, j: usize| match tenant {
            Some(t) => store.members(t)[j],
            None => j as ResIx,
        };
        let count = count.min(pool);
        let mut chosen = Vec::new();
        let mut seen = HashSet::new();
        let mut attempts = 0;
        while chosen.len() < count && attempts < count * 20 + 100 {
            attempts += 1;
            self.touches += 1;
            let j = below(hash(self.seed, Salt::Touch, &[self.touches]), pool as u64) as usize;
            let ix = member(&self.store, j);
            if self.store.get(ix).is_live() && seen.insert(ix) {
                chosen.push(ix);
            }
        }
        // A small pool may need a sweep to reach `count`.
        for j in 0..pool {
            if chosen.len() >= count {
                break;
            }
            let ix = member(&self.store, j);
            if self.store.get(ix).is_live() && seen.insert(ix) {
                chosen.push(ix);
            }
        }
        let seed = self.seed;
        let moves = self.config.status_moves_updated_at;
        for (n, &ix) in chosen.iter().enumerate() {
            let h = hash(seed, Salt::Touch, &[self.touches, n as u64 + 1]);
            self.store.update(ix, |r| {
                flip_status(r, h);
                if moves {
                    r.updated_ns = now;
                }
            });
        }
        chosen
            .iter()
            .map(|&ix| self.store.get(ix).id_str.clone())
            .collect()
    }

    /// A tenant by id for the control API: customers and units (the partner means all).
    pub(crate) fn control_tenant(&self, id: &str) -> Result<TenantIx, SimError> {
        self.tenants
            .find(id)
            .filter(|&t| {
                matches!(
                    self.tenants.get(t).kind,
                    Kind::Partner | Kind::Customer | Kind::Unit
                )
            })
            .ok_or_else(|| SimError::UnknownTenant(id.to_string()))
    }

    fn reschedule(&mut self, ix: ResIx) {
        self.store
            .update(ix, |r| r.generation = r.generation.wrapping_add(1));
        self.agenda.schedule(self.seed, ix, self.store.get(ix));
    }

    #[cfg(test)]
    pub(crate) fn agenda_len(&self) -> usize {
        self.agenda.len()
    }
}

/// Healthy statuses flip to a problem, problems flip back to idle.
fn flip_status(r: &mut Resource, h: u64) {
    let Some(a) = r.aggregate.as_mut() else {
        return;
    };
    let healthy = matches!(
        a.status.as_str(),
        "idle" | "ok" | "running" | "scheduled" | "cancelling"
    );
    a.status = if healthy {
        ["warning", "error", "critical"][below(h, 3) as usize].to_string()
    } else {
        "idle".to_string()
    };
    if r.pinned.is_some() {
        r.pinned = Some(a.status.clone());
    }
}

/// Applies a patch; returns true when the backup schedule must be re-queued.
fn apply_patch(
    seed: u64,
    ix: ResIx,
    r: &mut Resource,
    patch: ResourcePatch,
    now: i64,
    moves: bool,
) -> bool {
    let mut reschedule = false;
    if let Some(name) = patch.name {
        r.name = name;
    }
    for pp in patch.policies.into_iter().flatten() {
        patch_policy(r, pp);
    }
    if patch.offline.is_some() {
        // Told what the agent is: no outages of its own any more.
        r.outages = None;
    }
    if let Some(offline) = patch.offline
        && let Some(b) = r.backup.as_mut().filter(|b| b.offline != offline)
    {
        b.offline = offline;
        reschedule = true;
        if !offline {
            // Back online: the next slot whose run lies ahead runs.
            let k = (now - b.phase).div_euclid(b.period);
            b.pending = if evolve::event_time(seed, ix, b, k) > now {
                k
            } else {
                k + 1
            };
            let next = b.slot(b.pending);
            if let Some(p) = r.policy_mut(super::model::BACKUP) {
                p.next_run = Some(next);
            }
        }
    }
    if let Some(enabled) = patch.agent_enabled {
        r.agent_enabled = enabled;
    }
    if let Some(score) = patch.cyberfit {
        r.cyberfit = Some(score.min(850));
    }
    if let Some(status) = &patch.status {
        match r.aggregate.as_mut() {
            Some(a) => a.status = status.clone(),
            None => {
                r.aggregate = Some(Aggregate {
                    status: status.clone(),
                    names: None,
                    running: false,
                })
            }
        }
    }
    if patch.pin.unwrap_or(patch.status.is_some()) {
        r.pinned = r.status().map(str::to_string);
    } else if patch.pin == Some(false) {
        r.pinned = None;
        if patch.status.is_none() {
            // Released: show what the machine's own history says now.
            let derived = r.derived_status();
            if let Some(a) = r.aggregate.as_mut() {
                a.status = derived;
            }
        }
    }
    match patch.updated_at {
        Some(t) => r.updated_ns = to_ns(t),
        None if moves => r.updated_ns = now,
        None => {}
    }
    reschedule
}

fn patch_policy(r: &mut Resource, pp: PolicyPatch) {
    let at = match r.policies.iter().position(|p| p.kind == pp.kind) {
        Some(at) => at,
        None => {
            r.policies.push(Policy {
                kind: pp.kind.clone(),
                last_run: None,
                last_success_run: None,
                next_run: None,
            });
            r.policies.len() - 1
        }
    };
    let p = &mut r.policies[at];
    let ns = |t: Option<DateTime<Utc>>| t.map(to_ns);
    if let Some(t) = pp.last_run {
        p.last_run = ns(t);
    }
    if let Some(t) = pp.last_success_run {
        p.last_success_run = ns(t);
    }
    if let Some(t) = pp.next_run {
        p.next_run = ns(t);
    }
}

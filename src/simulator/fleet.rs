//! Deterministic fleet generation: `count` machines spread unevenly over customers and
//! units, with the status mixture, policy histories and oddities a real partner has.
//!
//! Machine `i` depends only on `(seed, i)` and the tenant tree, never on the machines
//! before it, so the same seed always yields the same fleet.

use super::clock::{DAY_NS, HOUR_NS, NS_PER_SEC};
use super::evolve::{event_time, run_end, security_times};
use super::model::{
    ANTIMALWARE, Aggregate, BACKUP, Backup, ESXI_VM, HYPERV_VM, MACHINE, PATCH, Policy, ResIx,
    Resource, VULNERABILITY,
};
use super::names::{machine_name, plan_names, user_defined_name};
use super::seed::{Salt, below, chance, hash, uuid, uuid_string};
use super::tenants::{Kind, TenantIx, Tenants};

/// What a machine looks like at the start, before evolution takes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    /// No agent plan at all: no `aggregate`, no `policies`.
    Bare,
    NoPolicies,
    Sticky(&'static str),
    Failing(u32),
    Transient(&'static str),
    NeverRan,
    /// Protected, but shown without `aggregate`.
    Hidden,
    Idle,
}

fn category(h: u64) -> Category {
    match below(h, 1000) {
        0..20 => Category::Bare,
        20..70 => Category::NoPolicies,
        70..80 => Category::Sticky("degraded"),
        80..100 => Category::Sticky("interaction_required"),
        100..130 => Category::Failing(3 + below(h >> 20, 6) as u32),
        130..170 => Category::Failing(2),
        170..230 => Category::Failing(1),
        230..250 => Category::Transient("running"),
        250..265 => Category::Transient("scheduled"),
        265..275 => Category::Transient("cancelling"),
        275..290 => Category::Sticky("ok"),
        290..310 => Category::NeverRan,
        310..325 => Category::Hidden,
        _ => Category::Idle,
    }
}

/// Generates `count` machines for the tree, as of `start` (ns).
/// Without customers there is nobody to own a machine: the fleet is empty.
pub(crate) fn generate(seed: u64, count: usize, tenants: &Tenants, start: i64) -> Vec<Resource> {
    let owners = Owners::new(seed, tenants);
    if owners.list.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|i| {
            machine(
                seed,
                i as ResIx,
                owners.pick(seed, i as u64),
                tenants,
                start,
            )
        })
        .collect()
}

/// Weighted owner choice: uneven, and some customers get nothing.
struct Owners {
    list: Vec<TenantIx>,
    cumulative: Vec<u64>,
}

impl Owners {
    fn new(seed: u64, tenants: &Tenants) -> Owners {
        let mut list = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0;
        let mut customer_no = 0;
        for t in tenants.owners() {
            let h = hash(seed, Salt::OwnerWeight, &[u64::from(t)]);
            let weight = match tenants.get(t).kind {
                Kind::Customer if !tenants.get(t).enabled => 0,
                Kind::Customer => {
                    customer_no += 1;
                    if customer_no % 7 == 0 {
                        0
                    } else {
                        (1 + below(h, 6)).pow(2)
                    }
                }
                _ => (1 + below(h, 4)).pow(2),
            };
            total += weight;
            list.push(t);
            cumulative.push(total);
        }
        if total == 0 {
            cumulative.iter_mut().for_each(|c| *c = 1);
        }
        Owners { list, cumulative }
    }

    /// An owner for machine `i`; the list is not empty.
    fn pick(&self, seed: u64, i: u64) -> TenantIx {
        let total = self.cumulative.last().copied().unwrap_or(0);
        let x = below(hash(seed, Salt::Owner, &[i]), total);
        let at = self
            .cumulative
            .partition_point(|&c| c <= x)
            .min(self.list.len() - 1);
        self.list[at]
    }
}

fn machine(seed: u64, ix: ResIx, owner: TenantIx, tenants: &Tenants, start: i64) -> Resource {
    let i = u64::from(ix);
    let id = uuid(
        hash(seed, Salt::ResourceUuid, &[i, 1]),
        hash(seed, Salt::ResourceUuid, &[i, 2]),
    );
    let agent = uuid(
        hash(seed, Salt::AgentUuid, &[i, 1]),
        hash(seed, Salt::AgentUuid, &[i, 2]),
    );
    let name = machine_name(hash(seed, Salt::Name, &[i]));
    let look = hash(seed, Salt::Presentation, &[i]);
    let cat_hash = hash(seed, Salt::Category, &[i]);
    let cat = category(cat_hash);
    let created_hash = hash(seed, Salt::Created, &[i]);
    let created = start
        - (30 + below(created_hash, 870) as i64) * DAY_NS
        - below(created_hash >> 16, DAY_NS as u64) as i64;
    let mut r = Resource {
        id,
        id_str: uuid_string(id),
        kind: MACHINE,
        user_defined_name: user_defined_name(hash(seed, Salt::Name, &[i, 1]), &name),
        name,
        owner,
        customer: tenants.get(owner).customer.unwrap_or(owner),
        agent,
        agent_id: uuid_string(agent),
        created_ns: created,
        updated_ns: created,
        deleted_ns: None,
        purged: false,
        aggregate: None,
        policies: Vec::new(),
        group_ids: below(look >> 8, 3) == 0,
        long_names: below(look, 10) == 0,
        backup: None,
        sticky: None,
        pinned: None,
        generation: 0,
        agent_enabled: true,
        agent_version: String::new(),
        cyberfit: None,
        outages: None,
    };
    // Agents: about 2% disabled; versions of the last few releases; CyberFit scores
    // mostly fair, some poor, about a tenth never assessed.
    let attrs = hash(seed, Salt::Attributes, &[i]);
    r.agent_enabled = below(attrs, 50) != 0;
    r.agent_version = format!("15.0.{}", 36_000 + below(attrs >> 8, 4) * 137);
    // About 3% of agents are flaky: offline 30h every 4 to 7 days, from a phase within
    // the first period (so some are offline from the start).
    r.outages = (below(attrs >> 48, 33) == 0).then(|| {
        let period = (4 + below(attrs >> 52, 4) as i64) * 86_400 * super::clock::NS_PER_SEC;
        super::model::Outages {
            phase: start - below(attrs >> 56, 1 << 8) as i64 * period / 256,
            period,
            duration: 30 * 3600 * super::clock::NS_PER_SEC,
        }
    });
    r.cyberfit = (below(attrs >> 16, 10) != 0).then(|| {
        let poor = below(attrs >> 24, 5) == 0;
        if poor {
            below(attrs >> 32, 579) as u16
        } else {
            579 + below(attrs >> 40, 272) as u16
        }
    });
    match cat {
        Category::Bare => {}
        Category::NoPolicies => unprotected(seed, ix, &mut r, start),
        _ => protect(seed, ix, &mut r, cat, start),
    }
    let latest = r
        .policies
        .iter()
        .filter_map(|p| p.last_run)
        .chain([r.created_ns])
        .max()
        .unwrap_or(created);
    // About one in ten is an agentless VM, backed up through its hypervisor: backup
    // only, no agent-based security policies.
    r.kind = match below(hash(seed, Salt::ResourceType, &[i]), 1000) {
        0..50 => HYPERV_VM,
        50..100 => ESXI_VM,
        _ => MACHINE,
    };
    if r.kind != MACHINE {
        r.policies.retain(|p| p.kind == BACKUP);
        // No agent of its own.
        r.outages = None;
    }
    let jitter = 1 + below(look >> 40, 3 * NS_PER_SEC as u64) as i64;
    r.updated_ns = latest.saturating_add(jitter).min(start).max(r.created_ns);
    r
}

/// A machine without a protection plan: `not_protected` when it never had one (the
/// vendor's docs show that for a machine with no plan), `no_policies_applied` when a
/// long-finished backup history remains (as in the vendor's sample).
fn unprotected(seed: u64, ix: ResIx, r: &mut Resource, start: i64) {
    let h = hash(seed, Salt::Schedule, &[u64::from(ix)]);
    let had_a_plan = chance(h, 500);
    let status = if had_a_plan {
        "no_policies_applied"
    } else {
        "not_protected"
    };
    r.aggregate = Some(Aggregate {
        status: status.into(),
        names: None,
        running: false,
    });
    r.sticky = Some(status.into());
    if had_a_plan {
        let last = start - (20 + below(h >> 10, 200) as i64) * DAY_NS;
        let last = last.max(r.created_ns + HOUR_NS);
        let success = if chance(h >> 30, 700) {
            Some(last)
        } else {
            None
        };
        r.policies.push(Policy {
            kind: BACKUP.into(),
            last_run: Some(last),
            last_success_run: success,
            next_run: None,
        });
    }
}

/// A protected machine: backup schedule, history for its category, security policies.
fn protect(seed: u64, ix: ResIx, r: &mut Resource, cat: Category, start: i64) {
    let i = u64::from(ix);
    let h = hash(seed, Salt::Schedule, &[i]);
    let period = if below(h, 5) == 0 {
        12 * HOUR_NS
    } else {
        DAY_NS
    };
    let minutes = (period / (60 * NS_PER_SEC)) as u64;
    let mut b = Backup {
        period,
        phase: below(h >> 8, minutes) as i64 * 60 * NS_PER_SEC,
        pending: 0,
        failures: 0,
        broken: false,
        offline: chance(h >> 24, 30),
        frac7: below(h >> 40, 2) == 0,
    };
    let k_now = (start - b.phase).div_euclid(period);
    b.pending = if event_time(seed, ix, &b, k_now) > start {
        k_now
    } else {
        k_now + 1
    };
    let mut last = b.pending - 1;
    let mut backup = Policy {
        kind: BACKUP.into(),
        last_run: None,
        last_success_run: None,
        next_run: None,
    };
    let mut next = b.slot(b.pending);
    match cat {
        Category::NeverRan => {
            let since = event_time(seed, ix, &b, last);
            r.created_ns = since + below(h >> 32, (start - since).max(1) as u64) as i64;
        }
        Category::Failing(n) => {
            b.failures = n;
            b.broken = n >= 3 && below(h >> 50, 3) == 0;
            backup.last_run = Some(run_end(seed, ix, &b, last));
            if !b.broken {
                backup.last_success_run = Some(run_end(seed, ix, &b, last - i64::from(n)));
            }
        }
        _ if b.offline && below(h >> 56, 2) == 0 => {
            // Went offline days ago: stale, and overdue since the slot after its last run.
            last -= (2 + below(h >> 32, 8) as i64) * (DAY_NS / period);
            let end = run_end(seed, ix, &b, last);
            backup.last_run = Some(end);
            backup.last_success_run = Some(end);
            next = b.slot(last + 1);
        }
        _ => {
            let end = run_end(seed, ix, &b, last);
            backup.last_run = Some(end);
            backup.last_success_run = Some(end);
        }
    }
    backup.next_run = Some(next);
    let as_of = backup.last_run.unwrap_or(start);
    let mut security = Vec::new();
    for (kind, per_mille, salt) in [
        (ANTIMALWARE, 600, 1u64),
        (PATCH, 400, 2),
        (VULNERABILITY, 500, 3),
    ] {
        if !chance(hash(seed, Salt::Schedule, &[i, salt]), per_mille) {
            continue;
        }
        if let Some((last_run, next_run)) = security_times(seed, ix, kind, as_of) {
            security.push(Policy {
                kind: kind.into(),
                last_run,
                last_success_run: last_run,
                next_run: Some(next_run),
            });
        }
    }
    let has_security = !security.is_empty();
    if below(h >> 60, 2) == 0 {
        r.policies.push(backup);
        r.policies.extend(security);
    } else {
        r.policies.extend(security);
        r.policies.push(backup);
    }
    let status = match cat {
        Category::Sticky(s) => {
            r.sticky = Some(s.into());
            s
        }
        Category::Failing(1) => "warning",
        Category::Failing(2) => "error",
        Category::Failing(_) => "critical",
        Category::Transient(s) => s,
        _ => "idle",
    };
    if cat != Category::Hidden {
        let look = hash(seed, Salt::Presentation, &[i, 1]);
        r.aggregate = Some(Aggregate {
            status: status.into(),
            names: Some(plan_names(look, has_security)),
            running: chance(look >> 32, 300) || status == "running",
        });
    }
    r.backup = Some(b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const START: i64 = 1_750_000_000 * NS_PER_SEC;

    #[test]
    fn status_mixture_is_realistic() {
        let tenants = Tenants::generate(1, 5, START / NS_PER_SEC);
        let fleet = generate(1, 5000, &tenants, START);
        let mut by_status: HashMap<&str, usize> = HashMap::new();
        for r in &fleet {
            *by_status.entry(r.status().unwrap_or("<none>")).or_default() += 1;
            assert!(
                r.created_ns <= r.updated_ns && r.updated_ns <= START,
                "{}",
                r.name
            );
        }
        let share = |s: &str| by_status.get(s).copied().unwrap_or(0) as f64 / fleet.len() as f64;
        assert!((0.6..0.8).contains(&share("idle")), "{by_status:?}");
        for s in ["no_policies_applied", "not_protected"] {
            assert!((0.015..0.035).contains(&share(s)), "{s}: {by_status:?}");
        }
        for s in [
            "warning",
            "error",
            "critical",
            "running",
            "scheduled",
            "interaction_required",
            "cancelling",
            "ok",
        ] {
            assert!(share(s) > 0.0, "{s} missing: {by_status:?}");
        }
        assert!((0.003..0.02).contains(&share("degraded")), "{by_status:?}");
        assert!(share("<none>") > 0.0);
        let backups = fleet
            .iter()
            .flat_map(|r| &r.policies)
            .filter(|p| p.kind == BACKUP);
        let (never, total) = backups.fold((0, 0), |(n, t), p| {
            (n + usize::from(p.last_success_run.is_none()), t + 1)
        });
        assert!(never > 0 && never < total / 10);
        assert!(
            fleet
                .iter()
                .any(|r| r.backup.as_ref().is_some_and(|b| b.offline))
        );
        let overdue = fleet
            .iter()
            .flat_map(|r| &r.policies)
            .filter(|p| p.next_run.is_some_and(|n| n < START - DAY_NS));
        assert!(overdue.count() > 0);
    }

    #[test]
    fn a_few_agents_are_flaky_and_go_offline_and_back_over_time() {
        let tenants = Tenants::generate(1, 5, START / NS_PER_SEC);
        let fleet = generate(1, 5000, &tenants, START);
        let flaky: Vec<&Resource> = fleet.iter().filter(|r| r.outages.is_some()).collect();
        let share = flaky.len() as f64 / fleet.len() as f64;
        assert!((0.015..0.05).contains(&share), "{share}");
        let hour = 3600 * NS_PER_SEC;
        let mut offline_at_start = 0;
        for r in &flaky {
            assert_eq!(r.kind, crate::simulator::model::MACHINE);
            if !r.agent_online() {
                // Offline for good (its backups stopped): flakiness shows nothing.
                continue;
            }
            offline_at_start += usize::from(!r.agent_online_at(START));
            // Over two weeks each goes offline for 30h and comes back at least once.
            let states: Vec<bool> = (0..14 * 24)
                .map(|h| r.agent_online_at(START + h * hour))
                .collect();
            let went_offline = states.windows(2).any(|w| w[0] && !w[1]);
            let came_back = states.windows(2).any(|w| !w[0] && w[1]);
            assert!(went_offline && came_back, "{}", r.name);
            let offline_hours = states.iter().filter(|s| !**s).count();
            assert!(offline_hours >= 30, "{}: {offline_hours}", r.name);
        }
        assert!(offline_at_start > 0, "some are offline from the start");
    }

    #[test]
    fn machines_spread_unevenly_over_customers_and_units() {
        let tenants = Tenants::generate(3, 14, START / NS_PER_SEC);
        let fleet = generate(3, 3000, &tenants, START);
        let mut per_owner: HashMap<TenantIx, usize> = HashMap::new();
        for r in &fleet {
            *per_owner.entry(r.owner).or_default() += 1;
        }
        let customers: Vec<TenantIx> = tenants.customers().collect();
        assert!(
            customers.iter().any(|c| !per_owner.contains_key(c)),
            "customer 7 and 14 are empty"
        );
        assert!(per_owner.keys().any(|&o| tenants.get(o).kind == Kind::Unit));
        let max = per_owner.values().max().copied().unwrap_or(0);
        let min = per_owner.values().min().copied().unwrap_or(0);
        assert!(max > 4 * min, "uneven: {per_owner:?}");
    }
}

//! Evolution over simulated time: backups run on their schedule, succeed or fail, and
//! offline machines go stale.
//!
//! An agenda (a min-heap keyed by each machine's next event time) holds one entry per
//! running machine, so processing up to `now` touches only the machines that are due.
//! A due machine catches up all its missed runs at once: run outcomes are pure functions
//! of `(seed, resource, run number)`, so the state after a jump of days equals the state
//! after stepping through it, and a long jump costs O(machines due), not O(runs).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::clock::{DAY_NS, NS_PER_SEC};
#[cfg(test)]
use super::model::MACHINE;
use super::model::{ANTIMALWARE, BACKUP, Backup, PATCH, ResIx, Resource, VULNERABILITY};
use super::seed::{Salt, below, chance, hash};

/// Pending events: `(time ns, resource, generation)`, earliest first.
#[derive(Debug, Default)]
pub(crate) struct Agenda {
    heap: BinaryHeap<Reverse<(i64, ResIx, u32)>>,
}

impl Agenda {
    /// Queues the resource's next run, if it has one.
    pub(crate) fn schedule(&mut self, seed: u64, ix: ResIx, r: &Resource) {
        if !r.runs() {
            return;
        }
        if let Some(b) = &r.backup {
            self.heap.push(Reverse((
                event_time(seed, ix, b, b.pending),
                ix,
                r.generation,
            )));
        }
    }

    /// The next entry due at or before `now`, removed from the queue.
    pub(crate) fn pop_due(&mut self, now: i64) -> Option<(ResIx, u32)> {
        let Reverse((at, _, _)) = self.heap.peek()?;
        if *at > now {
            return None;
        }
        self.heap
            .pop()
            .map(|Reverse((_, ix, generation))| (ix, generation))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

/// When run `k` finishes (what `last_run` shows).
pub(crate) fn run_end(seed: u64, ix: ResIx, b: &Backup, k: i64) -> i64 {
    let h = hash(seed, Salt::RunDuration, &[u64::from(ix), k as u64]);
    let secs = 30 + below(h, 900) as i64;
    let frac = if b.frac7 {
        below(h >> 32, 10_000_000) as i64 * 100
    } else {
        0
    };
    b.slot(k).saturating_add(secs * NS_PER_SEC + frac)
}

/// When the machine's record changes after run `k` (what `updated_at` shows): a moment
/// after the run ends, with nanosecond digits.
pub(crate) fn event_time(seed: u64, ix: ResIx, b: &Backup, k: i64) -> i64 {
    let h = hash(seed, Salt::RunJitter, &[u64::from(ix), k as u64]);
    run_end(seed, ix, b, k).saturating_add(1 + below(h, 2 * NS_PER_SEC as u64) as i64)
}

/// Whether run `k` fails. Failures cluster: some stretches of 8 runs are troubled.
pub(crate) fn fails(seed: u64, ix: ResIx, b: &Backup, k: i64) -> bool {
    if b.broken {
        return true;
    }
    let troubled = chance(
        hash(
            seed,
            Salt::Trouble,
            &[u64::from(ix), k.div_euclid(8) as u64],
        ),
        60,
    );
    let per_mille = if troubled { 700 } else { 30 };
    chance(
        hash(seed, Salt::RunOutcome, &[u64::from(ix), k as u64]),
        per_mille,
    )
}

/// The last run whose event time is at or before `now`.
fn last_run_by(seed: u64, ix: ResIx, b: &Backup, now: i64) -> i64 {
    let k = (now - b.phase).div_euclid(b.period);
    if event_time(seed, ix, b, k) > now {
        k - 1
    } else {
        k
    }
}

/// Applies every run of `r` due by `now`. Returns false when nothing was due.
pub(crate) fn catch_up(seed: u64, ix: ResIx, r: &mut Resource, now: i64) -> bool {
    if !r.runs() {
        return false;
    }
    let Some(b) = r.backup.as_mut() else {
        return false;
    };
    if event_time(seed, ix, b, b.pending) > now {
        return false;
    }
    let last = last_run_by(seed, ix, b, now).max(b.pending);
    let mut last_success = None;
    if b.broken {
        b.failures = b.failures.saturating_add(run_count(b.pending, last));
    } else {
        let mut k = last;
        loop {
            if !fails(seed, ix, b, k) {
                last_success = Some(run_end(seed, ix, b, k));
                b.failures = run_count(k + 1, last);
                break;
            }
            if k == b.pending {
                b.failures = b.failures.saturating_add(run_count(b.pending, last));
                break;
            }
            k -= 1;
        }
    }
    b.pending = last + 1;
    let last_end = run_end(seed, ix, b, last);
    let next = b.slot(last + 1);
    let updated = event_time(seed, ix, b, last);
    if let Some(p) = r.policy_mut(BACKUP) {
        p.last_run = Some(last_end);
        if last_success.is_some() {
            p.last_success_run = last_success;
        }
        p.next_run = Some(next);
    }
    refresh_security(seed, ix, r, last_end);
    if r.aggregate.is_some() {
        let status = r.derived_status();
        if let Some(a) = r.aggregate.as_mut() {
            a.status = status;
        }
    }
    r.updated_ns = updated;
    true
}

fn run_count(from: i64, to: i64) -> u32 {
    u32::try_from((to - from + 1).max(0)).unwrap_or(u32::MAX)
}

/// The schedule of a security policy: `(period, phase)`; None for types that do not run.
pub(crate) fn security_schedule(seed: u64, ix: ResIx, kind: &str) -> Option<(i64, i64)> {
    let (slot, period) = match kind {
        ANTIMALWARE => (0, DAY_NS),
        PATCH => (1, 7 * DAY_NS),
        VULNERABILITY => (2, DAY_NS),
        _ => return None,
    };
    let minutes = (period / (60 * NS_PER_SEC)) as u64;
    let phase = below(
        hash(seed, Salt::SecurityPhase, &[u64::from(ix), slot]),
        minutes,
    ) as i64
        * 60
        * NS_PER_SEC;
    Some((period, phase))
}

/// A security policy's times as of `t`: the end of the last run finished by `t` (patch
/// management shows only `next_run`) and the slot after it. Depends on `t` alone, so
/// refreshing at several times or once at the last gives the same result.
pub(crate) fn security_times(
    seed: u64,
    ix: ResIx,
    kind: &str,
    t: i64,
) -> Option<(Option<i64>, i64)> {
    let (period, phase) = security_schedule(seed, ix, kind)?;
    let mut k = (t - phase).div_euclid(period);
    if kind == PATCH {
        return Some((None, (k + 1) * period + phase));
    }
    let end = |k: i64| {
        let h = hash(seed, Salt::SecurityDuration, &[u64::from(ix), k as u64]);
        k * period + phase + 2 * NS_PER_SEC + below(h, 600 * NS_PER_SEC as u64 / 100) as i64 * 100
    };
    // A run still in progress at `t` has not happened yet: its slot stays `next_run`.
    if end(k) > t {
        k -= 1;
    }
    Some((Some(end(k)), (k + 1) * period + phase))
}

/// Security policies whose `next_run` passed by `t` ran: move their times forward.
fn refresh_security(seed: u64, ix: ResIx, r: &mut Resource, t: i64) {
    for p in r.policies.iter_mut().filter(|p| p.kind != BACKUP) {
        if p.next_run.is_none_or(|n| n > t) {
            continue;
        }
        if let Some((last, next)) = security_times(seed, ix, &p.kind, t) {
            if last.is_some() {
                p.last_run = last;
                p.last_success_run = last;
            }
            p.next_run = Some(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::clock::HOUR_NS;
    use crate::simulator::model::{Aggregate, Policy};

    fn machine(broken: bool) -> Resource {
        let b = Backup {
            period: DAY_NS,
            phase: 22 * HOUR_NS,
            pending: 19_000,
            failures: 0,
            broken,
            offline: false,
            frac7: true,
        };
        Resource {
            id: 1,
            id_str: "x".into(),
            kind: MACHINE,
            name: "DC01".into(),
            user_defined_name: None,
            owner: 3,
            customer: 3,
            agent: 2,
            agent_id: "y".into(),
            created_ns: 0,
            updated_ns: 0,
            deleted_ns: None,
            purged: false,
            aggregate: Some(Aggregate {
                status: "idle".into(),
                names: None,
                running: false,
            }),
            policies: vec![
                Policy {
                    kind: BACKUP.into(),
                    last_run: None,
                    last_success_run: None,
                    next_run: Some(b.slot(19_000)),
                },
                Policy {
                    kind: ANTIMALWARE.into(),
                    last_run: None,
                    last_success_run: None,
                    next_run: Some(0),
                },
                Policy {
                    kind: PATCH.into(),
                    last_run: None,
                    last_success_run: None,
                    next_run: Some(0),
                },
            ],
            group_ids: false,
            long_names: false,
            backup: Some(b),
            sticky: None,
            pinned: None,
            generation: 0,
            agent_enabled: true,
            agent_version: String::new(),
            cyberfit: None,
            outages: None,
        }
    }

    #[test]
    fn one_jump_equals_many_steps() {
        for ix in 0..200 {
            let mut jumped = machine(false);
            let mut stepped = machine(false);
            let start = 19_000 * DAY_NS;
            let end = start + 40 * DAY_NS;
            catch_up(5, ix, &mut jumped, end);
            let mut t = start;
            while t < end {
                t = (t + 7 * HOUR_NS).min(end);
                catch_up(5, ix, &mut stepped, t);
            }
            assert_eq!(jumped.policies, stepped.policies, "resource {ix}");
            assert_eq!(jumped.backup, stepped.backup);
            assert_eq!(jumped.status(), stepped.status());
            assert_eq!(jumped.updated_ns, stepped.updated_ns);
        }
    }

    #[test]
    fn broken_machines_never_succeed_and_turn_critical() {
        let mut r = machine(true);
        assert!(catch_up(1, 0, &mut r, 19_005 * DAY_NS));
        assert_eq!(r.policies[0].last_success_run, None);
        assert!(r.policies[0].last_run.is_some());
        assert_eq!(r.status(), Some("critical"));
        assert!(!catch_up(1, 0, &mut r, 19_005 * DAY_NS), "nothing more due");
    }

    #[test]
    fn offline_and_deleted_machines_do_not_run() {
        let mut r = machine(false);
        r.backup.as_mut().expect("backup").offline = true;
        assert!(!catch_up(1, 0, &mut r, 19_100 * DAY_NS));
        let mut r = machine(false);
        r.deleted_ns = Some(1);
        assert!(!catch_up(1, 0, &mut r, 19_100 * DAY_NS));
    }
}

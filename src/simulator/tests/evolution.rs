//! Determinism of the generated fleet and of its evolution over simulated time.

use super::*;

#[test]
fn same_seed_same_fleet_other_seed_other_fleet() {
    let a = fleet_json(&sim(300, 7));
    assert!(a == fleet_json(&sim(300, 7)), "same seed, different fleet");
    assert!(a != fleet_json(&sim(300, 8)), "different seed, same fleet");
    assert_eq!(sim(300, 7).fleet_info(), sim(300, 7).fleet_info());
    assert_ne!(
        sim(300, 7).fleet_info().partner_id,
        sim(300, 8).fleet_info().partner_id
    );
}

#[test]
fn evolution_is_deterministic_however_time_is_advanced() {
    let jump = sim(400, 3);
    let steps = sim(400, 3);
    let before = fleet_json(&jump);
    jump.advance(Duration::from_secs(3 * 86_400));
    for _ in 0..72 {
        steps.advance(Duration::from_secs(3600));
    }
    let after = fleet_json(&jump);
    assert!(
        after == fleet_json(&steps),
        "a jump and steps of the same length differ"
    );
    assert!(
        before != after,
        "three days of backups must change the fleet"
    );
    let statuses: HashSet<Option<String>> = jump
        .resources(None, usize::MAX)
        .expect("all")
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert!(statuses.contains(&Some("critical".into())) && statuses.contains(&Some("idle".into())));
}

#[test]
fn advancing_days_on_a_large_fleet_is_fast() {
    let s = sim(20_000, 1);
    let t = Instant::now();
    s.advance(Duration::from_secs(7 * 86_400));
    let took = t.elapsed();
    // Debug build; release is an order of magnitude faster (100k machines in well under 1 s).
    assert!(took < Duration::from_secs(5), "advance took {took:?}");
    let w = s.world();
    assert!(
        w.agenda_len() <= 20_000,
        "one queue entry per running machine"
    );
}

#[test]
fn runs_move_updated_at_and_policies_forward() {
    let s = sim(200, 2);
    let before: HashMap<String, _> = s
        .resources(None, usize::MAX)
        .expect("all")
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    s.advance(Duration::from_secs(26 * 3600));
    let now = s.now();
    let mut moved = 0;
    for r in s.resources(None, usize::MAX).expect("all") {
        let old = &before[&r.id];
        assert!(r.updated_at >= old.updated_at && r.updated_at <= now);
        if r.updated_at > old.updated_at {
            moved += 1;
            let backup = r
                .policies
                .iter()
                .find(|p| p.kind == "policy.backup.machine")
                .expect("runs need a backup");
            assert!(
                backup
                    .next_run
                    .is_some_and(|n| n > backup.last_run.unwrap_or(n))
            );
        }
        if r.offline {
            assert_eq!(
                r.updated_at, old.updated_at,
                "offline machines never change"
            );
        }
    }
    assert!(moved > 150, "most machines ran a backup in 26h: {moved}");
}

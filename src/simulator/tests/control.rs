//! Control operations: patches, pinned statuses, touches.

use super::*;

/// A machine that runs backups and shows a status.
fn running_machine(s: &Simulator) -> super::super::ResourceView {
    let all = s.resources(None, usize::MAX).expect("all");
    all.into_iter()
        .find(|r| !r.offline && r.status.is_some())
        .expect("one")
}

#[test]
fn patches_pin_statuses_until_released() {
    let s = sim(100, 6);
    let r = running_machine(&s);
    let patch: ResourcePatch = serde_json::from_str(r#"{"status":"critical"}"#).expect("patch");
    s.set_resource(&r.id, patch).expect("known");
    let after = s.resource(&r.id).expect("known");
    assert_eq!(
        (after.status.as_deref(), after.updated_at),
        (Some("critical"), s.now())
    );
    s.advance(Duration::from_secs(3 * 86_400));
    assert_eq!(
        s.resource(&r.id).expect("known").status.as_deref(),
        Some("critical"),
        "pinned"
    );
    s.set_resource(
        &r.id,
        serde_json::from_str(r#"{"pin":false}"#).expect("patch"),
    )
    .expect("known");
    assert_ne!(
        s.resource(&r.id).expect("known").status.as_deref(),
        Some("critical")
    );
    assert!(
        s.set_resource(
            "00000000-0000-4000-8000-000000000000",
            ResourcePatch::default()
        )
        .is_err()
    );
    assert!(
        s.set_resource(
            &r.id,
            serde_json::from_str(r#"{"status":" "}"#).expect("patch")
        )
        .is_err()
    );
}

#[test]
fn touch_is_deterministic_and_respects_tenants() {
    let (a, b) = (sim(200, 9), sim(200, 9));
    assert_eq!(a.touch(5, None), b.touch(5, None));
    let c = a.fleet_info().customers[1].id.clone();
    let ids = a.touch(4, Some(&c));
    assert_eq!(ids.len(), 4);
    for id in &ids {
        let r = a.resource(id).expect("known");
        assert_eq!((r.customer.as_str(), r.updated_at), (c.as_str(), a.now()));
    }
    assert!(a.touch(3, Some("no-such-tenant")).is_empty());
    assert_eq!(
        a.touch(usize::MAX, None).len(),
        200,
        "at most every live machine"
    );
}

#[test]
fn empty_and_tiny_worlds_work() {
    for (fleet, tenants) in [(0, 5), (50, 0), (0, 0), (3, 1)] {
        let s = Simulator::new(SimOptions {
            fleet,
            tenants,
            start: Some(start()),
            ..SimOptions::default()
        });
        s.advance(Duration::from_secs(7 * 86_400));
        let info = s.fleet_info();
        // The former customer (disabled, no machines) comes with any customers.
        assert_eq!(info.customers.len(), tenants + usize::from(tenants > 0));
        assert!(
            info.customers
                .iter()
                .filter(|c| !c.enabled)
                .all(|c| c.resources == 0)
        );
        assert_eq!(info.total, if tenants == 0 { 0 } else { fleet });
        assert_eq!(s.touch(10, None).len(), info.total);
    }
    let opts = format!("{:?}", SimOptions::default());
    assert!(!opts.contains("sim-secret"), "{opts}");
}

#[test]
fn pin_can_be_set_without_a_status_and_skipped_with_one() {
    let s = sim(100, 6);
    let r = running_machine(&s);
    let unpinned: ResourcePatch =
        serde_json::from_str(r#"{"status":"error","pin":false}"#).expect("patch");
    s.set_resource(&r.id, unpinned).expect("known");
    assert_eq!(
        s.resource(&r.id).expect("known").status.as_deref(),
        Some("error")
    );
    s.advance(Duration::from_secs(3 * 86_400));
    let after_runs = s.resource(&r.id).expect("known").status;
    assert_ne!(after_runs.as_deref(), Some("error"), "runs decide again");
    s.set_resource(
        &r.id,
        serde_json::from_str(r#"{"pin":true}"#).expect("patch"),
    )
    .expect("known");
    s.advance(Duration::from_secs(3 * 86_400));
    assert_eq!(
        s.resource(&r.id).expect("known").status,
        after_runs,
        "pinned where it stood"
    );
}

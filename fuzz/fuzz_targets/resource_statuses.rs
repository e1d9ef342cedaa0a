//! A `resource_statuses` page body -> what the poller does with it: the page model
//! (`StatusPage`), its cursor and watermark, each item as a `StoredResource`, and that
//! record through the state store's key and value encodings and back.
//!
//! A page that does not parse is fine; a panic, or a record that does not read back
//! as it was written, is not.

#![no_main]

use acronis_watch::acronis::client::newest_update;
use acronis_watch::acronis::model::{StatusPage, Timestamp};
use acronis_watch::fuzzing;
use acronis_watch::model::StoredResource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(page) = serde_json::from_slice::<StatusPage>(data) else {
        return;
    };
    let _ = page.next_cursor();
    let _ = newest_update(&page).map(|t| t.to_string());
    let _ = page.timestamp.map(|t| t.to_string());
    for item in page.items {
        let r = StoredResource::from_api("8d4a1c2e-0b7f-4e55-9a0e-3c2b1d0f6a77", item);
        let (tenant_key, id, back) =
            fuzzing::stored_again(42, &r).expect("a record just encoded decodes");
        assert_eq!(
            (tenant_key, id.as_str()),
            (42, r.id.as_str()),
            "key round trip"
        );
        assert_eq!(back, stored(r), "value round trip");
        // What is stored is in the range an i64 of nanoseconds holds: it prints as
        // RFC 3339 that reads back exactly.
        let times = [back.created_at, back.updated_at].into_iter().chain(
            back.policies
                .iter()
                .flat_map(|p| [p.last_run, p.last_success_run, p.next_run]),
        );
        for t in times.flatten() {
            assert_eq!(Timestamp::parse(&t.to_string()), Some(t), "{t}");
        }
    }
});

/// `r` as the store keeps it: times as i64 nanoseconds (saturating outside 1677..2262).
fn stored(mut r: StoredResource) -> StoredResource {
    let ns = |t: &mut Option<Timestamp>| *t = t.map(|t| Timestamp::from_nanos(t.as_nanos()));
    ns(&mut r.created_at);
    ns(&mut r.updated_at);
    for p in &mut r.policies {
        ns(&mut p.last_run);
        ns(&mut p.last_success_run);
        ns(&mut p.next_run);
    }
    r
}

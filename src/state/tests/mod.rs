//! The store against a real sled directory: opening, schema checks, encodings, keys,
//! tenants; `delivery.rs` the outbox as delivery sees it; `counts.rs` the counts the
//! evaluation transactions keep.

mod counts;
mod delivery;

use super::*;
use crate::acronis::model::{AggregateStatus, Timestamp};
use crate::evaluate::commit_page;
use crate::model::{PageCommit, StoredResource, TenantPoll, TenantRecord};

fn resource(tenant: &str, id: &str, status: &str) -> StoredResource {
    StoredResource {
        tenant_id: tenant.into(),
        id: id.into(),
        name: format!("machine-{id}"),
        kind: "resource.machine".into(),
        api_tenant_id: Some("17".into()),
        agent_id: None,
        external_id: None,
        status: AggregateStatus::parse(status),
        plans: None,
        created_at: None,
        updated_at: Timestamp::parse("2026-11-01T00:00:00.123456789Z"),
        policies: vec![],
        agent: None,
        cyberfit: None,
    }
}

#[test]
fn a_new_directory_is_private_and_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/state");
    let store = Store::open(&path, 4).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    drop(store);
    // Reopening an existing store of this version works (once sled's flusher thread
    // has let go of the directory lock).
    reopen(&path);
}

/// Open again a store just dropped, once sled's flusher thread has let go of the lock.
pub(super) fn reopen(path: &std::path::Path) -> Store {
    open_when_unlocked(path).expect("reopen")
}

/// Open `path`, waiting (up to 5 s) while a database just dropped still holds its lock.
fn open_when_unlocked(path: &std::path::Path) -> Result<Store, StateError> {
    let mut opened = Store::open(path, 4);
    for _ in 0..100 {
        match &opened {
            Err(StateError::Locked { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                opened = Store::open(path, 4);
            }
            _ => break,
        }
    }
    opened
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let err = open_when_unlocked(dir.path()).err().unwrap();
    assert!(matches!(err, StateError::Newer { .. }), "{err}");
    assert!(err.to_string().contains("newer acronis-watch"));
    // Still refused: nothing was reset.
    assert!(Store::open(dir.path(), 4).is_err());
}

#[test]
fn data_without_a_version_is_corrupt_not_reset() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("resources")
            .unwrap()
            .insert(b"x", b"y")
            .unwrap();
        db.flush().unwrap();
    }
    let err = open_when_unlocked(dir.path()).err().unwrap();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
}

#[test]
fn garbage_in_the_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("conf"), b"\xff\xfe not a sled config").unwrap();
    std::fs::write(dir.path().join("db"), b"garbage garbage garbage").unwrap();
    match Store::open(dir.path(), 4) {
        Ok(_) => {} // sled may recover from a torn log; it must not panic
        Err(e) => assert!(
            e.to_string().contains(&dir.path().display().to_string()),
            "{e}"
        ),
    }
}

#[test]
fn a_second_opener_is_told_the_directory_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path(), 4).unwrap();
    // sled's lock is per process (flock); a second open in the same process may succeed,
    // so this only checks that it never panics.
    let _ = Store::open(dir.path(), 4);
}

#[test]
fn commits_report_status_changes_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let first = PageCommit {
        tenant: "t1".into(),
        upserts: vec![resource("t1", "a", "idle"), resource("t1", "b", "idle")],
        ..Default::default()
    };
    assert!(
        commit_page(&store, &first, &none(), t0())
            .unwrap()
            .changes
            .is_empty(),
        "first sight is not a change"
    );
    let poll = TenantPoll {
        watermark: Timestamp::parse("2026-11-01T00:00:00Z").unwrap(),
        last_full_resync: Timestamp::parse("2026-11-01T00:00:00Z").unwrap(),
        last_poll: Timestamp::parse("2026-11-01T00:00:00Z").unwrap(),
        mode: Default::default(),
        incremental_misses: 0,
        filed: Vec::new(),
    };
    let second = PageCommit {
        tenant: "t1".into(),
        upserts: vec![resource("t1", "a", "critical")],
        deletes: vec!["b".into(), "never-stored".into()],
        poll: Some(poll.clone()),
        poll_tenant: None,
        check: None,
    };
    let changes = commit_page(&store, &second, &none(), t0()).unwrap().changes;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].to, Some(AggregateStatus::Critical));
    assert_eq!(changes[1].to, None);
    assert_eq!(store.tenant_poll("t1").unwrap(), Some(poll));
    let stored: Vec<_> = store.resources(Some("t1")).map(Result::unwrap).collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, AggregateStatus::Critical);
    assert_eq!(
        stored[0].updated_at.unwrap().as_nanos() % 1_000_000_000,
        123_456_789
    );
}

#[test]
fn a_tenants_ids_are_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    for (tenant, id) in [("t1", "old"), ("t1", "new"), ("t10", "other")] {
        let page = PageCommit {
            tenant: tenant.into(),
            upserts: vec![resource(tenant, id, "idle")],
            ..Default::default()
        };
        commit_page(&store, &page, &none(), t0()).unwrap();
    }
    let mut ids = store.resource_ids("t1").unwrap();
    ids.sort();
    assert_eq!(ids, ["new", "old"], "t10 is not inside t1's prefix");
    assert_eq!(store.resources(Some("t1")).count(), 2);
}

#[test]
fn resource_records_with_attributes_round_trip_and_old_ones_read_as_before() {
    let plain = resource("t", "aab42c95-14dc-48ab-87b4-96120111b957", "ok");
    let before = records::encode_resource(&plain);
    let mut r = plain.clone();
    r.agent = Some(crate::model::Agent {
        online: Some(false),
        enabled: Some(true),
        version: Some("15.0.36137".into()),
        offline_since: Timestamp::parse("2026-11-01T10:00:00Z"),
    });
    r.cyberfit = Some(612);
    let bytes = records::encode_resource(&r);
    assert_eq!(records::decode_resource("t", &r.id, &bytes).unwrap(), r);
    assert!(bytes.len() <= before.len() + 32, "{} bytes", bytes.len());
    // With a watch after it, and its record part found without decoding strings.
    let watch = crate::model::Watch {
        wake: Some(5),
        indexed: Some(5),
        live: vec![],
    };
    let watched = records::encode_resource_watched(&r, &watch);
    assert_eq!(
        records::decode_resource_watched("t", &r.id, &watched).unwrap(),
        (r.clone(), watch)
    );
    assert_eq!(records::record_part(&watched), Some(bytes.as_slice()));
    // An agent with nothing known of it is still an agent.
    r.agent = Some(crate::model::Agent::default());
    r.cyberfit = None;
    let bytes = records::encode_resource(&r);
    assert_eq!(records::decode_resource("t", &r.id, &bytes).unwrap(), r);
    // A record without attributes is written (and read) exactly as before they existed.
    assert_eq!(
        records::decode_resource("t", &plain.id, &before).unwrap(),
        plain
    );
    assert!(before.starts_with(&[0; 8]));
}

#[test]
fn resource_records_round_trip_compactly() {
    let mut r = resource(
        "3b6f0c1e-5d2a-4c55-9a61-2f0f8d2d7a10",
        "aab42c95-14dc-48ab-87b4-96120111b957",
        "degraded",
    );
    r.agent_id = Some("0fe9fa94-b647-45a3-ac6f-44b617cc943a".into());
    r.external_id = Some("aab42c95-14dc-48ab-87b4-96120111b957@17".into());
    r.plans = Some("Plan A;Plan B".into());
    r.created_at = Timestamp::parse("2021-03-11T15:27:04.940016497Z");
    r.policies = vec![crate::acronis::model::Policy {
        kind: "policy.backup.machine".into(),
        last_run: Timestamp::parse("2021-03-26T16:00:56Z"),
        last_success_run: None,
        next_run: Timestamp::parse("2021-03-31T15:58:12.5Z"),
    }];
    let bytes = records::encode_resource(&r);
    assert!(bytes.len() <= 210, "{} bytes", bytes.len());
    assert_eq!(
        records::decode_resource(&r.tenant_id, &r.id, &bytes).unwrap(),
        r
    );
    // A record written when the first 8 bytes held a full pass's epoch reads the same.
    let mut stamped = bytes.clone();
    stamped[..8].copy_from_slice(&1_700_000_000_000_000_000i64.to_be_bytes());
    assert_eq!(
        records::decode_resource(&r.tenant_id, &r.id, &stamped).unwrap(),
        r
    );
    // An unusual external id is kept as it was.
    r.external_id = Some("opaque-thing".into());
    let bytes = records::encode_resource(&r);
    assert_eq!(
        records::decode_resource(&r.tenant_id, &r.id, &bytes).unwrap(),
        r
    );
    // Garbage is a decode error naming the tree, not a panic.
    let err = records::decode_resource("t", "r", b"\0\0\0\0\0\0\0\x01\xff\xff").unwrap_err();
    assert!(err.to_string().contains("resources"), "{err}");
}

#[test]
fn a_resource_without_an_external_id_reads_back_without_one() {
    // Found by fuzzing (fuzz/corpus/resource_statuses/regress-no-external-id.json):
    // "none" was stored like "the usual id@tenant" and read back as that.
    let r = resource("t", "a", "ok");
    assert_eq!(
        (r.external_id.as_deref(), r.api_tenant_id.as_deref()),
        (None, Some("17"))
    );
    let bytes = records::encode_resource(&r);
    assert_eq!(records::decode_resource("t", "a", &bytes).unwrap(), r);
    // A record written before this fix still reads as it did.
    let mut usual = r.clone();
    usual.external_id = Some("a@17".into());
    let bytes = records::encode_resource(&usual);
    assert_eq!(records::decode_resource("t", "a", &bytes).unwrap(), usual);
    // The API's "" is no external id.
    let item: crate::acronis::model::ResourceStatus =
        serde_json::from_str(r#"{"context":{"id":"a","tenant_id":"17","external_id":""}}"#)
            .unwrap();
    let from_api = StoredResource::from_api("t", item);
    assert_eq!(from_api.external_id, None);
    let bytes = records::encode_resource(&from_api);
    assert_eq!(
        records::decode_resource("t", "a", &bytes).unwrap(),
        from_api
    );
}

#[test]
fn keys_hold_uuids_compactly_and_give_every_id_back_exactly() {
    for id in [
        "aab42c95-14dc-48ab-87b4-96120111b957",
        "AAB42C95-14DC-48AB-87B4-96120111B957",
        "aab42c9514dc48ab87b496120111b957",
        "machine-17",
        "",
    ] {
        let key = records::resource_key(7, id);
        assert_eq!(records::split_key(&key), (7, id.to_string()), "{id:?}");
    }
    assert_eq!(
        records::resource_key(7, "aab42c95-14dc-48ab-87b4-96120111b957").len(),
        8 + 1 + 16
    );
}

#[test]
fn tenants_keep_their_numbers_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), 4).unwrap();
        for t in ["tenant-a", "tenant-b"] {
            let page = PageCommit {
                tenant: t.into(),
                upserts: vec![resource(t, "x", "idle")],
                ..Default::default()
            };
            commit_page(&store, &page, &none(), t0()).unwrap();
        }
    }
    let store = reopen(dir.path());
    let page = PageCommit {
        tenant: "tenant-a".into(),
        upserts: vec![resource("tenant-a", "x", "error")],
        ..Default::default()
    };
    let changes = commit_page(&store, &page, &none(), t0()).unwrap().changes;
    assert_eq!(
        changes.len(),
        1,
        "the reopened store found tenant-a's resource under the same number"
    );
    let all: Vec<_> = store.resources(None).map(Result::unwrap).collect();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|r| r.tenant_id == "tenant-b" && r.id == "x"));
    assert_eq!(store.resources(Some("nobody")).count(), 0);
}

#[test]
fn the_tenant_directory_is_replaced_not_accumulated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let rec = |id: &str| TenantRecord {
        enabled: true,
        id: id.into(),
        name: Some(format!("name {id}")),
        scope: "tenant".into(),
    };
    store.put_tenants(&[rec("a"), rec("b")]).unwrap();
    store.put_tenants(&[rec("b"), rec("c")]).unwrap();
    let ids: Vec<String> = store.tenants().unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["b", "c"]);
}

/// No rules: commits only store.
fn none() -> crate::alerts::AlertSettings {
    crate::alerts::AlertSettings::default()
}

fn t0() -> chrono::DateTime<chrono::Utc> {
    "2026-01-01T00:00:00Z".parse().expect("a valid time")
}

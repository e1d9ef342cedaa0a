//! The poller against an in-memory source: stop at the watermark, commit the
//! watermark last, no false deletions from a resource updated mid-pass.

use std::sync::Mutex;

use super::*;
use crate::acronis::client::{Scope, WatchedTenant};
use crate::acronis::error::ApiErrorKind;
use crate::acronis::model::{AggregateStatus, StatusPage};

/// A fleet newest-first; the cursor is an index. `hook` runs before each page is served.
struct Fake {
    items: Mutex<Vec<(String, i64, &'static str)>>,
    page: usize,
    served: Mutex<usize>,
    fail_on: Mutex<Option<usize>>,
    #[allow(clippy::type_complexity)]
    hook: Mutex<Option<Box<dyn FnMut(usize, &mut Vec<(String, i64, &'static str)>) + Send>>>,
    now: Mutex<i64>,
    lookups: Mutex<usize>,
    /// The listing ends after this many items, as if the server ended it early.
    short: Mutex<Option<usize>>,
    /// Lookups by id fail (a server that refuses every form of `resource_id`).
    lookups_fail: Mutex<bool>,
}

impl Fake {
    fn new(n: usize, page: usize) -> Fake {
        let items = (0..n)
            .map(|i| (format!("r{i:04}"), 1_000 + i as i64, "idle"))
            .collect();
        Fake {
            items: Mutex::new(items),
            page,
            served: Mutex::new(0),
            fail_on: Mutex::new(None),
            hook: Mutex::new(None),
            now: Mutex::new(10_000),
            lookups: Mutex::new(0),
            short: Mutex::new(None),
            lookups_fail: Mutex::new(false),
        }
    }

    fn update(&self, id: &str, at: i64, status: &'static str) {
        let mut items = self.items.lock().unwrap();
        if let Some(i) = items.iter_mut().find(|i| i.0 == id) {
            i.1 = at;
            i.2 = status;
        }
    }

    fn served(&self) -> usize {
        *self.served.lock().unwrap()
    }
}

fn ts(secs: i64) -> String {
    Timestamp(DateTime::from_timestamp(secs, 0).unwrap()).to_string()
}

impl StatusSource for Fake {
    async fn page(
        &self,
        tenant: &WatchedTenant,
        req: PageRequest<'_>,
    ) -> Result<StatusPage, ApiError> {
        let n = {
            let mut s = self.served.lock().unwrap();
            *s += 1;
            *s
        };
        if *self.fail_on.lock().unwrap() == Some(n) {
            return Err(ApiError::new(
                Some(&tenant.id),
                "GET fake",
                ApiErrorKind::Decode {
                    message: "boom".into(),
                },
            ));
        }
        let mut items = self.items.lock().unwrap();
        if let Some(h) = self.hook.lock().unwrap().as_mut() {
            h(n, &mut items);
        }
        let mut sorted = items.clone();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        if let Some(k) = *self.short.lock().unwrap() {
            sorted.truncate(k);
        }
        // Keyset cursor "updated|id": strictly after that item in the order.
        let start = match req.after {
            None => 0,
            Some(c) => {
                let (u, id) = c.split_once('|').unwrap();
                let key = (u.parse::<i64>().unwrap(), id.to_string());
                sorted
                    .iter()
                    .position(|(i, t, _)| *t < key.0 || (*t == key.0 && *i > key.1))
                    .unwrap_or(sorted.len())
            }
        };
        let chunk: Vec<_> = sorted.iter().skip(start).take(self.page).cloned().collect();
        let more = start + chunk.len() < sorted.len();
        let after = chunk
            .last()
            .filter(|_| more)
            .map(|(id, t, _)| format!("{t}|{id}"));
        let body = serde_json::json!({
            "items": chunk.iter().map(|(id, t, s)| serde_json::json!({
                "context": {"id": id, "name": id, "type": "resource.machine", "updated_at": ts(*t)},
                "aggregate": {"status": s}
            })).collect::<Vec<_>>(),
            "paging": {"cursors": {"after": after}},
            "timestamp": ts(*self.now.lock().unwrap()),
        });
        Ok(serde_json::from_value(body).unwrap())
    }

    async fn lookup(
        &self,
        _tenant: &WatchedTenant,
        ids: &[String],
    ) -> Result<Vec<crate::acronis::model::ResourceStatus>, ApiError> {
        *self.lookups.lock().unwrap() += 1;
        if *self.lookups_fail.lock().unwrap() {
            return Err(ApiError::new(
                Some("t1"),
                "GET /api/resource_management/v4/resource_statuses",
                ApiErrorKind::Status {
                    status: 400,
                    message: "resource_id: unsupported".into(),
                    attempts: 1,
                },
            ));
        }
        let items = self.items.lock().unwrap();
        Ok(items
            .iter()
            .filter(|(id, _, _)| ids.contains(id))
            .map(|(id, t, s)| {
                serde_json::from_value(serde_json::json!({
                    "context": {"id": id, "name": id, "type": "resource.machine", "updated_at": ts(*t)},
                    "aggregate": {"status": s}
                }))
                .unwrap()
            })
            .collect())
    }
}

fn tenant() -> WatchedTenant {
    WatchedTenant {
        id: "t1".into(),
        name: None,
        scope: Scope::Tenant("t1".into()),
    }
}

fn setup(fake: Fake, overlap_secs: u64) -> (Arc<Fake>, Poller<Fake>, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), 4).unwrap();
    let fake = Arc::new(fake);
    let settings = PollSettings {
        overlap: Duration::from_secs(overlap_secs),
        full_resync_every: Duration::from_secs(6 * 3600),
        max_concurrent_tenants: 2,
        resource_types: vec![
            "resource.machine".into(),
            "resource.virtual_machine.*".into(),
        ],
        incremental: crate::config::Incremental::Auto,
        first_page: None,
    };
    let poller = Poller::new(fake.clone(), store.clone(), settings);
    (fake, poller, store, dir)
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

async fn poll_one(poller: &Poller<Fake>, now: i64) -> Result<TenantReport, PollError> {
    poller
        .poll_all(
            &[tenant()],
            at(now),
            &crate::alerts::AlertSettings::default(),
        )
        .await
        .pop()
        .unwrap()
        .1
}

#[tokio::test]
async fn an_incremental_poll_stops_at_the_watermark_minus_overlap() {
    let (fake, poller, store, _dir) = setup(Fake::new(95, 10), 60);
    let cold = poll_one(&poller, 20_000).await.unwrap();
    assert!(cold.full);
    assert_eq!(store.resources(Some("t1")).count(), 95);
    let after_cold = fake.served();
    // 10 full pages of 95 items, then one catch-up page.
    assert_eq!(after_cold, 10 + 1);

    for (i, id) in ["r0003", "r0050", "r0090"].iter().enumerate() {
        fake.update(id, 10_100 + i as i64, "critical");
    }
    *fake.now.lock().unwrap() = 10_200;
    let inc = poll_one(&poller, 20_100).await.unwrap();
    assert!(!inc.full);
    assert_eq!(
        fake.served() - after_cold,
        1,
        "three changes fit in one page"
    );
    assert_eq!(inc.changes_total, 3);
    assert!(
        inc.changes
            .iter()
            .all(|c| c.to == Some(AggregateStatus::Critical))
    );
    let poll = store.tenant_poll("t1").unwrap().unwrap();
    assert_eq!(poll.watermark.0, at(10_200));
}

#[tokio::test]
async fn a_poll_that_fails_midway_keeps_the_old_watermark() {
    let (fake, poller, store, _dir) = setup(Fake::new(50, 10), 60);
    poll_one(&poller, 20_000).await.unwrap();
    let before = store.tenant_poll("t1").unwrap().unwrap();
    for i in 0..25 {
        fake.update(&format!("r{i:04}"), 10_100 + i, "error");
    }
    *fake.now.lock().unwrap() = 10_500;
    *fake.fail_on.lock().unwrap() = Some(fake.served() + 2);
    assert!(poll_one(&poller, 20_100).await.is_err());
    assert_eq!(
        store.tenant_poll("t1").unwrap().unwrap(),
        before,
        "watermark moved on a failed poll"
    );
    // The retry reads everything again from the old watermark.
    let again = poll_one(&poller, 20_200).await.unwrap();
    assert!(again.items >= 25);
    assert!(store.resources(Some("t1")).all(|r| {
        let r = r.unwrap();
        r.id.as_str() >= "r0025" || r.status == AggregateStatus::Error
    }));
}

#[tokio::test]
async fn a_resource_updated_during_a_full_pass_is_not_taken_for_deleted() {
    let (fake, poller, store, _dir) = setup(Fake::new(40, 10), 60);
    poll_one(&poller, 20_000).await.unwrap();
    // During the next full pass, while its third page is served, an old resource
    // (not yet reached by the cursor) is updated and jumps to the front.
    let third = fake.served() + 3;
    *fake.hook.lock().unwrap() = Some(Box::new(
        move |n, items: &mut Vec<(String, i64, &'static str)>| {
            if n == third {
                let it = items.iter_mut().find(|i| i.0 == "r0001").unwrap();
                it.1 = 10_050;
                it.2 = "warning";
            }
        },
    ));
    let report = poll_one(&poller, 20_000 + 7 * 3600).await.unwrap();
    assert!(report.full);
    assert_eq!(report.deleted, 0, "{:?}", report.changes);
    assert_eq!(store.resources(Some("t1")).count(), 40);
    assert_eq!(
        store.resource("t1", "r0001").unwrap().unwrap().status,
        AggregateStatus::Warning
    );
}

#[tokio::test]
async fn a_full_resync_forgets_what_vanished() {
    let (fake, poller, store, _dir) = setup(Fake::new(30, 10), 60);
    poll_one(&poller, 20_000).await.unwrap();
    fake.items.lock().unwrap().retain(|i| i.0 != "r0007");
    let inc = poll_one(&poller, 21_000).await.unwrap();
    assert!(!inc.full);
    assert!(store.resource("t1", "r0007").unwrap().is_some());
    let full = poll_one(&poller, 20_000 + 7 * 3600).await.unwrap();
    assert!(full.full);
    assert_eq!(full.deleted, 1);
    assert!(store.resource("t1", "r0007").unwrap().is_none());
    assert_eq!(store.resources(Some("t1")).count(), 29);
}

#[tokio::test]
async fn a_full_resync_cut_short_keeps_what_the_api_still_has() {
    let (fake, poller, store, _dir) = setup(Fake::new(30, 10), 60);
    poll_one(&poller, 20_000).await.unwrap();
    // The next full pass ends after 12 items (an empty page, a cursor missing too
    // soon); one resource is really gone.
    *fake.short.lock().unwrap() = Some(12);
    fake.items.lock().unwrap().retain(|i| i.0 != "r0003");
    let full = poll_one(&poller, 20_000 + 7 * 3600).await.unwrap();
    assert!(full.full);
    assert_eq!(
        *fake.lookups.lock().unwrap(),
        1,
        "the unlisted are looked up"
    );
    assert_eq!(full.deleted, 1, "{:?}", full.changes);
    assert!(store.resource("t1", "r0003").unwrap().is_none());
    assert_eq!(store.resources(Some("t1")).count(), 29);
}

#[tokio::test]
async fn a_lookup_that_fails_deletes_nothing_and_fails_no_poll() {
    let (fake, poller, store, _dir) = setup(Fake::new(30, 10), 60);
    poll_one(&poller, 20_000).await.unwrap();
    *fake.short.lock().unwrap() = Some(12);
    *fake.lookups_fail.lock().unwrap() = true;
    fake.items.lock().unwrap().retain(|i| i.0 != "r0003");
    let full = poll_one(&poller, 20_000 + 7 * 3600)
        .await
        .expect("the poll succeeds");
    assert!(full.full);
    assert_eq!(*fake.lookups.lock().unwrap(), 1);
    assert_eq!(full.deleted, 0, "nothing unconfirmed is deleted");
    assert_eq!(store.resources(Some("t1")).count(), 30);
    // Once lookups work again, the next full pass finds the one really gone.
    *fake.short.lock().unwrap() = None;
    *fake.lookups_fail.lock().unwrap() = false;
    let again = poll_one(&poller, 20_000 + 14 * 3600).await.unwrap();
    assert_eq!(again.deleted, 1);
    assert!(store.resource("t1", "r0003").unwrap().is_none());
}

/// Items as the API sends them: `(id, seconds since the epoch)`.
fn items(list: &[(&str, i64)]) -> Vec<crate::acronis::model::ResourceStatus> {
    list.iter()
        .map(|(id, secs)| {
            let at = DateTime::from_timestamp(*secs, 0).unwrap().to_rfc3339();
            serde_json::from_value(serde_json::json!({
                "context": {"id": id, "type": "resource.machine", "tenant_id": "1", "updated_at": at}
            }))
            .unwrap()
        })
        .collect()
}

#[test]
fn progress_accepts_a_pass_that_moves_on_and_ties_across_pages() {
    let mut p = Progress::default();
    assert_eq!(p.check(&items(&[("a", 30), ("b", 20)])), None);
    assert_eq!(p.check(&items(&[("c", 20), ("d", 10)])), None);
    assert_eq!(p.check(&[]), None);
    assert_eq!(p.check(&items(&[("e", 10), ("f", 5)])), None);
    // Offset cursors shifted back by one (a resource updated mid-pass): one repeat.
    assert_eq!(p.check(&items(&[("f", 5), ("g", 4), ("h", 3)])), None);
}

#[test]
fn progress_refuses_a_cursor_that_leads_back() {
    // Fresh cursors that start over at the newest item.
    let mut p = Progress::default();
    assert_eq!(p.check(&items(&[("a", 30), ("b", 20)])), None);
    let why = p.check(&items(&[("a", 30), ("b", 20)])).unwrap();
    assert!(
        why.contains("resource a") && why.contains("never ends"),
        "{why}"
    );
    // Every item updated at one instant: the repeat itself gives it away.
    let mut p = Progress::default();
    assert_eq!(p.check(&items(&[("a", 7)])), None);
    let why = p.check(&items(&[("a", 7)])).unwrap();
    assert!(why.contains("page before again"), "{why}");
}

//! What sled itself costs for a cold poll's writes (issue 7): `cargo bench --bench store`.
//!
//! A cold poll writes one record per machine. This bench writes the same keys in the
//! same order as `once` does at the compare bench's fleets (tenants of 5,000 or 10,000
//! machines, four tenants at a time, pages of 500 random ids each sorted, a tenant's
//! keys under its number), three ways, with no HTTP and no JSON:
//!
//! 1. `sled insert`: `Tree::insert`, one key at a time, no transaction: the least
//!    sled can do per machine.
//! 2. `sled transaction`: a transaction per page that reads and writes each key, as
//!    `evaluate::commit_page` does.
//! 3. `evaluate::commit_page`: acronis-watch's own commit, with records, counts and no
//!    rules (what `cargo bench --bench compare` runs).
//!
//! Each row prints its time per machine and in all; compare them with the download
//! floor of the same fleet in docs/performance.md.
//!
//! Knobs: `STORE_FLEETS` (default `100000,1000000`), `STORE_CACHE_MB` (sled's page
//! cache, default 8 as `state.cache_mb`).

use std::time::{Duration, Instant};

use acronis_watch::acronis::model::{AggregateStatus, Policy, Timestamp};
use acronis_watch::alerts::AlertSettings;
use acronis_watch::evaluate;
use acronis_watch::model::{PageCommit, StoredResource};
use acronis_watch::state::Store;
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};

const PAGE: usize = 500;
const CONCURRENT_TENANTS: usize = 4;
/// About what `encode_resource` writes for a simulator machine.
const VALUE_BYTES: usize = 180;

fn main() {
    let fleets: Vec<usize> = std::env::var("STORE_FLEETS")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let cache_mb: u64 = std::env::var("STORE_CACHE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    println!(
        "sled page cache: {cache_mb} MiB; pages of {PAGE}, {CONCURRENT_TENANTS} tenants at a time"
    );
    println!();
    println!("| fleet | writer | time | per machine |");
    println!("|---|---|---|---|");
    for fleet in fleets {
        // The compare bench's split: 20 tenants up to 200k, then one per 10,000.
        let tenants = if fleet > 200_000 { fleet / 10_000 } else { 20 };
        let pages = pages(fleet, tenants);
        let label = format!("{}k / {tenants} tenants", fleet / 1000);
        for (writer, took) in [
            ("sled insert", sled_insert(&pages, cache_mb)),
            ("sled transaction", sled_transaction(&pages, cache_mb)),
            ("evaluate::commit_page", commit_page(&pages, cache_mb)),
        ] {
            println!(
                "| {label} | {writer} | {:.2} s | {:.1} µs |",
                took.as_secs_f64(),
                took.as_secs_f64() * 1e6 / fleet as f64
            );
        }
    }
}

/// One page of one tenant: its number and its machine ids, sorted.
struct Page {
    tenant: usize,
    ids: Vec<String>,
}

/// Every page in the order a cold poll commits them: tenants in groups of four,
/// their pages taking turns.
fn pages(fleet: usize, tenants: usize) -> Vec<Page> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let per_tenant = fleet / tenants;
    let mut out = Vec::with_capacity(fleet / PAGE + tenants);
    for group in (0..tenants).collect::<Vec<_>>().chunks(CONCURRENT_TENANTS) {
        let mut left = per_tenant;
        while left > 0 {
            let n = left.min(PAGE);
            for &tenant in group {
                let mut ids: Vec<String> = (0..n)
                    .map(|_| uuid::Uuid::from_u128(rng.random()).to_string())
                    .collect();
                ids.sort();
                out.push(Page { tenant, ids });
            }
            left -= n;
        }
    }
    out
}

fn key(tenant: usize, id: &str) -> Vec<u8> {
    [&(tenant as u64 + 1).to_be_bytes()[..], id.as_bytes()].concat()
}

fn sled_insert(pages: &[Page], cache_mb: u64) -> Duration {
    time_sled(pages, cache_mb, |tree, keys, value| {
        for k in keys {
            tree.insert(k.as_slice(), value).expect("insert");
        }
    })
}

fn sled_transaction(pages: &[Page], cache_mb: u64) -> Duration {
    time_sled(pages, cache_mb, |tree, keys, value| {
        tree.transaction(|tx| {
            for k in keys {
                tx.get(k.as_slice())?;
                tx.insert(k.as_slice(), value)?;
            }
            Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
        })
        .expect("the transaction commits");
    })
}

/// Write every page's keys into a fresh sled tree with `write`, and flush.
fn time_sled(
    pages: &[Page],
    cache_mb: u64,
    write: impl Fn(&sled::Tree, &[Vec<u8>], &[u8]),
) -> Duration {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = sled::Config::new()
        .path(dir.path().join("db"))
        .cache_capacity(cache_mb * 1024 * 1024)
        .mode(sled::Mode::LowSpace)
        .open()
        .expect("sled opens");
    let tree = db.open_tree("resources").expect("a tree");
    let value = [7u8; VALUE_BYTES];
    let start = Instant::now();
    for page in pages {
        let keys: Vec<Vec<u8>> = page.ids.iter().map(|id| key(page.tenant, id)).collect();
        write(&tree, &keys, &value);
    }
    db.flush().expect("flush");
    start.elapsed()
}

fn commit_page(pages: &[Page], cache_mb: u64) -> Duration {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::open(&dir.path().join("state"), cache_mb).expect("the store opens");
    let eval = AlertSettings::default();
    let now = Utc::now();
    let start = Instant::now();
    for page in pages {
        let commit = PageCommit {
            tenant: format!("tenant-{:04}", page.tenant),
            upserts: page.ids.iter().map(|id| machine(id, now)).collect(),
            ..Default::default()
        };
        evaluate::commit_page(&store, &commit, &eval, now).expect("the page commits");
    }
    store.flush_blocking().expect("flush");
    start.elapsed()
}

/// A machine as the simulator serves one: a backup and an antimalware policy.
fn machine(id: &str, now: DateTime<Utc>) -> StoredResource {
    let day = chrono::Duration::hours(24);
    let success = now - chrono::Duration::hours(2);
    let policy = |kind: &str| Policy {
        kind: kind.into(),
        last_run: Some(Timestamp(success)),
        last_success_run: Some(Timestamp(success)),
        next_run: Some(Timestamp(success + day)),
    };
    StoredResource {
        tenant_id: String::new(),
        id: id.to_string(),
        name: format!("host-{}", &id[..8]),
        kind: "resource.machine".into(),
        api_tenant_id: Some("1000001".into()),
        agent_id: Some(uuid::Uuid::nil().to_string()),
        external_id: None,
        status: AggregateStatus::parse("ok"),
        plans: Some("Daily backup".into()),
        created_at: Some(Timestamp(now - day * 30)),
        updated_at: Some(Timestamp(now)),
        policies: vec![
            policy("policy.backup.machine"),
            policy("policy.security.antimalware_protection"),
        ],
        agent: None,
        cyberfit: None,
    }
}

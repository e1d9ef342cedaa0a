//! Property: paging newest-first through any fleet with any page size yields every
//! resource exactly once (the client against the simulator over loopback).

mod support;

use std::collections::HashSet;

use acronis_watch::acronis::{AcronisClient, PageRequest, Scope, WatchedTenant};
use acronis_watch::simulator::SimOptions;
use proptest::prelude::*;
use support::Sim;

fn client(url: &str, page_size: u32) -> AcronisClient {
    let text = format!(
        "[acronis]\ndatacenter_url = \"{url}\"\nclient_id = \"sim-client\"\nclient_secret = \"sim-secret\"\npage_size = {page_size}\n"
    );
    let cfg =
        acronis_watch::config::parse(std::path::Path::new("prop.toml"), &text, &|_| None).unwrap();
    AcronisClient::new(&cfg.acronis).unwrap()
}

async fn page_through(fleet: usize, tenants: usize, seed: u64, page_size: u32) {
    let sim = Sim::start(SimOptions {
        fleet,
        tenants,
        seed,
        ..SimOptions::default()
    })
    .await;
    let client = client(&sim.url, page_size);
    let own = client.own_tenant().await.unwrap();
    let mut targets = vec![own];
    targets.extend(sim.customers().into_iter().map(|c| WatchedTenant {
        id: c.clone(),
        name: None,
        scope: Scope::Tenant(c),
    }));
    for tenant in targets {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut last_updated = None;
        loop {
            let page = client
                .status_page(
                    &tenant,
                    PageRequest {
                        after: after.as_deref(),
                        include_deleted: false,
                        limit: None,
                    },
                )
                .await
                .unwrap();
            assert!(page.items.len() <= page_size as usize);
            for item in &page.items {
                let u = item.context.updated_at;
                if let (Some(prev), Some(u)) = (last_updated, u) {
                    assert!(u <= prev, "not newest-first");
                }
                last_updated = u;
                seen.push(item.context.id.clone());
            }
            match page.next_cursor() {
                Some(c) if !page.items.is_empty() => after = Some(c.to_string()),
                _ => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "a resource came twice (page size {page_size})"
        );
        let tenant_filter = match &tenant.scope {
            Scope::Base => None,
            Scope::Tenant(t) => Some(t.as_str()),
        };
        let mut want = sim.resource_ids(tenant_filter).await;
        seen.sort();
        want.sort();
        assert_eq!(seen, want, "tenant {} page size {page_size}", tenant.id);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn paging_yields_every_resource_exactly_once(
        fleet in 0usize..160,
        tenants in 1usize..5,
        seed in 0u64..1000,
        page_size in 1u32..70,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(page_through(fleet, tenants, seed, page_size));
    }
}

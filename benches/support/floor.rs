//! The transfer floor the benches compare a cold poll with: every page of every
//! customer fetched with a plain sequential loop (a base token, one scoped token per
//! customer), reading only the cursor out of each body. Nothing is parsed, stored or
//! evaluated: it is what merely downloading the same pages costs.

use std::time::{Duration, Instant};

use serde_json::Value;

/// What the floor fetched and how long it took.
pub struct Floor {
    pub elapsed: Duration,
    pub pages: usize,
    pub bytes: u64,
}

/// The customers' UUIDs, as `/_sim/fleet` lists them.
pub fn customers(client: &reqwest::blocking::Client, url: &str) -> Vec<String> {
    let info: Value = client
        .get(format!("{url}/_sim/fleet"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    info["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// Download every page of `resource_statuses` for each of `customers`, `page` items
/// a page.
pub fn download(
    client: &reqwest::blocking::Client,
    url: &str,
    customers: &[String],
    page: u32,
) -> Floor {
    download_with(client, url, customers, page, false)
}

/// [`download`], with `include_attributes=true` when `attributes`.
pub fn download_with(
    client: &reqwest::blocking::Client,
    url: &str,
    customers: &[String],
    page: u32,
    attributes: bool,
) -> Floor {
    let started = Instant::now();
    let base: Value = client
        .post(format!("{url}/api/2/idp/token"))
        .basic_auth("sim-client", Some("sim-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let base = base["access_token"].as_str().unwrap().to_string();
    let (mut pages, mut bytes) = (0, 0u64);
    for c in customers {
        let scoped: Value = client
            .post(format!("{url}/api/2/idp/token"))
            .bearer_auth(&base)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", base.as_str()),
                ("scope", &format!("urn:acronis.com:tenant-id:{c}")),
            ])
            .send()
            .unwrap()
            .json()
            .unwrap();
        let token = scoped["access_token"].as_str().unwrap().to_string();
        let mut after: Option<String> = None;
        loop {
            // No `type=`: the worker's default resource_types (machines and every
            // agentless VM type) is a family the API cannot filter by, so it reads
            // every type too.
            let mut q = vec![
                ("order", "desc(updated_at)".to_string()),
                ("limit", page.to_string()),
            ];
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            if attributes {
                q.push(("include_attributes", "true".to_string()));
            }
            let body = client
                .get(format!(
                    "{url}/api/resource_management/v4/resource_statuses"
                ))
                .query(&q)
                .bearer_auth(&token)
                .send()
                .unwrap()
                .bytes()
                .unwrap();
            pages += 1;
            bytes += body.len() as u64;
            after = cursor_of(&body);
            if after.is_none() {
                break;
            }
        }
    }
    Floor {
        elapsed: started.elapsed(),
        pages,
        bytes,
    }
}

/// `paging.cursors.after` without parsing the items.
fn cursor_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Page {
        paging: Paging,
    }
    #[derive(serde::Deserialize)]
    struct Paging {
        cursors: Cursors,
    }
    #[derive(serde::Deserialize)]
    struct Cursors {
        after: Option<String>,
    }
    let p: Page = serde_json::from_slice(body).ok()?;
    p.paging.cursors.after.filter(|a| !a.is_empty())
}

//! The `/_sim/` control routes and the Account Management tenant endpoints over HTTP.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{RS, Server, start};

#[tokio::test]
async fn control_api_steers_the_fleet() {
    let s = start(80).await;
    let clock = s
        .control(reqwest::Method::GET, "/_sim/clock", None)
        .await
        .json;
    assert_eq!(
        (clock["now"].as_str(), clock["frozen"].as_bool()),
        (Some("2025-06-15T15:06:40.000000000Z"), Some(true))
    );
    let moved = s
        .control(
            reqwest::Method::POST,
            "/_sim/clock",
            Some(json!({"advance": "26h"})),
        )
        .await
        .json;
    assert_eq!(moved["now"], "2025-06-16T17:06:40.000000000Z");
    s.control(
        reqwest::Method::POST,
        "/_sim/clock",
        Some(json!({"advance_secs": 60})),
    )
    .await;
    let set = s
        .control(
            reqwest::Method::POST,
            "/_sim/clock",
            Some(json!({"set": "2025-06-17T00:00:00Z"})),
        )
        .await;
    assert_eq!(set.json["now"], "2025-06-17T00:00:00.000000000Z");
    let back = s
        .control(
            reqwest::Method::POST,
            "/_sim/clock",
            Some(json!({"set": "2025-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(back.status, StatusCode::BAD_REQUEST);
    for bad in [
        json!({"advance": "3 weeks"}),
        json!({"advance": "1h", "advance_secs": 5}),
        json!({"nonsense": 1}),
    ] {
        assert_eq!(
            s.control(reqwest::Method::POST, "/_sim/clock", Some(bad))
                .await
                .status,
            StatusCode::BAD_REQUEST
        );
    }

    let token = s.base_token().await; // after the clock moved: older tokens have expired
    let fleet = s
        .control(reqwest::Method::GET, "/_sim/fleet", None)
        .await
        .json;
    assert_eq!(
        (fleet["total"].as_u64(), fleet["client_id"].as_str()),
        (Some(80), Some("sim-client"))
    );
    assert!(!fleet.to_string().contains("sim-secret"));
    let customer = fleet["customers"][1]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let listed = s
        .control(
            reqwest::Method::GET,
            &format!("/_sim/resources?tenant={customer}&limit=3"),
            None,
        )
        .await
        .json;
    let picked = listed["items"].as_array().expect("items");
    assert!(picked.len() <= 3 && picked.iter().all(|r| r["customer"] == customer.as_str()));
    let id = picked[0]["id"].as_str().expect("id");

    let patch = json!({"status": "critical", "name": "DC99", "policies": [{"type": "policy.backup.machine", "last_success_run": null, "next_run": "2025-06-16T00:00:00Z"}]});
    let patched = s
        .control(
            reqwest::Method::POST,
            &format!("/_sim/resources/{id}"),
            Some(patch),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let item = &s.get(RS, &token, &[("resource_id", id)]).await.json["items"][0];
    assert_eq!(
        (
            item["aggregate"]["status"].as_str(),
            item["context"]["name"].as_str()
        ),
        (Some("critical"), Some("DC99"))
    );
    assert_eq!(
        item["context"]["updated_at"],
        "2025-06-17T00:00:00.000000000Z"
    );
    let backup = item["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .find(|p| p["type"] == "policy.backup.machine")
        .expect("backup");
    assert!(
        backup.get("last_success_run").is_none() && backup.get("last_success_run_time").is_none()
    );
    let unknown = s
        .control(
            reqwest::Method::POST,
            "/_sim/resources/00000000-0000-4000-8000-000000000000",
            Some(json!({})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let broken = s
        .http
        .post(s.url(&format!("/_sim/resources/{id}")))
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);

    let touched = s
        .control(
            reqwest::Method::POST,
            "/_sim/touch",
            Some(json!({"count": 4, "tenant": customer})),
        )
        .await
        .json;
    let pool = fleet["customers"][1]["resources"].as_u64().expect("count") as usize;
    assert_eq!(touched["ids"].as_array().map(Vec::len), Some(pool.min(4)));
    let missing = s
        .control(
            reqwest::Method::POST,
            "/_sim/touch",
            Some(json!({"count": 1, "tenant": "nope"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let expired = s
        .control(reqwest::Method::POST, "/_sim/tokens/expire", None)
        .await
        .json;
    assert_eq!(expired["expired"], 1);
    assert_eq!(
        s.get(RS, &token, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn tenants_endpoints_walk_the_tree() {
    let s = start(40).await;
    let info = s.sim.fleet_info();
    let token = s.base_token().await;
    let children = s
        .get("/api/2/tenants", &token, &[("parent_id", &info.partner_id)])
        .await;
    assert_eq!(children.status, StatusCode::OK);
    let items = children.json["items"].as_array().expect("items");
    assert!(
        items
            .iter()
            .all(|t| t["parent_id"] == info.partner_id.as_str() && t["deleted_at"].is_null())
    );
    assert!(
        items.iter().any(|t| t["kind"] == "folder")
            && items.iter().any(|t| t["kind"] == "customer")
    );
    assert!(
        items[0]["created_at"]
            .as_str()
            .is_some_and(|t| t.len() == 19),
        "no zone"
    );
    let subtree = s
        .pass_tenants(
            &token,
            &[("subtree_root_id", &info.partner_id), ("limit", "3")],
        )
        .await;
    let customers = subtree.iter().filter(|t| t["kind"] == "customer").count();
    assert_eq!(customers, info.customers.len());
    assert!(subtree.iter().any(|t| t["kind"] == "unit"));
    let ids = format!("{},{}", info.customers[0].id, info.customers[1].id);
    let by_ids = s.get("/api/2/tenants", &token, &[("uuids", &ids)]).await;
    assert_eq!(by_ids.json["items"].as_array().map(Vec::len), Some(2));
    let both = s
        .get(
            "/api/2/tenants",
            &token,
            &[("uuids", &ids), ("parent_id", &info.partner_id)],
        )
        .await;
    assert_eq!(
        (both.status, both.json["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BadRequest"))
    );
    assert_eq!(
        s.get("/api/2/tenants", &token, &[]).await.status,
        StatusCode::BAD_REQUEST
    );
    let kids = s
        .get(
            &format!("/api/2/tenants/{}/children", info.customers[1].id),
            &token,
            &[],
        )
        .await;
    let unit_ids: Vec<&str> = info.customers[1]
        .units
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(kids.json["items"], json!(unit_ids));

    let stamps = s
        .get(
            "/api/2/tenants",
            &token,
            &[("uuids", &info.partner_id), ("lod", "stamps")],
        )
        .await;
    let keys: Vec<&String> = stamps.json["items"][0]
        .as_object()
        .expect("tenant")
        .keys()
        .collect();
    assert_eq!(keys, ["id", "version"]);
    let bad_lod = s
        .get(
            "/api/2/tenants",
            &token,
            &[("uuids", &info.partner_id), ("lod", "everything")],
        )
        .await;
    assert_eq!(bad_lod.status, StatusCode::BAD_REQUEST);
    let garbage = s
        .get("/api/2/tenants", &token, &[("after", "not-a-cursor")])
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);

    let scoped = s.scoped_token(&token, &info.customers[0].id).await;
    let r = s
        .get(
            "/api/2/tenants",
            &scoped,
            &[("parent_id", &info.partner_id)],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "outside the scoped token's subtree"
    );
}

impl Server {
    async fn pass_tenants(&self, token: &str, first: &[(&str, &str)]) -> Vec<Value> {
        let mut out = Vec::new();
        let mut r = self.get("/api/2/tenants", token, first).await;
        loop {
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            out.extend(r.json["items"].as_array().expect("items").iter().cloned());
            let Some(after) = r.json["paging"]["cursors"]["after"]
                .as_str()
                .map(str::to_string)
            else {
                return out;
            };
            r = self
                .get("/api/2/tenants", token, &[("after", &after)])
                .await;
        }
    }
}

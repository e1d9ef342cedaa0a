//! Injected faults and request counters over HTTP.

use std::time::{Duration, Instant};

use acronis_watch::simulator::{Fault, FaultBody};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{RS, Server, start};

#[tokio::test]
async fn faults_fire_as_configured() {
    let s = start(60).await;
    let info = s.sim.fleet_info();
    let base = s.base_token().await;
    let add = |f: Value| s.control(reqwest::Method::POST, "/_sim/faults", Some(f));

    assert_eq!(
        add(json!({"endpoint": "resource_statuses", "status": 429, "retry_after": 7}))
            .await
            .status,
        StatusCode::OK
    );
    let r = s.get(RS, &base, &[]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    assert!(r.json["code"].is_string() && r.json["domain"].is_string());
    assert_eq!(
        s.get(RS, &base, &[]).await.status,
        StatusCode::OK,
        "count defaults to 1"
    );

    add(json!({"body": "malformed", "endpoint": "resource_statuses"})).await;
    let r = s.get(RS, &base, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&r.text).is_err());

    let full = s.get(RS, &base, &[("limit", "20")]).await.text;
    add(json!({"body": "truncated"})).await;
    let r = s.get(RS, &base, &[("limit", "20")]).await;
    assert_eq!((r.status, r.text.len()), (StatusCode::OK, full.len() / 2));
    assert!(serde_json::from_str::<Value>(&r.text).is_err());

    add(json!({"endpoint": "resource_statuses", "skip": 1, "count": 2, "status": 503})).await;
    let seq: Vec<u16> = statuses_of(&s, &base, 4).await;
    assert_eq!(seq, vec![200, 503, 503, 200]);

    let (a, b) = (&info.customers[0].id, &info.customers[1].id);
    let (ta, tb) = (
        s.scoped_token(&base, a).await,
        s.scoped_token(&base, b).await,
    );
    add(json!({"tenant": a, "status": 500})).await;
    assert_eq!(
        s.get(RS, &tb, &[]).await.status,
        StatusCode::OK,
        "other tenants pass"
    );
    assert_eq!(
        s.get(RS, &base, &[]).await.status,
        StatusCode::OK,
        "the partner token passes"
    );
    assert_eq!(
        s.get(RS, &ta, &[]).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    add(json!({"endpoint": "token", "tenant": a, "status": 503})).await;
    let (to_b, to_a) = (
        s.exchange("/api/2/idp/token", &base, b).await,
        s.exchange("/api/2/idp/token", &base, a).await,
    );
    assert_eq!(
        (to_b.status, to_a.status),
        (StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE),
        "token faults match the asked scope"
    );
    assert_eq!(to_a.json["error"], "temporarily_unavailable");

    add(json!({"body": "html", "endpoint": "tenants"})).await;
    let r = s
        .get("/api/2/tenants", &base, &[("parent_id", &info.partner_id)])
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert!(r.text.contains("<html>") && r.headers["content-type"] == "text/html");

    add(json!({"body": "empty", "endpoint": "resource_statuses"})).await;
    let r = s.get(RS, &base, &[("limit", "5")]).await;
    assert_eq!(r.json["items"], json!([]));
    assert_eq!(r.json["paging"]["cursors"], json!({}));

    add(json!({"delay_ms": 300, "endpoint": "clients"})).await;
    let t = Instant::now();
    assert_eq!(
        s.get("/api/2/clients/sim-client", &base, &[]).await.status,
        StatusCode::OK
    );
    assert!(t.elapsed() >= Duration::from_millis(300));

    s.sim.add_fault(Fault {
        endpoint: None,
        expire_tokens: true,
        ..Fault::default()
    });
    let r = s.get(RS, &tb, &[]).await;
    assert_eq!(
        (r.status, r.json["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("AuthenticationTimeout"))
    );
    assert_eq!(
        s.get(RS, &base, &[]).await.status,
        StatusCode::UNAUTHORIZED,
        "every token expired"
    );

    s.sim.add_fault(Fault {
        body: Some(FaultBody::Empty),
        count: 5,
        ..Fault::default()
    });
    assert_eq!(
        s.control(reqwest::Method::GET, "/_sim/faults", None)
            .await
            .json["pending"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        s.control(reqwest::Method::DELETE, "/_sim/faults", None)
            .await
            .status,
        StatusCode::OK
    );
    assert!(s.sim.faults().is_empty());
    let bad = add(json!({"endpoint": "nowhere", "status": 500})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        add(json!({"count": 2})).await.status,
        StatusCode::BAD_REQUEST,
        "a fault must do something"
    );
    assert_eq!(s.sim.counters().faults_triggered, 11);
}

/// Status codes of `n` sequential plain listings.
async fn statuses_of(s: &Server, token: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(s.get(RS, token, &[]).await.status.as_u16());
    }
    out
}

#[tokio::test]
async fn counters_count_every_request() {
    let s = start(30).await;
    let info = s.sim.fleet_info();
    let base = s.base_token().await;
    let _ = s.base_token_reply("/api/2/idp/token", "wrong").await;
    let scoped = s.scoped_token(&base, &info.customers[2].id).await;
    s.get(RS, &base, &[("limit", "10")]).await;
    s.get(RS, &scoped, &[]).await;
    s.get(RS, "garbage", &[]).await;
    s.get(RS, &base, &[("limit", "bad")]).await;
    s.get("/api/2/tenants", &base, &[("parent_id", &info.partner_id)])
        .await;
    s.get(
        &format!("/api/2/tenants/{}/children", info.partner_id),
        &base,
        &[],
    )
    .await;
    s.get("/api/2/clients/sim-client", &base, &[]).await;
    let c = s
        .control(reqwest::Method::GET, "/_sim/counters", None)
        .await
        .json;
    assert_eq!(
        c["requests"],
        json!({"token": 3, "bc_token": 0, "clients": 1, "tenants": 1, "tenant_children": 1, "resource_statuses": 4})
    );
    let by_tenant = &c["resource_statuses_by_tenant"];
    assert_eq!(
        (
            by_tenant["partner"].as_u64(),
            by_tenant[&info.customers[2].id].as_u64()
        ),
        (Some(2), Some(1))
    );
    let scoped_items = s
        .sim
        .resources(Some(&info.customers[2].id), 100)
        .expect("known")
        .len() as u64;
    assert_eq!(c["items_served"].as_u64(), Some(10 + scoped_items));
    assert_eq!(c["faults_triggered"], 0);
    let reset = s
        .control(reqwest::Method::POST, "/_sim/counters/reset", None)
        .await
        .json;
    assert_eq!(reset["requests"]["token"], 0);
    assert_eq!(
        s.sim.counters().requests.total(),
        0,
        "/_sim/ routes are not counted"
    );
}

#[tokio::test]
async fn a_reset_cuts_the_connection_and_an_endless_cursor_starts_over() {
    let s = start(30).await;
    let base = s.base_token().await;
    let add = |f: Value| s.control(reqwest::Method::POST, "/_sim/faults", Some(f));

    add(json!({"endpoint": "resource_statuses", "body": "reset"})).await;
    let resp = s
        .http
        .get(s.url(RS))
        .bearer_auth(&base)
        .send()
        .await
        .expect("the status line and headers arrive");
    assert_eq!(resp.status(), StatusCode::OK);
    let err = resp.bytes().await.expect_err("the body breaks off");
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    assert_eq!(s.get(RS, &base, &[]).await.status, StatusCode::OK, "once");

    assert_eq!(
        add(json!({"body": "endless"})).await.status,
        StatusCode::BAD_REQUEST,
        "endless needs endpoint resource_statuses"
    );
    add(json!({"endpoint": "resource_statuses", "body": "endless", "count": 3})).await;
    let q = [("order", "desc(updated_at)"), ("limit", "10")];
    let first = s.get(RS, &base, &q).await.json;
    let mut cursors = Vec::new();
    let mut after = first["paging"]["cursors"]["after"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        cursors.push(after.clone());
        let page = s
            .get(RS, &base, &[("after", after.as_str()), ("limit", "10")])
            .await
            .json;
        assert_eq!(
            super::harness::ids(page["items"].as_array().unwrap()),
            super::harness::ids(first["items"].as_array().unwrap()),
            "every cursor leads back to the first page"
        );
        after = page["paging"]["cursors"]["after"]
            .as_str()
            .unwrap()
            .to_string();
    }
    assert!(!cursors.contains(&after), "a new cursor every time");
    // The fault spent, the last cursor pages on from the start.
    let page = s.get(RS, &base, &[("after", after.as_str())]).await;
    assert_eq!(page.status, StatusCode::OK);
}

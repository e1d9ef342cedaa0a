//! The simulated datacenter over real HTTP: a server on 127.0.0.1:0 via `serve`, driven
//! with reqwest the way the worker will drive the real API. Split by concern into the
//! modules under `tests/simulator_api/`; this file holds the token and listing tests.

mod control;
mod faults;
mod harness;

use std::collections::HashSet;
use std::time::Duration;

use chrono::DateTime;
use reqwest::StatusCode;
use serde_json::{Value, json};

use harness::{RS, date_of, ids, reply, start};

#[tokio::test]
async fn token_flow_and_expiry() {
    let s = start(40).await;
    let wrong = s.base_token_reply("/api/2/idp/token", "nope").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json["error"], "invalid_client");
    assert!(wrong.json["error_description"].is_string());

    let ok = s.base_token_reply("/api/2/idp/token", "sim-secret").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json["token_type"], "bearer");
    assert!(ok.json["id_token"].is_string() && ok.json.get("expires_in").is_none());
    let expires_on = ok.json["expires_on"].as_i64().expect("unix seconds");
    assert_eq!(
        expires_on - date_of(&ok).timestamp(),
        7200,
        "lifetime = expires_on - Date"
    );
    assert_eq!(date_of(&ok), s.sim.now(), "Date is simulated time");

    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "sim-client"),
        ("client_secret", "sim-secret"),
    ];
    let post = reply(
        s.http
            .post(s.url("/api/2/idp/token"))
            .form(&form)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(post.status, StatusCode::OK, "client_secret_post works too");

    let token = ok.json["access_token"].as_str().expect("token");
    let client = s.get("/api/2/clients/sim-client", token, &[]).await;
    assert_eq!(client.status, StatusCode::OK);
    assert_eq!(
        client.json["tenant_id"].as_str(),
        Some(s.sim.fleet_info().partner_id.as_str())
    );
    assert_eq!(client.json["type"], "api_client");
    assert!(client.json["last_access_at"].is_null());
    let missing = s.get("/api/2/clients/other", token, &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json["error"]["code"], "NotFound");

    assert_eq!(s.get(RS, token, &[]).await.status, StatusCode::OK);
    s.sim.advance(Duration::from_secs(3 * 3600));
    let expired = s.get(RS, token, &[]).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (
            expired.json["domain"].as_str(),
            expired.json["code"].as_str()
        ),
        (Some("Access"), Some("AuthenticationTimeout"))
    );
    let bogus = s.get(RS, "not-a-token", &[]).await;
    assert_eq!(bogus.json["code"], "UnauthorizedRequest");
    assert_eq!(
        s.get("/api/2/clients/sim-client", token, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn jwt_bearer_scopes_tokens_to_one_customer() {
    let s = start(200).await;
    let info = s.sim.fleet_info();
    let (a, b) = (&info.customers[1], &info.customers[0]);
    let base = s.base_token().await;
    let scoped = s.scoped_token(&base, &a.id).await;
    let items = s.pass(&scoped, &[("limit", "1000")]).await;
    let expected: HashSet<String> = s
        .sim
        .resources(Some(&a.id), usize::MAX)
        .expect("a")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids(&items).into_iter().collect::<HashSet<_>>(),
        expected,
        "customer and its units"
    );
    let unit = &a.units[0];
    let r = s.get(RS, &scoped, &[("tenant_id", &unit.numeric_id)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["context"]["tenant_id"] == unit.numeric_id.as_str())
    );

    let denied = s.get(RS, &scoped, &[("tenant_id", &b.id)]).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        (denied.json["domain"].as_str(), denied.json["code"].as_str()),
        (Some("Access"), Some("AccessDeniedError"))
    );
    assert!(
        denied.json["context"]["scope"].is_string()
            && denied.json["context"]["required_scope"].is_string()
    );

    for not_a_customer in [
        info.partner_id.as_str(),
        info.folders[0].id.as_str(),
        unit.id.as_str(),
        "3b6f0c1e-5d2a-4c55-9a61-2f0f8d2d7a10",
    ] {
        let r = s.exchange("/api/2/idp/token", &base, not_a_customer).await;
        assert_eq!(
            (r.status, r.json["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("access_denied")),
            "{not_a_customer}"
        );
    }
    assert_eq!(
        s.exchange("/api/2/idp/token", "forged", &a.id).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.exchange("/api/2/idp/token", &scoped, &a.id).await.status,
        StatusCode::FORBIDDEN,
        "scoped tokens cannot be exchanged"
    );
    s.sim.advance(Duration::from_secs(3 * 3600));
    assert_eq!(
        s.exchange("/api/2/idp/token", &base, &a.id).await.status,
        StatusCode::UNAUTHORIZED,
        "expired assertion"
    );
}

#[tokio::test]
async fn bc_token_is_the_fallback_when_api2_refuses_jwt_bearer() {
    let s = start(20).await;
    let tenant = s.sim.fleet_info().customers[0].id.clone();
    let cfg = s
        .control(
            reqwest::Method::POST,
            "/_sim/config",
            Some(json!({ "api2_jwt_bearer": false })),
        )
        .await;
    assert_eq!(cfg.json["api2_jwt_bearer"], false);
    let base = s.base_token().await;
    let refused = s.exchange("/api/2/idp/token", &base, &tenant).await;
    assert_eq!(
        (refused.status, refused.json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let bc = s.exchange("/bc/idp/token", &base, &tenant).await;
    assert_eq!(bc.status, StatusCode::OK, "{}", bc.text);
    let scoped = bc.json["access_token"].as_str().expect("token");
    assert_eq!(s.get(RS, scoped, &[]).await.status, StatusCode::OK);
    assert_eq!(
        s.base_token_reply("/bc/idp/token", "sim-secret")
            .await
            .status,
        StatusCode::OK
    );
    let c = s.sim.counters();
    assert_eq!((c.requests.token, c.requests.bc_token), (2, 2));
}

#[tokio::test]
async fn paging_yields_each_resource_once_in_desc_order() {
    let s = start(300).await;
    let token = s.base_token().await;
    let items = s
        .pass(&token, &[("order", "desc(updated_at)"), ("limit", "45")])
        .await;
    assert_eq!(items.len(), 300);
    // `type=` takes exact names, one or `or(...)`: machines alone, then the VM types.
    let of_type =
        |items: &[Value], t: &str| items.iter().filter(|i| i["context"]["type"] == t).count();
    let machines = s
        .pass(
            &token,
            &[
                ("type", "resource.machine"),
                ("order", "desc(updated_at)"),
                ("limit", "45"),
            ],
        )
        .await;
    assert_eq!(machines.len(), of_type(&items, "resource.machine"));
    assert!(machines.len() < 300, "the fleet has agentless VMs too");
    let vm_types = "or(resource.virtual_machine.mshyperv,resource.virtual_machine.vmwesx)";
    let vms = s.pass(&token, &[("type", vm_types), ("limit", "45")]).await;
    assert_eq!(vms.len() + machines.len(), 300);
    assert!(vms.iter().all(|i| {
        i["context"]["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("resource.virtual_machine."))
    }));
    assert_eq!(
        ids(&items).into_iter().collect::<HashSet<_>>().len(),
        300,
        "each exactly once"
    );
    let keys: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["context"]["updated_at"].as_str().expect("t").to_string(),
                i["context"]["id"].as_str().expect("id").to_string(),
            )
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] > w[1]),
        "desc(updated_at), ties by id"
    );
    assert!(
        keys.iter().all(|(t, _)| t.len() == 30 && t.ends_with('Z')),
        "9 fraction digits"
    );
    let timestamp = s.get(RS, &token, &[("limit", "1")]).await.json["timestamp"]
        .as_str()
        .expect("ts")
        .to_string();
    assert_eq!(
        DateTime::parse_from_rfc3339(&timestamp)
            .expect("rfc3339")
            .to_utc(),
        s.sim.now()
    );
    let newer = s
        .get(
            RS,
            &token,
            &[
                ("updated_at", &format!("gt({})", keys[10].0)),
                ("limit", "1000"),
            ],
        )
        .await;
    assert_eq!(newer.json["items"].as_array().map(Vec::len), Some(10));
    // Both full reads (all types; machines then VMs), the one-item page, the ten newer.
    assert_eq!(s.sim.counters().items_served, 300 + 300 + 1 + 10);
}

#[tokio::test]
async fn deleted_resources_show_only_with_include_deleted() {
    let s = start(50).await;
    let token = s.base_token().await;
    let victims = s.sim.resources(None, 2).expect("some");
    s.sim.advance(Duration::from_secs(30));
    let r = s
        .control(
            reqwest::Method::DELETE,
            &format!("/_sim/resources/{}", victims[0].id),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s
        .control(
            reqwest::Method::DELETE,
            &format!("/_sim/resources/{}?purge=true", victims[1].id),
            None,
        )
        .await;
    assert_eq!(r.json["purged"], true);
    assert_eq!(s.pass(&token, &[("limit", "1000")]).await.len(), 48);
    let all = s
        .pass(&token, &[("limit", "1000"), ("include_deleted", "true")])
        .await;
    assert_eq!(all.len(), 49, "purged ones vanish entirely");
    let deleted: Vec<&Value> = all
        .iter()
        .filter(|i| i["context"].get("deleted_at").is_some())
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        deleted[0]["context"]["id"].as_str(),
        Some(victims[0].id.as_str())
    );
    let gone = s
        .control(
            reqwest::Method::DELETE,
            &format!("/_sim/resources/{}", victims[1].id),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn time_field_spellings() {
    let s = start(300).await;
    let token = s.base_token().await;
    let text = s.get(RS, &token, &[("limit", "1000")]).await.text;
    for field in [
        "\"last_run\"",
        "\"last_run_time\"",
        "\"next_run\"",
        "\"next_run_time\"",
        "\"last_success_run_time\"",
    ] {
        assert!(text.contains(field), "mixed has {field}");
    }
    assert!(text.contains("no_policies_applied") && text.contains("\"aggregate\""));
    for (mode, absent) in [("short", "_run_time\""), ("long", "\"last_run\"")] {
        s.control(
            reqwest::Method::POST,
            "/_sim/config",
            Some(json!({ "time_fields": mode })),
        )
        .await;
        let text = s.get(RS, &token, &[("limit", "1000")]).await.text;
        assert!(!text.contains(absent), "{mode} has no {absent}");
    }
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let s = start(5).await;
    assert_eq!(
        s.base_token_reply("/api/2/idp/token", "sim-secret")
            .await
            .status,
        StatusCode::OK
    );
    let mut s = s;
    s.shutdown.cancel();
    let task = s.task.take().expect("running");
    let done = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops in time");
    assert!(done.expect("no panic").is_ok());
}

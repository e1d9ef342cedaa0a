//! The simulated datacenter over real HTTP: a server on 127.0.0.1:0 via `serve`, driven
//! with reqwest the way the worker will drive the real API.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use acronis_watch::simulator::{Fault, FaultBody, SimOptions, Simulator, serve};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const RS: &str = "/api/resource_management/v4/resource_statuses";

struct Server {
    base: String,
    sim: Simulator,
    http: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start(fleet: usize) -> Server {
    let start = DateTime::from_timestamp(1_750_000_000, 0).expect("valid");
    let sim = Simulator::new(SimOptions {
        fleet,
        start: Some(start),
        ..SimOptions::default()
    });
    sim.freeze(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let task = Some(tokio::spawn(serve(sim.clone(), listener, shutdown.clone())));
    Server {
        base,
        sim,
        http: reqwest::Client::new(),
        shutdown,
        task,
    }
}

/// Status, headers and parsed JSON (Null when the body is not JSON).
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        json,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn base_token_reply(&self, path: &str, secret: &str) -> Reply {
        let req = self
            .http
            .post(self.url(path))
            .basic_auth("sim-client", Some(secret));
        reply(
            req.form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    async fn base_token(&self) -> String {
        let r = self
            .base_token_reply("/api/2/idp/token", "sim-secret")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json["access_token"].as_str().expect("token").to_string()
    }

    async fn exchange(&self, path: &str, base: &str, tenant: &str) -> Reply {
        let scope = format!("urn:acronis.com:tenant-id:{tenant}");
        let form = [
            ("grant_type", JWT),
            ("assertion", base),
            ("scope", scope.as_str()),
        ];
        reply(
            self.http
                .post(self.url(path))
                .bearer_auth(base)
                .form(&form)
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    async fn scoped_token(&self, base: &str, tenant: &str) -> String {
        let r = self.exchange("/api/2/idp/token", base, tenant).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json["access_token"].as_str().expect("token").to_string()
    }

    async fn get(&self, path: &str, token: &str, query: &[(&str, &str)]) -> Reply {
        let req = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .query(query);
        reply(req.send().await.expect("send")).await
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.expect("send")).await
    }

    /// Every item of a full pass, following `after` cursors.
    async fn pass(&self, token: &str, extra: &[(&str, &str)]) -> Vec<Value> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        for page in 0.. {
            let mut q: Vec<(&str, &str)> = extra.to_vec();
            if let Some(a) = &after {
                q.push(("after", a));
            }
            let r = self.get(RS, token, &q).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert_eq!(
                r.json["paging"]["cursors"].get("before").is_some(),
                page > 0,
                "before from page 2"
            );
            items.extend(r.json["items"].as_array().expect("items").iter().cloned());
            match r.json["paging"]["cursors"]["after"].as_str() {
                Some(a) => after = Some(a.to_string()),
                None => return items,
            }
        }
        unreachable!()
    }
}

fn date_of(r: &Reply) -> DateTime<Utc> {
    let text = r
        .headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .expect("Date header");
    DateTime::parse_from_rfc2822(text)
        .expect("RFC 7231 date")
        .to_utc()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["context"]["id"].as_str().expect("id").to_string())
        .collect()
}

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
        .pass(
            &token,
            &[
                ("type", "resource.machine"),
                ("order", "desc(updated_at)"),
                ("limit", "45"),
            ],
        )
        .await;
    assert_eq!(items.len(), 300);
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
    assert_eq!(s.sim.counters().items_served, 300 + 1 + 10);
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
    assert_eq!(s.sim.counters().faults_triggered, 10);
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

//! The test server: a frozen simulator served on 127.0.0.1:0, a reqwest client, and
//! helpers for tokens, listings and the control API.

use acronis_watch::simulator::{SimOptions, Simulator, serve};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const RS: &str = "/api/resource_management/v4/resource_statuses";

pub struct Server {
    pub base: String,
    pub sim: Simulator,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn start(fleet: usize) -> Server {
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
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

pub async fn reply(resp: reqwest::Response) -> Reply {
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
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn base_token_reply(&self, path: &str, secret: &str) -> Reply {
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

    pub async fn base_token(&self) -> String {
        let r = self
            .base_token_reply("/api/2/idp/token", "sim-secret")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json["access_token"].as_str().expect("token").to_string()
    }

    pub async fn exchange(&self, path: &str, base: &str, tenant: &str) -> Reply {
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

    pub async fn scoped_token(&self, base: &str, tenant: &str) -> String {
        let r = self.exchange("/api/2/idp/token", base, tenant).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json["access_token"].as_str().expect("token").to_string()
    }

    pub async fn get(&self, path: &str, token: &str, query: &[(&str, &str)]) -> Reply {
        let req = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .query(query);
        reply(req.send().await.expect("send")).await
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.expect("send")).await
    }

    /// Every item of a full pass, following `after` cursors.
    pub async fn pass(&self, token: &str, extra: &[(&str, &str)]) -> Vec<Value> {
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

pub fn date_of(r: &Reply) -> DateTime<Utc> {
    let text = r
        .headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .expect("Date header");
    DateTime::parse_from_rfc2822(text)
        .expect("RFC 7231 date")
        .to_utc()
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["context"]["id"].as_str().expect("id").to_string())
        .collect()
}

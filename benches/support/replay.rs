//! The floor that is really the floor (issue 18): a server of pre-rendered bytes.
//!
//! First it records: every request a client makes goes through it to the simulator,
//! and the answer (status, `Content-Type`, `Date`, body) is kept under the request's
//! key, in the map of the current phase (a cold poll, a full pass, an incremental
//! poll: the same URL answers differently in each). Then it replays: the same request
//! gets the same bytes from memory, rendered once, before any timing; the simulator
//! can be stopped. A request that was not recorded answers 404 and is counted.
//!
//! The key is the method, the path with its query as sent, a form body without its
//! `assertion` (the token a jwt-bearer exchange carries, new each run), and whose the
//! bearer token is: every token a recorded token answer issued is known by its scope
//! (`base`, or the `scope` it was asked for), so the same URL read for two tenants is
//! two recordings, and any client's token for a tenant finds them.
//!
//! It runs on one OS thread (a current-thread runtime), whose CPU time is read from
//! another thread (`pthread_getcpuclockid`), so a bench prints what the server itself
//! cost next to every figure.

use std::collections::HashMap;
use std::os::unix::thread::JoinHandleExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;

/// One recorded answer.
#[derive(Clone)]
struct Answer {
    status: u16,
    content_type: Option<HeaderValue>,
    date: Option<HeaderValue>,
    body: Bytes,
}

#[derive(Default)]
struct Inner {
    recording: bool,
    phase: String,
    maps: HashMap<String, HashMap<String, Answer>>,
    misses: Vec<String>,
    /// Issued token -> the scope it stands for.
    scopes: HashMap<String, String>,
}

/// The recording proxy and replay server.
pub struct Replay {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    clock: libc::clockid_t,
    _thread: std::thread::JoinHandle<()>,
}

impl Replay {
    /// Start it in front of `upstream` (the simulator's URL), recording into `phase`.
    pub fn start(upstream: &str, phase: &str) -> Replay {
        let inner = Arc::new(Mutex::new(Inner {
            recording: true,
            phase: phase.to_string(),
            ..Inner::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = (inner.clone(), upstream.to_string());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(600))
                    .build()
                    .expect("client");
                let app = axum::Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let (inner, upstream) = state.clone();
                        let client = client.clone();
                        async move {
                            handle(&inner, &upstream, &client, method, uri, headers, body).await
                        }
                    },
                );
                axum::serve(listener, app).await.expect("serve");
            });
        });
        let mut clock: libc::clockid_t = 0;
        // SAFETY: the thread is alive (it serves until the process ends), and `clock`
        // is a valid out-pointer.
        let rc = unsafe { libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut clock) };
        assert_eq!(rc, 0, "pthread_getcpuclockid");
        Replay {
            url,
            inner,
            clock,
            _thread: thread,
        }
    }

    /// Record the next requests into `phase`.
    pub fn record(&self, phase: &str) {
        let mut i = self.inner.lock().unwrap();
        i.recording = true;
        i.phase = phase.to_string();
    }

    /// Answer the next requests from `phase`'s recording.
    pub fn replay(&self, phase: &str) {
        let mut i = self.inner.lock().unwrap();
        assert!(
            i.maps.contains_key(phase),
            "nothing was recorded for {phase}"
        );
        i.recording = false;
        i.phase = phase.to_string();
    }

    /// Requests replayed without a recording, since the last call (they answered 404).
    pub fn take_misses(&self) -> Vec<String> {
        std::mem::take(&mut self.inner.lock().unwrap().misses)
    }

    /// Answers recorded for `phase`, and their bytes.
    pub fn recorded(&self, phase: &str) -> (usize, u64) {
        let i = self.inner.lock().unwrap();
        i.maps.get(phase).map_or((0, 0), |m| {
            (m.len(), m.values().map(|a| a.body.len() as u64).sum())
        })
    }

    /// The bodies recorded for `phase` whose request path contains `path`.
    pub fn bodies(&self, phase: &str, path: &str) -> Vec<Bytes> {
        let i = self.inner.lock().unwrap();
        i.maps.get(phase).map_or_else(Vec::new, |m| {
            m.iter()
                .filter(|(key, a)| key.contains(path) && a.status == 200)
                .map(|(_, a)| a.body.clone())
                .collect()
        })
    }

    /// The server thread's CPU time so far.
    pub fn cpu(&self) -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a clock id from pthread_getcpuclockid and a valid out-pointer.
        let rc = unsafe { libc::clock_gettime(self.clock, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

/// The form fields of a body, without `assertion`, sorted.
fn form(body: &[u8]) -> Vec<&str> {
    let mut fields: Vec<&str> = std::str::from_utf8(body)
        .unwrap_or("")
        .split('&')
        .filter(|f| !f.is_empty() && !f.starts_with("assertion="))
        .collect();
    fields.sort_unstable();
    fields
}

/// The key of a request: method, path and query, the form body without `assertion`,
/// and the scope of its bearer token.
fn key(inner: &Inner, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> String {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let who = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map_or("-".to_string(), |t| {
            inner
                .scopes
                .get(t.trim())
                .cloned()
                .unwrap_or_else(|| "an unknown token".to_string())
        });
    format!("{method} {path} {} as {who}", form(body).join("&"))
}

/// The token a token answer issues, and the scope it stands for.
fn issued(uri: &Uri, body: &[u8], answer: &[u8]) -> Option<(String, String)> {
    if !uri.path().ends_with("/idp/token") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(answer).ok()?;
    let token = v["access_token"].as_str()?.to_string();
    let scope = form(body)
        .into_iter()
        .find_map(|f| f.strip_prefix("scope="))
        .unwrap_or("base")
        .to_string();
    Some((token, scope))
}

async fn handle(
    inner: &Mutex<Inner>,
    upstream: &str,
    client: &reqwest::Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, recording) = {
        let i = inner.lock().unwrap();
        (key(&i, &method, &uri, &headers, &body), i.recording)
    };
    if !recording {
        let answer = {
            let mut i = inner.lock().unwrap();
            let phase = i.phase.clone();
            let found = i.maps.get(&phase).and_then(|m| m.get(&key)).cloned();
            if found.is_none() {
                i.misses.push(key.clone());
            }
            found
        };
        return match answer {
            Some(a) => respond(&a),
            None => Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Body::from(format!("not recorded: {key}")))
                .expect("a response"),
        };
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let sent = body.clone();
    let mut req = client.request(method, format!("{upstream}{path}"));
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = headers.get(&name) {
            req = req.header(name, v);
        }
    }
    let resp = match req.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(e.to_string()))
                .expect("a response");
        }
    };
    let status = resp.status().as_u16();
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    let date = resp.headers().get(header::DATE).cloned();
    let body = resp.bytes().await.unwrap_or_default();
    let answer = Answer {
        status,
        content_type,
        date,
        body,
    };
    let out = respond(&answer);
    let mut i = inner.lock().unwrap();
    if let Some((token, scope)) = issued(&uri, &sent, &answer.body) {
        i.scopes.insert(token, scope);
    }
    let phase = i.phase.clone();
    i.maps.entry(phase).or_default().insert(key, answer);
    out
}

fn respond(a: &Answer) -> Response {
    let mut r = Response::new(Body::from(a.body.clone()));
    *r.status_mut() = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    if let Some(v) = &a.content_type {
        r.headers_mut().insert(header::CONTENT_TYPE, v.clone());
    }
    if let Some(v) = &a.date {
        r.headers_mut().insert(header::DATE, v.clone());
    }
    r
}

//! A loopback HTTP sink for delivery tests: it records every request (arrival time,
//! method, path with query, headers, body) and answers from a script, a queue of
//! replies (200, 202, 429 with Retry-After, 500, 400, slow ones...) taken one per
//! request; when the queue is empty it gives the default reply (200 `ok` unless set).
//!
//! ```ignore
//! let sink = HttpSink::start().await;
//! sink.push(Reply::status(429).retry_after("3"));
//! sink.push(Reply::status(500));
//! // ... point a channel at sink.url("/hook") ...
//! let got = sink.wait_for(3, Duration::from_secs(5)).await;
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When the sink saw the request (its body read in full).
    pub at: Instant,
    pub method: Method,
    /// Path and query, e.g. `/services/T/B/x?a=1`.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// The body parsed as JSON (panics with the body if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering (for client timeouts).
    pub delay: Option<Duration>,
}

impl Reply {
    /// `status` with an empty body (200 answers `ok`, like Slack).
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: if status == 200 {
                "ok".into()
            } else {
                String::new()
            },
            delay: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Retry-After: value` (seconds or an HTTP date).
    pub fn retry_after(self, value: &str) -> Reply {
        self.header("retry-after", value)
    }

    pub fn body(mut self, body: &str) -> Reply {
        self.body = body.to_string();
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).expect("a valid scripted status");
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("a valid scripted header name"),
                HeaderValue::from_str(value).expect("a valid scripted header value"),
            );
        }
        (status, headers, self.body).into_response()
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    default: Option<Reply>,
    requests: Vec<Recorded>,
}

/// The sink, serving on 127.0.0.1 until dropped.
pub struct HttpSink {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl HttpSink {
    /// Start on an OS-chosen loopback port.
    pub async fn start() -> HttpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = CancellationToken::new();
        let app = axum::Router::new().fallback({
            let state = state.clone();
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { answer(&state, method, uri, headers, body).await }
            }
        });
        let shutdown = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
                .unwrap();
        });
        HttpSink { addr, state, stop }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Queue `reply` for a coming request (first in, first out).
    pub fn push(&self, reply: Reply) {
        self.state.lock().unwrap().script.push_back(reply);
    }

    /// The answer once the queue is empty (default: 200 `ok`).
    pub fn set_default(&self, reply: Reply) {
        self.state.lock().unwrap().default = Some(reply);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Wait until at least `n` requests arrived (panics after `timeout`); returns all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the sink got {} requests, not {n}, within {timeout:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn answer(
    state: &Mutex<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let reply = {
        let mut state = state.lock().unwrap();
        state.requests.push(Recorded {
            at: Instant::now(),
            method,
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string()),
            headers,
            body,
        });
        let default = state.default.clone();
        state
            .script
            .pop_front()
            .or(default)
            .unwrap_or_else(|| Reply::status(200))
    };
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    reply
}

//! A real SMTP server for email tests: `tests/support/smtp_server.py` (aiosmtpd) run
//! as a child process on a loopback port, in plaintext, STARTTLS or implicit-TLS mode,
//! optionally requiring a login. It reports every message it receives; a test can
//! script its next replies (`fail_next(451, 1)`, `fail_next(550, 1)`).
//!
//! Needs `python3` with aiosmtpd (`python3 -m pip install aiosmtpd`; `.ci/run` installs
//! it). TLS uses `tests/fixtures/tls/`: trust [`SmtpServer::ca_pem`] on the client.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How the server secures connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// No TLS (`smtp+plain://`).
    Plain,
    /// STARTTLS offered and required before MAIL (`smtp://`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

impl SmtpMode {
    fn arg(self) -> &'static str {
        match self {
            SmtpMode::Plain => "plain",
            SmtpMode::StartTls => "starttls",
            SmtpMode::Implicit => "implicit",
        }
    }

    /// The URL scheme a client uses for this mode.
    pub fn scheme(self) -> &'static str {
        match self {
            SmtpMode::Plain => "smtp+plain",
            SmtpMode::StartTls => "smtp",
            SmtpMode::Implicit => "smtps",
        }
    }
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// Whether the session was encrypted when DATA ended.
    pub tls: bool,
    /// The user that logged in, if any.
    pub auth: Option<String>,
    /// The reply the server gave (250, or a scripted failure).
    pub code: u16,
    /// The message as sent (headers and body, CRLF line ends).
    pub raw: String,
}

#[derive(Default)]
struct Events {
    messages: Vec<Received>,
    acks: usize,
    port: Option<u16>,
    closed: bool,
}

/// The running server; stopped on drop.
pub struct SmtpServer {
    pub port: u16,
    pub mode: SmtpMode,
    child: Child,
    stdin: Mutex<Option<ChildStdin>>,
    events: Arc<(Mutex<Events>, Condvar)>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Closing stdin ends the server; kill is the backstop.
        self.stdin.lock().unwrap().take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls")
}

impl SmtpServer {
    /// Start a server in `mode`, with no login required.
    pub fn start(mode: SmtpMode) -> SmtpServer {
        SmtpServer::start_with(mode, None)
    }

    /// Start a server in `mode` that requires AUTH as `user:password` when given.
    pub fn start_with(mode: SmtpMode, auth: Option<(&str, &str)>) -> SmtpServer {
        ensure_aiosmtpd();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0", "--mode", mode.arg()])
            .arg("--cert")
            .arg(fixtures().join("server.pem"))
            .arg("--key")
            .arg(fixtures().join("server.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((user, password)) = auth {
            cmd.arg("--auth").arg(format!("{user}:{password}"));
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 for the SMTP test server: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let errors = Arc::new(Mutex::new(String::new()));
        {
            let errors = errors.clone();
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                errors.lock().unwrap().push_str(&text);
            });
        }
        let events: Arc<(Mutex<Events>, Condvar)> = Arc::default();
        {
            let events = events.clone();
            std::thread::spawn(move || read_events(stdout, &events));
        }
        let port = {
            let (lock, cvar) = &*events;
            let (state, timeout) = cvar
                .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(20), |e| {
                    e.port.is_none() && !e.closed
                })
                .unwrap();
            match state.port {
                Some(port) => port,
                None => {
                    drop(state);
                    let _ = child.kill();
                    let _ = child.wait();
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "the SMTP test server did not start{} (it needs python3 with aiosmtpd: \
                         python3 -m pip install aiosmtpd; .ci/run installs it): {}",
                        if timeout.timed_out() {
                            " within 20 s"
                        } else {
                            ""
                        },
                        errors.lock().unwrap()
                    );
                }
            }
        };
        SmtpServer {
            port,
            mode,
            child,
            stdin: Mutex::new(stdin),
            events,
        }
    }

    /// The test CA the server's certificate chains to (PEM).
    pub fn ca_pem() -> Vec<u8> {
        std::fs::read(fixtures().join("ca.pem")).expect("tests/fixtures/tls/ca.pem")
    }

    /// An SMTP URL for this server in its mode, with `user:password` when given
    /// (percent-encode them yourself if they need it).
    pub fn url(&self, login: Option<(&str, &str)>) -> String {
        let userinfo = login.map_or(String::new(), |(u, p)| format!("{u}:{p}@"));
        format!("{}://{userinfo}127.0.0.1:{}", self.mode.scheme(), self.port)
    }

    /// Answer `code` (e.g. 451, 550) to the next `count` messages; returns once the
    /// server has taken the order.
    pub fn fail_next(&self, code: u16, count: u32) {
        self.order(serde_json::json!({"cmd": "fail", "code": code, "count": count}));
    }

    /// Wait `delay` before answering (250) the next `count` messages.
    pub fn stall_next(&self, delay: Duration, count: u32) {
        self.order(
            serde_json::json!({"cmd": "stall", "seconds": delay.as_secs_f64(), "count": count}),
        );
    }

    fn order(&self, command: Value) {
        let (lock, cvar) = &*self.events;
        let acks = lock.lock().unwrap().acks;
        {
            let mut stdin = self.stdin.lock().unwrap();
            let stdin = stdin.as_mut().expect("the server is running");
            writeln!(stdin, "{command}").unwrap();
            stdin.flush().unwrap();
        }
        let (state, timeout) = cvar
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(10), |e| {
                e.acks == acks && !e.closed
            })
            .unwrap();
        assert!(
            state.acks > acks && !timeout.timed_out(),
            "the SMTP test server did not take the order"
        );
    }

    /// Every message received so far (failed ones too, with their `code`).
    pub fn messages(&self) -> Vec<Received> {
        self.events.0.lock().unwrap().messages.clone()
    }

    /// Wait until at least `n` messages arrived (panics after `timeout`); returns all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP server got {} messages, not {n}, within {timeout:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn read_events(stdout: std::process::ChildStdout, events: &(Mutex<Events>, Condvar)) {
    let (lock, cvar) = events;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let mut state = lock.lock().unwrap();
        match event["event"].as_str() {
            Some("ready") => state.port = event["port"].as_u64().map(|p| p as u16),
            Some("ok") => state.acks += 1,
            Some("message") => state.messages.push(Received {
                mail_from: event["mail_from"].as_str().unwrap_or("").to_string(),
                rcpt_tos: event["rcpt_tos"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                tls: event["tls"].as_bool().unwrap_or(false),
                auth: event["auth"].as_str().map(str::to_string),
                code: event["code"].as_u64().unwrap_or(0) as u16,
                raw: event["raw"].as_str().unwrap_or("").to_string(),
            }),
            _ => {}
        }
        cvar.notify_all();
    }
    lock.lock().unwrap().closed = true;
    cvar.notify_all();
}

/// Install aiosmtpd with pip the first time it is missing, so `cargo test` alone sets
/// up a fresh machine that has python3 (as .ci/run does before it).
fn ensure_aiosmtpd() {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let present = |_: ()| {
            Command::new("python3")
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if present(()) {
            return;
        }
        eprintln!("installing aiosmtpd for the SMTP tests (python3 -m pip install aiosmtpd)");
        let _ = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "aiosmtpd",
            ])
            .env("PIP_ROOT_USER_ACTION", "ignore")
            .status();
    });
}

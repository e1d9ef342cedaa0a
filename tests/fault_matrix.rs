//! The fault matrix (issue 7; docs/reliability.md has the same table): what the worker
//! does when the Acronis API or a channel misbehaves, one row per fault, the expected
//! outcome written next to it. Every row runs the real binary (`once`) against the
//! built-in simulator, loopback HTTP sinks and a real SMTP server.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Sim, WorkDir, code, ids, text};

const NOW: &str = "2026-11-02T10:00:00Z";

/// What a poll with a fault injected must end in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Poll {
    /// Exit 0 and every machine of every tenant stored: the fault was retried or
    /// handled within the poll.
    Completes,
    /// Exit 1; only the victim tenant is incomplete, its error line names it and says
    /// what went wrong; the next poll (the fault spent) completes.
    VictimFails,
    /// Exit 1 before any tenant is polled; the next poll completes.
    NothingPolled,
    /// Exit 0, but the victim's pass ended at the fault as at the API's own end: what
    /// lay beyond it is read at the tenant's next full resync.
    VictimShort,
}

struct ApiCase {
    fault: &'static str,
    /// Faults to inject, as `POST /_sim/faults` takes them; `"VICTIM"` stands for a
    /// tenant with two pages or more.
    inject: Value,
    /// Extra `[acronis]` lines.
    acronis: &'static str,
    expect: Poll,
    /// Words the error line must carry (VictimFails, NothingPolled).
    says: &'static [&'static str],
    /// The run must take at least this long (a `Retry-After` honoured).
    at_least: Duration,
}

fn api(fault: &'static str, inject: Value, expect: Poll, says: &'static [&'static str]) -> ApiCase {
    ApiCase {
        fault,
        inject,
        acronis: "",
        expect,
        says,
        at_least: Duration::ZERO,
    }
}

fn api_cases() -> Vec<ApiCase> {
    use Poll::*;
    let rs = |f: Value| {
        let mut f = f;
        f["endpoint"] = json!("resource_statuses");
        json!([f])
    };
    let many = 1000;
    vec![
        api(
            "401 mid-poll: the token expired",
            rs(json!({"skip": 1, "expire_tokens": true})),
            Completes,
            &[],
        ),
        api(
            "401 mid-poll: the token refused",
            rs(json!({"skip": 1, "status": 401})),
            Completes,
            &[],
        ),
        api(
            "401 on every listing of one tenant",
            rs(json!({"tenant": "VICTIM", "status": 401, "count": many})),
            VictimFails,
            &["401"],
        ),
        api(
            "403 for one tenant",
            rs(json!({"tenant": "VICTIM", "status": 403, "count": many})),
            VictimFails,
            &["403"],
        ),
        api(
            "404 for one tenant",
            rs(json!({"tenant": "VICTIM", "status": 404})),
            VictimFails,
            &["404"],
        ),
        ApiCase {
            at_least: Duration::from_secs(2),
            ..api(
                "429 with Retry-After: 2",
                rs(json!({"status": 429, "retry_after": 2})),
                Completes,
                &[],
            )
        },
        api(
            "429 without Retry-After",
            rs(json!({"status": 429})),
            Completes,
            &[],
        ),
        api("500 once", rs(json!({"status": 500})), Completes, &[]),
        api(
            "502 with an HTML proxy page",
            rs(json!({"status": 502, "body": "html"})),
            Completes,
            &[],
        ),
        api(
            "503 twice",
            rs(json!({"status": 503, "count": 2})),
            Completes,
            &[],
        ),
        ApiCase {
            acronis: "max_retries = 1",
            ..api(
                "500 on every listing of one tenant",
                rs(json!({"tenant": "VICTIM", "status": 500, "count": many})),
                VictimFails,
                &["500", "attempts"],
            )
        },
        ApiCase {
            acronis: "request_timeout = \"1s\"",
            ..api(
                "a listing that times out",
                rs(json!({"delay_ms": 2500})),
                Completes,
                &[],
            )
        },
        ApiCase {
            acronis: "request_timeout = \"1s\"\nmax_retries = 1",
            ..api(
                "every listing of one tenant times out",
                rs(json!({"tenant": "VICTIM", "delay_ms": 1500, "count": many})),
                VictimFails,
                &["timed out"],
            )
        },
        api(
            "connection reset mid-body",
            rs(json!({"skip": 1, "body": "reset"})),
            Completes,
            &[],
        ),
        api(
            "malformed JSON",
            rs(json!({"tenant": "VICTIM", "skip": 1, "body": "malformed"})),
            VictimFails,
            &["invalid response body"],
        ),
        api(
            "truncated JSON",
            rs(json!({"tenant": "VICTIM", "skip": 1, "body": "truncated"})),
            VictimFails,
            &["truncated"],
        ),
        api(
            "an empty first page",
            rs(json!({"tenant": "VICTIM", "body": "empty"})),
            VictimShort,
            &[],
        ),
        api(
            "a cursor that never ends",
            rs(json!({"tenant": "VICTIM", "body": "endless", "count": many})),
            VictimFails,
            &["never ends"],
        ),
        api(
            "token endpoint 503 once",
            json!([{"endpoint": "token", "status": 503}]),
            Completes,
            &[],
        ),
        api(
            "token endpoint 401: the secret refused",
            json!([{"endpoint": "token", "status": 401, "count": many}]),
            NothingPolled,
            &["401"],
        ),
        ApiCase {
            acronis: "max_retries = 1",
            ..api(
                "tenant listing 500 every time",
                json!([{"endpoint": "tenants", "status": 500, "count": many}]),
                NothingPolled,
                &["500"],
            )
        },
    ]
}

/// The victim's faults in `inject`, with its id filled in.
fn with_victim(inject: &Value, victim: &str) -> Value {
    let text = inject
        .to_string()
        .replace("\"VICTIM\"", &format!("\"{victim}\""));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acronis_api_faults() {
    let mut failures = Vec::new();
    for case in api_cases() {
        let sim = Sim::small(90, 3).await;
        let customers = sim.customers();
        let victim = customers
            .iter()
            .find(|c| sim.resource_count(c) > 20)
            .cloned()
            .expect("a tenant with two pages of 20");
        let work = WorkDir::new(&sim.url, case.acronis);
        // Once cold, so that the fault meets an incremental poll too where it can.
        let inject = with_victim(&case.inject, &victim);
        for f in inject.as_array().unwrap() {
            let r = sim.post("/_sim/faults", f.clone()).await;
            assert!(r.get("error").is_none(), "{}: {r}", case.fault);
        }
        let started = Instant::now();
        let out = work.run(&["once", "--now", NOW]).await;
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let stored = work.resources().await;
        let per_tenant = |t: &str| -> Vec<String> {
            let mine: Vec<Value> = stored
                .iter()
                .filter(|r| r["tenant_id"] == t)
                .cloned()
                .collect();
            ids(&mine)
        };
        let mut wrong = Vec::new();
        let want_code = match case.expect {
            Poll::Completes | Poll::VictimShort => 0,
            Poll::VictimFails | Poll::NothingPolled => 1,
        };
        if code(&out) != want_code {
            wrong.push(format!("exit {} (want {want_code})", code(&out)));
        }
        if took < case.at_least {
            wrong.push(format!("took {took:?}, less than {:?}", case.at_least));
        }
        for c in &customers {
            let complete = per_tenant(c) == sim.resource_ids(Some(c)).await;
            let should = match case.expect {
                Poll::Completes => true,
                Poll::VictimFails | Poll::VictimShort => *c != victim,
                Poll::NothingPolled => false,
            };
            if complete != should
                && !(case.expect == Poll::NothingPolled && per_tenant(c).is_empty())
            {
                wrong.push(format!("tenant {c} complete: {complete}, want {should}"));
            }
        }
        if matches!(case.expect, Poll::VictimFails | Poll::NothingPolled) {
            let line = stderr
                .lines()
                .find(|l| {
                    l.starts_with("error:")
                        && (case.expect == Poll::NothingPolled || l.contains(&victim))
                })
                .unwrap_or("");
            for word in case.says {
                if !line.contains(word) {
                    wrong.push(format!("the error line lacks {word:?}: {line:?}"));
                }
            }
            sim.sim.clear_faults();
            let again = work.run(&["once", "--now", NOW]).await;
            if code(&again) != 0 || ids(&work.resources().await) != sim.resource_ids(None).await {
                wrong.push(format!("the next poll did not complete: {}", text(&again)));
            }
        }
        let verdict = if wrong.is_empty() { "ok" } else { "WRONG" };
        eprintln!(
            "{verdict:5} {:45} {:?} exit {} in {:.1}s",
            case.fault,
            case.expect,
            code(&out),
            took.as_secs_f64()
        );
        if !wrong.is_empty() {
            failures.push(format!("{}: {}\n{stderr}", case.fault, wrong.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

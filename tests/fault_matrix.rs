//! The fault matrix (issue 7; docs/reliability.md has the same table): what the worker
//! does when the Acronis API or a channel misbehaves, one row per fault, the expected
//! outcome written next to it. Every row runs the real binary (`once`) against the
//! built-in simulator, loopback HTTP sinks and a real SMTP server.

mod support;

use support::delivery as common;

use std::time::{Duration, Instant};

use common::{
    Bench, email_channel, hook_channel, key, pd_channel, slack_channel, start, status_rule,
    teams_channel,
};
use serde_json::{Value, json};
use support::sinks::{HttpSink, Reply};
use support::smtp::{SmtpMode, SmtpServer};
use support::{Sim, WorkDir, code, ids, tenant_ids, text};

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
        let per_tenant = |t: &str| tenant_ids(&stored, t);
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

/// The row "an empty page during a full resync": what the pass did not list is looked
/// up by id before it is forgotten, so live machines stay and only a purged one goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_page_during_a_full_resync_deletes_only_what_is_gone() {
    let sim = Sim::small(90, 3).await;
    let victim = sim
        .customers()
        .into_iter()
        .find(|c| sim.resource_count(c) > 40)
        .expect("a tenant with three pages of 20");
    let work = WorkDir::new(&sim.url, "");
    let out = work.run(&["once", "--now", NOW]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let mine = sim.resource_ids(Some(&victim)).await;
    let purged = mine[0].clone();
    sim.sim.delete_resource(&purged, true).unwrap();
    // The full resync (due after 6 h) gets an empty second page for the victim.
    sim.post(
        "/_sim/faults",
        json!({"endpoint": "resource_statuses", "tenant": victim, "skip": 1, "body": "empty"}),
    )
    .await;
    let later = "2026-11-02T17:00:00Z";
    let out = work.run(&["once", "--now", later]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did not list resources the API still has"),
        "{}",
        text(&out)
    );
    assert_eq!(
        ids(&work.resources().await),
        sim.resource_ids(None).await,
        "every live machine kept, the purged one gone"
    );
    let stored = work.resources().await;
    assert!(stored.iter().all(|r| r["id"] != purged.as_str()));
}

/// What one critical machine's notification must end as, after `once --deliver-for 4s`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Delivery {
    /// Retried (after the fault's `Retry-After`, if any) and delivered: exit 0, two
    /// attempts, nothing queued or dead.
    Retried,
    /// A dead letter after one attempt: exit 1, its reason in `state dead`.
    Dead,
    /// Retryable but never getting through within the run: exit 3, still queued with
    /// its last error, not dead.
    Queued,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Slack,
    Teams,
    PagerDuty,
    Webhook,
}

impl Kind {
    /// The kind's success answer.
    fn ok(self) -> Reply {
        match self {
            Kind::Slack | Kind::Webhook => Reply::status(200),
            Kind::Teams | Kind::PagerDuty => Reply::status(202),
        }
    }

    fn channel(self, base: &str) -> String {
        match self {
            Kind::Slack => slack_channel("ch", base, ""),
            Kind::Teams => teams_channel("ch", base, ""),
            Kind::PagerDuty => pd_channel("ch", base, ""),
            Kind::Webhook => hook_channel("ch", base, ""),
        }
    }
}

/// An HTTP channel's fault: the first answer, then the kind's success.
struct HttpCase {
    fault: &'static str,
    first: Option<Reply>,
    /// Point the channel at the sink with `https://` (the sink speaks plain HTTP).
    tls: bool,
    expect: Delivery,
    /// The reason (`state dead` / `state outbox`) carries these words.
    says: &'static [&'static str],
    /// The retry came no sooner than this after the first attempt.
    gap: Duration,
}

fn http(
    fault: &'static str,
    first: Reply,
    expect: Delivery,
    says: &'static [&'static str],
) -> HttpCase {
    HttpCase {
        fault,
        first: Some(first),
        tls: false,
        expect,
        says,
        gap: Duration::ZERO,
    }
}

fn http_cases() -> Vec<HttpCase> {
    use Delivery::*;
    vec![
        HttpCase {
            gap: Duration::from_secs(2),
            ..http(
                "429 with Retry-After: 2",
                Reply::status(429).retry_after("2"),
                Retried,
                &[],
            )
        },
        http("429 without Retry-After", Reply::status(429), Retried, &[]),
        http("408", Reply::status(408), Retried, &[]),
        http("500", Reply::status(500).body("oops"), Retried, &[]),
        http("503", Reply::status(503), Retried, &[]),
        http(
            "400",
            Reply::status(400).body("invalid_payload"),
            Dead,
            &["400"],
        ),
        http("403", Reply::status(403), Dead, &["403"]),
        http(
            "404",
            Reply::status(404).body("channel_not_found"),
            Dead,
            &["404"],
        ),
        http(
            "a timeout (no answer within request_timeout)",
            Reply::status(200).delay(Duration::from_secs(2)),
            Retried,
            &[],
        ),
        HttpCase {
            fault: "TLS failure (https to a plain HTTP server)",
            first: None,
            tls: true,
            expect: Queued,
            says: &["could not connect"],
            gap: Duration::ZERO,
        },
    ]
}

/// A bench with one critical machine and a rule notifying channel `ch`.
async fn one_alert(channel: &str) -> (Bench, String) {
    let b = Bench::new(20, 1, "request_timeout = \"1s\"").await;
    b.add(channel);
    b.rules("r.toml", &status_rule("crit", &["fm-*"], &["ch"], ""));
    let v = b
        .steer(0, 1, |i| format!("fm-{i}"), json!({"status": "critical"}))
        .await;
    (b, key("crit", &v[0]))
}

/// What the SMTP server does with the message, or how the URL mismatches it.
#[derive(Clone, Copy, PartialEq)]
enum Smtp {
    /// Answer the message with this code (then 250 to the next).
    Answer(u16),
    /// Answer the message only after 3 s (then at once).
    Stall,
    /// Nothing: the URL asks for TLS from a plaintext server.
    TlsToPlain,
}

/// What `once` left, against what `expect` says: the mismatches.
async fn judge(
    b: &Bench,
    run: &common::Run,
    attempts: Option<usize>,
    expect: Delivery,
    says: &[&str],
) -> Vec<String> {
    let mut wrong = Vec::new();
    let (want_code, want_attempts, queued, dead) = match expect {
        Delivery::Retried => (0, Some(2), 0, 0),
        Delivery::Dead => (1, Some(1), 0, 1),
        Delivery::Queued => (3, None, 1, 0),
    };
    if run.code() != want_code {
        wrong.push(format!("exit {} (want {want_code})", run.code()));
    }
    if let (Some(got), Some(want)) = (attempts, want_attempts)
        && got != want
    {
        wrong.push(format!("{got} attempts arrived (want {want})"));
    }
    let (q, d) = (b.outbox().await, b.dead().await);
    if (q.len(), d.len()) != (queued, dead) {
        wrong.push(format!(
            "{} queued, {} dead (want {queued}, {dead})",
            q.len(),
            d.len()
        ));
    }
    let reason = q
        .iter()
        .chain(&d)
        .map(|i| i["last_error"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join(" | ");
    for word in says {
        if !reason.contains(word) {
            wrong.push(format!("the reason lacks {word:?}: {reason:?}"));
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_faults() {
    let _serial = common::shared().await;
    let mut failures = Vec::new();
    let mut report =
        |kind: &str, fault: &str, expect: Delivery, run: &common::Run, wrong: Vec<String>| {
            let verdict = if wrong.is_empty() { "ok" } else { "WRONG" };
            eprintln!(
                "{verdict:5} {kind:9} {fault:45} {expect:?} exit {}",
                run.code()
            );
            if !wrong.is_empty() {
                failures.push(format!(
                    "{kind} {fault}: {}\n{}",
                    wrong.join("; "),
                    run.text()
                ));
            }
        };
    for kind in [Kind::Slack, Kind::Teams, Kind::PagerDuty, Kind::Webhook] {
        for case in http_cases() {
            let sink = HttpSink::start().await;
            sink.set_default(kind.ok());
            if let Some(first) = case.first.clone() {
                sink.push(first);
            }
            let base = sink.url("");
            let base = if case.tls {
                base.replacen("http://", "https://", 1)
            } else {
                base
            };
            let (b, _key) = one_alert(&kind.channel(&base)).await;
            let run = b.once(start(), Some("4s")).await;
            let got = sink.requests();
            let mut wrong = judge(&b, &run, Some(got.len()), case.expect, case.says).await;
            if case.gap > Duration::ZERO && got.len() == 2 && got[1].at - got[0].at < case.gap {
                wrong.push(format!(
                    "retried after {:?}, sooner than {:?}",
                    got[1].at - got[0].at,
                    case.gap
                ));
            }
            report(&format!("{kind:?}"), case.fault, case.expect, &run, wrong);
        }
    }
    // Email: the SMTP server's answer to the message, then 250.
    let smtp_cases = [
        (
            "421 service not available",
            Smtp::Answer(421),
            Delivery::Retried,
            &[][..],
        ),
        (
            "450 mailbox busy",
            Smtp::Answer(450),
            Delivery::Retried,
            &[],
        ),
        ("451 local error", Smtp::Answer(451), Delivery::Retried, &[]),
        (
            "550 mailbox unavailable",
            Smtp::Answer(550),
            Delivery::Dead,
            &["550"],
        ),
        (
            "TLS failure (smtps to a plaintext server)",
            Smtp::TlsToPlain,
            Delivery::Queued,
            &[],
        ),
        (
            "no answer (request_timeout)",
            Smtp::Stall,
            Delivery::Retried,
            &[],
        ),
    ];
    for (fault, smtp_fault, expect, says) in smtp_cases {
        let smtp = SmtpServer::start(SmtpMode::Plain);
        let url = smtp.url(None);
        let url = match smtp_fault {
            Smtp::Answer(code) => {
                smtp.fail_next(code, 1);
                url
            }
            // No reply to the message for 3 s: `request_timeout` (1 s) cuts the send.
            Smtp::Stall => {
                smtp.stall_next(Duration::from_secs(3), 1);
                url
            }
            Smtp::TlsToPlain => url.replacen("smtp+plain://", "smtps://", 1),
        };
        let (b, _key) = one_alert(&email_channel("ch", &url, "")).await;
        let run = b.once(start(), Some("4s")).await;
        let accepted = smtp.messages().iter().filter(|m| m.code == 250).count();
        let want_accepted = usize::from(expect == Delivery::Retried);
        let mut wrong = judge(&b, &run, None, expect, says).await;
        // The stalled message itself may still be accepted once its 3 s are up: at
        // least once.
        let stalled_too = smtp_fault == Smtp::Stall && accepted == want_accepted + 1;
        if accepted != want_accepted && !stalled_too {
            wrong.push(format!(
                "{accepted} messages accepted (want {want_accepted})"
            ));
        }
        // Delivered on the retry, not by waiting the stall out.
        let cut = "no answer within 1s";
        if smtp_fault == Smtp::Stall && !run.text().contains(cut) {
            wrong.push(format!("the run never says {cut:?}"));
        }
        report("email", fault, expect, &run, wrong);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

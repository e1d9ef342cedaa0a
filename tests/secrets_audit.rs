//! The secrets audit (SPEC §7, issue 7): every command, in failing and succeeding
//! scenarios, at `-vv` in text and JSON logs, with recognisable secrets in the
//! configuration: the API client secret, the API's access tokens, webhook URLs with
//! tokens in their paths, a webhook bearer header, a PagerDuty routing key and an SMTP
//! password. None may appear in stdout, stderr, `state` output, `/metrics`, or the
//! bytes of the state directory. Services echo secrets back in their error answers, as
//! proxies and validators do, so the worker has every chance to repeat them.

mod support;

use support::delivery as common;

use std::time::Duration;

use acronis_watch::simulator::SimOptions;
use common::{
    Bench, HOOK_TOKEN, ROUTING_KEY, SMTP_PASSWORD, email_channel, hook_channel, hook_path,
    pd_channel, slack_channel, slack_path, status_rule, teams_channel, teams_path, ts,
};
use serde_json::json;
use support::sinks::{HttpSink, Reply};
use support::smtp::{SmtpMode, SmtpServer};
use support::{BIN, Sim, WorkDir, code, free_port, text};

const CLIENT_SECRET: &str = "cl1entS3cretAUDITxyz0987";
const NOW: &str = "2026-11-02T10:00:00Z";

/// Everything the commands printed, by what printed it.
#[derive(Default)]
struct Transcript(Vec<(String, String)>);

impl Transcript {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.0.push((what.into(), text.into()));
    }

    /// Every place a secret shows, as `what: secret`.
    fn leaks(&self, secrets: &[String]) -> Vec<String> {
        let mut found = Vec::new();
        for (what, text) in &self.0 {
            for s in secrets {
                if text.contains(s.as_str()) {
                    let at = text.find(s.as_str()).unwrap();
                    let from = text[..at]
                        .char_indices()
                        .rev()
                        .nth(80)
                        .map_or(0, |(i, _)| i);
                    found.push(format!("{what}: {s:?} in …{}…", &text[from..at + s.len()]));
                }
            }
        }
        found
    }
}

/// `acronis-watch ARGS` with the audit's environment (every secret set).
async fn run(work: &WorkDir, env: &[(&str, String)], args: &[&str]) -> std::process::Output {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    work.run_env(args, &env).await
}

/// Every file under `dir`, read as bytes (lossy text, for the scan).
fn files_under(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            out.push((
                format!("state file {}", path.display()),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_any_output_of_any_command() {
    let _serial = common::shared().await;
    let sim = Sim::start(SimOptions {
        fleet: 40,
        tenants: 2,
        seed: 42,
        client_secret: CLIENT_SECRET.into(),
        start: Some(NOW.parse().unwrap()),
        ..SimOptions::default()
    })
    .await;
    let customer = sim.customers()[0].clone();
    let work = WorkDir::new(&sim.url, "");
    std::fs::create_dir_all(work.path().join("rules")).unwrap();
    let b = Bench { sim, work };
    let mut env = Bench::env();
    env.retain(|(k, _)| *k != "TEST_CLIENT_SECRET");
    env.push(("TEST_CLIENT_SECRET", CLIENT_SECRET.to_string()));

    // Channels that fail, echoing their secrets, and ones that work.
    let (slack, teams, pd, hook, good) = (
        HttpSink::start().await,
        HttpSink::start().await,
        HttpSink::start().await,
        HttpSink::start().await,
        HttpSink::start().await,
    );
    slack.set_default(Reply::status(500).body(&format!("no such hook {}", slack_path())));
    teams.set_default(
        Reply::status(429)
            .retry_after("1")
            .body(&format!("throttled {}", teams_path())),
    );
    pd.set_default(Reply::status(400).body(&format!("bad routing_key {ROUTING_KEY}")));
    hook.set_default(
        Reply::status(401).body(&format!("Bearer {HOOK_TOKEN} refused at {}", hook_path())),
    );
    let refused = SmtpServer::start_with(SmtpMode::Plain, Some(("alerts@msp.example", "other")));
    let accepted =
        SmtpServer::start_with(SmtpMode::Plain, Some(("alerts@msp.example", SMTP_PASSWORD)));
    let login = Some(("alerts%40msp.example", "${SMTP_PASSWORD}"));
    b.add(&slack_channel("slack", &slack.url(""), ""));
    b.add(&teams_channel("teams", &teams.url(""), ""));
    b.add(&pd_channel("pd", &pd.url(""), ""));
    b.add(&hook_channel("hook", &hook.url(""), ""));
    b.add(&hook_channel("hook-ok", &good.url(""), ""));
    b.add(&slack_channel("slack-refused", "http://127.0.0.1:9", ""));
    b.add(&email_channel("mail-refused", &refused.url(login), ""));
    b.add(&email_channel("mail", &accepted.url(login), ""));
    let port = free_port();
    b.add(&format!(
        "\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n[digest]\ncron = \"0 0 8 * * Mon\"\nchannel = \"mail\"\n\n\
         [tenant.\"{customer}\"]\ndigest_to = [\"it@contoso.example\"]\n"
    ));
    let channels = [
        "slack",
        "teams",
        "pd",
        "hook",
        "hook-ok",
        "slack-refused",
        "mail-refused",
        "mail",
    ];
    b.rules(
        "r.toml",
        &status_rule("crit", &["audit-*"], &channels, "resolve = true"),
    );
    b.steer(
        0,
        2,
        |i| format!("audit-{i}"),
        json!({"status": "critical"}),
    )
    .await;

    let mut seen = Transcript::default();
    let logs: [&[&str]; 2] = [&["-vv"], &["-vv", "--log-format", "json"]];
    for (n, log) in logs.iter().enumerate() {
        let later = ts(NOW.parse::<chrono::DateTime<chrono::Utc>>().unwrap()
            + chrono::Duration::minutes(10 * n as i64));
        let commands: Vec<Vec<&str>> = vec![
            vec!["check"],
            vec!["once", "--now", &later, "--deliver-for", "3s"],
            vec!["state", "resources"],
            vec!["state", "resources", "--json"],
            vec!["state", "tenants", "--json"],
            vec!["state", "alerts"],
            vec!["state", "alerts", "--json"],
            vec!["state", "outbox"],
            vec!["state", "outbox", "--json"],
            vec!["state", "dead"],
            vec!["state", "dead", "--json"],
            vec!["state", "retry-dead"],
            vec!["preview", "--rule", "crit"],
            vec!["digest", "--dry-run", "--now", &later],
            vec!["digest", "--now", &later],
        ];
        for cmd in commands {
            let args: Vec<&str> = log.iter().copied().chain(cmd.iter().copied()).collect();
            let out = run(&b.work, &env, &args).await;
            seen.add(args.join(" "), text(&out));
        }
        for ch in channels {
            for cmd in [
                ["preview", "--rule", "crit", "--channel", ch],
                ["test-notify", "--channel", ch, "", ""],
            ] {
                let cmd: Vec<&str> = cmd.into_iter().filter(|a| !a.is_empty()).collect();
                let args: Vec<&str> = log.iter().copied().chain(cmd).collect();
                let out = run(&b.work, &env, &args).await;
                seen.add(args.join(" "), text(&out));
            }
        }
    }

    // `run`, with /metrics scraped while it works, then stopped.
    let child = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(b.work.config())
        .args(["-vv", "--log-format", "json", "run"])
        .current_dir(b.work.path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut metrics = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await {
            metrics = r.text().await.unwrap_or_default();
            if metrics.contains("acronis_watch") {
                break;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!metrics.is_empty(), "/metrics answered");
    seen.add("/metrics", metrics);
    let out = support::sigterm(child).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    seen.add("run -vv --log-format json", text(&out));

    // Failures that carry secrets in what they are about.
    let mut wrong = env.clone();
    wrong.retain(|(k, _)| *k != "TEST_CLIENT_SECRET");
    wrong.push(("TEST_CLIENT_SECRET", format!("{CLIENT_SECRET}-wrong")));
    let out = run(&b.work, &wrong, &["-vv", "once", "--now", NOW]).await;
    assert_eq!(
        code(&out),
        1,
        "a refused client secret fails: {}",
        text(&out)
    );
    seen.add("once with a wrong client secret", text(&out));
    let cfg = std::fs::read_to_string(b.work.config()).unwrap();
    b.work.write_config(&format!(
        "{cfg}\n[[channel]]\nname = \"bad-url\"\ntype = \"slack\"\nurl = \"htps://hooks.example${{SLACK_PATH}}\"\n"
    ));
    let out = run(&b.work, &env, &["-vv", "check"]).await;
    assert_eq!(code(&out), 2, "a bad URL is a config error: {}", text(&out));
    seen.add("check with a malformed URL holding a token", text(&out));
    b.work.write_config(&cfg);

    // The secrets really went out, so the scans could have found them.
    assert!(slack.requests().iter().all(|r| r.path == slack_path()));
    assert!(!pd.requests().is_empty() && pd.requests()[0].json()["routing_key"] == ROUTING_KEY);
    assert!(
        !accepted.messages().is_empty(),
        "the good mail server took mail"
    );
    assert!(!good.requests().is_empty());

    let mut files = Vec::new();
    files_under(&b.work.path().join("state"), &mut files);
    assert!(!files.is_empty());
    for (what, bytes) in files {
        seen.add(what, bytes);
    }
    let mut secrets: Vec<String> = common::secrets().iter().map(|s| s.to_string()).collect();
    secrets.push(CLIENT_SECRET.to_string());
    let tokens = b.sim.sim.issued_tokens();
    assert!(!tokens.is_empty());
    secrets.extend(tokens);
    let leaks = seen.leaks(&secrets);
    eprintln!(
        "secrets audit: {} outputs and state files scanned for {} secrets ({} API tokens)",
        seen.0.len(),
        secrets.len(),
        secrets.len() - common::secrets().len() - 1
    );
    assert!(leaks.is_empty(), "secrets shown:\n{}", leaks.join("\n"));
}

//! Whole-file tests: the SPEC §3 example and the shipped worker.toml parse; every
//! error names file, line and key; no message and no `Debug` output holds a secret.

mod errors;
mod secrets;

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

/// The example from SPEC.md §3, verbatim.
pub(super) const SPEC_EXAMPLE: &str = r#"rules_dir = "rules"          # default; relative to this file's folder
templates_dir = "templates"  # default

[acronis]
datacenter_url = "https://eu2-cloud.acronis.com"  # API paths are appended to this
client_id = "${ACRONIS_CLIENT_ID}"
client_secret = "${ACRONIS_CLIENT_SECRET}"
# Which tenants to watch:
#   omitted     -> one poll at the API client's own scope with its base token
#   "children"  -> every customer tenant below the client's tenant, folders included
#                  (kind = "customer" anywhere in the subtree), each with its own
#                  tenant-scoped token (jwt-bearer exchange); the list is refreshed hourly
#   ["id", ...] -> exactly these customer tenants, each with a scoped token
tenants = "children"
resource_types = ["resource.machine"]  # sent as type=...
page_size = 500                        # sent as limit=...
poll_every = "5m"
full_resync_every = "6h"   # a full pass (no early stop) to catch deletions and missed updates
overlap = "2m"             # re-read this far behind the watermark each incremental poll
request_timeout = "30s"
max_concurrent_tenants = 4
shard = "0/1"              # "i/n": watch only the tenants whose stable hash mod n == i, so n
                           # replicas (e.g. a Kubernetes StatefulSet) split a large partner

[state]
path = "./state"           # the sled directory, created 0700

[server]                   # optional
listen = "127.0.0.1:9108"  # GET /metrics (Prometheus text), GET /healthz

[[channel]]
name = "noc-slack"
type = "slack"             # slack | teams | email | pagerduty | webhook
url = "${SLACK_WEBHOOK_URL}"
rate = "1/s"               # per channel: N/s, N/m or N/h
burst = 1
template = "slack"         # default: the type's name
max_attempts = 10          # then the notification becomes a dead letter

[[channel]]
name = "noc-teams"
type = "teams"             # a Teams Workflows webhook; payload is an Adaptive Card message
url = "${TEAMS_WEBHOOK_URL}"
rate = "4/s"

[[channel]]
name = "oncall"
type = "pagerduty"         # Events API v2; trigger on firing, resolve on resolved, dedup_key = alert key
routing_key = "${PD_ROUTING_KEY}"
url = "https://events.pagerduty.com/v2/enqueue"   # default; overridable

[[channel]]
name = "mail"
type = "email"
smtp = "smtps://alerts%40msp.example:${SMTP_PASSWORD}@smtp.msp.example:465"
# smtp://host:587 requires STARTTLS; smtps:// is implicit TLS;
# smtp+plain://host:port is plaintext and only for a relay on loopback or a trusted network
from = "MSP Alerts <alerts@msp.example>"
to = ["noc@msp.example"]

[[channel]]
name = "ticketing"
type = "webhook"           # POST of the rendered JSON template
url = "https://psa.example/hooks/acronis"
headers = { Authorization = "Bearer ${PSA_TOKEN}" }

[digest]
cron = "0 0 8 * * Mon"     # seconds minutes hours day-of-month month day-of-week (6 or 7
                           # fields; use day names: numeric day-of-week differs between crons)
timezone = "Europe/Berlin" # IANA name for the cron and the dates shown; default UTC
channel = "mail"           # an email channel
template = "digest"

[tenant."3b6f...-uuid"]    # optional per-tenant settings
name = "Contoso"           # display name if the API gives none
digest_to = ["it@contoso.example"]
"#;

/// The smallest valid config: what error tests add to.
pub(super) const MINIMAL: &str = r#"[acronis]
datacenter_url = "https://eu2-cloud.acronis.com"
client_id = "id"
client_secret = "CLIENT-SECRET-VALUE"
"#;

/// Secret values the environment of these tests holds.
pub(super) const ENV_SECRETS: [&str; 6] = [
    "CLIENT-SECRET-VALUE",
    "XXXXSECRET",
    "TEAMSSECRET",
    "PD-ROUTING-SECRET",
    "hunter2-SECRET",
    "PSA-TOKEN-SECRET",
];

pub(super) fn env(name: &str) -> Option<String> {
    let value = match name {
        "ACRONIS_CLIENT_ID" => "watch-client",
        "ACRONIS_CLIENT_SECRET" => "CLIENT-SECRET-VALUE",
        "SLACK_WEBHOOK_URL" => "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
        "TEAMS_WEBHOOK_URL" => {
            "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=TEAMSSECRET"
        }
        "PD_ROUTING_KEY" => "PD-ROUTING-SECRET",
        "SMTP_PASSWORD" => "hunter2-SECRET",
        "PSA_TOKEN" => "PSA-TOKEN-SECRET",
        "SECRET_ENV" => "ENV-EXPANDED-SECRET",
        "SECRET_CRON" => "0 0 25 * * ENV-EXPANDED-SECRET",
        "POLL" => "7m",
        _ => return None,
    };
    Some(value.to_string())
}

pub(super) fn parse_text(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("worker.toml"), text, &env)
}

pub(super) fn parse_ok(text: &str) -> Config {
    parse_text(text).unwrap_or_else(|e| panic!("{e}"))
}

/// 1-based line of the first occurrence of `needle` in `text`.
pub(super) fn line_of(text: &str, needle: &str) -> usize {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    line_col(text, offset).0
}

#[test]
fn the_spec_example_parses() {
    let c = parse_ok(SPEC_EXAMPLE);
    assert_eq!(c.path, Path::new("worker.toml"));
    assert_eq!(c.dir, Path::new("."));
    assert_eq!(c.rules_dir, Path::new("./rules"));
    assert_eq!(c.templates_dir, Path::new("./templates"));

    let a = &c.acronis;
    assert_eq!(a.datacenter_url.as_str(), "https://eu2-cloud.acronis.com/");
    assert_eq!(a.client_id, "watch-client");
    assert_eq!(a.client_secret.expose_secret(), "CLIENT-SECRET-VALUE");
    assert_eq!(a.tenants, TenantSelection::Children);
    assert_eq!(a.resource_types, ["resource.machine"]);
    assert_eq!(a.page_size, 500);
    assert_eq!(a.poll_every, Duration::from_secs(300));
    assert_eq!(a.full_resync_every, Duration::from_secs(6 * 3600));
    assert_eq!(a.overlap, Duration::from_secs(120));
    assert_eq!(a.request_timeout, Duration::from_secs(30));
    assert_eq!(a.max_concurrent_tenants, 4);
    assert_eq!(a.shard, Shard { index: 0, count: 1 });
    assert_eq!(
        (a.max_retries, a.retry_backoff, a.max_retry_after),
        (3, Duration::from_secs(1), Duration::from_secs(60))
    );

    assert_eq!(c.state.path, Path::new("./state"));
    assert_eq!(c.state.cache_mb, 8);
    assert_eq!(
        c.server.as_ref().unwrap().listen,
        "127.0.0.1:9108".parse().unwrap()
    );

    let names: Vec<_> = c
        .channels
        .iter()
        .map(|ch| (ch.name.as_str(), ch.kind.type_name()))
        .collect();
    assert_eq!(
        names,
        [
            ("noc-slack", "slack"),
            ("noc-teams", "teams"),
            ("oncall", "pagerduty"),
            ("mail", "email"),
            ("ticketing", "webhook")
        ]
    );
    let pagerduty_only: Vec<_> = c
        .channels
        .iter()
        .map(|ch| (!ch.kind.groups_alerts(), ch.kind.resolves_test_incident()))
        .collect();
    assert_eq!(
        pagerduty_only,
        [
            (false, false),
            (false, false),
            (true, true),
            (false, false),
            (false, false)
        ]
    );
    let slack = &c.channels[0];
    let ChannelKind::Slack { url } = &slack.kind else {
        panic!()
    };
    assert_eq!(
        url.expose().as_str(),
        "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    );
    assert_eq!(
        (
            slack.rate.to_string(),
            slack.burst.get(),
            slack.template.as_str(),
            slack.max_attempts
        ),
        ("1/s".into(), 1, "slack", 10)
    );
    let teams = &c.channels[1];
    assert_eq!(
        (teams.rate.to_string(), teams.template.as_str()),
        ("4/s".into(), "teams")
    );
    let ChannelKind::PagerDuty { routing_key, url } = &c.channels[2].kind else {
        panic!()
    };
    assert_eq!(routing_key.expose_secret(), "PD-ROUTING-SECRET");
    assert_eq!(url.as_str(), PAGERDUTY_EVENTS_URL);
    assert_eq!(c.channels[2].rate.to_string(), "120/m");
    let ChannelKind::Email { smtp, from, to } = &c.channels[3].kind else {
        panic!()
    };
    assert_eq!(
        (smtp.security, smtp.host.as_str(), smtp.port),
        (SmtpSecurity::Implicit, "smtp.msp.example", 465)
    );
    assert_eq!(smtp.username.as_deref(), Some("alerts@msp.example"));
    assert_eq!(
        smtp.password.as_ref().unwrap().expose_secret(),
        "hunter2-SECRET"
    );
    assert_eq!(from.to_string(), "MSP Alerts <alerts@msp.example>");
    assert_eq!(
        to.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        ["noc@msp.example"]
    );
    let ChannelKind::Webhook { url, headers } = &c.channels[4].kind else {
        panic!()
    };
    assert_eq!(url.expose().as_str(), "https://psa.example/hooks/acronis");
    assert_eq!(headers.len(), 1);
    assert_eq!(
        (headers[0].0.as_str(), headers[0].1.expose_secret()),
        ("Authorization", "Bearer PSA-TOKEN-SECRET")
    );
    assert_eq!(c.channels[4].rate.to_string(), "10/s");

    let d = c.digest.as_ref().unwrap();
    assert_eq!(
        (
            d.cron.as_str(),
            d.timezone,
            d.channel.as_str(),
            d.template.as_str()
        ),
        ("0 0 8 * * Mon", chrono_tz::Europe::Berlin, "mail", "digest")
    );
    assert!(c.silences.is_empty());
    let t = &c.tenants["3b6f...-uuid"];
    assert_eq!(t.name.as_deref(), Some("Contoso"));
    assert_eq!(
        t.digest_to
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>(),
        ["it@contoso.example"]
    );
}

#[test]
fn the_shipped_worker_toml_parses() {
    let text = include_str!("../../../worker.toml");
    let c = parse(Path::new("/etc/acronis-watch/worker.toml"), text, &env)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.rules_dir, Path::new("/etc/acronis-watch/rules"));
    assert_eq!(c.state.path, Path::new("/etc/acronis-watch/state"));
    assert!(!c.channels.is_empty());
}

#[test]
fn defaults_fill_a_minimal_config() {
    let c = parse_ok(MINIMAL);
    let a = &c.acronis;
    assert_eq!(a.tenants, TenantSelection::Own);
    assert_eq!(
        a.resource_types,
        ["resource.machine", "resource.virtual_machine.*"]
    );
    assert_eq!(
        (a.page_size, a.max_concurrent_tenants, a.shard),
        (500, 4, Shard::ALL)
    );
    assert_eq!(
        (a.poll_every, a.full_resync_every, a.overlap),
        (
            Duration::from_secs(300),
            Duration::from_secs(21_600),
            Duration::from_secs(120)
        )
    );
    assert_eq!(a.request_timeout, Duration::from_secs(30));
    assert_eq!(
        (a.max_retries, a.retry_backoff, a.max_retry_after),
        (3, Duration::from_secs(1), Duration::from_secs(60))
    );
    assert_eq!(
        (c.state.path.as_path(), c.state.cache_mb),
        (Path::new("./state"), 8)
    );
    assert!(c.server.is_none() && c.digest.is_none());
    assert!(c.channels.is_empty() && c.silences.is_empty() && c.tenants.is_empty());
}

#[test]
fn channel_defaults_depend_on_the_type() {
    let text = format!(
        r#"{MINIMAL}
[[channel]]
name = "s"
type = "slack"
url = "https://hooks.slack.com/services/x"
[[channel]]
name = "t"
type = "teams"
url = "https://teams.example/x"
[[channel]]
name = "p"
type = "pagerduty"
routing_key = "k"
[[channel]]
name = "e"
type = "email"
smtp = "smtp://relay.example"
from = "alerts@msp.example"
to = ["a@msp.example", "B <b@msp.example>"]
[[channel]]
name = "w"
type = "webhook"
url = "http://127.0.0.1:9000/hook"
"#
    );
    let c = parse_ok(&text);
    let got: Vec<_> = c
        .channels
        .iter()
        .map(|ch| {
            (
                ch.rate.to_string(),
                ch.burst.get(),
                ch.template.clone(),
                ch.max_attempts,
            )
        })
        .collect();
    let want = [
        ("1/s", "slack"),
        ("4/s", "teams"),
        ("120/m", "pagerduty"),
        ("10/s", "email"),
        ("10/s", "webhook"),
    ]
    .map(|(rate, template)| (rate.to_string(), 1, template.to_string(), 10));
    assert_eq!(got, want);
    let ChannelKind::Email { smtp, to, .. } = &c.channels[3].kind else {
        panic!()
    };
    assert_eq!(
        (smtp.security, smtp.port, smtp.username.is_none()),
        (SmtpSecurity::StartTls, 587, true)
    );
    assert_eq!(to.len(), 2);
    let ChannelKind::PagerDuty { url, .. } = &c.channels[2].kind else {
        panic!()
    };
    assert_eq!(url.as_str(), PAGERDUTY_EVENTS_URL);
    assert_eq!(
        c.channels[0].rate,
        Rate::per_second(NonZeroU32::new(1).unwrap())
    );
}

#[test]
fn tenant_lists_and_shards() {
    let text = MINIMAL.replace(
        "client_id = \"id\"",
        "client_id = \"id\"\ntenants = [\"1001\", \"3b6f0a2e-1c1d-4c53-9d4e-2f4f9c1b7a10\"]\nshard = \"2/3\"",
    );
    let c = parse_ok(&text);
    assert_eq!(
        c.acronis.tenants,
        TenantSelection::List(vec![
            "1001".into(),
            "3b6f0a2e-1c1d-4c53-9d4e-2f4f9c1b7a10".into()
        ])
    );
    assert_eq!(c.acronis.shard, Shard { index: 2, count: 3 });
}

#[test]
fn silences_of_both_kinds() {
    let text = format!(
        r#"{MINIMAL}
[[silence]]
comment = "christmas freeze"
rule = "backup-stale"
match = {{ type = ["resource.machine"], tenant = ["1001"], name = ["sql-*"] }}
starts = 2026-12-24T18:00:00Z
ends = "2026-12-27T08:00:00+01:00"

[[silence]]
match.name = ["build-*"]
cron = "0 0 22 * * Sat"
duration = "4h"
timezone = "Europe/Berlin"

[[silence]]
ends = 2026-01-01T00:00:00Z
"#
    );
    let c = parse_ok(&text);
    assert_eq!(c.silences.len(), 3);
    let s = &c.silences[0];
    assert_eq!(
        (s.comment.as_deref(), s.rule.as_deref()),
        (Some("christmas freeze"), Some("backup-stale"))
    );
    assert_eq!(
        s.matcher,
        ResourceMatch {
            types: vec!["resource.machine".into()],
            tenants: vec!["1001".into()],
            names: vec!["sql-*".into()]
        }
    );
    let SilenceWindow::Fixed { starts, ends } = &s.window else {
        panic!()
    };
    assert_eq!(starts.unwrap().to_rfc3339(), "2026-12-24T18:00:00+00:00");
    assert_eq!(ends.unwrap().to_rfc3339(), "2026-12-27T07:00:00+00:00");
    let s = &c.silences[1];
    assert_eq!(s.matcher.names, ["build-*"]);
    assert!(s.rule.is_none() && s.matcher.types.is_empty());
    let SilenceWindow::Recurring {
        cron,
        duration,
        timezone,
        ..
    } = &s.window
    else {
        panic!()
    };
    assert_eq!(
        (cron.as_str(), *duration, *timezone),
        (
            "0 0 22 * * Sat",
            Duration::from_secs(4 * 3600),
            chrono_tz::Europe::Berlin
        )
    );
    let SilenceWindow::Fixed {
        starts: None,
        ends: Some(_),
    } = &c.silences[2].window
    else {
        panic!()
    };
}

#[test]
fn expansion_works_in_any_string_several_times() {
    let text = MINIMAL.replace(
        "client_id = \"id\"",
        "client_id = \"${ACRONIS_CLIENT_ID}-${POLL}-$${LITERAL}\"\npoll_every = \"${POLL}\"\nresource_types = [\"${ACRONIS_CLIENT_ID}\"]",
    );
    let c = parse_ok(&text);
    assert_eq!(c.acronis.client_id, "watch-client-7m-${LITERAL}");
    assert_eq!(c.acronis.poll_every, Duration::from_secs(420));
    assert_eq!(c.acronis.resource_types, ["watch-client"]);
}

#[test]
fn file_references_and_paths_resolve_against_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("etc");
    std::fs::create_dir_all(config_dir.join("secrets")).unwrap();
    std::fs::write(
        config_dir.join("secrets/client_secret"),
        "\n  FILE-SECRET \n",
    )
    .unwrap();
    std::fs::write(config_dir.join("secrets/pd"), "PD-FROM-FILE\n").unwrap();
    let text = r#"rules_dir = "my-rules"
templates_dir = "/opt/templates"
[acronis]
datacenter_url = "https://eu2-cloud.acronis.com"
client_id = "id"
client_secret = "${file:secrets/client_secret}"
[state]
path = "./var/state"
[[channel]]
name = "p"
type = "pagerduty"
routing_key = "${file:./secrets/pd}"
"#;
    let path = config_dir.join("worker.toml");
    std::fs::write(&path, text).unwrap();
    let c = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.dir, config_dir);
    assert_eq!(c.acronis.client_secret.expose_secret(), "FILE-SECRET");
    let ChannelKind::PagerDuty { routing_key, .. } = &c.channels[0].kind else {
        panic!()
    };
    assert_eq!(routing_key.expose_secret(), "PD-FROM-FILE");
    assert_eq!(c.rules_dir, config_dir.join("my-rules"));
    assert_eq!(c.templates_dir, Path::new("/opt/templates"));
    assert_eq!(c.state.path, config_dir.join("var/state"));
}

#[test]
fn every_error_has_a_location_and_a_key() {
    let err = parse_text("[acronis]\npoll_every = 5\n").unwrap_err();
    assert_eq!(err.location().map(|l| l.line), Some(1));
    assert_eq!(err.key(), Some("acronis.datacenter_url"));
}

//! One test per kind of mistake: the message names the file, the right line, the
//! dotted key, and what is expected.

use std::path::Path;

use super::{MINIMAL, line_of, parse_text};
use crate::config::{ConfigError, load};

/// Parse `text`, expect an error on the line holding `on_line`, naming `key`, and
/// containing each of `needles`. Returns the message.
#[track_caller]
fn expect_err(text: &str, on_line: &str, key: &str, needles: &[&str]) -> String {
    let err = match parse_text(text) {
        Ok(_) => panic!("expected an error about {key}, the config was accepted:\n{text}"),
        Err(e) => e,
    };
    let message = err.to_string();
    let line = line_of(text, on_line);
    assert!(
        message.starts_with(&format!("worker.toml:{line}:")),
        "expected line {line}: {message}"
    );
    assert!(
        message.contains(&format!(": {key}: ")),
        "expected key {key}: {message}"
    );
    assert_eq!(err.key(), Some(key), "{message}");
    for needle in needles {
        assert!(
            message.contains(needle),
            "expected {needle:?} in: {message}"
        );
    }
    message
}

fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

/// MINIMAL with `line` added to `[acronis]`.
fn acronis(line: &str) -> String {
    format!("{MINIMAL}{line}\n")
}

fn slack(extra: &str) -> String {
    with(&format!(
        "\n[[channel]]\nname = \"noc\"\ntype = \"slack\"\nurl = \"https://hooks.slack.com/services/x\"\n{extra}\n"
    ))
}

fn email(smtp: &str, from: &str, to: &str) -> String {
    with(&format!(
        "\n[[channel]]\nname = \"mail\"\ntype = \"email\"\nsmtp = {smtp}\nfrom = {from}\nto = {to}\n"
    ))
}

#[test]
fn unreadable_file_names_the_path() {
    let err = load(Path::new("/nonexistent/dir/worker.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    let message = err.to_string();
    assert!(
        message.starts_with("/nonexistent/dir/worker.toml: cannot read the config file: "),
        "{message}"
    );
}

#[test]
fn toml_syntax_error_has_line_and_column() {
    let text = "[acronis]\ndatacenter_url = \"https://x.example\"\nclient_id = \"abc\n";
    let message = parse_text(text).unwrap_err().to_string();
    assert!(message.starts_with("worker.toml:3:"), "{message}");
    assert!(message.contains("TOML syntax error"), "{message}");

    let message = parse_text("[acronis]\n[acronis]\n")
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("worker.toml:2:2: TOML syntax error: duplicate key"),
        "{message}"
    );
}

#[test]
fn unknown_keys_name_the_table_and_what_is_allowed() {
    let text = format!("bogus = 1\n{MINIMAL}");
    expect_err(
        &text,
        "bogus",
        "bogus",
        &[
            "unknown key in the top level",
            "allowed keys: rules_dir, templates_dir, acronis",
        ],
    );

    let text = acronis("pol_every = \"5m\"");
    expect_err(
        &text,
        "pol_every",
        "acronis.pol_every",
        &[
            "in [acronis] (did you mean `poll_every`?)",
            "max_retry_after",
        ],
    );

    let text = format!(
        "{}\n[[channel]]\nname = \"b\"\ntype = \"slack\"\ncolour = \"red\"\n",
        slack("")
    );
    expect_err(
        &text,
        "colour",
        "channel[1].colour",
        &["unknown key in channel[1]", "routing_key"],
    );

    let text = with("[state]\npath = \"x\"\ncache = 5\n");
    expect_err(
        &text,
        "cache =",
        "state.cache",
        &["in [state] (did you mean `cache_mb`?)"],
    );

    let text = with("[[silence]]\nmatch.kind = [\"x\"]\nends = 2026-01-01T00:00:00Z\n");
    expect_err(
        &text,
        "match.kind",
        "silence[0].match.kind",
        &["allowed keys: type, tenant, name"],
    );

    let text = with("[tenant.\"3b6f\"]\nemail = [\"a@b.example\"]\n");
    expect_err(
        &text,
        "email =",
        "tenant.\"3b6f\".email",
        &["allowed keys: name, digest_to"],
    );
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    expect_err(
        &acronis("page_size = \"500\""),
        "page_size",
        "acronis.page_size",
        &["expected an integer, found a string"],
    );
    expect_err(
        &acronis("poll_every = 300"),
        "poll_every",
        "acronis.poll_every",
        &["expected a duration string like \"5m\", found an integer"],
    );
    expect_err(
        &slack("rate = 1"),
        "rate",
        "channel[0].rate",
        &["expected a rate string like \"1/s\", found an integer"],
    );
    expect_err(
        &acronis("resource_types = \"resource.machine\""),
        "resource_types",
        "acronis.resource_types",
        &["expected an array of resource types", "found a string"],
    );
    expect_err(
        &acronis("resource_types = [\"resource.machine\", \"resource.*.vm\"]"),
        "resource_types",
        "acronis.resource_types[1]",
        &[
            "\"resource.*.vm\" is not a resource type",
            "a family like \"resource.virtual_machine.*\"",
        ],
    );
    expect_err(
        &email(
            "\"smtp://relay.example\"",
            "\"a@msp.example\"",
            "\"noc@msp.example\"",
        ),
        "to =",
        "channel[0].to",
        &["expected an array of email addresses", "found a string"],
    );
    expect_err(
        &with("[channel]\nname = \"x\"\n"),
        "[channel]",
        "channel",
        &["expected an array of tables: one [[channel]] section per channel, found a table"],
    );
    expect_err(
        &format!("state = \"./state\"\n{MINIMAL}"),
        "state =",
        "state",
        &["expected a table: [state], found a string"],
    );
    expect_err(
        &acronis("page_size = 1.5"),
        "page_size",
        "acronis.page_size",
        &["found a float"],
    );
}

#[test]
fn missing_required_keys_point_at_their_table() {
    let text = "[acronis]\ndatacenter_url = \"https://x.example\"\nclient_secret = \"s\"\n";
    expect_err(
        text,
        "[acronis]",
        "acronis.client_id",
        &[
            "required key is missing from [acronis]",
            "client_id = \"${ACRONIS_CLIENT_ID}\"",
        ],
    );

    let text = "rules_dir = \"rules\"\n";
    expect_err(
        text,
        "rules_dir",
        "acronis",
        &[
            "missing from the top level",
            "datacenter_url, client_id and client_secret",
        ],
    );

    let text = with("\n[server]\n");
    expect_err(
        &text,
        "[server]",
        "server.listen",
        &["missing from [server]"],
    );
}

#[test]
fn unset_environment_variables_are_named() {
    let text = MINIMAL.replace("\"CLIENT-SECRET-VALUE\"", "\"${ACRONIS_NOT_SET}\"");
    let message = expect_err(
        &text,
        "${ACRONIS_NOT_SET}",
        "acronis.client_secret",
        &["environment variable ACRONIS_NOT_SET is not set"],
    );
    // The column points at the `${`.
    let col = "client_secret = \"".len() + 1;
    assert!(
        message.starts_with(&format!("worker.toml:4:{col}:")),
        "{message}"
    );

    let text = MINIMAL.replace(
        "client_id = \"id\"",
        "client_id = \"prefix-${POLL}-${NOT_SET_EITHER}\"",
    );
    let message = expect_err(
        &text,
        "NOT_SET_EITHER",
        "acronis.client_id",
        &["NOT_SET_EITHER is not set"],
    );
    let col = "client_id = \"prefix-${POLL}-".len() + 1;
    assert!(
        message.starts_with(&format!("worker.toml:3:{col}:")),
        "{message}"
    );
}

#[test]
fn malformed_references_are_errors() {
    let text = MINIMAL.replace("client_id = \"id\"", "client_id = \"${ACRONIS_CLIENT_ID\"");
    expect_err(
        &text,
        "client_id",
        "acronis.client_id",
        &["`${` is not closed by `}`", "$${"],
    );
    let text = MINIMAL.replace("client_id = \"id\"", "client_id = \"${not a name}\"");
    expect_err(
        &text,
        "client_id",
        "acronis.client_id",
        &["expected ${NAME} or ${file:PATH}"],
    );
}

#[test]
fn unreadable_file_references_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("worker.toml");
    let text = MINIMAL.replace("\"CLIENT-SECRET-VALUE\"", "\"${file:secrets/missing}\"");
    std::fs::write(&path, &text).unwrap();
    let message = load(&path).unwrap_err().to_string();
    let prefix = format!("{}:4:", path.display());
    assert!(message.starts_with(&prefix), "{message}");
    assert!(
        message.contains("acronis.client_secret: cannot read ${file:secrets/missing}"),
        "{message}"
    );
    assert!(
        message.contains(&dir.path().join("secrets/missing").display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("relative to the config file's folder"),
        "{message}"
    );
}

#[test]
fn bad_durations_match_the_documented_message() {
    let text = acronis("poll_every = \"5x\"");
    let message = expect_err(&text, "poll_every", "acronis.poll_every", &[]);
    assert_eq!(
        message,
        "worker.toml:5:14: acronis.poll_every: invalid duration \"5x\": expected a number and a unit s, m, h or d, \
         like \"30s\", \"5m\", \"26h\" or \"7d\""
    );
    expect_err(
        &acronis("overlap = \"2 minutes\""),
        "overlap",
        "acronis.overlap",
        &["invalid duration \"2 minutes\""],
    );
    expect_err(
        &acronis("retry_backoff = \"${POLL}x\""),
        "retry_backoff",
        "acronis.retry_backoff",
        &["invalid duration \"${POLL}x\" (expanded value not shown)"],
    );
}

#[test]
fn bad_rates() {
    expect_err(
        &slack("rate = \"1/d\""),
        "rate",
        "channel[0].rate",
        &["invalid rate \"1/d\"", "like \"1/s\", \"120/m\""],
    );
    expect_err(
        &slack("rate = \"0/s\""),
        "rate",
        "channel[0].rate",
        &["the count is 0"],
    );
}

#[test]
fn bad_smtp_urls() {
    let (from, to) = ("\"a@msp.example\"", "[\"noc@msp.example\"]");
    for (smtp, needle) in [
        (
            "\"imap://u:p@host\"",
            "the scheme must be smtp, smtps or smtp+plain",
        ),
        ("\"smtps://u:p@\"", "the host is missing"),
        ("\"smtps://u:p@host:abc\"", "the port must be a number"),
        ("\"host:25\"", "no scheme"),
    ] {
        expect_err(
            &email(smtp, from, to),
            "smtp =",
            "channel[0].smtp",
            &["invalid SMTP URL", needle],
        );
    }
}

#[test]
fn bad_shards() {
    expect_err(
        &acronis("shard = \"2/2\""),
        "shard",
        "acronis.shard",
        &["invalid shard \"2/2\"", "i must be less than n"],
    );
    expect_err(
        &acronis("shard = \"0/0\""),
        "shard",
        "acronis.shard",
        &["n is 0"],
    );
    expect_err(
        &acronis("shard = \"first\""),
        "shard",
        "acronis.shard",
        &["expected \"i/n\""],
    );
}

#[test]
fn bad_urls() {
    let text = MINIMAL.replace(
        "https://eu2-cloud.acronis.com",
        "ftp://eu2-cloud.acronis.com",
    );
    expect_err(
        &text,
        "datacenter_url",
        "acronis.datacenter_url",
        &[
            "invalid URL \"ftp://eu2-cloud.acronis.com\"",
            "http or https",
        ],
    );
    let text = MINIMAL.replace("https://eu2-cloud.acronis.com", "eu2-cloud.acronis.com");
    expect_err(
        &text,
        "datacenter_url",
        "acronis.datacenter_url",
        &["relative URL without a base"],
    );
    let text = MINIMAL.replace(
        "https://eu2-cloud.acronis.com",
        "https://eu2-cloud.acronis.com/?tenant=1",
    );
    expect_err(
        &text,
        "datacenter_url",
        "acronis.datacenter_url",
        &["without user, password, query or fragment"],
    );

    let text = with("[[channel]]\nname = \"t\"\ntype = \"teams\"\nurl = \"teams.example/hook\"\n");
    expect_err(
        &text,
        "teams.example",
        "channel[0].url",
        &["invalid URL (value not shown, it may carry a token)"],
    );
}

#[test]
fn bad_email_addresses() {
    let to = "[\"noc@msp.example\"]";
    expect_err(
        &email("\"smtp://relay.example\"", "\"MSP Alerts\"", to),
        "from =",
        "channel[0].from",
        &[
            "invalid email address \"MSP Alerts\"",
            "MSP Alerts <alerts@msp.example>",
        ],
    );
    expect_err(
        &email(
            "\"smtp://relay.example\"",
            "\"a@msp.example\"",
            "[\"noc@msp.example\", \"not-an-address\"]",
        ),
        "to =",
        "channel[0].to[1]",
        &["invalid email address \"not-an-address\""],
    );
    expect_err(
        &email("\"smtp://relay.example\"", "\"a@msp.example\"", "[]"),
        "to =",
        "channel[0].to",
        &["the list is empty"],
    );
    let text =
        with("[tenant.\"3b6f\"]\nname = \"Contoso\"\ndigest_to = [\"it.contoso.example\"]\n");
    expect_err(
        &text,
        "digest_to",
        "tenant.\"3b6f\".digest_to[0]",
        &["invalid email address \"it.contoso.example\""],
    );
}

#[test]
fn duplicate_channel_names() {
    let text = format!(
        "{}\n[[channel]]\nname = \"noc\"\ntype = \"teams\"\nurl = \"https://t.example/x\"\n",
        slack("")
    );
    let at = text.rfind("name = \"noc\"").unwrap();
    let line = crate::config::line_col(&text, at).0;
    let message = parse_text(&text).unwrap_err().to_string();
    let first = line_of(&text, "name = \"noc\"");
    assert_eq!(
        message,
        format!(
            "worker.toml:{line}:8: channel[1].name: channel name \"noc\" is already used by channel[0] (line {first}); \
             channel names must be unique"
        )
    );
}

#[test]
fn keys_of_another_channel_type() {
    expect_err(
        &slack("routing_key = \"abc\""),
        "routing_key",
        "channel[0].routing_key",
        &[
            "`routing_key` does not belong to a slack channel; a slack channel takes: name, type, rate, burst, template, max_attempts, url",
        ],
    );
    let text = with(
        "[[channel]]\nname = \"p\"\ntype = \"pagerduty\"\nrouting_key = \"k\"\nheaders = { A = \"b\" }\n",
    );
    expect_err(
        &text,
        "headers",
        "channel[0].headers",
        &["does not belong to a pagerduty channel"],
    );
}

#[test]
fn unknown_channel_type() {
    let text = with("[[channel]]\nname = \"x\"\ntype = \"discord\"\n");
    expect_err(
        &text,
        "discord",
        "channel[0].type",
        &["unknown channel type \"discord\": expected slack, teams, email, pagerduty or webhook"],
    );
}

#[test]
fn missing_type_specific_keys() {
    for (ty, extra, key) in [
        ("slack", "", "url"),
        ("teams", "", "url"),
        ("webhook", "headers = { A = \"b\" }", "url"),
        ("pagerduty", "", "routing_key"),
        (
            "email",
            "from = \"a@msp.example\"\nto = [\"b@msp.example\"]",
            "smtp",
        ),
        (
            "email",
            "smtp = \"smtp://r.example\"\nto = [\"b@msp.example\"]",
            "from",
        ),
        (
            "email",
            "smtp = \"smtp://r.example\"\nfrom = \"a@msp.example\"",
            "to",
        ),
    ] {
        let text = with(&format!(
            "\n[[channel]]\nname = \"c\"\ntype = \"{ty}\"\n{extra}\n"
        ));
        expect_err(
            &text,
            "[[channel]]",
            &format!("channel[0].{key}"),
            &["required key is missing from channel[0]"],
        );
    }
    let text = with("\n[[channel]]\ntype = \"slack\"\n");
    expect_err(
        &text,
        "[[channel]]",
        "channel[0].name",
        &["a unique name for the channel"],
    );
}

#[test]
fn digest_channel_must_be_an_email_channel() {
    let digest = "\n[digest]\ncron = \"0 0 8 * * Mon\"\nchannel = \"mail\"\n";
    let text = format!("{}{digest}", slack(""));
    expect_err(
        &text,
        "channel = \"mail\"",
        "digest.channel",
        &["no [[channel]] is named \"mail\"", "there is none"],
    );

    let digest = "\n[digest]\ncron = \"0 0 8 * * Mon\"\nchannel = \"noc\"\n";
    let text = format!("{}{digest}", slack(""));
    expect_err(
        &text,
        "channel = \"noc\"",
        "digest.channel",
        &[
            "channel \"noc\" is a slack channel",
            "expected an email channel",
        ],
    );

    let text = format!(
        "{}\n[digest]\ncron = \"0 0 8 * * Mon\"\nchannel = \"nope\"\n",
        email(
            "\"smtp://r.example\"",
            "\"a@msp.example\"",
            "[\"b@msp.example\"]"
        )
    );
    expect_err(
        &text,
        "channel = \"nope\"",
        "digest.channel",
        &["(email channels: mail)"],
    );
}

#[test]
fn bad_cron_expressions() {
    let mail = email(
        "\"smtp://r.example\"",
        "\"a@msp.example\"",
        "[\"b@msp.example\"]",
    );
    let text = format!("{mail}\n[digest]\ncron = \"0 8 * * 1\"\nchannel = \"mail\"\n");
    expect_err(
        &text,
        "cron =",
        "digest.cron",
        &["invalid cron expression \"0 8 * * 1\": it has 5 fields: expected 6 or 7 fields"],
    );
    let text = format!("{mail}\n[digest]\ncron = \"0 0 25 * * Mon\"\nchannel = \"mail\"\n");
    expect_err(
        &text,
        "cron =",
        "digest.cron",
        &["Hours must be less than 23", "(at character 5)"],
    );
    let text = with("[[silence]]\ncron = \"0 0 22 * * Sunday-ish\"\nduration = \"1h\"\n");
    expect_err(
        &text,
        "cron =",
        "silence[0].cron",
        &["invalid cron expression"],
    );
}

#[test]
fn bad_timezones() {
    let mail = email(
        "\"smtp://r.example\"",
        "\"a@msp.example\"",
        "[\"b@msp.example\"]",
    );
    let text = format!(
        "{mail}\n[digest]\ncron = \"0 0 8 * * Mon\"\ntimezone = \"Europe/Berln\"\nchannel = \"mail\"\n"
    );
    expect_err(
        &text,
        "timezone",
        "digest.timezone",
        &["unknown timezone \"Europe/Berln\": expected an IANA name"],
    );
    let text = format!(
        "{mail}\n[digest]\ncron = \"0 0 8 * * Mon\"\ntimezone = \"europe/berlin\"\nchannel = \"mail\"\n"
    );
    expect_err(
        &text,
        "timezone",
        "digest.timezone",
        &["did you mean \"Europe/Berlin\"?"],
    );
}

#[test]
fn bad_tenant_selections() {
    for (value, needle) in [
        ("\"all\"", "\"all\" is not a known value"),
        ("5", "found an integer"),
        ("[]", "the list is empty"),
    ] {
        let text = acronis(&format!("tenants = {value}"));
        expect_err(
            &text,
            "tenants",
            "acronis.tenants",
            &[needle, "expected \"children\" or an array of tenant ids"],
        );
    }
    let text = acronis("tenants = [\"1001\", \"1001\"]");
    expect_err(
        &text,
        "tenants",
        "acronis.tenants[1]",
        &["tenant id \"1001\" is listed twice"],
    );
    let text = acronis("tenants = [\"1001\", 1002]");
    expect_err(
        &text,
        "tenants",
        "acronis.tenants[1]",
        &["every element must be a tenant id string"],
    );
}

#[test]
fn numbers_out_of_range() {
    expect_err(
        &acronis("page_size = 0"),
        "page_size",
        "acronis.page_size",
        &["0 is out of range: expected 1 to 10000"],
    );
    expect_err(
        &acronis("page_size = 10001"),
        "page_size",
        "acronis.page_size",
        &["10001 is out of range"],
    );
    expect_err(
        &acronis("max_concurrent_tenants = 0"),
        "max_concurrent",
        "acronis.max_concurrent_tenants",
        &["0 is out of range"],
    );
    expect_err(
        &acronis("request_timeout = \"0s\""),
        "request_timeout",
        "acronis.request_timeout",
        &["0s is out of range: expected a timeout above zero"],
    );
    expect_err(
        &acronis("poll_every = \"0m\""),
        "poll_every",
        "acronis.poll_every",
        &["0s is out of range"],
    );
    expect_err(
        &slack("burst = 0"),
        "burst",
        "channel[0].burst",
        &["0 is out of range: expected at least 1"],
    );
    expect_err(
        &slack("max_attempts = -1"),
        "max_attempts",
        "channel[0].max_attempts",
        &["-1 is out of range"],
    );
    expect_err(
        &with("[state]\ncache_mb = 0\n"),
        "cache_mb",
        "state.cache_mb",
        &["0 is out of range"],
    );
    expect_err(
        &acronis("page_size = 99999999999999999999"),
        "page_size",
        "acronis.page_size",
        &["fits in 64 bits"],
    );
}

#[test]
fn bad_listen_addresses() {
    for bad in ["localhost:9108", "127.0.0.1", ":9108"] {
        let text = with(&format!("[server]\nlisten = \"{bad}\"\n"));
        expect_err(
            &text,
            "listen",
            "server.listen",
            &[
                &format!("invalid listen address \"{bad}\""),
                "\"127.0.0.1:9108\"",
            ],
        );
    }
}

#[test]
fn bad_silence_windows() {
    let text = with("[[silence]]\nrule = \"machine-critical\"\n");
    expect_err(
        &text,
        "[[silence]]",
        "silence[0]",
        &[
            "no window is given",
            "starts and/or ends",
            "cron + duration",
        ],
    );

    let text = with(
        "[[silence]]\nstarts = 2026-12-24T18:00:00Z\ncron = \"0 0 22 * * Sat\"\nduration = \"4h\"\n",
    );
    expect_err(
        &text,
        "cron =",
        "silence[0].cron",
        &["has both starts/ends and cron/duration"],
    );

    let text =
        with("[[silence]]\nstarts = 2026-12-24T18:00:00Z\nends = \"2026-12-24T17:00:00Z\"\n");
    expect_err(
        &text,
        "ends =",
        "silence[0].ends",
        &["ends (2026-12-24T17:00:00+00:00) is not after starts (2026-12-24T18:00:00+00:00)"],
    );

    let text = with("[[silence]]\ncron = \"0 0 22 * * Sat\"\n");
    expect_err(
        &text,
        "[[silence]]",
        "silence[0].duration",
        &[
            "required key is missing from silence[0]",
            "duration = \"4h\"",
        ],
    );

    let text = with("[[silence]]\nduration = \"4h\"\n");
    expect_err(
        &text,
        "[[silence]]",
        "silence[0].cron",
        &["required key is missing"],
    );

    let text = with("[[silence]]\nends = 2026-12-24T17:00:00Z\ntimezone = \"UTC\"\n");
    expect_err(
        &text,
        "timezone",
        "silence[0].timezone",
        &["timezone applies only to a cron window"],
    );

    let text = with("[[silence]]\nstarts = 2026-12-24T18:00:00\n");
    expect_err(
        &text,
        "starts",
        "silence[0].starts",
        &["2026-12-24T18:00:00 lacks a UTC offset (Z or +01:00)"],
    );

    let text = with("[[silence]]\nstarts = \"next tuesday\"\n");
    expect_err(
        &text,
        "starts",
        "silence[0].starts",
        &["invalid time \"next tuesday\"", "RFC 3339"],
    );

    let text = with("[[silence]]\ncron = \"0 0 22 * * Sat\"\nduration = \"0s\"\n");
    expect_err(&text, "duration", "silence[0].duration", &["lasts 0s"]);
}

#[test]
fn bad_header_names_and_template_names() {
    let text = with(
        "[[channel]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"https://psa.example/h\"\nheaders = { \"Bad Header\" = \"x\" }\n",
    );
    expect_err(
        &text,
        "headers",
        "channel[0].headers.\"Bad Header\"",
        &["is not a valid HTTP header name"],
    );
    expect_err(
        &slack("template = \"../etc/passwd\""),
        "template",
        "channel[0].template",
        &["may only hold letters, digits"],
    );
}

//! No secret in any error message, and none in `Debug` of a parsed config.

use std::path::Path;

use super::{ENV_SECRETS, MINIMAL, SPEC_EXAMPLE, env, parse_ok};
use crate::config::parse;

/// Literal secrets planted in the configs below, plus what the test environment
/// expands to.
const PLANTED: [&str; 7] = [
    "hunter2-SECRET",
    "XXXXSECRET",
    "PD-ROUTING-SECRET",
    "Bearer-TOKEN-SECRET",
    "CLIENT-SECRET-VALUE",
    "ENV-EXPANDED-SECRET",
    "FILE-SECRET",
];

fn channel(body: &str) -> String {
    format!("{MINIMAL}\n[[channel]]\nname = \"c\"\n{body}\n")
}

fn mail(smtp: &str) -> String {
    channel(&format!(
        "type = \"email\"\nsmtp = \"{smtp}\"\nfrom = \"a@msp.example\"\nto = [\"b@msp.example\"]"
    ))
}

/// Configs that are each rejected for a reason that involves a secret-bearing value.
fn bad_configs() -> Vec<(&'static str, String)> {
    let acronis = |line: &str| format!("{MINIMAL}{line}\n");
    vec![
        (
            "smtp bad port",
            mail("smtps://alerts%40msp.example:hunter2-SECRET@smtp.msp.example:46x5"),
        ),
        (
            "smtp bad scheme",
            mail("smtpx://u:hunter2-SECRET@smtp.msp.example"),
        ),
        ("smtp no host", mail("smtps://u:hunter2-SECRET@")),
        ("smtp path", mail("smtps://u:hunter2-SECRET@host/x")),
        (
            "smtp password shifts host",
            mail("smtps://u:pw@hunter2-SECRET:x@"),
        ),
        ("smtp bad utf-8", mail("smtps://u:hunter2-SECRET%ff@host")),
        (
            "smtp env password bad port",
            mail("smtps://u:${SMTP_PASSWORD}@host:port"),
        ),
        (
            "slack bad scheme",
            channel(
                "type = \"slack\"\nurl = \"ftp://hooks.slack.com/services/T000/B000/XXXXSECRET\"",
            ),
        ),
        (
            "slack no scheme",
            channel("type = \"slack\"\nurl = \"hooks.slack.com/services/T000/B000/XXXXSECRET\""),
        ),
        (
            "slack bad port",
            channel("type = \"slack\"\nurl = \"https://hooks.slack.com:XXXXSECRET/services\""),
        ),
        (
            "slack url wrong type",
            channel(
                "type = \"slack\"\nurl = [\"https://hooks.slack.com/services/T000/B000/XXXXSECRET\"]",
            ),
        ),
        (
            "slack env url bad",
            channel("type = \"slack\"\nurl = \"ftp://${SECRET_ENV}\""),
        ),
        (
            "routing key on slack",
            channel(
                "type = \"slack\"\nrouting_key = \"PD-ROUTING-SECRET\"\nurl = \"https://h.example/XXXXSECRET\"",
            ),
        ),
        (
            "pagerduty url bad",
            channel(
                "type = \"pagerduty\"\nrouting_key = \"PD-ROUTING-SECRET\"\nurl = \"mailto:XXXXSECRET\"",
            ),
        ),
        (
            "header value newline",
            channel(
                "type = \"webhook\"\nurl = \"https://psa.example/h\"\nheaders = { Authorization = \"Bearer-TOKEN-SECRET\\n\" }",
            ),
        ),
        (
            "headers wrong type",
            channel(
                "type = \"webhook\"\nurl = \"https://psa.example/h\"\nheaders = \"Bearer-TOKEN-SECRET\"",
            ),
        ),
        (
            "header value wrong type",
            channel(
                "type = \"webhook\"\nurl = \"https://psa.example/h\"\nheaders = { A = [\"Bearer-TOKEN-SECRET\"] }",
            ),
        ),
        (
            "client secret wrong type",
            MINIMAL.replace("\"CLIENT-SECRET-VALUE\"", "[\"CLIENT-SECRET-VALUE\"]"),
        ),
        (
            "client secret unset env",
            MINIMAL.replace("\"CLIENT-SECRET-VALUE\"", "\"CLIENT-SECRET-VALUE${NOPE}\""),
        ),
        (
            "client secret bad ref",
            MINIMAL.replace("\"CLIENT-SECRET-VALUE\"", "\"CLIENT-SECRET-VALUE${\""),
        ),
        (
            "client secret typo key",
            MINIMAL.replace("client_secret", "client_secrte"),
        ),
        (
            "client secret unterminated",
            MINIMAL.replace("\"CLIENT-SECRET-VALUE\"", "\"CLIENT-SECRET-VALUE"),
        ),
        (
            "userinfo in datacenter url",
            MINIMAL.replace("https://eu2", "https://u:CLIENT-SECRET-VALUE@eu2"),
        ),
        (
            "datacenter url from env",
            MINIMAL.replace("https://eu2-cloud.acronis.com", "${SECRET_ENV}"),
        ),
        (
            "duration from env",
            acronis("poll_every = \"${SECRET_ENV}\""),
        ),
        ("shard from env", acronis("shard = \"${SECRET_ENV}\"")),
        ("tenants from env", acronis("tenants = \"${SECRET_ENV}\"")),
        (
            "tenant list from env",
            acronis("tenants = [\"${SECRET_ENV}\", \"${SECRET_ENV}\"]"),
        ),
        (
            "rate from env",
            channel("type = \"slack\"\nurl = \"https://h.example/x\"\nrate = \"${SECRET_ENV}\""),
        ),
        (
            "from from env",
            channel(
                "type = \"email\"\nsmtp = \"smtp://h\"\nfrom = \"${SECRET_ENV}\"\nto = [\"b@msp.example\"]",
            ),
        ),
        (
            "template from env",
            channel(
                "type = \"slack\"\nurl = \"https://h.example/x\"\ntemplate = \"${SECRET_ENV}/x\"",
            ),
        ),
        (
            "cron from env",
            format!("{MINIMAL}[[silence]]\ncron = \"${{SECRET_CRON}}\"\nduration = \"1h\"\n"),
        ),
        (
            "timezone from env",
            format!(
                "{MINIMAL}[[silence]]\ncron = \"0 0 1 * * Sun\"\nduration = \"1h\"\ntimezone = \"${{SECRET_ENV}}\"\n"
            ),
        ),
        (
            "listen from env",
            format!("{MINIMAL}[server]\nlisten = \"${{SECRET_ENV}}\"\n"),
        ),
        (
            "starts from env",
            format!("{MINIMAL}[[silence]]\nstarts = \"${{SECRET_ENV}}\"\n"),
        ),
        (
            "digest channel from env",
            format!("{MINIMAL}[digest]\ncron = \"0 0 8 * * Mon\"\nchannel = \"${{SECRET_ENV}}\"\n"),
        ),
        (
            "file content in duration",
            acronis("overlap = \"${file:secret.txt}\""),
        ),
        // Found by fuzzing (fuzz/corpus/config/regress-channel-name-from-env.toml): an
        // expanded channel name was listed among the known ones when [digest] named
        // another channel. Names appear in logs and metrics, so none is expanded.
        (
            "channel name from env",
            format!(
                "{MINIMAL}[[channel]]\nname = \"m${{SECRET_ENV}}\"\ntype = \"email\"\n\
                 smtp = \"smtp+plain://127.0.0.1:25\"\nfrom = \"a@b.c\"\nto = [\"x@y.z\"]\n\
                 [digest]\ncron = \"0 0 8 * * Mon\"\nchannel = \"mail\"\n"
            ),
        ),
    ]
}

#[test]
fn no_error_message_contains_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), "FILE-SECRET\n").unwrap();
    let path = dir.path().join("worker.toml");
    for (what, text) in bad_configs() {
        let err = match parse(&path, &text, &env) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => e,
        };
        let shown = format!("{err} / {err:?}");
        for secret in PLANTED {
            assert!(
                !shown.contains(secret),
                "{what}: {secret} leaked into: {shown}"
            );
        }
        // Every one of them still says where.
        assert!(err.location().is_some(), "{what}: {err}");
    }
}

#[test]
fn debug_of_a_config_holds_no_secret() {
    let config = parse_ok(SPEC_EXAMPLE);
    let debug = format!("{config:?}");
    for secret in ENV_SECRETS {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    // Secret URLs still show where they point.
    assert!(debug.contains("https://hooks.slack.com/***"), "{debug}");
    let pretty = format!("{config:#?}");
    for secret in ENV_SECRETS {
        assert!(!pretty.contains(secret), "{secret} in pretty Debug");
    }
}

#[test]
fn the_unset_variable_is_named_but_no_value_is_printed() {
    let text = MINIMAL.replace(
        "client_id = \"id\"",
        "client_id = \"${ACRONIS_CLIENT_ID}${MISSING_ONE}\"",
    );
    let message = parse(Path::new("worker.toml"), &text, &env)
        .unwrap_err()
        .to_string();
    assert!(message.contains("MISSING_ONE"), "{message}");
    assert!(!message.contains("watch-client"), "{message}");
}

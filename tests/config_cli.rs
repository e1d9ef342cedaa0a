//! Bad worker.toml input through the binary: exit 2 and a message naming the key.

mod support;

use support::{WorkDir, code, text};

const GOOD: &str = r#"
[acronis]
datacenter_url = "http://127.0.0.1:9"
client_id = "sim-client"
client_secret = "${TEST_CLIENT_SECRET}"
poll_every = "5m"

[state]
path = "state"

[[channel]]
name = "mail"
type = "email"
smtp = "smtps://alerts%40msp.example:${SMTP_PASSWORD}@smtp.msp.example:465"
from = "MSP Alerts <alerts@msp.example>"
to = ["noc@msp.example"]

[[channel]]
name = "noc-slack"
type = "slack"
url = "https://hooks.slack.com/services/T000/B000/XXXX"
rate = "1/s"
"#;

async fn check(config: &str, env: &[(&str, &str)]) -> (i32, String) {
    let work = WorkDir {
        dir: tempfile::tempdir().unwrap(),
    };
    work.write_config(config);
    let out = work.run_env(&["check"], env).await;
    (code(&out), text(&out))
}

const ENV: &[(&str, &str)] = &[
    ("TEST_CLIENT_SECRET", "cs-VALUE-1"),
    ("SMTP_PASSWORD", "pw-VALUE-2"),
];

#[tokio::test]
async fn a_good_config_checks_clean() {
    let (code, out) = check(GOOD, ENV).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("cs-VALUE-1") && !out.contains("pw-VALUE-2"),
        "{out}"
    );
}

#[tokio::test]
async fn each_bad_input_exits_2_naming_the_key_and_line() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown key",
            &GOOD.replace("poll_every = \"5m\"", "pol_every = \"5m\""),
            &["pol_every", ":6:"],
        ),
        (
            "bad duration",
            &GOOD.replace("poll_every = \"5m\"", "poll_every = \"5x\""),
            &["poll_every", ":6:"],
        ),
        (
            "bad rate",
            &GOOD.replace("rate = \"1/s\"", "rate = \"1/fortnight\""),
            &["rate", ":22:"],
        ),
        (
            "bad smtp url",
            &GOOD.replace("smtps://alerts", "imap://alerts"),
            &["smtp", ":14:"],
        ),
        (
            "unset env var",
            &GOOD.replace("${TEST_CLIENT_SECRET}", "${NOT_SET_ANYWHERE_XYZ}"),
            &["client_secret", "NOT_SET_ANYWHERE_XYZ"],
        ),
    ];
    for (what, config, needles) in cases {
        let (code, out) = check(config, ENV).await;
        assert_eq!(code, 2, "{what}: {out}");
        for n in *needles {
            assert!(
                out.contains(n),
                "{what}: message should contain {n:?}:\n{out}"
            );
        }
        assert!(
            out.contains("worker.toml"),
            "{what}: message should name the file:\n{out}"
        );
        assert!(
            !out.contains("cs-VALUE-1") && !out.contains("pw-VALUE-2"),
            "{what}: a secret leaked:\n{out}"
        );
        assert!(!out.contains("panicked"), "{what}: {out}");
    }
}

#[tokio::test]
async fn a_missing_config_file_is_exit_2_naming_it() {
    let work = WorkDir {
        dir: tempfile::tempdir().unwrap(),
    };
    let out = work.run(&["once"]).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("worker.toml"), "{}", text(&out));
}

#[tokio::test]
async fn digest_without_a_digest_section_is_exit_2_naming_it() {
    let work = WorkDir {
        dir: tempfile::tempdir().unwrap(),
    };
    work.write_config(GOOD);
    let out = work.run_env(&["digest", "--dry-run"], ENV).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("[digest]"), "{}", text(&out));
}

#[tokio::test]
async fn a_bad_now_is_a_usage_error() {
    let work = WorkDir {
        dir: tempfile::tempdir().unwrap(),
    };
    work.write_config(GOOD);
    let out = work.run_env(&["once", "--now", "yesterday"], ENV).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("--now"), "{}", text(&out));
}

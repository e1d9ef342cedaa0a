//! Email through a real SMTP server (aiosmtpd): plaintext, STARTTLS and implicit TLS,
//! logins, scripted 4xx/5xx replies, and what the message looks like on arrival.

use std::time::Duration;

use acronis_watch::notify::{Channel, Rendered, SendError};

use crate::common::{assert_no_secret_in_debug, config, item, reason};
use crate::support::smtp::{SmtpMode, SmtpServer};

const USER: &str = "alerts@msp.example";
const PASSWORD: &str = "pa55:w0rd/S3cr3t";

/// An email channel for `url` (as worker.toml holds it, the password from the env),
/// trusting the test CA.
fn email_channel(url: &str) -> Channel {
    let toml = format!(
        "type = \"email\"\nsmtp = \"{url}\"\n\
         from = \"MSP Alerts <alerts@msp.example>\"\n\
         to = [\"noc@msp.example\", \"Oncall <oncall@msp.example>\"]"
    );
    let cfg = config(&toml, &[("SMTP_PASSWORD", PASSWORD)]);
    Channel::new(&cfg, reqwest::Client::new())
        .with_smtp_tls_roots(&SmtpServer::ca_pem())
        .unwrap()
}

/// `server`'s URL with the test login (password from `${SMTP_PASSWORD}`).
fn login_url(server: &SmtpServer) -> String {
    server.url(Some(("alerts%40msp.example", "${SMTP_PASSWORD}")))
}

fn message() -> Rendered {
    Rendered::Email {
        subject: "[CRITICAL] SQL-01 is critical".into(),
        text: "SQL-01 (Contoso) is critical since 09:00 UTC.".into(),
        html: "<p><b>SQL-01</b> (Contoso) is critical &amp; unprotected since 09:00 UTC.</p>"
            .into(),
    }
}

async fn send(channel: &Channel) -> Result<acronis_watch::notify::Delivered, SendError> {
    channel.send(&item("firing", &["k"]), &message()).await
}

/// The checks every delivered message must pass.
fn check_message(raw: &str) {
    let lower = raw.to_ascii_lowercase();
    assert!(
        raw.contains("From: \"MSP Alerts\" <alerts@msp.example>"),
        "{raw}"
    );
    assert!(
        raw.contains("To: noc@msp.example, Oncall <oncall@msp.example>"),
        "{raw}"
    );
    assert!(
        raw.contains("Subject: [CRITICAL] SQL-01 is critical"),
        "{raw}"
    );
    assert!(raw.contains("Message-ID: <acronis-watch.7."), "{raw}");
    assert!(
        lower.contains("content-type: multipart/alternative"),
        "{raw}"
    );
    assert!(lower.contains("content-type: text/plain"), "{raw}");
    assert!(lower.contains("content-type: text/html"), "{raw}");
    assert!(
        raw.contains("SQL-01 (Contoso) is critical since 09:00 UTC."),
        "{raw}"
    );
    assert!(raw.contains("<b>SQL-01</b>"), "{raw}");
}

#[tokio::test]
async fn plaintext_relay_delivers_multipart_alternative() {
    let server = SmtpServer::start(SmtpMode::Plain);
    let ch = email_channel(&server.url(None));
    let delivered = send(&ch).await.unwrap();
    assert!(delivered.detail.starts_with("250"), "{delivered:?}");
    let got = server.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].mail_from, "alerts@msp.example");
    assert_eq!(got[0].rcpt_tos, ["noc@msp.example", "oncall@msp.example"]);
    assert!(!got[0].tls);
    check_message(&got[0].raw);
}

#[tokio::test]
async fn smtp_url_upgrades_with_starttls_and_logs_in() {
    let server = SmtpServer::start_with(SmtpMode::StartTls, Some((USER, PASSWORD)));
    let ch = email_channel(&login_url(&server));
    assert_no_secret_in_debug(&ch, &[PASSWORD]);
    send(&ch).await.unwrap();
    // The pooled connection carries a second message too.
    send(&ch).await.unwrap();
    let got = server.wait_for(2, Duration::from_secs(5)).await;
    assert!(got.iter().all(|m| m.tls), "STARTTLS before MAIL");
    assert_eq!(got[0].auth.as_deref(), Some(USER));
    check_message(&got[0].raw);
}

#[tokio::test]
async fn smtps_url_speaks_implicit_tls() {
    let server = SmtpServer::start_with(SmtpMode::Implicit, Some((USER, PASSWORD)));
    let ch = email_channel(&login_url(&server));
    send(&ch).await.unwrap();
    let got = server.wait_for(1, Duration::from_secs(5)).await;
    assert!(got[0].tls);
    assert_eq!(got[0].auth.as_deref(), Some(USER));
    check_message(&got[0].raw);
}

#[tokio::test]
async fn smtp_url_never_falls_back_to_plaintext() {
    // smtp:// demands STARTTLS; a server without it gets nothing, not even the login.
    let server = SmtpServer::start(SmtpMode::Plain);
    let url = format!(
        "smtp://alerts%40msp.example:${{SMTP_PASSWORD}}@127.0.0.1:{}",
        server.port
    );
    let err = send(&email_channel(&url)).await.unwrap_err();
    let r = reason(&err, &[PASSWORD]);
    assert!(r.contains("STARTTLS"), "{r}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_untrusted_certificate_is_retryable_and_nothing_is_sent() {
    let server = SmtpServer::start(SmtpMode::StartTls);
    // Production trust (webpki roots) does not know the test CA.
    let toml = format!(
        "type = \"email\"\nsmtp = \"smtp://127.0.0.1:{}\"\nfrom = \"a@msp.example\"\nto = [\"b@msp.example\"]",
        server.port
    );
    let ch = Channel::new(&config(&toml, &[]), reqwest::Client::new());
    let err = send(&ch).await.unwrap_err();
    assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
    reason(&err, &[]);
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn transient_4xx_is_retryable_then_delivers() {
    let server = SmtpServer::start(SmtpMode::StartTls);
    server.fail_next(451, 1);
    let ch = email_channel(&server.url(None));
    let err = send(&ch).await.unwrap_err();
    match &err {
        SendError::Retryable { retry_after, .. } => assert_eq!(*retry_after, None),
        other => panic!("{other:?}"),
    }
    let r = reason(&err, &[]);
    assert!(
        r.contains("SMTP 451") && r.contains("Try again later"),
        "{r}"
    );
    // The next attempt (the outbox worker's) on the same channel goes through.
    send(&ch).await.unwrap();
    let got = server.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!((got[0].code, got[1].code), (451, 250));
}

#[tokio::test]
async fn permanent_5xx_is_a_dead_letter() {
    let server = SmtpServer::start(SmtpMode::Plain);
    server.fail_next(550, 1);
    let err = send(&email_channel(&server.url(None))).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    let r = reason(&err, &[]);
    assert!(
        r.contains("SMTP 550") && r.contains("Mailbox unavailable"),
        "{r}"
    );
}

#[tokio::test]
async fn a_refused_login_is_permanent_and_hides_the_password() {
    let server = SmtpServer::start_with(SmtpMode::StartTls, Some((USER, "the-right-one")));
    let ch = email_channel(&login_url(&server));
    let err = send(&ch).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    let r = reason(&err, &[PASSWORD, "pa55", "S3cr3t"]);
    assert!(r.contains("SMTP 535"), "{r}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_server_that_is_not_there_is_retryable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for scheme in ["smtp+plain", "smtp", "smtps"] {
        let url = format!("{scheme}://alerts%40msp.example:${{SMTP_PASSWORD}}@127.0.0.1:{port}");
        let err = send(&email_channel(&url)).await.unwrap_err();
        assert!(
            matches!(err, SendError::Retryable { .. }),
            "{scheme}: {err:?}"
        );
        let r = reason(&err, &[PASSWORD]);
        assert!(r.contains("connection failed"), "{r}");
    }
}

#[tokio::test]
async fn a_server_that_stops_answering_times_out_and_the_pool_starts_afresh() {
    let server = SmtpServer::start(SmtpMode::StartTls);
    server.stall_next(Duration::from_secs(3), 1);
    let ch = email_channel(&server.url(None)).with_smtp_timeout(Duration::from_millis(700));
    let started = std::time::Instant::now();
    let err = send(&ch).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
    assert!(reason(&err, &[]).contains("timed out"));
    // The stalled connection is not reused: the next send gets a clean dialogue and
    // its own 250 (the stalled message may still arrive: at-least-once).
    let delivered = send(&ch).await.unwrap();
    assert!(delivered.detail.starts_with("250"), "{delivered:?}");
    // The server's record of it arrives over its event pipe, a moment after the reply.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.messages().iter().any(|m| m.code == 250) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never recorded the 250"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_json_rendering_to_email_is_permanent() {
    let server = SmtpServer::start(SmtpMode::Plain);
    let ch = email_channel(&server.url(None));
    let err = ch
        .send(
            &item("firing", &["k"]),
            &Rendered::Json(serde_json::json!({})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert!(server.messages().is_empty());
}

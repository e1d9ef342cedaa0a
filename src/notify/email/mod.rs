//! Email over SMTP with lettre: `smtp://` requires STARTTLS, `smtps://` is implicit
//! TLS, `smtp+plain://` is plaintext (a relay on loopback or a trusted network only).
//!
//! One pooled `AsyncSmtpTransport` per channel, built on the first send (building it
//! starts the pool's task, which needs the runtime) and kept. A send has one overall
//! time limit ([`SMTP_TIMEOUT`] unless set): lettre's own timeout covers only the TCP
//! connect, so a server that stops answering would otherwise hold a send forever. A
//! send cut off by that limit leaves its pooled connection mid-dialogue, so the whole
//! pool is dropped and the next send starts afresh. TLS trusts the webpki roots; tests
//! may swap in their own CA ([`Email::set_tls_roots`]). The reply decides
//! the outcome: 250 is delivered, 4xx (transient) retryable, 5xx (permanent, also a
//! refused login) a dead letter; connection, TLS and timeout failures are retryable,
//! and a server that lacks what the URL demands (STARTTLS, a login mechanism) is
//! permanent until the configuration changes. Reasons never hold the password: lettre
//! does not put credentials in its errors, and the channel scrubs them regardless.
//! The subject's limit is in `fit.rs`, which the renderer applies to alert emails and
//! digests alike.

pub mod fit;
pub mod message;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::{self, AsyncSmtpTransport};
use lettre::{AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use super::http::Who;
use super::{Delivered, Rendered, SendError};
use crate::config::{SmtpSecurity, SmtpUrl};
use crate::model::OutboxItem;

/// How long one send (connect, TLS, login, the message and its reply) may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// One SMTP server and its sender and recipients.
pub(crate) struct Email {
    smtp: SmtpUrl,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// PEM roots trusted instead of webpki's (tests).
    tls_roots: Option<Vec<u8>>,
    /// The limit on one send.
    timeout: Duration,
    /// Built on the first send; dropped after a send that timed out.
    transport: Mutex<Option<Arc<Transport>>>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("security", &self.smtp.security)
            .field("host", &self.smtp.host)
            .field("port", &self.smtp.port)
            .field("user", &self.smtp.username)
            .field("from", &self.from.to_string())
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl Email {
    pub fn new(smtp: SmtpUrl, from: Mailbox, to: Vec<Mailbox>) -> Email {
        Email {
            smtp,
            from,
            to,
            tls_roots: None,
            timeout: SMTP_TIMEOUT,
            transport: Mutex::new(None),
        }
    }

    /// Limit each send to `timeout` instead of [`SMTP_TIMEOUT`].
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.reset(None);
    }

    /// Trust the certificates in `pem` (and only them) for TLS. Checked here, so a bad
    /// file fails at once; must be called before the first send.
    pub fn set_tls_roots(&mut self, pem: &[u8]) -> Result<(), String> {
        Certificate::from_pem(pem).map_err(|e| format!("the TLS roots do not load: {e}"))?;
        self.tls_roots = Some(pem.to_vec());
        self.reset(None);
        Ok(())
    }

    /// Send once over the pooled transport and classify the reply.
    pub async fn send(
        &self,
        who: Who<'_>,
        item: &OutboxItem,
        rendered: &Rendered,
    ) -> Result<Delivered, SendError> {
        let Rendered::Email {
            subject,
            text,
            html,
        } = rendered
        else {
            return Err(SendError::Permanent {
                reason: format!("{who}: got a JSON message; this channel sends email"),
            });
        };
        let permanent = |problem: &str| SendError::Permanent {
            reason: format!("{who}: {problem}"),
        };
        // A digest goes to its tenant's `digest_to`, not the channel's `to`.
        let digest_to: Vec<Mailbox>;
        let to = match &item.digest {
            Some(d) => {
                digest_to =
                    d.to.iter()
                        .map(|a| {
                            a.parse::<Mailbox>()
                                .map_err(|e| permanent(&format!("digest_to {a:?}: {e}")))
                        })
                        .collect::<Result<_, _>>()?;
                &digest_to
            }
            None => &self.to,
        };
        let message = message::build(
            &self.from,
            to,
            item,
            message::Content {
                subject,
                text,
                html,
            },
        )
        .map_err(|p| permanent(&p))?;
        let transport = self.transport().map_err(|p| permanent(&p))?;
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(Ok(response)) => Ok(Delivered {
                detail: reply_text(response.code(), response.message()),
            }),
            Ok(Err(e)) => Err(classify(who, &e)),
            Err(_) => {
                self.reset(Some(&transport));
                Err(SendError::Retryable {
                    retry_after: None,
                    reason: format!(
                        "{who}: timed out: no answer within {}s",
                        self.timeout.as_secs_f64()
                    ),
                })
            }
        }
    }

    /// The pooled transport, built now if there is none. A build failure (TLS that
    /// cannot be set up for the host) is not kept: it is cheap to find again.
    fn transport(&self) -> Result<Arc<Transport>, String> {
        let mut slot = self.transport.lock().expect("no panic while held");
        if let Some(transport) = &*slot {
            return Ok(transport.clone());
        }
        let transport = Arc::new(self.build_transport()?);
        *slot = Some(transport.clone());
        Ok(transport)
    }

    /// Drop the pool (only if it is still `used`, when given), so no send reuses a
    /// connection left mid-dialogue.
    fn reset(&self, used: Option<&Arc<Transport>>) {
        let mut slot = self.transport.lock().expect("no panic while held");
        let current = slot.as_ref();
        if used.is_none_or(|used| current.is_some_and(|c| Arc::ptr_eq(c, used))) {
            *slot = None;
        }
    }

    fn build_transport(&self) -> Result<Transport, String> {
        let smtp = &self.smtp;
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
                .port(smtp.port)
                .timeout(Some(self.timeout));
        builder = match smtp.security {
            SmtpSecurity::Plain => builder.tls(Tls::None),
            SmtpSecurity::StartTls => builder.tls(Tls::Required(self.tls_parameters()?)),
            SmtpSecurity::Implicit => builder.tls(Tls::Wrapper(self.tls_parameters()?)),
        };
        if let Some(user) = &smtp.username {
            let password = smtp
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_string())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(builder.build())
    }

    fn tls_parameters(&self) -> Result<TlsParameters, String> {
        let mut params = TlsParameters::builder(self.smtp.host.clone());
        params = match &self.tls_roots {
            None => params.certificate_store(CertificateStore::WebpkiRoots),
            Some(pem) => params
                .certificate_store(CertificateStore::None)
                .add_root_certificate(
                    Certificate::from_pem(pem)
                        .map_err(|e| format!("the TLS roots do not load: {e}"))?,
                ),
        };
        params.build_rustls().map_err(|e| {
            format!(
                "TLS cannot be set up for SMTP host {:?}: {e}",
                self.smtp.host
            )
        })
    }
}

/// `451 4.3.0 Try again later`.
fn reply_text<'a>(code: smtp::response::Code, lines: impl Iterator<Item = &'a str>) -> String {
    let text: Vec<&str> = lines.collect();
    if text.is_empty() {
        code.to_string()
    } else {
        format!("{code} {}", text.join(" "))
    }
}

/// An SMTP failure as a [`SendError`].
fn classify(who: Who<'_>, error: &smtp::Error) -> SendError {
    let detail = chain(error);
    if let Some(code) = error.status() {
        let reason = format!("{who}: SMTP {code}{}", detail_suffix(&detail));
        return if error.is_transient() {
            SendError::Retryable {
                retry_after: None,
                reason,
            }
        } else {
            SendError::Permanent { reason }
        };
    }
    if error.is_client() {
        // The server lacks what the URL asks for (STARTTLS, a login mechanism,
        // SMTPUTF8): sending again changes nothing until the configuration does.
        return SendError::Permanent {
            reason: format!("{who}: {detail}"),
        };
    }
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_tls() {
        "TLS failed"
    } else if error.is_transport_shutdown() {
        "the connection pool is shut down"
    } else if error.is_response() {
        "the server's reply is unreadable"
    } else {
        "the connection failed"
    };
    SendError::Retryable {
        retry_after: None,
        reason: format!("{who}: {what}{}", detail_suffix(&detail)),
    }
}

/// The error's sources, without lettre's own kind label (the reason says that better).
fn chain(error: &smtp::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

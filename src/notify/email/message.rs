//! The email itself, built without a network: multipart/alternative (text, then HTML,
//! so clients that can show HTML prefer it), From/To from the channel, a subject, a
//! Date, `Auto-Submitted: auto-generated` (RFC 3834: no vacation replies to alerts) and
//! a Message-ID derived from the outbox item, so a message sent again after a crash
//! carries the same id and receivers can tell it is a duplicate.

use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use crate::model::OutboxItem;

/// `Auto-Submitted: auto-generated`.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

/// What one email holds, apart from the channel's addresses.
pub struct Content<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

/// The message for `item`; the error (a subject or address lettre will not encode)
/// is permanent.
pub fn build(
    from: &Mailbox,
    to: &[Mailbox],
    item: &OutboxItem,
    content: Content<'_>,
) -> Result<Message, String> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(one_line(content.subject))
        .message_id(Some(message_id(from, item)))
        .date_now()
        .header(AutoSubmitted);
    for mailbox in to {
        builder = builder.to(mailbox.clone());
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            content.text.to_string(),
            content.html.to_string(),
        ))
        .map_err(|e| format!("the email cannot be built: {e}"))
}

/// `<acronis-watch.ID.CREATED@DOMAIN>`: the outbox item id and its creation instant
/// (nanoseconds) make it unique; the sender's domain makes it ours.
pub fn message_id(from: &Mailbox, item: &OutboxItem) -> String {
    let created = item
        .created_at
        .timestamp_nanos_opt()
        .unwrap_or_else(|| item.created_at.timestamp());
    format!(
        "<acronis-watch.{}.{}@{}>",
        item.id,
        created,
        from.email.domain()
    )
}

/// A subject is one line: a rendered line break would end the header.
fn one_line(subject: &str) -> String {
    subject.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::model::{AlertStatus, RuleInfo};

    fn item() -> OutboxItem {
        let rule = RuleInfo {
            name: "machine-critical".into(),
            description: String::new(),
            severity: Severity::Critical,
        };
        let at = "2026-11-23T10:00:00Z".parse().unwrap();
        let mut item = OutboxItem::new("mail", rule, AlertStatus::Firing, at, None);
        item.id = 42;
        item
    }

    #[test]
    fn multipart_alternative_with_both_parts_and_headers() {
        let from: Mailbox = "MSP Alerts <alerts@msp.example>".parse().unwrap();
        let to: Vec<Mailbox> = vec![
            "noc@msp.example".parse().unwrap(),
            "Ops <ops@msp.example>".parse().unwrap(),
        ];
        let msg = build(
            &from,
            &to,
            &item(),
            Content {
                subject: "[CRITICAL] SQL-01\r\nBcc: evil@x.example",
                text: "SQL-01 is critical",
                html: "<p>SQL-01 is <b>critical</b> &amp; ü</p>",
            },
        )
        .unwrap();
        let raw = String::from_utf8(msg.formatted()).unwrap();
        assert!(
            raw.contains("From: \"MSP Alerts\" <alerts@msp.example>"),
            "{raw}"
        );
        assert!(
            raw.contains("To: noc@msp.example, Ops <ops@msp.example>"),
            "{raw}"
        );
        assert!(
            raw.contains("Subject: [CRITICAL] SQL-01 Bcc: evil@x.example\r\n"),
            "{raw}"
        );
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
        assert!(
            raw.contains("Message-ID: <acronis-watch.42.1795428000000000000@msp.example>"),
            "{raw}"
        );
        assert!(raw.contains("Auto-Submitted: auto-generated"), "{raw}");
        assert!(raw.contains("Date: "), "{raw}");
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        let text_at = raw.find("Content-Type: text/plain").expect("text part");
        let html_at = raw.find("Content-Type: text/html").expect("html part");
        assert!(text_at < html_at, "text first, HTML preferred");
        assert!(
            raw.is_ascii(),
            "bodies are transfer-encoded: no 8BITMIME needed"
        );
        let envelope = msg.envelope();
        assert_eq!(envelope.to().len(), 2);
    }

    #[test]
    fn message_id_is_stable_per_item() {
        let from: Mailbox = "alerts@msp.example".parse().unwrap();
        assert_eq!(message_id(&from, &item()), message_id(&from, &item()));
        let mut other = item();
        other.id = 43;
        assert_ne!(message_id(&from, &item()), message_id(&from, &other));
    }
}

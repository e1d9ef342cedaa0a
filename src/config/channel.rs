//! `[[channel]]` sections -> [`ChannelConfig`]s.
//!
//! One flat table per channel, checked by hand per `type`: a key that belongs to another
//! type (`routing_key` on a slack channel) is an error that says which keys this type
//! takes. URLs, routing keys, header values and SMTP passwords are secrets: they are
//! never put into a message.

use std::num::NonZeroU32;
use std::time::Duration;

use secrecy::SecretString;

use super::error::ConfigError;
use super::reader::{Item, Table};
use super::smtp::parse_smtp_url;
use super::types::{ChannelConfig, ChannelKind, Rate, SecretUrl};
use super::value::{self, Shown};

/// Every key any channel type takes.
const ALL_KEYS: [&str; 12] = [
    "name",
    "type",
    "url",
    "routing_key",
    "smtp",
    "from",
    "to",
    "headers",
    "rate",
    "burst",
    "template",
    "max_attempts",
];
/// Keys every channel type takes.
const COMMON_KEYS: [&str; 6] = ["name", "type", "rate", "burst", "template", "max_attempts"];

/// PagerDuty Events API v2, used when a pagerduty channel gives no `url`.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

const TYPES: &str = "slack, teams, email, pagerduty or webhook";

/// The type's name, the keys only it takes, and its default rate (count per seconds).
fn type_keys(type_name: &str) -> Option<(&'static str, &'static [&'static str], u32, u64)> {
    Some(match type_name {
        "slack" => ("slack", &["url"], 1, 1),
        "teams" => ("teams", &["url"], 4, 1),
        "pagerduty" => ("pagerduty", &["routing_key", "url"], 120, 60),
        "email" => ("email", &["smtp", "from", "to"], 10, 1),
        "webhook" => ("webhook", &["url", "headers"], 10, 1),
        _ => return None,
    })
}

/// All `[[channel]]` sections, names unique.
pub(super) fn channels(root: &Table<'_>) -> Result<Vec<ChannelConfig>, ConfigError> {
    let Some(item) = root.get("channel") else {
        return Ok(Vec::new());
    };
    let tables = item.tables("an array of tables: one [[channel]] section per channel")?;
    let mut channels: Vec<ChannelConfig> = Vec::with_capacity(tables.len());
    let mut first_lines = Vec::with_capacity(tables.len());
    for table in &tables {
        table.allow(&ALL_KEYS)?;
        let name_item = table.require(
            "name",
            "a unique name for the channel, like name = \"noc-slack\"",
        )?;
        let channel = channel(table, &name_item)?;
        if let Some(i) = channels.iter().position(|c| c.name == channel.name) {
            return Err(ConfigError::DuplicateChannel {
                at: name_item.at(),
                key: name_item.key.clone(),
                name: channel.name,
                first: tables[i].key.clone(),
                first_line: first_lines[i],
            });
        }
        first_lines.push(name_item.at().line);
        channels.push(channel);
    }
    Ok(channels)
}

fn channel(table: &Table<'_>, name_item: &Item<'_>) -> Result<ChannelConfig, ConfigError> {
    let name = name_item
        .string()?
        .non_empty("a channel name like \"noc-slack\"")?;
    // A name is shown in logs, metric labels and messages (the list of known channels),
    // where nothing `${...}` expanded to may appear.
    if name.expanded {
        return Err(ConfigError::InvalidValue {
            problem: format!(
                "channel name {} uses ${{...}}: a channel name appears in logs, metrics and \
                 messages, so write it literally, like name = \"noc-slack\"",
                name.shown()
            ),
            at: name.at,
            key: name.key,
        });
    }
    let name = name.value;
    let type_item = table.require("type", &format!("the channel type: {TYPES}"))?;
    let type_str = type_item.string()?;
    let Some((type_name, own_keys, rate_count, rate_secs)) = type_keys(&type_str.value) else {
        return Err(ConfigError::InvalidValue {
            at: type_str.at.clone(),
            key: type_str.key.clone(),
            problem: format!(
                "unknown channel type {}: expected {TYPES}",
                type_str.shown()
            ),
        });
    };
    // Every key is in ALL_KEYS (checked above); reject those of other types.
    for (key, span) in table.keys() {
        if let Some(name) = ALL_KEYS
            .iter()
            .find(|k| **k == key && !COMMON_KEYS.contains(k) && !own_keys.contains(k))
        {
            return Err(ConfigError::KeyNotForChannelType {
                at: table.ctx.at(span.start),
                key: table.child_key(key),
                name,
                channel_type: type_name,
                allowed: COMMON_KEYS.iter().chain(own_keys).copied().collect(),
            });
        }
    }

    let kind = match type_name {
        "slack" => ChannelKind::Slack {
            url: webhook_url(
                table,
                "the Slack incoming-webhook URL, like url = \"${SLACK_WEBHOOK_URL}\"",
            )?,
        },
        "teams" => ChannelKind::Teams {
            url: webhook_url(
                table,
                "the Teams Workflows webhook URL, like url = \"${TEAMS_WEBHOOK_URL}\"",
            )?,
        },
        "webhook" => ChannelKind::Webhook {
            url: webhook_url(
                table,
                "the URL to POST to, like url = \"https://psa.example/hooks/acronis\"",
            )?,
            headers: headers(table)?,
        },
        "pagerduty" => pagerduty(table)?,
        "email" => email(table)?,
        _ => unreachable!("type_keys accepted only the five types matched here"),
    };

    let rate = match table.get("rate") {
        Some(item) => value::rate(&item.string_of("a rate string like \"1/s\"")?)?,
        None => Rate {
            count: NonZeroU32::new(rate_count).expect("default rates are non-zero"),
            per: Duration::from_secs(rate_secs),
        },
    };
    let burst = table.opt_int(
        "burst",
        1..=i64::from(u32::MAX),
        "at least 1 (messages sent back to back)",
    )?;
    let burst =
        NonZeroU32::new(burst.map_or(1, |b| b as u32)).expect("burst was checked to be >= 1");
    let template = match table.opt_string("template")? {
        Some(s) => value::template_name(s)?,
        None => type_name.to_string(),
    };
    let max_attempts = table.opt_int(
        "max_attempts",
        1..=i64::from(u32::MAX),
        "at least 1 (then the notification is a dead letter)",
    )?;
    Ok(ChannelConfig {
        name,
        kind,
        rate,
        burst,
        template,
        max_attempts: max_attempts.map_or(10, |n| n as u32),
    })
}

fn webhook_url(table: &Table<'_>, expected: &str) -> Result<SecretUrl, ConfigError> {
    let s = table.require("url", expected)?.string()?;
    Ok(SecretUrl::new(value::http_url(&s, Shown::No)?))
}

fn pagerduty(table: &Table<'_>) -> Result<ChannelKind, ConfigError> {
    let routing_key = table
        .require(
            "routing_key",
            "the Events API v2 integration key, like routing_key = \"${PD_ROUTING_KEY}\"",
        )?
        .string()?;
    if routing_key.value.trim().is_empty() {
        return Err(ConfigError::InvalidValue {
            at: routing_key.at,
            key: routing_key.key,
            problem: "it is empty: expected the Events API v2 integration key".to_string(),
        });
    }
    let url = match table.opt_string("url")? {
        Some(s) => value::http_url(&s, Shown::No)?,
        None => PAGERDUTY_EVENTS_URL
            .parse()
            .expect("the default PagerDuty URL is valid"),
    };
    Ok(ChannelKind::PagerDuty {
        routing_key: SecretString::from(routing_key.value),
        url,
    })
}

fn email(table: &Table<'_>) -> Result<ChannelKind, ConfigError> {
    let smtp = table
        .require(
            "smtp",
            "the SMTP server URL, like smtp = \"smtps://alerts%40msp.example:${SMTP_PASSWORD}@smtp.msp.example:465\"",
        )?
        .string()?;
    let smtp =
        parse_smtp_url(smtp.value.trim()).map_err(|problem| ConfigError::InvalidSmtpUrl {
            at: smtp.at.clone(),
            key: smtp.key.clone(),
            problem,
        })?;
    let from = table
        .require(
            "from",
            "the sender, like from = \"MSP Alerts <alerts@msp.example>\"",
        )?
        .string()?;
    let from = value::mailbox(&from)?;
    let to_item = table.require("to", "the recipients, like to = [\"noc@msp.example\"]")?;
    let to = to_item
        .strings("an array of email addresses, like to = [\"noc@msp.example\"]")?
        .iter()
        .map(value::mailbox)
        .collect::<Result<Vec<_>, _>>()?;
    if to.is_empty() {
        return Err(ConfigError::InvalidValue {
            at: to_item.at(),
            key: to_item.key.clone(),
            problem:
                "the list is empty: expected at least one address, like to = [\"noc@msp.example\"]"
                    .to_string(),
        });
    }
    Ok(ChannelKind::Email { smtp, from, to })
}

/// `headers = { Name = "value" }`: names are checked as HTTP header names, values are
/// secrets (they often hold a bearer token) and are never shown.
fn headers(table: &Table<'_>) -> Result<Vec<(String, SecretString)>, ConfigError> {
    let Some(item) = table.get("headers") else {
        return Ok(Vec::new());
    };
    let headers = item.table("a table of header names to values, like headers = { Authorization = \"Bearer ${PSA_TOKEN}\" }")?;
    let mut out = Vec::new();
    for (name, span) in headers.keys() {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ConfigError::InvalidValue {
                at: headers.ctx.at(span.start),
                key: headers.child_key(name),
                problem: format!(
                    "{name:?} is not a valid HTTP header name: expected letters, digits and !#$%&'*+-.^_`|~, like \"Authorization\""
                ),
            });
        }
        let value = headers
            .get(name)
            .expect("the key was just listed")
            .string()?;
        if reqwest::header::HeaderValue::from_str(&value.value).is_err() {
            return Err(ConfigError::InvalidValue {
                at: value.at,
                key: value.key,
                problem: "the value (not shown) is not a valid HTTP header value: \
                          expected visible characters, spaces and tabs, without line breaks"
                    .to_string(),
            });
        }
        out.push((name.to_string(), SecretString::from(value.value)));
    }
    Ok(out)
}

//! One expanded string -> one typed value (duration, rate, cron, timezone, URL, mailbox,
//! name), each failure a [`ConfigError`] that names the key and what is expected.
//!
//! Secret-bearing values (webhook URLs) are described, never shown; any other value is
//! shown through [`Str::shown`], which never reveals what a `${...}` expanded to.

use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;
use reqwest::Url;

use super::duration::parse_duration;
use super::error::ConfigError;
use super::rate::parse_rate;
use super::reader::{Str, Table};
use super::types::Rate;

/// Wrong-type wording for keys that take a duration.
pub(crate) const DURATION_STRING: &str = "a duration string like \"5m\"";

/// What a cron expression must look like; the tail of every cron error.
const CRON_EXPECTED: &str = "expected 6 or 7 fields: seconds minutes hours day-of-month month day-of-week \
     [year], like \"0 0 8 * * Mon\" (write day names: numeric day-of-week counts from 1 = Sunday)";

pub(crate) fn duration(s: &Str) -> Result<Duration, ConfigError> {
    parse_duration(&s.value).map_err(|expected| ConfigError::InvalidDuration {
        at: s.at.clone(),
        key: s.key.clone(),
        shown: s.shown(),
        expected,
    })
}

/// An optional duration key, with its default.
pub(crate) fn opt_duration(
    table: &Table<'_>,
    name: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match table.get(name) {
        Some(item) => duration(&item.string_of(DURATION_STRING)?),
        None => Ok(default),
    }
}

pub(crate) fn rate(s: &Str) -> Result<Rate, ConfigError> {
    parse_rate(&s.value).map_err(|expected| ConfigError::InvalidRate {
        at: s.at.clone(),
        key: s.key.clone(),
        shown: s.shown(),
        expected,
    })
}

/// A cron expression for the `cron` 0.17 crate (6 or 7 fields, seconds first).
pub(crate) fn cron(s: &Str) -> Result<cron::Schedule, ConfigError> {
    let invalid = |problem: String| ConfigError::InvalidCron {
        at: s.at.clone(),
        key: s.key.clone(),
        shown: s.shown(),
        problem,
    };
    let fields = s.value.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        return Err(invalid(format!("it has {fields} fields: {CRON_EXPECTED}")));
    }
    cron::Schedule::from_str(&s.value).map_err(|e| {
        // The crate's message quotes the expression: leave it out if it came from `${...}`.
        if s.expanded {
            invalid(format!("the cron crate cannot parse it: {CRON_EXPECTED}"))
        } else {
            invalid(format!(
                "{}; {CRON_EXPECTED}",
                describe_cron_error(&e.to_string())
            ))
        }
    })
}

/// The cron crate says `EXPR\n   ^\nMESSAGE`: keep the message and where the caret points.
fn describe_cron_error(text: &str) -> String {
    let mut lines = text.lines();
    let _expression = lines.next();
    let caret = lines.next().and_then(|l| l.chars().position(|c| c == '^'));
    let message = lines
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let message = if message.is_empty() {
        "the cron crate cannot parse it".to_string()
    } else {
        message
    };
    match caret {
        Some(pos) => format!("{message} (at character {})", pos + 1),
        None => message,
    }
}

/// An IANA timezone name.
pub(crate) fn timezone(s: &Str) -> Result<chrono_tz::Tz, ConfigError> {
    chrono_tz::Tz::from_str(&s.value).map_err(|_| {
        let mut shown = s.shown();
        let near = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(s.value.trim()));
        if let (false, Some(tz)) = (s.expanded, near) {
            shown.push_str(&format!(" (did you mean \"{}\"?)", tz.name()));
        }
        ConfigError::InvalidTimezone {
            at: s.at.clone(),
            key: s.key.clone(),
            shown,
        }
    })
}

/// One mailbox: `alerts@msp.example` or `MSP Alerts <alerts@msp.example>`.
pub(crate) fn mailbox(s: &Str) -> Result<Mailbox, ConfigError> {
    s.value
        .trim()
        .parse::<Mailbox>()
        .map_err(|_| ConfigError::InvalidEmail {
            at: s.at.clone(),
            key: s.key.clone(),
            shown: s.shown(),
            expected: "expected an address like \"noc@msp.example\" or a name and address like \
                   \"MSP Alerts <alerts@msp.example>\""
                .to_string(),
        })
}

/// Whether a URL may be shown in messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shown {
    Yes,
    /// Webhook URLs carry tokens in their path or query.
    No,
}

/// An http(s) URL with a host.
pub(super) fn http_url(s: &Str, shown: Shown) -> Result<Url, ConfigError> {
    // A URL with a user or password is never shown either.
    let show = shown == Shown::Yes && !s.value.contains('@');
    let invalid = |problem: String| ConfigError::InvalidUrl {
        at: s.at.clone(),
        key: s.key.clone(),
        shown: if show {
            format!(" {}", s.shown())
        } else {
            " (value not shown, it may carry a token)".to_string()
        },
        problem,
    };
    const EXPECTED: &str = "expected an http:// or https:// URL with a host";
    let url = Url::parse(s.value.trim()).map_err(|e| invalid(format!("{e}: {EXPECTED}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme must be http or https: {EXPECTED}"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(format!("the host is missing: {EXPECTED}")));
    }
    Ok(url)
}

/// A template name: it becomes part of file names (`NAME.<format>.hbs`).
pub(crate) fn template_name(s: Str) -> Result<String, ConfigError> {
    let s = s.non_empty("a template name like \"slack\"")?;
    if !s
        .value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ConfigError::InvalidValue {
            at: s.at.clone(),
            key: s.key.clone(),
            problem: format!(
                "template name {} may only hold letters, digits, '-' and '_': \
                 it names the files NAME.<format>.hbs in templates_dir",
                s.shown()
            ),
        });
    }
    Ok(s.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_errors_keep_message_and_position() {
        assert_eq!(
            describe_cron_error(
                "0 0 25 * * Mon\n    ^\nHours must be less than 23. ('25' specified.)"
            ),
            "Hours must be less than 23. ('25' specified.) (at character 5)"
        );
        assert_eq!(
            describe_cron_error("0 0 8 * * Mon 2020 9\n                   ^\n"),
            "the cron crate cannot parse it (at character 20)"
        );
    }
}

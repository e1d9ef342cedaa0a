//! Where template text comes from (a folder, or the copies built into the binary) and
//! which files make up a template `NAME` for each kind of message.

use std::path::{Path, PathBuf};

use super::escape::Flavor;
use crate::config::ChannelKind;

/// What a template set renders, which decides its files and its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Slack,
    Teams,
    PagerDuty,
    Webhook,
    Email,
    Digest,
}

impl Target {
    pub fn of(kind: &ChannelKind) -> Target {
        match kind {
            ChannelKind::Slack { .. } => Target::Slack,
            ChannelKind::Teams { .. } => Target::Teams,
            ChannelKind::PagerDuty { .. } => Target::PagerDuty,
            ChannelKind::Webhook { .. } => Target::Webhook,
            ChannelKind::Email { .. } => Target::Email,
        }
    }

    /// How a message of this target is called in errors.
    pub fn label(self) -> &'static str {
        match self {
            Target::Slack => "Slack",
            Target::Teams => "Teams",
            Target::PagerDuty => "PagerDuty",
            Target::Webhook => "webhook",
            Target::Email => "email",
            Target::Digest => "digest",
        }
    }

    /// Whether the message is a JSON body (otherwise an email of three parts).
    pub fn is_json(self) -> bool {
        !matches!(self, Target::Email | Target::Digest)
    }

    /// The files of template `name` for this target, with the escaping each gets.
    pub fn files(self, name: &str) -> Vec<(Part, String, Flavor)> {
        match self {
            Target::Email | Target::Digest => vec![
                (
                    Part::Subject,
                    format!("{name}.subject.txt.hbs"),
                    Flavor::Txt,
                ),
                (Part::Text, format!("{name}.txt.hbs"), Flavor::Txt),
                (Part::Html, format!("{name}.html.hbs"), Flavor::Html),
            ],
            Target::Slack => vec![(Part::Body, format!("{name}.json.hbs"), Flavor::SlackJson)],
            _ => vec![(Part::Body, format!("{name}.json.hbs"), Flavor::Json)],
        }
    }
}

/// One file of a template set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The JSON body (`NAME.json.hbs`).
    Body,
    /// `NAME.subject.txt.hbs`.
    Subject,
    /// `NAME.txt.hbs`.
    Text,
    /// `NAME.html.hbs`.
    Html,
}

/// The shipped templates, by file name.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "slack.json.hbs",
        include_str!("../../../templates/slack.json.hbs"),
    ),
    (
        "teams.json.hbs",
        include_str!("../../../templates/teams.json.hbs"),
    ),
    (
        "pagerduty.json.hbs",
        include_str!("../../../templates/pagerduty.json.hbs"),
    ),
    (
        "webhook.json.hbs",
        include_str!("../../../templates/webhook.json.hbs"),
    ),
    (
        "email.subject.txt.hbs",
        include_str!("../../../templates/email.subject.txt.hbs"),
    ),
    (
        "email.txt.hbs",
        include_str!("../../../templates/email.txt.hbs"),
    ),
    (
        "email.html.hbs",
        include_str!("../../../templates/email.html.hbs"),
    ),
    (
        "digest.subject.txt.hbs",
        include_str!("../../../templates/digest.subject.txt.hbs"),
    ),
    (
        "digest.txt.hbs",
        include_str!("../../../templates/digest.txt.hbs"),
    ),
    (
        "digest.html.hbs",
        include_str!("../../../templates/digest.html.hbs"),
    ),
];

/// A folder of templates, or the shipped ones.
#[derive(Debug, Clone)]
pub enum Origin {
    Dir(PathBuf),
    Shipped,
}

impl Origin {
    /// How a file is named in messages: its path, so an editor can jump to it.
    pub fn display(&self, file: &str) -> String {
        match self {
            Origin::Dir(dir) => dir.join(file).display().to_string(),
            Origin::Shipped => format!("templates/{file} (built in)"),
        }
    }

    /// The text of `file`; Ok(None) when there is no such file.
    pub fn read(&self, file: &str) -> std::io::Result<Option<String>> {
        match self {
            Origin::Dir(dir) => read_file(&dir.join(file)),
            Origin::Shipped => Ok(SHIPPED
                .iter()
                .find(|(name, _)| *name == file)
                .map(|(_, text)| (*text).to_owned())),
        }
    }
}

fn read_file(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

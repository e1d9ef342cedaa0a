//! What can be wrong with a worker.toml or a rule file, said the way a person needs to
//! hear it.
//!
//! Every variant except [`ConfigError::Read`] and [`ConfigError::ReadRules`] carries a
//! [`Location`] (file, line, column) and the dotted key (`acronis.poll_every`,
//! `channel[2].rate`, `tenant."3b6f".digest_to`, `rule[1].when.status[0]`), and its
//! message says what is expected. Messages never contain a secret: values of
//! secret-bearing keys are described, not echoed, and a value that came from `${...}` is
//! shown as written, never expanded.

use std::fmt;
use std::path::PathBuf;

/// A position in a config (or rule) file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as given (e.g. `worker.toml`).
    pub file: PathBuf,
    pub line: usize,
    /// 1-based, counted in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`, which was read from `file`.
    pub fn new(file: impl Into<PathBuf>, text: &str, offset: usize) -> Self {
        let (line, column) = line_col(text, offset);
        Location {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Line (1-based) and column (1-based, in characters) of byte `offset` in `text`.
///
/// An offset past the end points just after the last character; one inside a
/// multi-byte character points at that character.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Why a worker.toml (or a rule file) was rejected. Only the first problem found is
/// reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read at all.
    #[error("{}: cannot read the config file: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Not valid TOML.
    #[error("{at}: TOML syntax error: {message}")]
    Syntax { at: Location, message: String },

    /// A key the schema does not know.
    #[error(
        "{at}: {key}: unknown key in {table}{}; allowed keys: {}",
        .hint.map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default(),
        .allowed.join(", ")
    )]
    UnknownKey {
        at: Location,
        key: String,
        /// Where it was found, e.g. `[acronis]` or `the top level`.
        table: String,
        /// The allowed key it is probably a typo of.
        hint: Option<&'static str>,
        allowed: &'static [&'static str],
    },

    /// A value of the wrong TOML type.
    #[error("{at}: {key}: expected {expected}, found {found}")]
    WrongType {
        at: Location,
        key: String,
        expected: String,
        found: String,
    },

    /// A required key is absent; `at` points at the table that should hold it.
    #[error("{at}: {key}: required key is missing from {table}: expected {expected}")]
    MissingKey {
        at: Location,
        key: String,
        table: String,
        expected: String,
    },

    /// `${NAME}` names an environment variable that is not set.
    #[error(
        "{at}: {key}: environment variable {var} is not set (referenced as ${{{var}}}); \
         set it, or write the value in the file"
    )]
    UnsetEnv {
        at: Location,
        key: String,
        var: String,
    },

    /// `${file:PATH}` could not be read.
    #[error(
        "{at}: {key}: cannot read ${{file:{path}}} ({}): {source}; \
         paths are relative to the config file's folder",
        .resolved.display()
    )]
    FileRef {
        at: Location,
        key: String,
        /// As written.
        path: String,
        /// Resolved against the config file's folder.
        resolved: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A malformed `${...}` reference.
    #[error("{at}: {key}: {problem}")]
    BadExpansion {
        at: Location,
        key: String,
        problem: String,
    },

    #[error("{at}: {key}: invalid duration {shown}: {expected}")]
    InvalidDuration {
        at: Location,
        key: String,
        shown: String,
        expected: String,
    },

    #[error("{at}: {key}: invalid rate {shown}: {expected}")]
    InvalidRate {
        at: Location,
        key: String,
        shown: String,
        expected: String,
    },

    /// The SMTP URL is never shown: it may carry a password.
    #[error("{at}: {key}: invalid SMTP URL (value not shown, it may hold a password): {problem}")]
    InvalidSmtpUrl {
        at: Location,
        key: String,
        problem: String,
    },

    #[error("{at}: {key}: invalid shard {shown}: {expected}")]
    InvalidShard {
        at: Location,
        key: String,
        shown: String,
        expected: String,
    },

    /// `shown` is empty for secret-bearing URLs (webhooks carry tokens).
    #[error("{at}: {key}: invalid URL{shown}: {problem}")]
    InvalidUrl {
        at: Location,
        key: String,
        shown: String,
        problem: String,
    },

    #[error("{at}: {key}: invalid email address {shown}: {expected}")]
    InvalidEmail {
        at: Location,
        key: String,
        shown: String,
        expected: String,
    },

    #[error(
        "{at}: {key}: channel name {name:?} is already used by {first} (line {first_line}); channel names must be unique"
    )]
    DuplicateChannel {
        at: Location,
        key: String,
        name: String,
        first: String,
        first_line: usize,
    },

    /// A key that exists for some channel type, but not for this one.
    #[error(
        "{at}: {key}: `{name}` does not belong to a {channel_type} channel; a {channel_type} channel takes: {}",
        .allowed.join(", ")
    )]
    KeyNotForChannelType {
        at: Location,
        key: String,
        name: &'static str,
        channel_type: &'static str,
        allowed: Vec<&'static str>,
    },

    /// `digest.channel` names no channel, or a non-email one.
    #[error("{at}: {key}: {problem}")]
    DigestChannel {
        at: Location,
        key: String,
        problem: String,
    },

    #[error("{at}: {key}: invalid cron expression {shown}: {problem}")]
    InvalidCron {
        at: Location,
        key: String,
        shown: String,
        problem: String,
    },

    #[error(
        "{at}: {key}: unknown timezone {shown}: expected an IANA name like \"Europe/Berlin\", \"America/New_York\" or \"UTC\""
    )]
    InvalidTimezone {
        at: Location,
        key: String,
        shown: String,
    },

    #[error(
        "{at}: {key}: {problem}: expected \"children\" or an array of tenant ids like [\"id\", ...]; \
         omit it to poll at the API client's own scope"
    )]
    InvalidTenants {
        at: Location,
        key: String,
        problem: String,
    },

    /// A number outside what the key accepts.
    #[error("{at}: {key}: {value} is out of range: expected {expected}")]
    OutOfRange {
        at: Location,
        key: String,
        value: String,
        expected: String,
    },

    #[error(
        "{at}: {key}: invalid listen address {shown}: expected an IP address and port like \"127.0.0.1:9108\" or \"[::]:9108\""
    )]
    InvalidListen {
        at: Location,
        key: String,
        shown: String,
    },

    /// A `[[silence]]` whose window makes no sense.
    #[error("{at}: {key}: {problem}")]
    InvalidSilence {
        at: Location,
        key: String,
        problem: String,
    },

    /// Any other value the key does not accept.
    #[error("{at}: {key}: {problem}")]
    InvalidValue {
        at: Location,
        key: String,
        problem: String,
    },

    /// The rules folder, or a rule file in it, could not be read.
    #[error("{}: cannot read {what}: {source}", .path.display())]
    ReadRules {
        path: PathBuf,
        /// What it is, e.g. `the rule file`, or the folder and the setting that names it.
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// Two rules share a name (in one file or across files); `first` is the other place.
    #[error(
        "{at}: {key}: rule name {name:?} is already used by {first_key} at {first}; \
         rule names must be unique across all rule files (they are part of every alert key)"
    )]
    DuplicateRule {
        at: Location,
        key: String,
        name: String,
        /// The `name` of the rule that came first, e.g. `rule[0].name`.
        first_key: String,
        /// Boxed: keeps every `Result<_, ConfigError>` small.
        first: Box<Location>,
    },
}

impl ConfigError {
    /// Where the problem is (None only for an unreadable file).
    pub fn location(&self) -> Option<&Location> {
        use ConfigError::*;
        match self {
            Read { .. } | ReadRules { .. } => None,
            Syntax { at, .. }
            | UnknownKey { at, .. }
            | WrongType { at, .. }
            | MissingKey { at, .. }
            | UnsetEnv { at, .. }
            | FileRef { at, .. }
            | BadExpansion { at, .. }
            | InvalidDuration { at, .. }
            | InvalidRate { at, .. }
            | InvalidSmtpUrl { at, .. }
            | InvalidShard { at, .. }
            | InvalidUrl { at, .. }
            | InvalidEmail { at, .. }
            | DuplicateChannel { at, .. }
            | KeyNotForChannelType { at, .. }
            | DigestChannel { at, .. }
            | InvalidCron { at, .. }
            | InvalidTimezone { at, .. }
            | InvalidTenants { at, .. }
            | OutOfRange { at, .. }
            | InvalidListen { at, .. }
            | InvalidSilence { at, .. }
            | InvalidValue { at, .. }
            | DuplicateRule { at, .. } => Some(at),
        }
    }

    /// The dotted key the problem is about (None for unreadable files and syntax errors).
    pub fn key(&self) -> Option<&str> {
        use ConfigError::*;
        match self {
            Read { .. } | ReadRules { .. } | Syntax { .. } => None,
            UnknownKey { key, .. }
            | WrongType { key, .. }
            | MissingKey { key, .. }
            | UnsetEnv { key, .. }
            | FileRef { key, .. }
            | BadExpansion { key, .. }
            | InvalidDuration { key, .. }
            | InvalidRate { key, .. }
            | InvalidSmtpUrl { key, .. }
            | InvalidShard { key, .. }
            | InvalidUrl { key, .. }
            | InvalidEmail { key, .. }
            | DuplicateChannel { key, .. }
            | KeyNotForChannelType { key, .. }
            | DigestChannel { key, .. }
            | InvalidCron { key, .. }
            | InvalidTimezone { key, .. }
            | InvalidTenants { key, .. }
            | OutOfRange { key, .. }
            | InvalidListen { key, .. }
            | InvalidSilence { key, .. }
            | InvalidValue { key, .. }
            | DuplicateRule { key, .. } => Some(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "ab\ncd\n\nxé y";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 1), (1, 2));
        assert_eq!(line_col(text, 2), (1, 3));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 7), (4, 1));
        // 'é' is two bytes; the column after it counts characters.
        assert_eq!(line_col(text, 10), (4, 3));
        // Inside 'é' points at 'é'.
        assert_eq!(line_col(text, 9), (4, 2));
        assert_eq!(line_col(text, 1000), (4, 5));
        assert_eq!(line_col("", 0), (1, 1));
    }

    #[test]
    fn location_displays_like_a_compiler() {
        let at = Location::new("worker.toml", "a\nbc", 3);
        assert_eq!(at.to_string(), "worker.toml:2:2");
    }
}

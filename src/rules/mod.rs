//! Rules: `rules/*.toml` -> a closed [`Rule`] set, and the pure evaluation of one rule
//! against one resource at one instant.
//!
//! Stage three of the pipeline (poll -> store -> **evaluate** -> transition + enqueue ->
//! deliver). Nothing here performs I/O beyond reading the rule files in `file.rs`, and
//! nothing here knows about sled, alerts' lifecycle or channels: `eval.rs` is a pure
//! function of (rule, previous alert state, current resource, now), property-tested.

mod eval;
mod file;
mod matcher;
mod when;

#[cfg(test)]
pub(crate) mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use eval::{
    Prior, Subject, Transition, condition_holds, next_flip, repeat_due_at, subject, transition,
    transition_to,
};
pub use file::{RuleError, load, parse, parse_files};
pub use matcher::Matcher;

use crate::acronis::model::AggregateStatus;
use crate::model::Severity;

/// What makes a rule fire (`when.*`). Exactly one kind per rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Condition {
    /// `when.status`: the aggregate status is one of these.
    Status(Vec<AggregateStatus>),
    /// `when.policy` + `when.last_success_older_than`: the policy's last success (or, if
    /// it never succeeded, the earliest of its last run and the resource's creation) is
    /// at least this old.
    Stale {
        policy: String,
        older_than: Duration,
    },
    /// `when.policy` + `when.overdue_by`: `next_run + overdue_by` has passed and the
    /// policy has not run since `next_run`.
    Overdue {
        policy: String,
        overdue_by: Duration,
    },
    /// `when.policy` + `when.last_run_failed = true`: the policy's latest run did not
    /// succeed (`last_run` is newer than `last_success_run`, or it ran and never
    /// succeeded). Resolves when a later run succeeds.
    LastRunFailed { policy: String },
    /// `when.agent_offline_for`: the agent has been offline this long, counted from
    /// the first poll that saw it offline.
    AgentOfflineFor(Duration),
    /// `when.agent_disabled = true`: the agent is disabled.
    AgentDisabled,
    /// `when.cyberfit_below = N`: the CyberFit score is below N (no score: never).
    CyberfitBelow(u32),
    /// `source = "platform"`: an Alert Manager alert matching these filters is open.
    /// Never holds for a resource.
    Platform(PlatformFilter),
}

/// A platform rule's alert filters (`match.severity`, `match.category`,
/// `match.alert_type`); empty lists match everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PlatformFilter {
    /// Platform severities: `ok information warning error critical`.
    pub severities: Vec<String>,
    /// Globs on the alert's category, case-insensitive.
    pub categories: Vec<glob::Pattern>,
    /// Globs on the alert's type, case-insensitive.
    pub alert_types: Vec<glob::Pattern>,
    /// The rule wrote no `severity`: each alert has the platform's own.
    pub own_severity: bool,
}

impl PlatformFilter {
    /// The severities a platform sends (`match.severity` takes these).
    pub const SEVERITIES: [&'static str; 5] = ["ok", "information", "warning", "error", "critical"];

    pub fn matches(&self, a: &crate::acronis::model::PlatformAlert) -> bool {
        let opts = glob::MatchOptions {
            case_sensitive: false,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        (self.severities.is_empty() || self.severities.contains(&a.severity))
            && (self.categories.is_empty()
                || self
                    .categories
                    .iter()
                    .any(|g| g.matches_with(&a.category, opts)))
            && (self.alert_types.is_empty()
                || self
                    .alert_types
                    .iter()
                    .any(|g| g.matches_with(&a.kind, opts)))
    }
}

impl Condition {
    /// Whether it reads `include_attributes` data (the agent, CyberFit).
    pub fn needs_attributes(&self) -> bool {
        matches!(
            self,
            Condition::AgentOfflineFor(_) | Condition::AgentDisabled | Condition::CyberfitBelow(_)
        )
    }

    /// Whether it watches Alert Manager alerts (`source = "platform"`), not resources.
    pub fn is_platform(&self) -> bool {
        matches!(self, Condition::Platform(_))
    }

    /// The policy type a policy condition is about; None for status conditions.
    pub fn policy(&self) -> Option<&str> {
        match self {
            Condition::Status(_)
            | Condition::AgentOfflineFor(_)
            | Condition::AgentDisabled
            | Condition::CyberfitBelow(_)
            | Condition::Platform(_) => None,
            Condition::Stale { policy, .. }
            | Condition::Overdue { policy, .. }
            | Condition::LastRunFailed { policy } => Some(policy),
        }
    }
}

/// `flap = { changes, within }`: an alert whose state changed `changes` times within
/// `within` is flapping; it is told once, held, and its final state is told once it has
/// been stable for `within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flap {
    pub changes: u32,
    pub within: Duration,
}

/// One `[[rule]]`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique; letters, digits, `-`, `_`, `.`; part of every alert key.
    pub name: String,
    pub description: String,
    pub severity: Severity,
    /// Channel names (checked against worker.toml's `[[channel]]`s).
    pub notify: Vec<String>,
    pub condition: Condition,
    pub matcher: Matcher,
    /// Re-notify while firing, every this long; None: never.
    pub repeat: Option<Duration>,
    /// Notify when the alert resolves.
    pub resolve: bool,
    /// Firings for the same channel within this window are one message; zero: none.
    pub group_window: Duration,
    /// `flap`: an alert that changes state this often is held as one "flapping"
    /// notification until it is stable.
    pub flap: Option<Flap>,
    /// Where it was defined (for messages).
    pub file: PathBuf,
    pub line: usize,
}

impl Rule {
    /// A hash of what decides when the rule fires (condition and filters): when it
    /// differs from the one recorded in the state, the rule's alerts are re-evaluated
    /// across the fleet and its deadlines rebuilt.
    pub fn condition_hash(&self) -> u64 {
        let text = format!("{:?}|{:?}", self.condition, self.matcher.key());
        crate::config::fnv1a64(text.as_bytes())
    }
}

/// Every loaded rule, in file order (files sorted by name).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

impl RuleSet {
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }
}

/// The shipped rule files, built into the binary for `demo` (which needs no files).
pub const SHIPPED: [(&str, &str); 5] = [
    ("rules/agents.toml", include_str!("../../rules/agents.toml")),
    (
        "rules/machines.toml",
        include_str!("../../rules/machines.toml"),
    ),
    ("rules/backup.toml", include_str!("../../rules/backup.toml")),
    (
        "rules/platform.toml",
        include_str!("../../rules/platform.toml"),
    ),
    (
        "rules/security.toml",
        include_str!("../../rules/security.toml"),
    ),
];

/// The shipped rules, checked against `config`'s channels.
pub fn shipped(config: &crate::config::Config) -> Result<RuleSet, RuleError> {
    let files: Vec<(PathBuf, String)> = SHIPPED
        .iter()
        .map(|(path, text)| (PathBuf::from(path), text.to_string()))
        .collect();
    parse_files(&files, config)
}

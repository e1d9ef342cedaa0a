//! What one `[[rule]]` watches: its condition (`when.*` -> [`Condition`]) and its
//! resource filters (`match.*` -> [`Matcher`]).
//!
//! A rule has exactly one kind of condition: `when.status` alone, or `when.policy` with
//! one time condition. Every other combination is an error that says which rule to
//! write instead.

use super::file::{list, positive_duration};
use super::{Condition, Matcher, PlatformFilter};
use crate::acronis::model::AggregateStatus;
use crate::config::ConfigError;
use crate::config::reader::{Item, Str, Table};
use crate::config::value::{self, DURATION_STRING};

const WHEN_KEYS: [&str; 8] = [
    "status",
    "policy",
    "last_success_older_than",
    "overdue_by",
    "last_run_failed",
    "agent_offline_for",
    "agent_disabled",
    "cyberfit_below",
];
const MATCH_KEYS: [&str; 3] = ["type", "tenant", "name"];

/// The conditions a rule can have, for messages.
const CONDITIONS: &str = "when.status = [\"critical\"], when.policy = \"policy.backup.machine\" \
     with when.last_success_older_than = \"26h\", when.overdue_by = \"2h\" or \
     when.last_run_failed = true, when.agent_offline_for = \"24h\", when.agent_disabled = true, \
     or when.cyberfit_below = 579";

/// `when.*` of one rule.
pub(super) fn condition(rule: &Table<'_>) -> Result<Condition, ConfigError> {
    let Some(item) = rule.get("when") else {
        return Err(rule.missing(
            "when",
            &format!("a condition ({CONDITIONS}); a rule with no condition never fires"),
        ));
    };
    let when = item.table(&format!("a table of conditions, like {CONDITIONS}"))?;
    when.allow(&WHEN_KEYS)?;
    let status = when.get("status");
    let policy = when.get("policy");
    let older = when.get("last_success_older_than");
    let overdue = when.get("overdue_by");
    let failed = when.get("last_run_failed");
    let time = older.as_ref().or(overdue.as_ref()).or(failed.as_ref());
    if let Some(c) = agent_condition(&when)? {
        return Ok(c);
    }

    match (&status, &policy, time) {
        (Some(s), Some(p), _) => Err(invalid(
            later(s, p),
            "when.status and when.policy cannot be combined: a rule watches either the \
             resource's aggregate status or one policy of it; write two rules"
                .to_string(),
        )),
        (Some(_), None, Some(t)) => Err(invalid(
            t,
            "a time condition is about a policy's runs, not the aggregate status: \
             write a separate rule with when.policy = \"policy.backup.machine\" (the policy type)"
                .to_string(),
        )),
        (Some(s), None, None) => Ok(Condition::Status(statuses(s)?)),
        (None, Some(p), _) => {
            policy_condition(p, older.as_ref(), overdue.as_ref(), failed.as_ref())
        }
        (None, None, Some(t)) => Err(invalid(
            t,
            "a time condition needs when.policy: the policy type whose runs it measures, \
             like when.policy = \"policy.backup.machine\""
                .to_string(),
        )),
        (None, None, None) => Err(ConfigError::InvalidValue {
            at: item.at(),
            key: item.key.clone(),
            problem: format!(
                "it is empty, and a rule with no condition never fires: expected {CONDITIONS}"
            ),
        }),
    }
}

/// `when.agent_offline_for`, `when.agent_disabled` or `when.cyberfit_below`: each a
/// rule's only condition. None when the rule has none of them.
fn agent_condition(when: &Table<'_>) -> Result<Option<Condition>, ConfigError> {
    let keys = ["agent_offline_for", "agent_disabled", "cyberfit_below"];
    let Some(item) = keys.iter().find_map(|k| when.get(k)) else {
        return Ok(None);
    };
    let others = WHEN_KEYS
        .iter()
        .filter(|k| **k != item.key.rsplit('.').next().unwrap_or(""))
        .filter_map(|k| when.get(k));
    if let Some(other) = others.into_iter().next() {
        return Err(invalid(
            later(&item, &other),
            "a rule has one condition: write two rules".to_string(),
        ));
    }
    let name = item.key.rsplit('.').next().unwrap_or("");
    let condition = match name {
        "agent_offline_for" => Condition::AgentOfflineFor(positive_duration(
            &item,
            "0s would fire the moment an agent is seen offline; write how long, like \"24h\"",
        )?),
        "agent_disabled" => match item.value {
            toml::de::DeValue::Boolean(true) => Condition::AgentDisabled,
            toml::de::DeValue::Boolean(false) => {
                return Err(ConfigError::InvalidValue {
                    at: item.at(),
                    key: item.key.clone(),
                    problem:
                        "when.agent_disabled = false watches nothing: write true, or remove it"
                            .to_string(),
                });
            }
            other => {
                return Err(ConfigError::InvalidValue {
                    at: item.at(),
                    key: item.key.clone(),
                    problem: format!(
                        "expected true, found {}",
                        crate::config::reader::a_type(other)
                    ),
                });
            }
        },
        _ => {
            let n = item.int()?;
            if !(1..=850).contains(&n) {
                return Err(ConfigError::OutOfRange {
                    at: item.at(),
                    key: item.key.clone(),
                    value: n.to_string(),
                    expected: "1 to 850 (CyberFit scores run from 0 to 850)".to_string(),
                });
            }
            Condition::CyberfitBelow(n as u32)
        }
    };
    Ok(Some(condition))
}

/// `when.status`: one or more aggregate status names the API documents.
fn statuses(item: &Item<'_>) -> Result<Vec<AggregateStatus>, ConfigError> {
    let names = list(
        item,
        "an array of aggregate status names, like [\"critical\", \"error\"]",
    )?;
    if names.is_empty() {
        return Err(ConfigError::InvalidValue {
            at: item.at(),
            key: item.key.clone(),
            problem: format!(
                "the list is empty: expected at least one of {}",
                AggregateStatus::KNOWN.join(", ")
            ),
        });
    }
    names
        .into_iter()
        .map(|s| {
            if AggregateStatus::KNOWN.contains(&s.value.as_str()) {
                Ok(AggregateStatus::parse(&s.value))
            } else {
                Err(ConfigError::InvalidValue {
                    problem: format!(
                        "unknown status {}: expected one of {} (names from the Acronis API)",
                        s.shown(),
                        AggregateStatus::KNOWN.join(", ")
                    ),
                    at: s.at,
                    key: s.key,
                })
            }
        })
        .collect()
}

/// `when.policy` with exactly one of `last_success_older_than`, `overdue_by` and
/// `last_run_failed = true`.
fn policy_condition(
    policy: &Item<'_>,
    older: Option<&Item<'_>>,
    overdue: Option<&Item<'_>>,
    failed: Option<&Item<'_>>,
) -> Result<Condition, ConfigError> {
    let kind = "a policy type, like \"policy.backup.machine\"";
    let policy_type = policy.string_of(kind)?.non_empty(kind)?.value;
    if let Some(f) = failed {
        if let Some(other) = older.or(overdue) {
            return Err(invalid(
                later(f, other),
                "when.last_run_failed cannot be combined with a time condition: a policy rule \
                 has one condition; write two rules"
                    .to_string(),
            ));
        }
        return match f.value {
            toml::de::DeValue::Boolean(true) => Ok(Condition::LastRunFailed {
                policy: policy_type,
            }),
            toml::de::DeValue::Boolean(false) => Err(ConfigError::InvalidValue {
                at: f.at(),
                key: f.key.clone(),
                problem: "when.last_run_failed = false watches nothing: write true (the latest \
                          run did not succeed), or remove it"
                    .to_string(),
            }),
            _ => Err(ConfigError::InvalidValue {
                at: f.at(),
                key: f.key.clone(),
                problem: format!(
                    "expected true, found {}",
                    crate::config::reader::a_type(f.value)
                ),
            }),
        };
    }
    match (older, overdue) {
        (Some(a), Some(b)) => Err(invalid(
            later(a, b),
            "when.last_success_older_than and when.overdue_by cannot be combined: \
             a policy rule has one time condition; write two rules"
                .to_string(),
        )),
        (None, None) => Err(invalid(
            policy,
            "when.policy needs a condition: when.last_success_older_than = \"26h\" \
             (no successful run for that long), when.overdue_by = \"2h\" (a scheduled run \
             that late) or when.last_run_failed = true (the latest run did not succeed)"
                .to_string(),
        )),
        (Some(a), None) => Ok(Condition::Stale {
            policy: policy_type,
            older_than: positive_duration(
                a,
                "0s would fire for every policy at once; write how old the last success may be, \
                 like \"26h\"",
            )?,
        }),
        (None, Some(b)) => Ok(Condition::Overdue {
            policy: policy_type,
            overdue_by: value::duration(&b.string_of(DURATION_STRING)?)?,
        }),
    }
}

/// `match.*` of one rule: no `match` matches every resource.
pub(super) fn matcher(rule: &Table<'_>) -> Result<Matcher, ConfigError> {
    let Some(item) = rule.get("match") else {
        return Ok(Matcher::default());
    };
    let table = item.table(
        "a table of filters, like match.type = [\"resource.machine\"], match.tenant = [\"id\"], \
         match.name = [\"sql-*\"]",
    )?;
    table.allow(&MATCH_KEYS)?;
    let filter = |name: &str, expected: &str| filter_list(&table, name, expected);
    let types = filter(
        "type",
        "an array of resource types, like [\"resource.machine\"]",
    )?
    .into_iter()
    .map(Str::resource_type)
    .collect::<Result<Vec<_>, _>>()?;
    let tenants = filter("tenant", "an array of tenant ids, like [\"3b6f...\"]")?;
    let names = filter("name", "an array of resource name globs, like [\"sql-*\"]")?;
    for name in &names {
        if let Err(e) = glob::Pattern::new(&name.value) {
            return Err(ConfigError::InvalidValue {
                at: name.at.clone(),
                key: name.key.clone(),
                problem: format!(
                    "{} is not a valid glob ({}): expected a pattern with *, ? or [a-z], like \"sql-*\"",
                    name.shown(),
                    e.msg
                ),
            });
        }
    }
    let values = |list: Vec<Str>| list.into_iter().map(|s| s.value).collect::<Vec<_>>();
    let name_globs = values(names);
    Matcher::new(values(types), values(tenants), &name_globs).map_err(|problem| {
        ConfigError::InvalidValue {
            at: item.at(),
            key: table.child_key("name"),
            problem,
        }
    })
}

/// `match.*` of a platform rule: `severity` (platform severities), `category` and
/// `alert_type` (globs), `tenant` and `name` (the machine the alert is about, if any).
pub(super) fn platform_match(rule: &Table<'_>) -> Result<(PlatformFilter, Matcher), ConfigError> {
    let Some(item) = rule.get("match") else {
        return Ok((PlatformFilter::default(), Matcher::default()));
    };
    let table = item.table(
        "a table of filters, like match.severity = [\"critical\"], match.category = [\"backup*\"]",
    )?;
    table.allow(&["severity", "category", "alert_type", "tenant", "name"])?;
    let strings = |name: &str, expected: &str| filter_list(&table, name, expected);
    let globs = |name: &str, expected: &str| -> Result<Vec<glob::Pattern>, ConfigError> {
        strings(name, expected)?
            .into_iter()
            .map(|s| {
                glob::Pattern::new(&s.value).map_err(|e| ConfigError::InvalidValue {
                    problem: format!(
                        "{} is not a valid glob ({}): expected a pattern with *, ? or [a-z]",
                        s.shown(),
                        e.msg
                    ),
                    at: s.at.clone(),
                    key: s.key.clone(),
                })
            })
            .collect()
    };
    let mut severities = Vec::new();
    for s in strings(
        "severity",
        "an array of platform severities, like [\"critical\"]",
    )? {
        if !PlatformFilter::SEVERITIES.contains(&s.value.as_str()) {
            return Err(ConfigError::InvalidValue {
                problem: format!(
                    "unknown platform severity {}: expected one of {}",
                    s.shown(),
                    PlatformFilter::SEVERITIES.join(", ")
                ),
                at: s.at,
                key: s.key,
            });
        }
        severities.push(s.value);
    }
    let filter = PlatformFilter {
        severities,
        categories: globs("category", "an array of category globs, like [\"backup*\"]")?,
        alert_types: globs(
            "alert_type",
            "an array of alert type globs, like [\"Backup*\"]",
        )?,
        own_severity: false,
    };
    let values = |list: Vec<Str>| list.into_iter().map(|s| s.value).collect::<Vec<_>>();
    let tenants = values(strings(
        "tenant",
        "an array of tenant ids, like [\"3b6f...\"]",
    )?);
    let names = values(strings(
        "name",
        "an array of machine name globs, like [\"sql-*\"]",
    )?);
    let matcher =
        Matcher::new(Vec::new(), tenants, &names).map_err(|problem| ConfigError::InvalidValue {
            at: item.at(),
            key: table.child_key("name"),
            problem,
        })?;
    Ok((filter, matcher))
}

/// `match.NAME` as a list of non-empty strings (one string is a list of one); empty
/// when absent.
fn filter_list(table: &Table<'_>, name: &str, expected: &str) -> Result<Vec<Str>, ConfigError> {
    let Some(item) = table.get(name) else {
        return Ok(Vec::new());
    };
    list(&item, expected)?
        .into_iter()
        .map(|s| s.non_empty(expected))
        .collect()
}

/// The one of two keys written later in the file: where a "cannot be combined" points.
fn later<'i, 'a>(a: &'i Item<'a>, b: &'i Item<'a>) -> &'i Item<'a> {
    if b.key_span.start > a.key_span.start {
        b
    } else {
        a
    }
}

/// An error about a key itself (pointing at the key, not its value).
fn invalid(item: &Item<'_>, problem: String) -> ConfigError {
    ConfigError::InvalidValue {
        at: item.key_at(),
        key: item.key.clone(),
        problem,
    }
}

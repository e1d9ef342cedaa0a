//! Rule files -> [`RuleSet`]: every `[[rule]]` of every `*.toml` in `rules_dir`, each
//! checked against worker.toml's channels.
//!
//! Read with the config's span-keeping reader, so a mistake names file, line, column and
//! dotted key (`rule[1].when.status[0]`), says what is expected, and `${ENV}` expands as
//! in worker.toml. This file reads the folder, the top level and the plain keys of a
//! rule; `when.rs` reads what it watches (`when.*`, `match.*`). Reading the rule files
//! is the only I/O in `rules/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::when::{condition, matcher, platform_match};
use super::{Condition, Flap, Rule, RuleSet, Severity};
use crate::config::reader::{Ctx, Item, Str, Table};
use crate::config::value::{self, DURATION_STRING};
use crate::config::{Config, ConfigError, Location};

/// Why the rules could not be loaded: file, line, key and what is wrong.
pub type RuleError = crate::config::ConfigError;

const TOP_KEYS: [&str; 1] = ["rule"];
const RULE_KEYS: [&str; 11] = [
    "name",
    "source",
    "description",
    "severity",
    "notify",
    "when",
    "match",
    "repeat",
    "resolve",
    "group_window",
    "flap",
];

/// Every `*.toml` in `dir` (not recursive), in file-name order, checked against
/// `config`'s channels. Other files, sub-folders and hidden files are ignored.
pub fn load(dir: &Path, config: &Config) -> Result<RuleSet, RuleError> {
    let unreadable_dir = |source| ConfigError::ReadRules {
        path: dir.to_path_buf(),
        what: format!(
            "the rules folder (rules_dir in {}; default \"rules\" beside it)",
            config.path.display()
        ),
        source,
    };
    let mut paths = Vec::new();
    // Hidden files are editors' (`.#a.toml` locks), not rules.
    for entry in std::fs::read_dir(dir).map_err(unreadable_dir)? {
        let path = entry.map_err(unreadable_dir)?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.extension() == Some("toml".as_ref()) && !hidden && !path.is_dir() {
            paths.push(path);
        }
    }
    paths.sort();
    let files = paths
        .into_iter()
        .map(|path| match std::fs::read_to_string(&path) {
            Ok(text) => Ok((path, text)),
            Err(source) => Err(ConfigError::ReadRules {
                path,
                what: "the rule file".to_string(),
                source,
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    parse_files(&files, config)
}

/// One rule file's text (`path` is used in messages), checked against `config`'s channels.
pub fn parse(path: &Path, text: &str, config: &Config) -> Result<RuleSet, RuleError> {
    let rules = file_rules(path, text, config, &mut HashMap::new())?;
    Ok(RuleSet { rules })
}

/// Several rule files' texts (paths for messages), in the order given; a rule name may
/// be defined once across all of them. What [`load`] does after reading the folder, and
/// how embedded rule texts are loaded.
pub fn parse_files(files: &[(PathBuf, String)], config: &Config) -> Result<RuleSet, RuleError> {
    let mut names = HashMap::new();
    let mut rules = Vec::new();
    for (path, text) in files {
        rules.extend(file_rules(path, text, config, &mut names)?);
    }
    Ok(RuleSet { rules })
}

/// Where a rule name was first defined: its key and location.
type Names = HashMap<String, (String, Location)>;

fn file_rules(
    path: &Path,
    text: &str,
    config: &Config,
    names: &mut Names,
) -> Result<Vec<Rule>, ConfigError> {
    let doc = DeTable::parse(text).map_err(|e| ConfigError::Syntax {
        at: Location::new(path, text, e.span().map_or(0, |s| s.start)),
        message: e.message().trim().to_string(),
    })?;
    // `${file:...}` in a rule file is relative to the rule file's folder.
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let env = |name: &str| std::env::var(name).ok();
    let ctx = Ctx {
        file: path,
        text,
        dir: &dir,
        env: &env,
    };
    let root = Table::root(&ctx, doc.get_ref());
    root.allow(&TOP_KEYS)?;
    let Some(item) = root.get("rule") else {
        return Ok(Vec::new());
    };
    item.tables("an array of tables: one [[rule]] section per rule")?
        .iter()
        .map(|table| rule(table, config, names))
        .collect()
}

fn rule(table: &Table<'_>, config: &Config, names: &mut Names) -> Result<Rule, ConfigError> {
    table.allow(&RULE_KEYS)?;
    let name = table
        .require(
            "name",
            "a unique name for the rule, like name = \"machine-critical\"",
        )?
        .string()?;
    let name = rule_name(name)?;
    if let Some((first_key, first)) = names.get(&name.value) {
        return Err(ConfigError::DuplicateRule {
            at: name.at,
            key: name.key,
            name: name.value,
            first_key: first_key.clone(),
            first: Box::new(first.clone()),
        });
    }
    names.insert(name.value.clone(), (name.key, name.at));

    let description = table.opt_string("description")?.map(|s| s.value);
    let platform = source(table)?;
    let severity_set = table.get("severity").is_some();
    let severity = match table.opt_string("severity")? {
        Some(s) => Severity::parse(&s.value).ok_or_else(|| ConfigError::InvalidValue {
            problem: format!(
                "unknown severity {}: expected one of {}",
                s.shown(),
                Severity::NAMES.join(", ")
            ),
            at: s.at,
            key: s.key,
        })?,
        None => Severity::Warning,
    };
    let notify = match table.get("notify") {
        Some(item) => channels(&item, config)?,
        None => Vec::new(),
    };
    let (condition, matcher, severity) = if platform {
        let (mut filter, matcher) = platform_match(table)?;
        filter.own_severity = !severity_set;
        // The message's severity when the alerts' own differ: the worst the filter admits.
        let severity = match severity_set {
            true => severity,
            false => filter
                .severities
                .iter()
                .map(|s| Severity::from_platform(s))
                .max()
                .unwrap_or(Severity::Critical),
        };
        (Condition::Platform(filter), matcher, severity)
    } else {
        (condition(table)?, matcher(table)?, severity)
    };
    let repeat = match table.get("repeat") {
        Some(item) => Some(positive_duration(
            &item,
            "omit repeat to notify only once while an alert fires",
        )?),
        None => None,
    };
    let resolve = match table.get("resolve") {
        Some(item) => boolean(&item)?,
        None => false,
    };
    let group_window = value::opt_duration(table, "group_window", Duration::ZERO)?;
    let flap = match table.get("flap") {
        Some(item) => Some(flap(&item)?),
        None => None,
    };
    // The `[[rule]]` header; an inline table in `rule = [...]` has its own span.
    let line = match table.keys().first() {
        Some((_, first_key)) if table.span.is_empty() => table.ctx.at(first_key.start).line,
        _ => table.at().line,
    };
    Ok(Rule {
        name: name.value,
        description: description.unwrap_or_default(),
        severity,
        notify,
        condition,
        matcher,
        repeat,
        resolve,
        group_window,
        flap,
        file: table.ctx.file.to_path_buf(),
        line,
    })
}

/// `source`: `"resources"` (the default) or `"platform"` (Alert Manager alerts).
/// A platform rule has no `when`: its filters are `match.*`.
fn source(table: &Table<'_>) -> Result<bool, ConfigError> {
    let Some(s) = table.opt_string("source")? else {
        return Ok(false);
    };
    let platform = match s.value.as_str() {
        "platform" => true,
        "resources" => false,
        _ => {
            return Err(ConfigError::InvalidValue {
                problem: format!(
                    "unknown source {}: expected \"resources\" (resource statuses, the default) \
                     or \"platform\" (Acronis Alert Manager alerts)",
                    s.shown()
                ),
                at: s.at,
                key: s.key,
            });
        }
    };
    if let (true, Some(when)) = (platform, table.get("when")) {
        return Err(ConfigError::InvalidValue {
            at: when.key_at(),
            key: when.key.clone(),
            problem: "a platform rule (source = \"platform\") watches Alert Manager alerts, not \
                      resource statuses: it has no when.* conditions; filter with \
                      match.severity, match.category, match.alert_type, match.tenant"
                .to_string(),
        });
    }
    Ok(platform)
}

/// `flap = { changes = 4, within = "1h" }`.
fn flap(item: &Item<'_>) -> Result<Flap, ConfigError> {
    const EXAMPLE: &str = "flap = { changes = 4, within = \"1h\" }";
    let table = item.table(&format!("a table like {EXAMPLE}"))?;
    table.allow(&["changes", "within"])?;
    let changes = table
        .require(
            "changes",
            &format!("how many state changes make it flap, like {EXAMPLE}"),
        )?
        .int_in(
            2..=1000,
            "2 to 1000 state changes (one change is an ordinary firing, not flapping)",
        )?;
    let within = positive_duration(
        &table.require(
            "within",
            &format!("the window the changes fall in, like {EXAMPLE}"),
        )?,
        "write the window the changes must fall in, like \"1h\"",
    )?;
    Ok(Flap {
        changes: changes as u32,
        within,
    })
}

/// A rule name is part of every alert key (`rule/tenant/resource[/policy]`).
fn rule_name(name: Str) -> Result<Str, ConfigError> {
    let name = name.non_empty("a rule name like \"machine-critical\"")?;
    // A name is in every alert key, log line and message about the rule, where nothing
    // `${...}` expanded to may appear.
    if name.expanded {
        return Err(ConfigError::InvalidValue {
            problem: format!(
                "rule name {} uses ${{...}}: a rule name is part of every alert key and \
                 appears in logs and messages, so write it literally, like \
                 \"machine-critical\"",
                name.shown()
            ),
            at: name.at,
            key: name.key,
        });
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !name.value.chars().all(allowed) {
        return Err(ConfigError::InvalidValue {
            problem: format!(
                "rule name {} may only hold ASCII letters, digits, '-', '_' and '.', like \
                 \"machine-critical\": it is part of every alert key (rule/tenant/resource)",
                name.shown()
            ),
            at: name.at,
            key: name.key,
        });
    }
    Ok(name)
}

/// `notify`: names of `[[channel]]`s in worker.toml, each once.
fn channels(item: &Item<'_>, config: &Config) -> Result<Vec<String>, ConfigError> {
    let names = list(item, "an array of channel names, like [\"noc-slack\"]")?;
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let problem = if out.contains(&name.value) {
            format!(
                "channel {} is listed twice: expected each channel once",
                name.shown()
            )
        } else if config.channels.iter().any(|c| c.name == name.value) {
            out.push(name.value);
            continue;
        } else if config.channels.is_empty() {
            format!(
                "no [[channel]] is named {}: no channels are configured in {}; \
                 add a [[channel]] there, or leave notify out",
                name.shown(),
                config.path.display()
            )
        } else {
            let known: Vec<&str> = config.channels.iter().map(|c| c.name.as_str()).collect();
            format!(
                "no [[channel]] is named {} in {}: expected one of {}",
                name.shown(),
                config.path.display(),
                known.join(", ")
            )
        };
        return Err(ConfigError::InvalidValue {
            at: name.at,
            key: name.key,
            problem,
        });
    }
    Ok(out)
}

/// An array of strings; one string is read as a list of one (`match.type = "resource.machine"`).
pub(super) fn list(item: &Item<'_>, expected: &str) -> Result<Vec<Str>, ConfigError> {
    match item.value {
        DeValue::String(_) => Ok(vec![item.string_of(expected)?]),
        _ => item.strings(expected),
    }
}

/// A duration above zero; `zero_hint` says why not `0s`, or what to write instead.
pub(super) fn positive_duration(item: &Item<'_>, zero_hint: &str) -> Result<Duration, ConfigError> {
    let s = item.string_of(DURATION_STRING)?;
    let d = value::duration(&s)?;
    if d.is_zero() {
        return Err(ConfigError::InvalidValue {
            at: s.at,
            key: s.key,
            problem: format!("it is 0s: expected a duration above zero; {zero_hint}"),
        });
    }
    Ok(d)
}

fn boolean(item: &Item<'_>) -> Result<bool, ConfigError> {
    match item.value {
        DeValue::Boolean(b) => Ok(*b),
        _ => Err(item.wrong_type("true or false")),
    }
}

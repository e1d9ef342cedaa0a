//! Each kind of mistake in a rule file: the message starts with `file:line:col: key: `
//! and says what is expected.

use std::path::{Path, PathBuf};

use super::file::{config, fake_env};
use crate::config::{self as worker_config, Config, line_col};
use crate::rules::parse_files;
/// Marks where an error must point; removed before the text is parsed.
const MARK: char = '»';

/// Parse `files` (one of them holds [`MARK`]); expect an error starting with that
/// `file:line:col: key: ` and containing `needle`.
#[track_caller]
fn expect_err(files: &[(&str, &str)], config: &Config, key: Option<&str>, needle: &str) {
    let mut at = None;
    let files: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(path, text)| {
            if let Some(offset) = text.find(MARK) {
                let (line, column) = line_col(text, offset);
                at = Some(format!("{path}:{line}:{column}: "));
            }
            (PathBuf::from(path), text.replace(MARK, ""))
        })
        .collect();
    let at = at.expect("one file marks where the error points");
    let err = match parse_files(&files, config) {
        Ok(_) => panic!("expected an error at {at}, the rules were accepted:\n{files:?}"),
        Err(e) => e,
    };
    let message = err.to_string();
    let prefix = match key {
        Some(key) => format!("{at}{key}: "),
        None => at,
    };
    assert!(
        message.starts_with(&prefix),
        "expected {prefix:?}: {message}"
    );
    assert_eq!(err.key(), key, "{message}");
    assert!(
        message.contains(needle),
        "expected {needle:?} in: {message}"
    );
}

/// Two rules, the second is where each mistake below goes.
const OK_RULE: &str = "[[rule]]\nname = \"ok\"\nwhen.status = [\"critical\"]\n\n";

#[test]
fn every_mistake_names_file_line_column_and_key() {
    // (rule text after OK_RULE, with MARK where the error points; key; part of the message)
    let cases: &[(&str, Option<&str>, &str)] = &[
        // Unknown keys, with the hint Table::allow gives.
        (
            "[[»rules]]\nname = \"a\"\n",
            Some("rules"),
            "unknown key in the top level (did you mean `rule`?)",
        ),
        (
            "[[rule]]\nname = \"a\"\n»severty = \"error\"\n",
            Some("rule[1].severty"),
            "did you mean `severity`?",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.»stauts = [\"error\"]\n",
            Some("rule[1].when.stauts"),
            "did you mean `status`?",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\nmatch.»names = [\"x\"]\n",
            Some("rule[1].match.names"),
            "did you mean `name`?",
        ),
        // Names.
        (
            "»[[rule]]\nwhen.status = [\"error\"]\n",
            Some("rule[1].name"),
            "required key is missing from rule[1]",
        ),
        (
            "[[rule]]\nname = »\"noc/a\"\n",
            Some("rule[1].name"),
            "may only hold ASCII letters, digits, '-', '_' and '.'",
        ),
        // Found by fuzzing (fuzz/corpus/rules/regress-rule-name-from-env.toml): the
        // duplicate-name message showed an expanded name. Names are in every alert key
        // and log line, so none is expanded.
        (
            "[[rule]]\nname = »\"a${PATH}\"\n",
            Some("rule[1].name"),
            "rule name \"a${PATH}\" (expanded value not shown) uses ${...}",
        ),
        (
            "[[rule]]\nname = »\" \"\n",
            Some("rule[1].name"),
            "it is empty",
        ),
        (
            "[[rule]]\nname = »\"ok\"\n",
            Some("rule[1].name"),
            "rule name \"ok\" is already used by rule[0].name at rules/bad.toml:2:8",
        ),
        // Plain keys.
        (
            "[[rule]]\nname = \"a\"\nseverity = »\"crit\"\n",
            Some("rule[1].severity"),
            "unknown severity \"crit\": expected one of critical, error, warning, info",
        ),
        (
            "[[rule]]\nname = \"a\"\nnotify = [\"noc-slack\", »\"pager\"]\n",
            Some("rule[1].notify[1]"),
            "no [[channel]] is named \"pager\" in worker.toml: expected one of noc-slack, noc-teams, oncall, mail, ticketing",
        ),
        (
            "[[rule]]\nname = \"a\"\nnotify = [\"oncall\", »\"oncall\"]\n",
            Some("rule[1].notify[1]"),
            "listed twice",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\nrepeat = »\"4 hours\"\n",
            Some("rule[1].repeat"),
            "invalid duration \"4 hours\"",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\nrepeat = »\"0s\"\n",
            Some("rule[1].repeat"),
            "it is 0s: expected a duration above zero",
        ),
        // Conditions.
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\", »\"critcal\"]\n",
            Some("rule[1].when.status[1]"),
            "unknown status \"critcal\": expected one of ok, idle, scheduled, running, cancelling, not_protected, no_policies_applied, interaction_required, warning, error, critical (names from the Acronis API)",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = »[]\n",
            Some("rule[1].when.status"),
            "the list is empty",
        ),
        (
            "»[[rule]]\nname = \"a\"\n",
            Some("rule[1].when"),
            "a rule with no condition",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen = »{}\n",
            Some("rule[1].when"),
            "a rule with no condition",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\nwhen.»policy = \"policy.backup.machine\"\n",
            Some("rule[1].when.policy"),
            "when.status and when.policy cannot be combined",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.»policy = \"policy.backup.machine\"\n",
            Some("rule[1].when.policy"),
            "when.policy needs a condition",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.policy = \"p\"\nwhen.overdue_by = \"1h\"\nwhen.»last_success_older_than = \"1d\"\n",
            Some("rule[1].when.last_success_older_than"),
            "cannot be combined",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.policy = \"p\"\nwhen.last_run_failed = »false\n",
            Some("rule[1].when.last_run_failed"),
            "watches nothing",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.policy = \"p\"\nwhen.last_run_failed = »\"yes\"\n",
            Some("rule[1].when.last_run_failed"),
            "expected true, found a string",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.policy = \"p\"\nwhen.overdue_by = \"1h\"\nwhen.»last_run_failed = true\n",
            Some("rule[1].when.last_run_failed"),
            "cannot be combined",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.agent_disabled = true\nwhen.»cyberfit_below = 500\n",
            Some("rule[1].when.cyberfit_below"),
            "a rule has one condition",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.policy = \"policy.backup.machine\"\nwhen.»agent_offline_for = \"2h\"\n",
            Some("rule[1].when.agent_offline_for"),
            "a rule has one condition",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.cyberfit_below = »900\n",
            Some("rule[1].when.cyberfit_below"),
            "1 to 850",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.agent_offline_for = »\"0s\"\n",
            Some("rule[1].when.agent_offline_for"),
            "it is 0s",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.agent_disabled = »false\n",
            Some("rule[1].when.agent_disabled"),
            "watches nothing",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.»overdue_by = \"2h\"\n",
            Some("rule[1].when.overdue_by"),
            "a time condition needs when.policy",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\nwhen.»last_success_older_than = \"1d\"\n",
            Some("rule[1].when.last_success_older_than"),
            "not the aggregate status",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.policy = »\"\"\nwhen.overdue_by = \"2h\"\n",
            Some("rule[1].when.policy"),
            "it is empty",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.policy = \"p\"\nwhen.last_success_older_than = »\"0s\"\n",
            Some("rule[1].when.last_success_older_than"),
            "it is 0s",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.policy = \"p\"\nwhen.overdue_by = »\"2 h\"\n",
            Some("rule[1].when.overdue_by"),
            "invalid duration \"2 h\"",
        ),
        // Filters.
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\nmatch.name = [\"ok-*\", »\"[a-\"]\n",
            Some("rule[1].match.name[1]"),
            "\"[a-\" is not a valid glob",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\nmatch.tenant = »\"\"\n",
            Some("rule[1].match.tenant"),
            "it is empty",
        ),
        // Wrong types.
        (
            "[[rule]]\nname = \"a\"\nseverity = »3\n",
            Some("rule[1].severity"),
            "expected a string, found an integer",
        ),
        (
            "[[rule]]\nname = \"a\"\nnotify = »5\n",
            Some("rule[1].notify"),
            "expected an array of channel names",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen = »\"critical\"\n",
            Some("rule[1].when"),
            "expected a table of conditions",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\nmatch.type = [»1]\n",
            Some("rule[1].match.type[0]"),
            "expected a string, found an integer",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\nresolve = »\"yes\"\n",
            Some("rule[1].resolve"),
            "expected true or false, found a string",
        ),
        (
            "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\ngroup_window = »30\n",
            Some("rule[1].group_window"),
            "expected a duration string like \"5m\", found an integer",
        ),
        // `${ENV}` is expanded as in worker.toml.
        (
            "[[rule]]\nname = \"a\"\ndescription = \"»${ACRONIS_WATCH_TEST_UNSET}\"\n",
            Some("rule[1].description"),
            "environment variable ACRONIS_WATCH_TEST_UNSET is not set",
        ),
        // Not TOML.
        (
            "[[rule]]\nname = \"a»\n",
            None,
            "TOML syntax error: invalid basic string",
        ),
    ];
    for (text, key, needle) in cases {
        let text = format!("{OK_RULE}{text}");
        expect_err(&[("rules/bad.toml", &text)], &config(), *key, needle);
    }

    // Whole files: `rule` that is not an array of tables.
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "rule = »\"machine-critical\"\n",
            Some("rule"),
            "expected an array of tables: one [[rule]] section per rule, found a string",
        ),
        ("»[rule]\nname = \"a\"\n", Some("rule"), "found a table"),
        (
            "rule = [»1]\n",
            Some("rule[0]"),
            "expected a table, found an integer",
        ),
    ];
    for (text, key, needle) in cases {
        expect_err(&[("rules/bad.toml", text)], &config(), *key, needle);
    }
}

#[test]
fn a_name_is_unique_across_files() {
    let first = "# base rules\n[[rule]]\nname = \"x\"\nwhen.status = [\"error\"]\n";
    let second = "[[rule]]\nname = \"y\"\nwhen.status = [\"error\"]\n\n[[rule]]\nname = »\"x\"\n";
    expect_err(
        &[("rules/a.toml", first), ("rules/b.toml", second)],
        &config(),
        Some("rule[1].name"),
        "rule name \"x\" is already used by rule[0].name at rules/a.toml:3:8; \
         rule names must be unique across all rule files",
    );
}

#[test]
fn notify_without_channels_says_none_are_configured() {
    let text = "[acronis]\ndatacenter_url = \"https://eu2-cloud.acronis.com\"\n\
                client_id = \"id\"\nclient_secret = \"s\"\n";
    let bare = worker_config::parse(Path::new("worker.toml"), text, &fake_env).unwrap();
    expect_err(
        &[(
            "rules/a.toml",
            "[[rule]]\nname = \"a\"\nnotify = [»\"noc-slack\"]\nwhen.status = [\"error\"]\n",
        )],
        &bare,
        Some("rule[0].notify[0]"),
        "no channels are configured in worker.toml",
    );
}

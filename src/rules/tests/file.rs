//! Rule files: a file using every key reads into the right [`Rule`]; `load` reads a
//! folder's `*.toml` in name order; the shipped `rules/` load against the shipped
//! worker.toml. Each kind of mistake is in `file_errors.rs`.

use std::path::Path;
use std::time::Duration;

use crate::acronis::model::AggregateStatus;
use crate::config::{self, Config};
use crate::model::Severity;
use crate::rules::{Condition, Matcher, load, parse};

/// A stand-in environment for the shipped worker.toml: a valid URL for `*_URL`, `x`
/// for anything else.
pub(super) fn fake_env(name: &str) -> Option<String> {
    let value = if name.ends_with("_URL") {
        "https://hooks.example/x"
    } else {
        "x"
    };
    Some(value.to_string())
}

/// The shipped worker.toml, as if installed at `dir/worker.toml`.
fn shipped_config(dir: &Path) -> Config {
    let text = include_str!("../../../worker.toml");
    config::parse(&dir.join("worker.toml"), text, &fake_env).unwrap_or_else(|e| panic!("{e}"))
}

/// Channels: noc-slack, noc-teams, oncall, mail, ticketing.
pub(super) fn config() -> Config {
    shipped_config(Path::new(""))
}

const EVERY_KEY: &str = r#"# every key, most of them set to a non-default value
[[rule]]
name = "sql.backup_stale-1"
description = "SQL servers without a backup"
severity = "error"
notify = ["noc-slack", "oncall"]
when.policy = "policy.backup.machine"
when.last_success_older_than = "1d 2h"
match.type = "resource.machine"
match.tenant = ["1952010", "3b6f"]
match.name = ["SQL-*", "db?"]
repeat = "4h"
resolve = true
group_window = "30s"

[[rule]]
name = "critical"
when.status = ["critical", "error", "not_protected"]

[[rule]]
name = "overdue"
when = { policy = "policy.security.antimalware_protection", overdue_by = "0s" }
resolve = false
"#;

#[test]
fn a_file_with_every_key_reads_into_rules() {
    let set =
        parse(Path::new("rules/all.toml"), EVERY_KEY, &config()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.len(), 3);

    let r = &set.rules[0];
    assert_eq!(r.name, "sql.backup_stale-1");
    assert_eq!(r.description, "SQL servers without a backup");
    assert_eq!(r.severity, Severity::Error);
    assert_eq!(r.notify, ["noc-slack", "oncall"]);
    assert_eq!(
        r.condition,
        Condition::Stale {
            policy: "policy.backup.machine".to_string(),
            older_than: Duration::from_secs(26 * 3600),
        }
    );
    assert_eq!(r.matcher.types, ["resource.machine"]);
    assert_eq!(r.matcher.tenants, ["1952010", "3b6f"]);
    let globs: Vec<&str> = r.matcher.names.iter().map(|p| p.as_str()).collect();
    assert_eq!(globs, ["SQL-*", "db?"]);
    assert_eq!(r.repeat, Some(Duration::from_secs(4 * 3600)));
    assert!(r.resolve);
    assert_eq!(r.group_window, Duration::from_secs(30));
    assert_eq!((r.file.as_path(), r.line), (Path::new("rules/all.toml"), 2));

    // Everything optional left out: the defaults.
    let r = &set.rules[1];
    assert_eq!(r.name, "critical");
    assert_eq!(r.description, "");
    assert_eq!(r.severity, Severity::Warning);
    assert!(r.notify.is_empty());
    assert_eq!(
        r.condition,
        Condition::Status(vec![
            AggregateStatus::Critical,
            AggregateStatus::Error,
            AggregateStatus::NotProtected
        ])
    );
    assert_eq!(r.matcher.key(), Matcher::default().key());
    assert_eq!(r.repeat, None);
    assert!(!r.resolve);
    assert_eq!(r.group_window, Duration::ZERO);
    assert_eq!(r.line, 16);

    // `when` as an inline table; overdue_by may be zero.
    let r = &set.rules[2];
    assert_eq!(
        r.condition,
        Condition::Overdue {
            policy: "policy.security.antimalware_protection".to_string(),
            overdue_by: Duration::ZERO,
        }
    );
    assert_eq!(r.line, 20);
}

#[test]
fn a_file_without_rules_is_an_empty_set() {
    let set = parse(Path::new("rules/empty.toml"), "# nothing yet\n", &config()).unwrap();
    assert!(set.is_empty());
}
#[test]
fn load_reads_toml_files_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "b.toml",
        "[[rule]]\nname = \"b\"\nwhen.status = [\"error\"]\n",
    );
    write(
        "a.toml",
        "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\n",
    );
    write("empty.toml", "");
    write("notes.txt", "not toml [");
    write("a.toml.bak", "not toml [");
    write(".#a.toml", "not toml [");
    std::fs::create_dir(dir.path().join("old.toml")).unwrap();
    std::fs::write(dir.path().join("old.toml/c.toml"), "not toml [").unwrap();

    let set = load(dir.path(), &config()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = set.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(set.rules[0].file, dir.path().join("a.toml"));

    write(
        "c.toml",
        "[[rule]]\nname = \"a\"\nwhen.status = [\"error\"]\n",
    );
    let message = load(dir.path(), &config()).unwrap_err().to_string();
    let (a, c) = (dir.path().join("a.toml"), dir.path().join("c.toml"));
    assert!(
        message.starts_with(&format!("{}:2:8: rule[0].name: ", c.display())),
        "{message}"
    );
    assert!(
        message.contains(&format!("at {}:2:8", a.display())),
        "{message}"
    );
}

#[test]
fn load_of_an_empty_folder_is_an_empty_set() {
    let dir = tempfile::tempdir().unwrap();
    assert!(load(dir.path(), &config()).unwrap().is_empty());
}

#[test]
fn a_missing_folder_names_the_path_and_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("rules");
    let err = load(&missing, &config()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: cannot read the rules folder",
            missing.display()
        )),
        "{message}"
    );
    assert!(message.contains("rules_dir in worker.toml"), "{message}");
    assert_eq!((err.location(), err.key()), (None, None));
}

#[test]
fn the_shipped_rules_load_against_the_shipped_worker_toml() {
    let config = shipped_config(Path::new(env!("CARGO_MANIFEST_DIR")));
    let set = load(&config.rules_dir, &config).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = set.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "agent-offline",
            "cyberfit-low",
            "backup-stale",
            "backup-overdue",
            "backup-last-run-failed",
            "machine-critical",
            "machine-error",
            "machine-not-protected",
            "platform-critical",
            "antimalware-stale"
        ]
    );
    let critical = set.get("machine-critical").unwrap();
    assert_eq!(critical.severity, Severity::Critical);
    assert_eq!(critical.notify, ["noc-slack", "oncall"]);
    assert_eq!(
        critical.condition,
        Condition::Status(vec![AggregateStatus::Critical])
    );
    assert_eq!(critical.repeat, Some(Duration::from_secs(4 * 3600)));
    assert_eq!(critical.group_window, Duration::from_secs(30));
    assert!(critical.resolve);
    let stale = set.get("backup-stale").unwrap();
    assert_eq!(
        stale.condition,
        Condition::Stale {
            policy: "policy.backup.machine".to_string(),
            older_than: Duration::from_secs(26 * 3600),
        }
    );
    assert_eq!(stale.notify, ["noc-teams", "ticketing", "mail"]);
    // Every shipped rule sets a grouping window and looks at machines; the status and
    // backup rules at agentless VMs too, the agent-based security and agent rules not.
    for rule in set.iter() {
        assert!(!rule.group_window.is_zero(), "{}", rule.name);
        let types: &[&str] = if rule.condition.is_platform() {
            // Alert Manager alerts, not resources: no types.
            &[]
        } else if rule.condition.needs_attributes()
            || rule
                .condition
                .policy()
                .is_some_and(|p| p.starts_with("policy.security"))
        {
            &["resource.machine"]
        } else {
            &["resource.machine", "resource.virtual_machine.*"]
        };
        assert_eq!(rule.matcher.types, types, "{}", rule.name);
        assert!(!rule.description.is_empty(), "{}", rule.name);
    }
}

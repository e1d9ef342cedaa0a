//! What a hostile name cannot do, and what a broken template is told.

use std::path::PathBuf;

use super::*;
use crate::notify::render::source::SHIPPED;

const EVIL: &str = r#"<!channel> & "x" <script>alert(1)</script> {{evil}}"#;

fn evil_item(status: AlertStatus) -> OutboxItem {
    let now = sample::now();
    let mut item = sample::item(critical(), Some("policy.backup.machine"), status, 3, 3, now);
    for a in &mut item.alerts {
        a.resource.name = EVIL.into();
        a.tenant.name = format!("Tenant {EVIL}");
        a.summary = format!("{EVIL} is critical");
        a.aggregate_status = "<@U123>".into();
    }
    item.rule.description = EVIL.into();
    item
}

#[test]
fn hostile_names_break_no_format() {
    let r = shipped();
    for status in [AlertStatus::Firing, AlertStatus::Resolved] {
        let item = evil_item(status);
        for name in ["noc-slack", "noc-teams", "oncall", "ticketing"] {
            // Rendered::Json means the output parsed as JSON.
            let v = json_of(r.render(&channel(name), &item, sample::now()).unwrap());
            let mut all = Vec::new();
            strings(&v, &mut all);
            assert!(
                all.iter().any(|s| s.contains("{{evil}}")),
                "{name}: the name is shown literally"
            );
            if name == "noc-slack" {
                for s in &all {
                    assert!(!s.contains("<!channel>"), "raw mention in {s:?}");
                    assert!(!s.contains("<@U123>"), "raw user mention in {s:?}");
                    assert!(!s.contains("<script>"), "raw < in {s:?}");
                    assert!(!s.contains("& \""), "raw & in {s:?}");
                }
                assert!(
                    all.iter()
                        .any(|s| s.contains("&lt;!channel&gt; &amp; \"x\""))
                );
            } else {
                // Other JSON consumers get the value itself, intact.
                assert!(all.iter().any(|s| s.contains(EVIL)), "{name}");
            }
        }
        let (subject, text, html) =
            email_of(r.render(&channel("mail"), &item, sample::now()).unwrap());
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("&lt;!channel&gt; &amp; &quot;x&quot;"));
        assert!(text.contains(EVIL), "plain text shows the name as it is");
        assert!(!subject.contains('\n'));
    }
}

#[test]
fn slack_escaping_leaves_the_template_own_markup_alone() {
    let r = shipped();
    let v = json_of(
        r.render(
            &channel("noc-slack"),
            &evil_item(AlertStatus::Firing),
            sample::now(),
        )
        .unwrap(),
    );
    let footer = v["blocks"].as_array().unwrap().last().unwrap().to_string();
    assert!(
        footer.contains("<https://eu2-cloud.acronis.com/|Open Acronis console>"),
        "{footer}"
    );
}

#[test]
fn a_newline_in_a_name_does_not_split_the_subject() {
    let mut item = sample::item(critical(), None, AlertStatus::Firing, 1, 1, sample::now());
    item.alerts[0].resource.name = "SQL-01\r\nBcc: victim@example.com".into();
    let (subject, ..) = email_of(
        shipped()
            .render(&channel("mail"), &item, sample::now())
            .unwrap(),
    );
    assert!(
        !subject.contains('\n') && !subject.contains('\r'),
        "{subject:?}"
    );
}

/// The shipped templates in a fresh folder, with `file` replaced by `text`.
fn folder_with(file: &str, text: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in SHIPPED {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    match text {
        Some(t) => std::fs::write(dir.path().join(file), t).unwrap(),
        None => std::fs::remove_file(dir.path().join(file)).unwrap(),
    }
    let path = dir.path().to_path_buf();
    (dir, path)
}

fn load_error(file: &str, text: Option<&str>) -> (String, PathBuf) {
    let (_keep, dir) = folder_with(file, text);
    let err = Renderer::load(&dir, &config()).expect_err("the template is broken");
    (err.to_string(), dir.join(file))
}

#[test]
fn the_shipped_templates_load_from_a_folder() {
    let (_keep, dir) = folder_with("webhook.json.hbs", Some(SHIPPED[3].1));
    Renderer::load(&dir, &config()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn strict_mode_names_file_line_and_column_of_an_unknown_field() {
    let text = "{\n  \"status\": \"{{status}}\",\n  \"x\": \"{{rule.nmae}}\"\n}\n";
    let (err, path) = load_error("webhook.json.hbs", Some(text));
    let want = format!("{}:3:9:", path.display());
    assert!(err.starts_with(&want), "{err}");
    assert!(err.contains("rule.nmae"), "{err}");
}

#[test]
fn strict_mode_reaches_helper_parameters() {
    let text = "{\"x\": \"{{upper alert.nmae}}\"}\n";
    let (err, path) = load_error("webhook.json.hbs", Some(text));
    assert!(
        err.starts_with(&format!("{}:1:8:", path.display())),
        "{err}"
    );
    assert!(err.contains("alert.nmae"), "{err}");
}

#[test]
fn a_syntax_error_names_file_and_line() {
    let (err, path) = load_error("email.html.hbs", Some("<p>\n{{#if status}}x\n</p>\n"));
    assert_eq!(
        err,
        format!(
            "{}:4:1: invalid handlebars syntax (a {{{{#block}}}} left open, or a {{{{ not closed?)",
            path.display()
        )
    );
    let (err, path) = load_error("email.html.hbs", Some("<p>\n{{#each alerts}}{{/if}}\n"));
    assert_eq!(
        err,
        format!(
            "{}:2:17: helper \"each\" was opened, but \"if\" is closing",
            path.display()
        )
    );
}

#[test]
fn output_that_is_not_json_is_an_error_naming_the_template() {
    let (err, path) = load_error("teams.json.hbs", Some("{\"a\": \"{{status}}\",}\n"));
    assert!(err.starts_with(&format!("{}:", path.display())), "{err}");
    assert!(err.contains("not JSON"), "{err}");
}

#[test]
fn a_missing_template_says_who_needs_it() {
    let (err, path) = load_error("slack.json.hbs", None);
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    assert!(err.contains("noc-slack"), "{err}");
}

#[test]
fn the_digest_templates_are_checked_too() {
    let (err, path) = load_error("digest.txt.hbs", Some("{{totals.bogus}}\n"));
    assert!(
        err.starts_with(&format!("{}:1:1:", path.display())),
        "{err}"
    );
}

#[test]
fn a_bad_strftime_pattern_is_an_error_not_a_panic() {
    let text = "{\"t\": \"{{format_time now \"%Q\"}}\"}\n";
    let (err, _) = load_error("webhook.json.hbs", Some(text));
    assert!(err.contains("strftime"), "{err}");
}

#[test]
fn partials_are_refused_so_none_can_recurse() {
    // Found replaying fuzz/corpus/template/regress-recursive-partial through the
    // template fuzz target: an inline partial that includes itself overflowed the
    // stack while rendering.
    let (err, path) = load_error(
        "webhook.json.hbs",
        Some("{}\n{{#*inline \"p\"}}x{{> p}}{{/inline}}{{> p}}"),
    );
    assert!(
        err.starts_with(&format!("{}:2:", path.display())) && err.contains("partials"),
        "{err}"
    );
    // Two files of one format including each other: each is refused on its own.
    let (err, _) = load_error("email.subject.txt.hbs", Some("{{> email.txt.hbs}}"));
    assert!(err.contains("partials"), "{err}");
    let (err, _) = load_error(
        "email.txt.hbs",
        Some("{{#> email.subject.txt.hbs}}x{{/email.subject.txt.hbs}}"),
    );
    assert!(err.contains("partials"), "{err}");
}

//! Issue 19: hostile names stay inert in every channel. A corpus of names a customer
//! admin (or anyone who names a VM on a hypervisor) could choose is put in every field
//! that comes from the API, rendered through every shipped template, and each payload
//! is read the way its receiver reads it:
//!
//! - Slack: Block Kit. `mrkdwn` text objects parse `<…>` (links, mentions), `*bold*`,
//!   `_italic_`, `~strike~`, `` `code` `` and, unless `verbatim`, bare URLs and
//!   `@here`; the top-level `text` is mrkdwn unless `"mrkdwn": false`. `plain_text`
//!   is shown as typed.
//! - Teams: an Adaptive Card. `TextBlock.text` and `FactSet` titles and values are
//!   markdown (links, bare URLs, `**bold**`, `_italic_`, lists, headings); a
//!   `RichTextBlock`'s `TextRun`s are not; `Action.OpenUrl` and `selectAction` are links.
//! - Email: the MIME message's headers (one line each, none the name made), and the
//!   HTML part's tags and links.
//! - PagerDuty: `links` and `images` are links; the rest is shown as text.
//! - Webhooks: the value arrives intact, as JSON.
//!
//! "Inert" is asserted as: no link, mention, emphasis, heading or list item the
//! receiver would make holds any part of a hostile name.

use super::*;
use crate::notify::email::message::{self, Content};
use crate::notify::render::{exposed, sample};
use exposed::walk;

/// The corpus. Every entry carries a marker word (`evil`, `HOSTILE`) the checks look
/// for inside whatever markup a receiver would make.
pub(crate) const HOSTILE: &[&str] = &[
    "[Re-authenticate here](https://evil.example/login)",
    "https://evil.example/reset",
    "www.evil.example",
    "<https://evil.example|Open Acronis console>",
    "<!channel> HOSTILE",
    "<!here|here> HOSTILE",
    "@here HOSTILE",
    "@channel HOSTILE",
    "<@U024BE7LH> HOSTILE",
    "<at>Everyone</at> HOSTILE",
    "*HOSTILE* _HOSTILE_ ~HOSTILE~ `HOSTILE`",
    "**HOSTILE** __HOSTILE__",
    "SQL-01\n# HOSTILE heading\n- HOSTILE item\n1. HOSTILE numbered\n> HOSTILE quote",
    "<script>alert('HOSTILE')</script><img src=x onerror=alert(1)><a href=\"https://evil.example\">x</a>",
    "SQL-01\r\nBcc: victim@evil.example\r\nX-HOSTILE: 1",
    "SQL-01\nSubject: HOSTILE",
    "\u{202E}HOSTILE.exe\u{202C} invoice",
    "ev\u{200B}il [lo\u{200D}gin](https://evil.example) HOS\u{FEFF}TILE",
    "{{HOSTILE}} {{{HOSTILE}}}",
];

/// A very long hostile name: the fitting cuts it; what is left must still be inert.
fn long_name() -> String {
    format!(
        "{} [HOSTILE](https://evil.example) *HOSTILE*",
        "A".repeat(5000)
    )
}

fn corpus() -> Vec<String> {
    let mut all: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    all.push(long_name());
    all
}

/// Whether `s` holds part of a hostile name (zero-width characters removed first).
fn marked(s: &str) -> bool {
    let s: String = s
        .chars()
        .filter(|c| !matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}'))
        .collect();
    let lower = s.to_lowercase();
    lower.contains("evil") || lower.contains("hostile") || lower.contains("everyone")
}

/// Every API-sourced field of `item` set to `name`: what the markup probe sets.
fn poison(item: &mut OutboxItem, name: &str) {
    exposed::set_api_values(item, name);
}

/// Every notification the shipped templates render, each with every field poisoned.
fn poisoned_items(name: &str) -> Vec<OutboxItem> {
    let now = sample::now();
    let mut items = sample::items(now);
    items.push(sample::platform_item(now));
    for item in &mut items {
        poison(item, name);
    }
    items
}

/// A finding: where, what kind of markup, and its text.
type Finding = (String, &'static str, String);

// ---------------------------------------------------------------- Slack mrkdwn

/// The spans Slack's mrkdwn makes of `text`: `<…>` links and mentions, emphasis, code,
/// and (unless `verbatim`) bare URLs and `@` mentions.
fn slack_spans(text: &str, verbatim: bool) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    // <…>: a link, a mention or a command. Slack shows &lt; as text, never as this.
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        match after.find('>') {
            Some(close) => {
                out.push(("link or mention", after[..close].to_string()));
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out.extend(
        emphasis(text, &['*', '_', '~', '`'])
            .into_iter()
            .map(|s| ("emphasis", s)),
    );
    if !verbatim {
        out.extend(bare_urls(text).into_iter().map(|u| ("auto-link", u)));
        for word in ["@here", "@channel", "@everyone"] {
            if let Some(at) = text.find(word) {
                out.push(("auto-mention", text[at..].to_string()));
            }
        }
    }
    out
}

/// Emphasis spans: a marker at a word's start, text, the same marker at a word's end.
fn emphasis(text: &str, markers: &[char]) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        if !markers.contains(&c) {
            continue;
        }
        let starts = i == 0 || !chars[i - 1].is_alphanumeric();
        let inner_starts = chars
            .get(i + 1)
            .is_some_and(|n| !n.is_whitespace() && *n != c);
        if !(starts && inner_starts) {
            continue;
        }
        if let Some(len) = chars[i + 1..].iter().position(|&x| x == c || x == '\n')
            && chars[i + 1 + len] == c
        {
            let end = i + 1 + len;
            let ends = chars.get(end + 1).is_none_or(|n| !n.is_alphanumeric());
            if ends && !chars[end - 1].is_whitespace() {
                out.push(chars[i + 1..end].iter().collect());
            }
        }
    }
    out
}

/// Bare URLs a client would link: `http://…`, `https://…`, `www.…`.
fn bare_urls(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for scheme in ["http://", "https://", "www."] {
        let mut from = 0;
        while let Some(at) = text[from..].find(scheme) {
            let start = from + at;
            let end = text[start..]
                .find(|c: char| c.is_whitespace() || c == '|' || c == '>' || c == ')')
                .map_or(text.len(), |e| start + e);
            out.push(text[start..end].to_string());
            from = end.max(start + scheme.len());
        }
    }
    out
}

fn slack_findings(v: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(text) = v.get("text").and_then(Value::as_str)
        && v.get("mrkdwn") != Some(&Value::Bool(false))
    {
        for (kind, span) in slack_spans(text, false) {
            out.push(("text".to_string(), kind, span));
        }
    }
    walk(v, "", &mut |path, obj| {
        if obj.get("type").and_then(Value::as_str) == Some("mrkdwn")
            && let Some(text) = obj.get("text").and_then(Value::as_str)
        {
            let verbatim = obj.get("verbatim") == Some(&Value::Bool(true));
            for (kind, span) in slack_spans(text, verbatim) {
                out.push((path.to_string(), kind, span));
            }
        }
        if let Some(url) = obj.get("url").and_then(Value::as_str) {
            out.push((path.to_string(), "button link", url.to_string()));
        }
    });
    out
}

// ---------------------------------------------------------------- Teams markdown

/// The spans Adaptive Card markdown makes of `text`.
fn markdown_spans(text: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    // [text](url)
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find("](") else { break };
        let target = &after[close + 2..];
        match target.find(')') {
            Some(end) => {
                out.push(("link", format!("[{}]({})", &after[..close], &target[..end])));
                rest = &target[end + 1..];
            }
            None => break,
        }
    }
    out.extend(bare_urls(text).into_iter().map(|u| ("auto-link", u)));
    out.extend(
        emphasis(text, &['*', '_'])
            .into_iter()
            .map(|s| ("emphasis", s)),
    );
    for line in text.lines() {
        let t = line.trim_start();
        let numbered = t
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if t.starts_with("- ") || t.starts_with("* ") || t.starts_with("+ ") || numbered {
            out.push(("list item", t.to_string()));
        }
        if t.starts_with('#') {
            out.push(("heading", t.to_string()));
        }
    }
    if text.contains("<at>") {
        out.push(("mention", text.to_string()));
    }
    out
}

fn teams_findings(v: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    walk(v, "", &mut |path, obj| {
        match obj.get("type").and_then(Value::as_str) {
            Some("TextBlock") => {
                if let Some(text) = obj.get("text").and_then(Value::as_str) {
                    for (kind, span) in markdown_spans(text) {
                        out.push((path.to_string(), kind, span));
                    }
                }
            }
            Some("FactSet") => {
                for fact in obj
                    .get("facts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    for key in ["title", "value"] {
                        if let Some(text) = fact.get(key).and_then(Value::as_str) {
                            for (kind, span) in markdown_spans(text) {
                                out.push((format!("{path}.facts.{key}"), kind, span));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(url) = obj.get("url").and_then(Value::as_str) {
            out.push((path.to_string(), "link", url.to_string()));
        }
    });
    out
}

// ---------------------------------------------------------------- PagerDuty

fn pagerduty_findings(v: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for key in ["links", "images"] {
        for link in v.get(key).and_then(Value::as_array).into_iter().flatten() {
            for field in ["href", "src"] {
                if let Some(url) = link.get(field).and_then(Value::as_str) {
                    out.push((key.to_string(), "link", url.to_string()));
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------- email

/// What a mail client would make of a rendered email: its headers (built as the
/// email channel builds the message) and the HTML part's tags and links.
fn email_findings(subject: &str, text: &str, html: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let from: lettre::message::Mailbox = "MSP Alerts <alerts@msp.example>".parse().unwrap();
    let to: Vec<lettre::message::Mailbox> = vec!["noc@msp.example".parse().unwrap()];
    let item = OutboxItem::new("mail", critical(), AlertStatus::Firing, sample::now(), None);
    let msg = message::build(
        &from,
        &to,
        &item,
        Content {
            subject,
            text,
            html,
        },
    )
    .expect("the email builds");
    let raw = String::from_utf8(msg.formatted()).expect("the message is UTF-8");
    let head = raw.split("\r\n\r\n").next().unwrap_or("");
    let allowed = [
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Date",
        "Auto-Submitted",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
    ];
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            continue; // a folded continuation of the header above
        }
        let name = line.split(':').next().unwrap_or("");
        if !allowed.contains(&name) {
            out.push(("headers".into(), "header", line.to_string()));
        }
        if name == "Subject" && marked(line) {
            // Shown, as one line; only a header of its own would be an injection.
            assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        }
    }
    // HTML: every tag a value could have made, and every link.
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>').unwrap_or(after.len());
        let tag = &after[..close];
        // An attribute a name made (`href`, `onerror`), or a script (with its body).
        let name = tag
            .split([' ', '/', '>'])
            .next()
            .unwrap_or("")
            .to_lowercase();
        if matches!(
            name.as_str(),
            "script" | "img" | "iframe" | "object" | "embed"
        ) {
            let upto = after.find("</").unwrap_or(after.len()).max(close);
            out.push(("html".into(), "tag", after[..upto].to_string()));
        } else if marked(tag) {
            out.push(("html".into(), "tag", tag.to_string()));
        }
        rest = &after[close.min(after.len())..];
    }
    out
}

// ---------------------------------------------------------------- the tests

fn hostile(findings: Vec<Finding>) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|(_, _, span)| marked(span))
        .collect()
}

#[test]
fn hostile_names_make_no_markup_in_any_channel() {
    let r = shipped();
    let now = sample::now();
    let mut failures = Vec::new();
    for name in corpus() {
        for item in poisoned_items(&name) {
            for ch in ["noc-slack", "noc-teams", "oncall", "ticketing", "mail"] {
                let rendered = r
                    .render(&channel(ch), &item, now)
                    .unwrap_or_else(|e| panic!("{ch} cannot render {name:?}: {e}"));
                let findings = match (ch, rendered) {
                    ("noc-slack", Rendered::Json(v)) => slack_findings(&v),
                    ("noc-teams", Rendered::Json(v)) => teams_findings(&v),
                    ("oncall", Rendered::Json(v)) => pagerduty_findings(&v),
                    ("ticketing", Rendered::Json(v)) => {
                        // A webhook's consumer gets the value as it is.
                        let mut all = Vec::new();
                        strings(&v, &mut all);
                        // (A 5,000-character name may be cut by the fitting.)
                        let probe: String = name.chars().take(100).collect();
                        assert!(
                            all.iter().any(|s| s.contains(probe.as_str())),
                            "the webhook carries {name:.80?} intact"
                        );
                        Vec::new()
                    }
                    (
                        "mail",
                        Rendered::Email {
                            subject,
                            text,
                            html,
                        },
                    ) => email_findings(&subject, &text, &html),
                    (ch, other) => panic!("{ch}: unexpected {other:?}"),
                };
                for (path, kind, span) in hostile(findings) {
                    failures.push(format!(
                        "{ch} ({}, {}): {kind} at {path}: {span:.120?} (name {name:.60?})",
                        item.rule.name,
                        item.status.as_str()
                    ));
                }
            }
        }
    }
    failures.sort();
    failures.dedup();
    let mut by_channel = std::collections::BTreeMap::<&str, usize>::new();
    for f in &failures {
        *by_channel
            .entry(f.split(' ').next().unwrap_or(""))
            .or_default() += 1;
    }
    assert!(
        failures.is_empty(),
        "{} hostile markups ({by_channel:?}), e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .filter(|f| std::env::var("HOSTILE_ONLY").map_or(true, |c| f.starts_with(&c)))
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn hostile_names_make_no_markup_in_the_digest() {
    let r = shipped();
    let now = sample::now();
    let mut failures = Vec::new();
    for name in corpus() {
        let mut d = sample::digest(now);
        d.tenant.name = name.clone();
        d.tenant.id = name.clone();
        for m in &mut d.machines {
            m.name = name.clone();
            m.id = name.clone();
            m.status = name.clone();
        }
        for p in &mut d.problems {
            poison_alert(&mut p.alert, &name);
        }
        d.changes.new = vec![name.clone()];
        d.changes.resolved = vec![name.clone()];
        d.changes.added = vec![name.clone()];
        d.changes.removed = vec![name.clone()];
        for a in &mut d.agents_offline {
            a.name = name.clone();
            a.version = Some(name.clone());
        }
        for s in &mut d.cyberfit_lowest {
            s.name = name.clone();
        }
        let Rendered::Email {
            subject,
            text,
            html,
        } = r.render_digest(&d, now).expect("the digest renders")
        else {
            panic!("a digest is an email");
        };
        for (path, kind, span) in hostile(email_findings(&subject, &text, &html)) {
            failures.push(format!("digest: {kind} at {path}: {span:.120?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn poison_alert(a: &mut crate::model::AlertSnapshot, name: &str) {
    let mut item = OutboxItem::new("x", critical(), AlertStatus::Firing, sample::now(), None);
    item.alerts = vec![a.clone()];
    poison(&mut item, name);
    *a = item.alerts.remove(0);
}

/// The checks themselves find what they are meant to find (a check that cannot fail
/// proves nothing).
#[test]
fn the_receiver_models_see_markup() {
    let slack = json!({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn",
        "text": "*HOSTILE* <https://evil.example|x> https://evil.example @here HOSTILE"}}]});
    let kinds: Vec<&str> = hostile(slack_findings(&slack))
        .iter()
        .map(|f| f.1)
        .collect();
    for k in ["emphasis", "link or mention", "auto-link", "auto-mention"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let verbatim = json!({"blocks": [{"type": "section", "text": {"type": "mrkdwn",
        "verbatim": true, "text": "https://evil.example"}}]});
    assert!(hostile(slack_findings(&verbatim)).is_empty());
    let plain = json!({"mrkdwn": false, "text": "*HOSTILE*", "blocks": [{"type": "section",
        "text": {"type": "plain_text", "text": "*HOSTILE* <https://evil.example|x>"}}]});
    assert!(hostile(slack_findings(&plain)).is_empty());

    let card = json!({"body": [
        {"type": "TextBlock", "text": "[x](https://evil.example) **HOSTILE**\n- HOSTILE\n# HOSTILE"},
        {"type": "FactSet", "facts": [{"title": "T", "value": "_HOSTILE_"}]},
        {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": "[x](https://evil.example) **HOSTILE**"}]}
    ]});
    let kinds: Vec<String> = hostile(teams_findings(&card))
        .iter()
        .map(|f| format!("{} {}", f.0, f.1))
        .collect();
    for k in [
        "link",
        "emphasis",
        "list item",
        "heading",
        "facts.value emphasis",
    ] {
        assert!(kinds.iter().any(|s| s.contains(k)), "{k} in {kinds:?}");
    }
    assert!(
        !kinds.iter().any(|s| s.contains("[2]")),
        "a TextRun is not markdown: {kinds:?}"
    );

    let found = hostile(email_findings(
        "x",
        "x",
        "<p><script>alert('HOSTILE')</script><a href=\"https://evil.example\">x</a></p>",
    ));
    assert_eq!(found.len(), 2, "{found:?}");
}

/// Writes the template fuzz target's seeds of hostile names
/// (`fuzz/corpus/template/seed-hostile-<channel>`): each channel's shipped template,
/// then a 0 byte, then a notification context whose alerts carry the corpus. Run with
/// `cargo test hostile_fuzz_seeds -- --ignored` after the corpus or a template changes.
#[test]
#[ignore = "writes files under fuzz/: run by hand"]
fn hostile_fuzz_seeds() {
    let now = sample::now();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/template");
    // The fuzz target's channel order: slack, teams, pagerduty, email, webhook.
    let channels = [
        ("slack", "noc-slack", "slack.json.hbs"),
        ("teams", "noc-teams", "teams.json.hbs"),
        ("pagerduty", "oncall", "pagerduty.json.hbs"),
        ("email", "mail", "email.html.hbs"),
        ("webhook", "ticketing", "webhook.json.hbs"),
    ];
    let corpus = corpus();
    for (index, (label, name, file)) in channels.iter().enumerate() {
        let mut item = sample::item(
            critical(),
            Some("policy.backup.machine"),
            AlertStatus::Firing,
            corpus.len(),
            corpus.len(),
            now,
        );
        for (alert, hostile) in item.alerts.iter_mut().zip(&corpus) {
            let mut one = OutboxItem::new("x", critical(), AlertStatus::Firing, now, None);
            one.alerts = vec![alert.clone()];
            poison(&mut one, hostile);
            *alert = one.alerts.remove(0);
        }
        let ch = channel(name);
        let mut ctx = NotificationContext::new(&item, &ch, now, Some("https://cloud.example/"));
        let listed = ctx.listed();
        let json = serde_json::to_vec(&ctx.with_shown(listed)).unwrap();
        let template = crate::notify::render::source::SHIPPED
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, t)| *t)
            .expect("a shipped template");
        let mut seed = vec![index as u8];
        seed.extend_from_slice(template.as_bytes());
        seed.push(0);
        seed.extend_from_slice(&json);
        std::fs::write(dir.join(format!("seed-hostile-{label}")), seed).unwrap();
    }
}

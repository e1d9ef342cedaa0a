//! How `{{value}}` is escaped, decided by the template's format (and, for Slack, by the
//! channel that uses it). `{{{value}}}` bypasses all of this and is for trusted values.
//!
//! Escaping belongs to the registry, not to the template author: a template cannot
//! forget it. For Slack the JSON escape also applies Slack's own (`&` `<` `>` become
//! `&amp;` `&lt;` `&gt;`), so a resource named `<!channel>` reaches Slack as text in
//! every field, `plain_text` included, while the template's own literal text (its
//! `<url|links>`, a deliberate `<!here>`) is left alone. A post-render pass over the
//! payload could not tell those two apart.

/// The escaping a compiled template gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flavor {
    /// `.json.hbs`: values become JSON string content; the output must parse.
    Json,
    /// `.json.hbs` used by a Slack channel: Slack's escaping, then JSON's.
    SlackJson,
    /// `.html.hbs`: HTML-escaped.
    Html,
    /// `.txt.hbs`: as is.
    Txt,
}

impl Flavor {
    pub const ALL: [Flavor; 4] = [Flavor::Json, Flavor::SlackJson, Flavor::Html, Flavor::Txt];

    /// The escape function handlebars calls for every `{{value}}` (and helper output).
    pub fn escape_fn(self) -> fn(&str) -> String {
        match self {
            Flavor::Json => json_string_content,
            Flavor::SlackJson => slack_json,
            Flavor::Html => handlebars::html_escape,
            Flavor::Txt => handlebars::no_escape,
        }
    }
}

/// `s` as the inside of a JSON string literal (no surrounding quotes).
pub fn json_string_content(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Slack's three control characters as entities: what Slack asks of any text it should
/// show literally (https://api.slack.com/reference/surfaces/formatting#escaping).
pub fn slack_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn slack_json(s: &str) -> String {
    json_string_content(&slack_text(s))
}

/// At most `max` characters of `s`, ending in "…" when cut. A cut never splits an
/// `&entity;` (Slack and HTML text would show the broken half).
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let keep: String = s.chars().take(max - 1).collect();
    let keep = match keep.rfind('&') {
        Some(amp) if !keep[amp..].contains(';') && keep.len() - amp <= 8 => &keep[..amp],
        _ => &keep[..],
    };
    format!("{}…", keep.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_is_what_sits_between_quotes() {
        assert_eq!(json_string_content("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(json_string_content("\u{1}"), r"\u0001");
    }

    #[test]
    fn slack_escapes_only_its_three_characters() {
        assert_eq!(
            slack_text("<!channel> & \"x\""),
            "&lt;!channel&gt; &amp; \"x\""
        );
        assert_eq!(slack_json("<a>\"b\""), r#"&lt;a&gt;\"b\""#);
    }

    #[test]
    fn truncation_counts_characters_and_keeps_entities_whole() {
        assert_eq!(truncate_chars("abcdef", 6), "abcdef");
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_chars("ääää", 3), "ää…");
        assert_eq!(truncate_chars("ab &amp; cd", 6), "ab…");
        assert_eq!(truncate_chars("ab &amp; cd", 10), "ab &amp;…");
        assert_eq!(truncate_chars("x", 0), "");
    }
}

//! The template helpers (docs/templates.md lists them). Each returns a value, so its
//! output is escaped like any `{{value}}` of the template's format (and not escaped
//! inside `{{{ }}}`). `eq`, `ne`, `gt`, `lt`, `and`, `or`, `not` and `len` are
//! handlebars' own.
//!
//! Strict mode reaches into helpers: a parameter naming a field the context lacks is
//! an error, as it would be in `{{field}}`. Time is never read from the clock here:
//! `ago` measures from the context's `now`.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Utc};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, PathAndJson, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use serde_json::Value;

use super::escape::truncate_chars;
use crate::model::human_duration;

/// The pattern `format_time` uses when none is given: "2026-03-01 14:05 UTC".
pub const DEFAULT_TIME_FORMAT: &str = "%Y-%m-%d %H:%M %Z";

/// Register every helper on `hb`.
pub fn register(hb: &mut Handlebars<'static>) {
    let helpers: [(&'static str, HelperFn); 10] = [
        ("format_time", format_time),
        ("ago", ago),
        ("upper", |a| Ok(a.str(0)?.to_uppercase().into())),
        ("lower", |a| Ok(a.str(0)?.to_lowercase().into())),
        ("truncate", truncate),
        ("status_emoji", status_emoji),
        ("json", json),
        ("plural", plural),
        ("default", default),
        ("join", join),
    ];
    for (name, f) in helpers {
        hb.register_helper(name, Box::new(Named { name, f }));
    }
}

type HelperFn = for<'a, 'rc> fn(Args<'a, 'rc>) -> Result<Value, RenderError>;

/// A helper's parameters, checked for strict mode as they are read.
struct Args<'a, 'rc> {
    name: &'static str,
    h: &'a Helper<'rc>,
    strict: bool,
    root: &'a Value,
}

impl Args<'_, '_> {
    /// Parameter `i`, or an error naming the helper when it is absent or (in strict
    /// mode) names a missing field.
    fn param(&self, i: usize) -> Result<&Value, RenderError> {
        let p = self
            .h
            .param(i)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex(self.name, i))?;
        self.present(p)
    }

    fn opt(&self, i: usize) -> Result<Option<&Value>, RenderError> {
        match self.h.param(i) {
            None => Ok(None),
            Some(p) => self.present(p).map(Some),
        }
    }

    fn present<'p>(&self, p: &'p PathAndJson<'_>) -> Result<&'p Value, RenderError> {
        if self.strict && p.is_value_missing() {
            return Err(RenderError::strict_error(p.relative_path()));
        }
        Ok(p.value())
    }

    /// Parameter `i` as text: strings as they are, null as "", others as JSON.
    fn str(&self, i: usize) -> Result<String, RenderError> {
        Ok(text_of(self.param(i)?))
    }

    fn other(&self, what: String) -> RenderError {
        RenderErrorReason::Other(format!("{}: {what}", self.name)).into()
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// A helper written as a function of its arguments to one value.
struct Named {
    name: &'static str,
    f: HelperFn,
}

impl HelperDef for Named {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let args = Args {
            name: self.name,
            h,
            strict: r.strict_mode(),
            root: ctx.data(),
        };
        (self.f)(args).map(ScopedJson::Derived)
    }
}

fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// `{{format_time t ["%d %b %H:%M"] ["Europe/Berlin"]}}`: an RFC 3339 time in a
/// strftime pattern, in UTC or the named IANA zone; null gives "".
fn format_time(a: Args) -> Result<Value, RenderError> {
    let t = a.param(0)?;
    if t.is_null() {
        return Ok("".into());
    }
    let Some(t) = parse_time(t) else {
        return Err(a.other(format!("{t} is not an RFC 3339 time")));
    };
    let pattern = match a.opt(1)? {
        None | Some(Value::Null) => DEFAULT_TIME_FORMAT.to_owned(),
        Some(p) => text_of(p),
    };
    // An unknown `%x` would make chrono's Display fail (and to_string panic): refuse it.
    let items: Vec<Item> = StrftimeItems::new(&pattern).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(a.other(format!("{pattern:?} is not a valid strftime pattern")));
    }
    let out = match a.opt(2)? {
        None | Some(Value::Null) => t.format_with_items(items.iter()).to_string(),
        Some(tz) => {
            let name = text_of(tz);
            let tz: chrono_tz::Tz = name
                .parse()
                .map_err(|_| a.other(format!("{name:?} is not an IANA time zone")))?;
            t.with_timezone(&tz)
                .format_with_items(items.iter())
                .to_string()
        }
    };
    Ok(out.into())
}

/// `{{ago t}}`: "3h 12m", the time from `t` to the context's `now`; null gives "".
fn ago(a: Args) -> Result<Value, RenderError> {
    let t = a.param(0)?;
    if t.is_null() {
        return Ok("".into());
    }
    let Some(t) = parse_time(t) else {
        return Err(a.other(format!("{t} is not an RFC 3339 time")));
    };
    let Some(now) = a.root.get("now").and_then(parse_time) else {
        return Err(a.other("the context has no RFC 3339 `now`".into()));
    };
    Ok(human_duration(now - t).into())
}

/// `{{truncate s 80}}`: at most 80 characters, the last one "…" when cut.
fn truncate(a: Args) -> Result<Value, RenderError> {
    let s = a.str(0)?;
    let Some(max) = a.param(1)?.as_u64() else {
        return Err(a.other("the length must be a whole number".into()));
    };
    Ok(truncate_chars(&s, usize::try_from(max).unwrap_or(usize::MAX)).into())
}

/// `{{status_emoji x}}`: an emoji for a severity, a notification status or an
/// Acronis aggregate status.
fn status_emoji(a: Args) -> Result<Value, RenderError> {
    let emoji = match a.str(0)?.as_str() {
        "critical" => "🔴",
        "error" => "🟠",
        "warning" => "🟡",
        "info" => "🔵",
        "firing" => "🔥",
        "resolved" | "ok" | "idle" | "scheduled" => "✅",
        "running" | "cancelling" => "🔄",
        "interaction_required" => "✋",
        "not_protected" | "no_policies_applied" => "⚪",
        _ => "❔",
    };
    Ok(emoji.into())
}

/// `{{{json v}}}`: `v` as JSON (in a `{{ }}` of a JSON template it becomes a string).
fn json(a: Args) -> Result<Value, RenderError> {
    Ok(a.param(0)?.to_string().into())
}

/// `{{plural count "alert"}}` -> "alert" / "alerts"; `{{plural n "entry" "entries"}}`.
fn plural(a: Args) -> Result<Value, RenderError> {
    let n = a.param(0)?.as_f64().unwrap_or(0.0);
    let one = a.str(1)?;
    if n == 1.0 {
        return Ok(one.into());
    }
    Ok(match a.opt(2)? {
        Some(many) => text_of(many),
        None => format!("{one}s"),
    }
    .into())
}

/// `{{default tenant.name tenant.id}}`: the first value unless it is null or "".
fn default(a: Args) -> Result<Value, RenderError> {
    let v = a.param(0)?;
    if v.is_null() || v.as_str() == Some("") {
        return Ok(a.param(1)?.clone());
    }
    Ok(v.clone())
}

/// `{{join list ", "}}`: a list's items as text, joined (a non-list as its text).
fn join(a: Args<'_, '_>) -> Result<Value, RenderError> {
    let sep = match a.opt(1)? {
        Some(s) => text_of(s),
        None => ", ".to_string(),
    };
    Ok(match a.param(0)? {
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(&sep),
        other => text_of(other),
    }
    .into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::notify::render::escape::Flavor;
    use crate::notify::render::registry;

    fn render(flavor: Flavor, template: &str, ctx: serde_json::Value) -> Result<String, String> {
        registry(flavor)
            .render_template(template, &ctx)
            .map_err(|e| e.reason().to_string())
    }

    fn txt(template: &str) -> String {
        let ctx = json!({
            "now": "2026-03-02T09:30:00Z",
            "t": "2026-03-01T23:15:00Z",
            "none": null,
            "name": "Ünïcode & <b>",
            "n": 1,
            "many": 3,
            "empty": "",
            "obj": {"a": [1, "x"]},
        });
        render(Flavor::Txt, template, ctx).unwrap_or_else(|e| panic!("{template}: {e}"))
    }

    #[test]
    fn format_time_takes_a_pattern_and_a_zone() {
        assert_eq!(txt("{{format_time t}}"), "2026-03-01 23:15 UTC");
        assert_eq!(txt("{{format_time t \"%d.%m. %H:%M\"}}"), "01.03. 23:15");
        assert_eq!(
            txt("{{format_time t \"%d.%m. %H:%M %Z\" \"Europe/Berlin\"}}"),
            "02.03. 00:15 CET"
        );
        assert_eq!(txt("[{{format_time none}}]"), "[]");
    }

    #[test]
    fn ago_measures_from_the_context_now() {
        assert_eq!(txt("{{ago t}}"), "10h 15m");
        assert_eq!(txt("[{{ago none}}]"), "[]");
        let err = render(
            Flavor::Txt,
            "{{ago t}}",
            json!({"t": "2026-03-01T23:15:00Z"}),
        );
        assert!(err.unwrap_err().contains("now"));
    }

    #[test]
    fn text_helpers() {
        assert_eq!(
            txt("{{upper name}}|{{lower name}}"),
            "ÜNÏCODE & <B>|ünïcode & <b>"
        );
        assert_eq!(
            txt("{{truncate name 4}}|{{truncate name 40}}"),
            "Ünï…|Ünïcode & <b>"
        );
        assert_eq!(
            txt(
                "{{plural n \"alert\"}} {{plural many \"alert\"}} {{plural many \"entry\" \"entries\"}}"
            ),
            "alert alerts entries"
        );
        assert_eq!(
            txt("{{default empty \"x\"}} {{default name \"x\"}} {{default none n}}"),
            "x Ünïcode & <b> 1"
        );
        assert_eq!(
            txt(
                "{{status_emoji \"critical\"}}{{status_emoji \"resolved\"}}{{status_emoji \"mystery\"}}"
            ),
            "🔴✅❔"
        );
        assert_eq!(
            txt("{{#if (eq n 1)}}one{{/if}}{{#if (gt many 2)}} many{{/if}}"),
            "one many"
        );
    }

    #[test]
    fn json_is_escaped_like_any_value_unless_tripled() {
        let ctx = json!({"obj": {"a": "<\"x\">"}});
        assert_eq!(
            render(Flavor::Txt, "{{json obj}}", ctx.clone()).unwrap(),
            r#"{"a":"<\"x\">"}"#
        );
        assert_eq!(
            render(Flavor::Json, "\"{{json obj}}\"", ctx.clone()).unwrap(),
            r#""{\"a\":\"<\\\"x\\\">\"}""#
        );
        assert_eq!(
            render(Flavor::Json, "{{{json obj}}}", ctx.clone()).unwrap(),
            r#"{"a":"<\"x\">"}"#
        );
        assert_eq!(
            render(Flavor::Html, "{{json obj}}", ctx).unwrap(),
            "{&quot;a&quot;:&quot;&lt;\\&quot;x\\&quot;&gt;&quot;}"
        );
    }

    #[test]
    fn helper_output_gets_the_format_escaping() {
        let ctx = json!({"name": "<!here> & co"});
        assert_eq!(
            render(Flavor::SlackJson, "{{upper name}}", ctx.clone()).unwrap(),
            "&lt;!HERE&gt; &amp; CO"
        );
        assert_eq!(
            render(Flavor::SlackJson, "{{{upper name}}}", ctx).unwrap(),
            "<!HERE> & CO"
        );
    }

    #[test]
    fn strict_mode_covers_helper_parameters_and_bad_arguments_are_errors() {
        let err = render(Flavor::Txt, "{{upper nope}}", json!({})).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        let err = render(Flavor::Txt, "{{truncate s \"x\"}}", json!({"s": "abc"})).unwrap_err();
        assert!(err.contains("whole number"), "{err}");
        let err = render(Flavor::Txt, "{{format_time s}}", json!({"s": "yesterday"})).unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}

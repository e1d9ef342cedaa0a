//! Templates -> [`Rendered`] messages, fitted to each channel's limits.
//!
//! The render stage of the pipeline: it turns an outbox item into what one channel
//! receives, and does no I/O after loading (templates are read and checked once, by
//! [`Renderer::load`], which `check` and the worker call before anything is sent).
//!
//! A template `NAME` is a set of files `NAME.<part>.<format>.hbs` / `NAME.<format>.hbs`
//! (`source.rs`); the format decides the escaping (`escape.rs`), so each format has its
//! own handlebars registry, all in strict mode and with the same helpers
//! (`helpers.rs`). The context is SPEC §5's (`context.rs`, `digest.rs`); JSON outputs
//! are parsed and fitted to the channel (`fit.rs`: the search; each kind's limits and
//! cuts are in its own folder, `notify/<kind>/fit.rs`, written with `limit.rs`).
//! docs/templates.md is the user's side of this.

pub(crate) mod budget;
mod context;
mod digest;
mod escape;
mod exposed;
mod fit;
mod fuzz;
mod helpers;
pub(in crate::notify) mod limit;
pub mod sample;
mod source;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use handlebars::template::TemplateElement;
use handlebars::{Context, Handlebars, Template};
use serde_json::Value;

use super::{Rendered, email};
use crate::config::{ChannelConfig, Config};
use crate::model::OutboxItem;
pub use context::{NotificationContext, rfc3339};
pub use digest::{
    Changes, DigestAgent, DigestContext, DigestMachine, DigestProblem, DigestScore, Totals,
};
use escape::Flavor;
use source::{Origin, Part, Target};

/// A template that is missing, does not compile or does not render with sample data;
/// the message starts with `file:line:col:` when a place is known.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// A message that could not be rendered (a dead letter: rendering again will not help).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

/// The compiled templates.
pub struct Renderer {
    registries: BTreeMap<Flavor, Handlebars<'static>>,
    origin: Origin,
    console_url: Option<String>,
    digest: Option<String>,
    /// The longest one render may take ([`budget::MAX_RENDER_TIME`]).
    max_time: std::time::Duration,
    /// Templates that show API values where their receiver reads markup (`exposed.rs`).
    warnings: Vec<String>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<(&Flavor, Vec<&String>)> = self
            .registries
            .iter()
            .map(|(f, hb)| (f, hb.get_templates().keys().collect()))
            .collect();
        f.debug_struct("Renderer")
            .field("origin", &self.origin)
            .field("templates", &names)
            .finish()
    }
}

impl Renderer {
    /// Compile every template in `dir` that `config`'s channels and digest use, and
    /// render each with sample data (JSON outputs must parse).
    pub fn load(dir: &Path, config: &Config) -> Result<Renderer, TemplateError> {
        Renderer::build(Origin::Dir(dir.to_path_buf()), config)
    }

    /// The shipped templates, built into the binary (for `demo`).
    pub fn shipped(config: &Config) -> Result<Renderer, TemplateError> {
        Renderer::build(Origin::Shipped, config)
    }

    fn build(origin: Origin, config: &Config) -> Result<Renderer, TemplateError> {
        let mut r = Renderer {
            registries: Flavor::ALL.iter().map(|f| (*f, registry(*f))).collect(),
            origin,
            console_url: console_url(config),
            digest: config.digest.as_ref().map(|d| d.template.clone()),
            max_time: budget::MAX_RENDER_TIME,
            warnings: Vec::new(),
        };
        for ch in &config.channels {
            let why = format!("channel {:?} uses template {:?}", ch.name, ch.template);
            r.compile(Target::of(&ch.kind), &ch.template, &why)?;
        }
        if let Some(name) = r.digest.clone() {
            r.compile(Target::Digest, &name, "[digest] uses it")?;
        }
        r.check(config)?;
        r.warnings = r.exposures(config);
        Ok(r)
    }

    /// What the templates were found to do that is allowed but unsafe: API values in
    /// a field the receiver reads as markup. `check` prints these; the worker logs them.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// For each Slack and Teams channel, the fields of its template where a sample
    /// whose API values carry a marker shows them as markup.
    fn exposures(&self, config: &Config) -> Vec<String> {
        let now = sample::now();
        let probes = [
            sample::items(now).swap_remove(1),
            sample::platform_item(now),
        ]
        .map(exposed::probe);
        let mut out = Vec::new();
        for ch in &config.channels {
            let target = Target::of(&ch.kind);
            if !matches!(target, Target::Slack | Target::Teams) {
                continue;
            }
            let mut fields: Vec<String> = probes
                .iter()
                .filter_map(|item| match self.render(ch, item, now) {
                    Ok(Rendered::Json(v)) => Some(exposed::markup_fields(target, &v)),
                    _ => None,
                })
                .flatten()
                .collect();
            fields.sort();
            fields.dedup();
            if fields.is_empty() {
                continue;
            }
            let (_, file, _) = target.files(&ch.template).remove(0);
            let safe = match target {
                Target::Teams => "a RichTextBlock's TextRuns",
                _ => "plain_text text objects",
            };
            out.push(format!(
                "{} (channel {:?}) shows values from the API (machine, tenant and policy \
                 names, summaries, statuses) where {} reads markup: {}; a machine named \
                 like \"[Sign in](https://example.com)\" would be shown as a link or \
                 formatting. Show API values in {safe} instead (docs/templates.md, \
                 \"API values stay inert\")",
                self.origin.display(&file),
                ch.name,
                target.label(),
                fields.join(", ")
            ));
        }
        out
    }

    /// Compile the files of template `name` not compiled yet.
    fn compile(&mut self, target: Target, name: &str, why: &str) -> Result<(), TemplateError> {
        for (_, file, flavor) in target.files(name) {
            let hb = self
                .registries
                .get_mut(&flavor)
                .expect("a registry per flavor");
            if hb.has_template(&file) {
                continue;
            }
            let shown = self.origin.display(&file);
            let text = match self.origin.read(&file) {
                Ok(Some(text)) => text,
                Ok(None) => {
                    return Err(TemplateError(format!("{shown}: no such template ({why})")));
                }
                Err(e) => return Err(TemplateError(format!("{shown}: cannot read: {e}"))),
            };
            register(hb, &file, &shown, text)?;
        }
        Ok(())
    }

    /// Render every loaded template with the sample data, as `check` promises.
    fn check(&self, config: &Config) -> Result<(), TemplateError> {
        let now = sample::now();
        for ch in &config.channels {
            for item in sample::items(now) {
                self.render(ch, &item, now)
                    .map_err(|e| TemplateError(format!("{e} (rendering sample data)")))?;
            }
        }
        if self.digest.is_some() {
            self.render_digest(&sample::digest(now), now)
                .map_err(|e| TemplateError(format!("{e} (rendering sample data)")))?;
        }
        Ok(())
    }

    /// What `check` adds to [`Renderer::load`]'s sample renders: every notification
    /// template with sample data scaled up to [`sample::SCALED`] alerts, and the digest
    /// with as many machines, each within the render budget (`budget.rs`), so that a
    /// template that runs away is found before it is deployed, naming the template and
    /// the limit. Not done at every load: it costs a second or so in a debug build.
    ///
    /// `step` is told what is rendered next, before it is, so that a caller waiting
    /// on another thread can name the template of a render that never ends.
    pub fn check_scaled(
        &self,
        config: &Config,
        step: &dyn Fn(String),
    ) -> Result<(), TemplateError> {
        let now = sample::now();
        let items = sample::scaled_items(now);
        for ch in &config.channels {
            for item in &items {
                step(format!(
                    "template {:?} of channel {:?}, {} alerts",
                    ch.template,
                    ch.name,
                    item.count()
                ));
                self.render(ch, item, now).map_err(|e| {
                    TemplateError(format!(
                        "{e} (rendering sample data scaled up to {} alerts, for channel {:?})",
                        item.count(),
                        ch.name
                    ))
                })?;
            }
        }
        if let Some(name) = &self.digest {
            let d = sample::scaled_digest(now);
            step(format!(
                "digest template {name:?}, {} machines",
                d.machines.len()
            ));
            self.render_digest(&d, now).map_err(|e| {
                TemplateError(format!(
                    "{e} (rendering a sample digest scaled up to {} machines)",
                    d.machines.len()
                ))
            })?;
        }
        Ok(())
    }

    /// Render `item` for `channel` at `now`, fitted to the channel's limits.
    pub fn render(
        &self,
        channel: &ChannelConfig,
        item: &OutboxItem,
        now: DateTime<Utc>,
    ) -> Result<Rendered, RenderError> {
        // A digest was rendered when it was queued.
        if let Some(d) = &item.digest {
            return Ok(Rendered::Email {
                subject: d.subject.clone(),
                text: d.text.clone(),
                html: d.html.clone(),
            });
        }
        let target = Target::of(&channel.kind);
        let mut ctx = NotificationContext::new(item, channel, now, self.console_url.as_deref());
        if !target.is_json() {
            return self.render_email(target, &channel.template, ctx.with_shown(ctx.listed()));
        }
        let (_, file, flavor) = target.files(&channel.template).remove(0);
        let listed = ctx.listed();
        let v = fit::fit(target, listed, |shown| {
            self.render_json(target, flavor, &file, ctx.with_shown(shown))
        })?;
        Ok(Rendered::Json(v))
    }

    /// Render a tenant's digest with the `[digest]` template set.
    pub fn render_digest(
        &self,
        digest: &DigestContext,
        now: DateTime<Utc>,
    ) -> Result<Rendered, RenderError> {
        let Some(name) = &self.digest else {
            return Err(RenderError("no [digest] template was loaded".into()));
        };
        let ctx = digest.to_json(now, self.console_url.as_deref());
        self.render_email(Target::Digest, name, ctx)
    }

    /// Render one template file with `ctx` as text, within `target`'s render budget
    /// (`budget.rs`).
    fn render_text(
        &self,
        target: Target,
        flavor: Flavor,
        file: &str,
        ctx: &Context,
    ) -> Result<String, RenderError> {
        let hb = &self.registries[&flavor];
        if !hb.has_template(file) {
            return Err(RenderError(format!(
                "{}: not loaded (was its channel in the config the renderer was loaded with?)",
                self.origin.display(file)
            )));
        }
        let mut out = budget::Bounded::new(budget::max_render_bytes(target), self.max_time);
        let rendered = hb.render_with_context_to_write(file, ctx, &mut out);
        if let Some(over) = out.over {
            return Err(RenderError(format!(
                "{}: {}",
                self.origin.display(file),
                over.describe(target)
            )));
        }
        rendered.map_err(|e| {
            let at = match (e.line_no, e.column_no) {
                (Some(l), Some(c)) => format!(":{l}:{c}"),
                _ => String::new(),
            };
            let name = e.template_name.as_deref().unwrap_or(file);
            RenderError(format!(
                "{}{at}: {}",
                self.origin.display(name),
                render_reason(e.reason())
            ))
        })?;
        String::from_utf8(out.out).map_err(|e| {
            RenderError(format!(
                "{}: the output is not UTF-8: {e}",
                self.origin.display(file)
            ))
        })
    }

    fn render_json(
        &self,
        target: Target,
        flavor: Flavor,
        file: &str,
        ctx: Value,
    ) -> Result<Value, RenderError> {
        // Context::from takes the value as it is; render() would copy it once more.
        let out = self.render_text(target, flavor, file, &Context::from(ctx))?;
        serde_json::from_str(&out).map_err(|e| {
            RenderError(format!(
                "{}: the output is not JSON: {e} of the output, near: {}",
                self.origin.display(file),
                near(&out, e.line(), e.column())
            ))
        })
    }

    fn render_email(
        &self,
        target: Target,
        name: &str,
        ctx: Value,
    ) -> Result<Rendered, RenderError> {
        let ctx = Context::from(ctx);
        let (mut subject, mut text, mut html) = (String::new(), String::new(), String::new());
        for (part, file, flavor) in target.files(name) {
            let out = self.render_text(target, flavor, &file, &ctx)?;
            match part {
                Part::Subject => subject = email::fit::subject(&out),
                Part::Text => text = out,
                Part::Html => html = out,
                Part::Body => {}
            }
        }
        Ok(Rendered::Email {
            subject,
            text,
            html,
        })
    }
}

/// A registry for one format: strict, with its escaping and every helper.
fn registry(flavor: Flavor) -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(flavor.escape_fn());
    helpers::register(&mut hb);
    hb
}

/// Compile `text` as template `file` (`shown` names it in messages).
fn register(
    hb: &mut Handlebars<'static>,
    file: &str,
    shown: &str,
    text: String,
) -> Result<(), TemplateError> {
    let template = Template::compile_with_name(&text, file.to_owned()).map_err(|e| {
        let at = e.pos().map_or(String::new(), |(l, c)| format!(":{l}:{c}"));
        TemplateError(format!("{shown}{at}: {}", syntax_reason(e.reason())))
    })?;
    if let Some((line, column)) = first_partial(&template) {
        return Err(TemplateError(format!(
            "{shown}:{line}:{column}: partials ({{{{> name}}}}, {{{{#> name}}}}) are not \
             supported: write the markup in place (a partial that includes itself, or two \
             templates that include each other, would never finish rendering)"
        )));
    }
    hb.register_template(file, template);
    Ok(())
}

/// Where `t` first uses a partial, if it does. Handlebars guards only against a
/// template including itself directly: an inline partial calling itself, or two files
/// of one format including each other, recurse until the stack overflows (found by
/// fuzzing). No template needs them, so none may use them.
fn first_partial(t: &Template) -> Option<(usize, usize)> {
    t.elements.iter().enumerate().find_map(|(i, e)| match e {
        TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
            Some(t.mapping.get(i).map_or((1, 1), |m| (m.0, m.1)))
        }
        TemplateElement::HelperBlock(h) => {
            h.template.iter().chain(&h.inverse).find_map(first_partial)
        }
        TemplateElement::DecoratorBlock(d) => d.template.as_ref().and_then(first_partial),
        _ => None,
    })
}

/// Handlebars' compile errors, said for a template author.
fn syntax_reason(reason: &handlebars::TemplateErrorReason) -> String {
    match reason {
        // pest lists every token it could have taken: not helpful to a person.
        handlebars::TemplateErrorReason::InvalidSyntax(_) => {
            "invalid handlebars syntax (a {{#block}} left open, or a {{ not closed?)".into()
        }
        other => other.to_string(),
    }
}

/// Handlebars' render errors, said for a template author.
fn render_reason(reason: &handlebars::RenderErrorReason) -> String {
    use handlebars::RenderErrorReason as R;
    match reason {
        R::MissingVariable(Some(path)) => format!(
            "the context has no field {path:?} (strict mode: docs/templates.md lists the fields)"
        ),
        R::MissingVariable(None) => "a value the context lacks (strict mode)".into(),
        R::HelperNotFound(name) => format!("no helper named {name:?}"),
        other => other.to_string(),
    }
}

/// The Acronis console: the datacenter's web root.
fn console_url(config: &Config) -> Option<String> {
    let url = &config.acronis.datacenter_url;
    matches!(url.scheme(), "http" | "https")
        .then(|| format!("{}/", url.origin().ascii_serialization()))
}

/// The text around `line`:`column` of `out`, for a JSON error message.
fn near(out: &str, line: usize, column: usize) -> String {
    let text = out.lines().nth(line.saturating_sub(1)).unwrap_or("");
    let chars: Vec<char> = text.chars().collect();
    let at = column.saturating_sub(1).min(chars.len());
    let from = at.saturating_sub(40);
    let to = (at + 40).min(chars.len());
    format!("{:?}", chars[from..to].iter().collect::<String>())
}

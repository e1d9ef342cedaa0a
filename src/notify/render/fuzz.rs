//! What the `template` fuzz target (`fuzz/`, through [`crate::fuzzing`]) renders: a
//! template text compiled and rendered the way [`Renderer::load`] and
//! [`Renderer::render`] do it (same registries, escaping, helpers, strict mode, fitting),
//! with any JSON as the context. Not used by the worker.

use serde_json::Value;

use super::escape::Flavor;
use super::source::{Origin, Target};
use super::{RenderError, Renderer, TemplateError, fit, register, registry};
use crate::config::ChannelConfig;
use crate::notify::Rendered;

impl Renderer {
    /// A renderer whose template `channel.template` is `text`: every file of the set
    /// (an email's subject, text and HTML each get it, with their own escaping).
    pub(crate) fn from_text(
        channel: &ChannelConfig,
        text: &str,
    ) -> Result<Renderer, TemplateError> {
        let mut r = Renderer {
            registries: Flavor::ALL.iter().map(|f| (*f, registry(*f))).collect(),
            origin: Origin::Shipped,
            console_url: Some("https://cloud.example/".into()),
            digest: None,
            max_time: super::budget::MAX_RENDER_TIME,
            warnings: Vec::new(),
        };
        for (_, file, flavor) in Target::of(&channel.kind).files(&channel.template) {
            let shown = r.origin.display(&file);
            let hb = r
                .registries
                .get_mut(&flavor)
                .expect("a registry per flavor");
            register(hb, &file, &shown, text.to_owned())?;
        }
        Ok(r)
    }

    /// `ctx` rendered with `channel`'s template as [`Renderer::render`] renders a
    /// notification's context: a JSON message fitted to the channel (the first `k` of
    /// `ctx.alerts` shown, `shown` and `more` set), an email in its three parts.
    pub(crate) fn render_value(
        &self,
        channel: &ChannelConfig,
        ctx: &Value,
    ) -> Result<Rendered, RenderError> {
        let target = Target::of(&channel.kind);
        if !target.is_json() {
            return self.render_email(target, &channel.template, ctx.clone());
        }
        let (_, file, flavor) = target.files(&channel.template).remove(0);
        let listed = ctx
            .get("alerts")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let v = fit::fit(target, listed, |shown| {
            self.render_json(target, flavor, &file, with_shown(ctx, shown))
        })?;
        Ok(Rendered::Json(v))
    }
}

/// `ctx` with only the first `shown` alerts, as `NotificationContext::with_shown` makes it.
fn with_shown(ctx: &Value, shown: usize) -> Value {
    let mut ctx = ctx.clone();
    if let Some(map) = ctx.as_object_mut()
        && let Some(Value::Array(alerts)) = map.get_mut("alerts")
    {
        let more = alerts.len().saturating_sub(shown);
        alerts.truncate(shown);
        map.insert("shown".into(), shown.into());
        map.insert("more".into(), more.into());
    }
    ctx
}

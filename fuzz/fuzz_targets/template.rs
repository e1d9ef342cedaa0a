//! A notification template and a context -> the product's handlebars rendering
//! (registries, escaping, helpers, strict mode, fitting to the channel's limits).
//!
//! Input: one byte choosing the channel type (slack, teams, pagerduty, email, webhook),
//! the template text, then optionally a 0 byte and a JSON context. Without a context the
//! template renders every sample notification through `Renderer::render`, as `check`
//! does; with one, that JSON is the context. Errors are fine; panics and hangs are not.
//!
//! Loops nested in loops take time exponential in their depth (`{{#each @root.l}}`
//! three deep over 1000 items is 10^9 turns): a template may do that, as a program may
//! loop, and docs/fuzzing.md says so. Inputs whose worst case passes ~10^6 turns are
//! skipped, so that this known cost is not reported as a hang again and again.

#![no_main]

mod common;

use acronis_watch::fuzzing;
use acronis_watch::notify::render::sample;
use handlebars::Template;
use handlebars::template::TemplateElement;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let channels = &common::config().channels;
    let channel = &channels[usize::from(which) % channels.len()];
    let (template, context) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let Ok(template) = std::str::from_utf8(template) else {
        return;
    };
    let context = match context.map(serde_json::from_slice::<Value>) {
        None => None,
        Some(Ok(ctx)) => Some(ctx),
        Some(Err(_)) => return,
    };
    // A sample notification's widest part: an alert's 16 fields.
    let longest = context.as_ref().map_or(16, widest);
    if too_loopy(template, longest) {
        return;
    }
    let Ok(renderer) = fuzzing::template(channel, template) else {
        return;
    };
    match context {
        None => {
            let now = sample::now();
            for item in sample::items(now) {
                let _ = renderer.render(channel, &item, now);
            }
        }
        Some(ctx) => {
            let _ = fuzzing::render_context(&renderer, channel, &ctx);
        }
    }
});

/// Whether `{{#each}}` loops nested as deep as `template` nests them, over collections
/// of `longest` items, could turn more than 10^6 times.
fn too_loopy(template: &str, longest: usize) -> bool {
    let Ok(t) = Template::compile(template) else {
        return false; // refused at load: never rendered
    };
    (longest.max(2) as f64).powi(each_depth(&t).min(64) as i32) > 1e6
}

/// How deep `{{#each}}` blocks nest in `t`.
fn each_depth(t: &Template) -> usize {
    let inner = |t: &Option<Template>| t.as_ref().map_or(0, each_depth);
    t.elements
        .iter()
        .map(|e| match e {
            TemplateElement::HelperBlock(h) => {
                usize::from(h.name.as_name() == Some("each"))
                    + inner(&h.template).max(inner(&h.inverse))
            }
            TemplateElement::DecoratorBlock(d) | TemplateElement::PartialBlock(d) => {
                inner(&d.template)
            }
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

/// The most items or keys of any array or object in `v`.
fn widest(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(widest).max().unwrap_or(0).max(items.len()),
        Value::Object(map) => map.values().map(widest).max().unwrap_or(0).max(map.len()),
        _ => 0,
    }
}

//! A notification template and a context -> the product's handlebars rendering
//! (registries, escaping, helpers, strict mode, fitting to the channel's limits).
//!
//! Input: one byte choosing the channel type (slack, teams, pagerduty, email, webhook),
//! the template text, then optionally a 0 byte and a JSON context. Without a context the
//! template renders every sample notification through `Renderer::render`, as `check`
//! does; with one, that JSON is the context. Errors are fine; panics and hangs are not.

#![no_main]

mod common;

use acronis_watch::fuzzing;
use acronis_watch::notify::render::sample;
use libfuzzer_sys::fuzz_target;

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
        Some(context) => {
            if let Ok(ctx) = serde_json::from_slice(context) {
                let _ = fuzzing::render_context(&renderer, channel, &ctx);
            }
        }
    }
});

//! `preview --rule NAME [--channel NAME]`: what a channel would receive for a rule,
//! rendered from made-up data (a firing message, and a resolved one if the rule
//! notifies resolutions). Sends nothing.

use crate::cli::PreviewArgs;
use crate::notify::Rendered;
use crate::notify::render::sample;

use super::{Exit, Loaded};

pub fn run(loaded: &Loaded, args: &PreviewArgs) -> Exit {
    let Some(rule) = loaded.rules.get(&args.rule) else {
        eprintln!(
            "error: --rule {:?}: no such rule; the rules are: {}",
            args.rule,
            super::one_of(
                loaded.rules.iter().map(|r| r.name.as_str()),
                "(none loaded)"
            )
        );
        return Exit::Usage;
    };
    let channels: Vec<&str> = match &args.channel {
        Some(c) => vec![c.as_str()],
        None => rule.notify.iter().map(String::as_str).collect(),
    };
    if channels.is_empty() {
        eprintln!(
            "error: rule {:?} notifies no channel; name one with --channel",
            rule.name
        );
        return Exit::Usage;
    }
    let now = chrono::Utc::now();
    let mut exit = Exit::Ok;
    for name in channels {
        let channel = match loaded.channel(name) {
            Ok(c) => c,
            Err(exit) => return exit,
        };
        for mut item in sample::for_rule(rule, now) {
            item.channel = name.to_string();
            println!(
                "── {} → {} ({}), {} ──",
                rule.name,
                name,
                channel.kind.type_name(),
                item.status.as_str()
            );
            match loaded.renderer.render(channel, &item, now) {
                Ok(message) => println!("{}\n", show(&message)),
                Err(e) => {
                    eprintln!("error: {e}");
                    exit = Exit::Usage;
                }
            }
        }
    }
    exit
}

/// A rendered message for a person: JSON pretty-printed, an email as its three parts.
pub(crate) fn show(message: &Rendered) -> String {
    match message {
        Rendered::Json(v) => serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()),
        Rendered::Email {
            subject,
            text,
            html,
        } => {
            format!("Subject: {subject}\n\n--- text/plain ---\n{text}\n--- text/html ---\n{html}")
        }
    }
}

//! `check`: validate the config, every rule file and every template the channels use
//! (compiled, then rendered with sample data; JSON outputs must parse). Loading them
//! is the validation; this prints what was found, after one more test loading does not
//! make: every template rendered with sample data scaled up to 1,000 alerts within the
//! render budget, so a template that runs away fails here, not in production.

use std::sync::{Arc, mpsc};

use super::{Exit, Loaded};
use crate::config::Config;
use crate::notify::Renderer;
use crate::notify::render::budget::RENDER_WAIT;

pub fn run(loaded: Loaded) -> Exit {
    let Loaded {
        config,
        rules,
        renderer,
    } = loaded;
    let config = Arc::new(config);
    if let Err(e) = scaled(Arc::new(renderer), config.clone()) {
        eprintln!("error: {e}");
        return Exit::Usage;
    }
    let (cfg, rules) = (&*config, &rules);
    println!(
        "{}: ok ({} channel(s), tenants: {}, state: {})",
        cfg.path.display(),
        cfg.channels.len(),
        match &cfg.acronis.tenants {
            crate::config::TenantSelection::Own => "the API client's own scope".to_string(),
            crate::config::TenantSelection::Children =>
                "every customer below the API client's tenant".to_string(),
            crate::config::TenantSelection::List(l) => format!("{} listed", l.len()),
        },
        cfg.state.path.display()
    );
    println!(
        "{}: ok ({} rule(s){})",
        cfg.rules_dir.display(),
        rules.len(),
        if rules.is_empty() {
            ": nothing will alert"
        } else {
            ""
        }
    );
    for r in rules.iter() {
        println!(
            "  {:<28} {:<8} -> {}",
            r.name,
            r.severity.as_str(),
            if r.notify.is_empty() {
                "(no channel)".to_string()
            } else {
                r.notify.join(", ")
            }
        );
    }
    println!(
        "{}: ok (every template the channels use compiles and renders sample data, also scaled up to 1,000 alerts within the render budget)",
        if cfg.templates_dir.exists() {
            cfg.templates_dir.display().to_string()
        } else {
            "built-in templates".to_string()
        }
    );
    Exit::Ok
}

/// What a scaled render reports to the waiting thread.
enum Step {
    Next(String),
    Done(Result<(), String>),
}

/// [`Renderer::check_scaled`] on a thread of its own. The render budget ends a render
/// that writes too much or for too long; one that loops without writing is only seen
/// from here: no step for [`RENDER_WAIT`] fails `check`, naming what was rendering
/// (the process then exits, ending that thread).
fn scaled(renderer: Arc<Renderer>, config: Arc<Config>) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let done = tx.clone();
    std::thread::spawn(move || {
        let step = |what: String| {
            let _ = tx.send(Step::Next(what));
        };
        let result = renderer
            .check_scaled(&config, &step)
            .map_err(|e| e.to_string());
        let _ = done.send(Step::Done(result));
    });
    let mut rendering = String::from("the templates");
    loop {
        match rx.recv_timeout(RENDER_WAIT) {
            Ok(Step::Next(what)) => rendering = what,
            Ok(Step::Done(result)) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "rendering {rendering} took longer than {} s (loops nested in loops?): \
                     a message must render within the render budget (docs/templates.md)",
                    RENDER_WAIT.as_secs()
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(format!("rendering {rendering} stopped (a panic?)"));
            }
        }
    }
}

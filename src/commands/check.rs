//! `check`: validate the config, every rule file and every template the channels use
//! (compiled, then rendered with sample data; JSON outputs must parse). Loading them
//! is the validation; this prints what was found.

use crate::config::Config;
use crate::rules::RuleSet;

use super::Exit;

pub fn run(cfg: &Config, rules: &RuleSet) -> Exit {
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
        "{}: ok (every template the channels use compiles and renders sample data)",
        if cfg.templates_dir.exists() {
            cfg.templates_dir.display().to_string()
        } else {
            "built-in templates".to_string()
        }
    );
    Exit::Ok
}

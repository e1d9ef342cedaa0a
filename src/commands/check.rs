//! `check`: validate the config (rule files and templates join as they arrive).

use crate::config::Config;

use super::Exit;

pub fn run(cfg: &Config) -> Exit {
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
    Exit::Ok
}

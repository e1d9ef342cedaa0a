//! Rule files -> [`RuleSet`]. (Stub: being written.)

use std::path::Path;

use super::RuleSet;
use crate::config::Config;

/// Why the rules could not be loaded: file, line, key and what is wrong.
pub type RuleError = crate::config::ConfigError;

/// Every `*.toml` in `dir`, in name order, checked against `config`'s channels.
pub fn load(dir: &Path, config: &Config) -> Result<RuleSet, RuleError> {
    let _ = (dir, config);
    Ok(RuleSet::default())
}

/// One rule file's text (`path` for messages), checked against `config`'s channels.
pub fn parse(path: &Path, text: &str, config: &Config) -> Result<RuleSet, RuleError> {
    let _ = (path, text, config);
    Ok(RuleSet::default())
}

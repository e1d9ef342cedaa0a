//! worker.toml: parsing, `${ENV}`/`${file:}` expansion, validation -> one [`Config`].
//!
//! The first stage of every command: nothing else reads worker.toml, and nothing
//! downstream re-validates what [`load`] returns ("parse, don't validate"). A bad file
//! yields one [`ConfigError`] naming file, line, column and dotted key, saying what is
//! expected, and never containing a secret.
//!
//! How it reads: toml's span-keeping tree (`reader`) -> per-section validation
//! (`validate`, `acronis`, `channel`, `silence`), with `${...}` expanded (`expand`) as each
//! string is read and typed values parsed by small pure functions (`duration`,
//! `rate`, `shard`, `smtp`, `value`). This module must not do I/O beyond reading
//! the config file and `${file:...}` references.

mod acronis;
mod channel;
mod duration;
pub(crate) mod error;
mod expand;
mod rate;
pub(crate) mod reader;
pub mod resource_type;
mod shard;
mod silence;
mod smtp;
mod types;
mod validate;
pub(crate) mod value;

#[cfg(test)]
mod tests;

use std::path::{Component, Path, PathBuf};

pub use channel::PAGERDUTY_EVENTS_URL;
pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, Location, line_col};
pub use rate::parse_rate;
pub use shard::fnv1a64;
pub use types::*;

/// Read, expand and validate a worker.toml (environment from the process).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, &|name| std::env::var(name).ok())
}

/// Same as [`load`], from text: `path` is used in messages and its folder as the base of
/// relative paths; `env` looks up `${NAME}` (injectable for tests).
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let doc = toml::de::DeTable::parse(text).map_err(|e| ConfigError::Syntax {
        at: Location::new(path, text, e.span().map_or(0, |s| s.start)),
        message: e.message().trim().to_string(),
    })?;
    let ctx = reader::Ctx {
        file: path,
        text,
        dir: &dir,
        env,
    };
    let root = reader::Table::root(&ctx, doc.get_ref());
    validate::build(&root, path, &dir)
}

/// `p` resolved against the config folder `dir` (absolute paths are kept as they are).
pub(crate) fn resolve(dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let relative: PathBuf = p
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    dir.join(relative)
}

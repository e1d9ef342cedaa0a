//! worker.toml: parsing, `${ENV}`/`${file:}` expansion, validation -> one [`Config`].

mod duration;
mod error;
mod expand;
mod rate;
mod shard;
mod smtp;
mod types;

use std::path::{Component, Path, PathBuf};

pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, Location, line_col};
pub use rate::parse_rate;
pub use shard::fnv1a64;
pub use types::*;

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

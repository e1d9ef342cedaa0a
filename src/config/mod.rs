//! worker.toml: parsing, `${ENV}`/`${file:}` expansion, validation -> one [`Config`].

mod duration;
mod error;
mod rate;
mod shard;
mod types;

pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, Location, line_col};
pub use rate::parse_rate;
pub use shard::fnv1a64;
pub use types::*;

//! worker.toml: parsing, `${ENV}`/`${file:}` expansion, validation -> one [`Config`].

mod types;

pub use types::*;

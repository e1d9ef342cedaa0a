//! What a sent digest leaves behind for the next one to compare with.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a sent digest showed (the `digests` tree, one per tenant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestRecord {
    /// The end of the period it covered.
    pub at: DateTime<Utc>,
    /// Alert key -> "machine: rule", of the alerts firing then.
    pub problems: BTreeMap<String, String>,
    /// Resource id -> name.
    pub machines: BTreeMap<String, String>,
}

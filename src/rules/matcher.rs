//! `match.type`, `match.tenant`, `match.name`: which resources a rule (or a silence)
//! looks at. Empty lists match everything; name globs match case-insensitively, as
//! machine names are (`SQL-01` and `sql-01` are one Windows host).

use glob::{MatchOptions, Pattern};

use crate::config::{ResourceMatch, resource_type};
use crate::model::StoredResource;

const GLOB_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: false,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// Compiled resource filters.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// `context.type` values, exact.
    pub types: Vec<String>,
    /// Tenant ids: the watched tenant's id or the resource's own `tenant_id` (a unit).
    pub tenants: Vec<String>,
    /// Globs on the resource name (`*`, `?`, `[a-z]`).
    pub names: Vec<Pattern>,
}

impl Matcher {
    /// Compile; the error names the bad glob.
    pub fn new(
        types: Vec<String>,
        tenants: Vec<String>,
        names: &[String],
    ) -> Result<Matcher, String> {
        let names = names
            .iter()
            .map(|n| Pattern::new(n).map_err(|e| format!("invalid glob {n:?}: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Matcher {
            types,
            tenants,
            names,
        })
    }

    /// From a silence's `match` (its globs were checked when worker.toml was read;
    /// one that does not compile matches nothing).
    pub fn from_config(m: &ResourceMatch) -> Matcher {
        Matcher {
            types: m.types.clone(),
            tenants: m.tenants.clone(),
            names: m
                .names
                .iter()
                .map(|n| Pattern::new(n).unwrap_or_else(|_| never()))
                .collect(),
        }
    }

    pub fn matches(&self, r: &StoredResource) -> bool {
        (self.types.is_empty() || resource_type::any_matches(&self.types, &r.kind))
            && (self.tenants.is_empty()
                || self
                    .tenants
                    .iter()
                    .any(|t| *t == r.tenant_id || r.api_tenant_id.as_deref() == Some(t.as_str())))
            && (self.names.is_empty()
                || self
                    .names
                    .iter()
                    .any(|p| p.matches_with(&r.name, GLOB_OPTIONS)))
    }

    /// A stable text of the filters (part of a rule's condition hash).
    pub fn key(&self) -> String {
        let names: Vec<&str> = self.names.iter().map(Pattern::as_str).collect();
        format!("{:?}|{:?}|{:?}", self.types, self.tenants, names)
    }
}

/// A pattern that matches no name (a NUL never occurs in one).
fn never() -> Pattern {
    Pattern::new("\u{0}").expect("a literal pattern compiles")
}

//! A typed reader over toml's span-keeping document tree (`toml::de::DeTable`).
//!
//! Why not `#[derive(Deserialize)]` into raw structs: serde's type errors quote the
//! offending value (`invalid type: string "Bearer tok…"`), which would put secrets in
//! messages, and `toml::de::Error` does not expose the key path. Reading the tree by
//! hand keeps a span on every key and value, names every key by its dotted path, and
//! lets each message be written for a person. Every string is `${...}`-expanded here,
//! once, as it is read.

use std::ops::{Range, RangeInclusive};
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, Location};
use super::expand::{ExpandError, expand};

/// The file being read and how to expand its strings.
pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    /// The config file's folder: base of relative paths and `${file:...}`.
    pub dir: &'a Path,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    pub fn at(&self, offset: usize) -> Location {
        Location::new(self.file, self.text, offset)
    }
}

/// A string value after expansion, with what is needed to talk about it.
#[derive(Debug)]
pub(crate) struct Str {
    pub value: String,
    /// As written in the file, before expansion.
    pub raw: String,
    /// Whether a `${...}` was replaced: then `value` must never be shown.
    pub expanded: bool,
    pub key: String,
    pub at: Location,
}

impl Str {
    /// The value quoted for a message; only for keys that hold no secret. An expanded
    /// value is shown as written (`"${POLL_EVERY}"`), never expanded.
    pub fn shown(&self) -> String {
        if self.expanded {
            format!("{:?} (expanded value not shown)", self.raw)
        } else {
            format!("{:?}", self.value)
        }
    }

    /// Reject a value that is not a resource type name or family (`resource_types`,
    /// `match.type`).
    pub fn resource_type(self) -> Result<Self, ConfigError> {
        if super::resource_type::check(&self.value) {
            return Ok(self);
        }
        Err(ConfigError::InvalidValue {
            problem: format!(
                "{} is not a resource type: expected {}",
                self.shown(),
                super::resource_type::EXPECTED
            ),
            at: self.at,
            key: self.key,
        })
    }

    /// Reject an empty (or all-blank) value.
    pub fn non_empty(self, expected: &str) -> Result<Self, ConfigError> {
        if self.value.trim().is_empty() {
            let problem = if self.expanded {
                format!(
                    "it is empty after expanding {:?}: expected {expected}",
                    self.raw
                )
            } else {
                format!("it is empty: expected {expected}")
            };
            return Err(ConfigError::InvalidValue {
                at: self.at,
                key: self.key,
                problem,
            });
        }
        Ok(self)
    }
}

/// A key and its value.
pub(crate) struct Item<'a> {
    pub ctx: &'a Ctx<'a>,
    /// Dotted path, e.g. `channel[2].rate`.
    pub key: String,
    pub key_span: Range<usize>,
    pub span: Range<usize>,
    pub value: &'a DeValue<'a>,
}

/// A table: the document root, a `[section]`, an inline table or one `[[array]]` entry.
pub(crate) struct Table<'a> {
    pub ctx: &'a Ctx<'a>,
    /// Dotted path; empty for the top level.
    pub key: String,
    /// Where "missing key" errors point: the `[header]` or the inline table.
    pub span: Range<usize>,
    map: &'a DeTable<'a>,
}

/// `a` (bare) or `"a.b"` (quoted) as one segment of a dotted key.
pub(crate) fn key_segment(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

fn join_key(parent: &str, segment: &str) -> String {
    if parent.is_empty() {
        segment.to_string()
    } else {
        format!("{parent}.{segment}")
    }
}

pub(crate) fn a_type(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(a) if !a.is_empty() && a.iter().all(|v| v.get_ref().is_table()) => {
            "an array of tables"
        }
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a> Table<'a> {
    pub fn root(ctx: &'a Ctx<'a>, map: &'a DeTable<'a>) -> Self {
        Table {
            ctx,
            key: String::new(),
            span: 0..0,
            map,
        }
    }

    /// This table as named in messages: `[acronis]`, `channel[2]`, `the top level`.
    pub fn label(&self) -> String {
        if self.key.is_empty() {
            "the top level".to_string()
        } else if self.key.contains('[') {
            self.key.clone()
        } else {
            format!("[{}]", self.key)
        }
    }

    pub fn at(&self) -> Location {
        self.ctx.at(self.span.start)
    }

    pub fn child_key(&self, name: &str) -> String {
        join_key(&self.key, &key_segment(name))
    }

    /// Keys with their spans, in the order they appear in the file.
    pub fn keys(&self) -> Vec<(&'a str, Range<usize>)> {
        let mut keys: Vec<_> = self
            .map
            .iter()
            .map(|(k, _)| (k.get_ref().as_ref(), k.span()))
            .collect();
        keys.sort_by_key(|(_, span)| span.start);
        keys
    }

    /// Reject the first key (in file order) that is not in `allowed`.
    pub fn allow(&self, allowed: &'static [&'static str]) -> Result<(), ConfigError> {
        let Some((name, span)) = self
            .keys()
            .into_iter()
            .find(|(name, _)| !allowed.contains(name))
        else {
            return Ok(());
        };
        Err(ConfigError::UnknownKey {
            at: self.ctx.at(span.start),
            key: self.child_key(name),
            table: self.label(),
            hint: closest(name, allowed),
            allowed,
        })
    }

    pub fn get(&self, name: &str) -> Option<Item<'a>> {
        self.map
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(k, v)| Item {
                ctx: self.ctx,
                key: self.child_key(name),
                key_span: k.span(),
                span: v.span(),
                value: v.get_ref(),
            })
    }

    pub fn missing(&self, name: &str, expected: &str) -> ConfigError {
        ConfigError::MissingKey {
            at: self.at(),
            key: self.child_key(name),
            table: self.label(),
            expected: expected.to_string(),
        }
    }

    pub fn require(&self, name: &str, expected: &str) -> Result<Item<'a>, ConfigError> {
        self.get(name).ok_or_else(|| self.missing(name, expected))
    }

    pub fn opt_string(&self, name: &str) -> Result<Option<Str>, ConfigError> {
        self.get(name).map(|item| item.string()).transpose()
    }

    pub fn opt_strings(&self, name: &str, expected: &str) -> Result<Option<Vec<Str>>, ConfigError> {
        self.get(name)
            .map(|item| item.strings(expected))
            .transpose()
    }

    pub fn opt_int(
        &self,
        name: &str,
        range: RangeInclusive<i64>,
        expected: &str,
    ) -> Result<Option<i64>, ConfigError> {
        self.get(name)
            .map(|item| item.int_in(range, expected))
            .transpose()
    }
}

impl<'a> Item<'a> {
    pub fn at(&self) -> Location {
        self.ctx.at(self.span.start)
    }

    pub fn key_at(&self) -> Location {
        self.ctx.at(self.key_span.start)
    }

    pub fn wrong_type(&self, expected: &str) -> ConfigError {
        ConfigError::WrongType {
            at: self.at(),
            key: self.key.clone(),
            expected: expected.to_string(),
            found: a_type(self.value).to_string(),
        }
    }

    /// A string, `${...}`-expanded.
    pub fn string(&self) -> Result<Str, ConfigError> {
        self.string_of("a string")
    }

    /// A string, `${...}`-expanded; `expected` says what kind, for the wrong-type message.
    pub fn string_of(&self, expected: &str) -> Result<Str, ConfigError> {
        let DeValue::String(raw) = self.value else {
            return Err(self.wrong_type(expected));
        };
        self.expand(raw, self.span.clone())
    }

    fn expand(&self, raw: &str, span: Range<usize>) -> Result<Str, ConfigError> {
        let ctx = self.ctx;
        // The column of a `${` inside the value, when the value is written without escapes.
        let at_offset = |offset: usize| {
            let source = &ctx.text[span.clone()];
            match source.find(raw) {
                Some(pos) if !raw.is_empty() => ctx.at(span.start + pos + offset),
                _ => ctx.at(span.start),
            }
        };
        let key = self.key.clone();
        match expand(raw, ctx.dir, ctx.env) {
            Ok(e) => Ok(Str {
                value: e.value,
                raw: raw.to_string(),
                expanded: e.expanded,
                key,
                at: ctx.at(span.start),
            }),
            Err(ExpandError::UnsetEnv { var, offset }) => Err(ConfigError::UnsetEnv {
                at: at_offset(offset),
                key,
                var,
            }),
            Err(ExpandError::File {
                path,
                resolved,
                source,
                offset,
            }) => Err(ConfigError::FileRef {
                at: at_offset(offset),
                key,
                path,
                resolved,
                source,
            }),
            Err(ExpandError::Syntax { problem, offset }) => Err(ConfigError::BadExpansion {
                at: at_offset(offset),
                key,
                problem: problem.to_string(),
            }),
        }
    }

    /// An integer (any TOML spelling: `1_000`, `0x10`).
    pub fn int(&self) -> Result<i64, ConfigError> {
        let DeValue::Integer(int) = self.value else {
            return Err(self.wrong_type("an integer"));
        };
        i64::from_str_radix(int.as_str(), int.radix()).map_err(|_| ConfigError::OutOfRange {
            at: self.at(),
            key: self.key.clone(),
            value: int.as_str().to_string(),
            expected: "a number that fits in 64 bits".to_string(),
        })
    }

    /// An integer within `range`; `expected` describes the range for the message.
    pub fn int_in(&self, range: RangeInclusive<i64>, expected: &str) -> Result<i64, ConfigError> {
        let n = self.int()?;
        if !range.contains(&n) {
            return Err(ConfigError::OutOfRange {
                at: self.at(),
                key: self.key.clone(),
                value: n.to_string(),
                expected: expected.to_string(),
            });
        }
        Ok(n)
    }

    /// An array of strings, each expanded; `expected` describes the array.
    pub fn strings(&self, expected: &str) -> Result<Vec<Str>, ConfigError> {
        self.elements(expected)?.map(|item| item.string()).collect()
    }

    /// The elements of an array, each an item keyed `name[i]`; `expected` describes
    /// the array.
    fn elements(&self, expected: &str) -> Result<impl Iterator<Item = Item<'a>> + '_, ConfigError> {
        let DeValue::Array(array) = self.value else {
            return Err(self.wrong_type(expected));
        };
        Ok(array.iter().enumerate().map(|(i, element)| Item {
            ctx: self.ctx,
            key: format!("{}[{i}]", self.key),
            key_span: self.key_span.clone(),
            span: element.span(),
            value: element.get_ref(),
        }))
    }

    /// A table (`[section]`, dotted keys or inline `{ ... }`).
    pub fn table(&self, expected: &str) -> Result<Table<'a>, ConfigError> {
        let DeValue::Table(map) = self.value else {
            return Err(self.wrong_type(expected));
        };
        Ok(Table {
            ctx: self.ctx,
            key: self.key.clone(),
            span: self.span.clone(),
            map,
        })
    }

    /// An array of tables (`[[section]]`), each keyed `name[i]`.
    pub fn tables(&self, expected: &str) -> Result<Vec<Table<'a>>, ConfigError> {
        self.elements(expected)?
            .map(|item| item.table("a table"))
            .collect()
    }
}

/// The allowed key nearest to a misspelt one, if it is near enough to be a typo.
fn closest(name: &str, allowed: &'static [&'static str]) -> Option<&'static str> {
    allowed
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(d, candidate)| {
            *d <= 2.max(candidate.len() / 4)
                || (name.len() >= 3 && (candidate.starts_with(name) || name.starts_with(candidate)))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_segments_are_quoted_when_not_bare() {
        assert_eq!(key_segment("poll_every"), "poll_every");
        assert_eq!(key_segment("3b6f-a"), "3b6f-a");
        assert_eq!(key_segment("a.b"), "\"a.b\"");
        assert_eq!(key_segment(""), "\"\"");
    }

    #[test]
    fn suggests_near_keys_only() {
        const ALLOWED: &[&str] = &["poll_every", "page_size", "overlap"];
        assert_eq!(closest("pol_every", ALLOWED), Some("poll_every"));
        assert_eq!(closest("pagesize", ALLOWED), Some("page_size"));
        assert_eq!(closest("colour", ALLOWED), None);
        assert_eq!(closest("cache", &["path", "cache_mb"]), Some("cache_mb"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}

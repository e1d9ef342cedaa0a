//! Query strings and form bodies as the clients send them: percent-decoded pairs, repeated
//! names allowed, several values as `a,b` or `or(a,b)`. Every malformed input becomes a
//! message for a 400; nothing here panics on what a client sends.

use chrono::DateTime;

use super::clock::{MAX_NS, to_ns};

/// Decoded `name=value` pairs in the order sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `a=1&b=x%20y` (also a form body); `+` is a space.
    pub(crate) fn parse(raw: &str) -> Result<Params, String> {
        let mut pairs = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Params(pairs))
    }

    /// The one value of `name`; an error if it is repeated.
    pub(crate) fn single(&self, name: &str) -> Result<Option<&str>, String> {
        let mut values = self
            .0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(format!("parameter {name:?} is given more than once"));
        }
        Ok(first)
    }

    /// Every value of `name`, each split as `a,b` or `or(a,b)`.
    pub(crate) fn multi(&self, name: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for (_, v) in self.0.iter().filter(|(n, _)| n == name) {
            out.extend(split_values(name, v)?);
        }
        Ok(out)
    }

    /// Every raw value of `name`, unsplit.
    pub(crate) fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

fn decode(s: &str) -> Result<String, String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("{s:?} is not valid UTF-8 once percent-decoded"))
}

/// `a`, `a,b` or `or(a,b)` -> the values; `not(...)` and empty lists are refused.
pub(crate) fn split_values(name: &str, v: &str) -> Result<Vec<String>, String> {
    let v = v.trim();
    let inner = match v.strip_prefix("or(") {
        Some(rest) => rest
            .strip_suffix(')')
            .ok_or_else(|| format!("{name}: unclosed or( in {v:?}"))?,
        None if v.starts_with("not(") => return Err(format!("{name}: not(...) is not supported")),
        None => v,
    };
    let values: Vec<String> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if values.is_empty() {
        return Err(format!("{name}: no value given"));
    }
    if values.len() > 100 {
        return Err(format!("{name}: at most 100 values"));
    }
    Ok(values)
}

/// `true`/`false` (also `1`/`0`, any case).
pub(crate) fn parse_bool(name: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{name}: expected true or false, got {v:?}")),
    }
}

/// An integer parameter.
pub(crate) fn parse_int(name: &str, v: &str) -> Result<i64, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{name}: expected an integer, got {v:?}"))
}

/// An RFC 3339 time (0 to 9 fraction digits, `Z` or an offset) in nanoseconds.
pub(crate) fn parse_time(name: &str, v: &str) -> Result<i64, String> {
    let t = DateTime::parse_from_rfc3339(v.trim())
        .map_err(|e| format!("{name}: {v:?} is not RFC 3339 ({e})"))?;
    let ns = to_ns(t.to_utc());
    if ns <= 0 || ns >= MAX_NS {
        return Err(format!("{name}: {v:?} is out of range"));
    }
    Ok(ns)
}

/// A comparison filter such as `updated_at=gt(2024-05-01T10:00:00Z)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    Gt(i64),
    Ge(i64),
    Lt(i64),
    Le(i64),
}

pub(crate) fn parse_compare(name: &str, v: &str) -> Result<Compare, String> {
    let v = v.trim();
    let (op, rest) = v
        .split_once('(')
        .ok_or_else(|| format!("{name}: expected gt(T), ge(T), lt(T) or le(T), got {v:?}"))?;
    let time = rest
        .strip_suffix(')')
        .ok_or_else(|| format!("{name}: unclosed {op}( in {v:?}"))?;
    let ns = parse_time(name, time)?;
    match op {
        "gt" => Ok(Compare::Gt(ns)),
        "ge" | "gte" => Ok(Compare::Ge(ns)),
        "lt" => Ok(Compare::Lt(ns)),
        "le" | "lte" => Ok(Compare::Le(ns)),
        _ => Err(format!(
            "{name}: unknown comparison {op:?} (use gt, ge, lt, le)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_and_split() {
        let p =
            Params::parse("type=or(resource.machine,%20x)&tenant_id=1,2&tenant_id=3&flag&q=a+b")
                .expect("parses");
        assert_eq!(
            p.multi("type"),
            Ok(vec!["resource.machine".to_string(), "x".to_string()])
        );
        assert_eq!(p.multi("tenant_id").map(|v| v.len()), Ok(3));
        assert!(p.single("tenant_id").is_err());
        assert_eq!(p.single("flag"), Ok(Some("")));
        assert_eq!(p.single("q"), Ok(Some("a b")));
        assert_eq!(p.single("missing"), Ok(None));
        assert!(Params::parse("a=%ff%fe").is_err());
        assert!(
            Params::parse("a=%zz").is_ok(),
            "invalid escapes stay literal"
        );
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(split_values("type", "or(a,b").is_err());
        assert!(split_values("type", "not(a)").is_err());
        assert!(split_values("type", " , ").is_err());
        assert!(parse_bool("x", "maybe").is_err());
        assert!(parse_int("limit", "ten").is_err());
        assert!(parse_compare("updated_at", "gt(2024-01-01T00:00:00Z").is_err());
        assert!(parse_compare("updated_at", "eq(2024-01-01T00:00:00Z)").is_err());
        assert!(parse_compare("updated_at", "2024-01-01T00:00:00Z").is_err());
        assert!(parse_compare("updated_at", "gt(9999-01-01T00:00:00Z)").is_err());
        assert!(parse_compare("updated_at", "gt(0001-01-01T00:00:00Z)").is_err());
        assert_eq!(
            parse_compare("updated_at", "ge(2021-04-14T09:00:00.5+02:00)"),
            Ok(Compare::Ge(1_618_383_600_500_000_000))
        );
    }
}

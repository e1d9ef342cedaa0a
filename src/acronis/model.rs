//! The typed shapes of the Resource Management API (`resource_statuses`).
//!
//! Tolerant by design (acronis-api.md §6): unknown fields are ignored, unknown
//! statuses and types are kept as strings, both policy time-field spellings parse,
//! timestamps take 0–9 fraction digits with `Z`, an offset or no zone (read as UTC).
//! Nothing here performs I/O.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with nanosecond precision, as the API sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Parse RFC 3339 with 0–9 fraction digits; `Z`, an offset, or no zone (UTC).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(Timestamp(t.with_timezone(&Utc)));
        }
        // Account Management omits the zone ("2019-08-24T01:23:15"); a space separator is tolerated too.
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(Timestamp(t.and_utc()));
            }
        }
        None
    }

    /// Nanoseconds since the Unix epoch (saturating outside 1677..2262).
    pub fn as_nanos(&self) -> i64 {
        self.0
            .timestamp_nanos_opt()
            .unwrap_or(if self.0.timestamp() < 0 {
                i64::MIN
            } else {
                i64::MAX
            })
    }

    pub fn from_nanos(n: i64) -> Timestamp {
        Timestamp(DateTime::from_timestamp_nanos(n))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid timestamp {s:?}: expected RFC 3339"))
        })
    }
}

/// A timestamp field that tolerates null, absence, an empty string and garbage
/// (garbage becomes `None` rather than failing the whole page). Reads the string in
/// place: a page holds a few thousand of these.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    struct Lenient;
    impl<'de> serde::de::Visitor<'de> for Lenient {
        type Value = Option<Timestamp>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a timestamp")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Timestamp::parse(s))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(Lenient)
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut a: A,
        ) -> Result<Self::Value, A::Error> {
            while a
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_option(Lenient)
}

/// `aggregate.status`. The API adds values: unknown ones are kept, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AggregateStatus {
    Ok,
    Idle,
    Scheduled,
    Running,
    Cancelling,
    InteractionRequired,
    Warning,
    Error,
    Critical,
    NoPoliciesApplied,
    /// A machine with no protection plan (the vendor's docs show it for one).
    NotProtected,
    Unknown(String),
}

impl AggregateStatus {
    /// Every name the API documents (plus `ok`), in severity order from healthy to worst.
    pub const KNOWN: [&'static str; 11] = [
        "ok",
        "idle",
        "scheduled",
        "running",
        "cancelling",
        "not_protected",
        "no_policies_applied",
        "interaction_required",
        "warning",
        "error",
        "critical",
    ];

    pub fn parse(s: &str) -> AggregateStatus {
        match s {
            "ok" => AggregateStatus::Ok,
            "idle" => AggregateStatus::Idle,
            "scheduled" => AggregateStatus::Scheduled,
            "running" => AggregateStatus::Running,
            "cancelling" => AggregateStatus::Cancelling,
            "interaction_required" => AggregateStatus::InteractionRequired,
            "warning" => AggregateStatus::Warning,
            "error" => AggregateStatus::Error,
            "critical" => AggregateStatus::Critical,
            "no_policies_applied" => AggregateStatus::NoPoliciesApplied,
            "not_protected" => AggregateStatus::NotProtected,
            other => AggregateStatus::Unknown(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            AggregateStatus::Ok => "ok",
            AggregateStatus::Idle => "idle",
            AggregateStatus::Scheduled => "scheduled",
            AggregateStatus::Running => "running",
            AggregateStatus::Cancelling => "cancelling",
            AggregateStatus::InteractionRequired => "interaction_required",
            AggregateStatus::Warning => "warning",
            AggregateStatus::Error => "error",
            AggregateStatus::Critical => "critical",
            AggregateStatus::NoPoliciesApplied => "no_policies_applied",
            AggregateStatus::NotProtected => "not_protected",
            AggregateStatus::Unknown(s) => s,
        }
    }
}

impl fmt::Display for AggregateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AggregateStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AggregateStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(AggregateStatus::parse(&s))
    }
}

/// One page of `GET /api/resource_management/v4/resource_statuses`.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: Vec<ResourceStatus>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub paging: Paging,
    /// Server time at query start: the next watermark.
    #[serde(default, deserialize_with = "lenient_time")]
    pub timestamp: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Paging {
    #[serde(default, deserialize_with = "null_as_default")]
    pub cursors: Cursors,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Cursors {
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
}

impl StatusPage {
    /// The cursor of the next page, if the API says there is one.
    pub fn next_cursor(&self) -> Option<&str> {
        self.paging
            .cursors
            .after
            .as_deref()
            .filter(|c| !c.is_empty())
    }
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One item: a resource with its aggregate status and per-policy run times.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceStatus {
    pub context: Context,
    #[serde(default)]
    pub aggregate: Option<Aggregate>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub policies: Vec<Policy>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Context {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub user_defined_name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    pub tenant_id: Option<String>,
    /// The name of the tenant the resource is in (SPEC §3: base-token mode files each
    /// machine under it).
    #[serde(default)]
    pub tenant_name: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub deleted_at: Option<Timestamp>,
    /// `context.attributes` (only with `include_attributes=true`): what the worker
    /// reads of them. Malformed attributes are skipped, never an error.
    #[serde(default, deserialize_with = "attributes")]
    pub attributes: Attributes,
}

/// What the worker reads of `context.attributes[]` (acronis-api.md §6a). Each entry
/// is `{name, kvs: [{key, value}], details: [{key, value}]}`; values may be strings
/// (`"625"`) or numbers (`625`), booleans or `0`/`1`. Read, in `kvs` then `details`:
/// - `name: "agent"`: `is_online`, `enabled`, `version` (the vendor's resource
///   attributes sample, developer.acronis.com "Fetching detailed information about
///   the resource");
/// - `name: "cyberfit"`: `cyberfit_score_value` (the same sample; Zabbix's template).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub agent_online: Option<bool>,
    pub agent_enabled: Option<bool>,
    pub agent_version: Option<String>,
    pub cyberfit: Option<u32>,
    /// What was wrong with the block, if anything (the first problem): it is read as
    /// far as it goes, and the poller logs one example per tenant and pass.
    pub malformed: Option<&'static str>,
}

impl Attributes {
    pub fn is_empty(&self) -> bool {
        *self == Attributes::default()
    }
}

fn attributes<'de, D: Deserializer<'de>>(d: D) -> Result<Attributes, D::Error> {
    d.deserialize_any(lenient::ListVisitor)
}

impl Attributes {
    /// Read an attributes array already parsed, tolerating any shape (as the page
    /// decoder does, through the same visitor).
    pub fn read(v: &serde_json::Value) -> Attributes {
        attributes(v).unwrap_or_default()
    }

    /// Fold one `{name, kvs, details}` entry in: `kvs` before `details`, the first
    /// readable value of each key kept.
    fn apply(&mut self, entry: lenient::Entry) {
        use serde_json::Value;
        let out = self;
        let Some(name) = entry.name else {
            out.malformed
                .get_or_insert("an attributes entry has no name");
            return;
        };
        if entry.malformed {
            out.malformed
                .get_or_insert("an attributes pair has no key or value");
        }
        for (key, value) in entry.kvs.into_iter().chain(entry.details) {
            let unreadable = |what| match value {
                Value::Null => None,
                _ => Some(what),
            };
            match (name.as_str(), key.as_str()) {
                ("agent", "is_online") => match flag(&value) {
                    Some(b) => out.agent_online = out.agent_online.or(Some(b)),
                    None => {
                        out.malformed = out
                            .malformed
                            .or(unreadable("agent is_online is not 0/1 or a boolean"))
                    }
                },
                ("agent", "enabled") => match flag(&value) {
                    Some(b) => out.agent_enabled = out.agent_enabled.or(Some(b)),
                    None => {
                        out.malformed = out
                            .malformed
                            .or(unreadable("agent enabled is not 0/1 or a boolean"))
                    }
                },
                ("agent", "version") => {
                    out.agent_version = out.agent_version.take().or_else(|| {
                        value
                            .as_str()
                            .filter(|s| !s.trim().is_empty())
                            .map(str::to_string)
                    })
                }
                ("cyberfit", "cyberfit_score_value") => match number(&value) {
                    Some(n) => out.cyberfit = out.cyberfit.or(Some(n)),
                    None => {
                        out.malformed = out
                            .malformed
                            .or(unreadable("cyberfit_score_value is not a number"))
                    }
                },
                _ => {}
            }
        }
    }
}

/// Decoding `context.attributes` as it streams by (issue 18): only the four values
/// the worker reads are kept as values; every other attribute, key and value is
/// skipped unparsed (`IgnoredAny`), where building a `serde_json::Value` of the whole
/// block cost about as much as the rest of the page. Every visitor here accepts any
/// JSON shape, so a malformed block is read as far as it goes and never fails the
/// page.
mod lenient {
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;

    use super::Attributes;

    /// The pair keys whose values are read (under any entry name).
    const WANTED: [&str; 4] = ["is_online", "enabled", "version", "cyberfit_score_value"];

    /// One entry of the array, as far as the worker reads it.
    #[derive(Default)]
    pub struct Entry {
        pub name: Option<String>,
        pub kvs: Vec<(String, Value)>,
        pub details: Vec<(String, Value)>,
        /// A pair without a key or a value was met.
        pub malformed: bool,
    }

    /// Methods for booleans and numbers, where a visitor does not expect them: `$other`
    /// is the result.
    macro_rules! bools_and_numbers {
        ($other:expr) => {
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok($other)
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok($other)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok($other)
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok($other)
            }
        };
    }

    /// Methods for every scalar shape a visitor does not expect (strings and nulls
    /// too): `$other` is the result. Arrays and objects are drained by each visitor.
    macro_rules! any_other_shape {
        ($other:expr) => {
            bools_and_numbers!($other);
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok($other)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok($other)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok($other)
            }
        };
    }

    fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    /// The whole block: an array of entries; `null` is no attributes.
    pub struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Attributes;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("the attributes array")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Attributes, A::Error> {
            let mut out = Attributes::default();
            while let Some(entry) = seq.next_element::<EntryOf>()? {
                match entry.0 {
                    Some(e) => out.apply(e),
                    None => {
                        out.malformed
                            .get_or_insert("an attributes entry has no name");
                    }
                }
            }
            Ok(out)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Attributes, A::Error> {
            drain_map(map)?;
            Ok(not_an_array())
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Attributes, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Attributes, E> {
            Ok(Attributes::default())
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Attributes, E> {
            Ok(Attributes::default())
        }

        bools_and_numbers!(not_an_array());

        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Attributes, E> {
            Ok(not_an_array())
        }
    }

    fn not_an_array() -> Attributes {
        Attributes {
            malformed: Some("context.attributes is not an array"),
            ..Attributes::default()
        }
    }

    /// An entry, or None when it is not an object.
    struct EntryOf(Option<Entry>);

    impl<'de> Deserialize<'de> for EntryOf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(EntryVisitor)
        }
    }

    struct EntryVisitor;

    impl<'de> Visitor<'de> for EntryVisitor {
        type Value = EntryOf;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an attributes entry")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EntryOf, A::Error> {
            let mut e = Entry::default();
            while let Some(key) = map.next_key::<Field>()? {
                match key {
                    Field::Name => e.name = map.next_value::<StrOf>()?.0,
                    Field::Kvs => {
                        let pairs = map.next_value::<PairsOf>()?;
                        e.malformed |= pairs.malformed;
                        e.kvs = pairs.pairs;
                    }
                    Field::Details => {
                        let pairs = map.next_value::<PairsOf>()?;
                        e.malformed |= pairs.malformed;
                        e.details = pairs.pairs;
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(EntryOf(Some(e)))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<EntryOf, A::Error> {
            drain_seq(seq)?;
            Ok(EntryOf(None))
        }

        any_other_shape!(EntryOf(None));
    }

    /// `kvs` or `details`: the wanted pairs; not an array reads as none.
    #[derive(Default)]
    struct PairsOf {
        pairs: Vec<(String, Value)>,
        malformed: bool,
    }

    impl<'de> Deserialize<'de> for PairsOf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(PairsVisitor)
        }
    }

    struct PairsVisitor;

    impl<'de> Visitor<'de> for PairsVisitor {
        type Value = PairsOf;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of {key, value} pairs")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PairsOf, A::Error> {
            let mut out = PairsOf::default();
            while let Some(pair) = seq.next_element::<PairOf>()? {
                match pair {
                    PairOf::Wanted(k, v) => out.pairs.push((k, v)),
                    PairOf::Other => {}
                    PairOf::Broken => out.malformed = true,
                }
            }
            Ok(out)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PairsOf, A::Error> {
            drain_map(map)?;
            Ok(PairsOf::default())
        }

        any_other_shape!(PairsOf::default());
    }

    /// One `{key, value}`: kept when its key is wanted; a pair without a string key
    /// or without a value is broken.
    enum PairOf {
        Wanted(String, Value),
        Other,
        Broken,
    }

    impl<'de> Deserialize<'de> for PairOf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(PairVisitor)
        }
    }

    struct PairVisitor;

    impl<'de> Visitor<'de> for PairVisitor {
        type Value = PairOf;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a {key, value} pair")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PairOf, A::Error> {
            let mut key: Option<PairKey> = None;
            // None: no value yet; Some(None): a value skipped (its key not wanted).
            let mut value: Option<Option<Value>> = None;
            while let Some(k) = map.next_key::<Field>()? {
                match k {
                    Field::Key => key = Some(map.next_value::<PairKey>()?),
                    Field::Value => {
                        // A value before its key is kept until the key is known.
                        let wanted = matches!(key, None | Some(PairKey::Wanted(_)));
                        value = Some(if wanted {
                            Some(map.next_value::<Value>()?)
                        } else {
                            map.next_value::<IgnoredAny>()?;
                            None
                        });
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(match (key, value) {
                (Some(PairKey::Wanted(i)), Some(Some(v))) => PairOf::Wanted(WANTED[i].into(), v),
                (Some(PairKey::Wanted(_) | PairKey::Other), Some(_)) => PairOf::Other,
                _ => PairOf::Broken,
            })
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<PairOf, A::Error> {
            drain_seq(seq)?;
            Ok(PairOf::Broken)
        }

        any_other_shape!(PairOf::Broken);
    }

    /// An object key the visitors act on, told apart without allocating.
    enum Field {
        Name,
        Kvs,
        Details,
        Key,
        Value,
        Other,
    }

    impl<'de> Deserialize<'de> for Field {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct FieldVisitor;
            impl Visitor<'_> for FieldVisitor {
                type Value = Field;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("an object key")
                }
                fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Field, E> {
                    Ok(match s {
                        "name" => Field::Name,
                        "kvs" => Field::Kvs,
                        "details" => Field::Details,
                        "key" => Field::Key,
                        "value" => Field::Value,
                        _ => Field::Other,
                    })
                }
            }
            d.deserialize_identifier(FieldVisitor)
        }
    }

    /// A pair's key: one of [`WANTED`] (its index), another string, or not a string.
    enum PairKey {
        Wanted(usize),
        Other,
        NotAString,
    }

    impl<'de> Deserialize<'de> for PairKey {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(match StrOf::deserialize(d)?.0 {
                None => PairKey::NotAString,
                Some(k) => match WANTED.iter().position(|w| *w == k) {
                    Some(i) => PairKey::Wanted(i),
                    None => PairKey::Other,
                },
            })
        }
    }

    /// A string, or None for any other shape.
    struct StrOf(Option<String>);

    impl<'de> Deserialize<'de> for StrOf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(StrVisitor)
        }
    }

    struct StrVisitor;

    impl<'de> Visitor<'de> for StrVisitor {
        type Value = StrOf;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<StrOf, E> {
            Ok(StrOf(Some(s.to_owned())))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<StrOf, A::Error> {
            drain_seq(seq)?;
            Ok(StrOf(None))
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StrOf, A::Error> {
            drain_map(map)?;
            Ok(StrOf(None))
        }

        bools_and_numbers!(StrOf(None));

        fn visit_unit<E: serde::de::Error>(self) -> Result<StrOf, E> {
            Ok(StrOf(None))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<StrOf, E> {
            Ok(StrOf(None))
        }
    }
}

/// A boolean as the API may write one: `true`, `1`, `"1"`, `"true"`.
fn flag(v: &serde_json::Value) -> Option<bool> {
    use serde_json::Value;
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim() {
            "1" | "true" | "True" => Some(true),
            "0" | "false" | "False" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A non-negative whole number, as a number or a string (`625`, `"625"`, `625.0`).
fn number(v: &serde_json::Value) -> Option<u32> {
    use serde_json::Value;
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (f.is_finite() && f >= 0.0 && f <= f64::from(u32::MAX)).then(|| f.round() as u32)
}

/// Tenant ids come as strings ("1952010" or a UUID); a bare number is tolerated.
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

#[derive(Debug, Clone, Deserialize)]
pub struct Aggregate {
    #[serde(default)]
    pub status: Option<AggregateStatus>,
    /// Plan names joined with `;`.
    #[serde(default)]
    pub names: Option<String>,
}

/// One policy's run times. Both spellings are accepted (`last_run` as in the real API
/// and docs, `last_run_time` as in the spec); the short one wins if both appear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawPolicy")]
pub struct Policy {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_run: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<Timestamp>,
}

#[derive(Deserialize)]
struct RawPolicy {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    last_run: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    last_run_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    last_success_run: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    last_success_run_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    next_run: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient_time")]
    next_run_time: Option<Timestamp>,
}

impl From<RawPolicy> for Policy {
    fn from(r: RawPolicy) -> Policy {
        Policy {
            kind: r.kind.unwrap_or_default(),
            last_run: r.last_run.or(r.last_run_time),
            last_success_run: r.last_success_run.or(r.last_success_run_time),
            next_run: r.next_run.or(r.next_run_time),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn attributes_are_read_in_every_shape_the_api_may_use() {
        // The vendor's sample: agent values as numbers, CyberFit a string in kvs and a
        // number in details.
        let v = serde_json::json!([
            {"name": "agent", "kvs": [
                {"key": "version", "value": "15.0.26355"},
                {"key": "enabled", "value": 1},
                {"key": "is_online", "value": 0}]},
            {"name": "cyberfit",
             "details": [{"key": "cyberfit_score_value", "value": 625}],
             "kvs": [{"key": "cyberfit_score_value", "value": "625"}]},
            {"name": "default", "kvs": [{"key": "name", "value": "DESKTOP-JRPTA4A"}]}
        ]);
        let a = Attributes::read(&v);
        assert_eq!(a.agent_online, Some(false));
        assert_eq!(a.agent_enabled, Some(true));
        assert_eq!(a.agent_version.as_deref(), Some("15.0.26355"));
        assert_eq!(a.cyberfit, Some(625));
        assert_eq!(a.malformed, None);
        // Booleans, strings, a number as a float; only details.
        let v = serde_json::json!([
            {"name": "agent", "kvs": [{"key": "is_online", "value": true},
                                       {"key": "enabled", "value": "0"}]},
            {"name": "cyberfit", "details": [{"key": "cyberfit_score_value", "value": 578.6}]}
        ]);
        let a = Attributes::read(&v);
        assert_eq!(
            (a.agent_online, a.agent_enabled, a.cyberfit),
            (Some(true), Some(false), Some(579))
        );
        // Garbage is skipped, never an error, and said (the poller logs an example).
        for (v, said) in [
            (serde_json::json!("nope"), "not an array"),
            (
                serde_json::json!([1, null, {"name": 3}, {"name": "cyberfit", "kvs": "x"}]),
                "has no name",
            ),
            (
                serde_json::json!([{"name": "cyberfit", "kvs": [{"key": "cyberfit_score_value", "value": "-4"}]}]),
                "not a number",
            ),
            (
                serde_json::json!([{"name": "agent", "kvs": [{"key": "is_online", "value": "maybe"}]}]),
                "is_online",
            ),
        ] {
            let a = Attributes::read(&v);
            let values = (
                a.agent_online,
                a.agent_enabled,
                &a.agent_version,
                a.cyberfit,
            );
            assert_eq!(values, (None, None, &None, None), "{v}");
            assert!(
                a.malformed.is_some_and(|m| m.contains(said)),
                "{v}: {:?}",
                a.malformed
            );
        }
        // Keys in any order (the name after its pairs, a value before its key), other
        // keys beside them, values of pairs not read of any shape: as in the usual order.
        let page = r#"{"context":{"id":"a","attributes":[
            {"kvs":[{"value":"15.1","key":"version"},{"key":"os","value":{"deep":[1,{"x":null}]}},
                    {"value":[1,2],"key":"components"},{"key":"is_online","extra":true,"value":"1"}],
             "details":[], "name":"agent", "other":{"a":[{}]}},
            {"details":[{"key":"cyberfit_score_value","value":610}],
             "kvs":[{"key":"cyberfit_score_value","value":"625"}],"name":"cyberfit"}]}}"#;
        let item: ResourceStatus = serde_json::from_str(page).unwrap();
        let a = &item.context.attributes;
        assert_eq!(a.agent_version.as_deref(), Some("15.1"));
        assert_eq!(a.agent_online, Some(true));
        assert_eq!(
            a.cyberfit,
            Some(625),
            "kvs before details, whatever the order"
        );
        assert_eq!(a.malformed, None);
        // A good value next to a bad one is kept.
        let a = Attributes::read(&serde_json::json!([
            {"name": "agent", "kvs": [{"key": "is_online", "value": 1}, {"key": "enabled"}]}
        ]));
        assert_eq!((a.agent_online, a.malformed.is_some()), (Some(true), true));
        let item: ResourceStatus =
            serde_json::from_str(r#"{"context":{"id":"a","attributes":{"not":"a list"}}}"#)
                .unwrap();
        assert_eq!(item.context.attributes.agent_online, None);
        assert!(item.context.attributes.malformed.is_some());
    }
    use super::*;

    #[test]
    fn timestamps_of_every_precision_and_zone_parse() {
        let ns = Timestamp::parse("2021-03-22T12:29:11.218913513Z").unwrap();
        assert_eq!(ns.as_nanos() % 1_000_000_000, 218_913_513);
        assert!(Timestamp::parse("2021-03-11T15:32:46Z").is_some());
        assert!(Timestamp::parse("2021-03-30T18:00:02.1399766Z").is_some());
        assert_eq!(
            Timestamp::parse("2021-03-30T20:00:00+02:00"),
            Timestamp::parse("2021-03-30T18:00:00Z")
        );
        assert_eq!(
            Timestamp::parse("2019-08-24T01:23:15"),
            Timestamp::parse("2019-08-24T01:23:15Z")
        );
        assert!(Timestamp::parse("yesterday").is_none());
        assert_eq!(Timestamp::from_nanos(ns.as_nanos()), ns);
        assert_eq!(ns.to_string(), "2021-03-22T12:29:11.218913513Z");
    }

    #[test]
    fn the_documented_sample_page_parses_with_both_spellings() {
        let page: StatusPage = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.next_cursor(), Some("b3BhcXVlLWN1cnNvcg"));
        let third = &page.items[2];
        let backup = &third.policies[0];
        assert_eq!(backup.kind, "policy.backup.machine");
        assert_eq!(
            backup.last_success_run,
            Timestamp::parse("2021-04-14T08:00:03Z")
        );
        assert_eq!(backup.next_run, Timestamp::parse("2021-04-15T08:00:00Z"));
        let second = &page.items[1];
        assert_eq!(
            second.policies[3].last_success_run,
            Timestamp::parse("2021-03-22T15:59:27Z")
        );
        assert_eq!(
            second.aggregate.as_ref().unwrap().status,
            Some(AggregateStatus::Critical)
        );
    }

    #[test]
    fn unknown_statuses_fields_and_nulls_are_tolerated() {
        let page: StatusPage = serde_json::from_str(
            r#"{"items":[{"context":{"id":"a","tenant_id":17,"new_field":{"x":1},"updated_at":null},
                "aggregate":{"status":"degraded","running":{"state":"idle"}},"policies":null,"licensing":null,
                "cti":"x"}],"paging":null,"timestamp":"2021-04-14T09:00:01.123456789Z","extra":true}"#,
        )
        .unwrap();
        let item = &page.items[0];
        assert_eq!(item.context.tenant_id.as_deref(), Some("17"));
        assert_eq!(
            item.aggregate.as_ref().unwrap().status,
            Some(AggregateStatus::Unknown("degraded".into()))
        );
        assert!(item.policies.is_empty());
        assert_eq!(item.context.updated_at, None);
        let odd: Policy = serde_json::from_str(
            r#"{"type":"p","last_run":17,"next_run":{"x":[1]},"last_success_run":"garbage","last_run_time":"2021-03-11T15:32:46Z"}"#,
        )
        .unwrap();
        assert_eq!(
            odd.last_run,
            Timestamp::parse("2021-03-11T15:32:46Z"),
            "falls back to the long spelling"
        );
        assert_eq!((odd.next_run, odd.last_success_run), (None, None));
        assert_eq!(page.next_cursor(), None);
        let empty_cursor: StatusPage = serde_json::from_str(
            r#"{"items":[],"paging":{"cursors":{"after":""}},"timestamp":null}"#,
        )
        .unwrap();
        assert_eq!(empty_cursor.next_cursor(), None);
    }

    const SAMPLE: &str = r#"{"items":[
 {"context":{"id":"aab42c95-14dc-48ab-87b4-96120111b957","created_at":"2021-03-11T15:27:04.940016497Z",
   "updated_at":"2021-03-22T12:29:11.218913513Z","tenant_id":"1952010",
   "external_id":"aab42c95-14dc-48ab-87b4-96120111b957@1952010","type":"resource.machine",
   "agent_id":"0fe9fa94-b647-45a3-ac6f-44b617cc943a","name":"stas-Virtual-Machine","user_defined_name":"stas-Virtual-Machine"},
  "aggregate":{"status":"no_policies_applied"},
  "policies":[{"type":"policy.backup.machine","last_run":"2021-03-11T15:32:46Z"}]},
 {"context":{"id":"0817bef5-05ae-4f1f-9b31-1c092f11c12b","created_at":"2021-03-22T12:22:54.118958999Z",
   "updated_at":"2021-04-13T15:05:21.053884353Z","tenant_id":"1952010",
   "external_id":"0817bef5-05ae-4f1f-9b31-1c092f11c12b@1952010","type":"resource.machine",
   "agent_id":"b757f01e-0b14-4788-b9a0-2671469517d7","name":"test-vm-5","user_defined_name":"test-vm-5"},
  "aggregate":{"status":"critical","names":"New licensing protection plan;Protection Automation Training Test Plan"},
  "policies":[
   {"type":"policy.security.antimalware_protection","next_run":"2021-03-31T14:00:00Z",
    "last_run":"2021-03-30T18:00:02.1399766Z","last_success_run":"2021-03-25T14:00:11.4683707Z"},
   {"type":"policy.security.patch_management","next_run":"2021-04-05T16:03:49Z"},
   {"type":"policy.security.vulnerability_assessment","next_run":"2021-03-31T11:35:38Z",
    "last_run":"2021-03-25T11:01:11.8704957Z","last_success_run":"2021-03-25T11:01:11.8704957Z"},
   {"type":"policy.backup.machine","next_run":"2021-03-31T15:58:12Z","last_run":"2021-03-26T16:00:56Z",
    "last_success_run":"2021-03-22T15:59:27Z"}]},
 {"context":{"id":"5c350066-2ba6-4eeb-aa91-1213dd35f033","created_at":"2021-02-03T14:57:07.311022688Z",
   "updated_at":"2021-04-14T09:00:00.5Z","tenant_id":"17","external_id":"5c350066-2ba6-4eeb-aa91-1213dd35f033@17",
   "type":"resource.machine","name":"DESKTOP-JRPTA4A","parent_group_ids":[]},
  "aggregate":{"status":"idle","names":"New protection plan","running":{"state":"idle"}},
  "policies":[{"type":"policy.backup.machine","last_run_time":"2021-04-14T08:00:03Z",
   "last_success_run_time":"2021-04-14T08:00:03Z","next_run_time":"2021-04-15T08:00:00Z"}]}],
 "paging":{"cursors":{"after":"b3BhcXVlLWN1cnNvcg"}},"timestamp":"2021-04-14T09:00:01.123456789Z"}"#;
}

/// One page of `GET /api/alert_manager/v1/alerts` (acronis-api.md §8). Items are kept
/// as JSON until [`PlatformAlert::from_json`] reads each one: one malformed alert is
/// passed over, never a failed page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlertPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub paging: Paging,
}

/// An Alert Manager alert, as the worker reads it. Read tolerantly: camelCase or
/// snake_case names, times as RFC 3339 or Unix numbers (s, ms, µs or ns, by size), the
/// tenant as `tenantID`, `tenant_id` or `tenant.{id,uuid}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformAlert {
    pub id: String,
    /// `type`, e.g. `BackupFailed`.
    pub kind: String,
    pub category: String,
    /// `ok | information | warning | error | critical` (as the platform sends it).
    pub severity: String,
    pub tenant: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Dismissed (`deletedAt` set, or `dismissed: true`): listed only with
    /// `show_deleted=true`.
    pub dismissed: bool,
    pub title: String,
    pub description: Option<String>,
    /// `details.resourceName` / `details.resourceId`: the machine it is about, if any.
    pub resource_name: Option<String>,
    pub resource_id: Option<String>,
}

impl PlatformAlert {
    /// Read one alert item; Err says what is missing (an item without an `id`).
    pub fn from_json(v: &serde_json::Value) -> Result<PlatformAlert, String> {
        use serde_json::Value;
        let obj = v.as_object().ok_or("an alert item is not an object")?;
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| obj.get(*n))
                .filter(|v| !v.is_null())
        };
        let text = |v: &Value| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let id = get(&["id", "uuid"])
            .and_then(text)
            .ok_or("an alert item has no id")?;
        let details = get(&["details"]).and_then(Value::as_object);
        let detail = |names: &[&str]| {
            details.and_then(|d| names.iter().find_map(|n| d.get(*n).and_then(text)))
        };
        let tenant = get(&["tenantID", "tenantId", "tenant_id"])
            .and_then(text)
            .or_else(|| {
                get(&["tenant"]).and_then(|t| match t {
                    Value::Object(o) => {
                        ["uuid", "id"].iter().find_map(|n| o.get(*n).and_then(text))
                    }
                    other => text(other),
                })
            });
        let kind = get(&["type"]).and_then(text).unwrap_or_default();
        let dismissed = get(&["deletedAt", "deleted_at", "dismissedAt", "dismissed_at"])
            .is_some_and(|v| !matches!(v, Value::Bool(false)) && text(v).is_some_and(|s| s != "0"))
            || get(&["dismissed", "deleted"]).and_then(Value::as_bool) == Some(true);
        let title = detail(&["title", "subject"]).unwrap_or_else(|| humanize(&kind));
        Ok(PlatformAlert {
            id,
            category: get(&["category"]).and_then(text).unwrap_or_default(),
            severity: get(&["severity"])
                .and_then(text)
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_else(|| "warning".to_string()),
            tenant,
            created_at: get(&["createdAt", "created_at", "receivedAt"]).and_then(any_time),
            updated_at: get(&["updatedAt", "updated_at"]).and_then(any_time),
            dismissed,
            title,
            description: detail(&["description", "message", "errorMessage", "reason"]),
            resource_name: detail(&["resourceName", "resource_name", "machineName"]),
            resource_id: detail(&["resourceId", "resource_id"]),
            kind,
        })
    }
}

/// `BackupFailed` -> `Backup failed`; `backup_failed` the same.
fn humanize(kind: &str) -> String {
    let mut out = String::with_capacity(kind.len() + 4);
    for (i, c) in kind.chars().enumerate() {
        if c == '_' {
            out.push(' ');
        } else if c.is_uppercase() && i > 0 && !out.ends_with(' ') {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        "Platform alert".to_string()
    } else {
        out
    }
}

/// A time as RFC 3339, or a Unix number whose size says its unit (s, ms, µs, ns).
fn any_time(v: &serde_json::Value) -> Option<DateTime<Utc>> {
    let n = match v {
        serde_json::Value::String(s) => match Timestamp::parse(s) {
            Some(t) => return Some(t.0),
            None => s.trim().parse::<i64>().ok()?,
        },
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?,
        _ => return None,
    };
    let ns = match n.unsigned_abs() {
        a if a >= 100_000_000_000_000_000 => n,
        a if a >= 100_000_000_000_000 => n.checked_mul(1_000)?,
        a if a >= 100_000_000_000 => n.checked_mul(1_000_000)?,
        _ => n.checked_mul(1_000_000_000)?,
    };
    Some(DateTime::from_timestamp_nanos(ns))
}

#[cfg(test)]
mod platform_tests {
    use super::*;

    #[test]
    fn platform_alerts_read_both_spellings_and_any_time_unit() {
        let a = PlatformAlert::from_json(&serde_json::json!({
            "id": "a1", "type": "BackupFailed", "category": "backup", "severity": "Error",
            "tenant": {"id": 42, "uuid": "u-1"}, "createdAt": "2026-11-02T10:00:00Z",
            "updatedAt": 1_793_613_600_000_000_000_i64, "deletedAt": null,
            "details": {"resourceName": "srv-1", "errorMessage": "disk full"}
        }))
        .unwrap();
        assert_eq!(a.title, "Backup failed");
        assert_eq!(a.severity, "error");
        assert_eq!(a.tenant.as_deref(), Some("u-1"));
        assert_eq!(a.description.as_deref(), Some("disk full"));
        assert_eq!(a.resource_name.as_deref(), Some("srv-1"));
        assert!(!a.dismissed);
        assert_eq!(a.updated_at, DateTime::from_timestamp(1_793_613_600, 0));
        let b = PlatformAlert::from_json(&serde_json::json!({
            "id": "b", "tenantID": "t", "updated_at": 1_793_613_600, "deleted_at": "2026-11-02T11:00:00Z"
        }))
        .unwrap();
        assert!(b.dismissed);
        assert_eq!(b.updated_at, DateTime::from_timestamp(1_793_613_600, 0));
        assert_eq!(b.tenant.as_deref(), Some("t"));
        assert!(PlatformAlert::from_json(&serde_json::json!({"type": "x"})).is_err());
        assert!(PlatformAlert::from_json(&serde_json::json!([1])).is_err());
    }
}

//! How the simulator writes what it keeps: RM items exactly in the API's shape, and the
//! time formats the real services use (RM 9-digit nanoseconds with `Z`, policy times with
//! 0 or 7 fraction digits, Account Management without a zone, HTTP dates).

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::clock::{NS_PER_SEC, from_ns};
use super::model::{Aggregate, MACHINE, Policy, Resource};
use super::settings::TimeFields;

/// RM timestamps: `2021-03-22T12:29:11.218913513Z`.
pub(crate) fn rfc3339_ns(ns: i64) -> String {
    from_ns(ns).format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// Policy times: whole seconds as `...:46Z`, anything finer with 7 digits (`...:02.1399766Z`).
pub(crate) fn policy_time(ns: i64) -> String {
    let mut s = from_ns(ns).format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = ns.rem_euclid(NS_PER_SEC);
    if frac != 0 {
        s.push_str(&format!(".{:07}", frac / 100));
    }
    s.push('Z');
    s
}

/// Account Management timestamps: `2024-04-30T12:00:00` (no zone, UTC).
pub(crate) fn naive_secs(ns: i64) -> String {
    from_ns(ns).format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The `Date` header: `Tue, 15 Nov 1994 08:12:31 GMT`.
pub(crate) fn http_date(ns: i64) -> String {
    from_ns(ns).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// One `resource_statuses` item.
pub(crate) struct Item<'a> {
    pub r: &'a Resource,
    /// `context.tenant_id`: numeric, or the UUID for some customers.
    pub tenant_id: &'a str,
    /// The owner's numeric id, for `external_id`.
    pub numeric_tenant: &'a str,
    pub time_fields: TimeFields,
    /// Show `context.deleted_at` (only with `include_deleted`).
    pub show_deleted: bool,
}

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("context", &Context(self))?;
        if let Some(a) = &self.r.aggregate {
            m.serialize_entry("aggregate", &AggregateJson(a))?;
        }
        if !self.r.policies.is_empty() {
            let long = match self.time_fields {
                TimeFields::Short => false,
                TimeFields::Long => true,
                TimeFields::Mixed => self.r.long_names,
            };
            let policies: Vec<PolicyJson> = self
                .r
                .policies
                .iter()
                .map(|p| PolicyJson { p, long })
                .collect();
            m.serialize_entry("policies", &policies)?;
        }
        m.end()
    }
}

struct Context<'a>(&'a Item<'a>);

impl Serialize for Context<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let item = self.0;
        let r = item.r;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &r.id_str)?;
        m.serialize_entry("name", &r.name)?;
        m.serialize_entry("type", MACHINE)?;
        m.serialize_entry("tenant_id", item.tenant_id)?;
        m.serialize_entry("agent_id", &r.agent_id)?;
        m.serialize_entry(
            "external_id",
            &format!("{}@{}", r.id_str, item.numeric_tenant),
        )?;
        if let Some(u) = &r.user_defined_name {
            m.serialize_entry("user_defined_name", u)?;
        }
        m.serialize_entry("created_at", &rfc3339_ns(r.created_ns))?;
        m.serialize_entry("updated_at", &rfc3339_ns(r.updated_ns))?;
        if item.show_deleted {
            if let Some(d) = r.deleted_ns {
                m.serialize_entry("deleted_at", &rfc3339_ns(d))?;
            }
        }
        if r.group_ids {
            m.serialize_entry("parent_group_ids", &[] as &[&str])?;
        }
        m.end()
    }
}

struct AggregateJson<'a>(&'a Aggregate);

impl Serialize for AggregateJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("status", &a.status)?;
        if let Some(n) = &a.names {
            m.serialize_entry("names", n)?;
        }
        if a.running {
            let state = if a.status == "running" {
                "running"
            } else {
                "idle"
            };
            m.serialize_entry("running", &serde_json::json!({ "state": state }))?;
        }
        m.end()
    }
}

struct PolicyJson<'a> {
    p: &'a Policy,
    long: bool,
}

impl Serialize for PolicyJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.p;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", &p.kind)?;
        let fields = [
            (("next_run", "next_run_time"), p.next_run),
            (("last_run", "last_run_time"), p.last_run),
            (
                ("last_success_run", "last_success_run_time"),
                p.last_success_run,
            ),
        ];
        for ((short, long), value) in fields {
            if let Some(ns) = value {
                m.serialize_entry(if self.long { long } else { short }, &policy_time(ns))?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        let ns = 1_615_476_424_940_016_497;
        assert_eq!(rfc3339_ns(ns), "2021-03-11T15:27:04.940016497Z");
        assert_eq!(policy_time(ns), "2021-03-11T15:27:04.9400164Z");
        assert_eq!(
            policy_time(1_615_476_424 * NS_PER_SEC),
            "2021-03-11T15:27:04Z"
        );
        assert_eq!(
            policy_time(1_615_476_424 * NS_PER_SEC + 100),
            "2021-03-11T15:27:04.0000001Z"
        );
        assert_eq!(naive_secs(ns), "2021-03-11T15:27:04");
        assert_eq!(http_date(ns), "Thu, 11 Mar 2021 15:27:04 GMT");
        assert_eq!(
            rfc3339_ns(1_615_476_424 * NS_PER_SEC),
            "2021-03-11T15:27:04.000000000Z"
        );
    }
}

//! How the simulator writes what it keeps: RM items exactly in the API's shape, and the
//! time formats the real services use (RM 9-digit nanoseconds with `Z`, policy times with
//! 0 or 7 fraction digits, Account Management without a zone, HTTP dates).

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::clock::{NS_PER_SEC, from_ns};
use super::model::{Aggregate, Policy, Resource};
use super::settings::TimeFields;

/// RM timestamps: `2021-03-22T12:29:11.218913513Z`.
pub(crate) fn rfc3339_ns(ns: i64) -> String {
    let mut s = seconds(ns);
    push_fraction(&mut s, ns, 9);
    s.push('Z');
    s
}

/// Policy times: whole seconds as `...:46Z`, anything finer with 7 digits (`...:02.1399766Z`).
pub(crate) fn policy_time(ns: i64) -> String {
    let mut s = seconds(ns);
    if ns.rem_euclid(NS_PER_SEC) != 0 {
        push_fraction(&mut s, ns, 7);
    }
    s.push('Z');
    s
}

/// Account Management timestamps: `2024-04-30T12:00:00` (no zone, UTC).
pub(crate) fn naive_secs(ns: i64) -> String {
    seconds(ns)
}

/// `YYYY-MM-DDTHH:MM:SS` by integer arithmetic: pages format several times per item, and
/// a strftime pattern costs more than the rest of the item.
fn seconds(ns: i64) -> String {
    let secs = ns.div_euclid(NS_PER_SEC);
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut s = String::with_capacity(32);
    push_digits(&mut s, year, 4);
    s.push('-');
    push_digits(&mut s, month, 2);
    s.push('-');
    push_digits(&mut s, day, 2);
    s.push('T');
    push_digits(&mut s, of_day / 3600, 2);
    s.push(':');
    push_digits(&mut s, of_day / 60 % 60, 2);
    s.push(':');
    push_digits(&mut s, of_day % 60, 2);
    s
}

/// `.` and the first `digits` digits of the second's fraction.
fn push_fraction(s: &mut String, ns: i64, digits: u32) {
    s.push('.');
    push_digits(
        s,
        ns.rem_euclid(NS_PER_SEC) / 10_i64.pow(9 - digits),
        digits,
    );
}

fn push_digits(s: &mut String, value: i64, width: u32) {
    for i in (0..width).rev() {
        let digit = (value / 10_i64.pow(i)).rem_euclid(10);
        s.push(char::from(b'0' + digit as u8));
    }
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
    /// `context.tenant_name`: the owning customer's or unit's name.
    pub tenant_name: &'a str,
    /// The owner's numeric id, for `external_id`.
    pub numeric_tenant: &'a str,
    pub time_fields: TimeFields,
    /// Show `context.deleted_at` (only with `include_deleted`).
    pub show_deleted: bool,
    /// Show `context.attributes` (only with `include_attributes`).
    pub show_attributes: bool,
    /// The simulated now (a flaky agent's state).
    pub now: i64,
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
        m.serialize_entry("type", r.kind)?;
        m.serialize_entry("tenant_id", item.tenant_id)?;
        m.serialize_entry("tenant_name", item.tenant_name)?;
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
        if item.show_deleted
            && let Some(d) = r.deleted_ns
        {
            m.serialize_entry("deleted_at", &rfc3339_ns(d))?;
        }
        if item.show_attributes {
            m.serialize_entry("attributes", &attributes(r, self.0.now))?;
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
            m.serialize_entry("running", &Running { state })?;
        }
        m.end()
    }
}

#[derive(serde::Serialize)]
struct Running {
    state: &'static str,
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

/// `context.attributes` as the vendor's resource-attributes sample shows them: the
/// agent's `version`, `enabled` and `is_online` (numbers 0/1) under `agent`, the
/// CyberFit score under `cyberfit` as a string in `kvs` and a number in `details`.
/// Agentless VMs have neither.
fn attributes(r: &Resource, now: i64) -> serde_json::Value {
    use serde_json::json;
    if r.kind != super::model::MACHINE {
        return json!([]);
    }
    // Besides what the worker reads, about what the vendor's sample carries, so that
    // what `include_attributes` costs is measured on realistic bytes.
    let windows = !r.name.starts_with("mac") && !r.name.starts_with("MacBook");
    let (family, os) = if windows {
        ("Windows", "Microsoft Windows Server 2019 Standard")
    } else {
        ("macOS", "macOS 14.4")
    };
    let mut list = vec![json!({
        "name": "agent",
        "kvs": [
            {"key": "components", "value": ["x64WindowsAgent"]},
            {"key": "os_family", "value": family},
            {"key": "os_name", "value": os},
            {"key": "os_arch", "value": "x64"},
            {"key": "memory_size", "value": 17_178_800_128u64},
            {"key": "processor_frequency", "value": 3504},
            {"key": "chassis", "value": "other"},
            {"key": "residental_addresses", "value": ["10.34.16.186"]},
            {"key": "tz_offset", "value": 120},
            {"key": "version", "value": r.agent_version},
            {"key": "enabled", "value": u8::from(r.agent_enabled)},
            {"key": "is_online", "value": u8::from(r.agent_online_at(now))},
        ],
    })];
    if let Some(score) = r.cyberfit {
        list.push(json!({
            "name": "cyberfit",
            "kvs": [{"key": "cyberfit_score_value", "value": score.to_string()}],
            "details": [
                {"key": "cyberfit_score_value", "value": score},
                {"key": "cyberfit_score_metrics", "value": {
                    "antimalware": {"current": 275, "max": 275},
                    "backup": {"current": 175, "max": 175},
                    "firewall": {"current": 175, "max": 175},
                    "vpn": {"current": 0, "max": 75}}},
            ],
        }));
    }
    list.push(json!({
        "name": "default",
        "kvs": [
            {"key": "ip", "value": "10.34.16.186"},
            {"key": "name", "value": r.name},
            {"key": "operating_system", "value": os},
        ],
    }));
    serde_json::Value::Array(list)
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

    #[test]
    fn fast_formatting_matches_chrono() {
        use crate::simulator::clock::MAX_NS;
        let mut ns: i64 = 0;
        while ns < MAX_NS {
            let t = from_ns(ns);
            assert_eq!(
                rfc3339_ns(ns),
                t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
            );
            assert_eq!(naive_secs(ns), t.format("%Y-%m-%dT%H:%M:%S").to_string());
            ns += 7_919_000_000_123_457; // about 92 days and an odd fraction
        }
        for edge in [
            0,
            951_782_400 * NS_PER_SEC - 1,
            951_868_799 * NS_PER_SEC,
            MAX_NS,
        ] {
            let t = from_ns(edge);
            assert_eq!(
                rfc3339_ns(edge),
                t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
            );
        }
    }
}

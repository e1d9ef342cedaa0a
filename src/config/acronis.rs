//! `[acronis]` -> [`AcronisConfig`]: where and how to poll, which tenants, how to retry.

use std::time::Duration;

use secrecy::SecretString;
use toml::de::DeValue;

use super::error::ConfigError;
use super::reader::{Item, Table, a_type};
use super::resource_type;
use super::shard::parse_shard;
use super::types::*;
use super::value::{self, Shown};

const ACRONIS_KEYS: [&str; 17] = [
    "datacenter_url",
    "client_id",
    "client_secret",
    "tenants",
    "resource_types",
    "incremental",
    "page_size",
    "first_page_size",
    "poll_every",
    "full_resync_every",
    "overlap",
    "request_timeout",
    "max_concurrent_tenants",
    "shard",
    "max_retries",
    "retry_backoff",
    "max_retry_after",
];
pub(super) fn acronis(t: &Table<'_>) -> Result<AcronisConfig, ConfigError> {
    t.allow(&ACRONIS_KEYS)?;
    let url = t.require(
        "datacenter_url",
        "the datacenter's base URL, like datacenter_url = \"https://eu2-cloud.acronis.com\"",
    )?;
    let url = url.string()?;
    let datacenter_url = value::http_url(&url, Shown::Yes)?;
    if datacenter_url.query().is_some()
        || datacenter_url.fragment().is_some()
        || !datacenter_url.username().is_empty()
        || datacenter_url.password().is_some()
    {
        return Err(ConfigError::InvalidUrl {
            at: url.at,
            key: url.key,
            shown: String::new(),
            problem: "expected a base URL without user, password, query or fragment (API paths are appended to it), \
                      like \"https://eu2-cloud.acronis.com\""
                .to_string(),
        });
    }
    let client_id = t
        .require(
            "client_id",
            "the API client's id, like client_id = \"${ACRONIS_CLIENT_ID}\"",
        )?
        .string()?
        .non_empty("the API client's id")?
        .value;
    let secret = t
        .require(
            "client_secret",
            "the API client's secret, like client_secret = \"${ACRONIS_CLIENT_SECRET}\"",
        )?
        .string()?;
    if secret.value.trim().is_empty() {
        return Err(ConfigError::InvalidValue {
            at: secret.at,
            key: secret.key,
            problem: "it is empty: expected the API client's secret".to_string(),
        });
    }
    let client_secret = SecretString::from(secret.value);
    let tenants = match t.get("tenants") {
        Some(item) => tenant_selection(&item)?,
        None => TenantSelection::Own,
    };
    let resource_types = match t.get("resource_types") {
        Some(item) => {
            let types = item.strings("an array of resource types, like [\"resource.machine\"]")?;
            if types.is_empty() {
                return Err(ConfigError::InvalidValue {
                    at: item.at(),
                    key: item.key.clone(),
                    problem: "the list is empty: expected at least one resource type, like [\"resource.machine\"]".to_string(),
                });
            }
            types
                .into_iter()
                .map(|s| {
                    Ok(s.non_empty("a resource type like \"resource.machine\"")?
                        .resource_type()?
                        .value)
                })
                .collect::<Result<_, ConfigError>>()?
        }
        None => resource_type::DEFAULT
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let page_size = t
        .opt_int(
            "page_size",
            1..=10_000,
            "1 to 10000 (items per page, sent as limit=)",
        )?
        .unwrap_or(500);
    let poll_every = value::opt_duration(t, "poll_every", Duration::from_secs(300))?;
    nonzero(
        t,
        "poll_every",
        poll_every,
        "how often to poll, like \"5m\"",
    )?;
    let request_timeout = value::opt_duration(t, "request_timeout", Duration::from_secs(30))?;
    nonzero(
        t,
        "request_timeout",
        request_timeout,
        "a timeout above zero, like \"30s\"",
    )?;
    let max_concurrent_tenants = t
        .opt_int(
            "max_concurrent_tenants",
            1..=10_000,
            "1 to 10000 (tenants polled at once)",
        )?
        .unwrap_or(4);
    let shard = match t
        .get("shard")
        .map(|item| item.string_of("a string like \"0/1\""))
        .transpose()?
    {
        Some(s) => parse_shard(&s.value).map_err(|expected| ConfigError::InvalidShard {
            at: s.at.clone(),
            key: s.key.clone(),
            shown: s.shown(),
            expected,
        })?,
        None => Shard::ALL,
    };
    let incremental = match t.opt_string("incremental")? {
        None => Incremental::Auto,
        Some(s) => Incremental::parse(&s.value).ok_or_else(|| ConfigError::InvalidValue {
            at: s.at.clone(),
            key: s.key.clone(),
            problem: format!(
                "{} is not a known value: expected \"auto\", \"always\" or \"never\"",
                s.shown()
            ),
        })?,
    };
    let first_page_size = t
        .opt_int(
            "first_page_size",
            1..=10_000,
            "1 to 10000 (items on the first page of an incremental poll)",
        )?
        .unwrap_or(50);
    let max_retries = t
        .opt_int("max_retries", 0..=100, "0 to 100 (retries per request)")?
        .unwrap_or(3);
    Ok(AcronisConfig {
        datacenter_url,
        client_id,
        client_secret,
        tenants,
        resource_types,
        incremental,
        page_size: page_size as u32,
        first_page_size: first_page_size as u32,
        poll_every,
        full_resync_every: value::opt_duration(
            t,
            "full_resync_every",
            Duration::from_secs(6 * 3600),
        )?,
        overlap: value::opt_duration(t, "overlap", Duration::from_secs(120))?,
        request_timeout,
        max_concurrent_tenants: max_concurrent_tenants as usize,
        shard,
        max_retries: max_retries as u32,
        retry_backoff: value::opt_duration(t, "retry_backoff", Duration::from_secs(1))?,
        max_retry_after: value::opt_duration(t, "max_retry_after", Duration::from_secs(60))?,
    })
}

/// Reject a zero duration for a key where zero makes no sense.
fn nonzero(t: &Table<'_>, name: &str, d: Duration, expected: &str) -> Result<(), ConfigError> {
    match t.get(name) {
        Some(item) if d.is_zero() => Err(ConfigError::OutOfRange {
            at: item.at(),
            key: item.key.clone(),
            value: "0s".to_string(),
            expected: expected.to_string(),
        }),
        _ => Ok(()),
    }
}

/// `tenants`: omitted, `"children"`, or an array of ids.
fn tenant_selection(item: &Item<'_>) -> Result<TenantSelection, ConfigError> {
    let invalid =
        |at, key: String, problem: String| ConfigError::InvalidTenants { at, key, problem };
    match item.value {
        DeValue::String(_) => {
            let s = item.string()?;
            if s.value == "children" {
                Ok(TenantSelection::Children)
            } else {
                Err(invalid(
                    s.at.clone(),
                    s.key.clone(),
                    format!("{} is not a known value", s.shown()),
                ))
            }
        }
        DeValue::Array(array) => {
            if let Some(bad) = array.iter().position(|v| !v.get_ref().is_str()) {
                let element = &array[bad];
                return Err(invalid(
                    item.ctx.at(element.span().start),
                    format!("{}[{bad}]", item.key),
                    "every element must be a tenant id string".to_string(),
                ));
            }
            let ids = item.strings("an array of tenant ids")?;
            if ids.is_empty() {
                return Err(invalid(
                    item.at(),
                    item.key.clone(),
                    "the list is empty, so nothing would be watched".to_string(),
                ));
            }
            let mut out: Vec<String> = Vec::with_capacity(ids.len());
            for id in ids {
                let id = id.non_empty("a tenant id")?;
                if out.contains(&id.value) {
                    return Err(ConfigError::InvalidValue {
                        at: id.at.clone(),
                        key: id.key.clone(),
                        problem: format!(
                            "tenant id {} is listed twice: expected each id once",
                            id.shown()
                        ),
                    });
                }
                out.push(id.value);
            }
            Ok(TenantSelection::List(out))
        }
        _ => Err(invalid(
            item.at(),
            item.key.clone(),
            format!("found {}", a_type(item.value)),
        )),
    }
}

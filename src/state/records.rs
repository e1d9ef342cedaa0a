//! The byte encodings of the state trees' records.
//!
//! Resource values are 8 leading bytes, a compact postcard encoding of [`ResourceV1`],
//! then (when the leading bytes are [`WITH_ATTRIBUTES`]) an [`AttributesV1`], then the
//! watch. The leading bytes are zero for a record without attributes (older records
//! carry the epoch of the full pass that wrote them, which nothing reads), so records
//! written before attributes existed read as they were. Compactness
//! matters: sled copies a leaf node per insert, so a cold poll's cost grows with the
//! value size (100k resources: ~750-byte JSON values cost 2.5x the time of ~250-byte
//! ones in a sled micro-benchmark). Small bookkeeping records stay JSON.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::StateError;
use crate::acronis::model::{AggregateStatus, Policy, Timestamp};
use crate::model::{Agent, LiveAlert, StoredResource, Watch};

/// The key prefix of a tenant: its 8-byte number from the `tenant_keys` tree.
pub(super) fn tenant_prefix(tenant_key: u64) -> [u8; 8] {
    tenant_key.to_be_bytes()
}

/// `tenant number (8 bytes) | resource id`. A canonical lowercase UUID id is stored
/// as `0x01` + its 16 bytes, anything else as `0x00` + its text: short keys keep
/// sled's nodes small (keys were 73 bytes as text).
pub(super) fn resource_key(tenant_key: u64, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(25);
    k.extend_from_slice(&tenant_prefix(tenant_key));
    match canonical_uuid(id) {
        Some(u) => {
            k.push(1);
            k.extend_from_slice(u.as_bytes());
        }
        None => {
            k.push(0);
            k.extend_from_slice(id.as_bytes());
        }
    }
    k
}

/// The tenant number and resource id of a resource key.
pub(super) fn split_key(key: &[u8]) -> (u64, String) {
    let tenant = key
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    let id = match key.get(8..) {
        Some([1, rest @ ..]) => match uuid::Uuid::from_slice(rest) {
            Ok(u) => u.hyphenated().to_string(),
            Err(_) => String::from_utf8_lossy(rest).into_owned(),
        },
        Some([_, rest @ ..]) => String::from_utf8_lossy(rest).into_owned(),
        _ => String::new(),
    };
    (tenant, id)
}

/// `s` as a UUID if it is one in canonical (lowercase, hyphenated) form, so that
/// formatting the bytes gives `s` back exactly.
fn canonical_uuid(s: &str) -> Option<uuid::Uuid> {
    let u = uuid::Uuid::try_parse(s).ok()?;
    let mut buf = uuid::Uuid::encode_buffer();
    (u.hyphenated().encode_lower(&mut buf) == s).then_some(u)
}

/// An id in a value: a canonical UUID as 16 bytes, anything else as text.
#[derive(Serialize, Deserialize)]
enum IdV1<'a> {
    Uuid([u8; 16]),
    Text(#[serde(borrow)] Cow<'a, str>),
}

impl<'a> IdV1<'a> {
    fn new(s: &'a str) -> IdV1<'a> {
        match canonical_uuid(s) {
            Some(u) => IdV1::Uuid(*u.as_bytes()),
            None => IdV1::Text(Cow::Borrowed(s)),
        }
    }

    fn into_string(self) -> String {
        match self {
            IdV1::Uuid(b) => uuid::Uuid::from_bytes(b).hyphenated().to_string(),
            IdV1::Text(t) => t.into_owned(),
        }
    }
}

/// The stored layout of a resource (schema 1). Field order is the format: append only.
/// Tenant and id live in the key; `external_id` is dropped when it is the usual
/// `id@api_tenant_id` and is `""` when the API gave none; times are Unix nanoseconds.
#[derive(Serialize, Deserialize)]
struct ResourceV1<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    kind: Word<'a>,
    #[serde(borrow)]
    api_tenant_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    agent_id: Option<IdV1<'a>>,
    #[serde(borrow)]
    external_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Word<'a>,
    #[serde(borrow)]
    plans: Option<Cow<'a, str>>,
    created_at: Option<i64>,
    updated_at: Option<i64>,
    #[serde(borrow)]
    policies: Vec<PolicyV1<'a>>,
}

#[derive(Serialize, Deserialize)]
struct PolicyV1<'a> {
    #[serde(borrow)]
    kind: Word<'a>,
    last_run: Option<i64>,
    last_success_run: Option<i64>,
    next_run: Option<i64>,
}

/// Strings that repeat in every record (types, statuses) stored as one byte.
/// The table is part of the format: append only.
const WORDS: [&str; 16] = [
    "resource.machine",
    "policy.backup.machine",
    "policy.security.antimalware_protection",
    "policy.security.patch_management",
    "policy.security.vulnerability_assessment",
    "ok",
    "idle",
    "scheduled",
    "running",
    "cancelling",
    "interaction_required",
    "warning",
    "error",
    "critical",
    "no_policies_applied",
    "unknown",
];

/// A string from [`WORDS`] by index, or any other string as itself.
#[derive(Serialize, Deserialize)]
enum Word<'a> {
    Known(u8),
    Text(#[serde(borrow)] Cow<'a, str>),
}

impl<'a> Word<'a> {
    fn new(s: &'a str) -> Word<'a> {
        match WORDS.iter().position(|w| *w == s) {
            Some(i) => Word::Known(i as u8),
            None => Word::Text(Cow::Borrowed(s)),
        }
    }

    fn text(&self) -> &str {
        match self {
            Word::Known(i) => WORDS.get(*i as usize).copied().unwrap_or("unknown"),
            Word::Text(t) => t,
        }
    }
}

fn borrowed(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(Cow::Borrowed)
}

fn nanos(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.as_nanos())
}

fn time(n: Option<i64>) -> Option<Timestamp> {
    n.map(Timestamp::from_nanos)
}

fn usual_external_id(id: &str, api_tenant_id: Option<&str>) -> Option<String> {
    api_tenant_id.map(|t| format!("{id}@{t}"))
}

/// The 8 bytes a resource value without attributes starts with (see the module's doc).
const RESERVED: [u8; 8] = [0; 8];

/// The 8 bytes of a resource value with an [`AttributesV1`] after its record. No epoch
/// (a time in nanoseconds, big-endian) starts with these.
const WITH_ATTRIBUTES: [u8; 8] = *b"\xffattrs1:";

/// What `include_attributes` gave of a resource, and the agent's offline time. Field
/// order is the format: append only.
#[derive(Serialize, Deserialize)]
struct AttributesV1<'a> {
    agent_online: Option<bool>,
    agent_enabled: Option<bool>,
    #[serde(borrow)]
    agent_version: Option<Cow<'a, str>>,
    agent_offline_since: Option<i64>,
    /// Whether the resource has an agent entry (its fields may all be unknown).
    has_agent: bool,
    cyberfit: Option<u32>,
}

/// A typical encoded machine with its watch fits (about 150-200 bytes).
const RECORD_CAPACITY: usize = 256;

pub(super) fn encode_resource(r: &StoredResource) -> Vec<u8> {
    let usual = match (&r.external_id, &r.api_tenant_id) {
        (Some(e), Some(t)) => {
            e.strip_prefix(r.id.as_str())
                .and_then(|rest| rest.strip_prefix('@'))
                == Some(t)
        }
        _ => false,
    };
    let v1 = ResourceV1 {
        name: Cow::Borrowed(&r.name),
        kind: Word::new(&r.kind),
        api_tenant_id: borrowed(&r.api_tenant_id),
        agent_id: r.agent_id.as_deref().map(IdV1::new),
        external_id: match &r.external_id {
            _ if usual => None,
            // None would read back as the usual id: "" says there was none.
            None if r.api_tenant_id.is_some() => Some(Cow::Borrowed("")),
            other => borrowed(other),
        },
        status: Word::new(r.status.as_str()),
        plans: borrowed(&r.plans),
        created_at: nanos(r.created_at),
        updated_at: nanos(r.updated_at),
        policies: r
            .policies
            .iter()
            .map(|p| PolicyV1 {
                kind: Word::new(&p.kind),
                last_run: nanos(p.last_run),
                last_success_run: nanos(p.last_success_run),
                next_run: nanos(p.next_run),
            })
            .collect(),
    };
    // Sized once: postcard writes field by field, and growing from empty cost five
    // reallocations a record (7% of a cold poll's CPU at 100k).
    let mut v = Vec::with_capacity(RECORD_CAPACITY);
    let attributes = (r.agent.is_some() || r.cyberfit.is_some()).then(|| {
        let agent = r.agent.as_ref();
        AttributesV1 {
            agent_online: agent.and_then(|a| a.online),
            agent_enabled: agent.and_then(|a| a.enabled),
            agent_version: agent.and_then(|a| borrowed(&a.version)),
            agent_offline_since: agent.and_then(|a| nanos(a.offline_since)),
            has_agent: agent.is_some(),
            cyberfit: r.cyberfit,
        }
    });
    v.extend_from_slice(if attributes.is_some() {
        &WITH_ATTRIBUTES
    } else {
        &RESERVED
    });
    postcard::to_io(&v1, &mut v).expect("writing to a Vec cannot fail");
    if let Some(a) = &attributes {
        postcard::to_io(a, &mut v).expect("writing to a Vec cannot fail");
    }
    v
}

/// A resource value with its evaluation bookkeeping appended (nothing is appended when
/// the watch is empty, so records written before rules existed read as empty watches).
pub(super) fn encode_resource_watched(r: &StoredResource, watch: &Watch) -> Vec<u8> {
    let mut v = encode_resource(r);
    if *watch != Watch::default() {
        postcard::to_io(&WatchV1::from(watch), &mut v).expect("writing to a Vec cannot fail");
    }
    v
}

/// The stored layout of a [`Watch`]. Field order is the format: append only.
#[derive(Serialize, Deserialize)]
struct WatchV1 {
    wake: Option<i64>,
    indexed: Option<i64>,
    live: Vec<(String, Option<String>)>,
}

impl From<&Watch> for WatchV1 {
    fn from(w: &Watch) -> WatchV1 {
        WatchV1 {
            wake: w.wake,
            indexed: w.indexed,
            live: w
                .live
                .iter()
                .map(|l| (l.rule.clone(), l.policy.clone()))
                .collect(),
        }
    }
}

impl From<WatchV1> for Watch {
    fn from(w: WatchV1) -> Watch {
        Watch {
            wake: w.wake,
            indexed: w.indexed,
            live: w
                .live
                .into_iter()
                .map(|(rule, policy)| LiveAlert { rule, policy })
                .collect(),
        }
    }
}

/// An instant as an order-preserving 8-byte key prefix.
pub(super) fn time_key(nanos: i64) -> [u8; 8] {
    ((nanos as u64) ^ (1 << 63)).to_be_bytes()
}

/// The instant of a [`time_key`] prefix.
pub(super) fn time_of_key(key: &[u8]) -> i64 {
    key.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(|b| (u64::from_be_bytes(b) ^ (1 << 63)) as i64)
        .unwrap_or(0)
}

/// The record part of a resource value (its reserved bytes and record, without the
/// watch after it), found without decoding its strings; None if it does not parse.
pub(super) fn record_part(v: &[u8]) -> Option<&[u8]> {
    let body = v.get(RESERVED.len()..)?;
    let (_, mut rest): (ResourceV1, _) = postcard::take_from_bytes(body).ok()?;
    if v.starts_with(&WITH_ATTRIBUTES) {
        rest = postcard::take_from_bytes::<AttributesV1>(rest).ok()?.1;
    }
    v.get(..v.len() - rest.len())
}

/// Decode the value of resource `id` stored under `tenant`.
pub(super) fn decode_resource(
    tenant: &str,
    id: &str,
    v: &[u8],
) -> Result<StoredResource, StateError> {
    decode_resource_watched(tenant, id, v).map(|(r, _)| r)
}

/// Decode a resource value and the watch stored after it, in one pass.
pub(super) fn decode_resource_watched(
    tenant: &str,
    id: &str,
    v: &[u8],
) -> Result<(StoredResource, Watch), StateError> {
    let err = |e: postcard::Error| StateError::Decode {
        tree: "resources",
        key: format!("{tenant}/{id}"),
        message: e.to_string(),
    };
    let body = v.get(RESERVED.len()..).unwrap_or_default();
    let (r, mut rest): (ResourceV1, _) = postcard::take_from_bytes(body).map_err(err)?;
    let mut attributes = None;
    if v.starts_with(&WITH_ATTRIBUTES) {
        let (a, after): (AttributesV1, _) = postcard::take_from_bytes(rest).map_err(err)?;
        attributes = Some(a);
        rest = after;
    }
    let watch = if rest.is_empty() {
        Watch::default()
    } else {
        postcard::from_bytes::<WatchV1>(rest).map_err(err)?.into()
    };
    let own = |c: Option<Cow<'_, str>>| c.map(Cow::into_owned);
    let external_id = match own(r.external_id) {
        Some(e) if e.is_empty() => None,
        Some(e) => Some(e),
        None => usual_external_id(id, r.api_tenant_id.as_deref()),
    };
    let resource = StoredResource {
        tenant_id: tenant.to_string(),
        id: id.to_string(),
        name: r.name.into_owned(),
        kind: r.kind.text().to_string(),
        api_tenant_id: own(r.api_tenant_id),
        agent_id: r.agent_id.map(IdV1::into_string),
        external_id,
        status: AggregateStatus::parse(r.status.text()),
        plans: own(r.plans),
        created_at: time(r.created_at),
        updated_at: time(r.updated_at),
        policies: r
            .policies
            .into_iter()
            .map(|p| Policy {
                kind: p.kind.text().to_string(),
                last_run: time(p.last_run),
                last_success_run: time(p.last_success_run),
                next_run: time(p.next_run),
            })
            .collect(),
        agent: attributes.as_ref().filter(|a| a.has_agent).map(|a| Agent {
            online: a.agent_online,
            enabled: a.agent_enabled,
            version: a.agent_version.clone().map(Cow::into_owned),
            offline_since: time(a.agent_offline_since),
        }),
        cyberfit: attributes.as_ref().and_then(|a| a.cyberfit),
    };
    Ok((resource, watch))
}

pub(super) fn encode_json<T: Serialize>(t: &T) -> Vec<u8> {
    serde_json::to_vec(t).expect("state records always serialise")
}

pub(super) fn decode_json<T: for<'de> Deserialize<'de>>(
    tree: &'static str,
    key: &str,
    v: &[u8],
) -> Result<T, StateError> {
    serde_json::from_slice(v).map_err(|e| StateError::Decode {
        tree,
        key: key.to_string(),
        message: e.to_string(),
    })
}

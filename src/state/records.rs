//! Typed records of the state trees and their byte encodings.
//!
//! Resource values are an 8-byte big-endian epoch (the full pass that last saw the
//! resource) followed by JSON, so a sweep for vanished resources reads the epoch
//! without decoding the record.

use serde::{Deserialize, Serialize};

use super::StateError;
use crate::acronis::model::{AggregateStatus, Policy, ResourceStatus, Timestamp};

/// What the worker remembers of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResource {
    /// The watched tenant (the UUID the poll was scoped with).
    pub tenant_id: String,
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `context.tenant_id` as the API gave it (often numeric; a unit's id for unit machines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub status: AggregateStatus,
    /// Protection plan names (`aggregate.names`, `;`-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plans: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(default)]
    pub policies: Vec<Policy>,
    /// Epoch (ns) of the last full pass that saw it; 0 if only incremental polls have.
    #[serde(skip)]
    pub epoch: i64,
}

/// The aggregate status of an item with no `aggregate` (or no status): kept as unknown.
const NO_STATUS: &str = "unknown";

impl StoredResource {
    /// The record for an API item polled under `tenant`.
    pub fn from_api(tenant: &str, item: ResourceStatus, epoch: i64) -> StoredResource {
        let ctx = item.context;
        let (status, plans) = match item.aggregate {
            Some(a) => (
                a.status
                    .unwrap_or_else(|| AggregateStatus::parse(NO_STATUS)),
                a.names,
            ),
            None => (AggregateStatus::parse(NO_STATUS), None),
        };
        StoredResource {
            tenant_id: tenant.to_string(),
            name: ctx
                .name
                .or(ctx.user_defined_name)
                .unwrap_or_else(|| ctx.id.clone()),
            id: ctx.id,
            kind: ctx.kind.unwrap_or_default(),
            api_tenant_id: ctx.tenant_id,
            agent_id: ctx.agent_id,
            external_id: ctx.external_id,
            status,
            plans,
            created_at: ctx.created_at,
            updated_at: ctx.updated_at,
            policies: item.policies,
            epoch,
        }
    }
}

/// Poll bookkeeping of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPoll {
    /// Server time at the start of the last completed poll: the next poll reads back to
    /// here (minus the overlap).
    pub watermark: Timestamp,
    /// Worker-clock time of the last completed full pass.
    pub last_full_resync: Timestamp,
    /// Worker-clock time of the last completed poll.
    pub last_poll: Timestamp,
}

/// A watched tenant as last enumerated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `base` (the client's own scope) or `tenant` (a scoped token).
    pub scope: String,
}

/// A resource whose status a commit changed (`to: None`: it was deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub tenant: String,
    pub id: String,
    pub name: String,
    pub from: Option<AggregateStatus>,
    pub to: Option<AggregateStatus>,
}

pub(super) fn tenant_prefix(tenant: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() + 1);
    k.extend_from_slice(tenant.as_bytes());
    k.push(0);
    k
}

pub(super) fn resource_key(tenant: &str, id: &str) -> Vec<u8> {
    let mut k = tenant_prefix(tenant);
    k.extend_from_slice(id.as_bytes());
    k
}

pub(super) fn encode_resource(r: &StoredResource) -> Vec<u8> {
    let mut v = Vec::with_capacity(512);
    v.extend_from_slice(&r.epoch.to_be_bytes());
    serde_json::to_writer(&mut v, r).expect("a StoredResource always serialises");
    v
}

pub(super) fn epoch_of(v: &[u8]) -> i64 {
    v.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(i64::from_be_bytes)
        .unwrap_or(0)
}

pub(super) fn decode_resource(v: &[u8]) -> Result<StoredResource, StateError> {
    let body = v.get(8..).unwrap_or_default();
    let mut r: StoredResource = serde_json::from_slice(body).map_err(|e| StateError::Decode {
        tree: "resources",
        key: String::new(),
        message: e.to_string(),
    })?;
    r.epoch = epoch_of(v);
    Ok(r)
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

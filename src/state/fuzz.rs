//! What the `resource_statuses` fuzz target (`fuzz/`, through [`crate::fuzzing`])
//! stores: a resource through the key and value encodings the resources tree uses, and
//! back. Not used by the worker.

use super::StateError;
use super::records::{decode_resource_watched, encode_resource, resource_key, split_key};
use crate::model::StoredResource;

/// `r` encoded as its resources-tree key (under tenant number `tenant_key`) and value,
/// then decoded: the tenant number, the id and the record read back.
pub(crate) fn stored_again(
    tenant_key: u64,
    r: &StoredResource,
) -> Result<(u64, String, StoredResource), StateError> {
    let (key, value) = (resource_key(tenant_key, &r.id), encode_resource(r));
    let (tenant, id) = split_key(&key);
    let (back, _) = decode_resource_watched(&r.tenant_id, &id, &value)?;
    Ok((tenant, id, back))
}

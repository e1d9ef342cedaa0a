//! The domain types every stage shares: the stored resource and its status change,
//! alert records, outbox items and the alert snapshots they carry, tenants, digest
//! records, and what one page of a poll commits.
//!
//! The bottom of the pipeline's stack: every stage may use it, and it uses nothing
//! above it (only the API's wire types in [`crate::acronis::model`], which a stored
//! resource is made from). Plain data and the few rules that belong to the data
//! itself (an alert's key, a tenant's display name); no I/O, no clock, no sled.

mod alert;
mod digest;
mod outbox;
mod resource;
mod tenant;

pub use alert::{AlertRecord, AlertStatus, Severity, Told, alert_key};
pub use digest::DigestRecord;
pub use outbox::{
    AgentSnapshot, AlertSnapshot, DigestMail, GroupKey, MAX_ITEM_ALERTS, OutboxItem,
    PlatformSnapshot, PolicySnapshot, ResourceRef, RuleInfo, TenantRef, human_duration,
};
pub use resource::{
    Agent, LiveAlert, Miss, MissCheck, PLATFORM_ALERT_TYPE, PageCommit, StatusChange,
    StoredResource, Watch,
};
pub use tenant::{
    FiledTenant, PollMode, TenantNames, TenantPoll, TenantRecord, display_name, tenant_name,
};

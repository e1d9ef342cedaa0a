//! Request counters (`/_sim/counters`): how many API requests each endpoint received,
//! failed ones included, so tests can assert what a client did (e.g. "one token request
//! per poll", "no full resync").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The API endpoints the simulator serves (also what a fault's `endpoint` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /api/2/idp/token`
    Token,
    /// `POST /bc/idp/token`
    BcToken,
    /// `GET /api/2/clients/{id}`
    Clients,
    /// `GET /api/2/tenants`
    Tenants,
    /// `GET /api/2/tenants/{id}/children`
    TenantChildren,
    /// `GET /api/resource_management/v4/resource_statuses`
    ResourceStatuses,
    /// `GET /api/alert_manager/v1/alerts`
    PlatformAlerts,
}

/// Requests received per endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    pub token: u64,
    pub bc_token: u64,
    pub clients: u64,
    pub tenants: u64,
    pub tenant_children: u64,
    pub resource_statuses: u64,
    /// Shown once Alert Manager was asked (the counters of a worker without platform
    /// rules read as they always did).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub platform_alerts: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RequestCounts {
    pub(crate) fn bump(&mut self, endpoint: Endpoint) {
        let slot = match endpoint {
            Endpoint::Token => &mut self.token,
            Endpoint::BcToken => &mut self.bc_token,
            Endpoint::Clients => &mut self.clients,
            Endpoint::Tenants => &mut self.tenants,
            Endpoint::TenantChildren => &mut self.tenant_children,
            Endpoint::ResourceStatuses => &mut self.resource_statuses,
            Endpoint::PlatformAlerts => &mut self.platform_alerts,
        };
        *slot += 1;
    }

    /// All API requests.
    pub fn total(&self) -> u64 {
        self.token
            + self.bc_token
            + self.clients
            + self.tenants
            + self.tenant_children
            + self.resource_statuses
            + self.platform_alerts
    }
}

/// What `GET /_sim/counters` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub requests: RequestCounts,
    /// `resource_statuses` requests per token scope: the customer UUID of a scoped token,
    /// `"partner"` for the base token. Requests with an unknown token are not counted here.
    pub resource_statuses_by_tenant: BTreeMap<String, u64>,
    /// Items in `resource_statuses` pages delivered intact (not in faulted responses).
    pub items_served: u64,
    /// Faults that fired (skipped requests do not count).
    pub faults_triggered: u64,
}

//! The seam the poller reads pages through: the real client in production, the same
//! client against the simulator in tests, or a fake.

use std::future::Future;

use crate::acronis::client::{AcronisClient, AlertRequest, PageRequest, WatchedTenant};
use crate::acronis::error::ApiError;
use crate::acronis::model::{AlertPage, ResourceStatus, StatusPage};

/// Anything that serves `resource_statuses` pages, newest first.
pub trait StatusSource: Send + Sync {
    fn page(
        &self,
        tenant: &WatchedTenant,
        req: PageRequest<'_>,
    ) -> impl Future<Output = Result<StatusPage, ApiError>> + Send;

    /// These resources as the API has them now, deleted ones included; unknown ids are
    /// absent.
    fn lookup(
        &self,
        tenant: &WatchedTenant,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<ResourceStatus>, ApiError>> + Send;

    /// One page of Alert Manager alerts (platform rules). A source without Alert
    /// Manager has none.
    fn alert_page(
        &self,
        _tenant: &WatchedTenant,
        _req: AlertRequest<'_>,
    ) -> impl Future<Output = Result<AlertPage, ApiError>> + Send {
        async { Ok(AlertPage::default()) }
    }
}

impl StatusSource for AcronisClient {
    async fn page(
        &self,
        tenant: &WatchedTenant,
        req: PageRequest<'_>,
    ) -> Result<StatusPage, ApiError> {
        self.status_page(tenant, req).await
    }

    async fn lookup(
        &self,
        tenant: &WatchedTenant,
        ids: &[String],
    ) -> Result<Vec<ResourceStatus>, ApiError> {
        self.statuses_by_id(tenant, ids).await
    }

    async fn alert_page(
        &self,
        tenant: &WatchedTenant,
        req: AlertRequest<'_>,
    ) -> Result<AlertPage, ApiError> {
        AcronisClient::alert_page(self, tenant, req).await
    }
}

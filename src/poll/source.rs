//! The seam the poller reads pages through: the real client in production, the same
//! client against the simulator in tests, or a fake.

use std::future::Future;

use crate::acronis::client::{AcronisClient, PageRequest, WatchedTenant};
use crate::acronis::error::ApiError;
use crate::acronis::model::StatusPage;

/// Anything that serves `resource_statuses` pages, newest first.
pub trait StatusSource: Send + Sync {
    fn page(
        &self,
        tenant: &WatchedTenant,
        req: PageRequest<'_>,
    ) -> impl Future<Output = Result<StatusPage, ApiError>> + Send;
}

impl StatusSource for AcronisClient {
    async fn page(
        &self,
        tenant: &WatchedTenant,
        req: PageRequest<'_>,
    ) -> Result<StatusPage, ApiError> {
        self.status_page(tenant, req).await
    }
}

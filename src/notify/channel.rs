//! The five channel kinds behind one type. (Stub: being written.)

use super::{Delivered, Rendered, SendError};
use crate::alerts::OutboxItem;
use crate::config::ChannelConfig;

/// A configured channel that can send one rendered message.
pub struct Channel {
    pub name: String,
}

impl Channel {
    pub fn new(config: &ChannelConfig, http: reqwest::Client) -> Channel {
        let _ = http;
        Channel {
            name: config.name.clone(),
        }
    }

    /// Send once; no retrying, sleeping or rate limiting here.
    pub async fn send(
        &self,
        item: &OutboxItem,
        message: &Rendered,
    ) -> Result<Delivered, SendError> {
        let _ = (item, message);
        Err(SendError::Permanent {
            reason: "sending is not implemented yet".into(),
        })
    }
}

//! What upstream servers announce that no single call owns: log messages, resource updates
//! and task status. The sessions send them on one broadcast channel; each downstream session takes
//! what it asked for (a log level, a subscription). A lagging session loses the oldest.

// Logging and resources/subscribe are legacy-only in 2026-07-28 (SEP-2577); the 2025-11-25
// servers and clients proxied here still use them.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::model::LoggingMessageNotificationParam;
use tokio::sync::broadcast;

/// Notices kept for a slow downstream session before the oldest are dropped.
pub const NOTICE_BACKLOG: usize = 1024;

#[derive(Debug, Clone)]
pub enum Notice {
    /// `notifications/message` from `server`.
    Log {
        server: String,
        params: LoggingMessageNotificationParam,
    },
    /// `notifications/resources/updated` from `server`, with the server's own URI.
    ResourceUpdated { server: String, uri: String },
    /// `notifications/tasks/status` (2025-11-25) from `server`: the task as it now is, under
    /// the server's own id.
    TaskStatus {
        server: String,
        task: serde_json::Value,
    },
}

pub type NoticeSender = broadcast::Sender<Arc<Notice>>;

/// A channel for every session's notices.
pub fn notice_channel() -> NoticeSender {
    broadcast::channel(NOTICE_BACKLOG).0
}

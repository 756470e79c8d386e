//! The downstream side: the MCP server that clients talk to (`/mcp`, `/mcp/all`,
//! `/mcp/server/<name>`), the catalog and tool index behind it, the stdio bridge, the CLI's
//! client, and the health endpoints.
//!
//! Everything here reaches the rest of the daemon only through `Backend`; it never touches
//! supervisors or upstream sessions directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod backend;
pub mod bridge;
mod call_result;
mod catalog;
pub mod client;
mod forward;
mod handler;
mod http;
mod jsonrpc_check;
mod list_changed;
mod listener;
mod meta;
pub mod names;
mod notifier;
pub mod search;
mod sessions;
mod state;
pub mod tools;

pub use backend::{Backend, ServersOperation, ServersRequest, ToolEntry};
pub use http::serve;

/// Options of the downstream server. Clones share the values, so the daemon can change
/// them while serving (a config edit of `tools_limit` applies to the next search).
#[derive(Debug, Clone)]
pub struct DownstreamOptions {
    tools_limit: Arc<AtomicUsize>,
}

impl DownstreamOptions {
    pub fn new(tools_limit: usize) -> Self {
        DownstreamOptions {
            tools_limit: Arc::new(AtomicUsize::new(tools_limit)),
        }
    }

    /// Default number of hits of `retrieve_tools` when the client gives no `limit`.
    pub fn tools_limit(&self) -> usize {
        self.tools_limit.load(Ordering::Relaxed)
    }

    pub fn set_tools_limit(&self, tools_limit: usize) {
        self.tools_limit.store(tools_limit, Ordering::Relaxed);
    }
}

impl Default for DownstreamOptions {
    fn default() -> Self {
        DownstreamOptions::new(15)
    }
}

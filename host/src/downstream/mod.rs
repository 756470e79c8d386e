//! The downstream side: the MCP server that clients talk to (`/mcp`, `/mcp/all`), the
//! stdio bridge, the CLI's client, and the health endpoints.
//!
//! Everything here reaches the rest of the daemon only through `Backend`; it never touches
//! supervisors or upstream sessions directly.

pub mod backend;
pub mod bridge;
mod call_result;
mod catalog;
pub mod client;
mod direct_handler;
mod http;
mod list_changed;
pub mod names;
mod search_handler;
mod state;
pub mod tools;

pub use backend::{Backend, ServersOperation, ServersRequest, ToolEntry};
pub use http::serve;

/// Options of the downstream server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownstreamOptions {
    /// Default number of hits of `retrieve_tools` when the client gives no `limit`.
    pub tools_limit: usize,
}

impl Default for DownstreamOptions {
    fn default() -> Self {
        DownstreamOptions { tools_limit: 15 }
    }
}

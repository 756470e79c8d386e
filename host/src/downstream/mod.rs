//! The downstream side: the MCP server that clients talk to (`/mcp`, `/mcp/all`), the
//! stdio bridge, and the health endpoints.

pub mod backend;

pub use backend::{Backend, ServersOperation, ServersRequest, ToolEntry};

//! mcpproxy: one MCP endpoint over many upstream MCP servers.
//!
//! The module tree follows the architecture:
//! - `config`: the internal config model, load/validate, generation-stamped saves, diffs;
//! - `watcher`: the debounced directory watcher that tells user edits from the daemon's saves;
//! - `supervisor`: one actor per upstream server (its state machine) and the registry of them;
//! - `upstream`: transports to upstream servers and failure classification;
//! - `downstream`: the MCP server clients talk to (`/mcp`, `/mcp/all`, stdio bridge, health);
//! - `policy`: the WebAssembly policy host that decides auto-disable, backoff and reloads;
//! - `search`: the tool index behind `retrieve_tools`;
//! - `status`: snapshot types for `upstream list` and `status`;
//! - `cli`: the `mcpproxy` commands.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod downstream;
pub mod policy;
pub mod search;
pub mod status;
pub mod supervisor;
pub mod upstream;
pub mod watcher;

//! mcpproxy: one MCP endpoint over many upstream MCP servers.
//!
//! The module tree follows the architecture:
//! - `config`: the one internal config model, load/validate, the store that owns the running
//!   config (generation-stamped saves, the debounced watcher), and diffs;
//! - `contract`: the policy contract (the Rust side of `wit/policy.wit`), a leaf;
//! - `auth`: bearer tokens with a scope, kept hashed in the data dir (a leaf);
//! - `approval`: each server's approved tools (tool pinning) and how its tools compare;
//! - `policy`: the WebAssembly policy host that decides auto-disable, backoff and reloads;
//! - `upstream`: transports to upstream servers and failure classification (an edge);
//! - `supervisor`: one actor per upstream server (its state machine), the registry of them,
//!   and the pure planner that turns a config update into steps;
//! - `downstream`: the MCP server clients talk to (`/mcp`, `/mcp/all`, stdio bridge, health)
//!   and the tool index behind `retrieve_tools` (an edge);
//! - `duration`: how durations are written in mcpproxy's files (a leaf);
//! - `legacy_tasks`: the 2025-11-25 tasks rmcp does not model, and how they travel through
//!   its types (a leaf);
//! - `import`: other MCP clients' configs read into `mcpServers` entries, and the plan of
//!   merging them (`mcpproxy import`);
//! - `status`: snapshot types for `upstream list` and `status`;
//! - `daemon`: `mcpproxy serve`, the glue that wires the parts together;
//! - `cli`: the `mcpproxy` commands.
//!
//! Data flows one way: config → diff → plan → supervisors, with the policy deciding through
//! the contract; nothing below `daemon` imports it.

pub mod approval;
pub mod auth;
pub mod canonical_json;
pub mod cli;
pub mod config;
pub mod contract;
pub mod daemon;
pub mod downstream;
pub mod duration;
pub mod import;
pub mod legacy_tasks;
pub mod policy;
pub mod status;
pub mod supervisor;
pub mod upstream;

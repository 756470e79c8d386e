//! The downstream side: the MCP server that clients talk to (`/mcp`, `/mcp/all`,
//! `/mcp/server/<name>`), the catalog and tool index behind it, the stdio bridge, the CLI's
//! client, the health endpoints and the web dashboard (`ui`).
//!
//! Everything here reaches the rest of the daemon only through `Backend`; it never touches
//! supervisors or upstream sessions directly.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

mod auth;
pub mod backend;
pub mod bridge;
mod call_result;
mod catalog;
pub mod client;
mod continuations;
mod forward;
mod guard;
mod handler;
mod http;
mod input;
mod json_reply;
mod jsonrpc_check;
mod legacy_wire;
mod list_changed;
mod listener;
mod meta;
pub mod names;
mod notifier;
pub mod search;
mod sessions;
mod state;
mod tasks;
pub mod tools;
mod ui;

pub use backend::{Backend, ServersOperation, ServersRequest, ToolEntry};
pub use http::serve;

/// Options of the downstream server. Clones share the values, so the daemon can change
/// them while serving (a config edit of `tools_limit` applies to the next search, one of
/// `allowed_origins` or `auth` to the next request).
#[derive(Debug, Clone)]
pub struct DownstreamOptions {
    tools_limit: Arc<AtomicUsize>,
    tool_response_limit: Arc<AtomicUsize>,
    /// A std lock: read once per request, replaced whole by a config edit.
    allowed_origins: Arc<RwLock<Arc<Vec<String>>>>,
    /// `auth: none`: honoured only on a loopback listener (see `auth`).
    auth_off: Arc<AtomicBool>,
    /// `metrics_auth: none`.
    metrics_open: Arc<AtomicBool>,
}

impl DownstreamOptions {
    pub fn new(tools_limit: usize) -> Self {
        DownstreamOptions {
            tools_limit: Arc::new(AtomicUsize::new(tools_limit)),
            tool_response_limit: Arc::new(AtomicUsize::new(0)),
            allowed_origins: Arc::default(),
            auth_off: Arc::default(),
            metrics_open: Arc::default(),
        }
    }

    /// Whether the config turned tokens off (`auth: none`).
    pub fn auth_off(&self) -> bool {
        self.auth_off.load(Ordering::Relaxed)
    }

    /// Whether `/metrics` is open without a token (`metrics_auth: none`).
    pub fn metrics_open(&self) -> bool {
        self.metrics_open.load(Ordering::Relaxed)
    }

    /// `auth_off`: `auth: none`; `metrics_open`: `metrics_auth: none`.
    pub fn set_auth(&self, auth_off: bool, metrics_open: bool) {
        self.auth_off.store(auth_off, Ordering::Relaxed);
        self.metrics_open.store(metrics_open, Ordering::Relaxed);
    }

    /// Bytes of a tool result's content passed on (0: all).
    pub fn tool_response_limit(&self) -> usize {
        self.tool_response_limit.load(Ordering::Relaxed)
    }

    pub fn set_tool_response_limit(&self, limit: usize) {
        self.tool_response_limit.store(limit, Ordering::Relaxed);
    }

    /// Origins besides the daemon's own whose pages may use it (`allowed_origins`).
    pub fn allowed_origins(&self) -> Arc<Vec<String>> {
        let origins = self.allowed_origins.read();
        origins.unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn set_allowed_origins(&self, origins: Vec<String>) {
        let mut current = self
            .allowed_origins
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(origins);
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

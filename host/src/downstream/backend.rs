//! What the downstream server needs from the rest of the daemon.
//!
//! The daemon implements `Backend` over the supervisor registry and the config store; tests
//! implement it with fixed data. Keeping this a trait keeps the MCP-serving code free of
//! supervisor internals.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::model::{ClientNotification, ClientRequest, ServerResult, Tool};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::upstream::{CallError, Notice, Origin, ServerOffer};

/// One tool of one Ready upstream server.
#[derive(Debug, Clone)]
pub struct ToolEntry {
    pub server: String,
    pub tool: Tool,
}

/// `upstream_servers` operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServersOperation {
    List,
    Add,
    Remove,
    Enable,
    Disable,
    Restart,
    /// Trust a quarantined server: its tools, resources and prompts are shown.
    Approve,
    /// Add `servers` in one save, as the user's own edit (`mcpproxy import`, `mcpproxy
    /// upstream add`): not quarantined unless an entry says so.
    Import,
}

/// The arguments of `upstream_servers`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServersRequest {
    pub operation: ServersOperation,
    /// The server, for every operation but `list`.
    #[serde(default)]
    pub name: Option<String>,
    /// For `add`: the server entry as in `mcpServers` (`command`, `args`, `url`, ...).
    #[serde(default)]
    pub server: Option<serde_json::Map<String, serde_json::Value>>,
    /// For `import`: the entries, each with its `name`.
    #[serde(default)]
    pub servers: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
}

pub trait Backend: Send + Sync + 'static {
    /// What every Ready server offers, in server order.
    fn offers(&self) -> Vec<ServerOffer>;
    /// Forward `request` to `server`, under the configured `call_tool_timeout`, made for
    /// `origin`'s client (whose progress and server requests it then receives).
    fn forward(
        &self,
        server: &str,
        request: ClientRequest,
        origin: Option<Origin>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<ServerResult, CallError>>;
    /// Pass a notification (`roots/list_changed`) from `origin`'s client to `server`, if it
    /// is Ready.
    fn notify(
        &self,
        server: &str,
        notification: ClientNotification,
        origin: Option<Origin>,
    ) -> BoxFuture<'static, ()>;
    /// The upstreams' log messages and resource updates.
    fn notices(&self) -> broadcast::Receiver<Arc<Notice>>;
    /// Run an `upstream_servers` operation; `Err` is a message for the client.
    fn upstream_servers(
        &self,
        request: ServersRequest,
    ) -> BoxFuture<'static, Result<serde_json::Value, String>>;
    /// The daemon's status document (`GET /status`, `mcpproxy status --json`).
    fn status(&self) -> serde_json::Value;
    /// Counters for Prometheus (`GET /metrics`): OpenMetrics text.
    fn metrics(&self) -> String;
    /// True once start-up has settled every server (`/readyz`).
    fn ready(&self) -> bool;
    /// Ticks whenever the offers of Ready servers change.
    fn offers_changed(&self) -> tokio::sync::watch::Receiver<u64>;
    /// The last `max_bytes` of `server`'s log (its stderr), for the dashboard; `None` when it
    /// has none.
    fn server_log(&self, server: &str, max_bytes: usize) -> Option<String> {
        let _ = (server, max_bytes);
        None
    }
}
